import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedEks } from '../../src/sim/index';
import { materialize, startSimulatedEks } from '../../src/sim/index';
import { runBinary } from '../helpers/binary';
import { parseReport } from '../helpers/reports';

/*
 * AWS_PROFILE naming a profile that no shared file defines, beside a working IRSA setup: what real clients do
 * with it, and what the doctor says. botocore (the AWS CLI v2 bundles it) stops with ProfileNotFound before
 * any credential source; the JS SDK v3 (the version this project depends on) goes on to web identity. The Go
 * SDK v2 is not on this machine: its behaviour is from its source (src/checks/env-precedence.ts cites it).
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AWS = ['/usr/bin/aws', '/usr/local/bin/aws'].find((p) => existsSync(p));
const awsVersion = AWS
  ? spawnSync(AWS, ['--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } })
  : undefined;
const awsIsV2 = `${awsVersion?.stdout ?? ''}${awsVersion?.stderr ?? ''}`.startsWith('aws-cli/2.');
if (!awsIsV2) console.log('aws-profile.test.ts: no AWS CLI v2 at /usr/bin/aws, skipping its case');

function run(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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

let sim: SimulatedEks;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  sim = await startSimulatedEks('healthy-irsa');
  dir = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-profile-'));
  env = { PATH: '/usr/bin:/bin', ...materialize(sim, dir).env, AWS_PROFILE: 'ghost' };
});

afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('AWS_PROFILE=ghost beside a working IRSA setup', () => {
  it.skipIf(!awsIsV2)('botocore (AWS CLI v2) refuses to start: ProfileNotFound', async () => {
    const cli = await run(AWS!, ['sts', 'get-caller-identity', '--endpoint-url', sim.urls.sts], env);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('The config profile (ghost) could not be found');
  });

  it('the JS SDK v3 default chain skips the profile and gets the role through web identity', async () => {
    const script = `
      import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
      const credentials = await fromNodeProviderChain()();
      console.log(credentials.accessKeyId.slice(0, 4));`;
    const node = await run(process.execPath, ['--input-type=module', '-e', script], env);
    expect(node.stderr).toBe('');
    expect(node.stdout.trim()).toBe('ASIA');
  });

  it('the doctor: AWS_PROFILE_NOT_FOUND, an error (exit 1), naming boto3 and Go; the JS SDK goes on', async () => {
    const result = await runBinary(['--output', 'json', '--no-kube'], env);
    const report = parseReport(result.stdout);
    const finding = report.findings.find((f) => f.code === 'AWS_PROFILE_NOT_FOUND');
    expect(finding).toMatchObject({ severity: 'error', checkId: 'env.precedence' });
    expect(finding?.summary).toContain('ProfileNotFound');
    expect(finding?.summary).toContain('failed to get shared config profile, ghost');
    expect(finding?.evidence).toMatchObject({ 'js-v3': 'irsa', boto3: 'error', 'go-v2': 'error' });
    expect(finding?.remedy.commands).toContain('kubectl set env deployment/<DEPLOYMENT> -n shop AWS_PROFILE-');
    expect(report.findings.map((f) => f.code)).not.toContain('SDK_CHAINS_DISAGREE');
    expect(report.rootCause?.code).toBe('AWS_PROFILE_NOT_FOUND');
    expect(report.verdict).toBe('broken');
    expect(result.code).toBe(1);
  });
});
