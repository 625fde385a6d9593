import type { SpawnSyncReturns } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINARY, BINARY_UNAVAILABLE, EMULATED } from '../helpers/binary';

/**
 * The executable as a kubectl plugin, through the real kubectl's plugin discovery: installed as
 * `kubectl-irsa_doctor` on PATH, as a copy (a manual install) and as a symlink (what krew puts on PATH), it is
 * listed by `kubectl plugin list` and answers `kubectl irsa-doctor ...` with its exit code, naming itself
 * `kubectl irsa-doctor` in its help.
 */
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
const unavailable = BINARY_UNAVAILABLE ?? (KUBECTL ? undefined : 'kubectl is missing');
if (unavailable) console.warn(`kubectl-plugin.test.ts skipped: ${unavailable}`);

let work = '';
beforeAll(() => {
  if (unavailable) return;
  work = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-plugin-'));
  mkdirSync(path.join(work, 'copy'));
  copyFileSync(BINARY, path.join(work, 'copy', 'kubectl-irsa_doctor'));
  spawnSync('chmod', ['755', path.join(work, 'copy', 'kubectl-irsa_doctor')]);
  // krew: ~/.krew/store/<plugin>/<version>/<bin>, linked from ~/.krew/bin/kubectl-<plugin name with _>.
  mkdirSync(path.join(work, 'store'));
  mkdirSync(path.join(work, 'krew-bin'));
  copyFileSync(BINARY, path.join(work, 'store', 'kubectl-irsa_doctor'));
  spawnSync('chmod', ['755', path.join(work, 'store', 'kubectl-irsa_doctor')]);
  symlinkSync(path.join(work, 'store', 'kubectl-irsa_doctor'), path.join(work, 'krew-bin', 'kubectl-irsa_doctor'));
  mkdirSync(path.join(work, 'home'));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function kubectl(dir: string, args: string[]): SpawnSyncReturns<string> {
  return spawnSync(KUBECTL!, args, {
    encoding: 'utf8',
    // kubectl needs no cluster for a plugin; HOME is empty, so no kubeconfig of the machine is read either.
    env: { PATH: `${path.join(work, dir)}:/usr/bin:/bin`, HOME: path.join(work, 'home') },
    timeout: 60_000,
  });
}

// The binary runs natively only: kubectl execs the plugin file directly (no emulator prefix).
describe.skipIf(unavailable !== undefined || EMULATED).each(['copy', 'krew-bin'])('installed as %s', (dir) => {
  it('kubectl plugin list finds it, with no warning', () => {
    const list = kubectl(dir, ['plugin', 'list']);
    expect(list.stdout).toContain(path.join(work, dir, 'kubectl-irsa_doctor'));
    expect(list.stderr).toBe('');
    expect(list.status).toBe(0);
  });

  it('kubectl irsa-doctor --version', () => {
    const result = kubectl(dir, ['irsa-doctor', '--version']);
    expect(result.stdout).toBe(`irsa-doctor ${VERSION}\n`);
    expect(result.status).toBe(0);
  });

  it('kubectl irsa-doctor --help names every usage line kubectl irsa-doctor', () => {
    const help = kubectl(dir, ['irsa-doctor', '--help']);
    // Command lines; a long description continues on lines indented further.
    const usage = help.stdout
      .split('Usage:\n')[1]!
      .split('\n\n')[0]!
      .split('\n')
      .filter((line) => /^ {2}\S/.test(line));
    expect(usage.length).toBeGreaterThanOrEqual(3);
    for (const line of usage) expect(line).toMatch(/^ {2}kubectl irsa-doctor /);
    expect(help.stdout.startsWith('kubectl irsa-doctor: ')).toBe(true);
    expect(help.status).toBe(0);
  });

  it('a usage error points at kubectl irsa-doctor --help, with exit 2', () => {
    const result = kubectl(dir, ['irsa-doctor', '--no-such-flag']);
    expect(result.stderr).toContain('Run "kubectl irsa-doctor --help" for usage.');
    expect(result.status).toBe(2);
  });

  it('kubectl passes the verdict on: demo healthy exits 0, a broken scenario 1', () => {
    const healthy = kubectl(dir, ['irsa-doctor', 'demo', '--output', 'json']);
    expect((JSON.parse(healthy.stdout) as { verdict: string }).verdict).toBe('healthy');
    expect(healthy.status).toBe(0);
    const broken = kubectl(dir, ['irsa-doctor', 'demo', 'trust-sub-mismatch', '--output', 'text']);
    expect(broken.stdout).toContain('Root cause: TRUST_POLICY_DENIED');
    expect(broken.status).toBe(1);
  });
});
