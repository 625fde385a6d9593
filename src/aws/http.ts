import dns from 'node:dns';
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

/**
 * Why a network call got no HTTP answer. `connect-timeout` vs `read-timeout` is the difference between
 * "nothing listens / packets dropped" (iptables, hop limit, no route) and "something accepted the connection
 * but never answered" (a black hole, a hung agent, a proxy).
 */
export type NetFailureKind =
  | 'dns'
  | 'refused'
  | 'connect-timeout'
  | 'read-timeout'
  | 'tls'
  | 'reset'
  | 'truncated'
  | 'unreachable'
  | 'aborted'
  | 'invalid-url'
  | 'other';

export class NetError extends Error {
  override readonly name = 'NetError';
  constructor(
    readonly kind: NetFailureKind,
    readonly url: string,
    /** The errno or library code (ENOTFOUND, ECONNREFUSED, ERR_TLS_CERT_ALTNAME_INVALID, ...), when there is one. */
    readonly code: string | undefined,
    detail: string,
  ) {
    super(detail);
  }
}

/** A human sentence for a failure, e.g. "connection refused by 127.0.0.1:4000". */
export function describeNetFailure(error: NetError): string {
  const where = hostOf(error.url);
  switch (error.kind) {
    case 'dns':
      return `the name ${where} does not resolve (${error.code ?? 'DNS error'})`;
    case 'refused':
      return `connection refused by ${where} (nothing listens there)`;
    case 'connect-timeout':
      return `no connection to ${where} within the timeout (packets dropped: firewall, no route or hop limit)`;
    case 'read-timeout':
      return `${where} accepted the connection but did not send a complete answer within the timeout`;
    case 'tls':
      return `TLS handshake with ${where} failed (${error.code ?? error.message})`;
    case 'reset':
      return `${where} reset the connection`;
    case 'truncated':
      return `${where} closed the connection before its answer was complete (${error.message}): a proxy or middlebox in between, or a failing server`;
    case 'unreachable':
      return `${where} is unreachable from this network (${error.code ?? 'no route'})`;
    case 'aborted':
      return `the call to ${where} was cancelled (deadline reached)`;
    case 'invalid-url':
      return `"${error.url.slice(0, 200)}" is not a usable URL`;
    case 'other':
      return `the call to ${where} failed: ${error.message}`;
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url.slice(0, 200);
  }
}

export interface HttpRequestInit {
  readonly method?: string;
  /** Sent as given; a `host` entry is kept (the Pod Identity agent checks it, docs/mechanics.md 5). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  /** Deadline for the whole exchange, connect included. */
  readonly timeoutMs: number;
  /** Shorter deadline for the TCP/TLS connection alone; defaults to timeoutMs. */
  readonly connectTimeoutMs?: number;
  readonly signal?: AbortSignal;
  /** The body is read up to this many bytes, the rest is dropped (default 1 MiB). */
  readonly maxBytes?: number;
  /**
   * Says why an address must not be connected to (undefined: allowed). Checked for an IP literal before the call
   * and for every address a name resolves to, in the lookup the connection itself uses (so a second resolution
   * cannot give another address). A refusal fails with NetError kind `other`, code ADDRESS_REFUSED.
   */
  readonly refuseAddress?: (address: string) => string | undefined;
}

/** The code of a request refused by HttpRequestInit.refuseAddress. */
export const ADDRESS_REFUSED = 'ADDRESS_REFUSED';

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/** dns.lookup for the connection, refusing the whole name when any of its addresses is refused. */
function guardedLookup(refuse: (address: string) => string | undefined) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const refused = addresses.map((a) => refuse(a.address)).find((why) => why !== undefined);
      if (refused !== undefined) {
        const denied: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${refused}: not connected to`);
        denied.code = ADDRESS_REFUSED;
        return callback(denied, []);
      }
      const [first] = addresses;
      if (options.all) return callback(null, addresses);
      if (!first) return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), []);
      return callback(null, first.address, first.family);
    });
  };
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
  /** The server sent more than maxBytes. */
  readonly truncated: boolean;
}

/** What a DNS + TCP (+ TLS) probe of an endpoint saw. */
export interface ProbeResult {
  readonly url: string;
  readonly address: string | undefined;
  readonly ok: boolean;
  readonly failure: NetError | undefined;
  readonly elapsedMs: number;
}

/** The network as the checks see it: plain HTTP(S) with hard deadlines, never through a proxy. */
export interface NetClient {
  /** Resolves with any HTTP status; rejects only with NetError. */
  request(url: string, init: HttpRequestInit): Promise<HttpAnswer>;
  /** DNS, TCP connect and, for https, the TLS handshake; no HTTP request is sent. */
  probe(url: string, init: { readonly timeoutMs: number; readonly signal?: AbortSignal }): Promise<ProbeResult>;
}

export const DEFAULT_MAX_BYTES = 1024 * 1024;

/**
 * node:http/https directly: no agent pooling (every call is a fresh connection that is torn down at the
 * deadline) and no proxy. The SDKs' default Node handlers ignore HTTP(S)_PROXY too; the proxy check reports
 * proxies separately, so probing around them here shows what the SDK itself would see.
 */
export function createNetClient(): NetClient {
  return { request: httpRequest, probe: probeEndpoint };
}

export function httpRequest(url: string, init: HttpRequestInit): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new NetError('invalid-url', url, undefined, 'invalid URL'));
      return;
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      reject(new NetError('invalid-url', url, undefined, `unsupported scheme ${target.protocol}`));
      return;
    }
    if (init.signal?.aborted) {
      reject(new NetError('aborted', url, undefined, 'aborted before start'));
      return;
    }
    const literal = target.hostname.replace(/^\[(.*)\]$/, '$1');
    const refusedLiteral = net.isIP(literal) !== 0 ? init.refuseAddress?.(literal) : undefined;
    if (refusedLiteral !== undefined) {
      reject(new NetError('other', url, ADDRESS_REFUSED, `${refusedLiteral}: not connected to`));
      return;
    }
    const maxBytes = init.maxBytes ?? DEFAULT_MAX_BYTES;
    let connected = false;
    let settled = false;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const finish = (outcome: { answer: HttpAnswer } | { error: NetError }) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      init.signal?.removeEventListener('abort', onAbort);
      if ('answer' in outcome) resolve(outcome.answer);
      else reject(outcome.error);
      request.destroy();
    };
    const fail = (kind: NetFailureKind, code: string | undefined, detail: string) =>
      finish({ error: new NetError(kind, url, code, detail) });
    // A caller's own deadline (AbortSignal.timeout, deadlineSignal) is a timeout like timeoutMs, not a cancel.
    const onAbort = () => {
      // AbortSignal.timeout's reason is a DOMException, which is not an Error under every runtime (Bun).
      const reason = init.signal?.reason as { name?: unknown } | undefined;
      if (reason?.name === 'TimeoutError') {
        if (connected) fail('read-timeout', 'ETIMEDOUT', 'no complete answer within the call deadline');
        else fail('connect-timeout', 'ETIMEDOUT', 'no connection within the call deadline');
      } else fail('aborted', undefined, 'aborted');
    };

    const transport = target.protocol === 'https:' ? https : http;
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    const headers: Record<string, string> = { ...init.headers };
    if (body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
      headers['content-length'] = String(body.length);
    }
    let request: http.ClientRequest;
    try {
      request = transport.request(target, {
        method: init.method ?? 'GET',
        headers,
        agent: false,
        ...(init.refuseAddress ? { lookup: guardedLookup(init.refuseAddress) as unknown as typeof dns.lookup } : {}),
        // The host header, when given, is sent as given; a URL with an IPv6 literal is connected to unbracketed.
        setHost: !Object.keys(headers).some((h) => h.toLowerCase() === 'host'),
      });
    } catch (error) {
      // Node refuses header values with CR/LF before any I/O (ERR_INVALID_CHAR); the SDKs refuse them too.
      const code = (error as NodeJS.ErrnoException).code;
      reject(new NetError('other', url, code, `request not sent: ${(error as Error).message}`));
      return;
    }
    const connectTimeout = Math.min(init.connectTimeoutMs ?? init.timeoutMs, init.timeoutMs);
    timers.push(
      setTimeout(() => {
        if (!connected) fail('connect-timeout', 'ETIMEDOUT', `no connection within ${connectTimeout} ms`);
      }, connectTimeout),
    );
    timers.push(
      setTimeout(() => {
        if (connected) fail('read-timeout', 'ETIMEDOUT', `no complete answer within ${init.timeoutMs} ms`);
        else fail('connect-timeout', 'ETIMEDOUT', `no connection within ${init.timeoutMs} ms`);
      }, init.timeoutMs),
    );
    init.signal?.addEventListener('abort', onAbort, { once: true });

    request.on('socket', (socket: net.Socket) => {
      const markConnected = () => (connected = true);
      if (socket.connecting) {
        socket.once(target.protocol === 'https:' ? 'secureConnect' : 'connect', markConnected);
      } else markConnected();
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      const { kind, code } = classifySocketError(error, connected);
      fail(kind, code, error.message);
    });
    request.on('response', (response) => {
      connected = true;
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const answer = (): HttpAnswer => ({
        status: response.statusCode ?? 0,
        headers: flattenHeaders(response.headers),
        body: Buffer.concat(chunks),
        truncated,
      });
      response.on('data', (chunk: Buffer) => {
        if (truncated) return;
        const room = maxBytes - size;
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          size = maxBytes;
          truncated = true;
          // Enough read: stop the transfer instead of downloading the rest of a huge body.
          finish({ answer: answer() });
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      response.on('end', () => finish({ answer: answer() }));
      // A body cut short (the server closed mid-body, or sent less than its Content-Length) ends with 'error'
      // (ECONNRESET "aborted") and/or 'close' and no 'end': the server answered, but not whole.
      const cutShort = () => {
        const expected = response.headers['content-length'];
        return `got ${size} of ${expected ?? 'an unknown number of'} bytes`;
      };
      response.on('error', (error: NodeJS.ErrnoException) => {
        const { kind, code } = classifySocketError(error, true);
        if (kind === 'reset' || kind === 'other') fail('truncated', code, cutShort());
        else fail(kind, code, error.message);
      });
      response.on('close', () => {
        if (!response.complete) fail('truncated', 'ECONNRESET', cutShort());
      });
    });
    request.end(body);
  });
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH)/;

/** errno and library codes to a failure kind (one place, shared by requests and probes). */
export function classifySocketError(
  error: NodeJS.ErrnoException,
  connected: boolean,
): { kind: NetFailureKind; code: string | undefined } {
  const code = error.code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NODATA' || code === 'EAI_FAIL') {
    return { kind: 'dns', code };
  }
  if (code === 'ECONNREFUSED') return { kind: 'refused', code };
  if (code === 'ETIMEDOUT') return { kind: connected ? 'read-timeout' : 'connect-timeout', code };
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') {
    return { kind: 'unreachable', code };
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') return { kind: 'reset', code };
  if ((code && TLS_CODE.test(code)) || /certificate|ssl|tls/i.test(error.message)) return { kind: 'tls', code };
  return { kind: 'other', code };
}

export async function probeEndpoint(
  url: string,
  init: { readonly timeoutMs: number; readonly signal?: AbortSignal },
): Promise<ProbeResult> {
  const started = Date.now();
  const done = (address: string | undefined, failure?: NetError): ProbeResult => ({
    url,
    address,
    ok: failure === undefined,
    failure,
    elapsedMs: Date.now() - started,
  });
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return done(undefined, new NetError('invalid-url', url, undefined, 'invalid URL'));
  }
  const secure = target.protocol === 'https:';
  const port = Number(target.port || (secure ? 443 : 80));
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  const deadline = started + init.timeoutMs;

  let address: string;
  if (net.isIP(host)) address = host;
  else {
    try {
      const found = await withDeadline(lookup(host), deadline, init.signal);
      if (found === 'timeout') return done(undefined, new NetError('dns', url, 'ETIMEOUT', 'DNS lookup timed out'));
      address = found.address;
    } catch (error) {
      const { kind, code } = classifySocketError(error as NodeJS.ErrnoException, false);
      return done(undefined, new NetError(kind === 'other' ? 'dns' : kind, url, code, (error as Error).message));
    }
  }

  return new Promise<ProbeResult>((resolve) => {
    let connected = false;
    let settled = false;
    const socket: net.Socket = secure
      ? tls.connect({ host: address, port, servername: net.isIP(host) ? undefined : host })
      : net.connect({ host: address, port });
    const end = (failure?: NetError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      init.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(done(address, failure));
    };
    const onAbort = () => end(new NetError('aborted', url, undefined, 'aborted'));
    const timer = setTimeout(
      () =>
        end(
          new NetError(
            connected ? 'tls' : 'connect-timeout',
            url,
            'ETIMEDOUT',
            connected ? 'TLS handshake timed out' : 'connect timed out',
          ),
        ),
      Math.max(0, deadline - Date.now()),
    );
    if (init.signal?.aborted) onAbort();
    init.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      connected = true;
      if (!secure) end();
    });
    if (secure) socket.once('secureConnect', () => end());
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const { kind, code } = classifySocketError(error, connected);
      end(new NetError(connected && secure && kind === 'other' ? 'tls' : kind, url, code, error.message));
    });
  });
}

async function withDeadline<T>(work: Promise<T>, deadline: number, signal?: AbortSignal): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const expiry = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
    onAbort = () => resolve('timeout');
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, expiry]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** Combines the runner's signal with a call's own deadline: whichever comes first. */
export function deadlineSignal(signal: AbortSignal, ms: number): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(ms)]);
}
