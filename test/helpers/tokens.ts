import { SignJWT, generateKeyPair } from 'jose';

export const EKS_ISSUER = 'https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';

export interface MintOptions {
  namespace?: string;
  serviceAccount?: string;
  pod?: string;
  aud?: string | string[];
  /** Seconds since the epoch; defaults to now. */
  iat?: number;
  nbf?: number;
  /** Lifetime in seconds (exp = iat + ttl); default 86400 like the webhook. */
  ttl?: number;
  exp?: number;
  iss?: string;
  sub?: string;
  /** Claims to drop from the payload (e.g. to test missing ones). */
  omit?: readonly ('iss' | 'sub' | 'aud' | 'exp' | 'iat' | 'nbf')[];
  kid?: string;
}

let key: ReturnType<typeof generateKeyPair> | undefined;

/** One RS256 key per test process: minting stays fast. */
function signingKey() {
  key ??= generateKeyPair('RS256');
  return key;
}

/** A token with the EKS projected-token claim layout (docs/mechanics.md 2.1), signed with a throwaway key. */
export async function mintToken(options: MintOptions = {}): Promise<string> {
  const namespace = options.namespace ?? 'shop';
  const serviceAccount = options.serviceAccount ?? 'cart';
  const iat = options.iat ?? Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iss: options.iss ?? EKS_ISSUER,
    sub: options.sub ?? `system:serviceaccount:${namespace}:${serviceAccount}`,
    aud: options.aud ?? ['sts.amazonaws.com'],
    iat,
    nbf: options.nbf ?? iat,
    exp: options.exp ?? iat + (options.ttl ?? 86_400),
    'kubernetes.io': {
      namespace,
      pod: { name: options.pod ?? 'cart-7d9f8b6c5-x2x4q', uid: '1b2c3d4e-0000-4000-8000-000000000001' },
      serviceaccount: { name: serviceAccount, uid: '1b2c3d4e-0000-4000-8000-000000000002' },
      node: { name: 'ip-10-0-1-23.us-west-2.compute.internal', uid: '1b2c3d4e-0000-4000-8000-000000000003' },
    },
  };
  for (const name of options.omit ?? []) delete payload[name];
  const { privateKey } = await signingKey();
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'e2e-kid-1' }).sign(privateKey);
}

/** The three segments of a compact JWT: what must never appear in any output. */
export function segmentsOf(token: string): { header: string; payload: string; signature: string } {
  const [header = '', payload = '', signature = ''] = token.split('.');
  return { header, payload, signature };
}
