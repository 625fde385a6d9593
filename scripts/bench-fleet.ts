/*
 * Benchmark of `irsa-doctor fleet` (npm run bench:fleet; not a test): wall time, the fleet process's peak RSS
 * and the API requests it makes (as the simulated API server counts them, and the retries of its budget), for
 * 10, 100 and 1,000 ServiceAccounts (10 per namespace: 1,000 across 100 namespaces), at two --parallel settings,
 * plus --static.
 *
 * The kubelet's fast mode (sim/fleet-world.ts `fast`): every Job's container answers at once with one real
 * report, printed by this very binary (`irsa-doctor demo --output json`, healthy-irsa). So the figures are
 * the fleet's own cost (discovery, Jobs created and deleted, watches, logs, memory), not a thousand real
 * diagnoses, which on this machine would be CPU-bound in the doctor processes. With `--real N`, runs of up to N
 * ServiceAccounts use the real kubelet (the doctor in Linux namespaces, one scenario's AWS side per ServiceAccount).
 *
 *   bun scripts/bench-fleet.ts [--sizes 10,100,1000] [--parallel 4,16] [--real 100] [--output json|text]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FleetMember } from '../src/sim/fleet-world';
import { startFleetWorld } from '../src/sim/fleet-world';
import { LAUNCHER_USER } from '../src/sim/launch-world';

const BINARY = path.resolve(import.meta.dirname, '../dist/irsa-doctor');
if (!existsSync(BINARY)) {
  console.error('dist/irsa-doctor is missing: npm run build first');
  process.exit(2);
}
const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
};
const sizes = arg('sizes', '10,100,1000').split(',').map(Number);
const parallels = arg('parallel', '4,16').split(',').map(Number);
const realUpTo = Number(arg('real', '0'));
const output = arg('output', 'json');
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

// One real report, as the doctor prints it.
const demo = spawnSync(BINARY, ['demo', '--output', 'json'], { env: { PATH: '/usr/bin:/bin', HOME: tmpdir() } });
const report = demo.stdout.toString();
if (!report.startsWith('{')) throw new Error(`irsa-doctor demo printed no report: ${demo.stderr.toString()}`);

function members(n: number, real: boolean): FleetMember[] {
  const scenarios = ['healthy-irsa', 'healthy-pod-identity', 'trust-sub-mismatch', 'sts-region-disabled'] as const;
  return Array.from({ length: n }, (_, i) => ({
    namespace: `team-${String(Math.floor(i / 10)).padStart(3, '0')}`,
    serviceAccount: `app-${String(i).padStart(4, '0')}`,
    scenario: real ? (scenarios[i % scenarios.length] ?? 'healthy-irsa') : 'healthy-irsa',
  }));
}

function run(home: string, kubeconfig: string, args: string[]) {
  return new Promise<{ ms: number; code: number | null; rssKiB?: number; stderr: string }>((resolve) => {
    const started = process.hrtime.bigint();
    const timeFile = path.join(home, 'time.txt');
    const [command, argv] = GNU_TIME ? [GNU_TIME, ['-v', '-o', timeFile, BINARY, ...args]] : [BINARY, args];
    const child = spawn(command, argv, {
      env: { PATH: '/usr/bin:/bin', HOME: home, KUBECONFIG: kubeconfig, IRSA_DOCTOR_FLEET_STATS: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => {
      const stats = GNU_TIME && existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stats)?.[1];
      resolve({
        ms: Number(process.hrtime.bigint() - started) / 1e6,
        code,
        stderr,
        ...(rss ? { rssKiB: Number(rss) } : {}),
      });
    });
  });
}

console.log(
  `irsa-doctor fleet benchmark (${new Date().toISOString()}; --output ${output}; kubelet: ${realUpTo > 0 ? `real up to ${realUpTo} SAs, fast above` : 'fast mode'})`,
);
console.log(
  'SAs    namespaces  mode         parallel  kubelet  wall      peak RSS   API requests  per SA  retries  exit',
);
for (const n of sizes) {
  const real = n <= realUpTo;
  const world = await startFleetWorld({
    doctor: { command: BINARY, args: [] },
    members: members(n, real),
    rbac: 'cluster',
    ...(real ? {} : { fast: { report: () => ({ output: report, exitCode: 0 }) } }),
  });
  const home = mkdtempSync(path.join(tmpdir(), 'irsa-bench-fleet-'));
  const kubeconfig = path.join(home, 'kubeconfig');
  writeFileSync(kubeconfig, world.kubeconfig('user'));
  try {
    for (const mode of [...parallels.map((p) => ({ label: 'jobs', p })), { label: 'static', p: 0 }]) {
      const before = world.api.requestsBy.length;
      const args = [
        'fleet',
        '-A',
        '--output',
        output,
        ...(mode.label === 'static' ? ['--static'] : ['--parallel', String(mode.p)]),
      ];
      const result = await run(home, kubeconfig, args);
      // The fleet's own requests (its user's), apart from those of the doctors in the Jobs (their ServiceAccounts').
      const made = world.api.requestsBy.slice(before);
      const requests = made.filter((r) => r.user === LAUNCHER_USER).length;
      const doctors = made.length - requests;
      const retries = /retries=(\d+)/.exec(result.stderr)?.[1] ?? '?';
      const namespaces = new Set(world.members.map((m) => m.namespace)).size;
      console.log(
        [
          String(n).padEnd(6),
          String(namespaces).padEnd(11),
          mode.label.padEnd(12),
          (mode.label === 'static' ? '-' : String(mode.p)).padEnd(9),
          (real ? 'real' : 'fast').padEnd(8),
          `${(result.ms / 1000).toFixed(1)} s`.padEnd(9),
          (result.rssKiB ? `${(result.rssKiB / 1024).toFixed(0)} MiB` : '?').padEnd(10),
          String(requests).padEnd(13),
          (requests / n).toFixed(1).padEnd(7),
          retries.padEnd(8),
          String(result.code),
          doctors > 0 ? `(+${doctors} by the doctors)` : '',
        ].join(' '),
      );
      const left = world.leftovers();
      if (left.length > 0)
        console.log(`  left behind: ${left.slice(0, 5).join(', ')}${left.length > 5 ? ', ...' : ''}`);
    }
  } finally {
    await world.close();
    rmSync(home, { recursive: true, force: true });
  }
}
