import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetRbacYaml } from '../../src/fleet/rbac';
import type { KObject } from '../../src/sim/cluster';
import type { FleetWorld } from '../../src/sim/fleet-world';
import { MIXED_FLEET, MIXED_FORBIDDEN, MIXED_READ_ONLY, startFleetWorld } from '../../src/sim/fleet-world';
import { SIM_CLUSTER } from '../../src/sim/index';
import { LAUNCHER_USER } from '../../src/sim/launch-world';
import { BINARY, runBinary } from '../helpers/binary';
import { processesUnder } from '../helpers/launch';
import { expectValidFleet } from '../helpers/reports';

/*
 * `irsa-doctor fleet` end to end: the built binary against the simulated cluster over TLS (sim/fleet-world.ts),
 * whose kubelet runs the same binary as each Job. The mixed cluster holds a healthy IRSA and a healthy Pod
 * Identity ServiceAccount, one for each broken demo scenario, the static cases and a namespace the user may not
 * read; the EKS API's Pod Identity associations come from a loopback endpoint reached through
 * AWS_ENDPOINT_URL_EKS, as the SDK reads it.
 *
 * The expected rows follow from the scenarios (sim/index.ts) and the webhook's semantics, not from a run:
 * a Job is a NEW pod of the ServiceAccount, so it shows what the ServiceAccount, the role, the issuer and the
 * node give (test/e2e/launchers.test.ts: JOB_DIFFERS), and the static findings add what only the running pods
 * show (hand-set keys, a pod older than its annotation, a skipped sidecar); the row's verdict is the worse.
 */

const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));

/** namespace/name -> verdict/rootCause with Jobs. */
const JOBS: Record<string, string> = {
  'shop/checkout': 'healthy/null',
  'shop/cart': 'healthy/null',
  // The webhook composed the ARN from the bare role name (--compose-role-arn): valid.
  'shop/reports': 'healthy/null',
  'payments/ledger': 'broken/TRUST_POLICY_DENIED',
  'payments/fraud': 'broken/OIDC_AUDIENCE_NOT_ALLOWED',
  'payments/refunds': 'broken/OIDC_PROVIDER_NOT_REGISTERED',
  'search/indexer': 'broken/TOKEN_EXPIRED',
  'search/crawler': 'broken/CLOCK_SKEW',
  'search/ranker': 'broken/CLOCK_SKEW',
  'search/query': 'broken/OIDC_KEYS_UNRETRIEVABLE',
  'ml/trainer': 'broken/STS_UNREACHABLE',
  'ml/scorer': 'broken/STS_REGION_DISABLED',
  // The Job is healthy (the keys are in the app's Deployment, not the ServiceAccount's); the app's pod is not.
  'ml/batch': 'broken/STATIC_CREDENTIALS_OVERRIDE',
  'ml/notebook': 'broken/STS_UNREACHABLE',
  'media/thumbs': 'broken/POD_IDENTITY_ACCESS_DENIED',
  // The association was deleted after the app pod started: a new pod is not mutated at all, so the Job sees
  // only "no mechanism"; the EKS API (--cluster) says why, and that is the cause, not a missing IRSA annotation.
  'media/encoder': 'broken/POD_IDENTITY_NO_ASSOCIATION',
  'media/uploader': 'broken/EKS_AUTH_UNREACHABLE',
  'media/player': 'broken/POD_IDENTITY_AGENT_UNREACHABLE',
  // A new pod is fine; the running one predates the annotation.
  'ops/late': 'broken/SA_ROLE_CHANGED_RESTART_NEEDED',
  'ops/sidecars': 'degraded/CONTAINER_NOT_INJECTED',
  'ops/typo': 'broken/ROLE_ARN_INVALID',
  // Pod Identity wins over the annotation (docs/mechanics.md 1.3): it works, with the warning.
  'ops/both': 'degraded/BOTH_MECHANISMS_CONFIGURED',
  // Listed, but the user may not create Jobs there: the row says so (and what to grant).
  'audit/reader': 'forbidden/null',
};

/** Without --cluster the associations are not consulted: for encoder only its Job's answer is known. */
const JOBS_WITHOUT_ASSOCIATIONS: Record<string, string> = {
  ...JOBS,
  'media/encoder': 'broken/SA_ANNOTATION_MISSING',
};

/** With --static: only what the API shows; an AWS-side fault is invisible there ("not verified"). */
const STATIC: Record<string, string> = {
  ...Object.fromEntries(Object.keys(JOBS).map((k) => [k, 'not-verified/null'])),
  // --static needs no Job, so no permission for them.
  'ml/batch': 'broken/STATIC_CREDENTIALS_OVERRIDE',
  'media/encoder': 'broken/POD_IDENTITY_NO_ASSOCIATION',
  'ops/late': 'broken/SA_ROLE_CHANGED_RESTART_NEEDED',
  'ops/sidecars': 'degraded/CONTAINER_NOT_INJECTED',
  'ops/typo': 'broken/ROLE_ARN_INVALID',
  'ops/both': 'degraded/BOTH_MECHANISMS_CONFIGURED',
};

interface FleetJson {
  readonly summary: { readonly exitCode: number; readonly forbiddenNamespaces: number };
  readonly discovery: { readonly podIdentityAssociations: { consulted: boolean; count?: number; reason?: string } };
  readonly forbiddenNamespaces: readonly { namespace: string; message: string; fix: string[] }[];
  readonly serviceAccounts: readonly {
    namespace: string;
    name: string;
    mechanism: string;
    verdict: string;
    rootCause: { code: string } | null;
    report: unknown;
    failure: { kind: string; message: string; fix: string[] } | null;
  }[];
}

function rowsOf(json: FleetJson): Record<string, string> {
  return Object.fromEntries(
    json.serviceAccounts.map((r) => [`${r.namespace}/${r.name}`, `${r.verdict}/${r.rootCause?.code ?? null}`]),
  );
}

/** A loopback stand-in for the EKS API's ListPodIdentityAssociations (REST-JSON, as client-eks calls it). */
async function startEks(world: () => FleetWorld): Promise<{ url: string; calls: string[]; close(): Promise<void> }> {
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    calls.push(`${req.method} ${url.pathname}`);
    const match = /^\/clusters\/([^/]+)\/pod-identity-associations$/.exec(url.pathname);
    if (match?.[1] === 'denied') {
      res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'AccessDeniedException' });
      res.end(
        JSON.stringify({
          message:
            'User: arn:aws:iam::111122223333:user/x is not authorized to perform: eks:ListPodIdentityAssociations',
        }),
      );
      return;
    }
    if (!match || match[1] !== SIM_CLUSTER) {
      res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' });
      res.end(JSON.stringify({ message: `No cluster found for name: ${match?.[1]}.` }));
      return;
    }
    const ns = url.searchParams.get('namespace');
    const associations = world()
      .associations()
      .filter((a) => ns === null || a.namespace === ns)
      .map((a) => ({
        clusterName: SIM_CLUSTER,
        namespace: a.namespace,
        serviceAccount: a.serviceAccount,
        associationId: a.associationId,
        associationArn: `arn:aws:eks:us-west-2:111122223333:podidentityassociation/${SIM_CLUSTER}/${a.associationId}`,
      }));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ associations }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let world: FleetWorld;
let eks: Awaited<ReturnType<typeof startEks>>;
let home: string;
let kubeconfig: string;
let env: Record<string, string>;

beforeAll(async () => {
  if (!existsSync(BINARY)) return;
  world = await startFleetWorld({
    doctor: { command: BINARY, args: [] },
    members: MIXED_FLEET,
    forbiddenNamespaces: MIXED_FORBIDDEN,
    readOnlyNamespaces: MIXED_READ_ONLY,
    rbac: 'namespaces',
  });
  eks = await startEks(() => world);
  home = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-fleet-'));
  kubeconfig = path.join(home, 'kubeconfig');
  writeFileSync(kubeconfig, world.kubeconfig('user'), { mode: 0o600 });
  env = {
    PATH: '/usr/bin:/bin',
    HOME: home,
    KUBECONFIG: kubeconfig,
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    AWS_REGION: 'us-west-2',
    AWS_ENDPOINT_URL_EKS: eks.url,
  };
}, 120_000);

afterAll(async () => {
  if (!world) return;
  const workDir = world.kubelet.workDir;
  await world.close();
  await eks.close();
  rmSync(home, { recursive: true, force: true });
  expect(processesUnder(workDir)).toEqual([]);
  expect(existsSync(workDir)).toBe(false);
});

describe.skipIf(!existsSync(BINARY))('irsa-doctor fleet against a mixed simulated cluster', () => {
  it(
    'JSON: the right row for every ServiceAccount, the forbidden namespace, every report valid, exit 1, no Job left',
    { timeout: 300_000 },
    async () => {
      const run = await runBinary(
        ['fleet', '-A', '--cluster', SIM_CLUSTER, '--parallel', '6', '--output', 'json'],
        env,
        280_000,
      );
      const json = JSON.parse(run.stdout) as FleetJson;
      expectValidFleet(json);
      expect(rowsOf(json)).toEqual(JOBS);
      // encoder's Job pod got no mechanism; its workloads run with Pod Identity, and the row says so.
      expect(json.serviceAccounts.find((r) => r.name === 'encoder')?.mechanism).toBe('pod-identity');
      expect(json.serviceAccounts.filter((r) => r.report === null).map((r) => r.name)).toEqual(['reader']);
      // node-role-fallback's ServiceAccount is not annotated and its pod was never mutated: not a target.
      expect(Object.keys(rowsOf(json))).not.toContain('legacy/worker');
      expect(json.forbiddenNamespaces.map((n) => n.namespace)).toEqual(['vault']);
      expect(json.forbiddenNamespaces[0]?.message).toContain(
        `user ${LAUNCHER_USER} may not list serviceaccounts (find the ServiceAccounts to diagnose)`,
      );
      expect(json.discovery.podIdentityAssociations).toEqual({ consulted: true, count: 5 });
      expect(eks.calls.length).toBeGreaterThan(0);
      const reader = (
        json.serviceAccounts as readonly {
          name: string;
          failure: { kind: string; message: string; fix: string[] } | null;
        }[]
      ).find((r) => r.name === 'reader');
      expect(reader?.failure?.kind).toBe('forbidden');
      expect(reader?.failure?.message).toContain(
        `user ${LAUNCHER_USER} may not create jobs.batch (create the Job), delete jobs.batch (delete it afterwards)`,
      );
      expect(reader?.failure?.fix.join('\n')).toContain(
        'kind: RoleBinding\nmetadata:\n  name: irsa-doctor-fleet\n  namespace: audit',
      );
      expect(json.summary.exitCode).toBe(1);
      expect(run.code).toBe(1);
      expect(world.leftovers()).toEqual([]);
    },
  );

  it(
    'text: one table row per ServiceAccount with its verdict and root cause, the fixes below, exit 1',
    { timeout: 300_000 },
    async () => {
      const run = await runBinary(['fleet', '-A', '--parallel', '6', '--output', 'text'], env, 280_000);
      for (const [sa, outcome] of Object.entries(JOBS_WITHOUT_ASSOCIATIONS)) {
        const [verdict, cause] = outcome.split('/') as [string, string];
        // Without --cluster the associations are not consulted: encoder's static finding is not there, its Job is.
        const words = { healthy: 'HEALTHY', degraded: 'DEGRADED', broken: 'BROKEN', forbidden: 'FORBIDDEN' }[
          verdict
        ] as string;
        expect(run.stdout).toMatch(
          new RegExp(
            `^${sa.replace('/', '\\/')}\\s+\\S+\\s+${words}\\s+${cause === 'null' ? (verdict === 'forbidden' ? 'forbidden' : '-') : cause}\\s+\\d`,
            'm',
          ),
        );
      }
      expect(run.stdout).toMatch(/^vault\/\*\s+-\s+FORBIDDEN/m);
      // The unreadable namespace is a row of the same table: its columns start where the header's do.
      const header = run.stdout.split('\n').find((l) => l.startsWith('SERVICEACCOUNT')) ?? '';
      const vault = run.stdout.split('\n').find((l) => l.startsWith('vault/*')) ?? '';
      expect(vault.indexOf('FORBIDDEN')).toBe(header.indexOf('VERDICT'));
      expect(vault.indexOf('namespace not readable')).toBe(header.indexOf('ROOT CAUSE'));
      expect(run.stdout).toContain('ops/late: BROKEN');
      expect(run.stdout).toContain('$ kubectl rollout restart deployment/late -n ops');
      expect(run.stdout).toMatch(/Pod Identity associations \(EKS API\): not consulted: the cluster name is not known/);
      expect(run.stderr).toMatch(
        /irsa-doctor fleet: 23 ServiceAccounts to diagnose in \d+ namespaces \(1 not readable\)/,
      );
      expect(run.code).toBe(1);
      expect(world.leftovers()).toEqual([]);
    },
  );

  it(
    'the EKS associations: every reason they were not consulted is said, and the run goes on',
    { timeout: 120_000 },
    async () => {
      const reason = async (args: string[], extra: Record<string, string | undefined> = {}) => {
        const runEnv = Object.fromEntries(
          Object.entries({ ...env, ...extra }).filter(([, v]) => v !== undefined),
        ) as Record<string, string>;
        const run = await runBinary(['fleet', '-n', 'shop', '--static', '--output', 'json', ...args], runEnv);
        expect(run.code).toBe(0);
        return (JSON.parse(run.stdout) as FleetJson).discovery.podIdentityAssociations;
      };
      expect(await reason(['--cluster', SIM_CLUSTER])).toEqual({ consulted: true, count: 1 });
      expect(await reason([])).toMatchObject({
        consulted: false,
        reason: expect.stringContaining('the cluster name is not known'),
      });
      expect(
        await reason(['--cluster', SIM_CLUSTER], {
          AWS_ACCESS_KEY_ID: undefined,
          AWS_SECRET_ACCESS_KEY: undefined,
          AWS_EC2_METADATA_DISABLED: 'true',
        }),
      ).toMatchObject({ consulted: false, reason: expect.stringContaining('no AWS credentials on this machine') });
      expect(await reason(['--cluster', 'denied'])).toMatchObject({
        consulted: false,
        reason: expect.stringContaining('the EKS API refused eks:ListPodIdentityAssociations on cluster denied'),
      });
      expect(await reason(['--cluster', 'other'])).toEqual({
        consulted: false,
        reason: 'the EKS API knows no cluster other in us-west-2',
      });
    },
  );

  it('--static: what the API alone shows, no Job created, exit 1', { timeout: 120_000 }, async () => {
    const created = world.api.requests.filter((r) => r.startsWith('POST') && r.includes('/jobs')).length;
    const run = await runBinary(['fleet', '-A', '--static', '--cluster', SIM_CLUSTER, '--output', 'json'], env);
    const json = JSON.parse(run.stdout) as FleetJson;
    expectValidFleet(json);
    expect(rowsOf(json)).toEqual(STATIC);
    expect(json.serviceAccounts.every((r) => r.report === null)).toBe(true);
    expect(world.api.requests.filter((r) => r.startsWith('POST') && r.includes('/jobs')).length).toBe(created);
    expect(run.code).toBe(1);
    const text = await runBinary(['fleet', '-n', 'ops', '--static', '--output', 'text'], env);
    expect(text.stdout).toMatch(/^ops\/late\s+irsa\s+BROKEN\s+SA_ROLE_CHANGED_RESTART_NEEDED/m);
    expect(text.stdout).toMatch(/^ops\/typo\s+irsa\s+BROKEN\s+ROLE_ARN_INVALID/m);
    expect(text.stdout).toContain('--static: the API only, no Job ran');
    expect(text.code).toBe(1);
  });

  it.skipIf(!SCRIPT)(
    'TUI on a terminal: the table fills in, then the fixes; exit 1',
    { timeout: 300_000 },
    async () => {
      const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(
          SCRIPT as string,
          ['-qec', [BINARY, 'fleet', '-n', 'payments', '--parallel', '3'].map(quote).join(' '), '/dev/null'],
          { env: { ...env, TERM: 'xterm-256color' }, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.on('close', (code) => resolve({ code, out }));
      });
      // eslint-disable-next-line no-control-regex
      const plain = result.out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
      expect(plain).toContain('irsa-doctor fleet -n payments (Jobs, 3 at a time)');
      expect(plain).toMatch(/✖ payments\/ledger\s+irsa\s+BROKEN\s+TRUST_POLICY_DENIED/);
      expect(plain).toMatch(/✖ payments\/fraud\s+irsa\s+BROKEN\s+OIDC_AUDIENCE_NOT_ALLOWED/);
      expect(plain).toMatch(/✖ payments\/refunds\s+irsa\s+BROKEN\s+OIDC_PROVIDER_NOT_REGISTERED/);
      expect(plain).toContain('$ aws iam get-role --role-name shop-checkout');
      expect(plain).toContain('3 ServiceAccounts: 3 broken.');
      expect(result.code).toBe(1);
      expect(world.leftovers()).toEqual([]);
    },
  );

  it(
    'Jobs that cannot run are rows without a report, with the reason and the fix; exit 2; nothing left',
    { timeout: 120_000 },
    async () => {
      const image = 'registry.example.com/irsa-doctor:none';
      const run = await runBinary(['fleet', '-n', 'payments', '--image', image, '--output', 'json'], env, 100_000);
      const json = JSON.parse(run.stdout) as FleetJson & {
        serviceAccounts: { failure: { kind: string; message: string; fix: string[] } | null }[];
      };
      expectValidFleet(json);
      expect(rowsOf(json)).toEqual({
        'payments/fraud': 'failed/null',
        'payments/ledger': 'failed/null',
        'payments/refunds': 'failed/null',
      });
      for (const row of json.serviceAccounts) {
        expect(row.failure?.kind).toBe('image-pull');
        expect(row.failure?.message).toContain(`the image ${image} cannot be pulled`);
      }
      expect(run.code).toBe(2);
      expect(world.leftovers()).toEqual([]);
    },
  );

  it('Ctrl-C mid-run: exit 130, every Job it created deleted, nothing left', { timeout: 120_000 }, async () => {
    const child = spawn(BINARY, ['fleet', '-A', '--parallel', '4', '--output', 'json'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.resume();
    let signalled = false;
    const poll = setInterval(() => {
      const running = world.cluster
        .list('pods')
        .filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'irsa-doctor');
      if (!signalled && world.cluster.list('jobs').length >= 3 && running.length >= 2) {
        signalled = true;
        child.kill('SIGINT');
      }
    }, 20);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearInterval(poll);
    expect(signalled).toBe(true);
    expect(code).toBe(130);
    expect(stderr).toContain('irsa-doctor fleet: interrupted: deleting the Jobs it created');
    expect(stderr).toMatch(/irsa-doctor fleet: interrupted: \d+ Jobs? created, none left/);
    // Deleted pods go once the kubelet has stopped their process (a few seconds at most).
    const until = Date.now() + 15_000;
    while (world.leftovers().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(world.leftovers()).toEqual([]);
  });
});

describe.skipIf(!existsSync(BINARY))('the RBAC of a fleet user (examples/rbac-fleet.yaml)', () => {
  it(
    'without it: exit 2 with the exact ClusterRole and binding to apply; with what it printed applied: it runs',
    { timeout: 180_000 },
    async () => {
      const bare = await startFleetWorld({
        doctor: { command: BINARY, args: [] },
        members: MIXED_FLEET.filter((m) => m.namespace === 'shop'),
        rbac: 'none',
      });
      const dir = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-fleet-rbac-'));
      try {
        writeFileSync(path.join(dir, 'kubeconfig'), bare.kubeconfig('user'), { mode: 0o600 });
        const runEnv = { PATH: '/usr/bin:/bin', HOME: dir, KUBECONFIG: path.join(dir, 'kubeconfig') };
        const refused = await runBinary(['fleet', '-A', '--output', 'text'], runEnv);
        expect(refused.code).toBe(2);
        expect(refused.stderr).toContain(
          `irsa-doctor fleet: user ${LAUNCHER_USER} may not list namespaces (list the namespaces of -A) in the cluster: irsa-doctor fleet needs the ClusterRole irsa-doctor-fleet`,
        );
        const yaml = fleetRbacYaml({ kind: 'User', name: LAUNCHER_USER });
        const printed = /\n {2}\$ kubectl apply -f - <<'EOF'\n([\s\S]*?)\nEOF\n/.exec(refused.stderr)?.[1];
        expect(printed).toBe(yaml.trimEnd());
        for (const item of loadAllYaml(yaml) as KObject[]) bare.cluster.create(`${item.kind.toLowerCase()}s`, item);
        const granted = await runBinary(['fleet', '-A', '--output', 'json'], runEnv, 120_000);
        const json = JSON.parse(granted.stdout) as FleetJson;
        expect(rowsOf(json)).toEqual({
          'shop/cart': 'healthy/null',
          'shop/checkout': 'healthy/null',
          'shop/reports': 'healthy/null',
        });
        expect(granted.code).toBe(0);
        expect(bare.leftovers()).toEqual([]);
      } finally {
        await bare.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe.skipIf(!existsSync(BINARY))('irsa-doctor demo fleet', () => {
  it('the mixed cluster inside the one binary: every row as expected, exit 1', { timeout: 300_000 }, async () => {
    const demoHome = mkdtempSync(path.join(tmpdir(), 'irsa-demo-fleet-'));
    try {
      const run = await runBinary(
        ['demo', 'fleet', '--output', 'json'],
        { PATH: '/usr/bin:/bin', HOME: demoHome },
        280_000,
      );
      const json = JSON.parse(run.stdout) as FleetJson;
      expectValidFleet(json);
      expect(rowsOf(json)).toEqual(JOBS);
      expect(json.discovery.podIdentityAssociations).toEqual({ consulted: true, count: 5 });
      expect(json.forbiddenNamespaces.map((n) => n.namespace)).toEqual(['vault']);
      expect(run.code).toBe(1);
    } finally {
      rmSync(demoHome, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!existsSync(BINARY))('an API server that answers 429 (API Priority and Fairness)', () => {
  async function throttled(every: number) {
    const w = await startFleetWorld({
      doctor: { command: BINARY, args: [] },
      members: MIXED_FLEET.filter((m) => m.namespace === 'shop'),
      rbac: 'cluster',
      throttle: { every, retryAfterSeconds: 0 },
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-fleet-429-'));
    writeFileSync(path.join(dir, 'kubeconfig'), w.kubeconfig('user'), { mode: 0o600 });
    const runEnv = {
      PATH: '/usr/bin:/bin',
      HOME: dir,
      KUBECONFIG: path.join(dir, 'kubeconfig'),
      IRSA_DOCTOR_FLEET_STATS: '1',
    };
    return {
      w,
      run: (args: string[]) => runBinary(args, runEnv, 120_000),
      async close() {
        await w.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  it(
    'every 4th request refused: retried within the budget, the same rows, exit 0, nothing left',
    { timeout: 180_000 },
    async () => {
      const t = await throttled(4);
      try {
        const run = await t.run(['fleet', '-n', 'shop', '--output', 'json']);
        expect(rowsOf(JSON.parse(run.stdout) as FleetJson)).toEqual({
          'shop/cart': 'healthy/null',
          'shop/checkout': 'healthy/null',
          'shop/reports': 'healthy/null',
        });
        const retries = Number(/retries=(\d+)/.exec(run.stderr)?.[1]);
        expect(retries).toBeGreaterThan(2);
        expect(run.code).toBe(0);
        expect(t.w.leftovers()).toEqual([]);
      } finally {
        await t.close();
      }
    },
  );

  it(
    'every request refused: the budget (50) is spent once, then the 429 is reported, exit 2',
    { timeout: 120_000 },
    async () => {
      const t = await throttled(1);
      try {
        const run = await t.run(['fleet', '-n', 'shop', '--output', 'text']);
        expect(run.code).toBe(2);
        expect(run.stderr).toContain('the API server answered 429: the server has received too many requests');
        expect(run.stderr).toContain('retries=50');
        expect(t.w.api.requestsBy.filter((r) => r.user === LAUNCHER_USER).length).toBe(51);
      } finally {
        await t.close();
      }
    },
  );
});
