import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BINARY, runBinary } from '../helpers/binary';
import { processesUnder } from '../helpers/launch';

/**
 * `irsa-doctor demo pod|job`: the launchers against the simulated cluster, all inside the one binary (its
 * kubelet runs the binary itself as the containers). On a terminal it shows the TUI: the steps, then the report.
 */

const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
const HOME = mkdtempSync(path.join(tmpdir(), 'irsa-demo-launch-'));
const ENV = { PATH: '/usr/bin:/bin', HOME };

function onTerminal(args: string[]): Promise<{ code: number | null; out: string }> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return new Promise((resolve) => {
    const child = spawn(SCRIPT as string, ['-qec', [BINARY, ...args].map(quote).join(' '), '/dev/null'], {
      env: { ...ENV, TERM: 'xterm-256color' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe.skipIf(!existsSync(BINARY))('irsa-doctor demo pod|job', () => {
  it('demo pod: healthy, exit 0, and no process of the simulated kubelet left', async () => {
    // A TMPDIR of this run's own: the kubelet's work directory goes there, so the check below sees only this
    // run's containers, not those of another test's simulated cluster running at the same time.
    const own = mkdtempSync(path.join(tmpdir(), 'irsa-demo-pod-tmp-'));
    const run = await runBinary(['demo', 'pod', '--output', 'json'], { ...ENV, TMPDIR: own });
    expect(JSON.parse(run.stdout)).toMatchObject({ verdict: 'healthy', rootCause: null, mechanism: 'irsa' });
    expect(run.code).toBe(0);
    expect(readdirSync(own).filter((f) => f.startsWith('irsa-doctor-kubelet-'))).toEqual([]);
    expect(processesUnder(own)).toEqual([]);
  });

  it('demo job SCENARIO: the scenario root cause and exit 1; text mode says which cluster and kubelet', async () => {
    const json = await runBinary(['demo', 'job', 'trust-sub-mismatch', '--output', 'json'], ENV);
    expect(JSON.parse(json.stdout)).toMatchObject({ verdict: 'broken', rootCause: { code: 'TRUST_POLICY_DENIED' } });
    expect(json.code).toBe(1);
    const text = await runBinary(['demo', 'job', 'trust-sub-mismatch', '--output', 'text'], ENV);
    expect(text.stderr).toContain('irsa-doctor demo job: scenario trust-sub-mismatch:');
    expect(text.stderr).toMatch(
      /irsa-doctor demo job: simulated cluster at https:\/\/127\.0\.0\.1:\d+; its kubelet runs containers with /,
    );
    expect(text.stderr).toMatch(/irsa-doctor job: deleting Job shop\/irsa-doctor-checkout-[a-z0-9]{5} and its pod/);
    expect(text.stdout).toContain('Root cause: TRUST_POLICY_DENIED');
    expect(text.code).toBe(1);
  });

  it('an unknown scenario is a usage error', async () => {
    const run = await runBinary(['demo', 'pod', 'nope'], ENV);
    expect(run.stderr).toContain('unknown demo scenario "nope"');
    expect(run.code).toBe(2);
  });

  it.skipIf(!SCRIPT)(
    'on a terminal: the steps with the ephemeral container, then the verdict box and the fix commands',
    async () => {
      const { code, out } = await onTerminal(['demo', 'pod', 'trust-sub-mismatch']);
      // Without escapes, and with the lines Ink wrapped at the terminal's width joined again.
      const plain = out.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\s+/g, ' ');
      expect(plain).toMatch(
        /✔ adding ephemeral container irsa-doctor-[a-z0-9]{5} \(image ghcr\.io\/irsa-doctor\/irsa-doctor:[^)]+\) targeting container app \(\d+/,
      );
      expect(plain).toContain('ℹ ephemeral container');
      expect(plain).toContain('Root cause: TRUST_POLICY_DENIED');
      expect(plain).toContain('╭');
      expect(plain).toContain('$ aws iam get-role --role-name shop-checkout');
      expect(code).toBe(1);
    },
  );
});
