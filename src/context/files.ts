import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';

/**
 * A read-only view of a container's filesystem. `root` is a prefix: `/` for this container,
 * `/proc/PID/root` for another container of the pod (`--target`), a fixture directory in tests.
 * Every path a check passes is the path as the app sees it (e.g. AWS_WEB_IDENTITY_TOKEN_FILE).
 */
export interface FileView {
  readonly root: string;
  /** Where `appPath` lives on this host; for messages only when root is not `/`. */
  hostPath(appPath: string): string;
  lstat(appPath: string): Promise<FileStat>;
  stat(appPath: string): Promise<FileStat>;
  readlink(appPath: string): Promise<string>;
  /** Reads at most `maxBytes` (never the whole of a huge file); `truncated` says there was more. */
  readHead(appPath: string, maxBytes: number): Promise<{ bytes: Buffer; truncated: boolean }>;
}

export interface FileStat {
  readonly kind: 'file' | 'directory' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtimeMs: number;
}

export function createFileView(root: string): FileView {
  const resolve = (appPath: string): string => (root === '/' ? appPath : path.join(root, appPath));
  const toStat = (s: import('node:fs').Stats): FileStat => ({
    kind: s.isFile() ? 'file' : s.isDirectory() ? 'directory' : s.isSymbolicLink() ? 'symlink' : 'other',
    mode: s.mode & 0o7777,
    uid: s.uid,
    gid: s.gid,
    size: s.size,
    mtimeMs: s.mtimeMs,
  });
  return {
    root,
    hostPath: resolve,
    lstat: async (p) => toStat(await fsp.lstat(resolve(p))),
    stat: async (p) => toStat(await fsp.stat(resolve(p))),
    readlink: (p) => fsp.readlink(resolve(p)),
    async readHead(p, maxBytes) {
      // O_NOFOLLOW is not used: the kubelet's token is a symlink into ..data by design.
      const handle = await fsp.open(resolve(p), constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        const buffer = Buffer.alloc(maxBytes + 1);
        let filled = 0;
        while (filled < buffer.length) {
          const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return { bytes: buffer.subarray(0, Math.min(filled, maxBytes)), truncated: filled > maxBytes };
      } finally {
        await handle.close();
      }
    },
  };
}

/** The errno code of a filesystem error, or undefined. */
export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}
