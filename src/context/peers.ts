import { promises as fsp } from 'node:fs';
import { readSystemFile } from './files';

export interface PeerProcess {
  readonly pid: number;
  readonly command: string;
  /** Identifies the container: processes of one container share their root directory. */
  readonly rootId: string;
}

/**
 * The processes of OTHER containers of this pod (shared process namespace): not this one, not its
 * ancestors, not the pause container, and not processes rooted in this container's filesystem.
 *
 * The containers of a pod share one PID namespace (shareProcessNamespace, or the one an ephemeral container
 * joins with kubectl debug --target) and each has a mount namespace of its own. So, where the kernel lets
 * this process read the namespace links (same uid, or CAP_SYS_PTRACE), a process in another PID namespace
 * (a nested sandbox) or in this process's own mount namespace (a chroot on the same host, a sibling process
 * of this container) is not another container of the pod, whatever its root directory. Without those links
 * the root directory alone decides.
 */
export async function listPeerProcesses(procRoot = '/proc', selfPid = process.pid): Promise<PeerProcess[]> {
  const ownRoot = await rootIdOf(procRoot, 'self');
  const ownPidNs = await namespaceOf(procRoot, 'self', 'pid');
  const ownMountNs = await namespaceOf(procRoot, 'self', 'mnt');
  const peers: PeerProcess[] = [];
  for (const { pid, entry, command } of await otherProcesses(procRoot, selfPid)) {
    const rootId = await rootIdOf(procRoot, String(pid));
    if (rootId === undefined || (ownRoot !== undefined && rootId === ownRoot)) continue;
    const pidNs = await namespaceOf(procRoot, entry, 'pid');
    if (ownPidNs !== undefined && pidNs !== undefined && pidNs !== ownPidNs) continue;
    const mountNs = await namespaceOf(procRoot, entry, 'mnt');
    if (ownMountNs !== undefined && mountNs !== undefined && mountNs === ownMountNs) continue;
    peers.push({ pid, command, rootId });
  }
  return peers.sort((a, b) => a.pid - b.pid);
}

/** The peers' environment variable names (values are not kept), or undefined when unreadable. */
export async function peerEnvNames(pid: number, procRoot = '/proc'): Promise<string[] | undefined> {
  try {
    const environ = (await readSystemFile(`${procRoot}/${pid}/environ`, 4 * 1024 * 1024)).bytes.toString('utf8');
    return environ
      .split('\0')
      .map((r) => r.slice(0, Math.max(0, r.indexOf('='))))
      .filter(Boolean);
  } catch {
    return undefined;
  }
}

/**
 * Processes of this PID namespace whose root this process may not look into (EACCES/EPERM on /proc/PID/root):
 * another container's processes under another uid or gid. /proc/PID/status stays readable to every uid, so
 * whoever they run as can still be told (the launchers rely on that to retry as the app's uid and gid).
 */
export async function listInaccessibleProcesses(procRoot = '/proc', selfPid = process.pid): Promise<number[]> {
  const pids: number[] = [];
  for (const { pid } of await otherProcesses(procRoot, selfPid)) {
    try {
      await fsp.stat(`${procRoot}/${pid}/root`);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') pids.push(pid);
    }
  }
  return pids.sort((a, b) => a - b);
}

/**
 * The processes under procRoot other than this one and its ancestors, with their command line; kernel threads
 * (no command line) and the pod's pause container are left out.
 */
async function otherProcesses(
  procRoot: string,
  selfPid: number,
): Promise<{ pid: number; entry: string; command: string }[]> {
  const ancestors = await ancestorsOf(procRoot, selfPid);
  let entries: string[];
  try {
    entries = await fsp.readdir(procRoot);
  } catch {
    return [];
  }
  const out: { pid: number; entry: string; command: string }[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === selfPid || ancestors.has(pid)) continue;
    const command = (await readText(`${procRoot}/${pid}/cmdline`)).split('\0').filter(Boolean).join(' ');
    if (command === '' || command === '/pause' || command.endsWith('/pause')) continue;
    out.push({ pid, entry, command });
  }
  return out;
}

async function rootIdOf(procRoot: string, pid: string): Promise<string | undefined> {
  try {
    const s = await fsp.stat(`${procRoot}/${pid}/root`);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

/** `mnt:[4026531840]`: the namespace's identity, or undefined when the kernel does not let this process see it. */
async function namespaceOf(procRoot: string, pid: string, kind: 'pid' | 'mnt'): Promise<string | undefined> {
  try {
    return await fsp.readlink(`${procRoot}/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

async function ancestorsOf(procRoot: string, pid: number): Promise<Set<number>> {
  const seen = new Set<number>();
  let current = pid;
  for (let i = 0; i < 64; i++) {
    const status = await readText(`${procRoot}/${current}/status`);
    const ppid = Number(/^PPid:\s*(\d+)/m.exec(status)?.[1] ?? 0);
    if (!ppid || seen.has(ppid)) break;
    seen.add(ppid);
    current = ppid;
  }
  return seen;
}

/** cmdline and status of a process; bounded like every file the tool reads. */
async function readText(path: string): Promise<string> {
  try {
    return (await readSystemFile(path, 64 * 1024)).bytes.toString('utf8');
  } catch {
    return '';
  }
}

/** One process per other container of the pod, with the names of its AWS variables when readable. */
export interface PeerContainer {
  readonly pid: number;
  readonly command: string;
  /** Names only (values are never kept); undefined when /proc/PID/environ is not readable. */
  readonly awsEnvNames: readonly string[] | undefined;
}

export async function listPeerContainers(procRoot = '/proc', selfPid = process.pid): Promise<PeerContainer[]> {
  const seen = new Set<string>();
  const containers: PeerContainer[] = [];
  for (const peer of await listPeerProcesses(procRoot, selfPid)) {
    if (seen.has(peer.rootId)) continue;
    seen.add(peer.rootId);
    const names = await peerEnvNames(peer.pid, procRoot);
    containers.push({ pid: peer.pid, command: peer.command, awsEnvNames: names?.filter((n) => n.startsWith('AWS_')) });
  }
  return containers;
}
