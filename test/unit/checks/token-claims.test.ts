import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/aws/secrets';
import type { TokenFileOutput } from '../../../src/checks/outputs';
import { humanDuration, jwtShapeProblem, tokenClaims } from '../../../src/checks/token-claims';
import type { Env } from '../../../src/context/context';
import { fixtureContext } from '../../helpers/context';
import type { MintOptions } from '../../helpers/tokens';
import { EKS_ISSUER, mintToken, segmentsOf } from '../../helpers/tokens';
import { upstreamOf } from '../../helpers/upstream';

const NOW = Date.UTC(2026, 10, 22, 10, 0, 0);
const NOW_S = NOW / 1000;

interface Setup {
  token?: string;
  mint?: MintOptions;
  mechanism?: TokenFileOutput['mechanism'];
  /** Seconds before NOW the file was written. */
  fileAge?: number;
  env?: Env;
  root?: string;
}

async function run(setup: Setup = {}) {
  const token = setup.token ?? (await mintToken({ iat: NOW_S - 600, ...setup.mint }));
  const file: TokenFileOutput = {
    path: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
    mechanism: setup.mechanism ?? 'irsa',
    token: new Secret(token),
    mtimeMs: NOW - (setup.fileAge ?? 600) * 1000,
  };
  const outcome = await tokenClaims.run(
    fixtureContext({ env: setup.env ?? {}, root: setup.root, now: NOW }),
    upstreamOf({ 'token.file': file }),
    new AbortController().signal,
  );
  return { outcome, token, codes: outcome.findings?.map((f) => f.code) ?? [] };
}

function expectNoSegments(outcome: unknown, token: string) {
  const shown = JSON.stringify(outcome);
  const { payload, signature } = segmentsOf(token);
  if (signature) expect(shown).not.toContain(signature);
  if (payload) expect(shown).not.toContain(payload);
}

describe('token.claims', () => {
  it('passes for a fresh EKS token and shows the claims, never the segments', async () => {
    const { outcome, token } = await run({ env: { POD_NAMESPACE: 'shop' } });
    expect(outcome.status).toBe('pass');
    expect(outcome.output).toMatchObject({
      alg: 'RS256',
      kid: 'e2e-kid-1',
      iss: EKS_ISSUER,
      sub: 'system:serviceaccount:shop:cart',
      aud: ['sts.amazonaws.com'],
      namespace: 'shop',
      serviceAccount: 'cart',
      podName: 'cart-7d9f8b6c5-x2x4q',
    });
    expect(outcome.details?.exp).toContain('expires in 23h 50m');
    expect(outcome.details?.iat).toContain('10m ago');
    expect(outcome.details?.fingerprint).toMatch(/^sha256:/);
    expectNoSegments(outcome, token);
  });

  it('accepts aud as a plain string', async () => {
    const { outcome } = await run({ mint: { aud: 'sts.amazonaws.com' } });
    expect(outcome.status).toBe('pass');
    expect(outcome.output?.aud).toEqual(['sts.amazonaws.com']);
  });

  it.each([
    ['hello world', 'three base64url segments'],
    ['{"sub":"x"}', 'looks like JSON'],
    ['a.b.c.d.e', 'encrypted JWE'],
    ['abc..def', 'payload segment is empty'],
    ['e30.e30.c2ln', undefined],
  ])('shape of %s', (text, problem) => {
    const found = jwtShapeProblem(text);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });

  it('TOKEN_MALFORMED for garbage, for undecodable JSON, and for missing or mistyped claims', async () => {
    expect((await run({ token: 'this-is-not-a-jwt' })).codes).toEqual(['TOKEN_MALFORMED']);
    const badJson = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from('not json').toString('base64url')}.c2ln`;
    const undecodable = await run({ token: badJson });
    expect(undecodable.codes).toEqual(['TOKEN_MALFORMED']);
    expect(undecodable.outcome.findings?.[0]?.summary).toContain('payload segment does not decode');
    expectNoSegments(undecodable.outcome, badJson);
    const missing = await run({ mint: { omit: ['exp', 'iss'] } });
    expect(missing.codes).toEqual(['TOKEN_MALFORMED']);
    expect(missing.outcome.findings?.[0]?.summary).toContain('"iss" is missing');
    expect(missing.outcome.findings?.[0]?.summary).toContain('"exp" is missing');
    const badAud = await run({ mint: { aud: [1, 2] as unknown as string[] } });
    expect(badAud.outcome.findings?.[0]?.summary).toContain('"aud" is neither');
  });

  it('TOKEN_EXPIRED says how long ago', async () => {
    const { outcome, codes } = await run({ mint: { iat: NOW_S - 90_000, ttl: 86_400 }, fileAge: 90_000 });
    expect(codes).toEqual(['TOKEN_EXPIRED']);
    expect(outcome.findings?.[0]?.summary).toContain('expired 1h 0m ago');
    expect(outcome.details?.exp).toContain('expired 1h 0m ago');
  });

  it('TOKEN_NOT_YET_VALID beyond 60 s of skew, not within it', async () => {
    const ahead = await run({ mint: { iat: NOW_S + 300 }, fileAge: 0 });
    expect(ahead.codes).toEqual(['TOKEN_NOT_YET_VALID']);
    expect(ahead.outcome.findings?.[0]?.summary).toContain('clock skew');
    const within = await run({ mint: { iat: NOW_S + 30 }, fileAge: 0 });
    expect(within.codes).toEqual([]);
  });

  it('an IRSA token with another audience is not judged from the token alone', async () => {
    // The webhook projects the SA's eks.amazonaws.com/audience (amazon-eks-pod-identity-webhook
    // pkg/cache/cache.go@3bf80a34 addSA; pkg/handler/handler.go getPodSpecPatch): STS accepts it when the
    // provider lists it, which only kube.serviceaccount and sts.assume-role can tell.
    const custom = await run({ mint: { aud: ['sts.example.com'] }, env: { POD_NAMESPACE: 'shop' } });
    expect(custom.codes).toEqual([]);
    expect(custom.outcome.status).toBe('pass');
    expect(custom.outcome.details?.aud).toContain('sts.example.com (not sts.amazonaws.com');
    const typo = await run({ mint: { aud: ['sts.amazon.com'] }, env: { POD_NAMESPACE: 'shop' } });
    expect(typo.codes).toEqual([]);
    expect(typo.outcome.details?.aud).toContain('looks like a typo of sts.amazonaws.com');
  });

  it('TOKEN_AUDIENCE_MISMATCH for an IRSA token without any audience', async () => {
    const { outcome, codes } = await run({ mint: { aud: [] } });
    expect(codes).toEqual(['TOKEN_AUDIENCE_MISMATCH']);
    expect(outcome.findings?.[0]?.summary).toContain('empty');
    expect(outcome.findings?.[0]?.remedy.commands[0]).toContain(
      'kubectl annotate serviceaccount cart -n shop eks.amazonaws.com/audience-',
    );
  });

  it('Pod Identity needs pods.eks.amazonaws.com', async () => {
    expect((await run({ mechanism: 'pod-identity' })).codes).toEqual(['TOKEN_AUDIENCE_MISMATCH']);
    expect((await run({ mechanism: 'pod-identity', mint: { aud: 'pods.eks.amazonaws.com' } })).codes).toEqual([]);
  });

  it('TOKEN_SUBJECT_MISMATCH: another namespace than POD_NAMESPACE', async () => {
    const { outcome, codes } = await run({ mint: { namespace: 'billing' }, env: { POD_NAMESPACE: 'shop' } });
    expect(codes).toEqual(['TOKEN_SUBJECT_MISMATCH']);
    expect(outcome.findings?.[0]?.summary).toContain(
      'namespace "billing" while this pod runs in "shop" (from POD_NAMESPACE)',
    );
  });

  it("TOKEN_SUBJECT_MISMATCH: another ServiceAccount than the pod's API token", async () => {
    const root = mkdtempSync(`${tmpdir()}/irsa-claims-`);
    const dir = `${root}/var/run/secrets/kubernetes.io/serviceaccount`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/namespace`, 'shop');
    writeFileSync(
      `${dir}/token`,
      await mintToken({ serviceAccount: 'default', aud: ['https://kubernetes.default.svc'] }),
    );
    const { outcome, codes } = await run({ root });
    expect(codes).toEqual(['TOKEN_SUBJECT_MISMATCH']);
    expect(outcome.findings?.[0]?.summary).toContain('ServiceAccount "cart" while this pod runs as "default"');
  });

  it('TOKEN_SUBJECT_MISMATCH: sub that is not a ServiceAccount', async () => {
    expect((await run({ mint: { sub: 'user:alice' } })).codes).toEqual(['TOKEN_SUBJECT_MISMATCH']);
  });

  it('TOKEN_STALE when the file is older than 80% of the TTL, and when iat is over 24 h old', async () => {
    const stale = await run({ mint: { iat: NOW_S - 80_000, ttl: 86_400 }, fileAge: 80_000 });
    expect(stale.codes).toEqual(['TOKEN_STALE']);
    expect(stale.outcome.status).toBe('warn');
    const fresh = await run({ mint: { iat: NOW_S - 60_000, ttl: 86_400 }, fileAge: 60_000 });
    expect(fresh.codes).toEqual([]);
    const long = await run({ mint: { iat: NOW_S - 90_000, ttl: 7 * 86_400 }, fileAge: 60 });
    expect(long.codes).toEqual(['TOKEN_STALE']);
    expect(long.outcome.findings?.[0]?.summary).toContain('older than 24 h');
  });

  it('formats durations', () => {
    expect(humanDuration(42)).toBe('42s');
    expect(humanDuration(3 * 3600 + 5 * 60)).toBe('3h 5m');
    expect(humanDuration(2 * 86_400 + 4 * 3600)).toBe('2d 4h');
  });
});
