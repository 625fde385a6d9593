import http from 'node:http';
import https from 'node:https';
import type {
  Cluster,
  User,
  V1MutatingWebhookConfiguration,
  V1MutatingWebhookConfigurationList,
  V1Pod,
  V1ReplicaSet,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { KUBE_SA_DIR } from '../aws/env-names';
import { registerSecret } from '../aws/secrets';
import type { Context } from '../context/context';
import type { FileView } from '../context/files';
import type { KubeconfigCommand, SafeKubeconfig } from './kubeconfig';
import { CONNECT_ERRORS } from './connect-errors';
import { shapeProblem } from './shape';

/** A kubeconfig, a token or a CA certificate: far below this. */
const MAX_ACCESS_FILE_BYTES = 1024 * 1024;

/** How the tool reached the API server; shown in details so a user can tell which credentials were used. */
export type KubeAccessSource = '--kubeconfig' | 'in-cluster' | 'KUBECONFIG';

/**
 * Why a Kubernetes API call did not return the object. Classified once, here, from HTTP statuses and socket
 * errors, so every kube check turns the same failure into the same status and finding.
 */
export type KubeFailureKind = 'forbidden' | 'not-found' | 'unreachable' | 'timeout' | 'unexpected';

export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly kind: KubeFailureKind,
    message: string,
    /** The HTTP status when the server answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * An object as the API server sends it: the JSON, where client-node's model classes would hold a Date, holds the
 * RFC 3339 string (the client decodes no more than JSON.parse does).
 */
export type Wire<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

/** The few reads the kube checks make. Every call has a short deadline and honours the check's signal. */
export interface KubeClient {
  readonly server: string;
  readonly source: KubeAccessSource;
  /** Programs the kubeconfig's user would also run (dropped: the token or certificate is used). */
  readonly notRun: readonly KubeconfigCommand[];
  readonly kubeconfig: string | undefined;
  readPod(namespace: string, name: string, signal: AbortSignal): Promise<Wire<V1Pod>>;
  readServiceAccount(namespace: string, name: string, signal: AbortSignal): Promise<Wire<V1ServiceAccount>>;
  readReplicaSet(namespace: string, name: string, signal: AbortSignal): Promise<Wire<V1ReplicaSet>>;
  readMutatingWebhookConfiguration(name: string, signal: AbortSignal): Promise<Wire<V1MutatingWebhookConfiguration>>;
  listMutatingWebhookConfigurations(signal: AbortSignal): Promise<Wire<V1MutatingWebhookConfigurationList>>;
}

/** No way to reach the API server was configured: the kube checks skip with this reason. */
export interface KubeUnavailable {
  readonly unavailable: string;
  /** The kubeconfig's user would run these to authenticate (never run). */
  readonly notRun?: readonly KubeconfigCommand[];
  readonly kubeconfig?: string;
}

/** Each API call's own deadline: the API server answers in milliseconds or something is wrong. */
export const KUBE_CALL_TIMEOUT_MS = 2_500;
/** A Pod or ServiceAccount is a few KiB; anything this large is not the API server. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

const clients = new WeakMap<Context, Promise<KubeClient | KubeUnavailable>>();

/**
 * The Kubernetes client for this run: built once per Context (the three kube checks share it), and only
 * when a kube check runs. It is five GETs over node:https; of @kubernetes/client-node (~170 ms to evaluate
 * under Bun, docs/packaging.md) only the model classes load, for the shape check of the answers.
 */
export function kubeClientFor(ctx: Context): Promise<KubeClient | KubeUnavailable> {
  let client = clients.get(ctx);
  if (!client) {
    client = createKubeClient(ctx);
    clients.set(ctx, client);
  }
  return client;
}

export function isUnavailable(value: KubeClient | KubeUnavailable): value is KubeUnavailable {
  return 'unavailable' in value;
}

async function createKubeClient(ctx: Context): Promise<KubeClient | KubeUnavailable> {
  // Where the credentials come from is settled first, so a run without API access loads nothing more.
  const loaded = await findKubeAccess(ctx);
  if ('unavailable' in loaded) return loaded;
  // Every credential the tool holds for the API server is a secret of this run: a Status message (or any
  // other output) that echoes one is redacted (src/run/redact.ts).
  for (const value of [loaded.user.token, loaded.user.password, loaded.user.keyData]) {
    if (typeof value === 'string') registerSecret(value);
  }
  const cluster = loaded.cluster;
  // Inline data only (src/kube/kubeconfig.ts): nothing here reads a file or runs a program.
  let connection: KubeConnection | undefined;

  /** One GET; `expected` is the client-node model of the answer, whose shape is checked before a check sees it. */
  const call = async <T>(what: string, apiPath: string, expected: string, signal: AbortSignal): Promise<Wire<T>> => {
    try {
      connection ??= connectionOf(cluster, loaded.user);
      const { json, status } = await getJson(new URL(apiPath, `${cluster.server}/`), connection, signal);
      const problem = answerShapeProblem(await modelTable(), json, expected);
      if (problem)
        throw new KubeApiError('unexpected', `the API server answered an unexpected object: ${problem}`, status);
      return json as Wire<T>;
    } catch (error) {
      const classified = classifyKubeError(error, what);
      // Errors made by the transport do not know which object was read; every message names it.
      throw classified.message.startsWith(`${what}: `)
        ? classified
        : new KubeApiError(classified.kind, `${what}: ${classified.message}`, classified.status);
    }
  };
  // Path segments are encoded as client-node's generated API encodes them (encodeURIComponent).
  const e = encodeURIComponent;
  return {
    server: cluster.server,
    source: loaded.source,
    notRun: loaded.notRun,
    kubeconfig: loaded.kubeconfig,
    readPod: (namespace, name, signal) =>
      call<V1Pod>(`pod ${namespace}/${name}`, `api/v1/namespaces/${e(namespace)}/pods/${e(name)}`, 'V1Pod', signal),
    readServiceAccount: (namespace, name, signal) =>
      call<V1ServiceAccount>(
        `serviceaccount ${namespace}/${name}`,
        `api/v1/namespaces/${e(namespace)}/serviceaccounts/${e(name)}`,
        'V1ServiceAccount',
        signal,
      ),
    readReplicaSet: (namespace, name, signal) =>
      call<V1ReplicaSet>(
        `replicaset ${namespace}/${name}`,
        `apis/apps/v1/namespaces/${e(namespace)}/replicasets/${e(name)}`,
        'V1ReplicaSet',
        signal,
      ),
    readMutatingWebhookConfiguration: (name, signal) =>
      call<V1MutatingWebhookConfiguration>(
        `mutatingwebhookconfiguration ${name}`,
        `apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${e(name)}`,
        'V1MutatingWebhookConfiguration',
        signal,
      ),
    listMutatingWebhookConfigurations: (signal) =>
      call<V1MutatingWebhookConfigurationList>(
        'mutatingwebhookconfigurations',
        'apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
        'V1MutatingWebhookConfigurationList',
        signal,
      ),
  };
}

/** What one request needs: where to connect, how to verify it, and the credentials. */
interface KubeConnection {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly servername?: string;
  /** false only for insecure-skip-tls-verify: true. */
  readonly rejectUnauthorized: boolean;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The TLS options and headers of the cluster and user, as client-node 2.0.1 computes them from the same inline
 * data (its KubeConfig.applyToHTTPSOptions and applySecurityAuthentication, kubernetes-client/javascript
 * src/config.ts): the CA, the client certificate and key (base64), insecure-skip-tls-verify, tls-server-name,
 * `as` (Impersonate-User), and the bearer token, which wins over basic auth. Like client-node, a plain http://
 * server is refused unless the kubeconfig says insecure-skip-tls-verify: the credentials would cross the network
 * in clear text.
 */
function connectionOf(cluster: Cluster, user: User): KubeConnection {
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    throw new Error('HTTP protocol is not allowed when skipTLSVerify is not set or false');
  }
  const headers: Record<string, string> = {};
  if (user.impersonateUser) headers['Impersonate-User'] = user.impersonateUser;
  if (user.token) headers.Authorization = `Bearer ${user.token}`;
  else if (user.username) {
    headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
  }
  const data = (base64: string | undefined) => (base64 ? Buffer.from(base64, 'base64') : undefined);
  return {
    ca: data(cluster.caData),
    cert: data(user.certData),
    key: data(user.keyData),
    ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
    rejectUnauthorized: !cluster.skipTLSVerify,
    headers,
  };
}

/**
 * A non-2xx answer, shaped as client-node's ApiException (numeric `code`, the body as text), so that
 * classifyKubeError reads the status and the Status message the same way whichever client made the call.
 */
class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP ${code}`);
  }
}

/**
 * One GET of a JSON object over node:http(s), with the per-call deadline and the check's abort signal, decoded
 * by JSON.parse: the checks read the object as the API server sent it (dates stay RFC 3339 strings). Not
 * client-node's generated API: its entry module imports every API class, the object serializer and undici
 * (~13 MiB more peak RSS for the TUI with Kubernetes access, docs/benchmarks.md), for five GETs. Not fetch
 * either: client-node's own transport, undici's fetch with an Agent carrying the cluster CA, loses that CA in
 * the Bun-compiled binary (Bun's undici shim ignores the Agent; measured with client-node 2.0.1 under Bun
 * 1.4.5: every in-cluster HTTPS call failed with "unable to verify the first certificate"), while node:https
 * honours `ca`, `cert` and `key` under both Node and Bun. Proxy settings of the kubeconfig (proxy-url) are not
 * supported on this path.
 */
async function getJson(
  url: URL,
  connection: KubeConnection,
  signal: AbortSignal,
): Promise<{ json: unknown; status: number }> {
  const secure = url.protocol === 'https:';
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(KUBE_CALL_TIMEOUT_MS)]);

  return new Promise((resolve, reject) => {
    if (deadline.aborted) {
      reject(abortReason(deadline));
      return;
    }
    const options: https.RequestOptions = {
      method: 'GET',
      headers: { Accept: 'application/json', ...connection.headers },
      agent: false,
      ...(secure
        ? {
            ca: connection.ca,
            cert: connection.cert,
            key: connection.key,
            servername: connection.servername,
            // Verification stays on unless the kubeconfig says insecure-skip-tls-verify.
            rejectUnauthorized: connection.rejectUnauthorized,
          }
        : {}),
    };
    const req = (secure ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy(
            new KubeApiError('unexpected', `the API server answered with more than ${MAX_RESPONSE_BYTES} bytes`),
          );
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        cleanup();
        const status = res.statusCode ?? 0;
        const body = Buffer.concat(chunks).toString('utf8');
        if (status < 200 || status >= 300) {
          reject(new HttpStatusError(status, body));
          return;
        }
        const type = res.headers['content-type']?.split(';')[0]?.trim() ?? '';
        // A 2xx HTML page must not become an empty Pod ("not mutated").
        if (!/json/i.test(type)) {
          reject(
            new KubeApiError(
              'unexpected',
              `HTTP ${status} with ${type || 'no content type'}, not JSON: something other than the Kubernetes API answers at ${url.origin} (a proxy, a load balancer's page, a wrong server in the kubeconfig)`,
              status,
            ),
          );
          return;
        }
        try {
          resolve({ json: JSON.parse(body), status });
        } catch {
          reject(new KubeApiError('unexpected', "the API server's answer is not valid JSON", status));
        }
      });
      // A body that stops before its end: the deadline cut it (slow), or the server closed mid-answer.
      const incomplete = () => {
        if (res.complete) return;
        cleanup();
        reject(
          deadline.aborted
            ? abortReason(deadline)
            : new KubeApiError(
                'unexpected',
                `the API server closed the connection after ${size} of ${res.headers['content-length'] ?? 'an unknown number of'} bytes: its answer was cut short (a proxy or load balancer in between, or a failing server)`,
              ),
        );
      };
      res.on('error', incomplete);
      res.on('close', incomplete);
    });
    const onAbort = () => req.destroy(abortReason(deadline));
    const cleanup = () => deadline.removeEventListener('abort', onAbort);
    deadline.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error) => {
      cleanup();
      reject(error);
    });
    req.end();
  });
}

type ModelTable = Readonly<Record<string, unknown>>;
let models: Promise<ModelTable> | undefined;

/**
 * client-node's generated model classes, for their attribute tables (src/kube/shape.ts): only the 146 classes
 * the five answers can reach (src/kube/models.ts; each class imports nothing), not client-node's entry with its
 * APIs and transport, nor its whole model index. Loaded on the first answer.
 */
function modelTable(): Promise<ModelTable> {
  models ??= import('./models').then((m) => m.MODELS as ModelTable);
  return models;
}

/** Why a 2xx answer is not the `expected` object (src/kube/shape.ts), or undefined when it is one. */
function answerShapeProblem(table: ModelTable, json: unknown, expected: string): string | undefined {
  const kind = expected.replace(/^V1/, '');
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return `the answer is ${json === null ? 'null' : Array.isArray(json) ? 'a list' : `a ${typeof json}`}, not a ${kind}`;
  }
  const said = (json as { kind?: unknown }).kind;
  if (said !== undefined && said !== kind) {
    return `kind is ${JSON.stringify(String(said).slice(0, 60))}, not ${kind}`;
  }
  return shapeProblem(json, expected, (name) => {
    const model = table[name] as { getAttributeTypeMap?: unknown } | undefined;
    return typeof model?.getAttributeTypeMap === 'function' ? (model as never) : undefined;
  });
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new KubeApiError('timeout', `no answer within ${KUBE_CALL_TIMEOUT_MS} ms`);
  }
  return new KubeApiError('timeout', 'the check was cancelled (its deadline or the run deadline was reached)');
}

/**
 * The one place where a failed API call is classified: 401/403 -> forbidden, 404 -> not-found, socket and
 * TLS errors -> unreachable, deadlines -> timeout, anything else -> unexpected.
 */
export function classifyKubeError(error: unknown, what: string): KubeApiError {
  if (error instanceof KubeApiError) return error;
  const status = httpStatusOf(error);
  if (status !== undefined) {
    const message = statusMessageOf(error) ?? `HTTP ${status}`;
    if (status === 401 || status === 403) return new KubeApiError('forbidden', `${what}: ${message}`, status);
    if (status === 404) return new KubeApiError('not-found', `${what}: ${message}`, status);
    return new KubeApiError('unexpected', `${what}: HTTP ${status}: ${message}`, status);
  }
  const code = errnoOf(error);
  if (code !== undefined && (CONNECT_ERRORS.has(code) || /CERT|SELF_SIGNED|TLS|SSL/i.test(code))) {
    return new KubeApiError('unreachable', `${what}: cannot reach the API server (${code})`);
  }
  if (error instanceof SyntaxError) {
    return new KubeApiError('unexpected', `${what}: the API server's answer is not valid JSON`);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new KubeApiError('unexpected', `${what}: ${message}`);
}

function httpStatusOf(error: unknown): number | undefined {
  // client-node's ApiException carries the HTTP status as a numeric `code`; socket errors carry a string code.
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'number') {
    return error.code;
  }
  return undefined;
}

/** The `message` of the Kubernetes Status object in the error body, which names the missing permission. */
function statusMessageOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('body' in error)) return undefined;
  let body: unknown = error.body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text);
    } catch {
      // A proxy's plain-text error page: one line of it, without the trailing newline.
      return text.trim().slice(0, 300) || undefined;
    }
  }
  if (typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string') {
    return body.message.slice(0, 500);
  }
  return undefined;
}

function errnoOf(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
    e = typeof e === 'object' && e !== null && 'cause' in e ? e.cause : undefined;
  }
  return undefined;
}

/**
 * Where the API credentials come from, as inline data only (nothing client-node could read or run itself):
 * --kubeconfig (the user's own file), else the in-cluster ServiceAccount, else KUBECONFIG from the diagnosed
 * process's environment. With --target the app's KUBECONFIG is never used (a kubeconfig can name programs to
 * run and files to read): this process's own in-cluster access, or the app's ServiceAccount token read as a file
 * inside its root, which belongs to the same ServiceAccount (docs/security.md, "Kubernetes access").
 */
interface KubeAccess {
  readonly source: KubeAccessSource;
  readonly cluster: Cluster;
  readonly user: User;
  /** Programs the kubeconfig's user would run; reported by kube.webhook, never run. */
  readonly notRun: readonly KubeconfigCommand[];
  readonly kubeconfig: string | undefined;
}

async function findKubeAccess(ctx: Context): Promise<KubeAccess | KubeUnavailable> {
  if (ctx.options.kubeconfig) {
    const file = ctx.options.kubeconfig;
    const text = ctx.options.kubeconfigText ?? (await readText(ctx.localFiles, file));
    if (text === undefined) return { unavailable: `--kubeconfig ${file} cannot be read` };
    return fromKubeconfig(text, file, ctx.localFiles, '--kubeconfig');
  }
  const target = ctx.options.targetPid !== undefined;
  // With --target, the address of the API server comes from this process's own env (the kubelet gives every
  // container of the pod the same), the app's only when this one has none.
  const own = ctx.toolEnv ?? ctx.env;
  const host = own.KUBERNETES_SERVICE_HOST || ctx.env.KUBERNETES_SERVICE_HOST;
  const port = own.KUBERNETES_SERVICE_PORT || ctx.env.KUBERNETES_SERVICE_PORT;
  if (host && port) {
    const tokenPath = `${KUBE_SA_DIR}/token`;
    const caPath = `${KUBE_SA_DIR}/ca.crt`;
    let token = target ? await readText(ctx.localFiles, tokenPath) : undefined;
    let ca = token !== undefined ? await readText(ctx.localFiles, caPath) : undefined;
    if (token === undefined) {
      token = await readText(ctx.files, tokenPath);
      ca = await readText(ctx.files, caPath);
    }
    if (token === undefined) {
      return {
        unavailable: `in-cluster: ${KUBE_SA_DIR}/token is not readable (automountServiceAccountToken: false?)`,
      };
    }
    return {
      source: 'in-cluster',
      cluster: {
        name: 'in-cluster',
        server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
        skipTLSVerify: false,
        ...(ca ? { caData: Buffer.from(ca).toString('base64') } : {}),
      },
      user: { name: 'serviceaccount', token: token.trim() },
      notRun: [],
      kubeconfig: undefined,
    };
  }
  if (target) {
    return {
      unavailable:
        "no in-cluster access (KUBERNETES_SERVICE_HOST unset) and the app's KUBECONFIG is never used with --target: pass --kubeconfig",
    };
  }
  const kubeconfigEnv = ctx.env.KUBECONFIG;
  if (kubeconfigEnv) {
    // KUBECONFIG may list several files; the first readable one is used (merging is not supported).
    for (const file of kubeconfigEnv.split(':').filter((f) => f !== '')) {
      const text = await readText(ctx.files, file);
      if (text !== undefined) return fromKubeconfig(text, file, ctx.files, 'KUBECONFIG');
    }
    return { unavailable: `KUBECONFIG=${kubeconfigEnv.slice(0, 300)}: no readable file` };
  }
  return {
    unavailable:
      'no Kubernetes API access: not in a cluster (KUBERNETES_SERVICE_HOST unset), no --kubeconfig, no KUBECONFIG',
  };
}

async function fromKubeconfig(
  text: string,
  file: string,
  files: FileView,
  source: KubeAccessSource,
): Promise<KubeAccess | KubeUnavailable> {
  // Loaded only here: js-yaml is not needed on most runs (in-cluster access has no kubeconfig).
  const { KubeconfigError, loadKubeconfig } = await import('./kubeconfig');
  let config: SafeKubeconfig;
  try {
    config = await loadKubeconfig(text, file, files);
  } catch (error) {
    if (!(error instanceof KubeconfigError)) throw error;
    return { unavailable: `${source} ${file.slice(0, 300)} is not a usable kubeconfig: ${error.message}` };
  }
  if (config.onlyCommands) {
    const what = config.notRun.map((c) => (c.kind === 'exec' ? 'an exec plugin' : 'an auth-provider command'));
    return {
      unavailable: `${source} ${file.slice(0, 300)}: user "${config.user.name.slice(0, 100)}" gets its credentials only from ${[...new Set(what)].join(' and ')}, which irsa-doctor does not run`,
      notRun: config.notRun,
      kubeconfig: file,
    };
  }
  return { source, cluster: config.cluster, user: config.user, notRun: config.notRun, kubeconfig: file };
}

/** A small text file of the view (a token, a CA, a kubeconfig); undefined when absent or unusable. */
async function readText(files: FileView, file: string): Promise<string | undefined> {
  try {
    const { bytes, truncated } = await files.readHead(file, MAX_ACCESS_FILE_BYTES);
    return truncated ? undefined : bytes.toString('utf8');
  } catch {
    return undefined;
  }
}
