import { promises as fsp } from 'node:fs';
import type { Context, Env, ProcessUser, RunOptions } from './context';
import { contextForSelf, currentUser } from './context';
import { createFileView, errnoCode } from './files';
import type { PeerProcess } from './peers';
import { listPeerProcesses } from './peers';

/**
 * `--target PID|auto`: diagnose another container of the pod from a `kubectl debug --target` container,
 * which shares the app's process namespace but has none of its env or token mount (the webhook never
 * mutates ephemeral containers: docs/mechanics.md 1.3). Env comes from /proc/PID/environ, files
 * through /proc/PID/root, and the uid/gids that will open the token file from /proc/PID/status.
 */
export class TargetError extends Error {
  override readonly name = 'TargetError';
}

/**
 * How to get a debug container that may read the app's /proc entries, least privilege first (examples/debug.md):
 * the app's own uid and gid need no capability at all (test/e2e/chroot.test.ts runs it with none; the kernel's
 * ptrace access check compares the gids too, so runAsGroup must match as well). CAP_SYS_PTRACE
 * only helps a debug container running as root, since a non-root uid loses every capability at exec; so the
 * root fallback is `general` (adds SYS_PTRACE) as uid 0, never `sysadmin`, which makes the container privileged.
 */
export const TARGET_ACCESS_HELP = [
  "Reading another process's /proc/PID/environ and /proc/PID/root needs the same uid and gid as that process, or CAP_SYS_PTRACE.",
  "Start the debug container as the app's uid and gid, with no capabilities and a read-only root (kubectl 1.31+):",
  '  kubectl debug -it <POD> --image=<IRSA_DOCTOR_IMAGE> --target=<APP_CONTAINER> --profile=restricted --custom=<(echo \'{"securityContext":{"runAsUser":<APP_UID>,"runAsGroup":<APP_GID>,"readOnlyRootFilesystem":true}}\') -- /irsa-doctor --target auto',
  'Only if the app runs as root (uid 0): root plus CAP_SYS_PTRACE (a non-root uid loses capabilities at exec):',
  '  kubectl debug -it <POD> --image=<IRSA_DOCTOR_IMAGE> --target=<APP_CONTAINER> --profile=general --custom=<(echo \'{"securityContext":{"runAsUser":0}}\') -- /irsa-doctor --target auto',
  "(--target=<APP_CONTAINER> shares the app container's process namespace; without it the app's processes are not visible.)",
].join('\n');

export async function contextForTarget(pid: number, options: RunOptions, procRoot = '/proc'): Promise<Context> {
  const base = `${procRoot}/${pid}`;
  let environ: Buffer;
  try {
    environ = await fsp.readFile(`${base}/environ`);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ESRCH')
      throw new TargetError(`--target ${pid}: no such process in this PID namespace.\n${TARGET_ACCESS_HELP}`);
    if (code === 'EACCES' || code === 'EPERM') {
      // /proc/PID/status is world-readable: say whose uid and gid the debug container needs.
      const owner = await readProcessUser(`${base}/status`).catch(() => undefined);
      throw new TargetError(accessDeniedMessage(pid, base, owner, currentUser()));
    }
    throw new TargetError(
      `--target ${pid}: cannot read ${base}/environ: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const user = await readProcessUser(`${base}/status`);
  // Everything else (clock, clients) is this process's own: only what the app sees is swapped.
  return {
    ...contextForSelf({ ...options, targetPid: pid }),
    env: parseEnviron(environ),
    files: createFileView(`${base}/root`),
    user,
    peers: async () => [],
  };
}

/**
 * Refused access to the target's /proc entries: who it runs as against who this process is, and the access help
 * with the target's uid and gid filled in, so the printed kubectl command works as it is.
 */
export function accessDeniedMessage(
  pid: number,
  base: string,
  target: ProcessUser | undefined,
  self: ProcessUser,
): string {
  const help = target
    ? TARGET_ACCESS_HELP.replaceAll('<APP_UID>', String(target.uid)).replaceAll('<APP_GID>', String(target.gid))
    : TARGET_ACCESS_HELP;
  const them = target ? `it runs as uid ${target.uid} gid ${target.gid}` : 'it runs as another uid or gid';
  return `--target ${pid}: permission denied reading ${base}/environ: ${them}, this process as uid ${self.uid} gid ${self.gid}, without CAP_SYS_PTRACE.\n${help}`;
}

/** NUL-separated NAME=VALUE records; a record without "=" is ignored, the first "=" splits. */
export function parseEnviron(bytes: Buffer): Env {
  const env: Record<string, string> = {};
  for (const record of bytes.toString('utf8').split('\0')) {
    const eq = record.indexOf('=');
    if (eq <= 0) continue;
    env[record.slice(0, eq)] = record.slice(eq + 1);
  }
  return env;
}

/** The effective uid/gid and supplementary groups from /proc/PID/status ("Uid: real effective saved fs"). */
export async function readProcessUser(statusPath: string): Promise<ProcessUser> {
  let text: string;
  try {
    text = await fsp.readFile(statusPath, 'utf8');
  } catch (error) {
    throw new TargetError(`cannot read ${statusPath}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const field = (name: string): number[] => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}:`));
    return line
      ? line
          .slice(name.length + 1)
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map(Number)
      : [];
  };
  const uid = field('Uid')[1] ?? field('Uid')[0];
  const gid = field('Gid')[1] ?? field('Gid')[0];
  if (uid === undefined || gid === undefined || Number.isNaN(uid) || Number.isNaN(gid)) {
    throw new TargetError(`cannot parse the uid/gid in ${statusPath}`);
  }
  return { uid, gid, groups: field('Groups').filter((g) => !Number.isNaN(g)) };
}

/** `--target auto`: the first process of the only other container; several containers is a usage error. */
export async function pickAutoTarget(procRoot = '/proc', selfPid = process.pid): Promise<number> {
  const peers = await listPeerProcesses(procRoot, selfPid);
  if (peers.length === 0) {
    throw new TargetError(
      `--target auto: no process of another container is visible (or readable) from here.\n${TARGET_ACCESS_HELP}`,
    );
  }
  const containers = new Map<string, PeerProcess>();
  for (const peer of peers) if (!containers.has(peer.rootId)) containers.set(peer.rootId, peer);
  if (containers.size > 1) {
    const listing = [...containers.values()].map((p) => `  --target ${p.pid}   ${p.command.slice(0, 100)}`).join('\n');
    throw new TargetError(
      `--target auto: processes of ${containers.size} other containers are visible; choose one:\n${listing}`,
    );
  }
  const [only] = containers.values();
  return (only as PeerProcess).pid;
}
