import type { FindingCode } from '../run/findings';
import type { NetClient } from './http';
import { NetError } from './http';
import { redactText } from '../run/redact';
import { Secret } from './secrets';
import type { SessionCredentials } from './sts-client';

export const AGENT_TIMEOUT_MS = 2_000;
export const AGENT_IPV4 = '169.254.170.23';
export const AGENT_IPV6 = 'fd00:ec2::23';
const MAX_BODY_SHOWN = 500;

/**
 * Which answer of the agent it was. The agent's own answers come from request.go (the Host check, the token's
 * basic claims) and server.go's rate limiter; EKS Auth's errors are relayed by errors.go
 * HandleCredentialFetchingError as `[requestId]: (ErrorCode): message, fault: client|server` with EKS
 * Auth's HTTP status, and a call that got no answer from EKS Auth at all as HTTP 500 `[]` (a response error
 * with status 0 and no request id). docs/mechanics.md 5; aws/eks-pod-identity-agent @d4dc0f3.
 */
export type AgentRefusal =
  | 'address-refused'
  | 'rate-limited'
  | 'token-empty'
  | 'token-unparsable'
  | 'token-expired'
  | 'token-not-yet-valid'
  | 'trust-denied'
  | 'node-role-denied'
  | 'no-association'
  | 'eks-auth-token-expired'
  | 'eks-auth-token-invalid'
  | 'eks-auth-throttled'
  | 'eks-auth-unavailable'
  | 'eks-auth-request-invalid'
  | 'eks-auth-unreachable'
  | 'eks-auth-other'
  | 'not-the-agent'
  | 'no-credentials';

/** What the EKS Pod Identity agent's answer means (docs/mechanics.md 5: request.go, errors.go). */
export type AgentAnswer =
  | {
      readonly kind: 'credentials';
      readonly credentials: SessionCredentials;
      readonly accountId: string | undefined;
      readonly expiration: string | undefined;
    }
  | {
      readonly kind: 'refused';
      readonly refusal: AgentRefusal;
      readonly code: FindingCode;
      readonly status: number;
      /** The agent's text, bounded; server text, escaped by the renderers. */
      readonly body: string;
      /** EKS Auth's error code when the agent relayed one (`ExpiredTokenException`). */
      readonly eksAuthCode: string | undefined;
      readonly explanation: string;
    };

/** `[requestId]: (ErrorCode): message, fault: client|server`: an EKS Auth error the agent relays. */
const RELAYED = /^\[[^\]]*\]: \((\w+)\): [\s\S]*, fault: (client|server)\s*$/;
/** No answer from EKS Auth: a response error with status 0 and no request id (errors_test.go "no reply"). */
const NO_REPLY = /^\[[^\]]*\]\s*$/;
/** The transport errors of the agent's own client when the body is its plain error text. */
const TRANSPORT =
  /dial tcp|i\/o timeout|no such host|connection refused|context deadline exceeded|context canceled|TLS handshake|network is unreachable/i;

/**
 * Maps one agent answer to its meaning. The agent's errors are text/plain: its own 400/403/429 messages, or the
 * EKS Auth error relayed with EKS Auth's status.
 */
export function mapAgentAnswer(status: number, rawBody: string): AgentAnswer {
  const shown = redactCredentials(rawBody);
  const body = shown.length > MAX_BODY_SHOWN ? `${shown.slice(0, MAX_BODY_SHOWN)}...` : shown;
  const text = rawBody.trim();
  const relayed = RELAYED.exec(text);
  const eksAuthCode = relayed?.[1];
  const refused = (refusal: AgentRefusal, code: FindingCode, explanation: string): AgentAnswer => ({
    kind: 'refused',
    refusal,
    code,
    status,
    body,
    eksAuthCode,
    explanation,
  });
  if (status === 200) {
    let json: unknown;
    try {
      json = JSON.parse(rawBody);
    } catch {
      json = undefined;
    }
    const c = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
    if (typeof c.AccessKeyId === 'string' && typeof c.SecretAccessKey === 'string' && typeof c.Token === 'string') {
      return {
        kind: 'credentials',
        credentials: {
          accessKeyId: c.AccessKeyId,
          secretAccessKey: new Secret(c.SecretAccessKey),
          sessionToken: new Secret(c.Token),
        },
        accountId: typeof c.AccountId === 'string' ? c.AccountId : undefined,
        expiration: typeof c.Expiration === 'string' ? c.Expiration : undefined,
      };
    }
    return {
      kind: 'refused',
      refusal: 'no-credentials',
      code: 'STS_ERROR',
      status,
      body: '(not shown: a 200 answer without the credential fields)',
      eksAuthCode: undefined,
      explanation:
        'The agent answered 200 without AccessKeyId, SecretAccessKey and Token: this is not the EKS Pod Identity agent, or it is broken.',
    };
  }
  if (/Called agent through invalid address/i.test(text)) {
    return refused(
      'address-refused',
      'POD_IDENTITY_URI_REFUSED',
      'The agent answered, so it runs and is reachable, but it serves only requests whose Host is one of its own addresses, 169.254.170.23 or [fd00:ec2::23] (request.go validateRequestTargetHost): AWS_CONTAINER_CREDENTIALS_FULL_URI names another host (a DNS name or another IP for the same address).',
    );
  }
  if (/Service account token cannot be empty/i.test(text)) {
    return refused(
      'token-empty',
      'POD_IDENTITY_TOKEN_REJECTED',
      'The request had no token: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names an empty file, or neither it nor AWS_CONTAINER_AUTHORIZATION_TOKEN is set.',
    );
  }
  if (/Service account token cannot be parsed/i.test(text)) {
    return refused(
      'token-unparsable',
      'POD_IDENTITY_TOKEN_REJECTED',
      'The token file does not hold a JWT: something else than the projected eks-pod-identity-token is mounted or written there.',
    );
  }
  if (/basic claim validations:.*(not valid yet|used before issued)/i.test(text)) {
    return refused(
      'token-not-yet-valid',
      'CLOCK_SKEW',
      "The agent checks the token's nbf/iat with this node's clock, and finds them in the future: the node's clock is behind the API server's that issued the token (the pod and the agent share the node's clock).",
    );
  }
  if (/basic claim validations:.*expired/i.test(text)) {
    return refused(
      'token-expired',
      'POD_IDENTITY_TOKEN_REJECTED',
      "By this node's clock the token has expired: the kubelet no longer refreshes this file (a subPath mount, a copy of the token, a terminating pod), or the node's clock is ahead.",
    );
  }
  if (/Service account token/i.test(text) && status === 400) {
    return refused(
      'token-unparsable',
      'POD_IDENTITY_TOKEN_REJECTED',
      'The agent rejected the token itself (not EKS Auth).',
    );
  }
  if (
    eksAuthCode === 'AccessDeniedException' ||
    (!relayed && /AccessDeniedException|EKS does not have permissions/i.test(text))
  ) {
    if (/not authorized to perform:?\s*eks-auth:AssumeRoleForPodIdentity/i.test(text)) {
      return refused(
        'node-role-denied',
        'POD_IDENTITY_ACCESS_DENIED',
        "EKS Auth refuses the agent itself: the node's IAM role may not call eks-auth:AssumeRoleForPodIdentity (AmazonEKSWorkerNodePolicy grants it).",
      );
    }
    return refused(
      'trust-denied',
      'POD_IDENTITY_ACCESS_DENIED',
      'EKS may not assume the associated role: its trust policy lacks Principal Service pods.eks.amazonaws.com with both sts:AssumeRole and sts:TagSession, or a condition of it does not match this pod (also reported for hostNetwork pods).',
    );
  }
  if (eksAuthCode === 'ResourceNotFoundException' || (!relayed && status === 404)) {
    return refused(
      'no-association',
      'POD_IDENTITY_NO_ASSOCIATION',
      "EKS has no Pod Identity association for this pod's namespace and ServiceAccount (or the associated role no longer exists).",
    );
  }
  switch (eksAuthCode) {
    case 'ExpiredTokenException':
      return refused(
        'eks-auth-token-expired',
        'POD_IDENTITY_TOKEN_REJECTED',
        "EKS Auth says the Pod Identity token has expired: a problem of this pod's eks-pod-identity-token (not of STS), which the kubelet should have refreshed.",
      );
    case 'InvalidTokenException':
      return refused(
        'eks-auth-token-invalid',
        'POD_IDENTITY_TOKEN_REJECTED',
        'EKS Auth does not accept the token: it was not issued by this cluster for pods.eks.amazonaws.com (a hand-made token volume, another audience), or its pod no longer exists.',
      );
    case 'ThrottlingException':
      return refused(
        'eks-auth-throttled',
        'POD_IDENTITY_THROTTLED',
        "EKS Auth throttled the agent's AssumeRoleForPodIdentity: many pods of the cluster asked for credentials at once; the agent caches credentials per token, so apps that keep their SDK client get through on retry.",
      );
    case 'InternalServerException':
    case 'ServiceUnavailableException':
      return refused(
        'eks-auth-unavailable',
        'POD_IDENTITY_EKS_AUTH_UNAVAILABLE',
        `EKS Auth answered ${eksAuthCode} (HTTP ${status}): a failure on the AWS side, usually transient; the SDKs retry.`,
      );
    case 'InvalidParameterException':
    case 'InvalidRequestException':
      return refused(
        'eks-auth-request-invalid',
        'POD_IDENTITY_REQUEST_INVALID',
        `EKS Auth rejected the agent's AssumeRoleForPodIdentity as ${eksAuthCode}: the agent sends its --cluster-name and this pod's token, so the agent is set up for another cluster name, or the token is not one EKS Auth takes.`,
      );
    default:
      break;
  }
  if (status === 429 && !relayed) {
    return refused(
      'rate-limited',
      'POD_IDENTITY_AGENT_RATE_LIMITED',
      "The agent's own rate limiter answered (server.go, configuration.RequestRate): the pods of this node ask it for credentials faster than it serves them, usually an app that builds a new credential provider per call instead of caching.",
    );
  }
  if (status >= 500 && (NO_REPLY.test(text) || (!relayed && TRANSPORT.test(text)))) {
    return refused(
      'eks-auth-unreachable',
      'EKS_AUTH_UNREACHABLE',
      'The agent got no answer from EKS Auth (it gives up after 1 s): the node cannot reach eks-auth.<region>.api.aws, which a private cluster reaches through an eks-auth interface VPC endpoint, and other nodes through a NAT gateway or an egress proxy.',
    );
  }
  if (relayed) {
    return refused(
      'eks-auth-other',
      'STS_ERROR',
      `The agent could not get credentials from EKS Auth, which answered ${eksAuthCode ?? 'an error'}.`,
    );
  }
  return refused(
    'not-the-agent',
    'STS_ERROR',
    `HTTP ${status} without the agent's error format: the agent failed without saying why, or something other than the EKS Pod Identity agent answers at this address (a proxy). The eks-pod-identity-agent pod's log on this node tells which.`,
  );
}

/**
 * The agent's body as it may be shown: a misbehaving agent (or something else on its address) can send the
 * credentials JSON with a non-200 status, or echo the token it was sent, and no output may show a secret
 * key, session token or token (docs/report.md). The redaction pass runs here once more, before the body is
 * cut to its shown length, so that the cut cannot leave a piece too short to recognise.
 */
export function redactCredentials(body: string): string {
  return redactText(body);
}

export interface AgentAttempt {
  readonly url: string;
  /** The answer's meaning, or the network failure when no answer came. */
  readonly outcome: AgentAnswer | NetError;
}

/**
 * GET the credentials URI with the raw token in Authorization (no "Bearer") and the URI's own Host header,
 * as the SDKs do. When the IPv4 agent address gives no answer, the IPv6 one is tried too: the agent binds
 * both, and a node with IPv6 disabled or an iptables rule may break only one.
 */
export async function callAgent(
  net: NetClient,
  fullUri: string,
  token: Secret,
  signal: AbortSignal,
): Promise<readonly AgentAttempt[]> {
  const first = await attempt(net, fullUri, token, signal);
  const attempts: AgentAttempt[] = [first];
  let url: URL | undefined;
  try {
    url = new URL(fullUri);
  } catch {
    url = undefined;
  }
  if (first.outcome instanceof NetError && url?.hostname === AGENT_IPV4 && !signal.aborted) {
    const v6 = new URL(fullUri);
    v6.hostname = `[${AGENT_IPV6}]`;
    attempts.push(await attempt(net, v6.href, token, signal));
  }
  return attempts;
}

async function attempt(net: NetClient, url: string, token: Secret, signal: AbortSignal): Promise<AgentAttempt> {
  let host: string;
  try {
    host = new URL(url).host;
  } catch {
    return { url, outcome: new NetError('invalid-url', url, undefined, 'invalid URL') };
  }
  try {
    const answer = await net.request(url, {
      headers: { Host: host, Authorization: token.reveal() },
      timeoutMs: AGENT_TIMEOUT_MS,
      signal,
      maxBytes: 64 * 1024,
    });
    return { url, outcome: mapAgentAnswer(answer.status, answer.body.toString('utf8')) };
  } catch (error) {
    if (error instanceof NetError) return { url, outcome: error };
    throw error;
  }
}
