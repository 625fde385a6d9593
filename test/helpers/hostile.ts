import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BinaryRun } from './binary';
import { BINARY } from './binary';

/**
 * What the hostile-input tests need beyond runBinary: the binary under strace (which programs it starts, which
 * files it opens), under GNU time (its peak RSS), and a process whose root is a directory of the test's making,
 * for --target.
 */

export const STRACE = ['/usr/bin/strace', '/bin/strace'].find((p) => existsSync(p));
export const GNU_TIME = ['/usr/bin/time'].find((p) => existsSync(p));
export const CHROOT = ['/usr/sbin/chroot', '/usr/bin/chroot'].find((p) => existsSync(p));

/** Why strace cannot be used here, or undefined. */
export const straceProblem: string | undefined = !STRACE
  ? 'strace is not installed'
  : spawnSync(STRACE, ['-f', '-qq', '-o', '/dev/null', '/bin/true']).status !== 0
    ? 'strace cannot trace here (ptrace not permitted)'
    : undefined;

/** Why a chrooted target process cannot be started here (--target through the built binary), or undefined. */
export const chrootProblem: string | undefined =
  process.getuid?.() !== 0 ? 'not root (chroot needs it)' : !CHROOT ? 'chroot is missing' : undefined;

export interface TracedRun extends BinaryRun {
  /** The strace log: every process and thread, fds decoded to their paths (-y). */
  readonly trace: string;
}

/** Process creation and file opening, all the binary's threads and any child it would have. */
export const TRACED = 'execve,execveat,fork,vfork,clone,clone3,open,openat,openat2';

function spawnCollect(
  file: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  stdin: string | undefined,
  killAfterMs: number,
): Promise<BinaryRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(file, [...args], {
      env: { ...env },
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    if (stdin !== undefined) child.stdin?.end(stdin);
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
}

/** The built binary under strace -f -y. */
export async function traced(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  { stdin, killAfterMs = 30_000 }: { stdin?: string; killAfterMs?: number } = {},
): Promise<TracedRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'irsa-trace-'));
  const log = path.join(dir, 'strace.log');
  const run = await spawnCollect(
    STRACE as string,
    ['-f', '-y', '-qq', '-e', `trace=${TRACED}`, '-o', log, BINARY, ...args],
    env,
    stdin,
    killAfterMs,
  );
  return { ...run, trace: existsSync(log) ? readFileSync(log, 'utf8') : '' };
}

/**
 * Every process the traced binary started: an exec other than its own, a fork or vfork, a clone that is not a
 * thread of its own (CLONE_THREAD). Empty when it ran no program.
 */
export function startedProcesses(trace: string): string[] {
  const lines = trace.split('\n').filter((l) => /^\d+\s+\w+\(/.test(l));
  const execs = lines.filter((l) => /^\d+\s+execve(at)?\(/.test(l));
  const forks = lines.filter((l) => /^\d+\s+v?fork\(/.test(l));
  const clones = lines.filter((l) => /^\d+\s+clone3?\(/.test(l) && !/CLONE_THREAD/.test(l));
  return [...execs.slice(1), ...forks, ...clones];
}

/** The files behind every descriptor an open returned (strace -y prints `= 7</real/path>`). */
export function openedPaths(trace: string): string[] {
  const paths: string[] = [];
  for (const line of trace.split('\n')) {
    if (!/^\d+\s+open(at2?)?\(/.test(line)) continue;
    const opened = /= \d+<(.*)>$/.exec(line)?.[1];
    if (opened !== undefined) paths.push(opened);
  }
  return paths;
}

export interface MeasuredRun extends BinaryRun {
  /** Peak resident set size of the binary, KiB (GNU time's %M). */
  readonly maxRssKiB: number;
}

/** The built binary under GNU time: its exit, output, wall time and peak RSS. */
export async function measured(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  { stdin, killAfterMs = 30_000 }: { stdin?: string; killAfterMs?: number } = {},
): Promise<MeasuredRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'irsa-time-'));
  const out = path.join(dir, 'time');
  const run = await spawnCollect(GNU_TIME as string, ['-f', '%M', '-o', out, BINARY, ...args], env, stdin, killAfterMs);
  const rss = Number(readFileSync(out, 'utf8').trim().split('\n').pop());
  return { ...run, maxRssKiB: rss };
}

/** The shared objects a program loads, loader included, as ldd prints them. */
function linkedLibraries(program: string): string[] {
  const result = spawnSync('/usr/bin/ldd', [program], { encoding: 'utf8' });
  return result.stdout
    .split('\n')
    .map((line) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1])
    .filter((p): p is string => p !== undefined);
}

/**
 * A directory that can be a process's root: cat(1) and its libraries, as /pause. The test adds the app's files;
 * chrootedSleep then starts a process whose /proc/PID/root is this directory. A chroot stays in this host's mount
 * namespace, so the doctors other test files run at the same time do not take it for another container of their
 * pod (src/context/peers.ts); the /pause name is a second guard, as a pod's pause container is always skipped.
 */
export function makeTargetRoot(prefix: string): string {
  const root = mkdtempSync(path.join(tmpdir(), prefix));
  const cat = ['/usr/bin/cat', '/bin/cat'].find((p) => existsSync(p)) as string;
  copyFileSync(cat, path.join(root, 'pause'));
  for (const library of linkedLibraries(cat)) {
    mkdirSync(path.join(root, path.dirname(library)), { recursive: true });
    copyFileSync(library, path.join(root, library));
  }
  return root;
}

/** A long-lived process in `root` with exactly `env` (cat waiting on a stdin nobody writes): the app container. */
export async function chrootedSleep(
  root: string,
  env: Readonly<Record<string, string>>,
): Promise<{ pid: number; stop(): void }> {
  const child = spawn(CHROOT as string, [root, '/pause'], { env: { ...env }, stdio: ['pipe', 'ignore', 'ignore'] });
  const pid = child.pid as number;
  // chroot(8) execs the command in place: ready once /proc/PID/root is the directory.
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8') === '/pause\0') break;
    } catch {
      // not there yet
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { pid, stop: () => child.kill('SIGKILL') };
}
