import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedEks } from '../../src/sim/index';
import { SIM_ROLE_ARN, startSimulatedEks } from '../../src/sim/index';

/*
 * The simulated STS against a real client: the AWS CLI v2 (Debian's awscli package). /usr/bin/aws comes first
 * because `aws` on PATH may be a pyenv shim of the v1 CLI. Debian's awscli 2.9 ignores AWS_ENDPOINT_URL_STS,
 * so the endpoint is passed with --endpoint-url.
 */
const AWS = ['/usr/bin/aws', '/usr/local/bin/aws'].find((p) => existsSync(p));
const version = AWS ? spawnSync(AWS, ['--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } }) : undefined;
const versionText = `${version?.stdout ?? ''}${version?.stderr ?? ''}`.trim();
const skipReason = !AWS
  ? 'aws CLI not installed (apt-get install -y awscli)'
  : !versionText.startsWith('aws-cli/2.')
    ? `${AWS} is not the AWS CLI v2 (${versionText || 'no version output'})`
    : undefined;
if (skipReason) console.log(`skipping the AWS CLI tests: ${skipReason}`);

const TOKEN = '/var/run/secrets/eks.amazonaws.com/serviceaccount/token';

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI asynchronously (the sim answers from this process) with a minimal env of its own. */
function aws(args: readonly string[], home: string, extraEnv: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(AWS ?? 'aws', [...args], {
      env: {
        PATH: '/usr/bin:/bin',
        HOME: home,
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_PAGER: '',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

function assumeArgs(sim: SimulatedEks, sessionName: string): string[] {
  return [
    'sts',
    'assume-role-with-web-identity',
    '--role-arn',
    SIM_ROLE_ARN,
    '--role-session-name',
    sessionName,
    '--web-identity-token',
    sim.files[TOKEN] ?? '',
    '--endpoint-url',
    sim.urls.sts,
    '--region',
    'us-west-2',
    '--output',
    'json',
  ];
}

describe.skipIf(skipReason !== undefined)('the simulated STS with the AWS CLI v2', () => {
  let home = '';
  beforeAll(() => {
    home = mkdtempSync(path.join(tmpdir(), 'sim-awscli-'));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('assume-role-with-web-identity returns credentials, and get-caller-identity with them names the assumed role', async () => {
    const sim = await startSimulatedEks('healthy-irsa');
    try {
      const assumed = await aws(assumeArgs(sim, 'cli-session'), home);
      expect(assumed.stderr).toBe('');
      expect(assumed.code).toBe(0);
      const out = JSON.parse(assumed.stdout) as {
        Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string };
        AssumedRoleUser: { Arn: string; AssumedRoleId: string };
        SubjectFromWebIdentityToken: string;
        Audience: string;
      };
      expect(out.Credentials.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
      expect(sim.secrets).toEqual(
        expect.arrayContaining([out.Credentials.SecretAccessKey, out.Credentials.SessionToken]),
      );
      expect(Date.parse(out.Credentials.Expiration)).toBeGreaterThan(Date.now());
      expect(out.AssumedRoleUser.Arn).toBe('arn:aws:sts::111122223333:assumed-role/shop-checkout/cli-session');
      expect(out.SubjectFromWebIdentityToken).toBe('system:serviceaccount:shop:checkout');
      expect(out.Audience).toBe('sts.amazonaws.com');

      const caller = await aws(
        ['sts', 'get-caller-identity', '--endpoint-url', sim.urls.sts, '--region', 'us-west-2', '--output', 'json'],
        home,
        {
          AWS_ACCESS_KEY_ID: out.Credentials.AccessKeyId,
          AWS_SECRET_ACCESS_KEY: out.Credentials.SecretAccessKey,
          AWS_SESSION_TOKEN: out.Credentials.SessionToken,
        },
      );
      expect(caller.stderr).toBe('');
      expect(JSON.parse(caller.stdout)).toEqual({
        UserId: expect.stringMatching(/^AROA[A-Z2-7]+:cli-session$/),
        Account: '111122223333',
        Arn: 'arn:aws:sts::111122223333:assumed-role/shop-checkout/cli-session',
      });
    } finally {
      await sim.close();
    }
  });

  it('shows AccessDenied with the STS message when the trust policy names another namespace', async () => {
    const sim = await startSimulatedEks('trust-sub-mismatch');
    try {
      const run = await aws(assumeArgs(sim, 'cli-session'), home);
      expect(run.code).not.toBe(0);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('AccessDenied');
      expect(run.stderr).toContain('Not authorized to perform sts:AssumeRoleWithWebIdentity');
    } finally {
      await sim.close();
    }
  });

  it('shows ExpiredTokenException for an expired token, and InvalidClientTokenId for unknown keys', async () => {
    const sim = await startSimulatedEks('token-expired-at-sts');
    try {
      const expired = await aws(assumeArgs(sim, 'cli-session'), home);
      expect(expired.stderr).toMatch(
        /\(ExpiredTokenException\).*Token expired: current date\/time \d+ must be before the expiration date\/time \d+/,
      );
      const unknown = await aws(
        ['sts', 'get-caller-identity', '--endpoint-url', sim.urls.sts, '--region', 'us-west-2'],
        home,
        { AWS_ACCESS_KEY_ID: 'AKIAUNKNOWNUNKNOWN22', AWS_SECRET_ACCESS_KEY: 'x'.repeat(40) },
      );
      expect(unknown.stderr).toContain('(InvalidClientTokenId)');
      expect(unknown.stderr).toContain('The security token included in the request is invalid.');
    } finally {
      await sim.close();
    }
  });
});
