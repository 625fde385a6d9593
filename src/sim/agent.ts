import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { decodeJwt } from 'jose';
import type { CredentialBook, IssuedCredentials } from './identities';
import { requestId, uniqueIdBody } from './identities';
import type { LoopbackServer } from './loopback';
import { blackHole, listenLoopback, refusedUrl } from './loopback';

/*
 * The EKS Pod Identity agent (docs/mechanics.md 5): GET /v1/credentials with the raw token in
 * Authorization, the Host check, the agent's own 400s on the token, and EKS Auth's answer relayed as
 * `[requestId]: (Code): message, fault: client` with EKS Auth's status, bodies text/plain like Go's
 * http.Error; success is the JSON credentials document.
 */

export const AGENT_HOSTS = ['169.254.170.23', 'fd00:ec2::23'] as const;
/**
 * The address the sim binds. The real agent only accepts its link-local addresses in the Host header; tests
 * cannot bind 169.254.170.23 without root and a dummy link, so they reach the agent through 127.0.0.1, and
 * the SDKs and the tool send the URI's own host. Accepting exactly the bound loopback address keeps the check
 * real for every other host (localhost, a DNS name), which still gets the agent's 403.
 */
export const AGENT_BOUND_HOST = '127.0.0.1';

export type AgentMode = 'ok' | 'blackhole' | 'disabled';

/**
 * How EKS Auth answers the agent: `unreachable` never (the agent's 500 "[]"), `throttled` ThrottlingException,
 * `unavailable` ServiceUnavailableException (aws/eks-pod-identity-agent pkg/errors/errors.go relays each).
 */
export type EksAuthFault = 'ok' | 'unreachable' | 'throttled' | 'unavailable';

export interface PodIdentityAssociation {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly roleArn: string;
  /** The role's trust lacks pods.eks.amazonaws.com with sts:AssumeRole + sts:TagSession. */
  readonly trustDeniesEks?: boolean;
}

export interface AgentOptions {
  readonly book: CredentialBook;
  readonly mode: AgentMode;
  readonly eksAuth?: EksAuthFault;
  readonly clusterName: string;
  readonly associations: readonly PodIdentityAssociation[];
}

export interface SimulatedAgent {
  /** http://127.0.0.1:PORT/v1/credentials: the value for AWS_CONTAINER_CREDENTIALS_FULL_URI. */
  readonly credentialsUri: string;
  close(): Promise<void>;
}

export async function startAgent(options: AgentOptions): Promise<SimulatedAgent> {
  if (options.mode === 'disabled') {
    return { credentialsUri: `${await refusedUrl()}/v1/credentials`, close: async () => undefined };
  }
  // The real agent caches credentials per token (docs/mechanics.md 5, refreshing_cache.go).
  const cache = new Map<string, IssuedCredentials>();

  const server: LoopbackServer = await listenLoopback((req, res) => {
    if (options.mode === 'blackhole') return blackHole(req);
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    if (path !== '/v1/credentials') return plain(res, 404, '404 page not found');
    if (req.method !== 'GET') return plain(res, 405, 'Method Not Allowed');

    const host = hostOf(req.headers.host ?? '');
    if (!(AGENT_HOSTS as readonly string[]).includes(host) && host !== AGENT_BOUND_HOST) {
      return plain(
        res,
        403,
        `Access Denied. Called agent through invalid address, please use either [${AGENT_HOSTS.join(' ')}] address not ${host}`,
      );
    }
    const token = (req.headers.authorization ?? '').trim();
    if (token === '') return plain(res, 400, 'Service account token cannot be empty');
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt(token);
    } catch {
      return plain(
        res,
        400,
        'Service account token cannot be parsed: token is malformed: token contains an invalid number of segments',
      );
    }
    const invalid = basicClaimProblem(claims, Math.floor(Date.now() / 1000));
    if (invalid) return plain(res, 400, `Service account token failed basic claim validations: ${invalid}`);

    // EKS Auth's side: the association of the token's namespace/ServiceAccount, then the role's trust.
    const id = requestId();
    switch (options.eksAuth ?? 'ok') {
      case 'unreachable':
        // A response error with status 0 and no request id: errors.go writes "[]" with 500.
        return plain(res, 500, '[]');
      case 'throttled':
        return plain(res, 429, `[${id}]: (ThrottlingException): Rate exceeded, fault: client`);
      case 'unavailable':
        return plain(res, 503, `[${id}]: (ServiceUnavailableException): Service is unavailable, fault: server`);
      case 'ok':
        break;
    }
    const sub = typeof claims.sub === 'string' ? claims.sub : '';
    const [, namespace = '', serviceAccount = ''] = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(sub) ?? [];
    const audiences = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!audiences.includes('pods.eks.amazonaws.com')) {
      return plain(res, 400, `[${id}]: (InvalidTokenException): Token audience is invalid, fault: client`);
    }
    const association = options.associations.find(
      (a) => a.namespace === namespace && a.serviceAccount === serviceAccount,
    );
    if (!association) {
      return plain(
        res,
        404,
        `[${id}]: (ResourceNotFoundException): No Pod Identity Association found for service account ${serviceAccount} in namespace ${namespace}, fault: client`,
      );
    }
    if (association.trustDeniesEks) {
      return plain(
        res,
        400,
        `[${id}]: (AccessDeniedException): Unauthorized Exception! EKS does not have permissions to assume the associated role., fault: client`,
      );
    }
    const arn = /^arn:(aws[a-z0-9-]*):iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]{1,64})$/.exec(association.roleArn);
    if (!arn) return plain(res, 500, `[${id}]: (InternalServerException): role ARN is invalid, fault: server`);
    const [, partition = 'aws', account = '', roleName = ''] = arn;
    let credentials = cache.get(token);
    if (!credentials) {
      const session = sessionName(options.clusterName, podNameOf(claims));
      credentials = options.book.mintTemporary(
        {
          arn: `arn:${partition}:sts::${account}:assumed-role/${roleName}/${session}`,
          userId: `AROA${uniqueIdBody()}:${session}`,
          account,
        },
        6 * 3600,
      );
      cache.set(token, credentials);
    }
    const body = JSON.stringify({
      AccessKeyId: credentials.accessKeyId,
      SecretAccessKey: credentials.secretAccessKey,
      Token: credentials.sessionToken,
      AccountId: account,
      // RFC 3339 with nanoseconds, as the Go agent writes time.Time.
      Expiration: credentials.expiration.replace(/Z$/, '.000000000Z'),
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });

  return { credentialsUri: `${server.url}/v1/credentials`, close: () => server.close() };
}

/** The Host header without port and brackets, as the agent compares it. */
function hostOf(header: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(header);
  if (bracketed) return bracketed[1] ?? '';
  return header.replace(/:\d+$/, '');
}

/** exp/nbf/iat checks of the agent's JWT library, worded as it words them. */
function basicClaimProblem(claims: Record<string, unknown>, now: number): string | undefined {
  if (typeof claims.exp === 'number' && claims.exp <= now) return 'token has invalid claims: token is expired';
  if (typeof claims.nbf === 'number' && claims.nbf > now + 60)
    return 'token has invalid claims: token is not valid yet';
  if (typeof claims.iat === 'number' && claims.iat > now + 60)
    return 'token has invalid claims: token used before issued';
  return undefined;
}

function podNameOf(claims: Record<string, unknown>): string {
  const k8s = claims['kubernetes.io'] as { pod?: { name?: unknown } } | undefined;
  return typeof k8s?.pod?.name === 'string' ? k8s.pod.name : 'pod';
}

/** eks-<cluster>-<pod>-<uuid> (docs/mechanics.md 5), the pod part shortened to fit STS's 64-character limit. */
function sessionName(cluster: string, pod: string): string {
  const uuid = randomUUID();
  const room = Math.max(1, 64 - `eks-${cluster}--${uuid}`.length);
  return `eks-${cluster}-${pod.slice(0, room)}-${uuid}`;
}

function plain(res: http.ServerResponse, status: number, body: string): void {
  const text = `${body}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'x-content-type-options': 'nosniff',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
