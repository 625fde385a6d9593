import { randomBytes } from 'node:crypto';
import { loadAllYaml } from '@kubernetes/client-node';
import { POD_IDENTITY_URI } from '../aws/env-names';
import { fleetClusterRoleYaml, fleetNamespaceBindingYaml, fleetRbacYaml } from '../fleet/rbac';
import { WEBHOOK_READER_NAME, namespaceRbacYaml, webhookReaderRbacYaml } from '../kube/rbac';
import { DEFAULT_IMAGE } from '../launch/image';
import type { KObject, ObjectMeta } from './cluster';
import { SimCluster } from './cluster';
import type { ClusterApiServer } from './cluster-api';
import { startClusterApi } from './cluster-api';
import type { ScenarioName, SimulatedEks } from './index';
import { SIM_ACCOUNT, SIM_HOME, SIM_REGION, SIM_ROLE_ARN, startSimulatedEks } from './index';
import type { ImageConfig, SimKubelet } from './kubelet';
import { startKubelet } from './kubelet';
import { eksWebhookConfiguration } from './kube-api';
import { APP_IMAGE, APP_IMAGE_USER, DOCTOR_IMAGE_CONFIG, LAUNCHER_USER } from './launch-world';
import type { DoctorCommand, IsolationMode } from './sandbox';
import { podIdentityWebhook } from './webhook';

/*
 * A simulated EKS cluster with many ServiceAccounts for `irsa-doctor fleet` (the demo, the end-to-end tests,
 * the benchmark): each member ServiceAccount has the AWS side of its own demo scenario (sim/index.ts: an
 * issuer, STS, IMDS and agent of its own, whose trust policy and association name that ServiceAccount), its
 * RBAC for the doctor (examples/rbac.yaml), and a Deployment's running pod created through the webhook, so its
 * spec is what a real one's is. The app pods run no process (the `pause` image): the fleet reads their specs,
 * its Jobs run the real binary through the kubelet. Members can also be set up for the static findings: a pod
 * created before the annotation, a skipped sidecar, an annotation that is not an ARN, both mechanisms.
 *
 * `fast`: the benchmark's mode for a thousand ServiceAccounts: no AWS side per member, and the doctor image is
 * `canned` (the kubelet answers a Job's container at once with the report given, as its log), so what is
 * measured is the fleet's own cost (API requests, watches, memory), not a thousand real diagnoses.
 */

export interface FleetMember {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly scenario: ScenarioName;
  /** The pod was created before the ServiceAccount was annotated (restart needed). */
  readonly annotatedAfterPod?: boolean;
  /** A second container `sidecar`, listed in eks.amazonaws.com/skip-containers. */
  readonly skippedSidecar?: boolean;
  /** The role-arn annotation instead of the scenario's. */
  readonly annotation?: string;
  /** A Pod Identity association too, beside the scenario's IRSA annotation. */
  readonly alsoAssociation?: boolean;
  /** No Deployment: the ServiceAccount alone. */
  readonly noPod?: boolean;
}

export interface FleetWorldOptions {
  readonly doctor: DoctorCommand;
  readonly members: readonly FleetMember[];
  /** Namespaces with pods the fleet user may not read (no RoleBinding there). */
  readonly forbiddenNamespaces?: readonly string[];
  /** Namespaces the fleet user may list but not run Jobs in (`namespaces` RBAC only). */
  readonly readOnlyNamespaces?: readonly string[];
  /**
   * `cluster`: examples/rbac-fleet.yaml bound cluster-wide; `namespaces`: the same ClusterRole bound in each
   * namespace but the forbidden ones, and list namespaces cluster-wide; `none`: nothing.
   */
  readonly rbac?: 'cluster' | 'namespaces' | 'none';
  readonly isolation?: IsolationMode | 'auto';
  /** The benchmark's mode: see above. The report is the log of every Job's container. */
  readonly fast?: { readonly report: (member: FleetMember) => { output: string; exitCode: number } };
  /** The pod-identity-webhook configuration deleted once the pods run. */
  readonly webhookDeleted?: boolean;
  /** Every `every`-th request of the fleet user answered 429 (cluster-api.ts `throttle`). */
  readonly throttle?: { readonly every: number; readonly retryAfterSeconds: number };
}

export interface FleetWorld {
  readonly cluster: SimCluster;
  readonly api: ClusterApiServer;
  readonly kubelet: SimKubelet;
  readonly members: readonly FleetMember[];
  readonly image: string;
  /** Pod Identity associations as the EKS API lists them. */
  associations(): { namespace: string; serviceAccount: string; associationId: string }[];
  kubeconfig(who?: 'user' | 'admin'): string;
  /** Jobs and Job pods in the cluster now (a clean run leaves none). */
  leftovers(): string[];
  close(): Promise<void>;
}

function object(
  apiVersion: string,
  kind: string,
  metadata: Partial<ObjectMeta>,
  rest: Record<string, unknown> = {},
): KObject {
  return { apiVersion, kind, metadata: metadata as ObjectMeta, ...rest };
}

export async function startFleetWorld(options: FleetWorldOptions): Promise<FleetWorld> {
  const closers: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    const eks = new Map<string, SimulatedEks>();
    const key = (ns: string, sa: string) => `${ns}/${sa}`;
    if (!options.fast) {
      // One AWS side per member, a few at a time (each is four loopback servers).
      const queue = [...options.members];
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let m = queue.shift(); m !== undefined; m = queue.shift()) {
            const sim = await startSimulatedEks(m.scenario, {
              workload: { namespace: m.namespace, serviceAccount: m.serviceAccount, podName: podNameOf(m) },
            });
            closers.push(() => sim.close());
            eks.set(key(m.namespace, m.serviceAccount), sim);
          }
        }),
      );
    }
    const cluster = new SimCluster({ historyLimit: 50_000 });
    closers.push(() => cluster.close());
    const userToken = `alice-${randomBytes(12).toString('hex')}`;
    const adminToken = `admin-${randomBytes(12).toString('hex')}`;
    const api = await startClusterApi(cluster, {
      users: {
        [userToken]: { name: LAUNCHER_USER, groups: ['developers'] },
        [adminToken]: { name: 'kubernetes-admin', groups: ['system:masters'] },
      },
      ...(options.throttle ? { throttle: { user: LAUNCHER_USER, ...options.throttle } } : {}),
    });
    closers.push(() => api.close());
    const associations: { namespace: string; serviceAccount: string; associationId: string }[] = [];
    const first = [...eks.values()][0];
    cluster.setPodMutator(
      podIdentityWebhook({
        region: SIM_REGION,
        credentialsUriOf: (ns, sa) => eks.get(key(ns, sa))?.workload.network.rewrite[POD_IDENTITY_URI],
        composeRoleArn: { partition: 'aws', account: SIM_ACCOUNT },
        podIdentityAssociations: () => associations,
      }),
    );
    const create = (resource: string, item: KObject, ns?: string) => cluster.create(resource, item, ns);
    const applyYaml = (yaml: string) => {
      for (const item of loadAllYaml(yaml) as KObject[])
        create(`${item.kind.toLowerCase()}s`, item, item.metadata.namespace);
    };
    const namespaces = [
      ...new Set([
        'default',
        'kube-system',
        ...options.members.map((m) => m.namespace),
        ...(options.forbiddenNamespaces ?? []),
      ]),
    ];
    for (const name of namespaces) {
      create('namespaces', object('v1', 'Namespace', { name, labels: { 'kubernetes.io/metadata.name': name } }));
      create('serviceaccounts', object('v1', 'ServiceAccount', { name: 'default' }), name);
    }
    create('mutatingwebhookconfigurations', eksWebhookConfiguration() as unknown as KObject);
    const user = { kind: 'User' as const, name: LAUNCHER_USER };
    if (options.rbac === 'cluster' || options.rbac === undefined) applyYaml(fleetRbacYaml(user));
    else if (options.rbac === 'namespaces') {
      applyYaml(fleetClusterRoleYaml());
      applyYaml(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: namespace-lister
rules:
  - apiGroups: ['']
    resources: ['namespaces']
    verbs: ['list']
  - apiGroups: ['admissionregistration.k8s.io']
    resources: ['mutatingwebhookconfigurations']
    verbs: ['get']
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: namespace-lister
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: namespace-lister
subjects:
  - kind: User
    apiGroup: rbac.authorization.k8s.io
    name: ${LAUNCHER_USER}
`);
      for (const ns of namespaces) {
        if ((options.forbiddenNamespaces ?? []).includes(ns)) continue;
        if ((options.readOnlyNamespaces ?? []).includes(ns))
          applyYaml(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
  namespace: ${ns}
rules:
  - apiGroups: ['']
    resources: ['serviceaccounts', 'pods']
    verbs: ['list']
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: reader
  namespace: ${ns}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: reader
subjects:
  - kind: User
    apiGroup: rbac.authorization.k8s.io
    name: ${LAUNCHER_USER}
`);
        else applyYaml(fleetNamespaceBindingYaml(ns, user));
      }
    }

    const images: Record<string, ImageConfig> = {
      [DEFAULT_IMAGE]: options.fast
        ? {
            ...DOCTOR_IMAGE_CONFIG,
            run: 'canned',
            canned: (pod) => {
              const m = options.members.find(
                (x) => x.namespace === pod.metadata.namespace && x.serviceAccount === pod.spec?.serviceAccountName,
              );
              return m
                ? (options.fast as NonNullable<FleetWorldOptions['fast']>).report(m)
                : { output: '', exitCode: 2 };
            },
          }
        : DOCTOR_IMAGE_CONFIG,
      [APP_IMAGE]: { run: 'pause', user: APP_IMAGE_USER, env: { HOME: SIM_HOME } },
    };
    const kubelet = await startKubelet({
      cluster,
      api,
      doctor: options.doctor,
      images,
      ...(options.isolation ? { isolation: options.isolation } : {}),
      network: first ? { env: first.workload.network.env, rewrite: {} } : { env: {}, rewrite: {} },
      networkFor: (pod) => {
        const sim = eks.get(key(pod.metadata.namespace ?? '', pod.spec?.serviceAccountName ?? 'default'));
        return sim ? { env: sim.workload.network.env, rewrite: {} } : undefined;
      },
      mintToken: async (request) => {
        const sim = eks.get(key(request.namespace, request.serviceAccount)) ?? first;
        return sim ? sim.mintToken(request) : `fast.${randomBytes(16).toString('hex')}.token`;
      },
    });
    closers.push(() => kubelet.close());

    // One listener for every app pod (one per pod costs a thousand checks per change in a large cluster).
    const pending = new Set<string>();
    let allRunning: () => void = () => undefined;
    let stuck: (error: Error) => void = () => undefined;
    const running = new Promise<void>((resolve, reject) => {
      allRunning = resolve;
      stuck = reject;
    });
    const stopWatching = cluster.on((change) => {
      if (change.resource !== 'pods' || change.type === 'DELETED') return;
      const id = `${change.object.metadata.namespace}/${change.object.metadata.name}`;
      if (!pending.has(id)) return;
      const status = (
        (change.object.status?.containerStatuses ?? []) as {
          name: string;
          state?: { running?: unknown; waiting?: { reason?: string; message?: string } };
        }[]
      ).find((c) => c.name === 'app');
      if (status?.state?.running) pending.delete(id);
      else if (status?.state?.waiting && status.state.waiting.reason !== 'ContainerCreating')
        stuck(new Error(`${id}: ${status.state.waiting.reason} ${status.state.waiting.message ?? ''}`));
      if (pending.size === 0) allRunning();
    });
    for (const m of options.members) {
      const sim = eks.get(key(m.namespace, m.serviceAccount));
      const role =
        m.annotation ??
        sim?.serviceAccount.roleArnAnnotation ??
        sim?.workload.roleAnnotation ??
        (options.fast ? SIM_ROLE_ARN : undefined);
      const annotations: Record<string, string> = {};
      if (role !== undefined) annotations['eks.amazonaws.com/role-arn'] = role;
      if (sim?.serviceAccount.audience !== undefined)
        annotations['eks.amazonaws.com/audience'] = sim.serviceAccount.audience;
      const annotateNow = !m.annotatedAfterPod && Object.keys(annotations).length > 0;
      create(
        'serviceaccounts',
        object('v1', 'ServiceAccount', {
          name: m.serviceAccount,
          labels: { team: m.namespace },
          ...(annotateNow ? { annotations } : {}),
        }),
        m.namespace,
      );
      if (!options.fast) {
        const subject = { kind: 'ServiceAccount' as const, namespace: m.namespace, name: m.serviceAccount };
        applyYaml(
          namespaceRbacYaml(m.namespace, subject).replace(
            /^(\s*name: )irsa-doctor$/gm,
            `$1irsa-doctor-${m.serviceAccount}`,
          ),
        );
        applyYaml(
          webhookReaderRbacYaml(subject).replaceAll(
            `name: ${WEBHOOK_READER_NAME}`,
            `name: irsa-doctor-webhook-reader-${m.namespace}-${m.serviceAccount}`,
          ),
        );
      }
      const pi = sim?.workload.podIdentityAssociation ?? 'none';
      const addAssociation = () =>
        associations.push({
          namespace: m.namespace,
          serviceAccount: m.serviceAccount,
          associationId: `a-${randomBytes(8).toString('hex')}`,
        });
      if (pi !== 'none' || m.alsoAssociation) addAssociation();
      if (!m.noPod) {
        const deployment = m.serviceAccount;
        const hash = '7d9f8b6c5';
        const rs = create(
          'replicasets',
          object('apps/v1', 'ReplicaSet', {
            name: `${deployment}-${hash}`,
            labels: { app: deployment },
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: 'Deployment',
                name: deployment,
                uid: randomUUIDish(),
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          }),
          m.namespace,
        );
        const env = [
          { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
          ...Object.entries(sim?.workload.appEnv ?? {}).map(([name, value]) => ({ name, value })),
        ];
        const containers = [
          { name: 'app', image: APP_IMAGE, env },
          ...(m.skippedSidecar ? [{ name: 'sidecar', image: APP_IMAGE }] : []),
        ];
        create(
          'pods',
          object(
            'v1',
            'Pod',
            {
              name: podNameOf(m),
              labels: { app: deployment, 'pod-template-hash': hash },
              ...(m.skippedSidecar ? { annotations: { 'eks.amazonaws.com/skip-containers': 'sidecar' } } : {}),
              ownerReferences: [
                {
                  apiVersion: 'apps/v1',
                  kind: 'ReplicaSet',
                  name: rs.metadata.name,
                  uid: rs.metadata.uid,
                  controller: true,
                  blockOwnerDeletion: true,
                },
              ],
            },
            { spec: { serviceAccountName: m.serviceAccount, containers } },
          ),
          m.namespace,
        );
        pending.add(`${m.namespace}/${podNameOf(m)}`);
      }
      if (pi === 'deleted')
        associations.splice(
          associations.findIndex((a) => a.namespace === m.namespace && a.serviceAccount === m.serviceAccount),
          1,
        );
      if (m.annotatedAfterPod)
        cluster.update('serviceaccounts', m.namespace, m.serviceAccount, (sa) => {
          sa.metadata.annotations = { ...(sa.metadata.annotations ?? {}), ...annotations };
        });
    }
    try {
      if (pending.size > 0) {
        const timer = setTimeout(
          () => stuck(new Error(`${pending.size} app pods did not start within 120 s`)),
          120_000,
        );
        await running.finally(() => clearTimeout(timer));
      }
    } finally {
      stopWatching();
    }
    if (options.webhookDeleted) cluster.delete('mutatingwebhookconfigurations', undefined, 'pod-identity-webhook');

    return {
      cluster,
      api,
      kubelet,
      members: options.members,
      image: DEFAULT_IMAGE,
      associations: () => associations.map((a) => ({ ...a })),
      kubeconfig: (who = 'user') => api.kubeconfig(who === 'user' ? userToken : adminToken, { namespace: 'default' }),
      leftovers() {
        const left: string[] = [];
        for (const job of cluster.list('jobs')) left.push(`job ${job.metadata.namespace}/${job.metadata.name}`);
        for (const pod of cluster.list('pods'))
          if (pod.metadata.labels?.['app.kubernetes.io/name'] === 'irsa-doctor')
            left.push(`pod ${pod.metadata.namespace}/${pod.metadata.name}`);
        for (const p of kubelet.processes()) left.push(`container process ${p.pod}/${p.container} (pid ${p.pid})`);
        return left;
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

function podNameOf(m: FleetMember): string {
  return `${m.serviceAccount}-7d9f8b6c5-x2k4q`.slice(0, 63);
}

function randomUUIDish(): string {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The demo's and the tests' mixed cluster: a healthy IRSA and a healthy Pod Identity ServiceAccount, one for
 * each broken demo scenario (node-role-fallback among them: nothing of it names IRSA, so a fleet must not list
 * it), the static cases, and a namespace the user may not read.
 */
export const MIXED_FLEET: readonly FleetMember[] = [
  { namespace: 'shop', serviceAccount: 'checkout', scenario: 'healthy-irsa' },
  { namespace: 'shop', serviceAccount: 'cart', scenario: 'healthy-pod-identity' },
  { namespace: 'shop', serviceAccount: 'reports', scenario: 'role-name-annotation' },
  { namespace: 'payments', serviceAccount: 'ledger', scenario: 'trust-sub-mismatch' },
  { namespace: 'payments', serviceAccount: 'fraud', scenario: 'audience-mismatch' },
  { namespace: 'payments', serviceAccount: 'refunds', scenario: 'no-oidc-provider' },
  { namespace: 'search', serviceAccount: 'indexer', scenario: 'token-expired-at-sts' },
  { namespace: 'search', serviceAccount: 'crawler', scenario: 'sts-clock-ahead' },
  { namespace: 'search', serviceAccount: 'ranker', scenario: 'clock-skew' },
  { namespace: 'search', serviceAccount: 'query', scenario: 'jwks-unreachable' },
  { namespace: 'ml', serviceAccount: 'trainer', scenario: 'sts-blackhole' },
  { namespace: 'ml', serviceAccount: 'scorer', scenario: 'sts-region-disabled' },
  { namespace: 'ml', serviceAccount: 'batch', scenario: 'static-keys-override' },
  { namespace: 'ml', serviceAccount: 'notebook', scenario: 'all-blackhole' },
  { namespace: 'media', serviceAccount: 'thumbs', scenario: 'pod-identity-access-denied' },
  { namespace: 'media', serviceAccount: 'encoder', scenario: 'pod-identity-no-association' },
  { namespace: 'media', serviceAccount: 'uploader', scenario: 'pod-identity-eks-auth-unreachable' },
  { namespace: 'media', serviceAccount: 'player', scenario: 'agent-unreachable' },
  // Never annotated, its pod never mutated: nothing names IRSA, so the fleet must not list it.
  { namespace: 'legacy', serviceAccount: 'worker', scenario: 'node-role-fallback' },
  { namespace: 'ops', serviceAccount: 'late', scenario: 'healthy-irsa', annotatedAfterPod: true },
  { namespace: 'ops', serviceAccount: 'sidecars', scenario: 'healthy-irsa', skippedSidecar: true },
  {
    namespace: 'ops',
    serviceAccount: 'typo',
    scenario: 'healthy-irsa',
    annotation: 'arn:aws:iam::1111222233:role/shop-checkout',
  },
  { namespace: 'ops', serviceAccount: 'both', scenario: 'healthy-irsa', alsoAssociation: true },
  // A namespace where the user may list but not run Jobs.
  { namespace: 'audit', serviceAccount: 'reader', scenario: 'healthy-irsa' },
];

export const MIXED_FORBIDDEN = ['vault'] as const;
export const MIXED_READ_ONLY = ['audit'] as const;
