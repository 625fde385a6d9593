import { escapeControl } from '../render/escape';
import type { Context, Env, ProcessUser, RunOptions } from './context';
import { contextForSelf, currentUser } from './context';
import { createFileView, errnoCode, readSystemFile } from './files';
import type { PeerProcess } from './peers';
import { listInaccessibleProcesses, listPeerProcesses } from './peers';
import { launchEnvironment } from './process-env';

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
 * How to get a debug container that may read the app's /proc entries, least privilege first (examples/debug.md).
 * The kernel lets a process read another's /proc/PID/environ and /proc/PID/root when both run as the same uid
 * and gid, or with CAP_SYS_PTRACE (the ptrace access check, "read" mode). The app's own uid and gid need no
 * capability at all (test/e2e/chroot.test.ts runs it with none), so that is the one debug container offered.
 */
export const SAME_USER_HELP = [
  "Start the debug container as the app's uid and gid, with no capabilities and a read-only root (kubectl 1.31+):",
  '  kubectl debug -it <POD> --image=<IRSA_DOCTOR_IMAGE> --target=<APP_CONTAINER> --profile=restricted --custom=<(echo \'{"securityContext":{"runAsUser":<APP_UID>,"runAsGroup":<APP_GID>,"readOnlyRootFilesystem":true}}\') -- /irsa-doctor --target auto',
  "(--target=<APP_CONTAINER> shares the app container's process namespace; without it the app's processes are not visible.)",
].join('\n');

/**
 * An app that runs as root. kubectl debug's profiles (kubectl pkg/cmd/debug/profiles.go) cannot give a safe
 * reader for it: `restricted` sets runAsNonRoot and drops every capability, so a root debug container is refused
 * and a non-root one is another uid; `general` adds SYS_PTRACE but keeps the image's user (uid 65532 here), and a
 * non-root process has no effective capability; only a root debug container with CAP_SYS_PTRACE (or the app's
 * whole capability set) reads it, which is the privilege this tool does not ask for next to an app that may be
 * compromised. So the advice is to read the app from the inside, as the app, or its ServiceAccount from a Job.
 */
export const ROOT_APP_HELP = [
  'The app runs as root (uid 0): reading it from a debug container takes a root debug container with CAP_SYS_PTRACE, which irsa-doctor does not recommend next to an app that may be compromised (--profile=restricted cannot: it sets runAsNonRoot and drops every capability).',
  "Run it inside the app's own container instead, as the app (no added privilege; the image needs tar and a writable directory):",
  '  kubectl cp ./irsa-doctor <NAMESPACE>/<POD>:/tmp/irsa-doctor -c <APP_CONTAINER> && kubectl exec -n <NAMESPACE> <POD> -c <APP_CONTAINER> -- /tmp/irsa-doctor',
  "or diagnose the ServiceAccount from a Job of its own, which the webhook mutates like the app's pod (examples/job.yaml, with the app's namespace and serviceAccountName).",
].join('\n');

const ACCESS_RULE =
  "Reading another process's /proc/PID/environ and /proc/PID/root needs the same uid and gid as that process, or CAP_SYS_PTRACE.";

/** Both ways, for when the app's uid is not known. */
export const TARGET_ACCESS_HELP = [ACCESS_RULE, SAME_USER_HELP, ROOT_APP_HELP].join('\n');

/** CAP_SYS_PTRACE is bit 19 of the capability sets (include/uapi/linux/capability.h). */
const CAP_SYS_PTRACE = 19n;

/** Whether this process's effective capability set (CapEff in /proc/self/status) holds CAP_SYS_PTRACE. */
export async function hasEffectivePtrace(statusPath = '/proc/self/status'): Promise<boolean | undefined> {
  try {
    const { bytes } = await readSystemFile(statusPath, 64 * 1024);
    const hex = /^CapEff:\s*([0-9a-f]+)\s*$/m.exec(bytes.toString('utf8'))?.[1];
    return hex === undefined ? undefined : ((BigInt(`0x${hex}`) >> CAP_SYS_PTRACE) & 1n) === 1n;
  } catch {
    return undefined;
  }
}

/** The biggest environ the kernel hands a process (ARG_MAX for argv and envp together is far smaller). */
const MAX_ENVIRON_BYTES = 4 * 1024 * 1024;

export async function contextForTarget(pid: number, options: RunOptions, procRoot = '/proc'): Promise<Context> {
  const base = `${procRoot}/${pid}`;
  let environ: Buffer;
  try {
    environ = (await readSystemFile(`${base}/environ`, MAX_ENVIRON_BYTES)).bytes;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ESRCH')
      throw new TargetError(`--target ${pid}: no such process in this PID namespace.\n${TARGET_ACCESS_HELP}`);
    if (code === 'EACCES' || code === 'EPERM') {
      // /proc/PID/status is world-readable: say whose uid and gid the debug container needs.
      const owner = await readProcessUser(`${base}/status`).catch(() => undefined);
      throw new TargetError(accessDeniedMessage(pid, base, owner, currentUser(), await hasEffectivePtrace()));
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
    toolEnv: launchEnvironment(),
    files: createFileView(`${base}/root`),
    user,
    peers: async () => [],
  };
}

/**
 * Refused access to the target's /proc entries: who it runs as against who this process is (with its real
 * CAP_SYS_PTRACE), and the one piece of advice that fits the target, its uid and gid filled in.
 */
export function accessDeniedMessage(
  pid: number,
  base: string,
  target: ProcessUser | undefined,
  self: ProcessUser,
  selfPtrace: boolean | undefined,
  label = `--target ${pid}`,
): string {
  const them = target ? `it runs as uid ${target.uid} gid ${target.gid}` : 'it runs as another uid or gid';
  const ptrace =
    selfPtrace === true
      ? 'with CAP_SYS_PTRACE, so something else refuses it (a Yama ptrace_scope of 3, an AppArmor or SELinux policy, or another user namespace)'
      : selfPtrace === false
        ? 'without CAP_SYS_PTRACE'
        : 'CAP_SYS_PTRACE unknown (/proc/self/status unreadable)';
  let help: string;
  if (!target) help = TARGET_ACCESS_HELP;
  else if (target.uid === 0) help = `${ACCESS_RULE}\n${ROOT_APP_HELP}`;
  else {
    const filled = SAME_USER_HELP.replaceAll('<APP_UID>', String(target.uid)).replaceAll(
      '<APP_GID>',
      String(target.gid),
    );
    help = `${ACCESS_RULE}\n${filled}`;
  }
  return `${label}: permission denied reading ${base}/environ: ${them}, this process as uid ${self.uid} gid ${self.gid}, ${ptrace}.\n${help}`;
}

const TARGET_OWNER = /permission denied reading \S+\/environ: it runs as uid (\d{1,10}) gid (\d{1,10}),/;

/**
 * The target's uid and gid from an accessDeniedMessage, as the launchers read it back from the doctor's log
 * (`irsa-doctor pod` retries once as that uid and gid). Undefined for any other text.
 */
export function targetOwnerFromMessage(text: string): { uid: number; gid: number } | undefined {
  const match = TARGET_OWNER.exec(text);
  return match ? { uid: Number(match[1]), gid: Number(match[2]) } : undefined;
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
    text = (await readSystemFile(statusPath, 64 * 1024)).bytes.toString('utf8');
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
    // Processes that are there but closed to this uid/gid: name whose they are, as --target PID does.
    const [hidden] = await listInaccessibleProcesses(procRoot, selfPid);
    if (hidden !== undefined) {
      const base = `${procRoot}/${hidden}`;
      const owner = await readProcessUser(`${base}/status`).catch(() => undefined);
      throw new TargetError(
        accessDeniedMessage(
          hidden,
          base,
          owner,
          currentUser(),
          await hasEffectivePtrace(),
          `--target auto (process ${hidden}, of the other container)`,
        ),
      );
    }
    throw new TargetError(
      `--target auto: no process of another container is visible (or readable) from here.\n${TARGET_ACCESS_HELP}`,
    );
  }
  const containers = new Map<string, PeerProcess>();
  for (const peer of peers) if (!containers.has(peer.rootId)) containers.set(peer.rootId, peer);
  if (containers.size > 1) {
    // Command lines are the other containers' own text: escaped, so none can write to the terminal or fake a line.
    const listing = [...containers.values()]
      .map((p) => `  --target ${p.pid}   ${escapeControl(p.command.slice(0, 100))}`)
      .join('\n');
    throw new TargetError(
      `--target auto: processes of ${containers.size} other containers are visible; choose one:\n${listing}`,
    );
  }
  const [only] = containers.values();
  return (only as PeerProcess).pid;
}
