import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IRSA_TOKEN_PATH } from '../../src/aws/env-names';
import { CHECKS } from '../../src/checks/registry';
import type { SimulatedEks } from '../../src/sim/index';
import { SIM_NAMESPACE, SIM_POD, SIM_SERVICE_ACCOUNT, materialize, startSimulatedEks } from '../../src/sim/index';
import { runBinary } from '../helpers/binary';
import { expectValidListChecks, parseReport } from '../helpers/reports';
import { mintToken } from '../helpers/tokens';

/*
 * The built binary never claims what it did not check: the cases a user hit first. A pod whose projected token
 * expired an hour ago, diagnosed with `--only token.claims`, was "HEALTHY: this pod gets the AWS credentials it
 * is set up for" with exit 0, because --only dropped env.irsa, which token.file reads to find the token.
 */

const PATH_ONLY = { PATH: '/usr/bin:/bin' };
let sim: SimulatedEks;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  sim = await startSimulatedEks('healthy-irsa');
  sim.files[IRSA_TOKEN_PATH] = await mintToken({
    iss: sim.urls.issuer,
    namespace: SIM_NAMESPACE,
    serviceAccount: SIM_SERVICE_ACCOUNT,
    pod: SIM_POD,
    iat: Math.floor(Date.now() / 1000) - 90_000,
    ttl: 86_400,
  });
  dir = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-claims-'));
  env = { ...PATH_ONLY, ...materialize(sim, dir).env };
});

afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('--only runs what the selected checks read', () => {
  it.each(['token.claims', 'token.file', 'issuer.discovery'])(
    '--only %s on a pod with an expired token: TOKEN_EXPIRED, exit 1, never healthy',
    async (id) => {
      const json = await runBinary(['--only', id, '--output', 'json', '--timeout', '5000'], env);
      const report = parseReport(json.stdout);
      expect(report.checks.map((c) => c.id)).toContain('env.irsa');
      if (id === 'token.file') {
        // token.file alone finds the file fine: no claim about the claims, and no health either.
        expect(report.verdict).toBe('degraded');
        expect(report.verification.headline).toMatch(
          /^INCOMPLETE: no problem in env.mechanism, env.irsa and token.file;/,
        );
        expect(json.code).toBe(0);
      } else {
        expect(report.rootCause?.code).toBe('TOKEN_EXPIRED');
        expect(json.code).toBe(1);
      }
      const text = await runBinary(['--only', id, '--output', 'text', '--timeout', '5000'], env);
      expect(text.stdout).not.toMatch(/HEALTHY|gets the AWS credentials/);
      expect(text.stdout).toContain(`\n${report.verification.headline}\n`);
    },
  );
});

describe('--list-checks shows what each check reads', () => {
  it('JSON: dependsOn and uses as the registry declares them, valid against docs/list-checks.schema.json', async () => {
    const run = await runBinary(['--list-checks', '--json'], PATH_ONLY);
    const listed: unknown = JSON.parse(run.stdout);
    expectValidListChecks(listed);
    const checks = (listed as { checks: { id: string; dependsOn: string[]; uses: string[] }[] }).checks;
    expect(checks.map((c) => [c.id, c.dependsOn, c.uses])).toEqual(
      CHECKS.map((c) => [c.id, [...c.dependsOn], [...(c.uses ?? [])]]),
    );
    expect(checks.find((c) => c.id === 'token.file')?.uses).toEqual(['env.irsa', 'env.pod-identity']);
  });

  it('text: "reads" next to "after"', async () => {
    const run = await runBinary(['--list-checks'], PATH_ONLY);
    expect(run.stdout).toMatch(
      /^ {2}token\.file +Token file {2}\[after env\.mechanism\] {2}\[reads env\.irsa, env\.pod-identity\]$/m,
    );
  });
});

describe('--offline on a pod STS would refuse', () => {
  it('says what it verified and that STS was not called, in text and JSON; exit 0', async () => {
    // The trust policy names another namespace: nothing local is wrong, and only STS could tell.
    const fresh = await startSimulatedEks('trust-sub-mismatch');
    const freshDir = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-claims-'));
    try {
      const freshEnv = { ...PATH_ONLY, ...materialize(fresh, freshDir).env };
      const json = await runBinary(['--offline', '--json'], freshEnv);
      const report = parseReport(json.stdout);
      expect(report.verdict).toBe('degraded');
      expect(report.verification.credentials).toBe('not-checked');
      expect(report.verification.headline).toBe(
        'INCOMPLETE: no problem in env and token; STS not called: --offline; not checked: OIDC issuer, clock.skew, sts.endpoints, caller identity and Kubernetes objects (--offline)',
      );
      expect(json.code).toBe(0);
      const text = await runBinary(['--offline', '--output', 'text'], freshEnv);
      expect(text.stdout).not.toMatch(/HEALTHY|gets the AWS credentials/);
      expect(text.stdout).toContain(`\n${report.verification.headline}\n`);
    } finally {
      await fresh.close();
      rmSync(freshDir, { recursive: true, force: true });
    }
  });
});
