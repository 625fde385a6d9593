import type { FileStat, FileView } from '../context/files';

/**
 * The demo's container filesystem: the simulated pod's files held in memory, so `irsa-doctor demo` writes
 * nothing to disk and the compiled binary reads no file of its own. Files look the way the kubelet projects
 * them without fsGroup/runAsUser: root-owned 0644 (docs/mechanics.md 2.3). Directories exist
 * implicitly above every file. Missing paths fail with ENOENT like node:fs.
 */
export function createMemoryFileView(files: Readonly<Record<string, string | Uint8Array>>, now: number): FileView {
  // Text is stored as UTF-8; bytes as given (the fuzz tests put invalid UTF-8 in token files).
  const contents = new Map(
    Object.entries(files).map(([p, data]) => [
      normalize(p),
      typeof data === 'string' ? Buffer.from(data, 'utf8') : data,
    ]),
  );
  const isDirectory = (p: string): boolean => {
    const prefix = p === '/' ? '/' : `${p}/`;
    return [...contents.keys()].some((file) => file.startsWith(prefix));
  };
  const stat = async (appPath: string): Promise<FileStat> => {
    const p = normalize(appPath);
    const bytes = contents.get(p);
    if (bytes) return { kind: 'file', mode: 0o644, uid: 0, gid: 0, size: bytes.length, mtimeMs: now };
    if (isDirectory(p)) return { kind: 'directory', mode: 0o755, uid: 0, gid: 0, size: 4096, mtimeMs: now };
    throw fsError('ENOENT', 'stat', appPath);
  };
  return {
    root: 'memory:',
    stat,
    lstat: stat,
    async readlink(appPath) {
      await stat(appPath);
      throw fsError('EINVAL', 'readlink', appPath);
    },
    async readHead(appPath, maxBytes) {
      const p = normalize(appPath);
      const bytes = contents.get(p);
      if (!bytes) {
        throw isDirectory(p) ? fsError('EISDIR', 'read', appPath) : fsError('ENOENT', 'open', appPath);
      }
      return { bytes: Buffer.from(bytes.subarray(0, maxBytes)), truncated: bytes.length > maxBytes };
    },
  };
}

function normalize(p: string): string {
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/** An error shaped like node:fs's, so errnoCode() and the checks' ENOENT handling work unchanged. */
function fsError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const messages: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EINVAL: 'invalid argument',
    EISDIR: 'illegal operation on a directory',
  };
  const error: NodeJS.ErrnoException = new Error(`${code}: ${messages[code] ?? code}, ${syscall} '${path}'`);
  error.code = code;
  error.syscall = syscall;
  error.path = path;
  return error;
}
