import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MAX_SYMLINK_HOPS,
  NOT_A_REGULAR_FILE,
  createFileView,
  errnoCode,
  readCommandLineFile,
  readSystemFile,
} from '../../../src/context/files';

/**
 * The one file opener against real directories: a root standing in for /proc/PID/root, with every way a
 * hostile app could point a path out of it, and a directory beside it holding what must never be read.
 */
const base = mkdtempSync(path.join(tmpdir(), 'irsa-files-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const root = path.join(base, 'root');
const outside = path.join(base, 'outside');
const SECRET = 'OUTSIDE-SECRET-must-never-be-read';
const at = (p: string) => path.join(root, p);

mkdirSync(outside);
writeFileSync(path.join(outside, 'secret'), SECRET, { mode: 0o640 });
for (const dir of ['inside', 'tmp', 'etc', 'var/run/secrets/eks.amazonaws.com/serviceaccount/..2024_01_01']) {
  mkdirSync(at(dir), { recursive: true });
}
writeFileSync(at('inside/token'), 'inside-token');
const sa = at('var/run/secrets/eks.amazonaws.com/serviceaccount');
writeFileSync(path.join(sa, '..2024_01_01/token'), 'projected-token');
symlinkSync('..2024_01_01', path.join(sa, '..data'));
symlinkSync('..data/token', path.join(sa, 'token'));
symlinkSync('/inside/token', at('abs'));
symlinkSync(path.join(outside, 'secret'), at('escape-abs'));
symlinkSync('../../../../../../../../outside/secret', at('escape-dotdot'));
symlinkSync('/tmp/../../../../outside/secret', at('escape-tmp'));
symlinkSync('/proc/1/root/etc/passwd', at('escape-proc'));
symlinkSync('/proc/self/root/etc/hostname', at('escape-self'));
symlinkSync('/', at('dirlink'));
symlinkSync('../..', at('inside/up'));
symlinkSync(outside, at('outside-dir'));
symlinkSync('loop2', at('loop1'));
symlinkSync('loop1', at('loop2'));
symlinkSync('/dev/zero', at('devzero'));
// A chain of exactly MAX_SYMLINK_HOPS links resolves; one more is a loop.
for (let i = 0; i < MAX_SYMLINK_HOPS + 1; i++)
  symlinkSync(i === 0 ? '/inside/token' : `chain${i - 1}`, at(`chain${i}`));
writeFileSync(at('big'), Buffer.alloc(100_000, 0x41));
spawnSync('mkfifo', [at('fifo')]);
// Read-only traversal: the walk needs search (x) permission on a directory, not read.
mkdirSync(at('sealed/deep'), { recursive: true });
writeFileSync(at('sealed/deep/file'), 'through a 0711 directory');
chmodSync(at('sealed'), 0o711);

// A read of the secret would move its atime forward (relatime updates an atime older than the mtime).
const past = new Date(Date.now() - 86_400_000);
utimesSync(path.join(outside, 'secret'), past, new Date());
const secretAtime = () => statSync(path.join(outside, 'secret')).atimeMs;
const atimeBefore = secretAtime();

const view = createFileView(root);
const read = async (p: string) => (await view.readHead(p, 1024)).bytes.toString();
const codeOf = async (promise: Promise<unknown>) =>
  errnoCode(
    await promise.then(
      () => undefined,
      (e: unknown) => e,
    ),
  );

describe('createFileView: paths resolved inside the root', () => {
  it("follows the kubelet's token -> ..data/token -> ..2024_01_01/token chain, and says where it led", async () => {
    const token = '/var/run/secrets/eks.amazonaws.com/serviceaccount/token';
    expect(await read(token)).toBe('projected-token');
    expect((await view.lstat(token)).kind).toBe('symlink');
    expect(await view.readlink(token)).toBe('..data/token');
    const stat = await view.stat(token);
    expect(stat.kind).toBe('file');
    expect(stat.resolvedPath).toBe('/var/run/secrets/eks.amazonaws.com/serviceaccount/..2024_01_01/token');
  });

  it('rewrites an absolute symlink under the root, as the app itself would see it', async () => {
    expect(await read('/abs')).toBe('inside-token');
    expect(await read('/dirlink/dirlink/inside/token')).toBe('inside-token');
    expect(await read('/inside/up/inside/token')).toBe('inside-token');
  });

  it.for([
    ['an absolute link to the host path of a file outside', '/escape-abs'],
    ['a .. chain longer than the depth', '/escape-dotdot'],
    ['/tmp/.. past the root', '/escape-tmp'],
    ["another process's /proc/PID/root", '/escape-proc'],
    ['/proc/self/root', '/escape-self'],
    ['.. in the path itself', '/../../../outside/secret'],
    ['a parent directory linking out', '/inside/up/outside/secret'],
    ['a parent directory linking to the host path outside', '/outside-dir/secret'],
  ] as const)('never reads outside through %s: ENOENT inside the root', async ([, p]) => {
    expect(await codeOf(view.readHead(p, 1024))).toBe('ENOENT');
    // Not even the metadata of the file outside: stat fails the same way.
    expect(await codeOf(view.stat(p))).toBe('ENOENT');
  });

  it('describes a link itself (lstat, readlink) without following it out', async () => {
    expect((await view.lstat('/escape-abs')).kind).toBe('symlink');
    expect(await view.readlink('/escape-abs')).toBe(path.join(outside, 'secret'));
  });

  it(`stops loops and chains of more than ${MAX_SYMLINK_HOPS} links with ELOOP`, async () => {
    expect(await codeOf(view.readHead('/loop1', 10))).toBe('ELOOP');
    expect(await codeOf(view.stat('/loop1'))).toBe('ELOOP');
    expect(await read(`/chain${MAX_SYMLINK_HOPS - 1}`)).toBe('inside-token');
    expect(await codeOf(view.readHead(`/chain${MAX_SYMLINK_HOPS}`, 10))).toBe('ELOOP');
  });

  it('refuses a FIFO without opening it (no wait for a writer), a directory, and a device link', async () => {
    const started = Date.now();
    expect(await codeOf(view.readHead('/fifo', 10))).toBe(NOT_A_REGULAR_FILE);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await view.stat('/fifo')).kind).toBe('other');
    expect(await codeOf(view.readHead('/inside', 10))).toBe('EISDIR');
    expect(await codeOf(view.readHead('/inside/', 10))).toBe('EISDIR');
    // /dev/zero of the app's root: this root has none.
    expect(await codeOf(view.readHead('/devzero', 10))).toBe('ENOENT');
    expect(await codeOf(createFileView('/').readHead('/dev/zero', 10))).toBe(NOT_A_REGULAR_FILE);
    expect(await codeOf(createFileView('/').readHead('/dev/null', 10))).toBe(NOT_A_REGULAR_FILE);
  });

  it('reads at most the cap and says there was more', async () => {
    const head = await view.readHead('/big', 1000);
    expect(head.bytes.length).toBe(1000);
    expect(head.truncated).toBe(true);
    expect((await view.readHead('/big', 200_000)).truncated).toBe(false);
  });

  it('starts relative paths at its cwd, and fails on an empty path', async () => {
    expect(await (await createFileView(root, { cwd: '/inside' }).readHead('token', 100)).bytes.toString()).toBe(
      'inside-token',
    );
    expect(await codeOf(view.readHead('', 10))).toBe('ENOENT');
    expect(await codeOf(view.readHead('/inside/token/x', 10))).toBe('ENOTDIR');
  });

  it('walks through a directory it may search but not list', async () => {
    expect(await read('/sealed/deep/file')).toBe('through a 0711 directory');
  });

  it('follows a symlink swapped in for a directory inside the root, never out of it', async () => {
    // The app replaces a directory with a link to the host path outside between two reads.
    const dir = at('swap');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'secret'), 'inside');
    expect(await read('/swap/secret')).toBe('inside');
    renameSync(dir, at('swap-old'));
    symlinkSync(outside, dir);
    expect(await codeOf(view.readHead('/swap/secret', 100))).toBe('ENOENT');
  });

  it('never touched the file outside the root', ({ skip }) => {
    // The control: on this filesystem a read does move an old atime (not so under noatime).
    const control = path.join(outside, 'control');
    writeFileSync(control, 'x');
    utimesSync(control, past, new Date());
    const before = statSync(control).atimeMs;
    readFileSync(control);
    if (statSync(control).atimeMs === before) skip('this filesystem does not update atimes (noatime)');
    expect(secretAtime()).toBe(atimeBefore);
  });
});

describe(readSystemFile, () => {
  it('reads a procfs file of this process and refuses what is not a regular file', async () => {
    const { bytes } = await readSystemFile('/proc/self/status', 64 * 1024);
    expect(bytes.toString()).toMatch(/^Name:/);
    expect(errnoCode(await readSystemFile(at('fifo'), 10).catch((e: unknown) => e))).toBe(NOT_A_REGULAR_FILE);
  });
});

describe(readCommandLineFile, () => {
  const until = (ms: number) => AbortSignal.timeout(ms);

  it('reads a FIFO whose writer comes later (the user’s own <(...) or mkfifo), bounded by the deadline', async () => {
    const fifo = path.join(base, 'user-fifo');
    spawnSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `sleep 0.2; printf '{"Version":"2012-10-17"}' > ${fifo}`]);
    const written = new Promise((resolve) => writer.once('close', resolve));
    const { bytes } = await readCommandLineFile(fifo, 1024, until(5_000));
    expect(bytes.toString()).toBe('{"Version":"2012-10-17"}');
    await written;
  });

  it('gives up on a FIFO nobody writes to at the deadline', async () => {
    const fifo = path.join(base, 'silent-fifo');
    spawnSync('mkfifo', [fifo]);
    const started = Date.now();
    expect(errnoCode(await readCommandLineFile(fifo, 1024, until(300)).catch((e: unknown) => e))).toBe('ETIMEDOUT');
    expect(Date.now() - started).toBeLessThan(2_000);
    // Unblock the opener left on the thread pool.
    spawnSync('sh', ['-c', `printf x > ${fifo}`]);
  });

  it('caps /dev/zero, refuses a directory, and names a missing file', async () => {
    expect((await readCommandLineFile('/dev/zero', 1000, until(5_000))).truncated).toBe(true);
    expect((await readCommandLineFile('/dev/null', 1000, until(5_000))).bytes.length).toBe(0);
    expect(errnoCode(await readCommandLineFile(root, 10, until(5_000)).catch((e: unknown) => e))).toBe('EISDIR');
    expect(errnoCode(await readCommandLineFile(at('nope'), 10, until(5_000)).catch((e: unknown) => e))).toBe('ENOENT');
  });
});
