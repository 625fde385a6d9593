import { randomBytes } from 'node:crypto';
import { loadAllYaml } from '@kubernetes/client-node';
import { POD_IDENTITY_URI } from '../aws/env-names';
import { DEFAULT_IMAGE } from '../launch/image';
import { launcherRbacYaml } from '../launch/rbac';
import { namespaceRbacYaml, webhookReaderRbacYaml } from '../kube/rbac';
import type { ClusterOptions, KObject, ObjectMeta } from './cluster';
import { SimCluster } from './cluster';
import type { ClusterApiServer } from './cluster-api';
import { startClusterApi } from './cluster-api';
import type { ScenarioName, SimulatedEks } from './index';
import {
  SIM_ACCOUNT,
  SIM_HOME,
  SIM_NAMESPACE,
  SIM_POD,
  SIM_REGION,
  SIM_SERVICE_ACCOUNT,
  startSimulatedEks,
} from './index';
import type { ImageConfig, SimKubelet } from './kubelet';
import { startKubelet } from './kubelet';
import { eksWebhookConfiguration } from './kube-api';
import type { DoctorCommand, IsolationMode } from './sandbox';
import { podIdentityWebhook } from './webhook';

/*
 * A simulated EKS cluster for the launchers: the scenario's AWS side (sim/index.ts), an HTTPS Kubernetes API
 * over a cluster holding what the scenario says (the ServiceAccount, annotated or not; a Pod Identity
 * association or none; the pod-identity-webhook; the app's Deployment pod, mutated at creation), the RBAC of
 * examples/rbac.yaml for the app's ServiceAccount and of examples/rbac-launcher.yaml for the user at the
 * laptop, and the kubelet running the app. `irsa-doctor demo pod|job` and the end-to-end tests run on it.
 */

export const APP_IMAGE = '111122223333.dkr.ecr.us-west-2.amazonaws.com/checkout:1.8.2';
/** The app image's USER, which decides when the pod spec does not (appUser: 'image'). */
export const APP_IMAGE_USER = { uid: 10001, gid: 10001 } as const;
/** The uid and gid the app pod's securityContext sets (appUser: 'spec'). */
export const APP_SPEC_USER = { uid: 1000, gid: 1000 } as const;
export const LAUNCHER_USER = 'alice@example.com';

export interface LaunchWorldOptions {
  readonly scenario: ScenarioName;
  /** How the kubelet starts the real binary. */
  readonly doctor: DoctorCommand;
  readonly isolation?: IsolationMode | 'auto';
  /** `granted` (default): the user has the Role of examples/rbac-launcher.yaml; `none`: nothing in the namespace. */
  readonly launcherRbac?: 'granted' | 'none';
  /** Where the app's uid and gid come from: its pod's securityContext (default) or only the image's USER. */
  readonly appUser?: 'spec' | 'image';
  readonly cluster?: ClusterOptions;
  /** More images the registry knows (private ones, one that never finishes pulling). */
  readonly images?: Readonly<Record<string, ImageConfig>>;
  /** Objects to add once the app runs (quotas, LimitRanges, Secrets). */
  readonly objects?: readonly { readonly resource: string; readonly object: KObject }[];
}

export interface LaunchWorld {
  readonly eks: SimulatedEks;
  readonly cluster: SimCluster;
  readonly api: ClusterApiServer;
  readonly kubelet: SimKubelet;
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly serviceAccount: string;
  /** The default image of this version, which the registry holds. */
  readonly image: string;
  /** A kubeconfig for the launcher user (namespace shop), or for the cluster admin. */
  kubeconfig(who?: 'user' | 'admin'): string;
  close(): Promise<void>;
}

export const DOCTOR_IMAGE_CONFIG: ImageConfig = {
  run: 'doctor',
  user: { uid: 65532, gid: 65532 },
  env: { HOME: '/tmp' },
};

function object(
  apiVersion: string,
  kind: string,
  metadata: Partial<ObjectMeta>,
  rest: Record<string, unknown> = {},
): KObject {
  return { apiVersion, kind, metadata: metadata as ObjectMeta, ...rest };
}

/** The ServiceAccount's annotations in the scenario: the role (as an ARN, or a bare name), the audience. */
function serviceAccountAnnotations(eks: SimulatedEks): Record<string, string> | undefined {
  const annotations: Record<string, string> = {};
  const role = eks.serviceAccount.roleArnAnnotation ?? eks.workload.roleAnnotation;
  if (role !== undefined) annotations['eks.amazonaws.com/role-arn'] = role;
  if (eks.serviceAccount.audience !== undefined)
    annotations['eks.amazonaws.com/audience'] = eks.serviceAccount.audience;
  return Object.keys(annotations).length > 0 ? annotations : undefined;
}

export async function startLaunchWorld(options: LaunchWorldOptions): Promise<LaunchWorld> {
  const eks = await startSimulatedEks(options.scenario);
  const closers: (() => Promise<void> | void)[] = [() => eks.close()];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    // Policies apply once the app runs: they stand for what an admin set up after the app was deployed.
    const cluster = new SimCluster(
      options.cluster?.historyLimit !== undefined ? { historyLimit: options.cluster.historyLimit } : {},
    );
    closers.push(() => cluster.close());
    const userToken = `alice-${randomBytes(12).toString('hex')}`;
    const adminToken = `admin-${randomBytes(12).toString('hex')}`;
    const api = await startClusterApi(cluster, {
      users: {
        [userToken]: { name: LAUNCHER_USER, groups: ['developers'] },
        [adminToken]: { name: 'kubernetes-admin', groups: ['system:masters'] },
      },
    });
    closers.push(() => api.close());
    const workload = eks.workload;
    const associations: { namespace: string; serviceAccount: string }[] = [];
    cluster.setPodMutator(
      podIdentityWebhook({
        region: SIM_REGION,
        // Configured with the simulated agent's address, as a cluster would be with its own agent's.
        credentialsUri: workload.network.rewrite[POD_IDENTITY_URI] ?? POD_IDENTITY_URI,
        composeRoleArn: { partition: 'aws', account: SIM_ACCOUNT },
        podIdentityAssociations: () => associations,
      }),
    );

    const ns = SIM_NAMESPACE;
    for (const name of ['default', 'kube-system', ns]) {
      cluster.create(
        'namespaces',
        object('v1', 'Namespace', { name, labels: { 'kubernetes.io/metadata.name': name } }),
      );
      cluster.create('serviceaccounts', object('v1', 'ServiceAccount', { name: 'default' }), name);
    }
    cluster.create('mutatingwebhookconfigurations', eksWebhookConfiguration() as unknown as KObject);
    cluster.create(
      'serviceaccounts',
      object('v1', 'ServiceAccount', {
        name: SIM_SERVICE_ACCOUNT,
        ...(serviceAccountAnnotations(eks) ? { annotations: serviceAccountAnnotations(eks) } : {}),
      }),
      ns,
    );
    const rbac = [
      namespaceRbacYaml(ns, { kind: 'ServiceAccount', namespace: ns, name: SIM_SERVICE_ACCOUNT }),
      webhookReaderRbacYaml({ kind: 'ServiceAccount', namespace: ns, name: SIM_SERVICE_ACCOUNT }),
      ...(options.launcherRbac === 'none' ? [] : [launcherRbacYaml(ns, { kind: 'User', name: LAUNCHER_USER })]),
    ];
    for (const yaml of rbac) {
      for (const item of loadAllYaml(yaml) as KObject[]) {
        const resource = `${item.kind.toLowerCase()}s`;
        cluster.create(resource, item, item.metadata.namespace);
      }
    }

    const deployment = 'checkout';
    const replicaSet = SIM_POD.slice(0, SIM_POD.lastIndexOf('-'));
    const rs = cluster.create(
      'replicasets',
      object(
        'apps/v1',
        'ReplicaSet',
        {
          name: replicaSet,
          labels: { app: deployment },
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              name: deployment,
              uid: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        { spec: { replicas: 1, selector: { matchLabels: { app: deployment } } } },
      ),
      ns,
    );

    const kubelet = await startKubelet({
      cluster,
      api,
      doctor: options.doctor,
      images: {
        [DEFAULT_IMAGE]: DOCTOR_IMAGE_CONFIG,
        [APP_IMAGE]: { run: 'app', user: APP_IMAGE_USER, env: { HOME: SIM_HOME } },
        ...options.images,
      },
      ...(options.isolation ? { isolation: options.isolation } : {}),
      // The link-local agent address never reaches a spec here (the webhook writes the simulated one).
      network: { env: workload.network.env, rewrite: {} },
      mintToken: (request) => eks.mintToken(request),
    });
    closers.push(() => kubelet.close());

    // The app pod as its ReplicaSet created it, while the Pod Identity association existed if it ever did.
    if (workload.podIdentityAssociation !== 'none')
      associations.push({ namespace: ns, serviceAccount: SIM_SERVICE_ACCOUNT });
    const env = [
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
      ...Object.entries(workload.appEnv).map(([name, value]) => ({ name, value })),
    ];
    cluster.create(
      'pods',
      object(
        'v1',
        'Pod',
        {
          name: SIM_POD,
          labels: { app: deployment, 'pod-template-hash': replicaSet.slice(deployment.length + 1) },
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'ReplicaSet',
              name: replicaSet,
              uid: rs.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        {
          spec: {
            serviceAccountName: SIM_SERVICE_ACCOUNT,
            ...(options.appUser === 'image'
              ? {}
              : {
                  securityContext: {
                    runAsUser: APP_SPEC_USER.uid,
                    runAsGroup: APP_SPEC_USER.gid,
                    fsGroup: APP_SPEC_USER.gid,
                  },
                }),
            containers: [
              {
                name: 'app',
                image: APP_IMAGE,
                env,
                ports: [{ containerPort: 8080, name: 'http', protocol: 'TCP' }],
                resources: { requests: { cpu: '100m', memory: '128Mi' } },
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
      ),
      ns,
    );
    if (workload.podIdentityAssociation === 'deleted') associations.splice(0);
    await waitForRunning(cluster, ns, SIM_POD, 'app');
    for (const extra of options.objects ?? [])
      cluster.create(extra.resource, extra.object, extra.object.metadata.namespace ?? ns);
    Object.assign(cluster.options, options.cluster ?? {});

    return {
      eks,
      cluster,
      api,
      kubelet,
      namespace: ns,
      pod: SIM_POD,
      container: 'app',
      serviceAccount: SIM_SERVICE_ACCOUNT,
      image: DEFAULT_IMAGE,
      kubeconfig: (who = 'user') => api.kubeconfig(who === 'user' ? userToken : adminToken, { namespace: ns }),
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Resolves once the container runs; rejects when it is stuck or after 30 s. */
export function waitForRunning(cluster: SimCluster, namespace: string, pod: string, container: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const current = cluster.get('pods', namespace, pod);
      const status = (
        (current?.status?.containerStatuses ?? []) as {
          name: string;
          state?: { running?: unknown; waiting?: { reason?: string; message?: string } };
        }[]
      ).find((s) => s.name === container);
      if (status?.state?.running) return finish();
      const waiting = status?.state?.waiting;
      if (waiting && waiting.reason !== 'ContainerCreating')
        finish(new Error(`${pod}/${container}: ${waiting.reason} ${waiting.message ?? ''}`));
    };
    const timer = setTimeout(() => finish(new Error(`${namespace}/${pod} did not start within 30 s`)), 30_000);
    const stop = cluster.on(() => queueMicrotask(check));
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop();
      if (error) reject(error);
      else resolve();
    };
    check();
  });
}
