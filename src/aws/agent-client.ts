import type { FindingCode } from '../run/findings';
import type { NetClient } from './http';
import { NetError } from './http';
import { Secret } from './secrets';
import type { SessionCredentials } from './sts-client';

export const AGENT_TIMEOUT_MS = 2_000;
export const AGENT_IPV4 = '169.254.170.23';
export const AGENT_IPV6 = 'fd00:ec2::23';
const MAX_BODY_SHOWN = 500;

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
      readonly code: FindingCode;
      readonly status: number;
      /** The agent's text, bounded; server text, escaped by the renderers. */
      readonly body: string;
      readonly explanation: string;
    };

/**
 * Maps one agent answer to its meaning. The agent's errors are text/plain: its own 400/403 messages, or the
 * EKS Auth error relayed as `[requestId]: (ErrorCode): message, fault: client|server` with EKS Auth's status.
 */
export function mapAgentAnswer(status: number, rawBody: string): AgentAnswer {
  const shown = redactCredentials(rawBody);
  const body = shown.length > MAX_BODY_SHOWN ? `${shown.slice(0, MAX_BODY_SHOWN)}...` : shown;
  const refused = (code: FindingCode, explanation: string): AgentAnswer => ({
    kind: 'refused',
    code,
    status,
    body,
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
      code: 'STS_ERROR',
      status,
      body: '(not shown: a 200 answer without the credential fields)',
      explanation:
        'The agent answered 200 without AccessKeyId, SecretAccessKey and Token: this is not the EKS Pod Identity agent, or it is broken.',
    };
  }
  if (/Service account token (cannot be empty|cannot be parsed|failed basic claim validations)/i.test(rawBody)) {
    return refused(
      'POD_IDENTITY_TOKEN_REJECTED',
      'The agent rejected the token itself: empty, not a JWT, or its exp/nbf/iat failed validation.',
    );
  }
  if (/Called agent through invalid address/i.test(rawBody)) {
    return refused(
      'POD_IDENTITY_AGENT_UNREACHABLE',
      'The agent answered but refuses requests made through this address: AWS_CONTAINER_CREDENTIALS_FULL_URI must use http://169.254.170.23 or http://[fd00:ec2::23] so the Host header is one the agent accepts.',
    );
  }
  if (/AccessDeniedException|EKS does not have permissions/i.test(rawBody)) {
    return refused(
      'POD_IDENTITY_ACCESS_DENIED',
      'EKS may not assume the associated role: its trust policy lacks Principal Service pods.eks.amazonaws.com with both sts:AssumeRole and sts:TagSession (also reported for hostNetwork pods).',
    );
  }
  if (status === 404 || /ResourceNotFoundException/i.test(rawBody)) {
    return refused(
      'POD_IDENTITY_NO_ASSOCIATION',
      "EKS has no Pod Identity association for this pod's namespace and ServiceAccount (or the associated role no longer exists).",
    );
  }
  if (/InvalidTokenException|ExpiredTokenException/i.test(rawBody)) {
    return refused('POD_IDENTITY_TOKEN_REJECTED', 'EKS Auth rejected the token as invalid or expired.');
  }
  if (status === 429 || /ThrottlingException/i.test(rawBody)) {
    return refused('STS_THROTTLED', 'EKS Auth throttled the agent.');
  }
  // The agent relays EKS Auth errors as "[requestId]: (Code): message, fault: ..."; a bare error page is not one.
  if (!/\(\w+\):.*fault: (client|server)/is.test(rawBody)) {
    return refused(
      'STS_ERROR',
      `HTTP ${status} without the agent's error format: the agent failed without saying why, or something other than the EKS Pod Identity agent answers at this address (a proxy). The eks-pod-identity-agent pod's log on this node tells which.`,
    );
  }
  return refused(
    'STS_ERROR',
    'The agent could not get credentials from EKS Auth: the node role may lack eks-auth:AssumeRoleForPodIdentity, or a private cluster lacks the eks-auth VPC endpoint.',
  );
}

/** A credential field of a JSON body and its string value (also when the body is cut inside it). */
const CREDENTIAL_FIELD = /("(?:SecretAccessKey|Token|SessionToken)"\s*:\s*)"(?:[^"\\]|\\.)*"?/gi;

/**
 * The agent's body as it may be shown: a misbehaving agent (or something else on its address) can send the
 * credentials JSON with a non-200 status, and no output may show a secret key or session token
 * (docs/report.md).
 */
export function redactCredentials(body: string): string {
  return body.replace(CREDENTIAL_FIELD, '$1"<redacted>"');
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
