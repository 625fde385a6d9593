import os from 'node:os';
import type { NetClient } from '../aws/http';
import { createNetClient } from '../aws/http';
import type { FileView } from './files';
import { createFileView } from './files';
import type { PeerContainer } from './peers';
import { listPeerContainers } from './peers';

/** An immutable snapshot of the diagnosed process's environment. Checks never read process.env. */
export type Env = Readonly<Record<string, string | undefined>>;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The identity that will open the token file: this process, or the target process with --target. */
export interface ProcessUser {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
}

export interface RunOptions {
  readonly offline: boolean;
  readonly noKube: boolean;
  readonly timeoutMs: number;
  readonly namespace?: string;
  readonly pod?: string;
  readonly kubeconfig?: string;
  readonly trustPolicyFile?: string;
  /** Set with --target: whose env and files are diagnosed. */
  readonly targetPid?: number;
}

/**
 * Everything a check may read from the outside world, gathered once. Checks are functions of
 * (Context, upstream outputs), which is what lets the same checks diagnose another container through
 * /proc/PID, and what the tests drive with fixtures.
 */
export interface Context {
  readonly env: Env;
  readonly files: FileView;
  readonly clock: Clock;
  readonly user: ProcessUser;
  readonly options: RunOptions;
  /** The other containers of the pod visible through a shared process namespace (kubectl debug --target). */
  readonly peers: () => Promise<readonly PeerContainer[]>;
  /** HTTP(S) and endpoint probes with hard deadlines and no proxy: the only way a check reaches the network. */
  readonly net: NetClient;
  /**
   * The tool's own filesystem, for files named on the command line (--trust-policy FILE). Distinct from
   * `files`, which with --target is the app container's view through /proc/PID/root.
   */
  readonly localFiles: FileView;
}

export const DEFAULT_OPTIONS: RunOptions = { offline: false, noKube: false, timeoutMs: 10_000 };

export function currentUser(): ProcessUser {
  if (typeof process.getuid !== 'function' || typeof process.getgid !== 'function') {
    return { uid: -1, gid: -1, groups: [] };
  }
  const groups = typeof process.getgroups === 'function' ? process.getgroups() : [];
  return { uid: process.getuid(), gid: process.getgid(), groups };
}

export const systemClock: Clock = { now: () => Date.now() };

/** The Context of the process the tool runs in. */
export function contextForSelf(options: RunOptions): Context {
  return {
    env: { ...process.env },
    files: createFileView('/'),
    clock: systemClock,
    user: currentUser(),
    options,
    peers: () => listPeerContainers(),
    net: createNetClient(),
    localFiles: createFileView('/'),
  };
}

export function homeDirectory(env: Env): string | undefined {
  if (env.HOME) return env.HOME;
  try {
    return os.homedir();
  } catch {
    return undefined; // no HOME and no passwd entry (scratch images): os.homedir() throws.
  }
}
