import { promises as fsp } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { assertNever } from '../run/types';

/*
 * A Kubernetes API server on loopback for tests and the demo: HTTP (or HTTPS with a given certificate) on
 * 127.0.0.1:0, a bearer-token check, the discovery documents kubectl needs (/version, /api, /apis, the group
 * versions), GET and LIST of pods,
 * serviceaccounts, replicasets and mutatingwebhookconfigurations, Table responses for kubectl's default
 * output, and Status objects for 401/403/404 worded like the real API server's. Object shapes follow
 * pods mutated by the EKS webhook (docs/mechanics.md 1.3, 1.4, 1.6).
 */

/** What the simulated API servers answer on /version (kubectl asks for it): an EKS-like 1.31 server. */
export const SIM_VERSION = {
  major: '1',
  minor: '31',
  gitVersion: 'v1.31.4-eks-sim',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.23.4',
  compiler: 'gc',
  platform: 'linux/amd64',
} as const;

export type KubeObject = {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly creationTimestamp?: string;
    readonly [key: string]: unknown;
  };
  readonly [key: string]: unknown;
};

export type KubeResource = 'pods' | 'serviceaccounts' | 'replicasets' | 'mutatingwebhookconfigurations';

export interface KubeApiState {
  readonly objects: readonly KubeObject[];
  /** Resources the caller may not read: every get/list answers 403 Forbidden. */
  readonly forbidden?: readonly KubeResource[];
  /** The identity the API server names in its Forbidden messages. */
  readonly user: string;
  /** The bearer token the kubeconfig carries; another token is 401. */
  readonly token: string;
  /** Namespace written into the kubeconfig context. */
  readonly namespace?: string;
}

export interface KubeApiServer {
  readonly url: string;
  readonly kubeconfigYaml: string;
  /** Writes the kubeconfig to DIR/kubeconfig and returns its path. */
  writeKubeconfig(dir: string): Promise<string>;
  /** "METHOD path" of every request, in order (for tests that assert what the tool asked for). */
  readonly requests: readonly string[];
  /** Adds or replaces an object (by kind, namespace, name) and tells the open watches (a Job finishing). */
  putObject(object: KubeObject): void;
  close(): Promise<void>;
}

interface ResourceInfo {
  readonly resource: string;
  readonly kind: string;
  readonly group: string;
  readonly version: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
}

const RESOURCES: readonly ResourceInfo[] = [
  { resource: 'pods', kind: 'Pod', group: '', version: 'v1', namespaced: true, shortNames: ['po'] },
  {
    resource: 'serviceaccounts',
    kind: 'ServiceAccount',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['sa'],
  },
  { resource: 'replicasets', kind: 'ReplicaSet', group: 'apps', version: 'v1', namespaced: true, shortNames: ['rs'] },
  {
    resource: 'mutatingwebhookconfigurations',
    kind: 'MutatingWebhookConfiguration',
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    namespaced: false,
    shortNames: [],
  },
  // Jobs, for the `kubectl wait` recipe of the README (startJobWatch below serves their watch).
  { resource: 'jobs', kind: 'Job', group: 'batch', version: 'v1', namespaced: true, shortNames: [] },
  // Discovery only (no objects): lets `kubectl create role ... --dry-run=client` check the RBAC remedies.
  ...(['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'] as const).map((kind) => ({
    resource: `${kind.toLowerCase()}s`,
    kind,
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    namespaced: !kind.startsWith('Cluster'),
    shortNames: [],
  })),
];

const GROUPS = ['apps', 'admissionregistration.k8s.io', 'rbac.authorization.k8s.io', 'batch'] as const;

/** Serve HTTPS with this key and self-signed certificate (PEM); the kubeconfig then carries it as the CA. */
export interface KubeApiTls {
  readonly key: string;
  readonly cert: string;
}

export async function startKubeApi(state: KubeApiState, tls?: KubeApiTls): Promise<KubeApiServer> {
  const requests: string[] = [];
  const watches = startJobWatch(state);
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(`${req.method ?? 'GET'} ${url.pathname}`);
    const live = watches.state();
    if (watches.serve(live, req, url, res)) return;
    const reply = answer(live, req, url, serverAddress());
    const body = JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const serverAddress = () => `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = `${tls ? 'https' : 'http'}://${serverAddress()}`;
  const kubeconfigYaml = kubeconfigFor(url, state, tls);
  return {
    url,
    kubeconfigYaml,
    async writeKubeconfig(dir) {
      const file = path.join(dir, 'kubeconfig');
      await fsp.writeFile(file, kubeconfigYaml, { mode: 0o600 });
      return file;
    },
    requests,
    putObject: watches.put,
    close: () =>
      new Promise<void>((resolve) => {
        watches.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * client-node refuses an http:// server unless insecure-skip-tls-verify is set (there is no TLS to verify);
 * kubectl accepts the same file.
 */
function kubeconfigFor(url: string, state: KubeApiState, tls: KubeApiTls | undefined): string {
  const trust = tls
    ? `certificate-authority-data: ${Buffer.from(tls.cert).toString('base64')}`
    : 'insecure-skip-tls-verify: true';
  return `apiVersion: v1
kind: Config
clusters:
  - name: irsa-doctor-sim
    cluster:
      server: ${url}
      ${trust}
users:
  - name: irsa-doctor-sim
    user:
      token: ${state.token}
contexts:
  - name: irsa-doctor-sim
    context:
      cluster: irsa-doctor-sim
      user: irsa-doctor-sim
      namespace: ${state.namespace ?? 'default'}
current-context: irsa-doctor-sim
`;
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
}

function answer(state: KubeApiState, req: http.IncomingMessage, url: URL, address: string): Reply {
  // kubectl (client-go) sends no bearer token to a plain-http server, so a request without credentials is
  // served as the kubeconfig's user; a wrong token is refused as the real API server would.
  if (req.headers.authorization !== undefined && req.headers.authorization !== `Bearer ${state.token}`) {
    return statusReply(401, 'Unauthorized', 'Unauthorized');
  }
  if (req.method !== 'GET') {
    return statusReply(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
  }
  const p = url.pathname.replace(/\/+$/, '') || '/';
  if (p === '/version') {
    return {
      status: 200,
      body: SIM_VERSION,
    };
  }
  if (p === '/api') {
    return {
      status: 200,
      body: {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: address }],
      },
    };
  }
  if (p === '/apis') {
    return { status: 200, body: { kind: 'APIGroupList', apiVersion: 'v1', groups: GROUPS.map(apiGroup) } };
  }
  for (const group of GROUPS) {
    if (p === `/apis/${group}`)
      return { status: 200, body: { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group) } };
  }
  if (p === '/api/v1') return { status: 200, body: resourceList('', 'v1') };
  for (const group of GROUPS) {
    if (p === `/apis/${group}/v1`) return { status: 200, body: resourceList(group, 'v1') };
  }

  // kubectl looks the namespace up after a 404 to word its error (`pods "x" not found`).
  const namespaceMatch = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(p);
  if (namespaceMatch?.[1] !== undefined) {
    const namespace = namespaceMatch[1];
    if (!state.objects.some((o) => o.metadata.namespace === namespace)) {
      return statusReply(404, 'NotFound', `namespaces "${namespace}" not found`, {
        name: namespace,
        kind: 'namespaces',
      });
    }
    return {
      status: 200,
      body: {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: namespace, labels: { 'kubernetes.io/metadata.name': namespace } },
        spec: { finalizers: ['kubernetes'] },
        status: { phase: 'Active' },
      },
    };
  }
  const route = matchResource(p);
  if (!route) return statusReply(404, 'NotFound', 'the server could not find the requested resource');
  const { info, namespace, name } = route;
  const groupWords = `API group "${info.group}"`;
  const scopeWords = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
  const qualified = info.group ? `${info.resource}.${info.group}` : info.resource;
  if (state.forbidden?.includes(info.resource as KubeResource)) {
    const verb = name ? 'get' : 'list';
    const subject = name ? `${qualified} "${name}"` : qualified;
    return statusReply(
      403,
      'Forbidden',
      `${subject} is forbidden: User "${state.user}" cannot ${verb} resource "${info.resource}" in ${groupWords} ${scopeWords}`,
      { ...(name ? { name } : {}), ...(info.group ? { group: info.group } : {}), kind: info.resource },
    );
  }
  const matching = state.objects.filter(
    (o) => o.kind === info.kind && (!info.namespaced || namespace === undefined || o.metadata.namespace === namespace),
  );
  if (name === undefined) {
    if (wantsTable(req)) return { status: 200, body: table(matching) };
    return {
      status: 200,
      body: {
        kind: `${info.kind}List`,
        apiVersion: info.group ? `${info.group}/${info.version}` : info.version,
        metadata: { resourceVersion: '424242' },
        items: matching,
      },
    };
  }
  const found = matching.find((o) => o.metadata.name === name);
  if (!found) {
    return statusReply(404, 'NotFound', `${qualified} "${name}" not found`, {
      name,
      ...(info.group ? { group: info.group } : {}),
      kind: info.resource,
    });
  }
  if (wantsTable(req)) return { status: 200, body: table([found]) };
  return { status: 200, body: found };
}

function matchResource(p: string): { info: ResourceInfo; namespace?: string; name?: string } | undefined {
  for (const info of RESOURCES) {
    const base = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
    if (info.namespaced) {
      const m = new RegExp(`^${escape(base)}(?:/namespaces/([^/]+))?/${info.resource}(?:/([^/]+))?$`).exec(p);
      if (m) return { info, namespace: m[1], name: m[2] };
    } else {
      const m = new RegExp(`^${escape(base)}/${info.resource}(?:/([^/]+))?$`).exec(p);
      if (m) return { info, name: m[1] };
    }
  }
  return undefined;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function apiGroup(group: string) {
  const groupVersion = `${group}/v1`;
  return {
    name: group,
    versions: [{ groupVersion, version: 'v1' }],
    preferredVersion: { groupVersion, version: 'v1' },
  };
}

function resourceList(group: string, version: string) {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: RESOURCES.filter((r) => r.group === group).map((r) => ({
      name: r.resource,
      singularName: r.kind.toLowerCase(),
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: ['get', 'list'],
      ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
    })),
  };
}

/** kubectl's default output asks for a server-side Table (`Accept: ...;as=Table;...`). */
function wantsTable(req: http.IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('as=Table');
}

function table(objects: readonly KubeObject[]) {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: '424242' },
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name of the object', priority: 0 },
      { name: 'Created At', type: 'date', format: '', description: 'Creation timestamp', priority: 0 },
    ],
    rows: objects.map((o) => ({
      cells: [o.metadata.name, o.metadata.creationTimestamp ?? ''],
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}

function statusReply(code: number, reason: string, message: string, details?: Record<string, string>): Reply {
  return {
    status: code,
    body: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      ...(details ? { details } : {}),
      code,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Watches and changing objects, for `kubectl wait` (the README's Job recipe, test/e2e/job-wait.test.ts).
// kubectl wait lists the object (fieldSelector metadata.name=NAME), checks the condition on it, and if it is
// not met yet watches from the list's resourceVersion until an event meets it or --timeout passes.

interface JobWatch {
  /** The objects as they are now, with resourceVersions. */
  state(): KubeApiState;
  /** Answers a list with a fieldSelector or a watch; false for every other request. */
  serve(state: KubeApiState, req: http.IncomingMessage, url: URL, res: http.ServerResponse): boolean;
  put(object: KubeObject): void;
  close(): void;
}

interface Watcher {
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly res: http.ServerResponse;
}

function startJobWatch(given: KubeApiState): JobWatch {
  let version = 1;
  const stamp = (o: KubeObject): KubeObject => ({
    ...o,
    metadata: { ...o.metadata, resourceVersion: String(version) },
  });
  let objects: KubeObject[] = given.objects.map(stamp);
  const watchers = new Set<Watcher>();
  const matches = (w: Pick<Watcher, 'kind' | 'namespace' | 'name'>, o: KubeObject) =>
    o.kind === w.kind &&
    (w.namespace === undefined || o.metadata.namespace === w.namespace) &&
    (w.name === undefined || o.metadata.name === w.name);
  const send = (w: Watcher, type: 'ADDED' | 'MODIFIED', object: KubeObject) =>
    w.res.write(`${JSON.stringify({ type, object })}\n`);
  return {
    state: () => ({ ...given, objects }),
    serve(state, req, url, res) {
      const route = matchResource(url.pathname.replace(/\/+$/, ''));
      const watching = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
      const selector = /^metadata\.name=(.+)$/.exec(url.searchParams.get('fieldSelector') ?? '');
      if (!route || route.name !== undefined || (!watching && !selector) || req.method !== 'GET') return false;
      if (req.headers.authorization !== undefined && req.headers.authorization !== `Bearer ${state.token}`)
        return false;
      if (state.forbidden?.includes(route.info.resource as KubeResource)) return false;
      const want = { kind: route.info.kind, namespace: route.namespace, name: selector?.[1] };
      const apiVersion = route.info.group ? `${route.info.group}/${route.info.version}` : route.info.version;
      if (!watching) {
        const body = JSON.stringify({
          kind: `${route.info.kind}List`,
          apiVersion,
          metadata: { resourceVersion: String(version) },
          items: objects.filter((o) => matches(want, o)),
        });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return true;
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      // A watch may send nothing for a long time: the client must see the answer start now.
      res.flushHeaders();
      const watcher: Watcher = { ...want, res };
      watchers.add(watcher);
      const since = Number(url.searchParams.get('resourceVersion') ?? '0') || 0;
      for (const o of objects.filter((o) => matches(want, o) && Number(o.metadata.resourceVersion) > since)) {
        send(watcher, since === 0 ? 'ADDED' : 'MODIFIED', o);
      }
      const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '0');
      const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
      res.on('close', () => {
        clearTimeout(timer);
        watchers.delete(watcher);
      });
      return true;
    },
    put(object) {
      version += 1;
      const stamped = stamp(object);
      const same = (o: KubeObject) =>
        o.kind === object.kind &&
        o.metadata.name === object.metadata.name &&
        o.metadata.namespace === object.metadata.namespace;
      const existed = objects.some(same);
      objects = [...objects.filter((o) => !same(o)), stamped];
      for (const w of watchers) if (matches(w, stamped)) send(w, existed ? 'MODIFIED' : 'ADDED', stamped);
    },
    close() {
      for (const w of watchers) w.res.end();
      watchers.clear();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Scenario builders: one small EKS workload (namespace shop, Deployment checkout, ServiceAccount checkout).

export type KubeScenarioName =
  | 'healthy'
  | 'annotation-missing'
  | 'annotation-changed'
  | 'sidecar-not-injected'
  | 'ephemeral-container'
  | 'rbac-forbidden'
  | 'webhook-absent'
  | 'both-mechanisms';

export const KUBE_SCENARIOS: readonly KubeScenarioName[] = [
  'healthy',
  'annotation-missing',
  'annotation-changed',
  'sidecar-not-injected',
  'ephemeral-container',
  'rbac-forbidden',
  'webhook-absent',
  'both-mechanisms',
];

export interface KubeWorld {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly deployment: string;
  readonly replicaSet: string;
  readonly podName: string;
  readonly roleArn: string;
  readonly region: string;
  /** The ServiceAccount's eks.amazonaws.com/audience, which the webhook also gives the token volume. */
  readonly audience?: string;
  /** The role-arn annotation when it is a role name (the webhook composed `roleArn` from it). */
  readonly roleArnAnnotation?: string;
}

export const DEFAULT_WORLD: KubeWorld = {
  namespace: 'shop',
  serviceAccount: 'checkout',
  deployment: 'checkout',
  replicaSet: 'checkout-7d9f8b6c5d',
  podName: 'checkout-7d9f8b6c5d-x2x9q',
  roleArn: 'arn:aws:iam::111122223333:role/checkout-s3',
  region: 'eu-west-1',
};

export interface KubeScenario {
  readonly name: KubeScenarioName;
  readonly description: string;
  readonly world: KubeWorld;
  readonly state: KubeApiState;
  /** The AWS variables of the process being diagnosed (the container irsa-doctor runs in). */
  readonly processEnv: Readonly<Record<string, string>>;
}

export const IRSA_TOKEN_FILE = '/var/run/secrets/eks.amazonaws.com/serviceaccount/token';
const IRSA_MOUNT_PATH = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
const PI_MOUNT_PATH = '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount';
export const POD_IDENTITY_TOKEN_FILE = `${PI_MOUNT_PATH}/eks-pod-identity-token`;
const CREATED = '2026-11-20T09:15:02Z';

type EnvVar = { name: string; value?: string; valueFrom?: unknown };
type Container = {
  name: string;
  image: string;
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  restartPolicy?: string;
  targetContainerName?: string;
  [key: string]: unknown;
};

/** The webhook's IRSA injection as EKS does it: variables appended in this order, then the mount (1.3, 1.4). */
export function injectIrsa(container: Container, roleArn: string, region: string): Container {
  return {
    ...container,
    env: [
      ...(container.env ?? []),
      { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
      { name: 'AWS_DEFAULT_REGION', value: region },
      { name: 'AWS_REGION', value: region },
      { name: 'AWS_ROLE_ARN', value: roleArn },
      { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: IRSA_TOKEN_FILE },
    ],
    volumeMounts: [
      ...(container.volumeMounts ?? []),
      { name: 'aws-iam-token', mountPath: IRSA_MOUNT_PATH, readOnly: true },
    ],
  };
}

export function injectPodIdentity(container: Container, region: string): Container {
  return {
    ...container,
    env: [
      ...(container.env ?? []),
      { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
      { name: 'AWS_DEFAULT_REGION', value: region },
      { name: 'AWS_REGION', value: region },
      { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' },
      { name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', value: POD_IDENTITY_TOKEN_FILE },
    ],
    volumeMounts: [
      ...(container.volumeMounts ?? []),
      { name: 'eks-pod-identity-token', mountPath: PI_MOUNT_PATH, readOnly: true },
    ],
  };
}

function tokenVolume(mechanism: 'irsa' | 'pod-identity', audience = 'sts.amazonaws.com') {
  return mechanism === 'irsa'
    ? {
        name: 'aws-iam-token',
        projected: {
          defaultMode: 420,
          sources: [{ serviceAccountToken: { audience, expirationSeconds: 86400, path: 'token' } }],
        },
      }
    : {
        name: 'eks-pod-identity-token',
        projected: {
          defaultMode: 420,
          sources: [
            {
              serviceAccountToken: {
                audience: 'pods.eks.amazonaws.com',
                expirationSeconds: 83127,
                path: 'eks-pod-identity-token',
              },
            },
          ],
        },
      };
}

const KUBE_API_ACCESS = {
  name: 'kube-api-access-7xk2p',
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
};

function appContainer(): Container {
  return {
    name: 'app',
    image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/checkout:1.8.2',
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
      { name: 'BUCKET', value: 'shop-orders' },
    ],
    ports: [{ containerPort: 8080, name: 'http', protocol: 'TCP' }],
    resources: { requests: { cpu: '100m', memory: '128Mi' } },
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
    volumeMounts: [
      { name: 'kube-api-access-7xk2p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    ],
  };
}

function logShipper(): Container {
  return {
    name: 'log-shipper',
    image: 'public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4',
    restartPolicy: 'Always',
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
    volumeMounts: [
      { name: 'kube-api-access-7xk2p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    ],
  };
}

interface PodParts {
  containers: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  tokenVolume?: 'irsa' | 'pod-identity';
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

function pod(world: KubeWorld, parts: PodParts): KubeObject {
  const hash = world.replicaSet.slice(world.deployment.length + 1);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: world.podName,
      generateName: `${world.replicaSet}-`,
      namespace: world.namespace,
      uid: '5b0f3a52-7f6e-4c1d-9a57-3f1f7c2b8e11',
      resourceVersion: '1893021',
      creationTimestamp: CREATED,
      labels: { app: world.deployment, 'pod-template-hash': hash, ...parts.labels },
      ...(parts.annotations ? { annotations: parts.annotations } : {}),
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: world.replicaSet,
          uid: '0c6f5a4e-2d1b-4f3a-8e7d-6c5b4a392817',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      // The webhook prepends its volume (docs/mechanics.md 1.3).
      volumes: [...(parts.tokenVolume ? [tokenVolume(parts.tokenVolume, world.audience)] : []), KUBE_API_ACCESS],
      ...(parts.initContainers ? { initContainers: parts.initContainers } : {}),
      containers: parts.containers,
      ...(parts.ephemeralContainers ? { ephemeralContainers: parts.ephemeralContainers } : {}),
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: world.serviceAccount,
      serviceAccount: world.serviceAccount,
      nodeName: 'ip-10-0-12-34.eu-west-1.compute.internal',
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {
      phase: 'Running',
      hostIP: '10.0.12.34',
      podIP: '10.0.12.201',
      startTime: CREATED,
      qosClass: 'Burstable',
    },
  };
}

function serviceAccount(world: KubeWorld, annotations: Record<string, string> | undefined): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: world.serviceAccount,
      namespace: world.namespace,
      uid: '9d2e7c41-0b8a-4e55-a1f3-6a7b8c9d0e1f',
      resourceVersion: '1760042',
      creationTimestamp: '2026-10-02T12:00:00Z',
      ...(annotations ? { annotations } : {}),
    },
  };
}

function replicaSet(world: KubeWorld): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: world.replicaSet,
      namespace: world.namespace,
      uid: '0c6f5a4e-2d1b-4f3a-8e7d-6c5b4a392817',
      creationTimestamp: CREATED,
      labels: { app: world.deployment },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: world.deployment,
          uid: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { replicas: 1, selector: { matchLabels: { app: world.deployment } } },
  };
}

/** The managed configuration on EKS (docs/mechanics.md 1.6). */
export function eksWebhookConfiguration(): KubeObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {
      name: 'pod-identity-webhook',
      uid: 'e3c1d2b4-5a6f-4b7c-8d9e-0f1a2b3c4d5e',
      resourceVersion: '311',
      generation: 1,
      creationTimestamp: '2026-09-01T08:00:00Z',
    },
    webhooks: [
      {
        name: 'iam-for-pods.amazonaws.com',
        admissionReviewVersions: ['v1beta1'],
        clientConfig: {
          url: 'https://127.0.0.1:23443/mutate',
          caBundle: Buffer.from('-----BEGIN CERTIFICATE-----\nsimulated\n-----END CERTIFICATE-----\n').toString(
            'base64',
          ),
        },
        failurePolicy: 'Ignore',
        matchPolicy: 'Equivalent',
        namespaceSelector: {},
        objectSelector: {
          matchExpressions: [{ key: 'eks.amazonaws.com/skip-pod-identity-webhook', operator: 'DoesNotExist' }],
        },
        reinvocationPolicy: 'IfNeeded',
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: '*' }],
        sideEffects: 'None',
        timeoutSeconds: 10,
      },
    ],
  };
}

function irsaEnv(roleArn: string, region: string): Record<string, string> {
  return {
    AWS_STS_REGIONAL_ENDPOINTS: 'regional',
    AWS_DEFAULT_REGION: region,
    AWS_REGION: region,
    AWS_ROLE_ARN: roleArn,
    AWS_WEB_IDENTITY_TOKEN_FILE: IRSA_TOKEN_FILE,
  };
}

export function kubeScenario(name: KubeScenarioName, world: KubeWorld = DEFAULT_WORLD): KubeScenario {
  const { roleArn, region } = world;
  const annotated = {
    'eks.amazonaws.com/role-arn': world.roleArnAnnotation ?? roleArn,
    ...(world.audience ? { 'eks.amazonaws.com/audience': world.audience } : {}),
  };
  const base = {
    user: `system:serviceaccount:${world.namespace}:${world.serviceAccount}`,
    token: 'sim-token-not-a-secret',
    namespace: world.namespace,
  };
  const world3 = (objects: KubeObject[], extra: Partial<KubeApiState> = {}): KubeApiState => ({
    ...base,
    objects: [...objects, replicaSet(world)],
    ...extra,
  });
  const mutatedPod = (extra: Partial<PodParts> = {}) =>
    pod(world, { containers: [injectIrsa(appContainer(), roleArn, region)], tokenVolume: 'irsa', ...extra });
  const webhook = eksWebhookConfiguration();
  const make = (description: string, state: KubeApiState, processEnv: Record<string, string>): KubeScenario => ({
    name,
    description,
    world,
    state,
    processEnv,
  });

  switch (name) {
    case 'healthy':
      return make(
        'mutated pod, annotated ServiceAccount, webhook present',
        world3([mutatedPod(), serviceAccount(world, annotated), webhook]),
        irsaEnv(roleArn, region),
      );
    case 'annotation-missing':
      return make(
        'the ServiceAccount has no role-arn annotation, so the pod was not mutated',
        world3([pod(world, { containers: [appContainer()] }), serviceAccount(world, undefined), webhook]),
        {},
      );
    case 'annotation-changed': {
      const oldRole = roleArn.replace(/role\/.*$/, 'role/checkout-s3-old');
      return make(
        'the annotation was changed to another role after the pod was created',
        world3([
          pod(world, { containers: [injectIrsa(appContainer(), oldRole, region)], tokenVolume: 'irsa' }),
          serviceAccount(world, annotated),
          webhook,
        ]),
        irsaEnv(oldRole, region),
      );
    }
    case 'sidecar-not-injected':
      return make(
        'the native sidecar log-shipper is listed in eks.amazonaws.com/skip-containers',
        world3([
          mutatedPod({
            initContainers: [logShipper()],
            annotations: { 'eks.amazonaws.com/skip-containers': 'log-shipper' },
          }),
          serviceAccount(world, annotated),
          webhook,
        ]),
        irsaEnv(roleArn, region),
      );
    case 'ephemeral-container':
      return make(
        'irsa-doctor runs in a kubectl debug container (no --target), which the webhook never mutates',
        world3([
          mutatedPod({
            ephemeralContainers: [
              {
                name: 'debugger-h7x2k',
                image: 'ghcr.io/example/irsa-doctor:0.1.0',
                stdin: true,
                tty: true,
                terminationMessagePath: '/dev/termination-log',
                terminationMessagePolicy: 'File',
                imagePullPolicy: 'IfNotPresent',
              },
            ],
          }),
          serviceAccount(world, annotated),
          webhook,
        ]),
        {},
      );
    case 'rbac-forbidden':
      return make(
        "the pod's ServiceAccount may not read anything through the API",
        world3([mutatedPod(), serviceAccount(world, annotated), webhook], {
          forbidden: ['pods', 'serviceaccounts', 'replicasets', 'mutatingwebhookconfigurations'],
        }),
        irsaEnv(roleArn, region),
      );
    case 'webhook-absent':
      return make(
        'the pod-identity-webhook configuration was deleted: the annotated ServiceAccount no longer gets pods mutated',
        world3([pod(world, { containers: [appContainer()] }), serviceAccount(world, annotated)]),
        {},
      );
    case 'both-mechanisms':
      return make(
        'the ServiceAccount keeps its IRSA annotation and has a Pod Identity association: the pod got Pod Identity',
        world3([
          pod(world, {
            containers: [injectPodIdentity(appContainer(), region)],
            tokenVolume: 'pod-identity',
            labels: { 'eks.amazonaws.com/pod-identity': 'enabled' },
          }),
          serviceAccount(world, annotated),
          webhook,
        ]),
        {
          AWS_STS_REGIONAL_ENDPOINTS: 'regional',
          AWS_DEFAULT_REGION: region,
          AWS_REGION: region,
          AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials',
          AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: POD_IDENTITY_TOKEN_FILE,
        },
      );
    default:
      return assertNever(name);
  }
}
