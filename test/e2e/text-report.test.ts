import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKS } from '../../src/checks/registry';
import { runBinary } from '../helpers/binary';
import { parseReport } from '../helpers/reports';
import { EKS_ISSUER, mintToken } from '../helpers/tokens';

/*
 * The plain-text report as people read it in a Job log: a healthy pod fits on a screen (one line per check,
 * the identity and the verdict; the details of passing checks only with --verbose), the root cause is printed
 * once, and the documents a fix promises (Terraform, eksctl config) are printed whole, not behind a `$`.
 */

const ENV = { PATH: '/usr/bin:/bin', HOME: '/nonexistent' };

describe('a healthy pod (demo healthy-irsa)', () => {
  it('fits in one line per check plus the identity and the verdict; --verbose adds every detail', async () => {
    const plain = await runBinary(['demo', '--output', 'text'], ENV);
    expect(plain.code).toBe(0);
    const lines = plain.stdout.trimEnd().split('\n');
    // Header, blank, one line per check, blank, 3 identity lines, blank, the verdict: 86 lines before.
    expect(lines.length).toBeLessThanOrEqual(CHECKS.length + 8);
    expect(lines.filter((l) => l.startsWith('['))).toHaveLength(CHECKS.length);
    expect(plain.stdout).not.toContain('fingerprint: sha256:');
    expect(lines.at(-1)).toBe('HEALTHY: this pod gets the AWS credentials it is set up for');

    const verbose = await runBinary(['demo', '--output', 'text', '--verbose'], ENV);
    expect(verbose.stdout).toMatch(/^ +fingerprint: sha256:[0-9a-f]{12}$/m);
    expect(verbose.stdout).toMatch(/^ +owner: deployment\/checkout$/m);
    expect(verbose.stdout.split('\n').length).toBeGreaterThan(lines.length + 30);
  });
});

describe('a trust policy that names another namespace (--trust-policy, --offline)', () => {
  const HOST = EKS_ISSUER.replace(/^https:\/\//, '');
  let dir = '';
  let report: ReturnType<typeof parseReport>;
  let text = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-text-'));
    writeFileSync(path.join(dir, 'token'), await mintToken({ namespace: 'shop', serviceAccount: 'cart' }));
    writeFileSync(
      path.join(dir, 'trust.json'),
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/${HOST}` },
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: { StringEquals: { [`${HOST}:sub`]: 'system:serviceaccount:shop-old:cart' } },
          },
        ],
      }),
    );
    const env = {
      ...ENV,
      HOME: dir,
      AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/cart-role',
      AWS_WEB_IDENTITY_TOKEN_FILE: path.join(dir, 'token'),
      AWS_REGION: 'us-west-2',
      POD_NAMESPACE: 'shop',
    };
    const args = ['--offline', '--trust-policy', path.join(dir, 'trust.json')];
    report = parseReport((await runBinary([...args, '--output', 'json'], env)).stdout);
    text = (await runBinary([...args, '--output', 'text'], env)).stdout;
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the root cause once, under the verdict', () => {
    expect(report.rootCause?.code).toBe('TRUST_POLICY_SUB_MISMATCH');
    const summary = report.rootCause?.summary ?? '';
    expect(summary.length).toBeGreaterThan(40);
    expect(text.split(summary).length - 1).toBe(1);
    expect(text.indexOf(summary)).toBeGreaterThan(text.indexOf('Root cause: TRUST_POLICY_SUB_MISMATCH'));
  });

  it('prints the Terraform and eksctl equivalents it promises whole, unindented, without a $ prompt', () => {
    const snippets = report.rootCause?.remedy.snippets ?? [];
    expect(snippets.map((s) => s.language)).toEqual(['hcl', 'yaml']);
    const lines = text.split('\n');
    for (const snippet of snippets) {
      expect(text).toContain(`  ${snippet.title}:\n${snippet.text}\n`);
      for (const line of snippet.text.split('\n')) expect(lines).toContain(line);
    }
    expect(snippets[0]?.text).toContain(`variable = "${HOST}:sub"`);
    expect(snippets[0]?.text).toContain('values   = ["system:serviceaccount:shop:cart"]');
    expect(lines.filter((l) => /^\s*\$ .*(aws_iam_policy_document|serviceAccounts:)/.test(l))).toEqual([]);
    expect(text).not.toMatch(/terraform=|eksctlConfig=/);
  });
});
