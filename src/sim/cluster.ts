import { randomBytes, randomUUID } from 'node:crypto';
import type { V1Container, V1EphemeralContainer, V1Job, V1Pod } from '@kubernetes/client-node';

/*
 * The state of a simulated cluster and the controllers that act on it, without HTTP (cluster-api.ts serves it):
 * an object store with resourceVersions and a change feed (what watches read), the admission chain a pod goes
 * through (the pod-identity-webhook's mutation, LimitRange, ResourceQuota, denying admission webhooks), the
 * scheduler, the Job controller, the garbage collector with the three propagation policies, the TTL-after-
 * finished controller and Events. The kubelet (kubelet.ts) runs what is scheduled and writes pod status back.
 *
 * Semantics follow the upstream API server and controllers where the launchers depend on them; each rule says
 * where it comes from (kubernetes/kubernetes paths are given relative to the repository root).
 */

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  generateName?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  finalizers?: string[];
  [key: string]: unknown;
}

/** A stored object. Specs and statuses stay loosely typed: the store copies whatever the client sent. */
export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  // The API's open-ended shapes stay loose here; typed views (V1Pod, V1Job) are cast where they are read.
  spec?: any;
  status?: any;
  [key: string]: any;
}

export interface ResourceType {
  readonly resource: string;
  readonly kind: string;
  readonly group: string;
  readonly version: string;
  readonly namespaced: boolean;
  readonly shortNames?: readonly string[];
  readonly verbs: readonly string[];
  /** Served subresources (discovery lists them as "pods/log" etc.). */
  readonly subresources?: readonly { readonly name: string; readonly verbs: readonly string[] }[];
}

const RW = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;

export const RESOURCE_TYPES: readonly ResourceType[] = [
  {
    resource: 'namespaces',
    kind: 'Namespace',
    group: '',
    version: 'v1',
    namespaced: false,
    shortNames: ['ns'],
    verbs: RW,
  },
  {
    resource: 'pods',
    kind: 'Pod',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['po'],
    verbs: RW,
    subresources: [
      { name: 'log', verbs: ['get'] },
      { name: 'ephemeralcontainers', verbs: ['get', 'patch', 'update'] },
      { name: 'status', verbs: ['get', 'patch', 'update'] },
    ],
  },
  {
    resource: 'serviceaccounts',
    kind: 'ServiceAccount',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['sa'],
    verbs: RW,
  },
  { resource: 'events', kind: 'Event', group: '', version: 'v1', namespaced: true, shortNames: ['ev'], verbs: RW },
  { resource: 'secrets', kind: 'Secret', group: '', version: 'v1', namespaced: true, verbs: RW },
  {
    resource: 'limitranges',
    kind: 'LimitRange',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['limits'],
    verbs: RW,
  },
  {
    resource: 'resourcequotas',
    kind: 'ResourceQuota',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['quota'],
    verbs: RW,
  },
  {
    resource: 'jobs',
    kind: 'Job',
    group: 'batch',
    version: 'v1',
    namespaced: true,
    verbs: RW,
    subresources: [{ name: 'status', verbs: ['get', 'patch', 'update'] }],
  },
  {
    resource: 'replicasets',
    kind: 'ReplicaSet',
    group: 'apps',
    version: 'v1',
    namespaced: true,
    shortNames: ['rs'],
    verbs: RW,
  },
  {
    resource: 'mutatingwebhookconfigurations',
    kind: 'MutatingWebhookConfiguration',
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    namespaced: false,
    verbs: RW,
  },
  { resource: 'roles', kind: 'Role', group: 'rbac.authorization.k8s.io', version: 'v1', namespaced: true, verbs: RW },
  {
    resource: 'rolebindings',
    kind: 'RoleBinding',
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    namespaced: true,
    verbs: RW,
  },
  {
    resource: 'clusterroles',
    kind: 'ClusterRole',
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    namespaced: false,
    verbs: RW,
  },
  {
    resource: 'clusterrolebindings',
    kind: 'ClusterRoleBinding',
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    namespaced: false,
    verbs: RW,
  },
  {
    resource: 'selfsubjectreviews',
    kind: 'SelfSubjectReview',
    group: 'authentication.k8s.io',
    version: 'v1',
    namespaced: false,
    verbs: ['create'],
  },
  {
    resource: 'selfsubjectaccessreviews',
    kind: 'SelfSubjectAccessReview',
    group: 'authorization.k8s.io',
    version: 'v1',
    namespaced: false,
    verbs: ['create'],
  },
];

export function resourceType(resource: string): ResourceType {
  const found = RESOURCE_TYPES.find((r) => r.resource === resource);
  if (!found) throw new Error(`unknown resource ${resource}`);
  return found;
}

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** A refusal worded and coded as the API server's Status object. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  status() {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  readonly type: ChangeType;
  readonly resource: string;
  readonly object: KObject;
  /** The store's resourceVersion after this change (watches resume after it). */
  readonly resourceVersion: number;
}

/** What the pod-identity-webhook of the cluster does to new pods (webhook.ts). */
export type PodMutator = (pod: KObject, cluster: SimCluster) => KObject;

/** A ValidatingAdmissionWebhook stand-in: the request is refused with this webhook's name and message. */
export interface AdmissionDenial {
  readonly resource: 'pods' | 'jobs';
  readonly webhook: string;
  readonly message: string;
}

export interface ClusterOptions {
  /** Every node is full: new pods stay Pending with PodScheduled=False (reason Unschedulable). */
  readonly unschedulable?: string;
  /** The API server has no pods/ephemeralcontainers subresource (before Kubernetes 1.23, or the gate off). */
  readonly ephemeralContainersDisabled?: boolean;
  readonly denials?: readonly AdmissionDenial[];
  /** How many watch events the store keeps for resuming watches (older resourceVersions get 410 Gone). */
  readonly historyLimit?: number;
}

export const SIM_NODE_NAME = 'ip-192-168-12-34.us-west-2.compute.internal';

const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** The 5 characters generateName appends (k8s.io/apiserver/pkg/storage/names/generate.go). */
export function randomSuffix(length = 5): string {
  const bytes = randomBytes(length);
  return [...bytes].map((b) => NAME_SUFFIX_ALPHABET[b % NAME_SUFFIX_ALPHABET.length]).join('');
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function key(resource: string, namespace: string | undefined, name: string): string {
  return `${resource}|${namespace ?? ''}|${name}`;
}

/** The Kubernetes quantity grammar, enough for cpu and memory: 100m, 0.5, 128Mi, 1G, 2. */
export function parseQuantity(value: unknown): number {
  const text = String(value ?? '').trim();
  const match = /^([0-9.]+)([a-zA-Z]*)$/.exec(text);
  if (!match) return Number.NaN;
  const number = Number(match[1]);
  const factors: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
  };
  const factor = factors[match[2] ?? ''];
  return factor === undefined ? Number.NaN : number * factor;
}

export class SimCluster {
  /** The cluster's policies; mutable, so a test can add one after the app is running (as an admin would). */
  readonly options: {
    unschedulable?: string;
    ephemeralContainersDisabled?: boolean;
    denials?: readonly AdmissionDenial[];
  };
  private readonly objects = new Map<string, KObject>();
  /** The same objects by resource, so that a list reads only its own kind (a fleet's cluster holds thousands). */
  private readonly byResource = new Map<string, Map<string, KObject>>();
  private revision = 1000;
  private readonly history: Change[] = [];
  private readonly listeners = new Set<(change: Change) => void>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly historyLimit: number;
  private mutator: PodMutator | undefined;
  /** Pods the kubelet is stopping: removed once it calls podStopped(). */
  private readonly stopping = new Set<string>();
  /** Set by the kubelet: without one, a deleted pod goes at once. */
  podStopper: ((pod: KObject, gracePeriodSeconds: number) => void) | undefined;
  closed = false;

  constructor(options: ClusterOptions = {}) {
    const { historyLimit, ...policies } = options;
    this.options = { ...policies };
    this.historyLimit = historyLimit ?? 5_000;
    this.on((change) => this.react(change));
  }

  setPodMutator(mutator: PodMutator | undefined): void {
    this.mutator = mutator;
  }

  get resourceVersion(): number {
    return this.revision;
  }

  /** The oldest resourceVersion a watch may resume from. */
  get oldestResumable(): number {
    return this.history[0]?.resourceVersion ?? this.revision;
  }

  on(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changesSince(resourceVersion: number): readonly Change[] {
    return this.history.filter((c) => c.resourceVersion > resourceVersion);
  }

  get(resource: string, namespace: string | undefined, name: string): KObject | undefined {
    const found = this.objects.get(key(resource, namespace, name));
    return found ? clone(found) : undefined;
  }

  mustGet(resource: string, namespace: string | undefined, name: string): KObject {
    const found = this.get(resource, namespace, name);
    if (!found) throw notFound(resource, name);
    return found;
  }

  list(resource: string, namespace?: string): KObject[] {
    const out: KObject[] = [];
    for (const object of this.byResource.get(resource)?.values() ?? []) {
      if (namespace !== undefined && object.metadata.namespace !== namespace) continue;
      out.push(clone(object));
    }
    return out.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  private resourceOf(object: KObject): string | undefined {
    return RESOURCE_TYPES.find((r) => r.kind === object.kind && apiVersionOf(r) === object.apiVersion)?.resource;
  }

  /** Creates an object as the API server does: defaults, admission, then storage. */
  create(resource: string, given: KObject, namespace?: string): KObject {
    if (this.closed) throw new ApiError(503, 'ServiceUnavailable', 'the simulated cluster is shutting down');
    const type = resourceType(resource);
    const object = clone(given);
    object.apiVersion = apiVersionOf(type);
    object.kind = type.kind;
    object.metadata = { ...(object.metadata ?? {}) } as ObjectMeta;
    if (type.namespaced) {
      const ns = namespace ?? object.metadata.namespace ?? 'default';
      if (object.metadata.namespace !== undefined && object.metadata.namespace !== ns) {
        throw new ApiError(
          400,
          'BadRequest',
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      object.metadata.namespace = ns;
      if (resource !== 'namespaces' && !this.objects.has(key('namespaces', undefined, ns))) {
        throw new ApiError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
      }
    } else {
      delete object.metadata.namespace;
    }
    if (!object.metadata.name) {
      if (!object.metadata.generateName) {
        throw new ApiError(
          422,
          'Invalid',
          `${type.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
        );
      }
      object.metadata.name = `${object.metadata.generateName}${randomSuffix()}`;
    }
    validateName(type, object.metadata.name);
    if (this.objects.has(key(resource, object.metadata.namespace, object.metadata.name))) {
      throw new ApiError(409, 'AlreadyExists', `${qualified(type)} "${object.metadata.name}" already exists`, {
        name: object.metadata.name,
        ...(type.group ? { group: type.group } : {}),
        kind: type.resource,
      });
    }
    object.metadata.uid = randomUUID();
    object.metadata.creationTimestamp = now();
    object.metadata.generation = 1;
    delete object.metadata.deletionTimestamp;
    object.metadata.resourceVersion = '';

    let admitted = object;
    if (resource === 'pods') admitted = this.admitPod(object);
    if (resource === 'jobs') admitted = this.admitJob(object);
    return this.store('ADDED', resource, admitted);
  }

  /** Replaces an object (status writes by controllers and the kubelet included); bumps its resourceVersion. */
  replace(resource: string, object: KObject): KObject {
    const current = this.objects.get(key(resource, object.metadata.namespace, object.metadata.name));
    if (!current) throw notFound(resource, object.metadata.name);
    const next = clone(object);
    next.metadata.uid = current.metadata.uid;
    next.metadata.creationTimestamp = current.metadata.creationTimestamp;
    return this.store('MODIFIED', resource, next);
  }

  /** Read-modify-write of one object; `change` gets a copy and returns the new object. */
  update(
    resource: string,
    namespace: string | undefined,
    name: string,
    change: (object: KObject) => KObject | void,
  ): KObject {
    const current = this.mustGet(resource, namespace, name);
    const next = change(current) ?? current;
    return this.replace(resource, next);
  }

  private store(type: ChangeType, resource: string, object: KObject): KObject {
    this.revision += 1;
    object.metadata.resourceVersion = String(this.revision);
    const k = key(resource, object.metadata.namespace, object.metadata.name);
    let own = this.byResource.get(resource);
    if (!own) {
      own = new Map();
      this.byResource.set(resource, own);
    }
    if (type === 'DELETED') {
      this.objects.delete(k);
      own.delete(k);
    } else {
      this.objects.set(k, object);
      own.set(k, object);
    }
    const change: Change = { type, resource, object: clone(object), resourceVersion: this.revision };
    this.history.push(change);
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit);
    for (const listener of [...this.listeners]) listener(change);
    return clone(object);
  }

  /**
   * DELETE with a propagation policy (k8s.io/apiserver/pkg/registry/generic/registry/store.go and the garbage
   * collector, pkg/controller/garbagecollector): Background removes the owner now and its dependents after;
   * Foreground keeps the owner (deletionTimestamp, finalizer foregroundDeletion) until its dependents are gone;
   * Orphan strips the owner reference from the dependents. A pod on a node is removed once the kubelet has
   * stopped its containers.
   */
  delete(
    resource: string,
    namespace: string | undefined,
    name: string,
    options: { propagationPolicy?: string; gracePeriodSeconds?: number } = {},
  ): KObject {
    const current = this.mustGet(resource, namespace, name);
    const policy = options.propagationPolicy ?? defaultPropagation(resource);
    if (!['Orphan', 'Background', 'Foreground'].includes(policy)) {
      throw new ApiError(400, 'BadRequest', `propagationPolicy: Unsupported value: "${policy}"`);
    }
    if (current.metadata.deletionTimestamp) return current; // already going
    const dependents = this.dependentsOf(current);
    if (policy === 'Orphan') {
      for (const dependent of dependents) {
        this.update(dependent.resource, dependent.object.metadata.namespace, dependent.object.metadata.name, (o) => {
          o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter((r) => r.uid !== current.metadata.uid);
        });
      }
    }
    if (policy === 'Foreground' && dependents.length > 0) {
      const marked = this.update(resource, namespace, name, (o) => {
        o.metadata.deletionTimestamp = now();
        o.metadata.finalizers = [...new Set([...(o.metadata.finalizers ?? []), 'foregroundDeletion'])];
      });
      for (const dependent of dependents) this.deleteQuietly(dependent.resource, dependent.object, 'Background');
      this.finishForeground(resource, marked);
      return marked;
    }
    const removed = this.removeOrStop(resource, current, options.gracePeriodSeconds);
    if (policy === 'Background') {
      for (const dependent of dependents) this.deleteQuietly(dependent.resource, dependent.object, 'Background');
    }
    return removed;
  }

  private deleteQuietly(resource: string, object: KObject, policy: string): void {
    try {
      this.delete(resource, object.metadata.namespace, object.metadata.name, { propagationPolicy: policy });
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 404)) throw error;
    }
  }

  private finishForeground(resource: string, owner: KObject): void {
    if (this.dependentsOf(owner).length > 0) return;
    const current = this.get(resource, owner.metadata.namespace, owner.metadata.name);
    if (current?.metadata.deletionTimestamp) this.store('DELETED', resource, current);
  }

  private removeOrStop(resource: string, object: KObject, gracePeriodSeconds?: number): KObject {
    if (
      resource === 'pods' &&
      object.spec?.nodeName &&
      this.podStopper &&
      object.status?.phase !== 'Succeeded' &&
      object.status?.phase !== 'Failed'
    ) {
      const grace = gracePeriodSeconds ?? object.spec?.terminationGracePeriodSeconds ?? 30;
      const marked = this.update(resource, object.metadata.namespace, object.metadata.name, (o) => {
        o.metadata.deletionTimestamp = now();
        o.metadata.deletionGracePeriodSeconds = grace;
      });
      this.stopping.add(marked.metadata.uid);
      this.podStopper(marked, grace);
      return marked;
    }
    if (resource === 'pods' && this.podStopper && object.spec?.nodeName) {
      // Finished pods have no running container left; the kubelet still drops its logs.
      this.podStopper(object, 0);
    }
    return this.store('DELETED', resource, object);
  }

  /** Called by the kubelet once every container of a deleted pod has stopped. */
  podStopped(pod: KObject): void {
    if (!this.stopping.delete(pod.metadata.uid)) return;
    const current = this.get('pods', pod.metadata.namespace, pod.metadata.name);
    if (current && current.metadata.uid === pod.metadata.uid) this.store('DELETED', 'pods', current);
  }

  private dependentsOf(owner: KObject): { resource: string; object: KObject }[] {
    const out: { resource: string; object: KObject }[] = [];
    for (const object of this.objects.values()) {
      if ((object.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid)) {
        const resource = this.resourceOf(object);
        if (resource) out.push({ resource, object: clone(object) });
      }
    }
    return out;
  }

  /** An Event about `involved`, counted up when the same reason and message repeat (as the event recorder). */
  recordEvent(involved: KObject, type: 'Normal' | 'Warning', reason: string, message: string, component: string): void {
    if (this.closed || !involved.metadata.namespace) return;
    const existing = this.list('events', involved.metadata.namespace).find(
      (e) => e.involvedObject?.uid === involved.metadata.uid && e.reason === reason && e.message === message,
    );
    const timestamp = now();
    if (existing) {
      this.update('events', existing.metadata.namespace, existing.metadata.name, (e) => {
        e.count = Number(e.count ?? 1) + 1;
        e.lastTimestamp = timestamp;
      });
      return;
    }
    this.create(
      'events',
      {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${involved.metadata.name}.${randomBytes(8).toString('hex')}` } as ObjectMeta,
        involvedObject: {
          apiVersion: involved.apiVersion,
          kind: involved.kind,
          name: involved.metadata.name,
          namespace: involved.metadata.namespace,
          uid: involved.metadata.uid,
          resourceVersion: involved.metadata.resourceVersion,
        },
        reason,
        message,
        type,
        count: 1,
        firstTimestamp: timestamp,
        lastTimestamp: timestamp,
        source: { component },
        reportingComponent: component,
      },
      involved.metadata.namespace,
    );
  }

  /** A timer the cluster owns: cleared on close, never keeps the process alive. */
  later(ms: number, run: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) run();
    }, ms);
    timer.unref?.();
    this.timers.add(timer);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  // -------------------------------------------------------------------------------------------------------
  // Admission

  /**
   * A new pod: the mutating webhook first (the pod-identity-webhook is a MutatingAdmissionWebhook), then the
   * LimitRanger and ResourceQuota admission plugins, then validating webhooks (plugin order of kube-apiserver:
   * pkg/kubeapiserver/options/plugins.go), then defaults for status.
   */
  private admitPod(pod: KObject): KObject {
    const name = pod.metadata.name;
    const defaulted = clone(pod);
    defaulted.spec = defaulted.spec ?? {};
    defaulted.spec.serviceAccountName = defaulted.spec.serviceAccountName ?? 'default';
    defaulted.spec.serviceAccount = defaulted.spec.serviceAccountName;
    defaulted.spec.restartPolicy = defaulted.spec.restartPolicy ?? 'Always';
    defaulted.spec.terminationGracePeriodSeconds = defaulted.spec.terminationGracePeriodSeconds ?? 30;
    defaulted.spec.schedulerName = defaulted.spec.schedulerName ?? 'default-scheduler';
    const namespace = defaulted.metadata.namespace as string;
    const sa = this.get('serviceaccounts', namespace, defaulted.spec.serviceAccountName);
    if (!sa) {
      throw new ApiError(
        403,
        'Forbidden',
        `pods "${name}" is forbidden: error looking up service account ${namespace}/${defaulted.spec.serviceAccountName}: serviceaccount "${defaulted.spec.serviceAccountName}" not found`,
        { name, kind: 'pods' },
      );
    }
    mountServiceAccountToken(defaulted, sa);
    const admitted = clone(this.mutator ? this.mutator(defaulted, this) : defaulted);
    this.checkLimitRanges(admitted);
    this.checkQuota('pods', admitted);
    this.checkDenials('pods', admitted);
    admitted.status = { phase: 'Pending', qosClass: qosClass(admitted.spec.containers ?? []) };
    return admitted;
  }

  /** LimitRanger (plugin/pkg/admission/limitranger): a container limit above a Container max is refused. */
  private checkLimitRanges(pod: KObject): void {
    for (const range of this.list('limitranges', pod.metadata.namespace)) {
      for (const item of range.spec?.limits ?? []) {
        if (item.type !== 'Container') continue;
        for (const container of (pod.spec.containers ?? []) as V1Container[]) {
          for (const [resourceName, max] of Object.entries((item.max ?? {}) as Record<string, string>)) {
            const limit = container.resources?.limits?.[resourceName];
            if (limit === undefined) {
              throw new ApiError(
                403,
                'Forbidden',
                `pods "${pod.metadata.name}" is forbidden: maximum ${resourceName} usage per Container is ${max}.  No limit is specified`,
              );
            }
            if (parseQuantity(limit) > parseQuantity(max)) {
              throw new ApiError(
                403,
                'Forbidden',
                `pods "${pod.metadata.name}" is forbidden: maximum ${resourceName} usage per Container is ${max}, but limit is ${String(limit)}`,
              );
            }
          }
        }
      }
    }
  }

  /** ResourceQuota (plugin/pkg/admission/resourcequota): object counts and requests.cpu / requests.memory. */
  private checkQuota(resource: 'pods' | 'jobs', object: KObject): void {
    const namespace = object.metadata.namespace as string;
    for (const quota of this.list('resourcequotas', namespace)) {
      const hard = (quota.spec?.hard ?? {}) as Record<string, string>;
      const countKey = resource === 'pods' ? 'pods' : 'count/jobs.batch';
      const requested: Record<string, number> = { [countKey]: 1 };
      const used: Record<string, number> = {
        [countKey]: this.list(resource, namespace).filter((o) => !isFinishedPod(o)).length,
      };
      if (resource === 'pods') {
        for (const name of ['requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory']) {
          const [kind, res] = name.split('.') as ['requests' | 'limits', string];
          const sum = (pod: KObject) =>
            ((pod.spec?.containers ?? []) as V1Container[]).reduce(
              (total, c) => total + parseQuantity(c.resources?.[kind]?.[res] ?? '0'),
              0,
            );
          requested[name] = sum(object);
          used[name] = this.list('pods', namespace)
            .filter((p) => !isFinishedPod(p))
            .reduce((total, p) => total + sum(p), 0);
        }
      }
      for (const [name, limit] of Object.entries(hard)) {
        if (requested[name] === undefined) continue;
        if ((used[name] ?? 0) + (requested[name] ?? 0) > parseQuantity(limit)) {
          const words = (n: number) => (name.includes('memory') || name.includes('cpu') ? String(n) : String(n));
          throw new ApiError(
            403,
            'Forbidden',
            `${resource === 'pods' ? 'pods' : 'jobs.batch'} "${object.metadata.name}" is forbidden: exceeded quota: ${quota.metadata.name}, requested: ${name}=${words(requested[name] ?? 0)}, used: ${name}=${words(used[name] ?? 0)}, limited: ${name}=${limit}`,
          );
        }
      }
    }
  }

  private checkDenials(resource: 'pods' | 'jobs', object: KObject): void {
    for (const denial of this.options.denials ?? []) {
      if (denial.resource !== resource) continue;
      // The wording of k8s.io/apiserver/pkg/admission/plugin/webhook/errors/statuserror.go.
      throw new ApiError(
        403,
        'Forbidden',
        `admission webhook "${denial.webhook}" denied the request: ${denial.message}`,
      );
    }
    void object;
  }

  /** Job defaulting (pkg/apis/batch/v1/defaults.go) and the selector the API server generates. */
  private admitJob(job: KObject): KObject {
    const spec = (job.spec ?? {}) as NonNullable<V1Job['spec']>;
    if (!spec.template?.spec?.containers?.length) {
      throw new ApiError(
        422,
        'Invalid',
        `Job.batch "${job.metadata.name}" is invalid: spec.template.spec.containers: Required value`,
      );
    }
    const restart = spec.template.spec.restartPolicy;
    if (restart !== 'Never' && restart !== 'OnFailure') {
      throw new ApiError(
        422,
        'Invalid',
        `Job.batch "${job.metadata.name}" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`,
      );
    }
    this.checkQuota('jobs', job);
    this.checkDenials('jobs', job);
    const uid = job.metadata.uid;
    const selectorLabels = { 'batch.kubernetes.io/controller-uid': uid };
    const templateLabels = {
      ...(spec.template.metadata?.labels ?? {}),
      'batch.kubernetes.io/controller-uid': uid,
      'batch.kubernetes.io/job-name': job.metadata.name,
      'controller-uid': uid,
      'job-name': job.metadata.name,
    };
    job.spec = {
      parallelism: 1,
      completions: 1,
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      suspend: false,
      podReplacementPolicy: 'TerminatingOrFailed',
      manualSelector: false,
      ...spec,
      selector: { matchLabels: selectorLabels },
      template: { ...spec.template, metadata: { ...(spec.template.metadata ?? {}), labels: templateLabels } },
    };
    job.metadata.labels = {
      ...(job.metadata.labels ?? {}),
      'batch.kubernetes.io/controller-uid': uid,
      'batch.kubernetes.io/job-name': job.metadata.name,
      'controller-uid': uid,
      'job-name': job.metadata.name,
    };
    job.status = {};
    return job;
  }

  // -------------------------------------------------------------------------------------------------------
  // Controllers, run after each change (on the next turn, so a handler never sees a half-written state).

  private react(change: Change): void {
    queueMicrotask(() => {
      if (this.closed) return;
      try {
        if (change.resource === 'pods' && change.type === 'ADDED') this.schedule(change.object);
        if (change.resource === 'jobs' && change.type === 'ADDED') this.startJob(change.object);
        if (change.resource === 'pods' && change.type !== 'ADDED') this.syncJobOf(change.object, change.type);
        if (change.type === 'DELETED') this.afterDeletion(change.object);
        if (change.resource === 'jobs' && change.type === 'MODIFIED') this.maybeExpire(change.object);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
      }
    });
  }

  /** The scheduler: one node, unless the cluster is full. */
  private schedule(pod: KObject): void {
    const current = this.get('pods', pod.metadata.namespace, pod.metadata.name);
    if (!current || current.spec?.nodeName) return;
    if (this.options.unschedulable) {
      const message = this.options.unschedulable;
      this.update('pods', current.metadata.namespace, current.metadata.name, (p) => {
        p.status.conditions = [
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: now() },
        ];
      });
      this.recordEvent(current, 'Warning', 'FailedScheduling', message, 'default-scheduler');
      return;
    }
    this.update('pods', current.metadata.namespace, current.metadata.name, (p) => {
      p.spec.nodeName = SIM_NODE_NAME;
      p.status.conditions = [{ type: 'PodScheduled', status: 'True', lastTransitionTime: now() }];
    });
    this.recordEvent(
      current,
      'Normal',
      'Scheduled',
      `Successfully assigned ${current.metadata.namespace}/${current.metadata.name} to ${SIM_NODE_NAME}`,
      'default-scheduler',
    );
  }

  /** The Job controller (pkg/controller/job/job_controller.go) for one non-indexed completion. */
  private startJob(job: KObject): void {
    const current = this.get('jobs', job.metadata.namespace, job.metadata.name);
    if (!current || current.metadata.deletionTimestamp || current.spec?.suspend) return;
    this.update('jobs', current.metadata.namespace, current.metadata.name, (j) => {
      j.status = { ...(j.status ?? {}), startTime: j.status?.startTime ?? now() };
    });
    const deadline = current.spec?.activeDeadlineSeconds;
    if (typeof deadline === 'number') this.later(deadline * 1000, () => this.deadlineExceeded(current));
    this.createJobPod(current, 0);
  }

  private createJobPod(job: KObject, attempt: number): void {
    const current = this.get('jobs', job.metadata.namespace, job.metadata.name);
    if (!current || current.metadata.uid !== job.metadata.uid || current.metadata.deletionTimestamp) return;
    if (isJobFinished(current)) return;
    const template = current.spec.template;
    try {
      const pod = this.create(
        'pods',
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            ...(template.metadata ?? {}),
            generateName: `${current.metadata.name}-`,
            ownerReferences: [
              {
                apiVersion: 'batch/v1',
                kind: 'Job',
                name: current.metadata.name,
                uid: current.metadata.uid,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          } as ObjectMeta,
          spec: clone(template.spec),
        },
        current.metadata.namespace,
      );
      this.update('jobs', current.metadata.namespace, current.metadata.name, (j) => {
        j.status = { ...j.status, active: (j.status?.active ?? 0) + 1, ready: 0, terminating: 0 };
      });
      this.recordEvent(current, 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`, 'job-controller');
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.recordEvent(current, 'Warning', 'FailedCreate', `Error creating: ${error.message}`, 'job-controller');
      // The controller retries with exponential backoff (10 s base upstream; shorter here, capped).
      this.later(Math.min(1000 * 2 ** attempt, 8000), () => this.createJobPod(current, attempt + 1));
    }
  }

  private syncJobOf(pod: KObject, type: ChangeType): void {
    const owner = (pod.metadata.ownerReferences ?? []).find((r) => r.kind === 'Job' && r.controller);
    if (!owner) return;
    const job = this.get('jobs', pod.metadata.namespace, owner.name);
    if (!job || job.metadata.uid !== owner.uid) return;
    if (job.metadata.deletionTimestamp) {
      if (type === 'DELETED') this.finishForeground('jobs', job);
      return;
    }
    if (isJobFinished(job)) return;
    const phase = pod.status?.phase;
    if (type === 'DELETED' && phase !== 'Succeeded' && phase !== 'Failed') return;
    if (phase === 'Succeeded') {
      this.finishJob(job, 'Complete', undefined, { succeeded: 1, active: 0 });
    } else if (phase === 'Failed') {
      const failed = (job.status?.failed ?? 0) + 1;
      if (failed > (job.spec?.backoffLimit ?? 6)) {
        this.finishJob(
          job,
          'Failed',
          'BackoffLimitExceeded',
          { failed, active: 0 },
          'Job has reached the specified backoff limit',
        );
      } else {
        this.update('jobs', job.metadata.namespace, job.metadata.name, (j) => {
          j.status = { ...j.status, failed, active: 0 };
        });
        this.createJobPod(job, 0);
      }
    } else if (
      pod.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True')
    ) {
      this.update('jobs', job.metadata.namespace, job.metadata.name, (j) => {
        j.status = { ...j.status, ready: 1 };
      });
    }
  }

  private finishJob(
    job: KObject,
    outcome: 'Complete' | 'Failed',
    reason: string | undefined,
    counts: Record<string, number>,
    message?: string,
  ): void {
    const at = now();
    // Since Kubernetes 1.31 the terminal condition follows SuccessCriteriaMet / FailureTarget.
    const interim = outcome === 'Complete' ? 'SuccessCriteriaMet' : 'FailureTarget';
    const condition = (type: string) => ({
      type,
      status: 'True',
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
      lastProbeTime: at,
      lastTransitionTime: at,
    });
    const finished = this.update('jobs', job.metadata.namespace, job.metadata.name, (j) => {
      j.status = {
        ...j.status,
        ...counts,
        ready: 0,
        ...(outcome === 'Complete' ? { completionTime: at } : {}),
        conditions: [condition(interim), condition(outcome)],
      };
    });
    this.recordEvent(
      finished,
      outcome === 'Complete' ? 'Normal' : 'Warning',
      outcome === 'Complete' ? 'Completed' : (reason ?? 'Failed'),
      outcome === 'Complete' ? 'Job completed' : (message ?? 'Job failed'),
      'job-controller',
    );
  }

  private deadlineExceeded(job: KObject): void {
    const current = this.get('jobs', job.metadata.namespace, job.metadata.name);
    if (!current || current.metadata.uid !== job.metadata.uid || isJobFinished(current)) return;
    for (const pod of this.list('pods', current.metadata.namespace)) {
      if ((pod.metadata.ownerReferences ?? []).some((r) => r.uid === current.metadata.uid) && !isFinishedPod(pod)) {
        this.deleteQuietly('pods', pod, 'Background');
      }
    }
    this.finishJob(
      current,
      'Failed',
      'DeadlineExceeded',
      { active: 0 },
      'Job was active longer than specified deadline',
    );
  }

  /** The TTL-after-finished controller (pkg/controller/ttlafterfinished): deletes the Job with Background. */
  private maybeExpire(job: KObject): void {
    const ttl = job.spec?.ttlSecondsAfterFinished;
    if (typeof ttl !== 'number' || !isJobFinished(job) || job.metadata.deletionTimestamp) return;
    const uid = job.metadata.uid;
    this.later(ttl * 1000, () => {
      const current = this.get('jobs', job.metadata.namespace, job.metadata.name);
      if (current && current.metadata.uid === uid) this.deleteQuietly('jobs', current, 'Background');
    });
  }

  private afterDeletion(object: KObject): void {
    // Events of a deleted object stay until their own TTL upstream (1 h); here they go with it, so a test
    // that looks for leftovers sees only what a user would have to clean up.
    if (object.kind === 'Event' || !object.metadata.namespace) return;
    for (const event of this.list('events', object.metadata.namespace)) {
      if (event.involvedObject?.uid === object.metadata.uid) this.deleteQuietly('events', event, 'Background');
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Ephemeral containers (the pods/ephemeralcontainers subresource)

  /**
   * Replaces spec.ephemeralContainers with validation from pkg/apis/core/validation (ValidatePodEphemeralContainersUpdate):
   * existing ones may not change or go away; new ones need a unique name and may not set ports, probes,
   * resources or lifecycle.
   */
  setEphemeralContainers(namespace: string, name: string, next: readonly V1EphemeralContainer[]): KObject {
    const pod = this.mustGet('pods', namespace, name);
    const spec = pod.spec as NonNullable<V1Pod['spec']>;
    const existing = spec.ephemeralContainers ?? [];
    const invalid = (field: string, detail: string) =>
      new ApiError(422, 'Invalid', `Pod "${name}" is invalid: ${field}: ${detail}`, { name, kind: 'Pod' });
    for (const old of existing) {
      const same = next.find((c) => c.name === old.name);
      if (!same)
        throw invalid('spec.ephemeralContainers', 'Forbidden: existing ephemeral containers may not be removed');
      if (JSON.stringify(normalizeEphemeral(same)) !== JSON.stringify(normalizeEphemeral(old))) {
        throw invalid(
          'spec.ephemeralContainers',
          `Forbidden: existing ephemeral containers "${old.name}" may not be changed`,
        );
      }
    }
    const names = new Set([...(spec.containers ?? []), ...(spec.initContainers ?? [])].map((c) => c.name));
    for (const [index, container] of next.entries()) {
      const field = `spec.ephemeralContainers[${index}]`;
      if (!container.name) throw invalid(`${field}.name`, 'Required value');
      if (names.has(container.name)) throw invalid(`${field}.name`, `Duplicate value: "${container.name}"`);
      names.add(container.name);
      if (!container.image) throw invalid(`${field}.image`, 'Required value');
      for (const forbidden of ['ports', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle'] as const) {
        if (container[forbidden] !== undefined) {
          throw invalid(`${field}.${forbidden}`, 'Forbidden: cannot be set for an Ephemeral Container');
        }
      }
      if (container.resources && Object.keys(container.resources).length > 0) {
        throw invalid(`${field}.resources`, 'Forbidden: cannot be set for an Ephemeral Container');
      }
      const target = container.targetContainerName;
      if (
        target !== undefined &&
        !(spec.containers ?? []).some((c) => c.name === target) &&
        !(spec.initContainers ?? []).some((c) => c.name === target)
      ) {
        throw invalid(`${field}.targetContainerName`, `Not found: "${target}"`);
      }
    }
    return this.update('pods', namespace, name, (p) => {
      p.spec.ephemeralContainers = next.map((c) => ({
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: c.image?.endsWith(':latest') || !c.image?.includes(':') ? 'Always' : 'IfNotPresent',
        ...c,
      }));
    });
  }
}

/**
 * The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount): a projected kube-api-access volume
 * (token, the cluster CA, the namespace) mounted read-only in every container, unless automount is off. It runs
 * before the mutating webhooks, so the pod-identity-webhook prepends its volume in front of it.
 */
function mountServiceAccountToken(pod: KObject, sa: KObject): void {
  if (pod.spec.automountServiceAccountToken === false) return;
  if (pod.spec.automountServiceAccountToken === undefined && sa.automountServiceAccountToken === false) return;
  const name = `kube-api-access-${randomSuffix()}`;
  pod.spec.volumes = [
    ...(pod.spec.volumes ?? []),
    {
      name,
      projected: {
        defaultMode: 420,
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          {
            downwardAPI: {
              items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
            },
          },
        ],
      },
    },
  ];
  const mount = { name, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true };
  for (const list of ['initContainers', 'containers'] as const) {
    if (!pod.spec[list]) continue;
    pod.spec[list] = pod.spec[list].map((c: V1Container) =>
      (c.volumeMounts ?? []).some((m) => m.mountPath === mount.mountPath)
        ? c
        : { ...c, volumeMounts: [...(c.volumeMounts ?? []), mount] },
    );
  }
}

function normalizeEphemeral(container: V1EphemeralContainer): V1EphemeralContainer {
  const { terminationMessagePath, terminationMessagePolicy, imagePullPolicy, ...rest } = container;
  void terminationMessagePath;
  void terminationMessagePolicy;
  void imagePullPolicy;
  return rest;
}

/** batch/v1 Jobs deleted through the API orphan their pods unless told otherwise (pkg/registry/batch/job/strategy.go). */
function defaultPropagation(resource: string): string {
  return resource === 'jobs' ? 'Orphan' : 'Background';
}

export function isJobFinished(job: KObject): boolean {
  return ((job.status?.conditions ?? []) as { type: string; status: string }[]).some(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
}

function isFinishedPod(pod: KObject): boolean {
  return pod.kind === 'Pod' && (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed');
}

function qosClass(containers: readonly V1Container[]): string {
  const resources = containers.map((c) => c.resources ?? {});
  if (resources.every((r) => !r.requests && !r.limits)) return 'BestEffort';
  const guaranteed = resources.every(
    (r) =>
      r.limits?.cpu &&
      r.limits?.memory &&
      (!r.requests || (r.requests.cpu === r.limits.cpu && r.requests.memory === r.limits.memory)),
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

export function qualified(type: ResourceType): string {
  return type.group ? `${type.resource}.${type.group}` : type.resource;
}

function notFound(resource: string, name: string): ApiError {
  const type = resourceType(resource);
  return new ApiError(404, 'NotFound', `${qualified(type)} "${name}" not found`, {
    name,
    ...(type.group ? { group: type.group } : {}),
    kind: type.resource,
  });
}

/** DNS-1123 subdomain names (events use dots too); pods and jobs are capped at 63 by their labels. */
function validateName(type: ResourceType, name: string): void {
  const ok = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) && name.length <= 253;
  if (!ok) {
    throw new ApiError(
      422,
      'Invalid',
      `${type.kind} "${name}" is invalid: metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    );
  }
  if (type.resource === 'jobs' && name.length > 63) {
    throw new ApiError(
      422,
      'Invalid',
      `Job.batch "${name}" is invalid: spec.template.labels: Invalid value: "${name}": must be no more than 63 characters`,
    );
  }
}
