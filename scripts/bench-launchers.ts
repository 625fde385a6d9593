/*
 * Benchmark of `irsa-doctor pod` and `irsa-doctor job` (npm run bench:launchers; not a test): the time from the
 * command to the verdict against the simulated cluster, and the API requests each run makes, the launcher's own
 * and those of the doctor it starts (its Kubernetes checks, as the pod's ServiceAccount). Beside them the doctor
 * exec'd in the app's container directly: what the launcher adds on top of the diagnosis itself.
 *
 * Runs the built binary (dist/irsa-doctor) as the launcher, and the simulated kubelet runs it as the containers.
 *   bun scripts/bench-launchers.ts [RUNS] [SCENARIO]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLaunchWorld } from '../src/sim/launch-world';
import type { ScenarioName } from '../src/sim/index';

const BINARY = path.resolve(import.meta.dirname, '../dist/irsa-doctor');
if (!existsSync(BINARY)) {
  console.error('dist/irsa-doctor is missing: npm run build first');
  process.exit(2);
}
const runs = Number(process.argv[2] ?? 10);
const scenario = (process.argv[3] ?? 'healthy-irsa') as ScenarioName;

const world = await startLaunchWorld({ scenario, doctor: { command: BINARY, args: [] } });
const home = mkdtempSync(path.join(tmpdir(), 'irsa-bench-launch-'));
const kubeconfig = path.join(home, 'kubeconfig');
writeFileSync(kubeconfig, world.kubeconfig('user'));
const { namespace, pod, serviceAccount } = world;

/** GNU time for the launcher's peak RSS, when there is one (its own start-up adds a millisecond or two). */
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function launch(args: string[]): Promise<{ ms: number; code: number | null; rssKiB?: number }> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    // GNU time writes to a file (-o): its report then never mixes with, or waits on, the launcher's stderr.
    const report = path.join(home, 'time.txt');
    const [command, argv] = GNU_TIME ? [GNU_TIME, ['-v', '-o', report, BINARY, ...args]] : [BINARY, args];
    const child = spawn(command, argv, {
      env: { PATH: '/usr/bin:/bin', HOME: home, KUBECONFIG: kubeconfig },
      stdio: 'ignore',
    });
    child.on('close', (code) => {
      const stats = GNU_TIME && existsSync(report) ? readFileSync(report, 'utf8') : '';
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stats)?.[1];
      resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, code, ...(rss ? { rssKiB: Number(rss) } : {}) });
    });
  });
}

interface Row {
  readonly name: string;
  readonly ms: number[];
  readonly codes: Set<number | null>;
  readonly launcher: number[];
  readonly doctor: number[];
  readonly kinds: Map<string, number>;
  readonly rssKiB: number[];
}

/** "POST selfsubjectaccessreviews", "GET pods (watch)", ... for the breakdown. */
function kindOf(request: string): string {
  const [method = '', target = ''] = request.split(' ');
  const url = new URL(target, 'https://x');
  const parts = url.pathname.split('/').filter(Boolean);
  const ns = parts.indexOf('namespaces');
  const resource = ns >= 0 && parts.length > ns + 2 ? parts.slice(ns + 2) : parts.slice(parts[0] === 'api' ? 2 : 3);
  const [kind = '', name, sub] = resource;
  const what = sub ? `${kind}/${sub}` : kind;
  const watch =
    url.searchParams.get('watch') === 'true'
      ? ' (watch)'
      : url.searchParams.get('follow') === 'true'
        ? ' (follow)'
        : '';
  return `${method} ${what}${name && !sub ? ' NAME' : ''}${watch}`;
}

async function measure(
  name: string,
  once: () => Promise<{ ms: number; code: number | null; rssKiB?: number }>,
): Promise<Row> {
  const row: Row = { name, ms: [], codes: new Set(), launcher: [], doctor: [], kinds: new Map(), rssKiB: [] };
  await once(); // warm-up: page cache, the image's hard link, the TLS session
  for (let i = 0; i < runs; i++) {
    const before = world.api.requestsBy.length;
    const { ms, code, rssKiB } = await once();
    if (rssKiB !== undefined) row.rssKiB.push(rssKiB);
    // Requests of a run end with it, but the last status writes may land a moment later.
    await new Promise((r) => setTimeout(r, 50));
    const made = world.api.requestsBy.slice(before);
    const launcher = made.filter((r) => r.user === 'alice@example.com');
    row.ms.push(ms);
    row.codes.add(code);
    row.launcher.push(launcher.length);
    row.doctor.push(made.length - launcher.length);
    if (i === 0)
      for (const r of launcher) row.kinds.set(kindOf(r.request), (row.kinds.get(kindOf(r.request)) ?? 0) + 1);
  }
  return row;
}

const rows = [
  await measure('irsa-doctor pod', () => launch(['pod', pod, '-n', namespace, '--output', 'json'])),
  await measure('irsa-doctor job', () =>
    launch(['job', '--service-account', serviceAccount, '-n', namespace, '--output', 'json']),
  ),
  await measure('doctor in the app container (exec)', async () => {
    const started = process.hrtime.bigint();
    const run = await world.kubelet.exec(namespace, pod, world.container, ['--output', 'json']);
    return { ms: Number(process.hrtime.bigint() - started) / 1e6, code: run.code };
  }),
];

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
console.log(
  `irsa-doctor launchers against the simulated cluster: scenario ${scenario}, ${runs} runs each after a warm-up`,
);
console.log(
  `kubelet: ${world.kubelet.isolation.mode}${world.kubelet.isolation.reason ? ` (${world.kubelet.isolation.reason})` : ''}; machine: ${process.platform}/${process.arch}`,
);
console.log('');
console.log(
  `${'command'.padEnd(38)}${'median'.padStart(9)}${'min'.padStart(9)}${'max'.padStart(9)}  exit  API requests: launcher / doctor in the pod  launcher peak RSS`,
);
for (const row of rows) {
  const rss = row.rssKiB.length > 0 ? `${(median(row.rssKiB) / 1024).toFixed(1)} MiB (median, GNU time)` : '-';
  console.log(
    `${row.name.padEnd(38)}${fmt(median(row.ms)).padStart(9)}${fmt(Math.min(...row.ms)).padStart(9)}${fmt(Math.max(...row.ms)).padStart(9)}  ${[...row.codes].join(',').padEnd(4)}  ${`${median(row.launcher)} / ${median(row.doctor)}`.padEnd(43)}  ${rss}`,
  );
}
for (const row of rows.slice(0, 2)) {
  console.log(`\n${row.name}, the launcher's requests of one run:`);
  for (const [kind, count] of row.kinds) console.log(`  ${String(count).padStart(2)} × ${kind}`);
}
await world.close();
rmSync(home, { recursive: true, force: true });
