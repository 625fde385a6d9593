import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { BINARY, runBinary } from '../helpers/binary';

/**
 * Crafted --trust-policy files through the built binary under --timeout 3000: StringLike matching is
 * synchronous, so a super-linear matcher blocks the event loop and the run deadline cannot save it (the
 * backtracking matcher took seconds on one `*aaaa...b*` pattern against a long sub, and multiples of that
 * on twenty). Every run must end within --timeout + 1 s with the trust check's own answer.
 */

const ISS = 'https://oidc.eks.eu-west-1.amazonaws.com/id/B71EXAMPLEB71EXAMPLEB71EXAMPLE00';
const HOST = ISS.slice('https://'.length);
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${HOST}`;
const TIMEOUT_MS = 3_000;
const dir = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-hostile-trust-'));
const tokenFile = path.join(dir, 'token');

/** A sub as long as the token file limit allows (a token is read up to 64 KiB). */
const LONG_SUB = `system:serviceaccount:shop:${'a'.repeat(40_000)}`;

beforeAll(async () => {
  const { privateKey } = await generateKeyPair('RS256');
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: 'e2e' })
    .setIssuer(ISS)
    .setSubject(LONG_SUB)
    .setAudience(['sts.amazonaws.com'])
    .setIssuedAt(now - 60)
    .setExpirationTime(now + 3_600)
    .sign(privateKey);
  writeFileSync(tokenFile, token);
});

function statement(values: string | string[]): object {
  return {
    Effect: 'Allow',
    Principal: { Federated: PROVIDER },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: { StringLike: { [`${HOST}:sub`]: values } },
  };
}

const CASES: readonly { name: string; statements: () => object[] }[] = [
  // Quadratic for the backtracking matcher: every start position matches 20,000 a's before failing at b.
  { name: 'one *a…ab* pattern against a long sub', statements: () => [statement(`*${'a'.repeat(20_000)}b*`)] },
  {
    name: 'twenty of them',
    statements: () => Array.from({ length: 20 }, () => statement(`*${'a'.repeat(20_000)}b*`)),
  },
  { name: "a pattern of 20,000 '?'", statements: () => [statement(`*${'a?'.repeat(20_000)}b*`)] },
  {
    name: '60,000 values, each scanning the whole sub',
    statements: () => [statement(Array.from({ length: 60_000 }, (_, i) => `*${i % 10}*`))],
  },
  {
    name: 'a policy of almost 1 MiB with one pattern',
    statements: () => [statement(`*${'a?'.repeat(250_000)}*b`)],
  },
];

describe.skipIf(!existsSync(BINARY))('crafted trust policies end within --timeout + 1 s (built binary)', () => {
  it.for(CASES)('$name', { timeout: 30_000 }, async ({ statements }) => {
    const file = path.join(dir, `${statements.length}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({ Version: '2012-10-17', Statement: statements() }));
    const run = await runBinary(
      ['--offline', '--no-kube', '--trust-policy', file, '--timeout', String(TIMEOUT_MS), '--output', 'json'],
      {
        PATH: '/usr/bin:/bin',
        AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/cart-role',
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_REGION: 'eu-west-1',
      },
    );
    expect(run.elapsedMs).toBeLessThan(TIMEOUT_MS + 1_000);
    expect([0, 1], run.stderr).toContain(run.code);
    const report = JSON.parse(run.stdout) as { checks: { id: string; status: string; summary: string }[] };
    const trust = report.checks.find((c) => c.id === 'trust.policy');
    // The check answered (denied, or could not decide within its matching budget); it did not time out.
    expect(['fail', 'warn']).toContain(trust?.status);
    expect(trust?.summary).not.toMatch(/did not finish/);
  });
});
