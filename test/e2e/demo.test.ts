import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCENARIOS } from '../../src/sim/index';
import { BINARY, binaryCommand, runBinary } from '../helpers/binary';
import { parseReport } from '../helpers/reports';

/** `irsa-doctor demo`: the simulated EKS started inside the built binary, no cluster, no env needed. */

const ENV = { PATH: '/usr/bin:/bin', HOME: '/nonexistent' };

function demo(args: string[]) {
  const result = spawnSync(...binaryCommand(['demo', ...args]), {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.skipIf(!existsSync(BINARY))('irsa-doctor demo', () => {
  it('--list names every scenario with the diagnosis it shows', () => {
    const run = demo(['--list']);
    expect(run.code).toBe(0);
    for (const scenario of SCENARIOS) {
      expect(run.stdout).toMatch(
        new RegExp(`^  ${scenario.name} +${scenario.expect.rootCause ?? scenario.expect.verdict}$`, 'm'),
      );
    }
    const json = JSON.parse(demo(['--list', '--output', 'json']).stdout) as { scenarios: { name: string }[] };
    expect(json.scenarios.map((s) => s.name)).toEqual(SCENARIOS.map((s) => s.name));
  });

  it('runs healthy-irsa by default: healthy, exit 0, the caller is the assumed role', () => {
    const run = demo(['--output', 'json']);
    expect(run.code).toBe(0);
    const report = parseReport(run.stdout) as unknown as {
      verdict: string;
      identity: { callerArn: string; source: string };
    };
    expect(report.verdict).toBe('healthy');
    expect(report.identity).toMatchObject({ source: 'irsa' });
    expect(report.identity.callerArn).toMatch(/^arn:aws:sts::111122223333:assumed-role\/shop-checkout\//);
  });

  it.each([
    ['trust-sub-mismatch', 'TRUST_POLICY_DENIED'],
    ['pod-identity-no-association', 'POD_IDENTITY_NO_ASSOCIATION'],
  ])('%s: the report names %s and exits 1; text says which scenario on stderr', (name, code) => {
    const json = demo([name, '--output', 'json']);
    expect(json.code).toBe(1);
    expect(parseReport(json.stdout).rootCause?.code).toBe(code);
    expect(json.stderr).toBe('');
    const text = demo([name, '--output', 'text']);
    expect(text.stdout).toContain(`Root cause: ${code}`);
    expect(text.stderr).toContain(`irsa-doctor demo: scenario ${name}:`);
  });

  it('fills in the pod, namespace, ServiceAccount and instance it knows in every fix command of every scenario', async () => {
    const leftovers: string[] = [];
    for (let i = 0; i < SCENARIOS.length; i += 4) {
      const batch = SCENARIOS.slice(i, i + 4);
      const runs = await Promise.all(
        batch.map((s) => runBinary(['demo', s.name, '--output', 'json', '--timeout', '3000'], ENV)),
      );
      runs.forEach((run, index) => {
        const report = parseReport(run.stdout) as unknown as {
          findings: { code: string; remedy: { commands: string[] } }[];
          checks: { id: string; status: string }[];
        };
        // Where the demo serves the pod's Kubernetes API, kube.pod knows the owner: deployment/checkout.
        const ownerKnown = report.checks.some((c) => c.id === 'kube.pod' && c.status !== 'skip');
        const leftover = ownerKnown
          ? /<(NAMESPACE|POD|SERVICE_ACCOUNT|INSTANCE_ID|DEPLOYMENT)>/
          : /<(NAMESPACE|POD|SERVICE_ACCOUNT|INSTANCE_ID)>/;
        for (const finding of report.findings) {
          for (const command of finding.remedy.commands) {
            if (leftover.test(command))
              leftovers.push(`${batch[index]?.name} ${finding.code}: ${command.slice(0, 120)}`);
          }
        }
      });
    }
    expect(leftovers).toEqual([]);
  }, 120_000);

  it('one cause, one remedy: the expired token of token.claims and of STS is replaced the same way, in its Deployment', () => {
    const report = JSON.parse(demo(['token-expired-at-sts', '--output', 'json']).stdout) as {
      findings: { code: string; remedy: { commands: string[] } }[];
    };
    const recreate = (code: string) =>
      report.findings.find((f) => f.code === code)?.remedy.commands.filter((c) => /^kubectl (delete|rollout)/.test(c));
    expect(recreate('TOKEN_EXPIRED')).toEqual([
      'kubectl delete pod checkout-7d9f8b6c5-x2k4q -n shop   # its Deployment checkout creates a new one',
    ]);
    expect(recreate('STS_TOKEN_EXPIRED')).toEqual(recreate('TOKEN_EXPIRED'));
  });

  it('refuses an unknown scenario and a second one with exit 2 and a pointer to --list', () => {
    const unknown = demo(['no-such-scenario']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown demo scenario "no-such-scenario" (see irsa-doctor demo --list)');
    expect(demo(['healthy-irsa', 'sts-blackhole']).code).toBe(2);
  });
});
