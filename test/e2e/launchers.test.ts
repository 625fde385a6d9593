import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE } from '../../src/launch/image';
import type { ScenarioName } from '../../src/sim/index';
import { SCENARIOS } from '../../src/sim/index';
import { detectIsolation } from '../../src/sim/sandbox';
import { BINARY } from '../helpers/binary';
import type { TestWorld } from '../helpers/launch';
import { outcomeOf, parseReport, startTestWorld } from '../helpers/launch';

/*
 * `irsa-doctor pod` and `irsa-doctor job` end to end: the built binary on the "laptop" side, against the simulated
 * cluster's HTTPS API (sim/launch-world.ts), whose kubelet runs the same binary as the containers. For every demo
 * scenario, the verdict, root cause and exit code the launcher prints must be those of the doctor run in that pod
 * directly:
 * - pod: the doctor exec'd in the app's own container (same root, env, uid and gid: `kubectl exec`);
 * - job: the manual recipe run with the real kubectl (examples/job.yaml created with kubectl, its report read
 *   with `kubectl logs job/irsa-doctor`), i.e. the doctor in a Job pod of the same ServiceAccount.
 * And nothing is left behind: no Job, no pod but the app's, no container process, no process on this machine.
 */

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
const isolation = detectIsolation({ command: BINARY, args: [] });
if (isolation.mode !== 'namespaces')
  console.warn(`launchers.test.ts: the kubelet runs plain processes here (${isolation.reason})`);

function kubectl(
  world: TestWorld,
  args: string[],
  timeoutMs = 60_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      KUBECTL as string,
      ['--kubeconfig', world.adminKubeconfig, ...args],
      { env: { PATH: '/usr/bin:/bin', HOME: world.home }, encoding: 'utf8', timeout: timeoutMs },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** examples/job.yaml for the simulated cluster: its namespace, ServiceAccount and image, JSON output. */
function jobManifest(world: TestWorld): string {
  const file = path.join(world.home, 'job.yaml');
  const text = readFileSync(new URL('../../examples/job.yaml', import.meta.url), 'utf8')
    .replaceAll('my-namespace', world.world.namespace)
    .replace('serviceAccountName: my-app', `serviceAccountName: ${world.world.serviceAccount}`)
    .replace(/image: \S+/, `image: ${DEFAULT_IMAGE}`)
    .replace("args: ['--output', 'text']", "args: ['--output', 'json']");
  writeFileSync(file, text);
  return file;
}

/** The manual Job recipe with the real kubectl; returns the doctor's report and the container's exit code. */
async function manualJob(world: TestWorld): Promise<{ outcome: string; report: string }> {
  const ns = world.world.namespace;
  // The simulator serves no OpenAPI document, which kubectl's client-side validation downloads.
  const created = await kubectl(world, ['create', '--validate=false', '-f', jobManifest(world)]);
  expect(created.stderr).toBe('');
  const logs = await kubectl(world, ['logs', '-n', ns, '-f', 'job/irsa-doctor']);
  expect(logs.code, logs.stderr).toBe(0);
  const exit = await kubectl(world, [
    'get',
    'pods',
    '-n',
    ns,
    '-l',
    'job-name=irsa-doctor',
    '-o',
    'jsonpath={.items[0].status.containerStatuses[0].state.terminated.exitCode}',
  ]);
  const deleted = await kubectl(world, ['delete', 'job', '-n', ns, 'irsa-doctor', '--wait=true']);
  expect(deleted.code, deleted.stderr).toBe(0);
  return { outcome: outcomeOf(parseReport(logs.stdout), Number(exit.stdout)), report: logs.stdout };
}

interface Row {
  readonly scenario: ScenarioName;
  readonly pod: string;
  readonly podDirect: string;
  readonly job: string;
  readonly jobDirect: string;
  readonly leftovers: string[];
}

/** Every run's findings, printed when a comparison fails. */
const notes: string[] = [];

/**
 * Worlds start one at a time: a start generates the issuer's RSA key in this process, which also serves every
 * simulated endpoint, and a doctor already running in another world would see its calls stall meanwhile.
 */
let starting: Promise<unknown> = Promise.resolve();
function startSerially(scenario: ScenarioName): Promise<TestWorld> {
  const next = starting.then(() => startTestWorld({ scenario }));
  starting = next.catch(() => undefined);
  return next;
}

async function runScenario(scenario: ScenarioName): Promise<Row> {
  const world = await startSerially(scenario);
  try {
    const { namespace, pod, serviceAccount } = world.world;
    // The two runs that are compared go side by side; the pod pair and the Job pair one after the other, so
    // that no more doctors share this 2-CPU machine than the simulator in this process can serve on time.
    const [podRun, podDirect] = await Promise.all([
      world.run(['pod', pod, '-n', namespace, '--output', 'json']),
      world.world.kubelet.exec(namespace, pod, world.world.container, ['--output', 'json']),
    ]);
    const [jobRun, jobDirect] = await Promise.all([
      world.run(['job', '--service-account', serviceAccount, '-n', namespace, '--output', 'json']),
      manualJob(world),
    ]);
    const outcome = (run: { stdout: string; stderr: string; code: number | null }) => {
      try {
        const report = parseReport(run.stdout);
        const codes = [
          ...report.findings.map((f) => f.code),
          ...report.checks.filter((c) => c.status === 'error').map((c) => `${c.id}=error`),
        ].join(',');
        notes.push(`${scenario}: ${outcomeOf(report, run.code)} [${codes}]`);
        return outcomeOf(report, run.code);
      } catch {
        return `no report (exit ${run.code}): ${run.stderr.slice(-700)}`;
      }
    };
    return {
      scenario,
      pod: outcome(podRun),
      podDirect: outcome(podDirect),
      job: outcome(jobRun),
      jobDirect: jobDirect.outcome,
      leftovers: world.leftovers(),
    };
  } finally {
    await world.close();
  }
}

/** The root cause a pod of the scenario gets when the cluster's API is there too (the demo scenarios' own
 * expectation is for the doctor without Kubernetes API access). */
const WITH_KUBE_API: Partial<Record<ScenarioName, string>> = {
  // The API shows why the env is missing: the ServiceAccount was never annotated (kube stage comes first).
  'node-role-fallback': 'SA_ANNOTATION_MISSING',
};

/**
 * Where a new pod of the ServiceAccount (the Job's) differs from the app's running pod, and why. Everything else
 * is a property of the ServiceAccount, the role, the issuer or the node, which both share.
 */
const JOB_DIFFERS: Partial<Record<ScenarioName, { outcome: string; why: string }>> = {
  'static-keys-override': {
    outcome: 'healthy/null/0',
    why: "the static keys are hand-set in the app's Deployment, not something the ServiceAccount gives a new pod",
  },
  'pod-identity-no-association': {
    outcome: 'broken/SA_ANNOTATION_MISSING/1',
    why: 'the association was deleted after the app pod was created: a new pod is not mutated at all (docs/mechanics.md 1.3, 1.5)',
  },
};

describe.skipIf(!existsSync(BINARY) || !KUBECTL)(
  'irsa-doctor pod and job against the simulated cluster, every demo scenario',
  () => {
    it(
      'carry the verdict, root cause and exit code of the doctor run in the pod directly, and leave nothing behind',
      { timeout: 600_000 },
      async () => {
        const rows: Row[] = [];
        const queue = [...SCENARIOS.map((s) => s.name)];
        // Two scenarios at once: the black-holed ones spend their time waiting, not computing.
        await Promise.all(
          Array.from({ length: 2 }, async () => {
            for (let next = queue.shift(); next !== undefined; next = queue.shift()) rows.push(await runScenario(next));
          }),
        );
        const problems: string[] = [];
        for (const row of rows.sort((a, b) => a.scenario.localeCompare(b.scenario))) {
          const expected = SCENARIOS.find((s) => s.name === row.scenario)?.expect;
          const scenarioOutcome = `${expected?.verdict}/${WITH_KUBE_API[row.scenario] ?? expected?.rootCause}/${expected?.exitCode}`;
          if (row.pod !== row.podDirect)
            problems.push(`${row.scenario}: pod ${row.pod}, directly in the pod ${row.podDirect}`);
          if (row.podDirect !== scenarioOutcome)
            problems.push(
              `${row.scenario}: directly in the pod ${row.podDirect}, the scenario says ${scenarioOutcome}`,
            );
          if (row.job !== row.jobDirect)
            problems.push(`${row.scenario}: job ${row.job}, kubectl's Job ${row.jobDirect}`);
          const jobExpected = JOB_DIFFERS[row.scenario]?.outcome ?? scenarioOutcome;
          if (row.jobDirect !== jobExpected)
            problems.push(`${row.scenario}: kubectl's Job ${row.jobDirect}, expected ${jobExpected}`);
          if (row.leftovers.length > 0) problems.push(`${row.scenario}: left behind ${row.leftovers.join(', ')}`);
        }
        expect(rows).toHaveLength(SCENARIOS.length);
        if (problems.length > 0) console.warn(notes.join('\n'));
        expect(problems).toEqual([]);
      },
    );
  },
);

/**
 * What a machine without root gets (and macOS, through the npm bundle): the kubelet runs plain processes. The
 * launcher's path is the same; the verdicts must be too.
 */
describe.skipIf(!existsSync(BINARY))('with the kubelet running plain processes', () => {
  it.each([
    ['healthy-irsa', 'healthy/null/0'],
    ['trust-sub-mismatch', 'broken/TRUST_POLICY_DENIED/1'],
  ] as const)('%s: pod and job give %s and leave nothing behind', { timeout: 60_000 }, async (scenario, expected) => {
    const world = await startTestWorld({ scenario, isolation: 'processes' });
    try {
      const { namespace, pod, serviceAccount } = world.world;
      const podRun = await world.run(['pod', pod, '-n', namespace, '--output', 'json']);
      const jobRun = await world.run(['job', '--service-account', serviceAccount, '-n', namespace, '--output', 'json']);
      expect(outcomeOf(parseReport(podRun.stdout), podRun.code)).toBe(expected);
      expect(outcomeOf(parseReport(jobRun.stdout), jobRun.code)).toBe(expected);
      expect(world.leftovers()).toEqual([]);
    } finally {
      await world.close();
    }
  });
});
