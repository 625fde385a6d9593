import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS } from '../../../src/context/context';
import {
  ROOT_APP_HELP,
  SAME_USER_HELP,
  TARGET_ACCESS_HELP,
  accessDeniedMessage,
  hasEffectivePtrace,
  TargetError,
  contextForTarget,
  parseEnviron,
  pickAutoTarget,
} from '../../../src/context/target';
import { listPeerProcesses } from '../../../src/context/peers';

/** A fake /proc: each pid has environ, status, cmdline and a root directory (its container filesystem). */
function fakeProc(
  processes: {
    pid: number | 'self';
    ppid?: number;
    env?: Record<string, string>;
    cmd: string;
    root: string;
    uid?: number;
    /** The targets of ns/pid and ns/mnt, as the kernel's links read (`pid:[4026531836]`). */
    ns?: { pid: string; mnt: string };
  }[],
) {
  const proc = mkdtempSync(path.join(tmpdir(), 'irsa-proc-'));
  for (const p of processes) {
    const dir = path.join(proc, String(p.pid));
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'cmdline'), p.cmd.split(' ').join('\0') + '\0');
    const uid = p.uid ?? 1000;
    writeFileSync(
      path.join(dir, 'status'),
      `Name:\tx\nPPid:\t${p.ppid ?? 0}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t2000\t2000\t2000\t2000\nGroups:\t2000 65534 \n`,
    );
    if (p.env)
      writeFileSync(
        path.join(dir, 'environ'),
        Object.entries(p.env)
          .map(([k, v]) => `${k}=${v}\0`)
          .join(''),
      );
    symlinkSync(p.root, path.join(dir, 'root'));
    if (p.ns) {
      mkdirSync(path.join(dir, 'ns'));
      symlinkSync(p.ns.pid, path.join(dir, 'ns', 'pid'));
      symlinkSync(p.ns.mnt, path.join(dir, 'ns', 'mnt'));
    }
  }
  return proc;
}

describe(parseEnviron, () => {
  it('splits NUL records on the first "=" and ignores records without one', () => {
    const env = parseEnviron(Buffer.from('A=1\0B=x=y\0junk\0=nokey\0EMPTY=\0'));
    expect(env).toEqual({ A: '1', B: 'x=y', EMPTY: '' });
  });
});

describe(contextForTarget, () => {
  const appRoot = mkdtempSync(path.join(tmpdir(), 'irsa-approot-'));
  mkdirSync(path.join(appRoot, 'var/run/secrets/eks.amazonaws.com/serviceaccount'), { recursive: true });
  writeFileSync(path.join(appRoot, 'var/run/secrets/eks.amazonaws.com/serviceaccount/token'), 'app-token');
  const proc = fakeProc([
    {
      pid: 7,
      cmd: 'node server.js',
      root: appRoot,
      env: { AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/app' },
      uid: 1001,
    },
  ]);

  it("reads the target's env, its files through its root, and its uid/gids", async () => {
    const ctx = await contextForTarget(7, DEFAULT_OPTIONS, proc);
    expect(ctx.env.AWS_ROLE_ARN).toBe('arn:aws:iam::111122223333:role/app');
    expect(ctx.user).toEqual({ uid: 1001, gid: 2000, groups: [2000, 65534] });
    expect(ctx.options.targetPid).toBe(7);
    const { bytes } = await ctx.files.readHead('/var/run/secrets/eks.amazonaws.com/serviceaccount/token', 100);
    expect(bytes.toString()).toBe('app-token');
  });

  it('explains a missing process with the kubectl debug flags', async () => {
    await expect(contextForTarget(99, DEFAULT_OPTIONS, proc)).rejects.toThrow(
      /no such process[\s\S]*--profile=restricted --custom=.*"runAsUser":<APP_UID>,"runAsGroup":<APP_GID>/,
    );
  });

  it('names the uid and gid the debug container needs when access is refused, and fills them into the command', () => {
    const self = { uid: 65532, gid: 65532, groups: [] };
    const message = accessDeniedMessage(7, '/proc/7', { uid: 1000, gid: 3000, groups: [] }, self, false);
    expect(message).toMatch(
      /^--target 7: permission denied reading \/proc\/7\/environ: it runs as uid 1000 gid 3000, this process as uid 65532 gid 65532, without CAP_SYS_PTRACE\./,
    );
    expect(message).toContain('{"securityContext":{"runAsUser":1000,"runAsGroup":3000,"readOnlyRootFilesystem":true}}');
    expect(message).not.toMatch(/<APP_UID>|<APP_GID>/);
    // Its status unreadable too: the generic help, placeholders and all.
    const unknown = accessDeniedMessage(7, '/proc/7', undefined, self, false);
    expect(unknown).toContain('it runs as another uid or gid');
    expect(unknown).toContain(TARGET_ACCESS_HELP);
  });

  it('states CAP_SYS_PTRACE as this process really has it', () => {
    const self = { uid: 0, gid: 0, groups: [] };
    const target = { uid: 1000, gid: 1000, groups: [] };
    expect(accessDeniedMessage(7, '/proc/7', target, self, true)).toContain(
      'this process as uid 0 gid 0, with CAP_SYS_PTRACE, so something else refuses it',
    );
    expect(accessDeniedMessage(7, '/proc/7', target, self, undefined)).toContain('CAP_SYS_PTRACE unknown');
  });

  it('reads CapEff: bit 19 is CAP_SYS_PTRACE', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'irsa-status-'));
    const status = (capEff: string) => {
      const file = path.join(dir, capEff);
      writeFileSync(file, `Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n`);
      return file;
    };
    expect(await hasEffectivePtrace(status('0000000000080000'))).toBe(true);
    expect(await hasEffectivePtrace(status('000001fffff7ffff'))).toBe(false);
    expect(await hasEffectivePtrace(status('0000000000000000'))).toBe(false);
    expect(await hasEffectivePtrace(path.join(dir, 'missing'))).toBeUndefined();
    // This process: what the kernel says, whatever it is.
    const own = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
    expect(await hasEffectivePtrace()).toBe(((BigInt(`0x${own}`) >> 19n) & 1n) === 1n);
  });

  it('never offers a root debug container: a root app gets in-container and Job advice, no restricted profile', () => {
    const self = { uid: 65532, gid: 65532, groups: [] };
    const message = accessDeniedMessage(7, '/proc/7', { uid: 0, gid: 0, groups: [] }, self, false);
    expect(message).toContain('it runs as uid 0 gid 0');
    expect(message).toContain(ROOT_APP_HELP);
    expect(message).not.toContain('--profile=restricted --custom');
    expect(message).not.toMatch(/kubectl debug/);
    expect(message).toContain('kubectl exec');
    for (const help of [TARGET_ACCESS_HELP, message]) {
      expect(help).not.toMatch(/"runAsUser":\s*0\b/);
      expect(help).not.toContain('sysadmin');
      expect(help).not.toContain('--profile=general');
    }
  });

  it('offers one debug container, the least privileged: the app uid, restricted, read-only', () => {
    const commands = TARGET_ACCESS_HELP.split('\n').filter((line) => line.includes('kubectl debug'));
    expect(commands).toHaveLength(1);
    expect(commands[0]).toContain('--profile=restricted');
    expect(commands[0]).toContain('"readOnlyRootFilesystem":true');
    expect(SAME_USER_HELP).toContain('"runAsUser":<APP_UID>');
  });
});

describe(pickAutoTarget, () => {
  const ownRoot = mkdtempSync(path.join(tmpdir(), 'irsa-own-'));
  const app = mkdtempSync(path.join(tmpdir(), 'irsa-app-'));
  const sidecar = mkdtempSync(path.join(tmpdir(), 'irsa-side-'));
  const procFor = (withSidecar: boolean) =>
    fakeProc([
      { pid: 1, cmd: '/pause', root: mkdtempSync(path.join(tmpdir(), 'irsa-pause-')) },
      { pid: 10, cmd: 'node server.js', root: app },
      { pid: 11, ppid: 10, cmd: 'node worker.js', root: app },
      ...(withSidecar ? [{ pid: 20, cmd: 'envoy -c /etc/envoy.yaml', root: sidecar }] : []),
      { pid: 30, cmd: 'sh', root: ownRoot },
      { pid: 31, ppid: 30, cmd: '/irsa-doctor --target auto', root: ownRoot },
    ]);

  it('picks the first process of the only other container, skipping pause and its own container', async () => {
    const proc = procFor(false);
    symlinkSync(ownRoot, path.join(proc, 'self'));
    expect(await pickAutoTarget(proc, 31)).toBe(10);
  });

  it('lists the containers and says how to choose when there are several', async () => {
    const proc = procFor(true);
    symlinkSync(ownRoot, path.join(proc, 'self'));
    const error = await pickAutoTarget(proc, 31).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TargetError);
    expect(String(error)).toContain('2 other containers');
    expect(String(error)).toContain('--target 10');
    expect(String(error)).toContain('--target 20');
  });

  it('where the namespace links are readable, a chroot in its own mount namespace or a nested PID namespace is no container of the pod', async () => {
    const pod = { pid: 'pid:[4026531836]', mnt: 'mnt:[4026532001]' };
    const proc = fakeProc([
      { pid: 'self', cmd: '/irsa-doctor', root: ownRoot, ns: pod },
      // Another container of the pod: same PID namespace, its own mounts.
      { pid: 10, cmd: 'node server.js', root: app, ns: { pid: pod.pid, mnt: 'mnt:[4026532002]' } },
      // A chrooted process on the same host (a test, a build): other root, but this process's mounts.
      { pid: 20, cmd: '/sleep', root: sidecar, ns: pod },
      // A sandbox with a PID namespace of its own (seen from its parent's namespace).
      { pid: 21, cmd: '/app', root: sidecar, ns: { pid: 'pid:[4026532100]', mnt: 'mnt:[4026532101]' } },
      { pid: 31, cmd: '/irsa-doctor', root: ownRoot, ns: pod },
    ]);
    expect((await listPeerProcesses(proc, 31)).map((p) => p.pid)).toEqual([10]);
    expect(await pickAutoTarget(proc, 31)).toBe(10);
  });

  it("escapes the other containers' command lines: none can write to the terminal or add a line", async () => {
    const hostile = mkdtempSync(path.join(tmpdir(), 'irsa-hostile-'));
    const proc = fakeProc([
      { pid: 10, cmd: 'node server.js', root: app },
      { pid: 20, cmd: 'evil \u001b]0;pwned\u0007\u001b[2J\nirsa-doctor: HEALTHY \u009b31m \u202e', root: hostile },
      { pid: 31, cmd: '/irsa-doctor', root: ownRoot },
    ]);
    symlinkSync(ownRoot, path.join(proc, 'self'));
    const message = String(await pickAutoTarget(proc, 31).catch((e: unknown) => e));
    expect(message).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(message).toContain('evil \\x1b]0;pwned\\x07\\x1b[2J\\nirsa-doctor: HEALTHY');
    expect(message.split('\n').filter((line) => line.startsWith('  --target'))).toHaveLength(2);
  });

  it('lists nothing when no other container is visible', async () => {
    const proc = fakeProc([{ pid: 31, cmd: '/irsa-doctor', root: ownRoot }]);
    symlinkSync(ownRoot, path.join(proc, 'self'));
    expect(await listPeerProcesses(proc, 31)).toEqual([]);
    await expect(pickAutoTarget(proc, 31)).rejects.toThrow(/no process of another container/);
  });
});

describe('a real child process', () => {
  const children: ReturnType<typeof spawn>[] = [];
  afterAll(() => children.forEach((c) => c.kill()));

  it('is read through the real /proc with its own env', async () => {
    const child = spawn('sleep', ['30'], {
      env: { PATH: process.env.PATH ?? '', AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/child' },
    });
    children.push(child);
    await new Promise((r) => child.once('spawn', r));
    const ctx = await contextForTarget(child.pid as number, DEFAULT_OPTIONS);
    expect(ctx.env.AWS_ROLE_ARN).toBe('arn:aws:iam::123456789012:role/child');
    expect(ctx.files.root).toBe(`/proc/${child.pid}/root`);
  });
});
