import type { FindingCode } from '../run/findings';
import { isSignatureTimeError } from './clock';
import type { NetFailureKind } from './http';
import { NetError, describeNetFailure } from './http';

/**
 * One STS answer (or the lack of one), classified. Every STS error of every check goes through
 * classifyStsError / classifyStsAnswer, so a wire code maps to exactly one finding code everywhere
 * (docs/mechanics.md 3.3).
 */
export interface StsFailure {
  readonly code: FindingCode;
  /** The wire code as STS sent it, or the SDK's exception name, or the network failure kind. */
  readonly wireCode: string;
  /** STS's own message, bounded; server text, so renderers escape it. */
  readonly message: string;
  readonly httpStatus: number | undefined;
  /** What it means, in the user's words. */
  readonly explanation: string;
  /** Set when no answer came back at all. */
  readonly network: NetFailureKind | undefined;
  /** Set when something answered, but not STS (an HTML page, plain text, bytes that are not its XML). */
  readonly foreign?: boolean;
  /** Set when no request was sent: the endpoint is not callable, or the SDK failed before sending it. */
  readonly local?: boolean;
}

const MAX_MESSAGE = 500;

/**
 * The JS SDK names modelled errors `<Code>Exception` (InvalidIdentityTokenException) but keeps unmodelled
 * ones as the wire code (AccessDenied); ExpiredTokenException and RegionDisabledException carry the suffix on
 * the wire too. Strip it to compare one form.
 */
function baseCode(code: string): string {
  return code.endsWith('Exception') ? code.slice(0, -'Exception'.length) : code;
}

/** Classifies a wire code (or SDK exception name) and message from STS. Pure; also usable on pasted log text. */
export function classifyStsAnswer(wireCode: string, rawMessage: string, httpStatus?: number): StsFailure {
  const message = rawMessage.length > MAX_MESSAGE ? `${rawMessage.slice(0, MAX_MESSAGE)}...` : rawMessage;
  const base = (code: FindingCode, explanation: string): StsFailure => ({
    code,
    wireCode,
    message,
    httpStatus,
    explanation,
    network: undefined,
  });
  if (/rate exceeded/i.test(message)) {
    return base(
      'STS_THROTTLED',
      'STS throttled the call (Rate exceeded); apps that build a new session per call hit this at scale.',
    );
  }
  switch (baseCode(wireCode)) {
    case 'AccessDenied':
      return base(
        'TRUST_POLICY_DENIED',
        "STS refused AssumeRoleWithWebIdentity: the role's trust policy does not allow this token (wrong Federated provider ARN, a :sub or :aud condition that does not match, a wildcard under StringEquals), or the role does not exist.",
      );
    case 'InvalidIdentityToken':
      if (/No OpenIDConnect provider found/i.test(message)) {
        return base(
          'OIDC_PROVIDER_NOT_REGISTERED',
          "The role's account has no IAM OIDC identity provider for this cluster's issuer. Cross-account: the provider must exist in the account that owns the role.",
        );
      }
      if (/Incorrect token audience/i.test(message)) {
        return base(
          'OIDC_AUDIENCE_NOT_ALLOWED',
          "The token's aud is not in the IAM OIDC provider's client-ID list (usually sts.amazonaws.com is missing, or the ServiceAccount's audience annotation has a typo).",
        );
      }
      if (/retrieve verification key/i.test(message)) {
        return base(
          'OIDC_KEYS_UNRETRIEVABLE',
          "STS could not fetch the issuer's JWKS or find the token's kid in it (self-hosted issuer not publicly reachable, rotated keys, or a transient AWS-side failure).",
        );
      }
      if (/thumbprint/i.test(message)) {
        return base(
          'STS_ERROR',
          "The IAM OIDC provider's configured thumbprint does not match the issuer's certificate (legacy thumbprint validation).",
        );
      }
      return base('STS_ERROR', 'STS rejected the web identity token as invalid.');
    case 'IDPCommunicationError':
      return base(
        'OIDC_KEYS_UNRETRIEVABLE',
        "STS could not talk to the identity provider (the issuer's discovery document or JWKS).",
      );
    case 'ExpiredToken':
      return base(
        'STS_TOKEN_EXPIRED',
        'STS says the token has expired: a stale cached token, a kubelet that stopped refreshing it, or clock skew.',
      );
    case 'IDPRejectedClaim':
      return base(
        'STS_ERROR',
        'The identity provider rejected a claim of the token, or the token was revoked (IDPRejectedClaim; rare for EKS).',
      );
    case 'RegionDisabled':
      return base(
        'STS_REGION_DISABLED',
        'STS is deactivated in the region this call went to: activate it in IAM account settings, or call another region.',
      );
    case 'Throttling':
    case 'TooManyRequests':
    case 'RequestLimitExceeded':
      return base('STS_THROTTLED', 'STS throttled the call.');
    case 'ValidationError':
    case 'Validation':
      if (/Request ARN is invalid/i.test(message)) {
        return base('ROLE_ARN_INVALID', 'STS says AWS_ROLE_ARN is not a valid role ARN.');
      }
      return base('STS_ERROR', 'STS rejected a parameter of the request.');
    case 'SignatureDoesNotMatch':
    case 'InvalidSignature':
      if (isSignatureTimeError(message)) {
        return base(
          'CLOCK_SKEW',
          "STS refused the request's signature for its time: the request was signed with this machine's clock, which differs from STS's by more than STS allows (15 minutes). The credentials are fine; the clock is not.",
        );
      }
      return base('STS_ERROR', 'STS does not accept these credentials (a wrong, deleted or deactivated access key).');
    case 'InvalidClientTokenId':
    case 'UnrecognizedClient':
      return base('STS_ERROR', 'STS does not accept these credentials (a wrong, deleted or deactivated access key).');
    default:
      return base('STS_ERROR', `STS answered ${wireCode}.`);
  }
}

function networkFailure(error: NetError): StsFailure {
  return {
    code: 'STS_UNREACHABLE',
    wireCode: error.kind,
    message: error.message.slice(0, MAX_MESSAGE),
    httpStatus: undefined,
    explanation: describeNetFailure(error),
    network: error.kind,
  };
}

function foreignAnswer(httpStatus: number | undefined, what: string): StsFailure {
  return {
    code: 'STS_ERROR',
    wireCode: `HTTP ${httpStatus ?? '?'}`,
    message: what.slice(0, MAX_MESSAGE),
    httpStatus,
    explanation:
      'This is not an answer of STS, which always answers in its XML, errors included: something else answers at this address (a proxy or captive portal, a load balancer, or an AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL naming another service).',
    network: undefined,
    foreign: true,
  };
}

function field(error: object, name: string): unknown {
  return (error as Record<string, unknown>)[name];
}

/** Classifies whatever an STS call threw: an SDK ServiceException, a NetError from our handler, or else. */
export function classifyStsError(error: unknown, url = ''): StsFailure {
  if (error instanceof NetError) return networkFailure(error);
  if (typeof error !== 'object' || error === null) return classifyStsAnswer('Unknown', String(error));
  const name = typeof field(error, 'name') === 'string' ? (field(error, 'name') as string) : 'Error';
  const message = typeof field(error, 'message') === 'string' ? (field(error, 'message') as string) : '';
  const code = field(error, 'Code') ?? field(error, 'code');
  const metadata = field(error, '$metadata') as { httpStatusCode?: number } | undefined;
  const httpStatus = metadata?.httpStatusCode;
  // A NetError can lose its prototype across SDK middleware in some runtimes; its name and kind survive.
  if (name === 'NetError' && typeof field(error, 'kind') === 'string') {
    return networkFailure(new NetError(field(error, 'kind') as NetFailureKind, url, undefined, message));
  }
  if (name === 'ForeignAnswerError') {
    const status = typeof field(error, 'status') === 'number' ? (field(error, 'status') as number) : undefined;
    return foreignAnswer(status, message);
  }
  if (name === 'StsEndpointError') {
    return {
      code: 'STS_ENDPOINT_INVALID',
      wireCode: 'InvalidEndpoint',
      message: message.slice(0, MAX_MESSAGE),
      httpStatus: undefined,
      explanation:
        'No request was sent: the STS endpoint every SDK in this pod would use (AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else the one the region names) is not a URL, so each SDK fails before calling STS.',
      network: undefined,
      local: true,
    };
  }
  if (name === 'AbortError') return networkFailure(new NetError('aborted', url, undefined, message));
  if (name === 'TimeoutError') return networkFailure(new NetError('read-timeout', url, undefined, message));
  // A service answer has an HTTP status; the error name is then the modelled exception or the wire code.
  if (httpStatus !== undefined) {
    const wire = typeof code === 'string' && code !== '' ? code : name;
    // XML that is not STS's (or is not well-formed): the SDK's deserializer gave up on it.
    if (/Deserialization error|XML parse error/i.test(message)) {
      return foreignAnswer(httpStatus, `HTTP ${httpStatus} with XML that is not an STS response`);
    }
    if (httpStatus >= 200 && httpStatus < 300) {
      return {
        ...classifyStsAnswer(wire, message, httpStatus),
        code: 'STS_ERROR',
        explanation: 'STS sent an answer that could not be read.',
      };
    }
    return classifyStsAnswer(wire, message, httpStatus);
  }
  // No HTTP status and no network failure: nothing reached STS, the SDK itself gave up (a TypeError from an
  // unusable region or endpoint, a bug). That is not an answer of STS and must not read like one.
  return {
    code: 'STS_ERROR',
    wireCode: name,
    message: message.slice(0, MAX_MESSAGE),
    httpStatus: undefined,
    explanation: `No request reached STS: the SDK failed before sending it (${name}${message ? `: ${message.slice(0, 200)}` : ''}).`,
    network: undefined,
    local: true,
  };
}
