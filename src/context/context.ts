import type { NetClient } from '../aws/http';
import { createNetClient } from '../aws/http';
import type { FileView } from './files';
import { createFileView } from './files';
import type { PeerContainer } from './peers';
import { listPeerContainers } from './peers';
import { launchEnvironment } from './process-env';

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
  /** The text of --kubeconfig, read once at start (the user's own file: a pipe or FIFO works). */
  readonly kubeconfigText?: string;
  readonly trustPolicyFile?: string;
  /** The text of --trust-policy FILE or `-` (stdin), read and validated at start. */
  readonly trustPolicyText?: string;
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
  /**
   * This process's own env, where it differs from `env` (--target): only for the tool's own access, such as the
   * Kubernetes API server's address; never what is diagnosed.
   */
  readonly toolEnv?: Env;
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

/** Where relative paths of this process start; `/` when its working directory is gone. */
function workingDirectory(): string {
  try {
    return process.cwd();
  } catch {
    return '/';
  }
}

/** The Context of the process the tool runs in. */
export function contextForSelf(options: RunOptions): Context {
  return {
    env: launchEnvironment(),
    files: createFileView('/', { cwd: workingDirectory() }),
    clock: systemClock,
    user: currentUser(),
    options,
    peers: () => listPeerContainers(),
    net: createNetClient(),
    localFiles: createFileView('/'),
  };
}

/**
 * The diagnosed process's home directory, where the SDKs look for ~/.aws: HOME from its env, else its passwd
 * entry (what os.homedir() and botocore's expanduser fall back to), read from /etc/passwd in its own root
 * through the file view. Never this process's own passwd lookup: with --target that would be the debug
 * container's, and NSS would open files no check controls.
 */
export async function homeDirectory(ctx: Pick<Context, 'env' | 'files' | 'user'>): Promise<string | undefined> {
  if (ctx.env.HOME) return ctx.env.HOME;
  try {
    const { bytes } = await ctx.files.readHead('/etc/passwd', 1024 * 1024);
    for (const line of bytes.toString('utf8').split('\n')) {
      const fields = line.split(':');
      if (fields.length >= 7 && Number(fields[2]) === ctx.user.uid && fields[5]) return fields[5];
    }
  } catch {
    // No passwd (scratch and distroless-static images have none, or one without this uid): no home.
  }
  return undefined;
}
