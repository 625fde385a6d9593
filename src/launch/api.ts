import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type {
  AdmissionregistrationV1Api,
  AuthenticationV1Api,
  AuthorizationV1Api,
  BatchV1Api,
  ConfigurationOptions,
  CoreV1Api,
  KubeConfig,
  RequestContext,
  ResponseContext,
} from '@kubernetes/client-node';
import { restoreLaunchEnvironment } from '../context/process-env';
import { CONNECT_ERRORS } from '../kube/connect-errors';
import { LaunchFailure, StreamStatusError } from './failure';
import type { ApiLimits } from './rate-limit';
import { RetryBudget, TokenBucket, isRetryableStatus, retryDelayMs, sleep } from './rate-limit';

/*
 * The Kubernetes API as a launcher on a laptop uses it: the kubeconfig as kubectl finds it (--kubeconfig, else
 * KUBECONFIG, else ~/.kube/config, else the in-cluster config), --context, and client-node's generated APIs
 * (CoreV1Api, BatchV1Api, AuthorizationV1Api, AuthenticationV1Api) with client-node's authenticators, so exec
 * credential plugins (`aws eks get-token`) and tokens work as in kubectl.
 *
 * Requests go through node:https with the TLS options client-node computes from the kubeconfig. client-node's
 * own transport, and its Watch and Log classes, use undici's fetch with an undici Agent carrying the cluster
 * CA; in the Bun-compiled binary `undici` is Bun's built-in shim, whose Agent is dropped: measured with
 * client-node 2.0.1 under Bun 1.4.5 against a private-CA server, Watch ends with "self signed certificate" and
 * Log with "HTTP-Code: 500", while under Node 24 both work. Every EKS cluster has a private CA, so the
 * streaming calls (watch, follow a log) are made here, with the same authentication, as client-node's Watch and
 * Log make them (newline-delimited watch events; the log as a plain byte stream), under Node and Bun alike.
 */

/** Each ordinary call's own deadline: the API server answers in milliseconds or something is wrong. */
export const CALL_TIMEOUT_MS = 15_000;
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: any;
}

export interface LauncherApi {
  /** The API server URL of the current context. */
  readonly server: string;
  /** The namespace of the current context ('default' when it names none). */
  readonly contextNamespace: string;
  readonly contextName: string;
  /** The name of the current context's cluster entry (an EKS ARN when made by aws eks update-kubeconfig). */
  readonly clusterName: string;
  readonly core: CoreV1Api;
  readonly batch: BatchV1Api;
  readonly authorization: AuthorizationV1Api;
  readonly authentication: AuthenticationV1Api;
  readonly admission: AdmissionregistrationV1Api;
  /** Options that make a patch call send a strategic merge patch (client-node defaults to a JSON patch). */
  readonly strategicMergePatch: ConfigurationOptions;
  /**
   * One watch request: calls onEvent for each event until the server ends the stream (resolves) or the request
   * fails (rejects with a classified LaunchFailure). `signal` ends it early (resolves).
   */
  watch(
    path: string,
    query: Record<string, string>,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void>;
  /** The container's log, followed to its end with `follow`; chunks as they come. */
  log(
    namespace: string,
    pod: string,
    container: string,
    options: { follow: boolean; limitBytes: number },
    onChunk: (chunk: Buffer) => void,
    signal: AbortSignal,
  ): Promise<void>;
  /** How many HTTP requests this client has made (the benchmark prints it). */
  readonly requestCount: () => number;
  /** How many 429/5xx answers were retried (with `limits`). */
  readonly retryCount: () => number;
}

export interface ConnectOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
  /** The environment to read KUBECONFIG, HOME and the in-cluster variables from. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborts every call (Ctrl-C, the launch deadline). */
  readonly signal: AbortSignal;
  /** A client-side rate limit and a retry budget for 429/5xx (src/launch/rate-limit.ts); none by default. */
  readonly limits?: ApiLimits;
}

type ClientNode = typeof import('@kubernetes/client-node');

/** Loads the kubeconfig the way kubectl does and returns the client; a LaunchFailure says what is wrong. */
export async function connect(options: ConnectOptions): Promise<LauncherApi> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  loadKubeconfig(k8s, kc, options);
  return clientFor(k8s, kc, options.signal, options.limits);
}

/**
 * The user's own access, as kubectl finds it, for a launcher running on the user's machine: the launch
 * environment is restored first, because a kubeconfig exec plugin (`aws eks get-token`) needs AWS_PROFILE and
 * the rest that the doctor's start-up sealed away from its libraries.
 */
export async function connectAsUser(
  command: { readonly kubeconfig?: string | undefined; readonly context?: string | undefined },
  signal: AbortSignal,
  limits?: ApiLimits,
): Promise<LauncherApi> {
  restoreLaunchEnvironment();
  return connect({
    ...(command.kubeconfig !== undefined ? { kubeconfig: command.kubeconfig } : {}),
    ...(command.context !== undefined ? { context: command.context } : {}),
    env: process.env,
    signal,
    ...(limits !== undefined ? { limits } : {}),
  });
}

/** For the demo: a client for a kubeconfig given as text (the simulated cluster's). */
export async function connectWithKubeconfig(
  yaml: string,
  signal: AbortSignal,
  limits?: ApiLimits,
): Promise<LauncherApi> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromString(yaml);
  return clientFor(k8s, kc, signal, limits);
}

function loadKubeconfig(k8s: ClientNode, kc: KubeConfig, options: ConnectOptions): void {
  const env = options.env;
  const load = (file: string) => {
    try {
      kc.loadFromFile(file);
    } catch (error) {
      throw new LaunchFailure('kubeconfig', `cannot load the kubeconfig ${file}: ${messageOf(error)}`, [
        'Check the file with: kubectl config view --kubeconfig ' + file,
      ]);
    }
  };
  if (options.kubeconfig !== undefined) {
    if (!existsSync(options.kubeconfig)) {
      throw new LaunchFailure('usage', `--kubeconfig ${options.kubeconfig}: no such file`, []);
    }
    load(options.kubeconfig);
  } else if (env.KUBECONFIG) {
    // kubectl merges the files of KUBECONFIG, the first one to set a value wins.
    const files = env.KUBECONFIG.split(path.delimiter).filter((f) => f !== '' && existsSync(f));
    if (files.length === 0) {
      throw new LaunchFailure('kubeconfig', `KUBECONFIG=${env.KUBECONFIG}: none of these files exists`, [
        'Point KUBECONFIG (or --kubeconfig) at the file kubectl uses: kubectl config view --minify',
      ]);
    }
    load(files[0] as string);
    for (const file of files.slice(1)) {
      const other = new k8s.KubeConfig();
      try {
        other.loadFromFile(file);
      } catch (error) {
        throw new LaunchFailure('kubeconfig', `cannot load the kubeconfig ${file}: ${messageOf(error)}`, []);
      }
      kc.mergeConfig(other, true);
    }
  } else {
    const home = env.HOME || safeHomedir();
    const file = home ? path.join(home, '.kube', 'config') : undefined;
    if (file && existsSync(file)) load(file);
    else if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) kc.loadFromCluster();
    else {
      throw new LaunchFailure(
        'kubeconfig',
        'no kubeconfig: none given with --kubeconfig, KUBECONFIG is not set and ~/.kube/config does not exist',
        ['Use the kubeconfig kubectl uses, e.g. for EKS: aws eks update-kubeconfig --name <CLUSTER> --region <REGION>'],
      );
    }
  }
  if (options.context !== undefined) {
    if (!kc.getContextObject(options.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new LaunchFailure(
        'usage',
        `--context ${options.context}: no such context in the kubeconfig (it has: ${known.join(', ') || 'none'})`,
        [],
      );
    }
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentContext() && kc.getContexts()[0]) kc.setCurrentContext(kc.getContexts()[0]?.name as string);
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new LaunchFailure('kubeconfig', 'the kubeconfig has no current context naming a cluster', [
      'Pick one with --context NAME (kubectl config get-contexts lists them)',
    ]);
  }
  if (cluster.proxyUrl) {
    throw new LaunchFailure(
      'kubeconfig',
      `the cluster ${cluster.name} is reached through proxy-url ${cluster.proxyUrl}, which the launchers do not support`,
      [
        'Run it from a machine that reaches the API server directly, or use the manual recipes (README: kubectl debug, examples/job.yaml).',
      ],
    );
  }
}

function safeHomedir(): string | undefined {
  try {
    return os.homedir();
  } catch {
    return undefined;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function clientFor(
  k8s: ClientNode,
  kc: KubeConfig,
  signal: AbortSignal,
  limits?: ApiLimits,
): Promise<LauncherApi> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new LaunchFailure('kubeconfig', 'the kubeconfig has no current cluster', []);
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    throw new LaunchFailure('kubeconfig', `the cluster ${cluster.name} is served over plain http (${cluster.server})`, [
      'A real API server speaks https; set the https:// URL in the kubeconfig.',
    ]);
  }
  let requests = 0;
  const bucket = limits ? new TokenBucket(limits) : undefined;
  const budget = new RetryBudget(limits?.retryBudget ?? 0);
  let tls: Promise<https.RequestOptions> | undefined;
  const tlsOptions = () =>
    (tls ??= (async () => {
      const options: https.RequestOptions = {};
      await kc.applyToHTTPSOptions(options);
      return options;
    })());

  const send = async (request: RequestContext): Promise<ResponseContext> => {
    let response: Awaited<ReturnType<typeof exchange>>;
    for (let attempt = 1; ; attempt++) {
      await bucket?.take(signal);
      requests += 1;
      response = await exchange(request.getUrl(), {
        method: request.getHttpMethod(),
        headers: request.getHeaders(),
        body: request.getBody() as string | undefined,
        tls: await tlsOptions(),
        signal: AbortSignal.any([signal, AbortSignal.timeout(CALL_TIMEOUT_MS)]),
        server: cluster.server,
      });
      if (!isRetryableStatus(response.status) || !budget.take()) break;
      await sleep(retryDelayMs(attempt, response.headers['retry-after']), signal);
    }
    return new k8s.ResponseContext(
      response.status,
      response.headers,
      new k8s.SelfDecodingBody(Promise.resolve(response.body)),
    );
  };
  const configuration = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    httpApi: k8s.wrapHttpLibrary({ send }),
  });

  /** Headers with the credentials client-node computes (token, exec plugin, client certificate via TLS). */
  const authenticated = async (url: string): Promise<Record<string, string>> => {
    const context = new k8s.RequestContext(url, k8s.HttpMethod.GET);
    await kc.applySecurityAuthentication(context);
    return context.getHeaders();
  };

  const stream = async (url: string, accept: string, onData: (chunk: Buffer) => void, streamSignal: AbortSignal) => {
    const both = AbortSignal.any([signal, streamSignal]);
    for (let attempt = 1; ; attempt++) {
      await bucket?.take(both);
      requests += 1;
      const headers = { ...(await authenticated(url)), Accept: accept };
      try {
        await openStream(url, headers, await tlsOptions(), both, onData, cluster.server);
        return;
      } catch (error) {
        // Only a refusal before any data (the status line) is retried: nothing of the stream was seen yet.
        if (!(error instanceof StreamStatusError) || !isRetryableStatus(error.code) || !budget.take()) throw error;
        await sleep(retryDelayMs(attempt, undefined), both);
      }
    }
  };

  const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  return {
    server: cluster.server,
    contextNamespace: namespace,
    contextName: kc.getCurrentContext(),
    clusterName: cluster.name,
    core: new k8s.CoreV1Api(configuration),
    batch: new k8s.BatchV1Api(configuration),
    authorization: new k8s.AuthorizationV1Api(configuration),
    authentication: new k8s.AuthenticationV1Api(configuration),
    admission: new k8s.AdmissionregistrationV1Api(configuration),
    strategicMergePatch: k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    requestCount: () => requests,
    retryCount: () => budget.used,
    async watch(apiPath, query, onEvent, watchSignal) {
      const url = new URL(cluster.server.replace(/\/+$/, '') + apiPath);
      url.searchParams.set('watch', 'true');
      for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
      let pending = '';
      await stream(
        url.toString(),
        'application/json',
        (chunk) => {
          pending += chunk.toString('utf8');
          // One event is one object; a "line" this long is not the API server's.
          if (pending.length > MAX_RESPONSE_BYTES)
            throw new LaunchFailure(
              'api',
              `the watch on ${apiPath} sent a line of more than ${MAX_RESPONSE_BYTES} bytes`,
              [],
            );
          let newline = pending.indexOf('\n');
          while (newline >= 0) {
            const line = pending.slice(0, newline).trim();
            pending = pending.slice(newline + 1);
            if (line !== '') {
              let event: WatchEvent | undefined;
              try {
                event = JSON.parse(line) as WatchEvent;
              } catch {
                event = undefined; // a torn or foreign line: skipped, as client-node's Watch does
              }
              if (event && typeof event.type === 'string') onEvent(event);
            }
            newline = pending.indexOf('\n');
          }
        },
        watchSignal,
      );
    },
    async log(ns, pod, container, options, onChunk, logSignal) {
      const url = new URL(
        `${cluster.server.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod)}/log`,
      );
      url.searchParams.set('container', container);
      url.searchParams.set('follow', String(options.follow));
      url.searchParams.set('limitBytes', String(options.limitBytes));
      await stream(url.toString(), '*/*', onChunk, logSignal);
    },
  };
}

interface Exchange {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  readonly tls: https.RequestOptions;
  readonly signal: AbortSignal;
  readonly server: string;
}

function requestOptions(
  url: URL,
  method: string,
  headers: Record<string, string>,
  tls: https.RequestOptions,
): https.RequestOptions {
  const secure = url.protocol === 'https:';
  return {
    method,
    headers,
    agent: false,
    ...(secure
      ? {
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          pfx: tls.pfx,
          passphrase: tls.passphrase,
          servername: tls.servername,
          // Verification stays on unless the kubeconfig says insecure-skip-tls-verify.
          rejectUnauthorized: tls.rejectUnauthorized !== false,
        }
      : {}),
  };
}

/** One request whose whole (bounded) body is read. */
function exchange(
  target: string,
  options: Exchange,
): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const url = new URL(target);
    if (options.signal.aborted) {
      reject(abortFailure(options.signal, options.server));
      return;
    }
    const req = (url.protocol === 'https:' ? https : http).request(
      url,
      requestOptions(url, options.method, { Accept: 'application/json', ...options.headers }, options.tls),
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(
              new LaunchFailure('api', `the API server answered with more than ${MAX_RESPONSE_BYTES} bytes`, []),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          cleanup();
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          const status = res.statusCode ?? 0;
          const type = headers['content-type'] ?? '';
          if (status >= 200 && status < 300 && !/json/i.test(type)) {
            reject(
              new LaunchFailure(
                'unreachable',
                `${url.origin} answered HTTP ${status} with ${type || 'no content type'}, not the Kubernetes API (a proxy or a wrong server in the kubeconfig)`,
                [],
              ),
            );
            return;
          }
          resolve({ status, headers, body: Buffer.concat(chunks) });
        });
        res.on('error', (error) => {
          cleanup();
          reject(transportFailure(error, options.signal, options.server));
        });
      },
    );
    const onAbort = () => req.destroy();
    const cleanup = () => options.signal.removeEventListener('abort', onAbort);
    options.signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error) => {
      cleanup();
      reject(transportFailure(error, options.signal, options.server));
    });
    req.end(options.body);
  });
}

/** A long-lived GET (watch, log follow): resolves when the server ends it or `signal` aborts it. */
function openStream(
  target: string,
  headers: Record<string, string>,
  tls: https.RequestOptions,
  signal: AbortSignal,
  onData: (chunk: Buffer) => void,
  server: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const url = new URL(target);
    if (signal.aborted) {
      resolve();
      return;
    }
    let settled = false;
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (error === undefined || signal.aborted) resolve();
      else reject(error);
    };
    const req = (url.protocol === 'https:' ? https : http).request(
      url,
      requestOptions(url, 'GET', headers, tls),
      (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c));
          res.on('end', () => finish(statusFailure(status, Buffer.concat(chunks).toString('utf8'))));
          res.on('error', (error) => finish(transportFailure(error, signal, server)));
          return;
        }
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          try {
            onData(chunk);
          } catch (error) {
            req.destroy();
            finish(error);
          }
        });
        res.on('end', () => finish());
        res.on('error', (error) => finish(transportFailure(error, signal, server)));
        res.on('close', () => finish());
      },
    );
    const onAbort = () => {
      req.destroy();
      finish();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error) => finish(transportFailure(error, signal, server)));
    req.end();
  });
}

function statusFailure(status: number, body: string): StreamStatusError {
  return new StreamStatusError(status, body);
}

function abortFailure(signal: AbortSignal, server: string): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new LaunchFailure(
      'unreachable',
      `the API server ${server} did not answer within ${CALL_TIMEOUT_MS / 1000} s`,
      ['Check that this machine reaches it: kubectl cluster-info'],
    );
  }
  return reason instanceof Error ? reason : new Error('aborted');
}

/** Socket and TLS errors become one clear "cannot reach" failure naming the server. */
function transportFailure(error: unknown, signal: AbortSignal, server: string): Error {
  if (signal.aborted) return abortFailure(signal, server);
  if (error instanceof LaunchFailure) return error;
  const code = errnoOf(error);
  if (code && /CERT|SELF_SIGNED|TLS|SSL|UNABLE_TO_VERIFY|ERR_TLS/i.test(code)) {
    return new LaunchFailure(
      'unreachable',
      `the API server ${server} presented a certificate the kubeconfig's CA does not verify (${code})`,
      [
        'The kubeconfig is stale or for another cluster: refresh it (aws eks update-kubeconfig --name <CLUSTER>) and retry.',
      ],
    );
  }
  if (code && CONNECT_ERRORS.has(code)) {
    return new LaunchFailure('unreachable', `cannot reach the API server ${server} (${code})`, [
      'Check that this machine reaches it (VPN, private endpoint): kubectl cluster-info',
    ]);
  }
  return new LaunchFailure('unreachable', `cannot reach the API server ${server}: ${messageOf(error)}`, [
    'Check that this machine reaches it: kubectl cluster-info',
  ]);
}

function errnoOf(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
    e = typeof e === 'object' && e !== null && 'cause' in e ? e.cause : undefined;
  }
  return undefined;
}
