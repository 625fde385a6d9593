import { afterEach, describe, expect, it } from 'vitest';
import { parseRoleArn } from '../../../src/aws/arn';
import { Secret } from '../../../src/aws/secrets';
import { identityCaller } from '../../../src/checks/identity-caller';
import { identityImds } from '../../../src/checks/identity-imds';
import { issuerDiscovery } from '../../../src/checks/issuer-discovery';
import type { CheckId, CheckOutputs } from '../../../src/checks/outputs';
import { podIdentityAgent } from '../../../src/checks/pod-identity-agent';
import { stsAssumeRole } from '../../../src/checks/sts-assume-role';
import { stsEndpoints } from '../../../src/checks/sts-endpoints';
import { runChecks } from '../../../src/run/runner';
import type { Check } from '../../../src/run/types';
import { fixtureContext } from '../../helpers/context';
import { TestServers } from './servers';

const servers = new TestServers();
afterEach(() => servers.closeAll());

/** Stand-ins for the local checks: they hand the AWS-chain checks the outputs a real run would. */
function given<K extends CheckId>(id: K, output: CheckOutputs[K]): Check {
  return {
    id,
    title: id,
    stage: 'env',
    dependsOn: [],
    run: async () => ({ status: 'pass', summary: '', output }),
  } as Check;
}

const AWS_CHAIN: readonly Check[] = [
  issuerDiscovery,
  stsAssumeRole,
  podIdentityAgent,
  identityImds,
  identityCaller,
  stsEndpoints,
] as readonly Check[];

describe('the AWS chain against black holes', () => {
  async function blackHoledRun(timeoutMs: number) {
    const hole = await servers.blackHole();
    const iss = `${hole}/id/ABC`;
    const role = parseRoleArn('arn:aws:iam::111122223333:role/app')!;
    const token = { path: '/t', mechanism: 'irsa' as const, token: new Secret('eyJ.x.y'), mtimeMs: 0 };
    const checks = [
      given('env.irsa', { roleArn: role, tokenFile: '/t', sessionName: undefined }),
      given('env.pod-identity', { fullUri: `${hole}/v1/credentials`, tokenFile: '/p' }),
      given('env.region', {
        region: 'us-west-2',
        regionSource: 'AWS_REGION',
        stsEndpoints: [{ sdk: 'js-v3', url: hole, why: 'override' }],
        stsEndpoint: hole,
      }),
      given('env.precedence', { choices: [{ sdk: 'js-v3', source: 'irsa', detail: 'web identity' }] }),
      given('token.file', token),
      given('token.claims', {
        alg: 'RS256',
        kid: 'k',
        iss,
        sub: 'system:serviceaccount:shop:api',
        aud: ['sts.amazonaws.com'],
        exp: undefined,
        iat: undefined,
        nbf: undefined,
        namespace: 'shop',
        serviceAccount: 'api',
        podName: undefined,
      }),
      ...AWS_CHAIN,
    ];
    const ctx = fixtureContext({
      timeoutMs,
      env: {
        AWS_REGION: 'us-west-2',
        AWS_ENDPOINT_URL_STS: hole,
        AWS_EC2_METADATA_SERVICE_ENDPOINT: hole,
        AWS_ROLE_ARN: role.arn,
      },
    });
    const started = Date.now();
    const report = await runChecks(ctx, { checks, version: 't' });
    return { report, elapsed: Date.now() - started, ids: checks.map((c) => c.id) };
  }

  it('reports every check within a short --timeout when every endpoint accepts and never answers', async () => {
    const { report, elapsed, ids } = await blackHoledRun(3_000);
    expect(elapsed).toBeLessThan(3_500);
    expect(report.checks.map((c) => c.id)).toEqual(ids);
    const chain = report.checks.filter((c) => AWS_CHAIN.some((a) => a.id === c.id));
    expect(chain).toHaveLength(AWS_CHAIN.length);
    expect(chain.every((c) => c.summary !== '')).toBe(true);
  });

  it('classifies each black hole by its own call deadline when the run deadline allows', async () => {
    const { report, elapsed } = await blackHoledRun(9_000);
    expect(elapsed).toBeLessThan(9_000);
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    expect(byId['issuer.discovery']?.status).toBe('warn');
    expect(byId['pod-identity.agent']?.status).toBe('fail');
    expect(byId['sts.assume-role']?.status).toBe('fail');
    expect(byId['identity.imds']?.summary).toContain('IMDS blocked for pods');
    const codes = report.findings.map((f) => `${f.checkId}:${f.code}`);
    expect(codes).toEqual(
      expect.arrayContaining([
        'issuer.discovery:OIDC_DISCOVERY_UNREACHABLE',
        'sts.assume-role:STS_UNREACHABLE',
        'pod-identity.agent:POD_IDENTITY_AGENT_UNREACHABLE',
      ]),
    );
    expect(report.rootCause?.code).toBe('STS_UNREACHABLE');
  });

  it('skips every network check under --offline with the reason', async () => {
    const report = await runChecks(fixtureContext({ offline: true }), { checks: AWS_CHAIN, version: 't' });
    for (const check of report.checks) {
      expect(check.status).toBe('skip');
    }
    expect(report.checks.filter((c) => c.summary === 'skipped: --offline (no network calls)').map((c) => c.id)).toEqual(
      expect.arrayContaining(['identity.imds', 'identity.caller', 'sts.endpoints']),
    );
  });
});
