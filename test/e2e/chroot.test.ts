import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TARGET_ACCESS_HELP } from '../../src/context/target';
import type { SimulatedEks } from '../../src/sim/index';
import { startSimulatedEks } from '../../src/sim/index';
import { parseReport } from '../helpers/reports';

/**
 * No Docker engine here, so this proves the Dockerfile's final stage another way: a root holding only the
 * binary, the libraries `ldd` lists, /dev/{null,random,urandom} and /proc (Bun finds its payload through
 * /proc/self/exe: docs/packaging.md), run as the image's numeric user 65532 with the image's env
 * (HOME=/tmp and nothing else). The root is owned by root, so uid 65532 can write nothing: the run also
 * shows the binary needs no writable filesystem (readOnlyRootFilesystem). The second part adds the rest of
 * the Job's securityContext (a read-only mount, no capabilities, no_new_privs) and --target between containers.
 */
const BINARY = fileURLToPath(new URL('../../dist/irsa-doctor', import.meta.url));
const CHROOT = ['/usr/sbin/chroot', '/usr/bin/chroot'].find((p) => existsSync(p));
const MOUNT = ['/usr/bin/mount', '/bin/mount'].find((p) => existsSync(p));
const UMOUNT = ['/usr/bin/umount', '/bin/umount'].find((p) => existsSync(p));
const MKNOD = ['/usr/bin/mknod', '/bin/mknod'].find((p) => existsSync(p));
/**
 * capsh (libcap2-bin) rather than util-linux setpriv: setpriv here (2.38) drops uid, groups, capabilities
 * and sets no_new_privs, but cannot chroot, and after it nothing may; capsh chroots first, then drops.
 */
const CAPSH = ['/usr/sbin/capsh', '/sbin/capsh', '/usr/bin/capsh'].find((p) => existsSync(p));
/** Where the kubelet mounts projected tokens; a tmpfs in the read-only view, as in a pod. */
const SECRETS_DIR = '/var/run/secrets';

const unavailable =
  process.getuid?.() !== 0
    ? 'not running as root (chroot, mount and mknod need it)'
    : !CHROOT || !MOUNT || !UMOUNT || !MKNOD
      ? 'chroot, mount, umount or mknod is missing'
      : undefined;
if (unavailable) console.warn(`chroot.test.ts skipped: ${unavailable}`);

let root = '';
let procMounted = false;
/** Set when the sandbox itself cannot be built here (e.g. no CAP_SYS_ADMIN for mount): the tests skip. */
let setupProblem: string | undefined;

function run(file: string, args: string[]): { code: number | null; out: string; err: string } {
  const result = spawnSync(file, args, { encoding: 'utf8', env: {}, timeout: 20_000 });
  return { code: result.status, out: result.stdout ?? '', err: result.stderr ?? String(result.error ?? '') };
}

/** The shared objects the binary loads, loader included, as `ldd` prints them. */
function linkedLibraries(): string[] {
  const { code, out, err } = run('/usr/bin/ldd', [BINARY]);
  if (code !== 0) throw new Error(`ldd ${BINARY} failed: ${err}`);
  return out
    .split('\n')
    .map((line) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1])
    .filter((path): path is string => path !== undefined);
}

/** Every non-directory path under dir, relative to root; /proc is the kernel's, not ours. */
function filesUnder(dir: string, relative: string): string[] {
  return readdirSync(join(dir, relative), { withFileTypes: true }).flatMap((entry) => {
    const path = `${relative}/${entry.name}`;
    if (path === '/proc') return [];
    return entry.isDirectory() ? filesUnder(dir, path) : [path];
  });
}

beforeAll(() => {
  if (unavailable) return;
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run "npm run build" first (npm test does)`);
  root = mkdtempSync(join(tmpdir(), 'irsa-chroot-'));
  chmodSync(root, 0o755);
  copyFileSync(BINARY, join(root, 'irsa-doctor'));
  chmodSync(join(root, 'irsa-doctor'), 0o755);
  for (const library of linkedLibraries()) {
    mkdirSync(join(root, dirname(library)), { recursive: true });
    copyFileSync(library, join(root, library)); // follows symlinks: the chroot gets the real file
  }
  mkdirSync(join(root, 'dev'));
  for (const [name, minor] of [
    ['null', 3],
    ['random', 8],
    ['urandom', 9],
  ] as const) {
    const made = run(MKNOD!, ['-m', '666', join(root, 'dev', name), 'c', '1', String(minor)]);
    if (made.code !== 0) {
      setupProblem = `mknod failed: ${made.err.trim()}`;
      return;
    }
  }
  mkdirSync(join(root, 'proc'));
  // Only the mount point of the pod's token volumes (see below): a directory, not a file of the root.
  mkdirSync(join(root, SECRETS_DIR), { recursive: true });
  const mounted = run(MOUNT!, ['-t', 'proc', 'proc', join(root, 'proc')]);
  if (mounted.code !== 0) {
    setupProblem = `mount -t proc failed: ${mounted.err.trim()}`;
    return;
  }
  procMounted = true;
});

/** Unmounts, lazily if busy; true when the mount is really gone (never delete through a live mount). */
function unmount(path: string): boolean {
  if (run(UMOUNT!, [path]).code !== 0) run(UMOUNT!, ['-l', path]);
  return !readFileSync('/proc/mounts', 'utf8').includes(` ${path} `);
}

afterAll(() => {
  if (!root) return;
  if (procMounted) {
    const proc = join(root, 'proc');
    if (run(UMOUNT!, [proc]).code !== 0) run(UMOUNT!, ['-l', proc]);
    // Never delete through a live /proc mount.
    if (readFileSync('/proc/mounts', 'utf8').includes(` ${proc} `)) return;
  }
  rmSync(root, { recursive: true, force: true });
});

describe.skipIf(unavailable !== undefined)('the binary in a root holding only itself and its libraries', () => {
  it('holds nothing but the binary, the libraries ldd lists, three device nodes and /proc', ({ skip }) => {
    if (setupProblem) {
      console.warn(`chroot.test.ts skipped: ${setupProblem}`);
      skip(setupProblem);
    }
    const files = filesUnder(root, '').sort();
    expect(files).toEqual(['/dev/null', '/dev/random', '/dev/urandom', '/irsa-doctor', ...linkedLibraries()].sort());
  });

  it('prints its version as uid 65532', ({ skip }) => {
    if (setupProblem) {
      console.warn(`chroot.test.ts skipped: ${setupProblem}`);
      skip(setupProblem);
    }
    const result = run(CHROOT!, ['--userspec=65532:65532', root, '/irsa-doctor', '--version']);
    expect(result.err).toBe('');
    expect(result.out).toMatch(/^irsa-doctor \d+\.\d+\.\d+\n$/);
    expect(result.code).toBe(0);
  });

  it('diagnoses an empty env offline: JSON with IRSA_ENV_MISSING and exit 1', ({ skip }) => {
    if (setupProblem) {
      console.warn(`chroot.test.ts skipped: ${setupProblem}`);
      skip(setupProblem);
    }
    // The image's env exactly (env -i HOME=/tmp): HOME is the only variable, no PATH, no AWS_*.
    const result = spawnSync(
      CHROOT!,
      ['--userspec=65532:65532', root, '/irsa-doctor', '--offline', '--output', 'json'],
      { encoding: 'utf8', env: { HOME: '/tmp' }, timeout: 20_000 },
    );
    const report = parseReport(result.stdout) as unknown as { verdict: string; rootCause: { code: string } | null };
    expect(report.verdict).toBe('broken');
    expect(report.rootCause?.code).toBe('IRSA_ENV_MISSING');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(1);
  });
});

if (!unavailable && !CAPSH)
  console.warn('chroot.test.ts: least-privilege runs skipped: capsh (libcap2-bin) is missing');

/**
 * The securityContext of examples/job.yaml and examples/debug-container.json, here: the same root seen through
 * read-only bind mounts (readOnlyRootFilesystem), one as the app container with the pod's token volumes (a
 * read-only tmpfs, as the kubelet mounts them), one as a kubectl debug container without them; every capability set empty including the bounding set (capabilities: drop: [ALL]),
 * no_new_privs (allowPrivilegeEscalation: false) and uid/gid 65532 with no supplementary groups (runAsNonRoot).
 */
describe.skipIf(unavailable !== undefined || !CAPSH)('the binary under the least-privilege securityContext', () => {
  /** The app container: the read-only root plus the pod's token volumes. */
  let view = '';
  /** A kubectl debug container: the same read-only root, without the app's volumes. */
  let debugView = '';
  /** Mounted paths in mount order; unmounted in reverse. */
  const mounts: string[] = [];
  let sim: SimulatedEks | undefined;
  let viewProblem: string | undefined;

  beforeAll(async () => {
    if (setupProblem) return;
    sim = await startSimulatedEks('healthy-irsa');
    view = mkdtempSync(join(tmpdir(), 'irsa-chroot-ro-'));
    debugView = mkdtempSync(join(tmpdir(), 'irsa-chroot-debug-'));
    const mount = (args: string[], target: string) => {
      const result = run(MOUNT!, [...args, target]);
      if (result.code !== 0) viewProblem ??= `mount ${args.join(' ')} ${target} failed: ${result.err.trim()}`;
      else if (!mounts.includes(target)) mounts.push(target);
      return result.code === 0;
    };
    const secrets = join(view, SECRETS_DIR);
    for (const dir of [view, debugView]) {
      if (!mount(['--bind', root], dir) || !mount(['-o', 'remount,bind,ro'], dir)) return;
      if (!mount(['-t', 'proc', 'proc'], join(dir, 'proc'))) return;
    }
    if (!mount(['-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs'], secrets)) return;
    for (const [appPath, contents] of Object.entries(sim.files)) {
      if (!appPath.startsWith(`${SECRETS_DIR}/`)) throw new Error(`sim file outside ${SECRETS_DIR}: ${appPath}`);
      mkdirSync(join(view, dirname(appPath)), { recursive: true, mode: 0o755 });
      writeFileSync(join(view, appPath), contents, { mode: 0o644 });
    }
    mount(['-o', 'remount,ro'], secrets);
  });

  afterAll(async () => {
    await sim?.close();
    if (!view) return;
    const gone = mounts.reverse().every(unmount);
    // rmdir, never a recursive delete: a mount that is still there keeps its contents.
    if (gone) [view, debugView].forEach((dir) => rmdirSync(dir));
  });

  /** Runs /irsa-doctor chrooted in `dir` as `uid`, with nothing but `env`, after dropping everything. */
  function sandboxed(
    uid: number,
    args: string[],
    env: Record<string, string>,
    { dir = view, stdin = 'ignore', gid = uid }: { dir?: string; stdin?: 'ignore' | 'pipe'; gid?: number } = {},
  ) {
    const drop = ['--drop=all', '--inh=', `--gid=${gid}`, '--groups=', `--uid=${uid}`, '--no-new-privs'];
    return spawn(CAPSH!, [`--chroot=${dir}`, ...drop, '--shell=/irsa-doctor', '--', ...args], {
      env,
      stdio: [stdin, 'pipe', 'pipe'],
    });
  }

  /** Async: the sim answers from this process's event loop. */
  function finished(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve) => {
      let out = '';
      let err = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('close', (code) => {
        clearTimeout(killer);
        resolve({ code, out, err });
      });
    });
  }

  /** The pid once capsh has chrooted and exec'd the binary (the same pid: capsh execs, it does not fork). */
  async function execdInView(child: ChildProcess): Promise<number> {
    const pid = child.pid!;
    for (let attempt = 0; attempt < 500; attempt++) {
      try {
        if (
          readlinkSync(`/proc/${pid}/root`) === view &&
          readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('/irsa-doctor\0')
        )
          return pid;
      } catch {
        // not there yet, or gone: the exit shows below
      }
      if (child.exitCode !== null) throw new Error(`the target exited with ${child.exitCode}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('the target never started /irsa-doctor in the view');
  }

  /** A long-lived process of the app container: `explain -` waits for stdin, which stays open until `stop`. */
  async function startTarget(uid: number, gid = uid) {
    const child = sandboxed(uid, ['explain', '-'], sim!.env, { stdin: 'pipe', gid });
    const done = finished(child);
    const pid = await execdInView(child);
    return {
      pid,
      stop: async () => {
        child.stdin?.end();
        return done;
      },
    };
  }

  const statusField = (pid: number, name: string) =>
    /^(\w+):\s*(.*)$/m.exec(
      readFileSync(`/proc/${pid}/status`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith(`${name}:`)) ?? '',
    )?.[2];

  interface Report {
    verdict: string;
    mechanism: string;
    rootCause: { code: string } | null;
    checks: { id: string; status: string }[];
  }

  it('the root and the token volume are read-only', ({ skip }) => {
    if (setupProblem ?? viewProblem) skip(setupProblem ?? viewProblem);
    expect(() => writeFileSync(join(view, 'probe'), 'x')).toThrow(/EROFS/);
    expect(() => writeFileSync(join(view, SECRETS_DIR, 'probe'), 'x')).toThrow(/EROFS/);
    expect(() => writeFileSync(join(debugView, 'probe'), 'x')).toThrow(/EROFS/);
    expect(existsSync(join(view, sim!.env.AWS_WEB_IDENTITY_TOKEN_FILE!))).toBe(true);
    // The debug container does not have the app's token: --target must read it through /proc/PID/root.
    expect(existsSync(join(debugView, sim!.env.AWS_WEB_IDENTITY_TOKEN_FILE!))).toBe(false);
  });

  it('diagnoses healthy IRSA against the simulated EKS on loopback: STS issues the role, exit 0', async ({ skip }) => {
    if (setupProblem ?? viewProblem) skip(setupProblem ?? viewProblem);
    const result = await finished(sandboxed(65532, ['--output', 'json', '--timeout', '8000'], sim!.env));
    const report = parseReport(result.out) as unknown as Report;
    expect(report.checks.find((c) => c.id === 'token.file')?.status).toBe('pass');
    expect(report.checks.find((c) => c.id === 'sts.assume-role')?.status).toBe('pass');
    expect(report.rootCause).toBeNull();
    expect(report.verdict).toBe('healthy');
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
  });

  it('--target PID of a process of the same uid and gid reads its env and token with no capability at all', async ({
    skip,
  }) => {
    if (setupProblem ?? viewProblem) skip(setupProblem ?? viewProblem);
    const target = await startTarget(65532);
    try {
      // The sandbox is what it claims, seen from outside: no capability in any set, no_new_privs, uid 65532.
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) {
        expect(statusField(target.pid, set), set).toBe('0000000000000000');
      }
      expect(statusField(target.pid, 'NoNewPrivs')).toBe('1');
      expect(statusField(target.pid, 'Uid')?.split(/\s+/)).toEqual(['65532', '65532', '65532', '65532']);
      expect(statusField(target.pid, 'Groups')).toBe('');
      // Nothing of IRSA in the doctor's own env or root (the debug container's): all of it comes from
      // /proc/PID/environ and /proc/PID/root.
      const args = ['--target', String(target.pid), '--output', 'json', '--timeout', '8000'];
      const result = await finished(sandboxed(65532, args, { HOME: '/tmp' }, { dir: debugView }));
      const report = parseReport(result.out) as unknown as Report;
      expect(report.mechanism).toBe('irsa');
      expect(report.checks.find((c) => c.id === 'token.file')?.status).toBe('pass');
      expect(report.checks.find((c) => c.id === 'sts.assume-role')?.status).toBe('pass');
      expect(report.verdict).toBe('healthy');
      expect(result.err).toBe('');
      expect(result.code).toBe(0);
    } finally {
      expect((await target.stop()).code).toBe(0);
    }
  });

  it.for([
    { who: 'another uid', uid: 65533, gid: 65533 },
    // The kernel's ptrace access check compares gids too: runAsGroup must match the app's as well.
    { who: 'the same uid but another gid', uid: 65532, gid: 65533 },
  ])('--target PID of $who fails with the access help and exit 2, not a crash', async ({ uid, gid }, { skip }) => {
    if (setupProblem ?? viewProblem) skip(setupProblem ?? viewProblem);
    const target = await startTarget(uid, gid);
    try {
      const args = ['--target', String(target.pid)];
      const result = await finished(sandboxed(65532, args, { HOME: '/tmp' }, { dir: debugView }));
      expect(result.err).toContain(
        `--target ${target.pid}: permission denied reading /proc/${target.pid}/environ: it runs as uid ${uid} gid ${gid}, this process as uid 65532 gid 65532`,
      );
      // The help, with the app's uid and gid filled into the kubectl command.
      expect(result.err).toContain(`"runAsUser":${uid},"runAsGroup":${gid}`);
      expect(result.err).toContain(TARGET_ACCESS_HELP.split('\n')[0]);
      expect(result.err).not.toMatch(/panic|\n\s+at /);
      expect(result.out).toBe('');
      expect(result.code).toBe(2);
    } finally {
      await target.stop();
    }
  });
});
