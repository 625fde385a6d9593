import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromHttp, fromTokenFile } from '@aws-sdk/credential-providers';
import { afterEach, describe, expect, it } from 'vitest';
import { FINDING_CODES } from '../../src/run/findings';
import type { ScenarioName, SimulatedEks } from '../../src/sim/index';
import { SCENARIOS, SIM_ROLE_ARN, demoContext, materialize, startSimulatedEks } from '../../src/sim/index';
import { assumeParams, stsPost, tag } from './sts-harness';

const IRSA_TOKEN = '/var/run/secrets/eks.amazonaws.com/serviceaccount/token';
const POD_IDENTITY_TOKEN = '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token';

const running: SimulatedEks[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(name: ScenarioName): Promise<SimulatedEks> {
  const sim = await startSimulatedEks(name);
  running.push(sim);
  return sim;
}

/** AssumeRoleWithWebIdentity with the scenario's own env and token, as the app's SDK would make it. */
async function assumeAsThePod(sim: SimulatedEks): Promise<{ status: number; code: string | undefined; body: string }> {
  const token = sim.files[IRSA_TOKEN] ?? '';
  const params = assumeParams(token, { RoleArn: sim.env.AWS_ROLE_ARN ?? '' });
  const r = await stsPost(sim.env.AWS_ENDPOINT_URL_STS ?? '', params);
  return { status: r.status, code: tag(r.body, 'Code'), body: r.body };
}

describe('the scenario list', () => {
  it('has every scenario the issue names, unique, with expectations in the contract vocabulary', () => {
    const names = SCENARIOS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const required of [
      'healthy-irsa',
      'trust-sub-mismatch',
      'audience-mismatch',
      'no-oidc-provider',
      'token-expired-at-sts',
      'sts-clock-ahead',
      'clock-skew',
      'custom-audience',
      'role-name-annotation',
      'pod-identity-eks-auth-unreachable',
      'jwks-unreachable',
      'sts-blackhole',
      'node-role-fallback',
      'static-keys-override',
      'healthy-pod-identity',
      'pod-identity-access-denied',
      'agent-unreachable',
      'issuer-unreachable',
      'imds-reachable',
      'all-blackhole',
    ]) {
      expect(names).toContain(required);
    }
    for (const { name, description, expect: e } of SCENARIOS) {
      expect(description.length, name).toBeGreaterThan(20);
      for (const code of [...(e.rootCause ? [e.rootCause] : []), ...(e.alsoFound ?? [])]) {
        expect(Object.keys(FINDING_CODES), name).toContain(code);
      }
      // docs/cli.md (exit codes) and docs/report.md: an error root cause is broken/1; none is healthy or degraded with 0.
      if (e.rootCause) expect([e.verdict, e.exitCode], name).toEqual(['broken', 1]);
      else expect(['healthy', 'degraded']).toContain(e.verdict);
      if (!e.rootCause) expect(e.exitCode, name).toBe(0);
    }
  });
});

describe('a simulated EKS per scenario', () => {
  it('healthy-irsa: the webhook env in its order, endpoints on loopback, and a token STS accepts', async () => {
    const sim = await start('healthy-irsa');
    expect(Object.keys(sim.env)).toEqual([
      'AWS_STS_REGIONAL_ENDPOINTS',
      'AWS_DEFAULT_REGION',
      'AWS_REGION',
      'AWS_ROLE_ARN',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
      'AWS_ENDPOINT_URL_STS',
      'AWS_EC2_METADATA_SERVICE_ENDPOINT',
      'POD_NAMESPACE',
      'POD_NAME',
      'HOME',
    ]);
    expect(sim.env).toMatchObject({
      AWS_STS_REGIONAL_ENDPOINTS: 'regional',
      AWS_REGION: 'us-west-2',
      AWS_DEFAULT_REGION: 'us-west-2',
      AWS_ROLE_ARN: SIM_ROLE_ARN,
      AWS_WEB_IDENTITY_TOKEN_FILE: IRSA_TOKEN,
      AWS_ENDPOINT_URL_STS: sim.urls.sts,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: `${sim.urls.imds}/`,
    });
    for (const url of Object.values(sim.urls)) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+(\/|$)/);
    expect(sim.files['/var/run/secrets/kubernetes.io/serviceaccount/namespace']).toBe('shop');
    expect(sim.secrets).toContain(sim.files[IRSA_TOKEN]);
    const r = await assumeAsThePod(sim);
    expect(r.status).toBe(200);
    expect(tag(r.body, 'Arn')).toBe('arn:aws:sts::111122223333:assumed-role/shop-checkout/sim-session');
    expect(sim.secrets).toContain(tag(r.body, 'SecretAccessKey'));
  });

  it('healthy-irsa through the JS SDK web-identity provider reading the materialized token file', async () => {
    const sim = await start('healthy-irsa');
    const dir = mkdtempSync(path.join(tmpdir(), 'sim-scenario-'));
    dirs.push(dir);
    const { env, root } = materialize(sim, dir);
    expect(root).toBe(dir);
    expect(env.AWS_WEB_IDENTITY_TOKEN_FILE).toBe(path.join(dir, IRSA_TOKEN));
    expect(readFileSync(env.AWS_WEB_IDENTITY_TOKEN_FILE ?? '', 'utf8')).toBe(sim.files[IRSA_TOKEN]);
    expect(statSync(env.AWS_WEB_IDENTITY_TOKEN_FILE ?? '').mode & 0o777).toBe(0o644);
    expect(env.HOME).toBe(path.join(dir, '/home/app'));
    expect(statSync(env.HOME ?? '').isDirectory()).toBe(true);
    expect(env.AWS_ENDPOINT_URL_STS).toBe(sim.env.AWS_ENDPOINT_URL_STS);

    const clientConfig = { region: 'us-west-2', endpoint: env.AWS_ENDPOINT_URL_STS };
    const credentials = await fromTokenFile({
      webIdentityTokenFile: env.AWS_WEB_IDENTITY_TOKEN_FILE,
      roleArn: env.AWS_ROLE_ARN,
      roleSessionName: 'sdk-from-token-file',
      clientConfig,
    })();
    const caller = await new STSClient({ ...clientConfig, credentials, maxAttempts: 1 }).send(
      new GetCallerIdentityCommand({}),
    );
    expect(caller.Arn).toBe('arn:aws:sts::111122223333:assumed-role/shop-checkout/sdk-from-token-file');
  });

  it('healthy-pod-identity: the webhook env, and the JS SDK container provider gets the role from the agent', async () => {
    const sim = await start('healthy-pod-identity');
    expect(Object.keys(sim.env).slice(0, 5)).toEqual([
      'AWS_STS_REGIONAL_ENDPOINTS',
      'AWS_DEFAULT_REGION',
      'AWS_REGION',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
      'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
    ]);
    expect(sim.env.AWS_ROLE_ARN).toBeUndefined();
    expect(sim.env.AWS_CONTAINER_CREDENTIALS_FULL_URI).toBe(sim.urls.agent);
    const token = sim.files[POD_IDENTITY_TOKEN] ?? '';
    const credentials = await fromHttp({
      awsContainerCredentialsFullUri: sim.env.AWS_CONTAINER_CREDENTIALS_FULL_URI,
      awsContainerAuthorizationToken: token,
      maxRetries: 0,
    })();
    const caller = await new STSClient({
      region: 'us-west-2',
      endpoint: sim.env.AWS_ENDPOINT_URL_STS,
      credentials,
      maxAttempts: 1,
    }).send(new GetCallerIdentityCommand({}));
    expect(caller.Arn).toMatch(/^arn:aws:sts::111122223333:assumed-role\/shop-checkout\/eks-demo-cluster-/);
    expect(sim.secrets).toEqual(expect.arrayContaining([token, credentials.secretAccessKey, credentials.sessionToken]));
  });

  it.each([
    ['trust-sub-mismatch', 403, 'AccessDenied'],
    ['audience-mismatch', 400, 'InvalidIdentityToken'],
    ['no-oidc-provider', 400, 'InvalidIdentityToken'],
    ['token-expired-at-sts', 400, 'ExpiredTokenException'],
    ['sts-clock-ahead', 400, 'ExpiredTokenException'],
    ['jwks-unreachable', 400, 'InvalidIdentityToken'],
    ['sts-region-disabled', 403, 'RegionDisabledException'],
    ['static-keys-override', 200, undefined],
    ['issuer-unreachable', 200, undefined],
    ['imds-reachable', 200, undefined],
  ] as const)('%s: STS answers the pod %i %s', async (name, status, code) => {
    const sim = await start(name);
    const r = await assumeAsThePod(sim);
    expect([r.status, r.code]).toEqual([status, code]);
  });

  it.each([['custom-audience'], ['role-name-annotation']] as const)(
    '%s: STS accepts the pod as it is (the audience is a client ID of the provider and in the trust)',
    async (name) => {
      const sim = await start(name);
      expect((await assumeAsThePod(sim)).status).toBe(200);
    },
  );

  it("clock-skew: STS's Date is 20 minutes ahead, and a signed call from this clock is refused as SigV4 does", async () => {
    const sim = await start('clock-skew');
    const probe = await fetch(sim.env.AWS_ENDPOINT_URL_STS ?? '');
    const skew = (Date.parse(probe.headers.get('date') ?? '') - Date.now()) / 1000;
    expect(skew).toBeGreaterThan(1_190);
    expect(skew).toBeLessThan(1_210);
    const dir = mkdtempSync(path.join(tmpdir(), 'skew-'));
    dirs.push(dir);
    const credentials = await fromTokenFile({
      webIdentityTokenFile: materialize(sim, dir).env.AWS_WEB_IDENTITY_TOKEN_FILE as string,
      roleArn: SIM_ROLE_ARN,
      clientConfig: { region: 'us-west-2', endpoint: sim.env.AWS_ENDPOINT_URL_STS, maxAttempts: 1 },
    })();
    const error = await new STSClient({
      region: 'us-west-2',
      endpoint: sim.env.AWS_ENDPOINT_URL_STS,
      credentials,
      maxAttempts: 1,
    })
      .send(new GetCallerIdentityCommand({}))
      .catch((e: unknown) => e as { name: string; message: string });
    expect(error).toMatchObject({ name: 'SignatureDoesNotMatch' });
    expect((error as { message: string }).message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than/);
  });

  it('token-expired-at-sts holds an expired token; sts-clock-ahead a valid one', async () => {
    const now = Date.now() / 1000;
    const exp = (sim: SimulatedEks) =>
      JSON.parse(Buffer.from((sim.files[IRSA_TOKEN] ?? '').split('.')[1] ?? '', 'base64url').toString()).exp as number;
    expect(exp(await start('token-expired-at-sts'))).toBeLessThan(now);
    expect(exp(await start('sts-clock-ahead'))).toBeGreaterThan(now + 600);
  });

  it('issuer-unreachable: the pod gets 404 from discovery while STS still verifies the token', async () => {
    const sim = await start('issuer-unreachable');
    expect((await fetch(`${sim.urls.issuer}/.well-known/openid-configuration`)).status).toBe(404);
    expect((await assumeAsThePod(sim)).status).toBe(200);
  });

  it('static-keys-override: IAM user keys beside IRSA, known to STS, secret recorded', async () => {
    const sim = await start('static-keys-override');
    expect(sim.env.AWS_ACCESS_KEY_ID).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(sim.secrets).toContain(sim.env.AWS_SECRET_ACCESS_KEY);
    const caller = await new STSClient({
      region: 'us-west-2',
      endpoint: sim.env.AWS_ENDPOINT_URL_STS,
      maxAttempts: 1,
      credentials: {
        accessKeyId: sim.env.AWS_ACCESS_KEY_ID ?? '',
        secretAccessKey: sim.env.AWS_SECRET_ACCESS_KEY ?? '',
      },
    }).send(new GetCallerIdentityCommand({}));
    expect(caller.Arn).toBe('arn:aws:iam::111122223333:user/ci-deployer');
  });

  it('node-role-fallback: no webhook env at all, and IMDS hands out the node role', async () => {
    const sim = await start('node-role-fallback');
    expect(Object.keys(sim.env).filter((k) => k.startsWith('AWS_'))).toEqual([
      'AWS_ENDPOINT_URL_STS',
      'AWS_EC2_METADATA_SERVICE_ENDPOINT',
    ]);
    const token = await (
      await fetch(`${sim.urls.imds}/latest/api/token`, {
        method: 'PUT',
        headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' },
      })
    ).text();
    const role = await (
      await fetch(`${sim.urls.imds}/latest/meta-data/iam/security-credentials/`, {
        headers: { 'x-aws-ec2-metadata-token': token },
      })
    ).text();
    expect(role).toMatch(/NodeInstanceRole/);
  });

  it('all-blackhole: every endpoint accepts and never answers', async () => {
    const sim = await start('all-blackhole');
    const outcomes = await Promise.all(
      [`${sim.urls.issuer}/keys`, sim.urls.sts, `${sim.urls.imds}/latest/meta-data/`, sim.urls.agent].map((url) =>
        fetch(url, { signal: AbortSignal.timeout(300) }).then(
          () => 'answered',
          (e: Error) => e.name,
        ),
      ),
    );
    expect(outcomes).toEqual(['TimeoutError', 'TimeoutError', 'TimeoutError', 'TimeoutError']);
  });

  it('pod-identity-access-denied and pod-identity-no-association: the agent relays EKS Auth', async () => {
    const denied = await start('pod-identity-access-denied');
    const r = await fetch(denied.urls.agent, { headers: { authorization: denied.files[POD_IDENTITY_TOKEN] ?? '' } });
    expect(r.status).toBe(400);
    expect(await r.text()).toContain('(AccessDeniedException)');
    const none = await start('pod-identity-no-association');
    const n = await fetch(none.urls.agent, { headers: { authorization: none.files[POD_IDENTITY_TOKEN] ?? '' } });
    expect(n.status).toBe(404);
  });

  it('every scenario starts on loopback and closes cleanly, black holes included', async () => {
    for (const { name } of SCENARIOS) {
      const sim = await startSimulatedEks({ name });
      const hanging = fetch(sim.urls.sts, { method: 'POST', body: 'Action=GetCallerIdentity' }).catch(() => 'cut');
      await sim.close();
      await hanging;
    }
  });

  it('demoContext reads the pod files from memory and the env from the sim only', async () => {
    const sim = await start('healthy-irsa');
    const ctx = demoContext(sim, { offline: false, noKube: true, timeoutMs: 5_000 });
    expect(ctx.env).toEqual(sim.env);
    const { bytes } = await ctx.files.readHead(IRSA_TOKEN, 64 * 1024);
    expect(bytes.toString('utf8')).toBe(sim.files[IRSA_TOKEN]);
    expect(await ctx.peers()).toEqual([]);
  });
});
