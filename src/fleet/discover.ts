import type { V1EnvVar, V1ManagedFieldsEntry, V1Pod, V1ServiceAccount } from '@kubernetes/client-node';
import { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } from '../aws/env-names';
import { ROLE_ARN_ANNOTATION } from '../checks/kube-serviceaccount';
import { WEBHOOK_CONFIGURATION } from '../checks/kube-webhook';
import type { KubeOwner } from '../checks/remedies';
import type { PodMutation } from '../kube/mutation';
import { analysePodMutation, controllerOf } from '../kube/mutation';
import type { LauncherApi } from '../launch/api';
import { LaunchFailure, apiErrorInfo, unexpectedApiFailure } from '../launch/failure';
import { whoAmI } from '../launch/rbac';
import type { AssociationLookup } from './associations';
import { FLEET_CLUSTER_PERMISSIONS, FLEET_READ_PERMISSIONS, fleetForbidden } from './rbac';

/*
 * Which ServiceAccounts a fleet run diagnoses, from what the API server lists (docs/cli.md, "fleet"):
 *   - those annotated with eks.amazonaws.com/role-arn (IRSA: the webhook mutates their new pods);
 *   - those that running pods use whose spec carries IRSA or Pod Identity variables or token volumes (the webhook
 *     mutated them: src/kube/mutation.ts reads that back), annotated or not (Pod Identity needs no annotation);
 *   - those with an EKS Pod Identity association, when the EKS API could be asked (associations.ts).
 * With -A it lists cluster-wide (two list calls), and falls back to namespace by namespace when that is refused,
 * so that one namespace the user may not read is reported, not fatal. Lists are paged (limit/continue) and only
 * what the static checks need of each pod is kept, so memory follows the number of ServiceAccounts and
 * workloads, not of pods.
 */

export type DiscoverySource = 'annotation' | 'pod-env' | 'association';

/** One workload (a pod's controller, a Deployment for a ReplicaSet's pod) of a ServiceAccount. */
export interface WorkloadFacts {
  /** null: a bare pod. */
  readonly owner: KubeOwner | null;
  /** One of its running pods, the oldest seen (the one most likely to predate an annotation). */
  readonly pod: string;
  readonly podCreated: string | undefined;
  readonly pods: number;
  readonly mutation: Pick<PodMutation, 'mechanism' | 'skipLabel'> & {
    readonly notInjected: readonly {
      readonly name: string;
      readonly why: string | undefined;
      readonly skip: string | undefined;
    }[];
  };
  /** The AWS_ROLE_ARN values its injected containers have. */
  readonly roleArns: readonly string[];
  /** Containers with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in their spec (hand-set keys beside the webhook's). */
  readonly staticKeys: readonly string[];
}

export interface TargetFacts {
  readonly namespace: string;
  readonly name: string;
  readonly sources: DiscoverySource[];
  /** False when pods name a ServiceAccount that does not exist (deleted after they started). */
  readonly exists: boolean;
  readonly roleArnAnnotation: string | undefined;
  /** When the role-arn annotation was last written, from managedFields (absent on servers that do not keep them). */
  readonly annotatedAt: string | undefined;
  readonly workloads: WorkloadFacts[];
  /** Pod Identity associations of the ServiceAccount (EKS API), when consulted. */
  readonly associations: readonly { readonly id: string; readonly roleArn: string | undefined }[];
}

export interface NamespaceRefusal {
  readonly namespace: string;
  readonly failure: LaunchFailure;
}

export type Checked<T> =
  { readonly state: 'checked'; readonly value: T } | { readonly state: 'not-checked'; readonly reason: string };

export interface Discovery {
  readonly targets: TargetFacts[];
  readonly namespaces: readonly string[];
  readonly refused: NamespaceRefusal[];
  /** Whether the pod-identity-webhook MutatingWebhookConfiguration exists. */
  readonly webhook: Checked<boolean>;
  /** The EKS API's Pod Identity associations: how many, or why they were not asked for. */
  readonly associations: Checked<number>;
  /** How the lists were made: cluster-wide or namespace by namespace. */
  readonly listing: 'cluster' | 'namespaces';
}

export interface DiscoverOptions {
  /** undefined: every namespace (-A). */
  readonly namespace: string | undefined;
  readonly selector: string | undefined;
  readonly signal: AbortSignal;
  readonly associations: AssociationLookup;
}

const PAGE = 500;
/** Namespaces listed at once when listing namespace by namespace. */
const NAMESPACE_CONCURRENCY = 4;

export async function discover(api: LauncherApi, options: DiscoverOptions): Promise<Discovery> {
  const targets = new Map<string, MutableTarget>();
  const refused: NamespaceRefusal[] = [];
  let namespaces: string[];
  let listing: Discovery['listing'] = 'namespaces';
  const associationsPromise = options.associations(options.namespace);

  if (options.namespace !== undefined) {
    namespaces = [options.namespace];
    const refusal = await listNamespace(api, options, options.namespace, targets);
    if (refusal) refused.push(refusal);
  } else {
    const cluster = await listCluster(api, options, targets);
    if (cluster.ok) {
      listing = 'cluster';
      namespaces = cluster.namespaces;
    } else {
      namespaces = await listNamespaceNames(api, options.signal);
      const queue = [...namespaces];
      await Promise.all(
        Array.from({ length: NAMESPACE_CONCURRENCY }, async () => {
          for (let ns = queue.shift(); ns !== undefined; ns = queue.shift()) {
            const refusal = await listNamespace(api, options, ns, targets);
            if (refusal) refused.push(refusal);
          }
        }),
      );
    }
  }

  const associations = await associationsPromise;
  if (associations.state === 'checked') {
    for (const a of associations.value) {
      if (options.namespace !== undefined && a.namespace !== options.namespace) continue;
      if (refused.some((r) => r.namespace === a.namespace)) continue;
      const target = targets.get(keyOf(a.namespace, a.serviceAccount));
      // With -l, an association of a ServiceAccount the selector left out stays out.
      if (!target && options.selector !== undefined) continue;
      const t = target ?? newTarget(a.namespace, a.serviceAccount, false);
      targets.set(keyOf(a.namespace, a.serviceAccount), t);
      if (!t.sources.includes('association')) t.sources.push('association');
      t.associations.push({ id: a.associationId, roleArn: a.roleArn });
    }
  }

  const webhook = await readWebhook(api);
  const list = [...targets.values()]
    .filter((t) => t.sources.length > 0)
    .map(finishTarget)
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  return {
    targets: list,
    namespaces,
    refused: refused.sort((a, b) => a.namespace.localeCompare(b.namespace)),
    webhook,
    associations:
      associations.state === 'checked'
        ? { state: 'checked', value: associations.value.length }
        : { state: 'not-checked', reason: associations.reason },
    listing,
  };
}

interface MutableTarget {
  namespace: string;
  name: string;
  sources: DiscoverySource[];
  exists: boolean;
  roleArnAnnotation: string | undefined;
  annotatedAt: string | undefined;
  workloads: Map<string, WorkloadFacts>;
  associations: { id: string; roleArn: string | undefined }[];
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

function newTarget(namespace: string, name: string, exists: boolean): MutableTarget {
  return {
    namespace,
    name,
    sources: [],
    exists,
    roleArnAnnotation: undefined,
    annotatedAt: undefined,
    workloads: new Map(),
    associations: [],
  };
}

function finishTarget(t: MutableTarget): TargetFacts {
  return {
    namespace: t.namespace,
    name: t.name,
    sources: t.sources,
    exists: t.exists,
    roleArnAnnotation: t.roleArnAnnotation,
    annotatedAt: t.annotatedAt,
    workloads: [...t.workloads.values()].sort((a, b) => workloadName(a).localeCompare(workloadName(b))),
    associations: t.associations,
  };
}

function workloadName(w: WorkloadFacts): string {
  return w.owner ? `${w.owner.kind}/${w.owner.name}` : `Pod/${w.pod}`;
}

/** Pages of a list call until the server stops giving a continue token. */
async function* pages<T>(
  list: (cont: string | undefined) => Promise<{ items: T[]; metadata?: { _continue?: string } }>,
): AsyncIterable<T[]> {
  let cont: string | undefined;
  do {
    const page = await list(cont);
    yield page.items;
    cont = page.metadata?._continue || undefined;
  } while (cont);
}

function addServiceAccount(targets: Map<string, MutableTarget>, sa: V1ServiceAccount): void {
  const namespace = sa.metadata?.namespace;
  const name = sa.metadata?.name;
  if (!namespace || !name) return;
  const key = keyOf(namespace, name);
  const t = targets.get(key) ?? newTarget(namespace, name, true);
  t.exists = true;
  const annotation = sa.metadata?.annotations?.[ROLE_ARN_ANNOTATION];
  t.roleArnAnnotation = annotation;
  t.annotatedAt = annotationTime(sa.metadata?.managedFields);
  if (annotation !== undefined && !t.sources.includes('annotation')) t.sources.push('annotation');
  targets.set(key, t);
}

/** The latest managedFields entry that set the role-arn annotation (what `kubectl get -o yaml --show-managed-fields` shows). */
export function annotationTime(entries: readonly V1ManagedFieldsEntry[] | undefined): string | undefined {
  let latest: string | undefined;
  for (const entry of entries ?? []) {
    const fields = entry.fieldsV1 as Record<string, Record<string, Record<string, unknown>>> | undefined;
    if (!fields?.['f:metadata']?.['f:annotations']?.[`f:${ROLE_ARN_ANNOTATION}`] || !entry.time) continue;
    const at = entry.time instanceof Date ? entry.time.toISOString() : String(entry.time);
    if (latest === undefined || at > latest) latest = at;
  }
  return latest;
}

/** A running pod: what the static checks need of it, under its ServiceAccount's entry. */
function addPod(targets: Map<string, MutableTarget>, pod: V1Pod, selector: string | undefined): void {
  const namespace = pod.metadata?.namespace;
  const sa = pod.spec?.serviceAccountName ?? 'default';
  if (!namespace || !pod.metadata?.name || !pod.spec) return;
  const mutation = analysePodMutation(pod as never);
  const key = keyOf(namespace, sa);
  let target = targets.get(key);
  if (mutation.mechanism === 'none' && !target?.sources.includes('annotation')) return;
  // With -l, only ServiceAccounts the selector picked (listed before the pods) are diagnosed.
  if (!target && selector !== undefined) return;
  if (!target) {
    target = newTarget(namespace, sa, false);
    targets.set(key, target);
  }
  if (mutation.mechanism !== 'none' && !target.sources.includes('pod-env')) target.sources.push('pod-env');
  const owner = ownerOf(pod);
  const id = owner ? `${owner.kind}/${owner.name}` : `Pod/${pod.metadata.name}`;
  const created = timestamp(pod.metadata.creationTimestamp);
  const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const roleArns = [
    ...new Set(
      mutation.containers
        .filter((c) => c.kind !== 'ephemeral' && c.roleArn !== undefined)
        .map((c) => c.roleArn as string),
    ),
  ];
  const staticKeys = containers
    .filter((c) =>
      (c.env ?? []).some((e: V1EnvVar) => e.name === AWS_ACCESS_KEY_ID || e.name === AWS_SECRET_ACCESS_KEY),
    )
    .map((c) => c.name);
  const existing = target.workloads.get(id);
  // The oldest pod of a workload stands for it: a pod created before the annotation is the one that needs a restart.
  if (existing && existing.podCreated !== undefined && created !== undefined && existing.podCreated <= created) {
    target.workloads.set(id, { ...existing, pods: existing.pods + 1 });
    return;
  }
  target.workloads.set(id, {
    owner,
    pod: pod.metadata.name,
    podCreated: created,
    pods: (existing?.pods ?? 0) + 1,
    mutation: {
      mechanism: mutation.mechanism,
      skipLabel: mutation.skipLabel,
      notInjected: mutation.notInjected.map((c) => ({ name: c.name, why: c.why, skip: c.skipReason })),
    },
    roleArns,
    staticKeys,
  });
}

function timestamp(value: Date | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value instanceof Date ? value.toISOString() : String(value);
}

/**
 * The workload a pod belongs to: its controller, and for a ReplicaSet's pod the Deployment that named the
 * ReplicaSet <deployment>-<pod-template-hash> (pkg/controller/deployment/sync.go), so the fix is one rollout.
 */
export function ownerOf(pod: V1Pod): KubeOwner | null {
  const owner = controllerOf(pod as never);
  if (!owner) return null;
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`) && owner.name.length > hash.length + 1) {
    return { kind: 'Deployment', name: owner.name.slice(0, -(hash.length + 1)) };
  }
  return { kind: owner.kind, name: owner.name };
}

/** Cluster-wide lists; { ok: false } when refused (the caller goes namespace by namespace). */
async function listCluster(
  api: LauncherApi,
  options: DiscoverOptions,
  targets: Map<string, MutableTarget>,
): Promise<{ ok: true; namespaces: string[] } | { ok: false }> {
  const seen = new Set<string>();
  try {
    for await (const items of pages((cont) =>
      api.core.listServiceAccountForAllNamespaces({
        limit: PAGE,
        ...(cont ? { _continue: cont } : {}),
        ...(options.selector !== undefined ? { labelSelector: options.selector } : {}),
      }),
    )) {
      for (const sa of items) {
        addServiceAccount(targets, sa);
        if (sa.metadata?.namespace) seen.add(sa.metadata.namespace);
      }
    }
    for await (const items of pages((cont) =>
      api.core.listPodForAllNamespaces({
        limit: PAGE,
        fieldSelector: 'status.phase=Running',
        ...(cont ? { _continue: cont } : {}),
      }),
    )) {
      for (const pod of items) addPod(targets, pod, options.selector);
    }
  } catch (error) {
    const info = apiErrorInfo(error);
    if (info.status === 403) {
      targets.clear();
      return { ok: false };
    }
    throw unexpectedApiFailure('listing ServiceAccounts and pods in all namespaces', error);
  }
  // Namespaces without a ServiceAccount do not exist (every namespace has "default").
  return { ok: true, namespaces: [...seen].sort() };
}

async function listNamespaceNames(api: LauncherApi, signal: AbortSignal): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const items of pages((cont) =>
      api.core.listNamespace({ limit: PAGE, ...(cont ? { _continue: cont } : {}) }),
    )) {
      for (const ns of items) if (ns.metadata?.name) names.push(ns.metadata.name);
    }
  } catch (error) {
    if (signal.aborted) throw error;
    const info = apiErrorInfo(error);
    if (info.status === 403) {
      throw fleetForbidden('the cluster', await whoAmI(api), FLEET_CLUSTER_PERMISSIONS, 'cluster');
    }
    throw unexpectedApiFailure('listing namespaces', error);
  }
  return names.sort();
}

/** One namespace's ServiceAccounts and running pods; a refusal is returned, not thrown. */
async function listNamespace(
  api: LauncherApi,
  options: DiscoverOptions,
  namespace: string,
  targets: Map<string, MutableTarget>,
): Promise<NamespaceRefusal | undefined> {
  const mine = new Map<string, MutableTarget>();
  try {
    for await (const items of pages((cont) =>
      api.core.listNamespacedServiceAccount({
        namespace,
        limit: PAGE,
        ...(cont ? { _continue: cont } : {}),
        ...(options.selector !== undefined ? { labelSelector: options.selector } : {}),
      }),
    )) {
      for (const sa of items) addServiceAccount(mine, sa);
    }
    for await (const items of pages((cont) =>
      api.core.listNamespacedPod({
        namespace,
        limit: PAGE,
        fieldSelector: 'status.phase=Running',
        ...(cont ? { _continue: cont } : {}),
      }),
    )) {
      for (const pod of items) addPod(mine, pod, options.selector);
    }
  } catch (error) {
    if (options.signal.aborted) throw error;
    const info = apiErrorInfo(error);
    if (info.status === 403) {
      return {
        namespace,
        failure: fleetForbidden(namespace, await whoAmI(api), FLEET_READ_PERMISSIONS, 'namespace', info.message),
      };
    }
    if (info.status === 404 && options.namespace !== undefined) {
      throw new LaunchFailure('not-found', `namespace ${namespace} not found`, ['kubectl get namespaces']);
    }
    throw unexpectedApiFailure(`listing ServiceAccounts and pods in namespace ${namespace}`, error);
  }
  for (const [key, t] of mine) targets.set(key, t);
  return undefined;
}

async function readWebhook(api: LauncherApi): Promise<Checked<boolean>> {
  try {
    await api.admission.readMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION });
    return { state: 'checked', value: true };
  } catch (error) {
    const info = apiErrorInfo(error);
    if (info.status === 404) return { state: 'checked', value: false };
    if (info.status === 403)
      return {
        state: 'not-checked',
        reason: `not permitted to get mutatingwebhookconfigurations/${WEBHOOK_CONFIGURATION} (examples/rbac-fleet.yaml grants it)`,
      };
    return {
      state: 'not-checked',
      reason: `reading mutatingwebhookconfigurations/${WEBHOOK_CONFIGURATION}: ${info.message}`,
    };
  }
}
