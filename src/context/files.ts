import type { Stats } from 'node:fs';
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';

/**
 * The one place files are opened: the Context, the checks and the libraries they feed get file contents only
 * from here, never a path to open themselves (docs/security.md, "Files").
 *
 * A FileView is a container's filesystem as its processes see it: `root` is `/` for this container and
 * `/proc/PID/root` for another container of the pod (`--target`). Every path is the path as the app sees it
 * (AWS_WEB_IDENTITY_TOKEN_FILE, a kubeconfig's certificate-authority). It is resolved here one component at a
 * time, the way the kernel would resolve it for a process chrooted at `root`: an absolute symlink starts again at
 * `root`, `..` stops at `root`, more than MAX_SYMLINK_HOPS links is ELOOP. Each directory on the way is held open
 * (O_PATH) and the next component is looked up through /proc/self/fd/N with O_NOFOLLOW, so the kernel never
 * follows a link itself: a symlink the app swaps in half-way cannot lead out of `root` either. What is read is
 * a regular file (checked by lstat before the open, so no FIFO or device is ever opened, and by fstat after),
 * opened O_NONBLOCK|O_NOCTTY|O_NOFOLLOW and read up to a cap. lstat/stat/readlink answer only for paths inside
 * `root`, so nothing about a file outside it (mode, owner, size, existence) can reach a report.
 */
export interface FileView {
  /** For messages: `/`, `/proc/7/root`, `memory:`. */
  readonly root: string;
  /** The last component not followed (a symlink is described, not resolved); the parents resolved inside root. */
  lstat(appPath: string): Promise<FileStat>;
  /** Resolved inside root; `resolvedPath` says where it led, as the app sees it. */
  stat(appPath: string): Promise<FileStat>;
  readlink(appPath: string): Promise<string>;
  /**
   * A regular file's first `maxBytes` bytes; `truncated` says there was more. Anything else fails: EISDIR for a
   * directory, NOT_A_REGULAR_FILE for a FIFO, device or socket (never opened), ELOOP, ENOENT, EACCES, ...
   */
  readHead(appPath: string, maxBytes: number): Promise<{ bytes: Buffer; truncated: boolean }>;
}

export interface FileStat {
  readonly kind: 'file' | 'directory' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtimeMs: number;
  /** stat() only: the path the symlinks led to, inside the root, as the app sees it. */
  readonly resolvedPath?: string;
}

/** Linux's own limit (MAXSYMLINKS in include/linux/namei.h): a chain longer than this is a loop. */
export const MAX_SYMLINK_HOPS = 40;
/** PATH_MAX: no path the kernel would accept is longer. */
const MAX_PATH_BYTES = 4096;

/** The code of a refusal to read something that is not a regular file (a FIFO, device or socket). */
export const NOT_A_REGULAR_FILE = 'NOT_A_REGULAR_FILE';

/** O_PATH (Linux): a handle for walking and fstat only; needs search permission on the way, not read. */
const O_PATH = 0o10000000;
const DIRECTORY_FLAGS = O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | constants.O_NOFOLLOW;

export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

/** An error shaped like node:fs's, so errnoCode() and the checks' handling of ENOENT etc. work unchanged. */
export function fileError(code: string, message: string, appPath: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: ${message}: ${appPath}`);
  error.code = code;
  error.path = appPath;
  return error;
}

function kindOf(s: Stats): FileStat['kind'] {
  return s.isFile() ? 'file' : s.isDirectory() ? 'directory' : s.isSymbolicLink() ? 'symlink' : 'other';
}

function toStat(s: Stats, resolvedPath?: string): FileStat {
  return {
    kind: kindOf(s),
    mode: s.mode & 0o7777,
    uid: s.uid,
    gid: s.gid,
    size: s.size,
    mtimeMs: s.mtimeMs,
    ...(resolvedPath !== undefined ? { resolvedPath } : {}),
  };
}

/** A directory reached inside the root: its handle (fd mode) or its host path (fallback), and its app path. */
interface Directory {
  readonly name: string;
  readonly handle: FileHandle | undefined;
  /** Where to look up the next component: /proc/self/fd/N, or the host path in the fallback. */
  readonly base: string;
}

/** Where a path led: the directory holding its last component, and that component (none: the directory itself). */
interface Located {
  readonly directory: Directory;
  readonly name: string | undefined;
  readonly appPath: string;
  /** lstat of the last component, when it was looked at (follow mode). */
  readonly stat: Stats | undefined;
  close(): Promise<void>;
}

let fdWalkUsable: Promise<boolean> | undefined;

/**
 * /proc/self/fd/N lookups need procfs. Without it (never in a pod; possible in an odd sandbox) the walk uses
 * host paths: the same resolution, except that a symlink swapped in between two steps would be followed.
 */
function canWalkByFd(): Promise<boolean> {
  fdWalkUsable ??= fsp.stat('/proc/self/fd').then(
    (s) => s.isDirectory(),
    () => false,
  );
  return fdWalkUsable;
}

function joinHost(base: string, name: string): string {
  return base.endsWith('/') ? `${base}${name}` : `${base}/${name}`;
}

/**
 * Resolves appPath inside root, component by component. `follow`: the last component too (stat, read);
 * `parent`: only its parents (lstat, readlink). Symlinks are read and their text resolved inside root.
 */
async function locate(root: string, cwd: string, appPath: string, follow: boolean): Promise<Located> {
  if (appPath === '') throw fileError('ENOENT', 'empty path', appPath);
  if (Buffer.byteLength(appPath) >= MAX_PATH_BYTES) throw fileError('ENAMETOOLONG', 'path too long', appPath);
  if (appPath.includes('\0')) throw fileError('ENOENT', 'path contains a NUL byte', appPath);
  const byFd = await canWalkByFd();
  const opened: FileHandle[] = [];
  const closeAll = async () => {
    await Promise.all(opened.splice(0).map((h) => h.close().catch(() => undefined)));
  };
  try {
    const rootHandle = byFd ? await fsp.open(root, O_PATH | constants.O_DIRECTORY) : undefined;
    if (rootHandle) opened.push(rootHandle);
    const rootDir: Directory = {
      name: '',
      handle: rootHandle,
      base: rootHandle ? `/proc/self/fd/${rootHandle.fd}` : root,
    };
    const stack: Directory[] = [];
    const top = () => stack[stack.length - 1] ?? rootDir;
    const here = (name?: string) => `/${[...stack.map((d) => d.name), ...(name ? [name] : [])].join('/')}`;
    const dropTo = async (depth: number) => {
      while (stack.length > depth) {
        const gone = stack.pop();
        if (gone?.handle) {
          opened.splice(opened.indexOf(gone.handle), 1);
          await gone.handle.close().catch(() => undefined);
        }
      }
    };
    const absolute = appPath.startsWith('/') ? appPath : `${cwd}/${appPath}`;
    const pending = absolute.split('/');
    let hops = 0;
    while (pending.length > 0) {
      const name = pending.shift() as string;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        await dropTo(Math.max(0, stack.length - 1)); // clamped: `..` of the root is the root
        continue;
      }
      const last = pending.every((p) => p === '' || p === '.');
      const directory = top();
      if (last && !follow) {
        return { directory, name, appPath: here(name), stat: undefined, close: closeAll };
      }
      const where = joinHost(directory.base, name);
      const entry = await fsp.lstat(where).catch((error: unknown) => {
        throw fileError(errnoCode(error) ?? 'EIO', 'cannot look up', here(name));
      });
      if (entry.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) {
          throw fileError('ELOOP', `more than ${MAX_SYMLINK_HOPS} symbolic links`, appPath);
        }
        const target = await fsp.readlink(where).catch((error: unknown) => {
          throw fileError(errnoCode(error) ?? 'EIO', 'cannot read the link', here(name));
        });
        if (target === '' || Buffer.byteLength(target) >= MAX_PATH_BYTES) {
          throw fileError('ENOENT', 'a symbolic link with an empty or overlong target', here(name));
        }
        // The link's text is resolved inside root like any path of the app: an absolute one from root itself.
        if (target.startsWith('/')) await dropTo(0);
        pending.unshift(...target.split('/'));
        continue;
      }
      if (last) return { directory, name, appPath: here(name), stat: entry, close: closeAll };
      if (!entry.isDirectory()) throw fileError('ENOTDIR', 'not a directory', here(name));
      if (!byFd) {
        stack.push({ name, handle: undefined, base: where });
        continue;
      }
      let handle: FileHandle;
      try {
        handle = await fsp.open(where, DIRECTORY_FLAGS);
      } catch (error) {
        // Replaced by a symlink (or a file) since the lstat: look at it again, counted as a hop.
        if (errnoCode(error) === 'ENOTDIR' && ++hops <= MAX_SYMLINK_HOPS) {
          pending.unshift(name);
          continue;
        }
        throw fileError(errnoCode(error) ?? 'EIO', 'cannot open the directory', here(name));
      }
      opened.push(handle);
      stack.push({ name, handle, base: `/proc/self/fd/${handle.fd}` });
    }
    // The path named a directory (or the root itself).
    return { directory: top(), name: undefined, appPath: here(), stat: undefined, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Reads at most maxBytes + 1 to tell whether there was more; never the whole of a huge file. */
async function readCapped(handle: FileHandle, maxBytes: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  const buffer = Buffer.alloc(maxBytes + 1);
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return { bytes: buffer.subarray(0, Math.min(filled, maxBytes)), truncated: filled > maxBytes };
}

function refuseUnlessRegular(s: Stats, appPath: string): void {
  if (s.isFile()) return;
  if (s.isDirectory()) throw fileError('EISDIR', 'is a directory', appPath);
  throw fileError(NOT_A_REGULAR_FILE, 'not a regular file (a FIFO, device or socket): not opened', appPath);
}

/** Opens a regular file found by lstat, and checks by fstat that the same file was opened. */
async function readRegular(where: string, expected: Stats, appPath: string, maxBytes: number) {
  refuseUnlessRegular(expected, appPath);
  let handle: FileHandle;
  try {
    handle = await fsp.open(where, READ_FLAGS);
  } catch (error) {
    throw fileError(errnoCode(error) ?? 'EIO', 'cannot open', appPath);
  }
  try {
    const opened = await handle.stat();
    refuseUnlessRegular(opened, appPath);
    if (opened.ino !== expected.ino || opened.dev !== expected.dev) {
      throw fileError('ESTALE', 'the file was replaced while it was being opened', appPath);
    }
    return await readCapped(handle, maxBytes);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

export interface FileViewOptions {
  /** Where relative paths start, as the app sees it: this process's cwd for `/`; `/` for another root. */
  readonly cwd?: string;
}

export function createFileView(root: string, options: FileViewOptions = {}): FileView {
  const cwd = options.cwd ?? '/';
  const target = (located: Located) =>
    located.name === undefined ? located.directory.base : joinHost(located.directory.base, located.name);
  return {
    root,
    async lstat(appPath) {
      const located = await locate(root, cwd, appPath, false);
      try {
        // No last component: the path named a directory (or the root), already resolved; /proc/self/fd/N itself
        // is a link to it.
        return toStat(await (located.name === undefined ? fsp.stat : fsp.lstat)(target(located)));
      } catch (error) {
        throw fileError(errnoCode(error) ?? 'EIO', 'cannot look up', located.appPath);
      } finally {
        await located.close();
      }
    },
    async stat(appPath) {
      const located = await locate(root, cwd, appPath, true);
      try {
        const s = located.stat ?? (await fsp.stat(target(located)));
        return toStat(s, located.appPath);
      } finally {
        await located.close();
      }
    },
    async readlink(appPath) {
      const located = await locate(root, cwd, appPath, false);
      try {
        if (located.name === undefined) throw fileError('EINVAL', 'not a symbolic link', located.appPath);
        return await fsp.readlink(target(located));
      } catch (error) {
        throw fileError(errnoCode(error) ?? 'EIO', 'cannot read the link', located.appPath);
      } finally {
        await located.close();
      }
    },
    async readHead(appPath, maxBytes) {
      const located = await locate(root, cwd, appPath, true);
      try {
        if (located.stat === undefined) throw fileError('EISDIR', 'is a directory', located.appPath);
        return await readRegular(target(located), located.stat, located.appPath, maxBytes);
      } finally {
        await located.close();
      }
    },
  };
}

/**
 * A file of this process's own making that is not part of any container's view: /proc/self/status,
 * /proc/PID/environ. The path is the tool's own (never from the env or a file), so it is not resolved; it is
 * still only read when it is a regular file, non-blocking and up to a cap.
 */
export async function readSystemFile(
  hostPath: string,
  maxBytes: number,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  let handle: FileHandle;
  try {
    handle = await fsp.open(hostPath, READ_FLAGS);
  } catch (error) {
    throw fileError(errnoCode(error) ?? 'EIO', 'cannot open', hostPath);
  }
  try {
    refuseUnlessRegular(await handle.stat(), hostPath);
    return await readCapped(handle, maxBytes);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * A file the user named on the command line (--trust-policy FILE, --kubeconfig PATH): the user's own file on the
 * tool's side, so a pipe or FIFO is fine (`<(aws iam get-role ...)`, `/dev/stdin`), but the read is bounded by
 * the deadline and the size cap, and a directory is refused. A FIFO is opened blocking on the thread pool (a
 * non-blocking open would read end-of-file before its writer arrives); `signal` ends the wait, and the caller
 * exits with a usage error then.
 */
export async function readCommandLineFile(
  file: string,
  maxBytes: number,
  signal: AbortSignal,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const hostPath = path.resolve(file);
  const deadline = new Promise<never>((_, reject) => {
    const fail = () => reject(fileError('ETIMEDOUT', 'nothing to read before the deadline', file));
    if (signal.aborted) fail();
    signal.addEventListener('abort', fail, { once: true });
  });
  const read = (async () => {
    const found = await fsp.stat(hostPath).catch((error: unknown) => {
      throw fileError(errnoCode(error) ?? 'EIO', 'cannot open', file);
    });
    if (found.isDirectory()) throw fileError('EISDIR', 'is a directory', file);
    const flags = constants.O_RDONLY | constants.O_NOCTTY | (found.isFile() ? constants.O_NONBLOCK : 0);
    const handle = await fsp.open(hostPath, flags).catch((error: unknown) => {
      throw fileError(errnoCode(error) ?? 'EIO', 'cannot open', file);
    });
    // The read may outlive the deadline (a FIFO without a writer): the handle is closed whenever it ends.
    try {
      if ((await handle.stat()).isDirectory()) throw fileError('EISDIR', 'is a directory', file);
      return await readCapped(handle, maxBytes);
    } finally {
      await handle.close().catch(() => undefined);
    }
  })();
  read.catch(() => undefined);
  return Promise.race([read, deadline]);
}
