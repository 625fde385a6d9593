import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedIssuer } from '../../src/sim/oidc';
import { AWS_SIDE_HEADER, AWS_SIDE_VALUE, ISSUER_ID, startIssuer } from '../../src/sim/oidc';

describe('simulated OIDC issuer', () => {
  let issuer: SimulatedIssuer;
  const secrets: string[] = [];
  beforeAll(async () => {
    issuer = await startIssuer({ onSecret: (s) => secrets.push(s) });
  });
  afterAll(() => issuer.close());

  it('has an EKS-shaped issuer URL', () => {
    expect(issuer.issuer).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/id/${ISSUER_ID}$`));
    expect(issuer.hostPath).toBe(issuer.issuer.slice('http://'.length));
  });

  it('serves the discovery document with the upstream Kubernetes fields', async () => {
    const response = await fetch(`${issuer.issuer}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({
      issuer: issuer.issuer,
      jwks_uri: `${issuer.issuer}/keys`,
      authorization_endpoint: 'urn:kubernetes:programmatic_authorization',
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      claims_supported: ['sub', 'iss'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
  });

  it('serves a JWKS of RSA public keys with kid, use and alg, and no private part', async () => {
    const jwks = (await (await fetch(`${issuer.issuer}/keys`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', kid: issuer.kid, use: 'sig', alg: 'RS256', e: 'AQAB' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('mints projected-token claims in the EKS layout, signed by the JWKS key', async () => {
    const now = Date.now();
    const token = await issuer.mintToken({ namespace: 'shop', serviceAccount: 'api', podName: 'api-1', now });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', kid: issuer.kid });
    const claims = decodeJwt(token);
    const seconds = Math.floor(now / 1000);
    expect(claims).toMatchObject({
      iss: issuer.issuer,
      sub: 'system:serviceaccount:shop:api',
      aud: ['sts.amazonaws.com'],
      iat: seconds,
      nbf: seconds,
      exp: seconds + 86_400,
      'kubernetes.io': {
        namespace: 'shop',
        pod: { name: 'api-1' },
        serviceaccount: { name: 'api' },
        node: { name: expect.stringMatching(/\.compute\.internal$/) },
      },
    });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    const jwks = await (await fetch(`${issuer.issuer}/keys`)).json();
    await expect(jwtVerify(token, createLocalJWKSet(jwks))).resolves.toBeDefined();
    const [, payload, signature] = token.split('.');
    expect(secrets).toEqual(expect.arrayContaining([token, payload, signature]));
  });

  it('a token signed with another key does not verify against the JWKS', async () => {
    const token = await issuer.mintToken({ namespace: 'shop', serviceAccount: 'api', signWithOtherKey: true });
    const jwks = await (await fetch(`${issuer.issuer}/keys`)).json();
    await expect(jwtVerify(token, createLocalJWKSet(jwks))).rejects.toMatchObject({
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
  });
});

describe('simulated OIDC issuer faults, per side of the network', () => {
  it('not-found for the pod leaves the AWS side served', async () => {
    const issuer = await startIssuer({ pod: 'not-found' });
    try {
      const discovery = `${issuer.issuer}/.well-known/openid-configuration`;
      expect((await fetch(discovery)).status).toBe(404);
      expect((await fetch(`${issuer.issuer}/keys`)).status).toBe(404);
      expect((await fetch(discovery, { headers: { [AWS_SIDE_HEADER]: AWS_SIDE_VALUE } })).status).toBe(200);
    } finally {
      await issuer.close();
    }
  });

  it('jwks-not-found keeps discovery and fails only the keys', async () => {
    const issuer = await startIssuer({ pod: 'jwks-not-found' });
    try {
      expect((await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).status).toBe(200);
      expect((await fetch(`${issuer.issuer}/keys`)).status).toBe(404);
    } finally {
      await issuer.close();
    }
  });

  it('blackhole never answers within a client timeout', async () => {
    const issuer = await startIssuer({ pod: 'blackhole' });
    try {
      const outcome = await fetch(`${issuer.issuer}/keys`, { signal: AbortSignal.timeout(300) }).then(
        () => 'answered',
        (e: Error) => e.name,
      );
      expect(outcome).toBe('TimeoutError');
    } finally {
      await issuer.close();
    }
  });
});
