import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { V1EphemeralContainer } from '@kubernetes/client-node';
import type { Change, KObject, ResourceType } from './cluster';
import { ApiError, RESOURCE_TYPES, SimCluster, apiVersionOf, qualified } from './cluster';
import { SIM_VERSION } from './kube-api';
import { SIM_TLS } from './tls';

/*
 * The HTTPS API server of a simulated cluster (cluster.ts holds the state): bearer-token authentication, RBAC
 * from the Role/RoleBinding/ClusterRole/ClusterRoleBinding objects it stores, discovery, get/list/watch/create/
 * update/patch/delete of every resource in RESOURCE_TYPES, the pods/log (with follow) and
 * pods/ephemeralcontainers subresources, SelfSubjectAccessReview, and server-side Tables for kubectl's default
 * output. Status messages are worded as the real API server words them, because the launchers and kubectl show
 * them to users. Everything the real kubectl needs for `debug`, `logs`, `get`, `create`, `delete` and `auth
 * can-i` is served (test/sim/cluster-kubectl.test.ts runs them).
 */

export interface ClusterUser {
  readonly name: string;
  readonly groups?: readonly string[];
}

/** What serves pods/log: the kubelet. */
export interface LogProvider {
  /**
   * The container's output so far, and with `follow` the rest as it comes, ending when the container ends.
   * Throws an ApiError (400) when the container has not started, as the kubelet does.
   */
  open(pod: KObject, container: string, options: LogOptions, signal: AbortSignal): AsyncIterable<Buffer>;
}

export interface LogOptions {
  readonly follow: boolean;
  readonly limitBytes?: number;
  readonly tailLines?: number;
  readonly previous: boolean;
}

export interface ClusterApiServer {
  readonly url: string;
  readonly cluster: SimCluster;
  /** "METHOD path?query" of every request, in order. */
  readonly requests: readonly string[];
  /** The same requests with who made them (the user, or the ServiceAccount of a pod); unauthenticated ones have no user. */
  readonly requestsBy: readonly { readonly user: string | undefined; readonly request: string }[];
  /** A kubeconfig for this user: this server, its certificate as the only CA, the user's token. */
  kubeconfig(token: string, options?: { namespace?: string; context?: string }): string;
  /** Accept `token` as `user` (the kubelet registers the ServiceAccount tokens it projects). */
  addUser(token: string, user: ClusterUser): void;
  setLogProvider(provider: LogProvider): void;
  /** Open watch and log streams right now. */
  openStreams(): number;
  close(): Promise<void>;
}

export interface ClusterApiOptions {
  /** token -> user */
  readonly users: Readonly<Record<string, ClusterUser>>;
  /** Answer every request with this status instead (a broken or overloaded API server). */
  readonly failAll?: { readonly status: number; readonly message: string };
  /**
   * API Priority and Fairness stand-in: every `every`-th request of `user` is answered 429 Too Many Requests
   * with Retry-After (k8s.io/apiserver/pkg/util/flowcontrol: "the server has received too many requests").
   */
  readonly throttle?: { readonly user: string; readonly every: number; readonly retryAfterSeconds: number };
}

const AUTHENTICATED = 'system:authenticated';

export async function startClusterApi(cluster: SimCluster, options: ClusterApiOptions): Promise<ClusterApiServer> {
  const users = new Map<string, ClusterUser>(Object.entries(options.users));
  const requests: string[] = [];
  const requestsBy: { user: string | undefined; request: string }[] = [];
  const streams = new Set<http.ServerResponse>();
  let logs: LogProvider | undefined;
  let throttled = 0;

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    requests.push(`${req.method ?? 'GET'} ${url.pathname}${url.search}`);
    readBody(req)
      .then((body) => serve(req, res, url, body))
      .catch((error: unknown) => {
        const failure =
          error instanceof ApiError
            ? error
            : new ApiError(
                500,
                'InternalError',
                `simulated API server: ${error instanceof Error ? error.message : String(error)}`,
              );
        if (!res.headersSent) sendJson(res, failure.code, failure.status());
        else res.end();
      });
  };

  const serve = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: string) => {
    if (options.failAll) throw new ApiError(options.failAll.status, 'InternalError', options.failAll.message);
    const user = authenticate(req, users);
    requestsBy.push({ user: user.name, request: `${req.method ?? 'GET'} ${url.pathname}${url.search}` });
    const throttle = options.throttle;
    if (throttle && user.name === throttle.user) {
      throttled += 1;
      if (throttled % throttle.every === 0) {
        res.setHeader('Retry-After', String(throttle.retryAfterSeconds));
        throw new ApiError(
          429,
          'TooManyRequests',
          'the server has received too many requests and has asked us to try again later',
        );
      }
    }
    const p = url.pathname.replace(/\/+$/, '') || '/';
    const discovery = discoveryReply(p, serverAddress());
    if (discovery) return sendJson(res, 200, discovery);
    if (p.startsWith('/openapi') || p === '/healthz' || p === '/livez' || p === '/readyz') {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const route = parseRoute(p);
    if (!route) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const method = req.method ?? 'GET';
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb = verbOf(method, route, watch);
    if (route.type.resource === 'selfsubjectreviews') {
      if (method !== 'POST') throw methodNotAllowed();
      return sendJson(res, 201, {
        kind: 'SelfSubjectReview',
        apiVersion: 'authentication.k8s.io/v1',
        metadata: { creationTimestamp: null },
        status: { userInfo: { username: user.name, groups: [...(user.groups ?? []), AUTHENTICATED] } },
      });
    }
    if (route.type.resource === 'selfsubjectaccessreviews') {
      if (method !== 'POST') throw methodNotAllowed();
      return sendJson(res, 201, selfSubjectAccessReview(cluster, user, parseJson(body)));
    }
    if (route.subresource === 'ephemeralcontainers' && cluster.options.ephemeralContainersDisabled) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    authorize(cluster, user, verb, route);

    const { type, namespace, name, subresource } = route;
    if (method === 'GET' && name === undefined) {
      if (watch) return streamWatch(req, res, url, route);
      const items = filterObjects(cluster.list(type.resource, namespace), url);
      if (wantsTable(req)) return sendJson(res, 200, table(items, cluster.resourceVersion));
      return sendJson(res, 200, {
        kind: `${type.kind}List`,
        apiVersion: apiVersionOf(type),
        metadata: { resourceVersion: String(cluster.resourceVersion) },
        items,
      });
    }
    if (method === 'GET' && name !== undefined && subresource === 'log') return streamLog(req, res, url, route);
    if (method === 'GET' && name !== undefined) {
      const object = cluster.mustGet(type.resource, namespace, name);
      if (wantsTable(req) && subresource === undefined)
        return sendJson(res, 200, table([object], cluster.resourceVersion));
      return sendJson(res, 200, object);
    }
    if (method === 'POST' && name === undefined) {
      const created = cluster.create(type.resource, parseJson(body) as KObject, namespace);
      return sendJson(res, 201, created);
    }
    if ((method === 'PATCH' || method === 'PUT') && name !== undefined) {
      const current = cluster.mustGet(type.resource, namespace, name);
      const next =
        method === 'PUT'
          ? (parseJson(body) as KObject)
          : applyPatch(current, parseJson(body), req.headers['content-type'] ?? '');
      if (subresource === 'ephemeralcontainers') {
        const containers = ((next.spec?.ephemeralContainers ?? []) as V1EphemeralContainer[]).filter(Boolean);
        return sendJson(res, 200, cluster.setEphemeralContainers(namespace as string, name, containers));
      }
      if (subresource !== undefined && subresource !== 'status') throw methodNotAllowed();
      next.metadata = { ...current.metadata, ...next.metadata, name, uid: current.metadata.uid };
      if (subresource === 'status') next.spec = current.spec;
      return sendJson(res, 200, cluster.replace(type.resource, next));
    }
    if (method === 'DELETE' && name !== undefined) {
      const deleteOptions = (body.trim() ? parseJson(body) : {}) as {
        propagationPolicy?: string;
        gracePeriodSeconds?: number;
      };
      const policy = url.searchParams.get('propagationPolicy') ?? deleteOptions.propagationPolicy;
      const grace = url.searchParams.get('gracePeriodSeconds') ?? deleteOptions.gracePeriodSeconds;
      const result = cluster.delete(type.resource, namespace, name, {
        ...(policy ? { propagationPolicy: policy } : {}),
        ...(grace !== undefined && grace !== null ? { gracePeriodSeconds: Number(grace) } : {}),
      });
      // The real server answers 200 with the object when it is gone, 202 while finalizers or the kubelet hold it.
      return sendJson(res, result.metadata.deletionTimestamp ? 202 : 200, result);
    }
    throw methodNotAllowed();
  };

  /** A watch: the events after resourceVersion (or synthetic ADDED for what exists), then live changes. */
  const streamWatch = (req: http.IncomingMessage, res: http.ServerResponse, url: URL, route: Route) => {
    const from = url.searchParams.get('resourceVersion');
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 1800);
    const matches = (object: KObject) =>
      (route.namespace === undefined || object.metadata.namespace === route.namespace) &&
      filterObjects([object], url).length === 1;
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-cache',
    });
    streams.add(res);
    const send = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
    const onChange = (change: Change) => {
      if (change.resource === route.type.resource && matches(change.object)) send(change.type, change.object);
    };
    if (from && from !== '0') {
      const rv = Number(from);
      if (!Number.isFinite(rv) || rv < cluster.oldestResumable - 1) {
        send(
          'ERROR',
          new ApiError(410, 'Expired', `too old resource version: ${from} (${cluster.oldestResumable})`).status(),
        );
        res.end();
        streams.delete(res);
        return;
      }
      for (const change of cluster.changesSince(rv)) onChange(change);
    } else {
      for (const object of cluster.list(route.type.resource, route.namespace))
        if (matches(object)) send('ADDED', object);
    }
    const unsubscribe = cluster.on(onChange);
    const timer = setTimeout(() => res.end(), Math.max(1, timeout) * 1000);
    timer.unref?.();
    const stop = () => {
      unsubscribe();
      clearTimeout(timer);
      streams.delete(res);
    };
    res.on('close', stop);
    req.on('close', stop);
  };

  const streamLog = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL, route: Route) => {
    const pod = cluster.mustGet('pods', route.namespace, route.name as string);
    const all = [
      ...(pod.spec?.initContainers ?? []),
      ...(pod.spec?.containers ?? []),
      ...(pod.spec?.ephemeralContainers ?? []),
    ] as { name: string }[];
    let container = url.searchParams.get('container') ?? undefined;
    if (container === undefined) {
      const regular = (pod.spec?.containers ?? []) as { name: string }[];
      if (regular.length !== 1) {
        throw new ApiError(
          400,
          'BadRequest',
          `a container name must be specified for pod ${pod.metadata.name}, choose one of: [${regular.map((c) => c.name).join(' ')}]`,
        );
      }
      container = regular[0]?.name as string;
    }
    if (!all.some((c) => c.name === container)) {
      throw new ApiError(400, 'BadRequest', `container ${container} is not valid for pod ${pod.metadata.name}`);
    }
    if (!logs)
      throw new ApiError(
        400,
        'BadRequest',
        `container "${container}" in pod "${pod.metadata.name}" is waiting to start: ContainerCreating`,
      );
    const abort = new AbortController();
    const chunks = logs.open(
      pod,
      container,
      {
        follow: url.searchParams.get('follow') === 'true',
        previous: url.searchParams.get('previous') === 'true',
        ...(url.searchParams.has('limitBytes') ? { limitBytes: Number(url.searchParams.get('limitBytes')) } : {}),
        ...(url.searchParams.has('tailLines') ? { tailLines: Number(url.searchParams.get('tailLines')) } : {}),
      },
      abort.signal,
    );
    const iterator = chunks[Symbol.asyncIterator]();
    // The first chunk decides between an error Status and a 200 stream, as the kubelet's answer does.
    const first = await iterator.next();
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    streams.add(res);
    const closed = () => {
      abort.abort();
      streams.delete(res);
    };
    res.on('close', closed);
    req.on('close', closed);
    try {
      if (!first.done) res.write(first.value);
      for (let next = first; !next.done;) {
        next = await iterator.next();
        if (!next.done) res.write(next.value);
      }
    } finally {
      streams.delete(res);
      res.end();
    }
  };

  const server = https.createServer({ key: SIM_TLS.key, cert: SIM_TLS.cert }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const serverAddress = () => `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = `https://${serverAddress()}`;
  return {
    url,
    cluster,
    requests,
    requestsBy,
    kubeconfig: (token, { namespace = 'default', context = 'irsa-doctor-sim' } = {}) =>
      kubeconfigYaml(url, token, namespace, context),
    addUser: (token, user) => users.set(token, user),
    setLogProvider: (provider) => {
      logs = provider;
    },
    openStreams: () => streams.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of streams) res.end();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function kubeconfigYaml(url: string, token: string, namespace: string, context: string): string {
  return `apiVersion: v1
kind: Config
clusters:
  - name: ${context}
    cluster:
      server: ${url}
      certificate-authority-data: ${Buffer.from(SIM_TLS.cert).toString('base64')}
users:
  - name: ${context}
    user:
      token: ${token}
contexts:
  - name: ${context}
    context:
      cluster: ${context}
      user: ${context}
      namespace: ${namespace}
current-context: ${context}
`;
}

// ---------------------------------------------------------------------------------------------------------
// Requests

interface Route {
  readonly type: ResourceType;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

function parseRoute(p: string): Route | undefined {
  const core = /^\/api\/v1\/(.+)$/.exec(p);
  const grouped = /^\/apis\/([^/]+)\/([^/]+)\/(.+)$/.exec(p);
  const group = core ? '' : grouped?.[1];
  const version = core ? 'v1' : grouped?.[2];
  const rest = core?.[1] ?? grouped?.[3];
  if (rest === undefined || group === undefined) return undefined;
  const parts = rest.split('/').map(decodeURIComponent);
  let namespace: string | undefined;
  if (parts[0] === 'namespaces' && parts.length >= 3) {
    namespace = parts[1];
    parts.splice(0, 2);
  }
  const [resource, name, subresource, ...extra] = parts;
  if (extra.length > 0) return undefined;
  const type = RESOURCE_TYPES.find((r) => r.resource === resource && r.group === group && r.version === version);
  if (!type) return undefined;
  if (namespace !== undefined && !type.namespaced) return undefined;
  if (subresource !== undefined && !(type.subresources ?? []).some((s) => s.name === subresource)) return undefined;
  return {
    type,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
  };
}

function verbOf(method: string, route: Route, watch: boolean): string {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : route.name === undefined ? 'list' : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name === undefined ? 'deletecollection' : 'delete';
    default:
      throw methodNotAllowed();
  }
}

function methodNotAllowed(): ApiError {
  return new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

function authenticate(req: http.IncomingMessage, users: ReadonlyMap<string, ClusterUser>): ClusterUser {
  const header = req.headers.authorization ?? '';
  const token = /^Bearer (.+)$/.exec(header)?.[1];
  const user = token ? users.get(token) : undefined;
  if (!user) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
  return user;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 3 * 1024 * 1024) {
        reject(new ApiError(413, 'RequestEntityTooLarge', 'the request is too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new ApiError(
      400,
      'BadRequest',
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`,
    );
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function wantsTable(req: http.IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('as=Table');
}

function table(objects: readonly KObject[], resourceVersion: number) {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: String(resourceVersion) },
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

// ---------------------------------------------------------------------------------------------------------
// Selectors (k8s.io/apimachinery/pkg/labels and pkg/fields): equality, inequality, existence and set forms.

export function matchesLabelSelector(labels: Readonly<Record<string, string>>, selector: string): boolean {
  for (const requirement of splitSelector(selector)) {
    const set = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(requirement);
    if (set) {
      const values = (set[3] ?? '').split(',').map((v) => v.trim());
      const has = (set[1] as string) in labels && values.includes(labels[set[1] as string] as string);
      if (set[2] === 'in' ? !has : has) return false;
      continue;
    }
    const op = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(requirement);
    if (op) {
      const value = labels[op[1] as string];
      if (op[2] === '!=' ? value === op[3] : value !== op[3]) return false;
      continue;
    }
    if (requirement.startsWith('!')) {
      if (requirement.slice(1) in labels) return false;
    } else if (!(requirement in labels)) return false;
  }
  return true;
}

function splitSelector(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

export function matchesFieldSelector(object: KObject, selector: string): boolean {
  for (const requirement of splitSelector(selector)) {
    const op = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(requirement);
    if (!op) throw new ApiError(400, 'BadRequest', `invalid field selector: '${requirement}'`);
    let value: unknown = object;
    for (const part of (op[1] as string).split('.')) {
      value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[part] : undefined;
    }
    const text = value === undefined || value === null ? '' : String(value);
    if (op[2] === '!=' ? text === op[3] : text !== op[3]) return false;
  }
  return true;
}

function filterObjects(objects: readonly KObject[], url: URL): KObject[] {
  const labels = url.searchParams.get('labelSelector');
  const fields = url.searchParams.get('fieldSelector');
  return objects.filter(
    (o) =>
      (!labels || matchesLabelSelector(o.metadata.labels ?? {}, labels)) &&
      (!fields || matchesFieldSelector(o, fields)),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Patches: JSON merge patch (RFC 7386), strategic merge patch (lists of named objects merge by name, as the
// patchMergeKey of containers, env, volumes and ephemeralContainers says; $-directives dropped) and JSON patch
// (RFC 6902: add, remove, replace, test).

export function applyPatch(current: KObject, patch: unknown, contentType: string): KObject {
  const type = contentType.split(';')[0]?.trim();
  if (type === 'application/json-patch+json') return jsonPatch(current, patch) as KObject;
  if (type === 'application/merge-patch+json') return mergePatch(current, patch, false) as KObject;
  if (type === 'application/strategic-merge-patch+json') return mergePatch(current, patch, true) as KObject;
  throw new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mergePatch(target: unknown, patch: unknown, strategic: boolean): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? structuredClone(target) : {};
  for (const [field, value] of Object.entries(patch)) {
    if (field.startsWith('$')) continue;
    if (value === null) delete out[field];
    else if (
      strategic &&
      Array.isArray(value) &&
      Array.isArray(out[field]) &&
      value.every((v) => isObject(v) && typeof v.name === 'string')
    ) {
      const merged = [...(out[field] as unknown[])];
      for (const item of value as Record<string, unknown>[]) {
        const index = merged.findIndex((m) => isObject(m) && m.name === item.name);
        if (item.$patch === 'delete') {
          if (index >= 0) merged.splice(index, 1);
        } else if (index >= 0) merged[index] = mergePatch(merged[index], item, true);
        else merged.push(mergePatch({}, item, true));
      }
      out[field] = merged;
    } else out[field] = mergePatch(out[field], value, strategic);
  }
  return out;
}

function jsonPatch(target: KObject, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw new ApiError(400, 'BadRequest', 'the JSON patch must be an array of operations');
  let doc: unknown = structuredClone(target);
  for (const op of patch as { op: string; path: string; value?: unknown }[]) {
    const parts = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = parts.pop();
    let parent: unknown = doc;
    for (const part of parts) {
      parent = Array.isArray(parent) ? parent[Number(part)] : isObject(parent) ? parent[part] : undefined;
    }
    if (last === undefined) {
      doc = op.value;
      continue;
    }
    if (parent === undefined || parent === null) {
      throw new ApiError(
        422,
        'Invalid',
        `the server rejected our request due to an error in our request: doc is missing path: "${op.path}"`,
      );
    }
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(index, 0, op.value);
      else if (op.op === 'remove') parent.splice(index, 1);
      else if (op.op === 'replace') parent[index] = op.value;
      else if (op.op === 'test' && JSON.stringify(parent[index]) !== JSON.stringify(op.value)) {
        throw new ApiError(
          422,
          'Invalid',
          `the server rejected our request due to an error in our request: testing value ${op.path} failed`,
        );
      }
    } else if (isObject(parent)) {
      if (op.op === 'add' || op.op === 'replace') parent[last] = op.value;
      else if (op.op === 'remove') delete parent[last];
      else if (op.op === 'test' && JSON.stringify(parent[last]) !== JSON.stringify(op.value)) {
        throw new ApiError(
          422,
          'Invalid',
          `the server rejected our request due to an error in our request: testing value ${op.path} failed`,
        );
      }
    }
  }
  return doc;
}

// ---------------------------------------------------------------------------------------------------------
// RBAC (pkg/registry/rbac/validation/rule.go: bindings -> roles -> rules; a rule allows when the verb, API group,
// resource or resource/subresource and, if listed, the resource name all match).

interface Attributes {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
}

interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly verbs?: readonly string[];
  readonly resourceNames?: readonly string[];
}

export function isAllowed(cluster: SimCluster, user: ClusterUser, attributes: Attributes): boolean {
  const groups = [...(user.groups ?? []), AUTHENTICATED];
  if (groups.includes('system:masters')) return true;
  const subjectMatches = (subject: { kind: string; name: string; namespace?: string }) =>
    (subject.kind === 'User' && subject.name === user.name) ||
    (subject.kind === 'Group' && groups.includes(subject.name)) ||
    (subject.kind === 'ServiceAccount' && `system:serviceaccount:${subject.namespace}:${subject.name}` === user.name);
  const rulesOf = (kind: string, name: string, namespace?: string): readonly PolicyRule[] =>
    ((kind === 'ClusterRole' ? cluster.get('clusterroles', undefined, name) : cluster.get('roles', namespace, name))
      ?.rules as readonly PolicyRule[] | undefined) ?? [];
  const rules: PolicyRule[] = [];
  for (const binding of cluster.list('clusterrolebindings')) {
    if (((binding.subjects ?? []) as { kind: string; name: string; namespace?: string }[]).some(subjectMatches)) {
      const ref = binding.roleRef as { kind: string; name: string };
      rules.push(...rulesOf(ref.kind, ref.name));
    }
  }
  if (attributes.namespace !== undefined) {
    for (const binding of cluster.list('rolebindings', attributes.namespace)) {
      if (((binding.subjects ?? []) as { kind: string; name: string; namespace?: string }[]).some(subjectMatches)) {
        const ref = binding.roleRef as { kind: string; name: string };
        rules.push(...rulesOf(ref.kind, ref.name, attributes.namespace));
      }
    }
  }
  const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource;
  return rules.some(
    (rule) =>
      (rule.verbs ?? []).some((v) => v === '*' || v === attributes.verb) &&
      (rule.apiGroups ?? []).some((g) => g === '*' || g === attributes.group) &&
      (rule.resources ?? []).some(
        (r) =>
          r === '*' ||
          r === resource ||
          (attributes.subresource && r === `${attributes.resource}/*`) ||
          (attributes.subresource === undefined && r === `*/${resource}`),
      ) &&
      (!rule.resourceNames?.length || (attributes.name !== undefined && rule.resourceNames.includes(attributes.name))),
  );
}

function authorize(cluster: SimCluster, user: ClusterUser, verb: string, route: Route): void {
  const attributes: Attributes = {
    verb,
    group: route.type.group,
    resource: route.type.resource,
    ...(route.subresource ? { subresource: route.subresource } : {}),
    ...(route.namespace !== undefined ? { namespace: route.namespace } : {}),
    ...(route.name !== undefined ? { name: route.name } : {}),
  };
  if (isAllowed(cluster, user, attributes)) return;
  const resource = route.subresource ? `${route.type.resource}/${route.subresource}` : route.type.resource;
  const subject = route.name !== undefined ? `${qualified(route.type)} "${route.name}"` : qualified(route.type);
  const scope = route.namespace !== undefined ? `in the namespace "${route.namespace}"` : 'at the cluster scope';
  // The wording of k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go (ForbiddenStatus).
  throw new ApiError(
    403,
    'Forbidden',
    `${subject} is forbidden: User "${user.name}" cannot ${verb} resource "${resource}" in API group "${route.type.group}" ${scope}`,
    {
      ...(route.name !== undefined ? { name: route.name } : {}),
      ...(route.type.group ? { group: route.type.group } : {}),
      kind: route.type.resource,
    },
  );
}

function selfSubjectAccessReview(cluster: SimCluster, user: ClusterUser, body: unknown) {
  const review = body as { spec?: { resourceAttributes?: Partial<Attributes> & { verb?: string } } };
  const a = review.spec?.resourceAttributes;
  if (!a?.verb || a.resource === undefined) {
    throw new ApiError(
      422,
      'Invalid',
      'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Required value',
    );
  }
  const allowed = isAllowed(cluster, user, {
    verb: a.verb,
    group: a.group ?? '',
    resource: a.resource,
    ...(a.subresource ? { subresource: a.subresource } : {}),
    ...(a.namespace ? { namespace: a.namespace } : {}),
    ...(a.name ? { name: a.name } : {}),
  });
  return {
    kind: 'SelfSubjectAccessReview',
    apiVersion: 'authorization.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec: review.spec,
    status: allowed ? { allowed: true, reason: 'RBAC: allowed by a binding' } : { allowed: false },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Discovery

function discoveryReply(p: string, address: string): unknown {
  const groups = [...new Set(RESOURCE_TYPES.filter((r) => r.group !== '').map((r) => r.group))];
  const apiGroup = (group: string) => {
    const version = RESOURCE_TYPES.find((r) => r.group === group)?.version ?? 'v1';
    const groupVersion = `${group}/${version}`;
    return { name: group, versions: [{ groupVersion, version }], preferredVersion: { groupVersion, version } };
  };
  if (p === '/version') return SIM_VERSION;
  if (p === '/api') {
    return {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: address }],
    };
  }
  if (p === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(apiGroup) };
  const group = /^\/apis\/([^/]+)$/.exec(p)?.[1];
  if (group && groups.includes(group)) return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group) };
  const groupVersion = p === '/api/v1' ? { group: '', version: 'v1' } : /^\/apis\/([^/]+)\/([^/]+)$/.exec(p);
  if (groupVersion) {
    const g = Array.isArray(groupVersion) ? (groupVersion[1] as string) : groupVersion.group;
    const v = Array.isArray(groupVersion) ? (groupVersion[2] as string) : groupVersion.version;
    const types = RESOURCE_TYPES.filter((r) => r.group === g && r.version === v);
    if (types.length === 0) return undefined;
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: g ? `${g}/${v}` : v,
      resources: types.flatMap((r) => [
        {
          name: r.resource,
          singularName: r.kind.toLowerCase(),
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: r.verbs,
          ...(r.shortNames?.length ? { shortNames: r.shortNames } : {}),
        },
        ...(r.subresources ?? []).map((s) => ({
          name: `${r.resource}/${s.name}`,
          singularName: '',
          namespaced: r.namespaced,
          kind: s.name === 'log' ? 'Pod' : r.kind,
          verbs: s.verbs,
        })),
      ]),
    };
  }
  return undefined;
}
