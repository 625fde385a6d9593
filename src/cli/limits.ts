import { readdirSync, readFileSync } from 'node:fs';

/**
 * What the process needs from the system before it starts work, checked first so that a shortage ends in
 * exit 2 and one line instead of a crash: the runtime aborts the whole process (exit 134, a crash report)
 * when it cannot start a thread, which happens when RLIMIT_NPROC is used up (the limit counts every thread of
 * the user, so an app that forks up to it leaves a debug container of the same uid none).
 *
 * This is a forecast from /proc (the soft limit, and the threads of this user that are visible): threads of
 * the same uid in other PID namespaces count too and are not visible, and a limit already exhausted when the
 * runtime starts aborts before any of this code runs. A working directory that was deleted ends the Bun
 * runtime before any code runs as well (exit 1, with its own one-line message); under Node it is caught here.
 */

/** Most threads a run had at once (measured: 7 for --offline, 8-9 for demo and the TUI), and a few more. */
export const THREADS_NEEDED = 12;

/** CAP_SYS_ADMIN and CAP_SYS_RESOURCE lift RLIMIT_NPROC (kernel/fork.c, copy_process). */
const EXEMPT_CAPABILITIES = (1n << 21n) | (1n << 24n);

interface ProcessLimits {
  /** The soft RLIMIT_NPROC, or undefined when unlimited. */
  readonly maxProcesses: number | undefined;
  readonly realUid: number;
  readonly exempt: boolean;
  readonly ownThreads: number;
}

function readLimits(proc: string): ProcessLimits | undefined {
  try {
    const limits = readFileSync(`${proc}/self/limits`, 'utf8');
    const max = /^Max processes\s+(\S+)/m.exec(limits)?.[1];
    const status = readFileSync(`${proc}/self/status`, 'utf8');
    const realUid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    const capEff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? '0'}`);
    const ownThreads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
    return {
      maxProcesses: max === undefined || max === 'unlimited' ? undefined : Number(max),
      realUid,
      exempt: (capEff & EXEMPT_CAPABILITIES) !== 0n,
      ownThreads,
    };
  } catch {
    return undefined; // no /proc: nothing to forecast with
  }
}

/** Threads of processes whose real uid is `uid`, as far as this PID namespace shows them. */
function threadsOf(proc: string, uid: number, limit: number): number {
  let count = 0;
  let entries: string[];
  try {
    entries = readdirSync(proc);
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`${proc}/${entry}/status`, 'utf8');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) !== uid) continue;
      count += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
    } catch {
      // The process ended, or its status is not readable: it is not counted.
    }
    if (count > limit) break; // enough to know
  }
  return count;
}

/** Why this process cannot run, in one line, or undefined when nothing is in the way. */
export function startupProblem(proc = '/proc', cwd: () => string = () => process.cwd()): string | undefined {
  try {
    cwd();
  } catch {
    return 'the current working directory was deleted: cd into an existing directory and run irsa-doctor again';
  }
  const limits = readLimits(proc);
  if (!limits || limits.maxProcesses === undefined || limits.exempt) return undefined;
  const inUse = threadsOf(proc, limits.realUid, limits.maxProcesses);
  const more = THREADS_NEEDED - limits.ownThreads;
  const left = limits.maxProcesses - inUse;
  if (left >= more) return undefined;
  return `uid ${limits.realUid} may run ${limits.maxProcesses} processes and threads (RLIMIT_NPROC) and ${inUse} are in use, so this process cannot start the ${more} more threads it needs: raise the limit (ulimit -u) or run irsa-doctor as another uid`;
}
