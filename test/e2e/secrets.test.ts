import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINARY, binaryCommand } from '../helpers/binary';
import { POD_IDENTITY_TOKEN_PATH } from '../../src/aws/env-names';
import { maskAccessKeyId } from '../../src/aws/secrets';
import type { ScenarioName, SimulatedEks } from '../../src/sim/index';
import { SCENARIOS, materialize, startSimulatedEks } from '../../src/sim/index';
import { parseReport } from '../helpers/reports';

/**
 * docs/report.md, "Secrets" (nothing secret is ever in any output), through the built binary: every scenario of
 * the simulated EKS in all three output modes (JSON, text on a pipe, the Ink TUI on a real pseudo-terminal),
 * checked against every secret the sim handed out (sim.secrets: the IRSA and Pod Identity tokens, whole and
 * as payload and signature segments, the pod's Kubernetes SA token, every secret access key and session
 * token of STS, IMDS, the agent and the static keys); access key ids only masked.
 *
 * Each run also proves the process writes no file, two ways:
 * - strace (when ptrace works here): every path-taking syscall of the process and all its threads and
 *   children, whatever the path, is logged; no open for writing or creating, and no mkdir, unlink, rename,
 *   link, chmod, chown, utimes, truncate, mknod or xattr call may appear, not even a failed attempt.
 * - a snapshot of the trees the process could plausibly write (its cwd, HOME, TMPDIR and the pod's files),
 *   type, mode, size, mtime and ctime of every entry, before and after: a file written, created and deleted
 *   again, or touched shows as a changed directory mtime. This runs even where strace cannot.
 * test/e2e/chroot.test.ts adds the third: the binary diagnoses on a read-only root with no capabilities.
 */
const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
const STRACE = ['/usr/bin/strace', '/bin/strace'].find((p) => existsSync(p));
/** Everything this file creates lives under here; one rmSync at the end. */
const WORK = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-secrets-'));

const straceProblem = !STRACE
  ? 'strace is not installed'
  : spawnSync(STRACE, ['-f', '-qq', '-o', '/dev/null', '/bin/true']).status !== 0
    ? 'strace cannot trace here (ptrace not permitted)'
    : undefined;
if (straceProblem) console.warn(`secrets.test.ts: ${straceProblem}; the no-write proof falls back to snapshots only`);
if (!SCRIPT) console.warn('secrets.test.ts: util-linux `script` not found, skipping the pseudo-terminal runs');

type Mode = 'json' | 'text' | 'tui';
const MODES: readonly Mode[] = SCRIPT ? ['json', 'text', 'tui'] : ['json', 'text'];

/**
 * Path-taking syscalls, the fd-based ones that change a file opened read-only, opening by handle, and
 * io_uring_setup: file operations submitted through io_uring never show as syscalls, so using it at all
 * would void the trace (the binary does not).
 */
const TRACED = '%file,fchmod,fchown,fsetxattr,fremovexattr,ftruncate,fallocate,open_by_handle_at,io_uring_setup';
const CHANGES_FILES = new Set(
  (
    'creat mkdir mkdirat unlink unlinkat rmdir rename renameat renameat2 link linkat symlink symlinkat truncate ' +
    'ftruncate fallocate chmod fchmod fchmodat fchmodat2 chown fchown lchown fchownat utime utimes utimensat ' +
    'futimesat mknod mknodat setxattr lsetxattr fsetxattr removexattr lremovexattr fremovexattr io_uring_setup'
  ).split(' '),
);
const OPENS = new Set(['open', 'openat', 'openat2', 'open_by_handle_at']);
const WRITE_FLAGS = /\b(?:O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND|O_TMPFILE)\b/;

/**
 * The strace lines that write, create, remove or change a file (or could do so unseen); attempts count,
 * whatever their result.
 */
function fileChangingCalls(log: string): string[] {
  return log.split('\n').filter((line) => {
    const call = /^\d+\s+(\w+)\((.*)$/.exec(line);
    if (!call) return false;
    const [, name = '', args = ''] = call;
    return CHANGES_FILES.has(name) || (OPENS.has(name) && WRITE_FLAGS.test(args));
  });
}

type Snapshot = Map<string, string>;

/** Type, mode, size, mtime and ctime of every entry under the roots (a directory's mtime moves on create/delete). */
function snapshot(roots: readonly string[]): Snapshot {
  const entries: Snapshot = new Map();
  const walk = (p: string) => {
    const st = lstatSync(p, { bigint: true });
    entries.set(p, `${st.mode}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`);
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(path.join(p, name));
  };
  roots.forEach(walk);
  return entries;
}

function changedEntries(before: Snapshot, after: Snapshot): string[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((p) => before.get(p) !== after.get(p)).sort();
}

interface Run {
  readonly code: number | null;
  /** stdout and stderr together: for the TUI both are the terminal. */
  readonly output: string;
  /** The strace log, or undefined when strace is not usable here. */
  readonly trace: string | undefined;
  /** Entries of cwd, HOME, TMPDIR and the extra roots that changed during the run. */
  readonly changed: string[];
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the binary with exactly `env` (plus PATH, TERM and a fresh TMPDIR) in a fresh cwd; on a pty through
 * `script` for the TUI. `roots` are further trees to snapshot (HOME and the pod's files).
 */
function runBinary(
  mode: Mode,
  args: readonly string[],
  env: Record<string, string>,
  roots: string[],
  program: readonly string[] = binaryCommand([]).flat(),
): Promise<Run> {
  const cwd = mkdtempSync(path.join(WORK, 'cwd-'));
  const tmp = mkdtempSync(path.join(WORK, 'tmp-'));
  const log = `${cwd}.strace`;
  const outputArgs = mode === 'tui' ? [] : ['--output', mode];
  const command = [
    ...(straceProblem ? [] : [STRACE!, '-f', '-qq', '-y', '--seccomp-bpf', '-e', `trace=${TRACED}`, '-o', log]),
    ...program,
    ...args,
    ...outputArgs,
  ];
  const [file, ...argv] = mode === 'tui' ? [SCRIPT!, '-qec', command.map(quote).join(' '), '/dev/null'] : command;
  const watched = [cwd, tmp, ...roots];
  const before = snapshot(watched);
  return new Promise((resolve, reject) => {
    const child = spawn(file!, argv, {
      cwd,
      env: { PATH: '/usr/bin:/bin', TERM: 'xterm-256color', TMPDIR: tmp, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      const changed = changedEntries(before, snapshot(watched));
      const trace = straceProblem ? undefined : readFileSync(log, 'utf8');
      resolve({ code, output, trace, changed });
    });
  });
}

const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

/**
 * The output as printed, without escape sequences, and squashed to the base64/base64url alphabet: a secret
 * the TUI wrapped across lines or boxed between borders is whole again in the squashed form.
 */
function views(output: string): { plain: string; squashed: string } {
  const plain = output.replace(ANSI, '');
  return { plain, squashed: plain.replace(/[^A-Za-z0-9+/=_-]/g, '') };
}

/** Names a secret without showing it: failure messages are output too. */
const describeSecret = (s: string) => `a ${s.length}-char secret (${s.startsWith('eyJ') ? 'JWT part' : 'credential'})`;

function leakedSecrets(output: string, secrets: readonly string[]): string[] {
  const { plain, squashed } = views(output);
  return secrets.filter((s) => output.includes(s) || plain.includes(s) || squashed.includes(s)).map(describeSecret);
}

const FULL_KEY_ID = /\b(?:AKIA|ASIA)[A-Z2-7]{16}\b/g;

function unmaskedKeyIds(output: string, keyIds: readonly string[]): string[] {
  const { plain, squashed } = views(output);
  const exact = keyIds.filter((id) => plain.includes(id) || squashed.includes(id));
  return [...new Set([...exact, ...(plain.match(FULL_KEY_ID) ?? [])])].map(maskAccessKeyId);
}

/**
 * Shapes of secrets, for `demo`, whose sim lives inside the binary so its exact values are unknown here:
 * a base64url JSON segment (JWT header/payload), the session-token prefix, a long base64url run (a JWT
 * signature) and a 40+ char base64 run with both letter cases (a secret access key, a session token).
 * Validated below: it matches every secret the out-of-process sim mints and nothing in any clean output.
 * An EKS issuer id (`/id/` and 32 upper-case letters and digits) is public and shown on purpose, so it is left out.
 */
function secretShapes(output: string): string[] {
  const text = output.replace(/\/id\/[0-9A-Z]{32}\b/g, '/id/');
  const found: string[] = [];
  if (/eyJ[A-Za-z0-9_-]{16,}/.test(text)) found.push('base64url JSON (a JWT segment)');
  if (/IQoJb3JpZ2luX2Vj/.test(text)) found.push('a session token prefix');
  // Both letter cases: random base64 has them, hex digests, UUIDs and session names do not.
  const bothCases = (run: string) => /[A-Z]/.test(run) && /[a-z]/.test(run);
  if ((text.match(/[A-Za-z0-9_-]{64,}/g) ?? []).some(bothCases)) found.push('a 64+ char base64url run');
  const mixed = (text.match(/[A-Za-z0-9+/=]{40,}/g) ?? []).filter(bothCases);
  if (mixed.length > 0) found.push(`a 40+ char base64 run (${mixed.map((r) => r.length).join(', ')} chars)`);
  return found;
}

/** The values sim.secrets must hold for this pod: the JWTs of its files (whole and segments), secret env values. */
function expectedSecrets(sim: SimulatedEks, env: Record<string, string>): string[] {
  const wanted: string[] = [];
  for (const contents of Object.values(sim.files)) {
    const segments = contents.split('.');
    if (segments.length === 3) wanted.push(contents, segments[1]!, segments[2]!);
  }
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_CONTAINER_AUTHORIZATION_TOKEN']) {
    if (env[name]) wanted.push(env[name]);
  }
  return wanted;
}

beforeAll(() => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run "npm run build" first (npm test does)`);
});

afterAll(() => rmSync(WORK, { recursive: true, force: true }));

interface Case {
  readonly label: string;
  readonly scenario: ScenarioName;
  /** Changes to the pod's env, and secrets the test itself put there. */
  readonly adjust?: (
    env: Record<string, string>,
    sim: SimulatedEks,
  ) => { env: Record<string, string>; extra: string[] };
}

const base32 = (n: number) => [...randomBytes(n)].map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[b % 32]).join('');

const CASES: readonly Case[] = [
  ...SCENARIOS.map((s) => ({ label: s.name, scenario: s.name })),
  {
    // The other way to give the agent its authorization token, allowed by the SDKs and docs/cli.md, "Environment"
    label: 'healthy-pod-identity, token inline in AWS_CONTAINER_AUTHORIZATION_TOKEN',
    scenario: 'healthy-pod-identity',
    adjust: (env, sim) => {
      const { AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: _file, ...rest } = env;
      return { env: { ...rest, AWS_CONTAINER_AUTHORIZATION_TOKEN: sim.files[POD_IDENTITY_TOKEN_PATH]! }, extra: [] };
    },
  },
  {
    // Hand-set temporary keys with a session token beside IRSA: STS does not know them (an error path).
    label: 'healthy-irsa plus hand-set temporary keys and AWS_SESSION_TOKEN',
    scenario: 'healthy-irsa',
    adjust: (env) => {
      const keys = {
        AWS_ACCESS_KEY_ID: `ASIA${base32(16)}`,
        AWS_SECRET_ACCESS_KEY: randomBytes(30).toString('base64'),
        AWS_SESSION_TOKEN: `IQoJb3JpZ2luX2VjE${randomBytes(120).toString('base64')}`,
      };
      return { env: { ...env, ...keys }, extra: [keys.AWS_SECRET_ACCESS_KEY, keys.AWS_SESSION_TOKEN] };
    },
  },
];

const VERDICT_LINE = /\b(?:HEALTHY|DEGRADED|BROKEN)\b/;

// Concurrent in small batches: vitest runs at most `maxConcurrency` (5 by default) of these at once, each
// scenario's three modes together against its own sim.
describe.concurrent('no secret in any output, no file written: every simulated-EKS scenario, every mode', () => {
  it.for(CASES)('$label', { timeout: 90_000 }, async ({ scenario, adjust }, { expect }) => {
    const sim = await startSimulatedEks(scenario);
    try {
      const problems: string[] = [];
      let keyIdsShownMasked = 0;
      // The three modes at once (each its own copy of the pod's files): the sim serves them all.
      const runs = await Promise.all(
        MODES.map(async (mode) => {
          const pod = mkdtempSync(path.join(WORK, 'pod-'));
          const materialized = materialize(sim, pod).env;
          const { env, extra } = adjust ? adjust(materialized, sim) : { env: materialized, extra: [] };
          return { mode, env, extra, run: await runBinary(mode, ['--timeout', '5000'], env, [pod]) };
        }),
      );
      for (const { mode, env, extra, run } of runs) {
        // The run really diagnosed: a report in the mode asked for, exit 0 or 1.
        expect([0, 1], `${mode}: exit code, output:\n${run.output}`).toContain(run.code);
        if (mode === 'json') expect(['healthy', 'degraded', 'broken']).toContain(parseReport(run.output).verdict);
        else expect(views(run.output).plain).toMatch(VERDICT_LINE);
        if (mode === 'tui') expect(run.output, 'the Ink view (box drawing)').toContain('╭');

        // sim.secrets covers this pod's tokens and secret env values; the test's own additions are checked too.
        expect(sim.secrets).toEqual(expect.arrayContaining(expectedSecrets(sim, sim.env)));
        const secrets = [...sim.secrets, ...extra];
        for (const leak of leakedSecrets(run.output, secrets)) problems.push(`${mode}: leaks ${leak}`);
        const keyIds = [...sim.accessKeyIds, ...(extra.length ? [env.AWS_ACCESS_KEY_ID!] : [])];
        for (const id of unmaskedKeyIds(run.output, keyIds)) problems.push(`${mode}: full access key id ${id}`);
        for (const id of keyIds) if (views(run.output).plain.includes(maskAccessKeyId(id))) keyIdsShownMasked++;
        // The shape detector used for `demo` must stay quiet on a clean output.
        if (mode !== 'tui') for (const shape of secretShapes(run.output)) problems.push(`${mode}: shows ${shape}`);

        for (const entry of run.changed) problems.push(`${mode}: changed on disk: ${entry}`);
        if (run.trace !== undefined) {
          // The trace saw this process: its exec, and its reads of the pod's files (-y: by the path of the file
          // descriptor the open returned, since the file view opens each component through /proc/self/fd/N).
          expect(run.trace).toMatch(/execve\(/);
          if (env.AWS_WEB_IDENTITY_TOKEN_FILE) expect(run.trace).toContain(env.AWS_WEB_IDENTITY_TOKEN_FILE);
          for (const call of fileChangingCalls(run.trace)) problems.push(`${mode}: ${call}`);
        }
      }
      expect(problems).toEqual([]);
      // Every secret kind the detector for `demo` relies on is one it recognises.
      const missed = sim.secrets.filter((s) => secretShapes(s).length === 0).map(describeSecret);
      expect(missed).toEqual([]);
      // Key ids that reach the output do so masked (static keys are named in the finding): not vacuous.
      if (sim.env.AWS_ACCESS_KEY_ID) expect(keyIdsShownMasked).toBeGreaterThanOrEqual(MODES.length);
      // The healthy paths really got credentials, so their secrets were in the process to leak.
      if (!adjust && sim.scenario.expect.verdict === 'healthy') {
        expect(sim.accessKeyIds.some((id) => id.startsWith('ASIA'))).toBe(true);
      }
    } finally {
      await sim.close();
    }
  });
});

describe.concurrent(
  'irsa-doctor demo (the sim inside the binary): no secret shape, no full key id, no file written',
  () => {
    const DEMOS = ['healthy-irsa', 'static-keys-override', 'healthy-pod-identity', 'node-role-fallback'] as const;
    it.for(DEMOS.flatMap((name) => (['json', 'text'] as const).map((mode) => ({ name, mode }))))(
      'demo $name --output $mode',
      { timeout: 60_000 },
      async ({ name, mode }, { expect }) => {
        const home = mkdtempSync(path.join(WORK, 'home-'));
        const run = await runBinary(mode, ['demo', name, '--timeout', '5000'], { HOME: home }, [home]);
        const { plain } = views(run.output);
        expect([0, 1]).toContain(run.code);
        if (mode === 'json') expect(parseReport(run.output).schemaVersion).toBe(1);
        expect(secretShapes(plain)).toEqual([]);
        expect(plain.match(FULL_KEY_ID) ?? []).toEqual([]);
        if (name === 'static-keys-override') expect(plain).toMatch(/AKIA\*\*\*\*[A-Z2-7]{4}/);
        expect(run.changed).toEqual([]);
        if (run.trace !== undefined) {
          expect(run.trace).toMatch(/execve\(/);
          expect(fileChangingCalls(run.trace)).toEqual([]);
        }
      },
    );
  },
);

describe('the no-write detectors themselves', () => {
  it('flag opens for writing and every call that changes a file, not reads', () => {
    const log = [
      '12 openat(AT_FDCWD, "/etc/ssl/certs/ca.pem", O_RDONLY|O_CLOEXEC) = 3',
      '12 openat(AT_FDCWD, "/tmp/x", O_WRONLY|O_CREAT|O_TRUNC, 0644) = -1 EROFS (Read-only file system)',
      '13 mkdir("/tmp/cache", 0755 <unfinished ...>',
      '12 newfstatat(AT_FDCWD, "/home/app/.aws/config", 0x7ffc, 0) = -1 ENOENT (No such file or directory)',
      '14 renameat2(AT_FDCWD, "a", AT_FDCWD, "b", 0) = 0',
      '14 <... mkdir resumed>) = 0',
      '15 io_uring_setup(64, 0x7ffc) = 9',
    ].join('\n');
    expect(fileChangingCalls(log)).toEqual([
      '12 openat(AT_FDCWD, "/tmp/x", O_WRONLY|O_CREAT|O_TRUNC, 0644) = -1 EROFS (Read-only file system)',
      '13 mkdir("/tmp/cache", 0755 <unfinished ...>',
      '14 renameat2(AT_FDCWD, "a", AT_FDCWD, "b", 0) = 0',
      '15 io_uring_setup(64, 0x7ffc) = 9',
    ]);
  });

  it('catch a real process that writes a file and removes it again, through the same harness', async () => {
    const home = mkdtempSync(path.join(WORK, 'home-'));
    const writer = ['/bin/sh', '-c', 'echo x > "$HOME/f" && rm "$HOME/f" && echo HEALTHY'];
    const run = await runBinary('text', [], { HOME: home }, [home], writer);
    expect(run.output).toBe('HEALTHY\n');
    expect(run.changed).toEqual([home]);
    if (run.trace !== undefined) {
      expect(fileChangingCalls(run.trace).map((call) => /^\d+\s+(\w+)/.exec(call)?.[1])).toEqual([
        'openat',
        'unlinkat',
      ]);
    }
  });

  it('snapshots see a file created and removed again, and a touched one', async () => {
    const dir = mkdtempSync(path.join(WORK, 'probe-'));
    const { writeFileSync, unlinkSync, utimesSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'kept'), 'x');
    const before = snapshot([dir]);
    // File times come from a coarse (jiffy) clock: step past the tick of the snapshot first.
    await new Promise((resolve) => setTimeout(resolve, 20));
    writeFileSync(path.join(dir, 'gone'), 'y');
    unlinkSync(path.join(dir, 'gone'));
    utimesSync(path.join(dir, 'kept'), new Date(), new Date());
    expect(changedEntries(before, snapshot([dir]))).toEqual([dir, path.join(dir, 'kept')]);
  });

  it('finds a secret the TUI wrapped across lines inside a box', () => {
    const secret = randomBytes(30).toString('base64');
    const wrapped = `│ key: ${secret.slice(0, 17)}  │\n\u001b[2m│ ${secret.slice(17)}\u001b[22m │`;
    expect(leakedSecrets(wrapped, [secret])).toHaveLength(1);
    expect(secretShapes(secret)).not.toEqual([]);
  });
});
