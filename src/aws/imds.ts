import type { HttpAnswer, NetClient } from './http';
import { NetError, describeNetFailure } from './http';
import { Secret } from './secrets';
import type { SessionCredentials } from './sts-client';
import { partitionOfRegion } from './partitions';

export const IMDS_TIMEOUT_MS = 1_000;
export const DEFAULT_IMDS_ENDPOINT = 'http://169.254.169.254';

/** AWS_EC2_METADATA_SERVICE_ENDPOINT, else the IPv4 default; no trailing slash. */
export function imdsEndpoint(env: Readonly<Record<string, string | undefined>>): string {
  return (env.AWS_EC2_METADATA_SERVICE_ENDPOINT || DEFAULT_IMDS_ENDPOINT).replace(/\/+$/, '');
}

/** How far a pod gets into IMDS (docs/mechanics.md 6). */
export type ImdsReach =
  /** No route, refused, DNS: not an EC2 node, or IMDS is switched off. */
  | { readonly kind: 'unreachable'; readonly why: string }
  /** The v2 token PUT timed out and v1 is refused or times out too: hop limit 1 doing its job. */
  | { readonly kind: 'blocked'; readonly why: string }
  /** Metadata answers but the node has no instance profile. */
  | { readonly kind: 'no-role'; readonly version: 'v1' | 'v2' }
  /** The role name is visible; credentials could not be read. */
  | {
      readonly kind: 'role-only';
      readonly version: 'v1' | 'v2';
      readonly nodeRoleArn: string | undefined;
      readonly why: string;
    }
  | {
      readonly kind: 'credentials';
      readonly version: 'v1' | 'v2';
      readonly roleName: string;
      readonly nodeRoleArn: string | undefined;
      readonly instanceId: string | undefined;
      readonly credentials: SessionCredentials;
    };

const IMDS_TOKEN = /^[A-Za-z0-9+/=_.-]{1,1024}$/;

interface Session {
  readonly endpoint: string;
  readonly token: Secret | undefined;
}

async function get(net: NetClient, session: Session, path: string, signal: AbortSignal): Promise<HttpAnswer> {
  return net.request(`${session.endpoint}${path}`, {
    headers: session.token ? { 'x-aws-ec2-metadata-token': session.token.reveal() } : {},
    timeoutMs: IMDS_TIMEOUT_MS,
    signal,
    maxBytes: 64 * 1024,
  });
}

/**
 * IMDSv2 token first, then IMDSv1 the way the SDKs fall back (timeout or 403/404/405 on the PUT), then the
 * role name, the instance identity document and the role's credentials. Each call has the SDKs' 1 s timeout.
 */
export async function reachImds(net: NetClient, endpoint: string, signal: AbortSignal): Promise<ImdsReach> {
  let token: Secret | undefined;
  let putFailure: NetError | undefined;
  const putDeadline = new AbortController();
  const stopLiveness = shortenPutOnceAlive(net, endpoint, signal, putDeadline);
  try {
    const answer = await net.request(`${endpoint}/latest/api/token`, {
      method: 'PUT',
      headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' },
      timeoutMs: IMDS_TIMEOUT_MS,
      signal: AbortSignal.any([signal, putDeadline.signal]),
      maxBytes: 4096,
    });
    if (answer.status === 200) {
      const text = answer.body.toString('utf8').trim();
      // An IMDSv2 token is one base64-like word. Anything else (an HTML page, bytes) would be sent back as a
      // header the HTTP stack refuses: what answered is not IMDS, and no SDK gets node credentials through it.
      if (!IMDS_TOKEN.test(text)) {
        const type = answer.headers['content-type']?.split(';')[0] ?? 'no content type';
        return {
          kind: 'unreachable',
          why: `the IMDSv2 token request got HTTP 200 (${type}) with a body that is not a token: something other than IMDS answers at ${endpoint}`,
        };
      }
      token = new Secret(text);
    } else if (answer.status === 400)
      return { kind: 'unreachable', why: 'the IMDSv2 token request was rejected (400)' };
  } catch (error) {
    if (!(error instanceof NetError)) throw error;
    if (error.kind !== 'connect-timeout' && error.kind !== 'read-timeout') {
      return { kind: 'unreachable', why: describeNetFailure(error) };
    }
    putFailure = error;
  } finally {
    stopLiveness();
  }
  const session: Session = { endpoint, token };
  const version = token ? 'v2' : 'v1';

  let roleList: HttpAnswer;
  try {
    roleList = await get(net, session, '/latest/meta-data/iam/security-credentials/', signal);
  } catch (error) {
    if (!(error instanceof NetError)) throw error;
    return putFailure
      ? { kind: 'blocked', why: `the IMDSv2 token PUT timed out and IMDSv1 ${describeNetFailure(error)}` }
      : { kind: 'unreachable', why: describeNetFailure(error) };
  }
  if (roleList.status === 401 && putFailure) {
    return { kind: 'blocked', why: 'the IMDSv2 token PUT timed out (hop limit 1) and IMDSv1 is disabled (401)' };
  }
  if (roleList.status === 404) return { kind: 'no-role', version };
  if (roleList.status !== 200) {
    return { kind: 'unreachable', why: `IMDS answered HTTP ${roleList.status} for the role name` };
  }
  const roleName = roleList.body.toString('utf8').split('\n')[0]?.trim() ?? '';
  if (!/^[\w+=,.@-]{1,64}$/.test(roleName)) return { kind: 'no-role', version };

  let accountId: string | undefined;
  let region: string | undefined;
  let instanceId: string | undefined;
  try {
    const doc = await get(net, session, '/latest/dynamic/instance-identity/document', signal);
    if (doc.status === 200) {
      const json = JSON.parse(doc.body.toString('utf8')) as Record<string, unknown>;
      accountId = typeof json.accountId === 'string' ? json.accountId : undefined;
      region = typeof json.region === 'string' ? json.region : undefined;
      instanceId = typeof json.instanceId === 'string' ? json.instanceId : undefined;
    }
  } catch {
    // The document only adds the account to the role ARN; its absence is not a finding.
  }
  const nodeRoleArn =
    accountId && /^\d{12}$/.test(accountId)
      ? `arn:${partitionOfRegion(region ?? '')}:iam::${accountId}:role/${roleName}`
      : undefined;

  try {
    const answer = await get(net, session, `/latest/meta-data/iam/security-credentials/${roleName}`, signal);
    if (answer.status !== 200) {
      return { kind: 'role-only', version, nodeRoleArn, why: `HTTP ${answer.status} for the credentials` };
    }
    const c = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
    if (typeof c.AccessKeyId !== 'string' || typeof c.SecretAccessKey !== 'string') {
      return { kind: 'role-only', version, nodeRoleArn, why: 'the credentials document has no keys' };
    }
    return {
      kind: 'credentials',
      version,
      roleName,
      nodeRoleArn,
      instanceId,
      credentials: {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: new Secret(c.SecretAccessKey),
        sessionToken: typeof c.Token === 'string' ? new Secret(c.Token) : undefined,
      },
    };
  } catch (error) {
    const why = error instanceof NetError ? describeNetFailure(error) : 'the credentials document is not JSON';
    return { kind: 'role-only', version, nodeRoleArn, why };
  }
}

/** Once a plain GET to the same IMDS has answered in t ms, the token PUT gets max(200 ms, 10 t) in all. */
const PUT_GRACE_MIN_MS = 200;
const PUT_GRACE_FACTOR = 10;
const PUT_GRACE_AFTER_GET_MS = 50;

/**
 * With hop limit 1 (the EKS AL2023 default) the answer to the token PUT is dropped on its way to the pod
 * while every GET answer arrives: the PUT can only time out. Waiting the SDKs' full 1 s for that made every
 * healthy diagnosis take a second. So an unauthenticated GET of /latest/meta-data/ runs beside the PUT; when
 * it answers (401 with v1 disabled, 200 otherwise) IMDS is alive and quick, and the PUT's deadline shrinks
 * to a multiple of that round trip. A slow or loaded IMDS answers the GET slowly and so keeps a long PUT
 * deadline. Returns the function that stops the watcher once the PUT has settled.
 */
function shortenPutOnceAlive(
  net: NetClient,
  endpoint: string,
  signal: AbortSignal,
  putDeadline: AbortController,
): () => void {
  const started = Date.now();
  const done = new AbortController();
  const stall = stallMeter();
  let timer: ReturnType<typeof setTimeout> | undefined;
  net
    .request(`${endpoint}/latest/meta-data/`, {
      timeoutMs: IMDS_TIMEOUT_MS,
      signal: AbortSignal.any([signal, done.signal]),
      maxBytes: 4096,
    })
    .then(
      () => {
        stall.stop();
        if (done.signal.aborted) return;
        const elapsed = Date.now() - started;
        // While this process was busy (loading the AWS SDK, verifying a signature) the answer waited in the
        // socket: that time says nothing about IMDS, so it does not stretch the PUT's deadline.
        const roundTrip = Math.max(1, elapsed - stall.stalledMs());
        const grace = Math.max(PUT_GRACE_MIN_MS, PUT_GRACE_FACTOR * roundTrip) - elapsed;
        const reason = Object.assign(new Error(`no token while a plain GET to the same IMDS answered`), {
          name: 'TimeoutError',
        });
        // However late the GET's answer was read, the PUT keeps a moment to be read too.
        timer = setTimeout(() => putDeadline.abort(reason), Math.max(PUT_GRACE_AFTER_GET_MS, grace));
      },
      () => stall.stop(),
    );
  return () => {
    stall.stop();
    done.abort();
    clearTimeout(timer);
  };
}

/** How long this process's event loop was blocked since the meter started: ticks that came late, summed. */
function stallMeter(): { stalledMs(): number; stop(): void } {
  const TICK_MS = 5;
  let stalled = 0;
  let last = Date.now();
  const interval = setInterval(() => {
    const now = Date.now();
    stalled += Math.max(0, now - last - TICK_MS);
    last = now;
  }, TICK_MS);
  return {
    stalledMs: () => stalled + Math.max(0, Date.now() - last - TICK_MS),
    stop: () => clearInterval(interval),
  };
}
