import {
  AssumeRoleCommand,
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
  STSClient,
} from '@aws-sdk/client-sts';
import type { HttpAnswer, NetClient } from './http';
import { deadlineSignal } from './http';
import { stsRegionalUrl } from './partitions';
import { Secret } from './secrets';

/** Short-lived credentials held only in memory, used for one call and dropped. */
export interface SessionCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: Secret;
  readonly sessionToken: Secret | undefined;
}

/** Where an STS call goes: the region it is signed for and the URL it is sent to. */
export interface StsTarget {
  readonly region: string;
  readonly endpoint: string;
  /** Per-call deadline; STS_TIMEOUT_MS when unset. */
  readonly timeoutMs?: number;
}

export const STS_TIMEOUT_MS = 5_000;

interface SdkHttpRequest {
  readonly method: string;
  readonly protocol: string;
  readonly hostname: string;
  readonly port?: number;
  readonly path: string;
  readonly query?: Record<string, string | string[] | null>;
  readonly headers: Record<string, string>;
  readonly body?: unknown;
}

/**
 * What answered was not STS: the Query protocol always answers with an XML document (text/xml), errors
 * included, so an HTML page, plain text or raw bytes come from something else at that address (a proxy or
 * captive portal, a load balancer, an endpoint override naming another service). Without this the SDK
 * reports an "XML parse error" or, for a 200 page, an answer without credentials.
 */
export class ForeignAnswerError extends Error {
  override readonly name = 'ForeignAnswerError';
  constructor(
    readonly status: number,
    readonly contentType: string,
    body: string,
  ) {
    // Server text: bounded, and reduced to printable ASCII so it is safe evidence anywhere.
    const excerpt = body
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 120)
      .replace(/[^\x20-\x7e]/g, '.');
    super(`HTTP ${status} ${contentType || '(no content type)'}${excerpt ? ` "${excerpt}"` : ' with an empty body'}`);
  }
}

/**
 * The STS endpoint is not a URL the SDKs can call (a typo in AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL, or a
 * region that makes no host name). Thrown before the SDK is involved: otherwise it fails with a bare
 * "TypeError: Invalid URL", which would read as an answer of STS.
 */
export class StsEndpointError extends Error {
  override readonly name = 'StsEndpointError';
  constructor(
    readonly endpoint: string,
    readonly problem: string,
  ) {
    super(`${endpoint.slice(0, 200)} ${problem}`);
  }
}

/** Why an STS endpoint URL cannot be called, or undefined when it can. */
export function stsEndpointProblem(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return `has the scheme ${url.protocol} (not http or https)`;
  if (url.hostname === '') return 'has no host';
  return undefined;
}

function checkEndpoint(target: StsTarget): void {
  const problem = stsEndpointProblem(target.endpoint);
  if (problem) throw new StsEndpointError(target.endpoint, problem);
}

/**
 * A smithy request handler on top of the Context's NetClient, so SDK calls get the same hard deadlines,
 * abort signal, no-proxy rule and failure classification as every other call of the tool. Network failures
 * surface as NetError, which classifyStsError maps to STS_UNREACHABLE.
 */
export function sdkRequestHandler(net: NetClient, timeoutMs: number) {
  return {
    metadata: { handlerProtocol: 'http/1.1' },
    updateHttpClientConfig(): void {},
    httpHandlerConfigs: () => ({}),
    async handle(request: SdkHttpRequest, options?: { abortSignal?: AbortSignal }) {
      const query = Object.entries(request.query ?? {})
        .flatMap(([k, v]) =>
          v === null
            ? [encodeURIComponent(k)]
            : [v].flat().map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(x)}`),
        )
        .join('&');
      const port = request.port ? `:${request.port}` : '';
      const url = `${request.protocol}//${request.hostname}${port}${request.path}${query ? `?${query}` : ''}`;
      const answer: HttpAnswer = await net.request(url, {
        method: request.method,
        headers: request.headers,
        body: typeof request.body === 'string' || request.body instanceof Uint8Array ? request.body : undefined,
        timeoutMs,
        signal: options?.abortSignal as AbortSignal | undefined,
      });
      const contentType = (answer.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
      const text = answer.body.toString('utf8');
      // A missing content type is let through (the SDK parses the body regardless); a non-XML one is not STS.
      if ((contentType !== '' && !/xml/i.test(contentType)) || !text.trimStart().startsWith('<')) {
        throw new ForeignAnswerError(answer.status, contentType, text);
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined) headers[k] = v;
      return {
        response: { statusCode: answer.status, reason: undefined, headers, body: new Uint8Array(answer.body) },
      };
    },
  };
}

/**
 * An STS client configured only from what it is given: region and endpoint explicit (the SDK would otherwise
 * read process.env, which with --target is not the app's env), one attempt, our handler. Without credentials
 * it is for the unsigned AssumeRoleWithWebIdentity (docs/mechanics.md 3.2: `smithy.api#noAuth`); the anonymous
 * identity only stops the SDK from ever running its default chain.
 */
export function stsClient(net: NetClient, target: StsTarget, credentials?: SessionCredentials): STSClient {
  return new STSClient({
    region: target.region,
    endpoint: target.endpoint,
    maxAttempts: 1,
    defaultsMode: 'legacy',
    requestHandler: sdkRequestHandler(net, target.timeoutMs ?? STS_TIMEOUT_MS),
    credentials: credentials
      ? {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey.reveal(),
          ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken.reveal() } : {}),
        }
      : { accessKeyId: 'ANONYMOUS', secretAccessKey: 'ANONYMOUS' },
    logger: silentLogger,
  });
}

// The SDK logs warnings to the console by default; a check never prints.
const silentLogger = { debug() {}, info() {}, warn() {}, error() {}, trace() {} };

/**
 * The signal handed to the SDK. The SDK rejects with a bare AbortError the moment its signal aborts, which
 * would hide the handler's classified timeout (STS_UNREACHABLE with the endpoint); so the call's deadline is
 * the handler's timeoutMs, and the SDK's signal fires only 500 ms after it, as a backstop.
 */
function sdkSignal(signal: AbortSignal, target: StsTarget): AbortSignal {
  return deadlineSignal(signal, (target.timeoutMs ?? STS_TIMEOUT_MS) + 500);
}

export interface AssumedRole {
  readonly assumedRoleArn: string;
  readonly credentials: SessionCredentials;
}

/** AssumeRoleWithWebIdentity as the JS SDK's fromTokenFile makes it. Throws what the SDK throws. */
export async function assumeRoleWithWebIdentity(
  net: NetClient,
  target: StsTarget,
  params: { readonly roleArn: string; readonly sessionName: string; readonly token: Secret },
  signal: AbortSignal,
): Promise<AssumedRole> {
  checkEndpoint(target);
  const client = stsClient(net, target);
  try {
    const out = await client.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: params.roleArn,
        RoleSessionName: params.sessionName,
        WebIdentityToken: params.token.reveal(),
      }),
      { abortSignal: sdkSignal(signal, target) },
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) {
      // An answer of STS (the SDK parsed it), only an incomplete one: classified as STS's, with its status.
      throw Object.assign(new Error('STS answered without credentials'), {
        name: 'IncompleteAnswer',
        $metadata: out.$metadata,
      });
    }
    return {
      assumedRoleArn: out.AssumedRoleUser?.Arn ?? '',
      credentials: {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: new Secret(c.SecretAccessKey),
        sessionToken: c.SessionToken ? new Secret(c.SessionToken) : undefined,
      },
    };
  } finally {
    client.destroy();
  }
}

/** sts:AssumeRole with the given credentials: one hop of a profile's role chain (source_profile, credential_source). */
export async function assumeRole(
  net: NetClient,
  target: StsTarget,
  credentials: SessionCredentials,
  params: {
    readonly roleArn: string;
    readonly sessionName: string;
    readonly externalId: string | undefined;
    readonly durationSeconds: number;
  },
  signal: AbortSignal,
): Promise<AssumedRole> {
  const client = stsClient(net, target, credentials);
  try {
    const out = await client.send(
      new AssumeRoleCommand({
        RoleArn: params.roleArn,
        RoleSessionName: params.sessionName,
        ExternalId: params.externalId,
        DurationSeconds: params.durationSeconds,
      }),
      { abortSignal: sdkSignal(signal, target) },
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('STS answered without credentials');
    return {
      assumedRoleArn: out.AssumedRoleUser?.Arn ?? '',
      credentials: {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: new Secret(c.SecretAccessKey),
        sessionToken: c.SessionToken ? new Secret(c.SessionToken) : undefined,
      },
    };
  } finally {
    client.destroy();
  }
}

export interface CallerIdentity {
  readonly arn: string;
  readonly account: string;
  readonly userId: string;
}

/** GetCallerIdentity: needs no permission, works under an explicit Deny (docs/mechanics.md 7). */
export async function getCallerIdentity(
  net: NetClient,
  target: StsTarget,
  credentials: SessionCredentials,
  signal: AbortSignal,
): Promise<CallerIdentity> {
  checkEndpoint(target);
  const client = stsClient(net, target, credentials);
  try {
    const out = await client.send(new GetCallerIdentityCommand({}), { abortSignal: sdkSignal(signal, target) });
    return { arn: out.Arn ?? '', account: out.Account ?? '', userId: out.UserId ?? '' };
  } finally {
    client.destroy();
  }
}

/**
 * Where the JS SDK's web-identity STS call goes (docs/mechanics.md 4.1): region from AWS_REGION only (never
 * AWS_DEFAULT_REGION), else us-east-1; endpoint AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, else regional.
 */
export function jsStsTarget(
  env: Readonly<Record<string, string | undefined>>,
  region:
    | { readonly region: string | undefined; readonly regionSource: string | undefined; readonly stsEndpoint: string }
    | undefined,
): StsTarget {
  const chosen =
    region !== undefined
      ? region.regionSource === 'AWS_REGION' && region.region
        ? region.region
        : 'us-east-1'
      : env.AWS_REGION || 'us-east-1';
  // env.region already decided the JS endpoint; the fallback repeats its rule when that check did not run.
  if (region?.stsEndpoint) return { region: chosen, endpoint: region.stsEndpoint };
  const override = env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL;
  return { region: chosen, endpoint: override || stsRegionalUrl(chosen) };
}
