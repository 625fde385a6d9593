import { describe, expect, it } from 'vitest';
import { errnoCode } from '../../src/context/files';
import { createMemoryFileView } from '../../src/sim/memory-files';

describe('in-memory FileView for the demo', () => {
  const view = createMemoryFileView(
    { '/var/run/secrets/eks.amazonaws.com/serviceaccount/token': 'abc.def.ghi' },
    1_700_000_000_000,
  );

  it('stats files as root-owned 0644 with the given mtime, and parent directories as directories', async () => {
    expect(await view.stat('/var/run/secrets/eks.amazonaws.com/serviceaccount/token')).toEqual({
      kind: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: 11,
      mtimeMs: 1_700_000_000_000,
    });
    expect((await view.lstat('/var/run/secrets/eks.amazonaws.com/serviceaccount')).kind).toBe('directory');
    expect((await view.stat('/var/run/secrets/eks.amazonaws.com/serviceaccount/../serviceaccount/token')).kind).toBe(
      'file',
    );
  });

  it('reads at most maxBytes and says when there was more', async () => {
    const path = '/var/run/secrets/eks.amazonaws.com/serviceaccount/token';
    expect(await view.readHead(path, 100)).toEqual({ bytes: Buffer.from('abc.def.ghi'), truncated: false });
    expect(await view.readHead(path, 3)).toEqual({ bytes: Buffer.from('abc'), truncated: true });
  });

  it('fails on missing paths with ENOENT like node:fs', async () => {
    const failure = await view.stat('/nope').catch((e: unknown) => e);
    expect(errnoCode(failure)).toBe('ENOENT');
    expect(errnoCode(await view.readHead('/var/run/other', 10).catch((e: unknown) => e))).toBe('ENOENT');
    expect(errnoCode(await view.readlink('/nope').catch((e: unknown) => e))).toBe('ENOENT');
    expect(errnoCode(await view.readHead('/var/run', 10).catch((e: unknown) => e))).toBe('EISDIR');
  });

  it('names its root memory:, never a real host path', () => {
    expect(view.root).toBe('memory:');
  });
});
