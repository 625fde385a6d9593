import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * No Docker engine here, so this proves the Dockerfile's final stage another way: a root holding only the
 * binary, the libraries `ldd` lists, /dev/{null,random,urandom} and /proc (Bun finds its payload through
 * /proc/self/exe: reference/packaging.md), run as the image's numeric user 65532 with the image's env
 * (HOME=/tmp and nothing else). The root is owned by root, so uid 65532 can write nothing: the run also
 * shows the binary needs no writable filesystem (readOnlyRootFilesystem).
 */
const BINARY = fileURLToPath(new URL('../../dist/irsa-doctor', import.meta.url));
const CHROOT = ['/usr/sbin/chroot', '/usr/bin/chroot'].find((p) => existsSync(p));
const MOUNT = ['/usr/bin/mount', '/bin/mount'].find((p) => existsSync(p));
const UMOUNT = ['/usr/bin/umount', '/bin/umount'].find((p) => existsSync(p));
const MKNOD = ['/usr/bin/mknod', '/bin/mknod'].find((p) => existsSync(p));

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
  const mounted = run(MOUNT!, ['-t', 'proc', 'proc', join(root, 'proc')]);
  if (mounted.code !== 0) {
    setupProblem = `mount -t proc failed: ${mounted.err.trim()}`;
    return;
  }
  procMounted = true;
});

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
    const report = JSON.parse(result.stdout) as { verdict: string; rootCause: { code: string } | null };
    expect(report.verdict).toBe('broken');
    expect(report.rootCause?.code).toBe('IRSA_ENV_MISSING');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(1);
  });
});
