import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { SignJWT, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { EKSCTL_IRSA, EKSCTL_POD_IDENTITY } from '../fixtures/upstream/trust-policies';
import { parseReport, expectValidListChecks } from '../helpers/reports';

import { binaryCommand } from '../helpers/binary';
const ISS = 'https://oidc.eks.eu-west-1.amazonaws.com/id/B71EXAMPLEB71EXAMPLEB71EXAMPLE00';
const HOST = ISS.slice('https://'.length);
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${HOST}`;
const ROLE = 'arn:aws:iam::111122223333:role/cart-role';

const dir = mkdtempSync(`${tmpdir()}/irsa-e2e-trust-`);
const tokenFile = `${dir}/token`;
const podIdentityTokenFile = `${dir}/eks-pod-identity-token`;

/** The checks the built binary has: trust.policy needs token.claims and env.irsa to have landed. */
function registeredChecks(): string[] {
  const result = spawnSync(...binaryCommand(['--list-checks', '--output', 'json']), {
    env: { PATH: '/usr/bin:/bin' },
    encoding: 'utf8',
  });
  const listed: unknown = JSON.parse(result.stdout);
  expectValidListChecks(listed);
  return (listed as { checks: { id: string }[] }).checks.map((c) => c.id);
}
const checks = registeredChecks();
const ready = ['token.claims', 'env.irsa', 'trust.policy'].every((id) => checks.includes(id));

beforeAll(async () => {
  const { privateKey } = await generateKeyPair('RS256');
  const now = Math.floor(Date.now() / 1000);
  /** The pod's projected token for one audience, signed as the issuer would. */
  const podToken = (audience: string, expiresAt: number) =>
    new SignJWT({
      'kubernetes.io': {
        namespace: 'shop',
        serviceaccount: { name: 'cart', uid: 'u1' },
        pod: { name: 'cart-7d9f', uid: 'p1' },
      },
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'e2e' })
      .setIssuer(ISS)
      .setSubject('system:serviceaccount:shop:cart')
      .setAudience([audience])
      .setIssuedAt(now - 60)
      .setNotBefore(now - 60)
      .setExpirationTime(expiresAt)
      .sign(privateKey);
  writeFileSync(tokenFile, await podToken('sts.amazonaws.com', now + 86_400 - 60));
  const podIdentityToken = await podToken('pods.eks.amazonaws.com', now + 80_000);
  writeFileSync(podIdentityTokenFile, podIdentityToken);
});

function policyFile(name: string, sub: string): string {
  const path = `${dir}/${name}`;
  writeFileSync(
    path,
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: PROVIDER },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { StringEquals: { [`${HOST}:sub`]: sub, [`${HOST}:aud`]: 'sts.amazonaws.com' } },
        },
      ],
    }),
  );
  return path;
}

const IRSA_ENV = { AWS_ROLE_ARN: ROLE, AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile };
const POD_IDENTITY_ENV = {
  AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials',
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: podIdentityTokenFile,
};

function diagnose(policy: string, mechanismEnv: Record<string, string> = IRSA_ENV) {
  const result = spawnSync(...binaryCommand(['--offline', '--no-kube', '--trust-policy', policy, '--output', 'json']), {
    // Explicit env: only what the pod has, nothing from the developer's machine.
    env: {
      ...mechanismEnv,
      AWS_REGION: 'eu-west-1',
      POD_NAMESPACE: 'shop',
      PATH: '/usr/bin:/bin',
      HOME: dir,
    },
    encoding: 'utf8',
    timeout: 20_000,
  });
  const report = parseReport(result.stdout) as unknown as {
    checks: { id: string; status: string; summary: string }[];
    findings: { code: string; checkId: string; evidence: Record<string, unknown>; remedy: { commands: string[] } }[];
  };
  return { code: result.status, report, check: report.checks.find((c) => c.id === 'trust.policy') };
}

// Until the token checks are registered, trust.policy is skipped for want of its dependencies.
describe.skipIf(!ready)('--trust-policy FILE (built binary, offline)', () => {
  it('names the failing sub condition and prints the corrected policy', () => {
    const { code, report, check } = diagnose(policyFile('stale.json', 'system:serviceaccount:shop-old:cart'));
    expect(check?.status).toBe('fail');
    const finding = report.findings.find((f) => f.checkId === 'trust.policy');
    expect(finding?.code).toBe('TRUST_POLICY_SUB_MISMATCH');
    expect(finding?.evidence).toMatchObject({
      statement: 0,
      operator: 'StringEquals',
      key: `${HOST}:sub`,
      expected: ['system:serviceaccount:shop-old:cart'],
      actual: ['system:serviceaccount:shop:cart'],
    });
    expect(
      finding?.remedy.commands.some((c) =>
        c.startsWith("aws iam update-assume-role-policy --role-name cart-role --policy-document '{"),
      ),
    ).toBe(true);
    expect(code).toBe(1);
  });

  it('passes for a policy that trusts this ServiceAccount', () => {
    const { report, check } = diagnose(policyFile('ok.json', 'system:serviceaccount:shop:cart'));
    expect(check?.status).toBe('pass');
    expect(report.findings.filter((f) => f.checkId === 'trust.policy')).toEqual([]);
  });
});

describe.skipIf(!ready)('--trust-policy FILE for a Pod Identity pod (built binary, offline)', () => {
  const write = (name: string, policy: unknown) => {
    const path = `${dir}/${name}`;
    writeFileSync(path, JSON.stringify(policy));
    return path;
  };

  it('evaluates it as EKS Auth would, instead of ignoring it: an IRSA trust does not let EKS in', () => {
    const { code, report, check } = diagnose(write('irsa-for-pi.json', EKSCTL_IRSA.policy), POD_IDENTITY_ENV);
    expect(check?.status).toBe('fail');
    const finding = report.findings.find((f) => f.checkId === 'trust.policy');
    expect(finding?.code).toBe('POD_IDENTITY_TRUST_POLICY_DENIED');
    expect(finding?.evidence).toMatchObject({ operator: 'Principal', expected: ['pods.eks.amazonaws.com'] });
    expect(finding?.remedy.commands.join('\n')).toContain('"Service":"pods.eks.amazonaws.com"');
    expect(code).toBe(1);
  });

  it("passes for eksctl's Pod Identity trust", () => {
    const { check } = diagnose(write('eksctl-pi.json', EKSCTL_POD_IDENTITY.policy), POD_IDENTITY_ENV);
    expect(check?.status).toBe('pass');
    expect(check?.summary).toContain('sts:AssumeRole and sts:TagSession');
  });
});

describe('--trust-policy FILE registration', () => {
  it('the binary lists trust.policy', () => {
    expect(checks).toContain('trust.policy');
  });
});
