import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LaunchWorld, LaunchWorldOptions } from '../../src/sim/launch-world';
import { startLaunchWorld } from '../../src/sim/launch-world';
import type { BinaryRun } from './binary';
import { BINARY, runBinary } from './binary';
import { expectValidReport } from './reports';

/** The JSON report fields the launcher tests compare. */
export interface JsonReport {
  readonly verdict: string;
  readonly mechanism: string;
  readonly rootCause: { readonly code: string } | null;
  readonly findings: readonly { readonly code: string; readonly severity: string }[];
  readonly checks: readonly { readonly id: string; readonly status: string }[];
}

export interface TestWorld {
  readonly world: LaunchWorld;
  /** HOME of the launcher (kubectl's cache goes there too). */
  readonly home: string;
  readonly kubeconfig: string;
  readonly adminKubeconfig: string;
  /** Runs the built launcher binary with only PATH, HOME and KUBECONFIG. */
  run(args: readonly string[], options?: { env?: Record<string, string>; killAfterMs?: number }): Promise<BinaryRun>;
  /** What a launch may have left in the cluster or on this machine. Empty when clean. */
  leftovers(): string[];
  close(): Promise<void>;
}

/** A simulated cluster for one test, running this checkout's binary as its containers. */
export async function startTestWorld(options: Omit<LaunchWorldOptions, 'doctor'>): Promise<TestWorld> {
  const world = await startLaunchWorld({ ...options, doctor: { command: BINARY, args: [] } });
  const home = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-launch-'));
  const kubeconfig = path.join(home, 'kubeconfig');
  const adminKubeconfig = path.join(home, 'admin.kubeconfig');
  writeFileSync(kubeconfig, world.kubeconfig('user'), { mode: 0o600 });
  writeFileSync(adminKubeconfig, world.kubeconfig('admin'), { mode: 0o600 });
  const appPod = world.pod;
  return {
    world,
    home,
    kubeconfig,
    adminKubeconfig,
    run: (args, { env = {}, killAfterMs = 60_000 } = {}) =>
      runBinary(args, { PATH: '/usr/bin:/bin', HOME: home, KUBECONFIG: kubeconfig, ...env }, killAfterMs),
    leftovers() {
      const left: string[] = [];
      for (const job of world.cluster.list('jobs')) left.push(`job ${job.metadata.namespace}/${job.metadata.name}`);
      for (const pod of world.cluster.list('pods')) {
        if (pod.metadata.name !== appPod) left.push(`pod ${pod.metadata.namespace}/${pod.metadata.name}`);
      }
      for (const p of world.kubelet.processes()) {
        if (!(p.pod === appPod && p.container === world.container))
          left.push(`container process ${p.pod}/${p.container} (pid ${p.pid})`);
      }
      return left;
    },
    async close() {
      const workDir = world.kubelet.workDir;
      await world.close();
      rmSync(home, { recursive: true, force: true });
      const stray = processesUnder(workDir);
      if (stray.length > 0) throw new Error(`processes left under ${workDir}: ${stray.join(', ')}`);
      if (existsSync(workDir)) throw new Error(`the kubelet's ${workDir} is left behind`);
    },
  };
}

/** Processes on this machine whose root, working directory or command line is under `dir`. */
export function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const root = readlinkSync(`/proc/${entry}/root`);
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (root.startsWith(dir) || cwd.startsWith(dir) || cmdline.includes(dir))
        found.push(`${entry}: ${cmdline.trim()}`);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** Parses a launcher's (or the doctor's) JSON output; like every report a test parses, it must be valid. */
export function parseReport(stdout: string): JsonReport {
  const report: unknown = JSON.parse(stdout);
  expectValidReport(report);
  return report as unknown as JsonReport;
}

/** verdict/rootCause/exit code, the triple the launchers must carry over unchanged. */
export function outcomeOf(report: JsonReport, code: number | null): string {
  return `${report.verdict}/${report.rootCause?.code ?? null}/${code}`;
}
