import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseRoleArn } from '../../src/aws/arn';
import type { RoleArn } from '../../src/aws/arn';
import { SKIP_NO_TRUST_POLICY, trustPolicyCheck } from '../../src/checks/trust-policy';
import type { CheckOutputs, IrsaEnvOutput, TokenClaimsOutput } from '../../src/checks/outputs';
import type { Upstream } from '../../src/run/types';
import { fixtureContext } from '../helpers/context';

const ISS = 'https://oidc.eks.eu-west-1.amazonaws.com/id/B71EXAMPLEB71EXAMPLEB71EXAMPLE00';
const HOST = ISS.slice('https://'.length);
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${HOST}`;

const claims: TokenClaimsOutput = {
  alg: 'RS256',
  kid: 'k1',
  iss: ISS,
  sub: 'system:serviceaccount:shop:cart',
  aud: ['sts.amazonaws.com'],
  exp: undefined,
  iat: undefined,
  nbf: undefined,
  namespace: 'shop',
  serviceAccount: 'cart',
  podName: 'cart-7d9f',
};
const irsa: IrsaEnvOutput = {
  roleArn: parseRoleArn('arn:aws:iam::111122223333:role/cart-role') as RoleArn,
  tokenFile: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
  sessionName: undefined,
};
const upstream: Upstream = {
  output: <K extends keyof CheckOutputs>(id: K) =>
    (id === 'token.claims'
      ? claims
      : id === 'env.irsa'
        ? irsa
        : id === 'token.file'
          ? { mechanism: 'irsa' }
          : undefined) as CheckOutputs[K] | undefined,
  status: () => 'pass',
};

const dir = mkdtempSync(`${tmpdir()}/trust-policy-`);
function policyFile(name: string, content: unknown): string {
  const path = `${dir}/${name}`;
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}
const trust = (sub: string, extra: Record<string, unknown> = {}) => ({
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'Cart',
      Effect: 'Allow',
      Principal: { Federated: PROVIDER },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringEquals: { [`${HOST}:sub`]: sub, [`${HOST}:aud`]: 'sts.amazonaws.com' } },
      ...extra,
    },
  ],
});

const run = (trustPolicyFile: string | undefined, init: Parameters<typeof fixtureContext>[0] = {}) =>
  trustPolicyCheck.run(fixtureContext({ trustPolicyFile, ...init }), upstream, new AbortController().signal);

describe('trust.policy', () => {
  it('is skipped with the reason when no --trust-policy FILE is given', async () => {
    expect(await run(undefined)).toEqual({
      status: 'skip',
      summary: SKIP_NO_TRUST_POLICY,
      skipReason: 'not-applicable',
    });
  });

  it('passes and names the allowing statement', async () => {
    const outcome = await run(policyFile('ok.json', trust('system:serviceaccount:shop:cart')));
    expect(outcome.status).toBe('pass');
    expect(outcome.summary).toBe(`statement 0 (Sid "Cart") allows system:serviceaccount:shop:cart through ${PROVIDER}`);
    expect(outcome.findings ?? []).toEqual([]);
    expect(outcome.output?.decision).toBe('allow');
  });

  it('fails with TRUST_POLICY_SUB_MISMATCH, the exact condition, and the corrected policy as a command', async () => {
    const outcome = await run(policyFile('sub.json', trust('system:serviceaccount:shop-old:cart')));
    expect(outcome.status).toBe('fail');
    const [finding] = outcome.findings ?? [];
    expect(finding?.code).toBe('TRUST_POLICY_SUB_MISMATCH');
    expect(finding?.evidence).toMatchObject({
      statement: 0,
      sid: 'Cart',
      operator: 'StringEquals',
      key: `${HOST}:sub`,
      expected: ['system:serviceaccount:shop-old:cart'],
      actual: ['system:serviceaccount:shop:cart'],
    });
    expect(finding?.summary).toContain('statement 0 (Sid "Cart"): StringEquals requires');
    expect(finding?.summary).toContain('namespace "shop-old"');
    const command = finding?.remedy.commands.find((c) => c.startsWith('aws iam update-assume-role-policy'));
    expect(command).toMatch(/^aws iam update-assume-role-policy --role-name cart-role --policy-document '\{.*\}'$/);
    const document = JSON.parse(/'(.*)'$/.exec(command ?? '')?.[1] ?? 'null');
    expect(document.Statement[0].Condition.StringEquals[`${HOST}:sub`]).toBe('system:serviceaccount:shop:cart');
    expect(document.Statement[0].Principal.Federated).toBe(PROVIDER);
    const snippets = finding?.remedy.snippets ?? [];
    expect(snippets.map((s) => s.language)).toEqual(['hcl', 'yaml']);
    expect(snippets[0]?.text).toMatch(/^data "aws_iam_policy_document" "irsa_trust" \{\n[\s\S]*\n\}$/);
    expect(snippets[1]?.text).toContain('  serviceAccounts:\n    - metadata:');
    expect(
      finding?.remedy.commands.some((c) => c.startsWith('eksctl create iamserviceaccount --cluster <CLUSTER>')),
    ).toBe(true);
  });

  it('fails with TRUST_POLICY_PRINCIPAL_MISMATCH for the oidc.REGION.eks typo and checks the provider exists', async () => {
    const typo = `arn:aws:iam::111122223333:oidc-provider/${HOST.replace('oidc.eks.eu-west-1', 'oidc.eu-west-1.eks')}`;
    const outcome = await run(
      policyFile('typo.json', trust('system:serviceaccount:shop:cart', { Principal: { Federated: typo } })),
    );
    const [finding] = outcome.findings ?? [];
    expect(finding?.code).toBe('TRUST_POLICY_PRINCIPAL_MISMATCH');
    expect(finding?.summary).toContain('oidc.eks.REGION, not oidc.REGION.eks');
    expect(finding?.remedy.commands[0]).toContain(
      `aws iam get-open-id-connect-provider --open-id-connect-provider-arn ${PROVIDER}`,
    );
  });

  it('warns when the trust has no condition: every ServiceAccount of the cluster may assume the role', async () => {
    const outcome = await run(policyFile('broad.json', trust('x', { Condition: undefined })));
    expect(outcome.status).toBe('warn');
    expect(outcome.summary).toContain('every ServiceAccount of this cluster');
    expect(outcome.findings ?? []).toEqual([]);
  });

  it.each([
    ['missing file', `${dir}/nope.json`, /cannot read --trust-policy .*nope\.json: no such file/],
    ['a directory', dir, /is a directory|EISDIR/],
    ['bad JSON', policyFile('bad.json', '{"Statement": ['), /not a usable trust policy: not valid JSON/],
    ['no Statement', policyFile('empty.json', { Version: '2012-10-17' }), /no "Statement"/],
  ])('reports %s as status error, not a finding', async (_name, path, message) => {
    const outcome = await run(path);
    expect(outcome.status).toBe('error');
    expect(outcome.summary).toMatch(message);
    expect(outcome.findings ?? []).toEqual([]);
  });

  it('reads the policy from the tool filesystem, not the --target container view', async () => {
    const path = policyFile('local.json', trust('system:serviceaccount:shop:cart'));
    const outcome = await run(path, { root: '/nonexistent-app-root', targetPid: 42 });
    expect(outcome.status).toBe('pass');
  });
});
