import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The executable the end-to-end tests run, from one place, so that the same tests run against either build:
 * by default `dist/irsa-doctor` (what `npm run build` makes for this machine); with IRSA_DOCTOR_BINARY another
 * one, e.g. the arm64 build, run through IRSA_DOCTOR_EMULATOR (qemu-user) with IRSA_DOCTOR_SYSROOT as the
 * target's libc (binaryCommand says how). vitest.config.ts sets all three for its arm64 project.
 */
export interface BinaryUnderTest {
  /** Absolute path of the executable. */
  readonly path: string;
  /** A user-mode emulator that runs it on this machine (qemu-aarch64-static), if it is not native. */
  readonly emulator: string | undefined;
  /** Where the target's shared libraries live on this machine ('/' when native). */
  readonly sysroot: string;
}

function fromEnv(env: NodeJS.ProcessEnv): BinaryUnderTest {
  const binary = env.IRSA_DOCTOR_BINARY || 'dist/irsa-doctor';
  return {
    path: path.resolve(REPO, binary),
    emulator: env.IRSA_DOCTOR_EMULATOR || undefined,
    sysroot: env.IRSA_DOCTOR_SYSROOT || '/',
  };
}

export const UNDER_TEST: BinaryUnderTest = fromEnv(process.env);

const UNSHARE = '/usr/bin/unshare';

/** The executable's path (kept under its old name: most tests only check that it exists). */
export const BINARY = UNDER_TEST.path;

/** Why the binary cannot run here (not built, emulator or target libc missing), or undefined. */
export const BINARY_UNAVAILABLE: string | undefined = !existsSync(BINARY)
  ? `${BINARY} is missing: run "npm run build -- native linux-arm64 npm" first (npm test does)`
  : UNDER_TEST.emulator && !existsSync(UNDER_TEST.emulator)
    ? `${UNDER_TEST.emulator} is missing (apt-get install qemu-user-static)`
    : UNDER_TEST.emulator && !existsSync(path.join(UNDER_TEST.sysroot, 'lib'))
      ? `${UNDER_TEST.sysroot}/lib is missing (apt-get install libc6-arm64-cross)`
      : UNDER_TEST.emulator && !existsSync(UNSHARE)
        ? `${UNSHARE} is missing (util-linux)`
        : undefined;
if (BINARY_UNAVAILABLE && UNDER_TEST.emulator) console.warn(`emulated binary tests skipped: ${BINARY_UNAVAILABLE}`);

/** True when the binary runs under an emulator: figures of time and memory are the emulator's, not the binary's. */
export const EMULATED = UNDER_TEST.emulator !== undefined;

/**
 * How much longer a run takes under the emulator, for the timers that only catch a hang (kill-after limits),
 * never for a deadline the tool promises: qemu-user translates every instruction and the JIT's output, so the
 * same run takes 10-60 times as long (measured: `--version` 36 ms native, 2-3.5 s under qemu-aarch64-static;
 * the TUI 0.25 s, 5-15 s). The deadline tests check the binary's own clock instead (the report's durationMs).
 */
export const HANG_TIMER_SCALE = EMULATED ? 5 : 1;

/**
 * The program and arguments that run the binary with `args` on this machine. Under the emulator, the target's
 * libraries are bind-mounted over /lib in a private mount namespace of that one run (unshare(1); in a user
 * namespace as its root when this process is not root), where the binary's ELF interpreter and the dynamic
 * loader find them, and qemu runs without -L: qemu's -L redirects every absolute path that exists under the
 * sysroot, `/` itself included (qemu util/path.c), so the doctor, which opens `/` and walks every path from it
 * (src/context/files.ts), would read the sysroot as its root filesystem. qemu-aarch64-static is static and sh and
 * mount start before the mount: nothing x64 needs /lib after it. The doctor reads nothing under /lib.
 */
export function binaryCommand(args: readonly string[]): [string, string[]] {
  if (!UNDER_TEST.emulator) return [BINARY, [...args]];
  const asRoot = process.getuid?.() === 0 ? [] : ['--map-root-user'];
  return [
    UNSHARE,
    [
      ...asRoot,
      '--mount',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      'mount --bind "$0" /lib && exec "$@"',
      path.join(UNDER_TEST.sysroot, 'lib'),
      UNDER_TEST.emulator,
      BINARY,
      ...args,
    ],
  ];
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The same as one shell command line (for `script -qec`), every word quoted. */
export function binaryCommandLine(args: readonly string[]): string {
  const [file, argv] = binaryCommand(args);
  return [file, ...argv].map(quote).join(' ');
}

export interface BinaryRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly elapsedMs: number;
}

/**
 * Spawns the built binary with exactly the given env (nothing inherited). Asynchronous, so that loopback
 * servers of the same test process keep answering while it runs; killed after killAfterMs as a last resort.
 */
export function runBinary(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  killAfterMs = 30_000,
): Promise<BinaryRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const [file, argv] = binaryCommand(args);
    const child = spawn(file, argv, { env: { ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs * HANG_TIMER_SCALE);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
}
