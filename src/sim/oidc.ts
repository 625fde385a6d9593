import { randomBytes, randomUUID } from 'node:crypto';
import type http from 'node:http';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import type { CryptoKey } from 'jose';
import type { LoopbackServer } from './loopback';
import { blackHole, listenLoopback } from './loopback';

/*
 * The cluster's OIDC issuer: discovery document, JWKS and the tokens the kubelet would project
 * (docs/mechanics.md 2.1, 3.1). The issuer is reached from two networks in real life: the pod's
 * (often not at all in a private VPC) and AWS's, where STS fetches the keys. On loopback both are the same
 * socket, so the simulated STS marks its requests with AWS_SIDE_HEADER and the issuer answers each side
 * according to its own fault. That is how "the pod cannot reach the issuer but STS can" and "STS cannot
 * fetch the keys of a self-hosted issuer the pod reaches fine" are both real HTTP failures here.
 */

/** Set by the simulated STS on its key fetches: the issuer then answers as AWS would see it. */
export const AWS_SIDE_HEADER = 'x-simulated-eks-network';
export const AWS_SIDE_VALUE = 'aws';

/** The EKS issuer ID shape: 32 upper-case hex characters (this is the one in the AWS docs' examples). */
export const ISSUER_ID = 'EXAMPLED539D4633E53DE1B71EXAMPLE';

/**
 * What one side sees of the issuer: `not-found` answers 404 for discovery and keys (the issuer is not
 * served on this network), `jwks-not-found` only for the keys, `blackhole` accepts and never answers.
 */
export type IssuerFault = 'none' | 'not-found' | 'jwks-not-found' | 'blackhole';

export interface TokenRequest {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** One audience or several; the token always carries an array, as Kubernetes writes it. */
  readonly audience?: string | readonly string[];
  readonly podName?: string;
  /** expirationSeconds of the projected volume: 86400 for IRSA (docs/mechanics.md 1.4). */
  readonly ttlSeconds?: number;
  /** Added to now for iat/nbf: negative for an old token, e.g. -90000 with 86400 s TTL is expired. */
  readonly issuedAtOffsetSeconds?: number;
  /** Replaces the header's kid (a kid the JWKS does not have). */
  readonly kid?: string;
  /** Signs with a key that is not in the JWKS, under the JWKS's own kid (a forged or foreign token). */
  readonly signWithOtherKey?: boolean;
  /** Milliseconds since the epoch; defaults to the real clock. */
  readonly now?: number;
}

export interface SimulatedIssuer {
  /** http://127.0.0.1:PORT/id/EXAMPLE...: the token's iss. */
  readonly issuer: string;
  /** The issuer without its scheme: the provider name and the trust-policy condition-key prefix. */
  readonly hostPath: string;
  readonly kid: string;
  readonly jwks: { readonly keys: readonly JWK[] };
  mintToken(request: TokenRequest): Promise<string>;
  setFault(side: 'pod' | 'aws', fault: IssuerFault): void;
  /** An issuer URL as AWS's network reaches it: the pod's route origin rewritten to this server. */
  awsRoute(url: string): string;
  close(): Promise<void>;
}

export interface IssuerOptions {
  readonly pod?: IssuerFault;
  readonly aws?: IssuerFault;
  /** Called with every token minted and its payload and signature segments (secrets for the leak tests). */
  readonly onSecret?: (value: string) => void;
  /**
   * Where the pod's network reaches the issuer, when not at this server: `iss` then names issuerOrigin, and the
   * discovery document the pod gets names a jwks_uri on jwksOrigin. AWS's network still reaches this server
   * (the simulated STS is routed here with `awsRoute`), as with a public issuer the pod resolves elsewhere.
   */
  readonly podRoute?: { readonly issuerOrigin?: string; readonly jwksOrigin?: string };
}

const NODE_NAME = 'ip-192-168-12-34.us-west-2.compute.internal';

export async function startIssuer(options: IssuerOptions = {}): Promise<SimulatedIssuer> {
  const signing = await generateKeyPair('RS256', { extractable: true });
  // Lazily made: most scenarios never sign with a foreign key.
  let foreign: CryptoKey | undefined;
  const kid = randomBytes(20).toString('hex');
  const publicJwk: JWK = { ...(await exportJWK(signing.publicKey)), kid, use: 'sig', alg: 'RS256' };
  const jwks = { keys: [publicJwk] };
  const faults = { pod: options.pod ?? 'none', aws: options.aws ?? 'none' };
  const nodeUid = randomUUID();
  let issuer = '';

  const server: LoopbackServer = await listenLoopback((req, res) => {
    const side = req.headers[AWS_SIDE_HEADER] === AWS_SIDE_VALUE ? 'aws' : 'pod';
    const fault = faults[side];
    if (fault === 'blackhole') return blackHole(req);
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    const base = `/id/${ISSUER_ID}`;
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'method not allowed');
    if (path === `${base}/.well-known/openid-configuration` && fault !== 'not-found') {
      const jwksOrigin = side === 'pod' ? options.podRoute?.jwksOrigin : undefined;
      return json(res, {
        issuer,
        jwks_uri: jwksOrigin ? `${jwksOrigin}${base}/keys` : `${issuer}/keys`,
        authorization_endpoint: 'urn:kubernetes:programmatic_authorization',
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        claims_supported: ['sub', 'iss'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (path === `${base}/keys` && fault === 'none') return json(res, jwks);
    return text(res, 404, '404 page not found');
  });
  const origin = options.podRoute?.issuerOrigin ?? server.url;
  issuer = `${origin}/id/${ISSUER_ID}`;

  return {
    issuer,
    hostPath: issuer.replace(/^https?:\/\//, ''),
    kid,
    jwks,
    async mintToken(request) {
      const now = Math.floor((request.now ?? Date.now()) / 1000) + (request.issuedAtOffsetSeconds ?? 0);
      const ttl = request.ttlSeconds ?? 86_400;
      const audience = request.audience ?? ['sts.amazonaws.com'];
      const podName = request.podName ?? `${request.serviceAccount}-7d9f8b6c5-x2k4q`;
      // Claim names and nesting as the API server writes them (docs/mechanics.md 2.1); `node` since Kubernetes 1.30.
      const claims = {
        aud: typeof audience === 'string' ? [audience] : [...audience],
        exp: now + ttl,
        iat: now,
        iss: issuer,
        jti: randomUUID(),
        'kubernetes.io': {
          namespace: request.namespace,
          node: { name: NODE_NAME, uid: nodeUid },
          pod: { name: podName, uid: randomUUID() },
          serviceaccount: { name: request.serviceAccount, uid: randomUUID() },
        },
        nbf: now,
        sub: `system:serviceaccount:${request.namespace}:${request.serviceAccount}`,
      };
      let key: CryptoKey = signing.privateKey;
      if (request.signWithOtherKey) {
        foreign ??= (await generateKeyPair('RS256')).privateKey;
        key = foreign;
      }
      const token = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: request.kid ?? kid }).sign(key);
      const [, payload = '', signature = ''] = token.split('.');
      for (const value of [token, payload, signature]) options.onSecret?.(value);
      return token;
    },
    setFault(side, fault) {
      faults[side] = fault;
    },
    awsRoute: (url) => (url.startsWith(`${origin}/`) ? `${server.url}${url.slice(origin.length)}` : url),
    close: () => server.close(),
  };
}

function json(res: http.ServerResponse, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    // EKS asks verifiers to honour cache-control on these endpoints (docs/mechanics.md 3.1).
    'cache-control': 'max-age=3600',
  });
  res.end(payload);
}

function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${body}\n`);
}
