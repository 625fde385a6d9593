import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BinaryRun } from '../helpers/binary';
import { BINARY, runBinary } from '../helpers/binary';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedEksOptions } from '../../src/sim/index';
import {
  SIM_NAMESPACE,
  SIM_POD,
  SIM_REGION,
  SIM_ROLE_ARN,
  SIM_SERVICE_ACCOUNT,
  materialize,
  startSimulatedEks,
} from '../../src/sim/index';
import type { KubeApiServer } from '../../src/sim/kube-api';
import { ISSUER_ID } from '../../src/sim/oidc';
import { kubeScenario, startKubeApi } from '../../src/sim/kube-api';
import type { Fault, FaultOptions, FaultServer } from '../helpers/fault-server';
import { FAULTS, startFaultServer } from '../helpers/fault-server';
import { parseReport, expectValidListChecks } from '../helpers/reports';

/*
 * Issue 6, faulty endpoints: every endpoint the tool calls, each with every fault, through the built binary.
 * One endpoint at a time goes wrong; the simulated EKS provides the healthy peers. Each cell asserts the
 * finding (or its absence) and status of that endpoint's check, the verdict, that the run ends within
 * --timeout + 1 s, and that every other check still ran and reached its healthy status.
 */

const PATH_ONLY = { PATH: '/usr/bin:/bin' };
const TIMEOUT_MS = 3_000;
// 4 at once: on a 2-CPU runner that also runs other test files, 6 binaries left only ~0.5 s of the 1 s margin.
const BATCH = 4;
const STAGGER_MS = 150;

type Endpoint = 'discovery' | 'jwks' | 'sts' | 'imds' | 'agent' | 'kube';
type Status = 'pass' | 'warn' | 'fail' | 'skip' | 'error';
type Verdict = 'healthy' | 'degraded' | 'broken';

interface Report {
  verdict: Verdict;
  rootCause: { code: string } | null;
  findings: { code: string; severity: string; checkId: string; summary: string }[];
  checks: { id: string; status: Status; summary: string }[];
}

/** How each endpoint is faulted: what the real one sends, and which check calls it. */
const ENDPOINTS: Record<Endpoint, { readonly check: string; readonly fault: Omit<FaultOptions, 'slowMs'> }> = {
  discovery: {
    check: 'issuer.discovery',
    fault: {
      contentType: 'application/json',
      sample: '{"issuer":"http://127.0.0.1/id/EXAMPLE","jwks_uri":"http://127.0.0.1/id/EXAMPLE/keys"}',
    },
  },
  jwks: {
    check: 'issuer.discovery',
    fault: { contentType: 'application/json', sample: '{"keys":[{"kty":"RSA","alg":"RS256","use":"sig","kid":"k1"}]}' },
  },
  sts: {
    check: 'sts.assume-role',
    fault: {
      contentType: 'text/xml',
      sample:
        '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <AssumeRoleWithWebIdentityResult>\n',
    },
  },
  imds: { check: 'identity.imds', fault: { contentType: 'text/plain', sample: 'eks-demo-NodeInstanceRole\n' } },
  agent: {
    check: 'pod-identity.agent',
    fault: { contentType: 'application/json', sample: '{"AccessKeyId":"ASIAEXAMPLEEXAMPLE12","AccountId":"1111' },
  },
  kube: {
    check: 'kube.pod',
    fault: { contentType: 'application/json', sample: '{"kind":"Pod","apiVersion":"v1","metadata":{"name":"checkout' },
  },
};

/**
 * The matrix, one row per cell: what the endpoint's own check reports for the fault, in the user's terms.
 * The summary pattern is the start of what the user reads first; HOST stands for 127.0.0.1:PORT.
 * A finding code of null: the check reports none. IMDS that gives the pod nothing is what IRSA wants; a
 * Kubernetes API that cannot be read leaves its checks `error` (could not run; the diagnosis does not need
 * them). The pod's side of the issuer is only a warning: STS fetches the keys from the AWS side (docs/mechanics.md 3.1).
 */
type Row = readonly [Endpoint, Fault, Status, string | null, Verdict, string];

const TIMED_OUT = 'HOST accepted the connection but did not send a complete answer within the timeout';
const CUT = String.raw`HOST closed the connection before its answer was complete \(got \d+ of \d+ bytes\): a proxy or middlebox in between`;
const NOT_STS = 'not an STS answer from http://HOST: HTTP';
const OIDC = 'OIDC_DISCOVERY_UNREACHABLE';
const ISSUER = String.raw`issuer not reachable from this pod \(`;
const JWKS = String.raw`the issuer's JWKS not reachable from this pod \(`;
const AGENT_NONE = 'no answer from the Pod Identity agent: ';
const POD = String.raw`Kubernetes API: pod shop/\S+: `;

// One line per cell, as a table reads.
// prettier-ignore
const MATRIX: readonly Row[] = [
  ['discovery', 'refused', 'warn', OIDC, 'degraded', String.raw`${ISSUER}connection refused by HOST \(nothing listens there\)\)`],
  ['discovery', 'blackhole', 'warn', OIDC, 'degraded', `${ISSUER}${TIMED_OUT}\\)`],
  ['discovery', 'slow', 'warn', OIDC, 'degraded', `${ISSUER}${TIMED_OUT}\\)`],
  ['discovery', 'http-500', 'warn', OIDC, 'degraded', `${ISSUER}HOST answered HTTP 500\\)`],
  ['discovery', 'wrong-content-type', 'warn', OIDC, 'degraded', `${ISSUER}HOST answered HTTP 200 with text/html that is not JSON\\)`],
  ['discovery', 'truncated', 'warn', OIDC, 'degraded', `${ISSUER}${CUT}`],
  ['discovery', 'garbage', 'warn', OIDC, 'degraded', `${ISSUER}HOST answered HTTP 200 with application/json that is not JSON\\)`],
  // A jwks_uri on another port than the issuer's is never fetched: the refused port is not even tried.
  ['jwks', 'refused', 'warn', 'OIDC_URL_NOT_FETCHED', 'degraded', String.raw`the issuer's jwks_uri not fetched: it names another port \(\d+\) of the issuer's host than the issuer's \(\d+\)$`],
  ['jwks', 'blackhole', 'warn', OIDC, 'degraded', `${JWKS}${TIMED_OUT}\\)`],
  ['jwks', 'slow', 'warn', OIDC, 'degraded', `${JWKS}${TIMED_OUT}\\)`],
  ['jwks', 'http-500', 'warn', OIDC, 'degraded', `${JWKS}HOST answered HTTP 500\\)`],
  ['jwks', 'wrong-content-type', 'warn', OIDC, 'degraded', `${JWKS}HOST answered HTTP 200 with text/html that is not JSON\\)`],
  ['jwks', 'truncated', 'warn', OIDC, 'degraded', `${JWKS}${CUT}`],
  ['jwks', 'garbage', 'warn', OIDC, 'degraded', `${JWKS}HOST answered HTTP 200 with application/json that is not JSON\\)`],
  ['sts', 'refused', 'fail', 'STS_UNREACHABLE', 'broken', String.raw`STS unreachable: connection refused by HOST \(nothing listens there\)$`],
  ['sts', 'blackhole', 'fail', 'STS_UNREACHABLE', 'broken', `STS unreachable: ${TIMED_OUT}$`],
  ['sts', 'slow', 'fail', 'STS_UNREACHABLE', 'broken', `STS unreachable: ${TIMED_OUT}$`],
  ['sts', 'http-500', 'fail', 'STS_ERROR', 'broken', `${NOT_STS} 500 text/plain "Internal Server Error"$`],
  ['sts', 'wrong-content-type', 'fail', 'STS_ERROR', 'broken', `${NOT_STS} 200 text/html "<!DOCTYPE html>`],
  ['sts', 'truncated', 'fail', 'STS_UNREACHABLE', 'broken', `STS unreachable: ${CUT}`],
  ['sts', 'garbage', 'fail', 'STS_ERROR', 'broken', String.raw`${NOT_STS} 200 text/xml "\.\.\[2J`],
  ['imds', 'refused', 'pass', null, 'healthy', String.raw`IMDS not reachable from this pod \(connection refused by HOST`],
  ['imds', 'blackhole', 'pass', null, 'healthy', String.raw`IMDS blocked for pods \(hop limit 1 or no route\): good \(the IMDSv2 token PUT timed out and IMDSv1 ${TIMED_OUT}\)$`],
  ['imds', 'slow', 'pass', null, 'healthy', String.raw`IMDS blocked for pods \(hop limit 1 or no route\): good \(the IMDSv2 token PUT timed out and IMDSv1 ${TIMED_OUT}\)$`],
  ['imds', 'http-500', 'pass', null, 'healthy', String.raw`IMDS not reachable from this pod \(IMDS answered HTTP 500 for the role name\)$`],
  ['imds', 'wrong-content-type', 'pass', null, 'healthy', String.raw`IMDS not reachable from this pod \(the IMDSv2 token request got HTTP 200 \(text/html\) with a body that is not a token: something other than IMDS answers at http://HOST\)$`],
  ['imds', 'truncated', 'pass', null, 'healthy', String.raw`IMDS not reachable from this pod \(${CUT}`],
  ['imds', 'garbage', 'pass', null, 'healthy', String.raw`IMDS not reachable from this pod \(the IMDSv2 token request got HTTP 200 \(text/plain\) with a body that is not a token: something other than IMDS answers at http://HOST\)$`],
  ['agent', 'refused', 'fail', 'POD_IDENTITY_AGENT_UNREACHABLE', 'broken', String.raw`${AGENT_NONE}connection refused by HOST \(nothing listens there\)$`],
  ['agent', 'blackhole', 'fail', 'POD_IDENTITY_AGENT_UNREACHABLE', 'broken', `${AGENT_NONE}${TIMED_OUT}$`],
  ['agent', 'slow', 'fail', 'POD_IDENTITY_AGENT_UNREACHABLE', 'broken', `${AGENT_NONE}${TIMED_OUT}$`],
  ['agent', 'http-500', 'fail', 'STS_ERROR', 'broken', 'the agent refused: HTTP 500$'],
  ['agent', 'wrong-content-type', 'fail', 'STS_ERROR', 'broken', 'the agent answered HTTP 200 without credentials$'],
  ['agent', 'truncated', 'fail', 'POD_IDENTITY_AGENT_UNREACHABLE', 'broken', `${AGENT_NONE}${CUT}`],
  ['agent', 'garbage', 'fail', 'STS_ERROR', 'broken', 'the agent answered HTTP 200 without credentials$'],
  ['kube', 'refused', 'error', null, 'degraded', String.raw`${POD}cannot reach the API server \(ECONNREFUSED\)$`],
  ['kube', 'blackhole', 'error', null, 'degraded', `${POD}no answer within 2500 ms$`],
  ['kube', 'slow', 'error', null, 'degraded', `${POD}no answer within 2500 ms$`],
  ['kube', 'http-500', 'error', null, 'degraded', `${POD}HTTP 500: Internal Server Error$`],
  ['kube', 'wrong-content-type', 'error', null, 'degraded', `${POD}HTTP 200 with text/html, not JSON: something other than the Kubernetes API answers at http://HOST `],
  ['kube', 'truncated', 'error', null, 'degraded', String.raw`${POD}the API server closed the connection after \d+ of \d+ bytes: its answer was cut short`],
  ['kube', 'garbage', 'error', null, 'degraded', `${POD}the API server's answer is not valid JSON$`],
];

/** A row's summary pattern as a RegExp anchored at the start. */
function says(pattern: string): RegExp {
  return new RegExp(`^${pattern.replaceAll('HOST', String.raw`127\.0\.0\.1:\d+`)}`);
}

/** Checks other than the endpoint's own that its fault changes, and to what; every other check stays healthy. */
function dependents(endpoint: Endpoint, fault: Fault): Record<string, Status> {
  switch (endpoint) {
    case 'sts':
      // The app's identity is the web identity result; the TCP probe only sees a port nobody listens on.
      return { 'identity.caller': 'skip', 'sts.endpoints': fault === 'refused' ? 'warn' : 'pass' };
    case 'agent':
      return { 'identity.caller': 'skip' };
    case 'kube':
      // The webhook read fails the same way; the ServiceAccount check needs the pod.
      return { 'kube.webhook': 'error', 'kube.serviceaccount': 'skip' };
    default:
      return {};
  }
}

const KUBE_CHECKS = ['kube.pod', 'kube.webhook', 'kube.serviceaccount'];

interface Cell {
  readonly endpoint: Endpoint;
  readonly fault: Fault | null;
  readonly run: BinaryRun;
  readonly report: Report;
  readonly hits: number;
}

/** One cell, its servers started and its files written, ready to run the binary. */
interface PreparedCell {
  readonly endpoint: Endpoint;
  readonly fault: Fault | null;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly server: FaultServer | undefined;
  close(): Promise<void>;
}

/** One endpoint faulted (fault null: none, the healthy baseline), every other one a healthy simulated peer. */
async function prepareCell(endpoint: Endpoint, fault: Fault | null, kube: KubeApiServer): Promise<PreparedCell> {
  const mechanism = mechanismOf(endpoint);
  // The doctor fetches a JWKS only from the issuer's own origin: a faulty JWKS is served there, next to a healthy
  // discovery document (a refused one cannot be: that cell has jwks_uri on another port).
  const healthyDiscovery = (origin: string) => ({
    [`/id/${ISSUER_ID}/.well-known/openid-configuration`]: {
      contentType: 'application/json',
      body: JSON.stringify({ issuer: `${origin}/id/${ISSUER_ID}`, jwks_uri: `${origin}/id/${ISSUER_ID}/keys` }),
    },
  });
  const server: FaultServer | undefined = fault
    ? await startFaultServer(fault, {
        ...ENDPOINTS[endpoint].fault,
        slowMs: 2 * TIMEOUT_MS,
        ...(endpoint === 'jwks' ? { healthy: healthyDiscovery } : {}),
      })
    : undefined;
  const simOptions: SimulatedEksOptions =
    server && endpoint === 'discovery'
      ? { issuerPodRoute: { issuerOrigin: server.url } }
      : server && endpoint === 'jwks'
        ? { issuerPodRoute: fault === 'refused' ? { jwksOrigin: server.url } : { issuerOrigin: server.url } }
        : {};
  const sim = await startSimulatedEks(
    mechanism === 'pod-identity' ? 'healthy-pod-identity' : 'healthy-irsa',
    simOptions,
  );
  const dir = mkdtempSync(path.join(tmpdir(), `irsa-doctor-fault-${endpoint}-${fault}-`));
  const { env } = materialize(sim, dir);
  if (server && endpoint === 'sts') env.AWS_ENDPOINT_URL_STS = server.url;
  if (server && endpoint === 'imds') env.AWS_EC2_METADATA_SERVICE_ENDPOINT = `${server.url}/`;
  if (server && endpoint === 'agent') env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${server.url}/v1/credentials`;
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    server && endpoint === 'kube' ? kube.kubeconfigYaml.replace(kube.url, server.url) : kube.kubeconfigYaml,
  );
  // The simulated API server holds an IRSA pod: the Pod Identity pod is diagnosed without Kubernetes.
  const kubeArgs = mechanism === 'pod-identity' ? ['--no-kube'] : ['--kubeconfig', kubeconfig];
  return {
    endpoint,
    fault,
    args: ['--output', 'json', '--timeout', String(TIMEOUT_MS), ...kubeArgs],
    env: { ...env, ...PATH_ONLY },
    server,
    async close() {
      await server?.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs cells side by side. Every server is started (RSA keys made) before the first binary starts, and the
 * binaries start a little apart: on a small CI machine, start-up contention otherwise eats into the time
 * bound that is measured from spawn to exit.
 */
async function runCells(specs: readonly [Endpoint, Fault | null][], kube: KubeApiServer): Promise<Cell[]> {
  const prepared = await Promise.all(specs.map(([e, f]) => prepareCell(e, f, kube)));
  try {
    return await Promise.all(
      prepared.map(async (cell, i): Promise<Cell> => {
        await new Promise((resolve) => setTimeout(resolve, i * STAGGER_MS));
        const run = await runBinary(cell.args, cell.env, 20_000);
        let report: Report;
        try {
          report = parseReport(run.stdout) as unknown as Report;
        } catch {
          throw new Error(
            `${cell.endpoint}/${cell.fault}: no JSON report (exit ${run.code}): ${run.stderr.slice(0, 500)}`,
          );
        }
        return { endpoint: cell.endpoint, fault: cell.fault, run, report, hits: cell.server?.hits ?? 0 };
      }),
    );
  } finally {
    await Promise.all(prepared.map((cell) => cell.close()));
  }
}

function mechanismOf(endpoint: Endpoint): 'irsa' | 'pod-identity' {
  return endpoint === 'agent' ? 'pod-identity' : 'irsa';
}

describe.skipIf(!existsSync(BINARY))('fault matrix: every endpoint with every fault, through the built binary', () => {
  let kube: KubeApiServer;
  let listed: string[] = [];
  const baseline = new Map<'irsa' | 'pod-identity', Cell>();
  const cells = new Map<string, Cell>();
  const ALL = MATRIX.map(([endpoint, fault]): [Endpoint, Fault] => [endpoint, fault]);

  beforeAll(async () => {
    kube = await startKubeApi(
      kubeScenario('healthy', {
        namespace: SIM_NAMESPACE,
        serviceAccount: SIM_SERVICE_ACCOUNT,
        deployment: SIM_SERVICE_ACCOUNT,
        replicaSet: SIM_POD.replace(/-[^-]+$/, ''),
        podName: SIM_POD,
        roleArn: SIM_ROLE_ARN,
        region: SIM_REGION,
      }).state,
    );
    const list = await runBinary(['--list-checks', '--output', 'json'], PATH_ONLY);
    const listChecks: unknown = JSON.parse(list.stdout);
    expectValidListChecks(listChecks);
    listed = (listChecks as { checks: { id: string }[] }).checks.map((c) => c.id);
    const [irsa, podIdentity] = await runCells(
      [
        ['sts', null],
        ['agent', null],
      ],
      kube,
    );
    if (!irsa || !podIdentity) throw new Error('the healthy baselines did not run');
    baseline.set('irsa', irsa);
    baseline.set('pod-identity', podIdentity);
    // Small batches: every cell waits out a timeout at worst, and too many binaries at once skew the clock.
    for (let i = 0; i < ALL.length; i += BATCH) {
      const batch = await runCells(ALL.slice(i, i + BATCH), kube);
      for (const cell of batch) cells.set(`${cell.endpoint}/${cell.fault}`, cell);
    }
  }, 120_000);

  afterAll(async () => {
    await kube?.close();
  });

  it('the healthy peers are healthy: IRSA with the Kubernetes API, and Pod Identity', () => {
    for (const [mechanism, cell] of baseline) {
      expect(cell.report.verdict, mechanism).toBe('healthy');
      expect(cell.report.findings, mechanism).toEqual([]);
      expect(cell.run.code, mechanism).toBe(0);
    }
    const irsa = baseline.get('irsa');
    for (const id of ['issuer.discovery', 'sts.assume-role', 'identity.imds', 'identity.caller', ...KUBE_CHECKS]) {
      expect(irsa?.report.checks.find((c) => c.id === id)?.status, id).toBe('pass');
    }
    expect(baseline.get('pod-identity')?.report.checks.find((c) => c.id === 'pod-identity.agent')?.status).toBe('pass');
  });

  it('covers every endpoint with every fault, once', () => {
    const endpoints = Object.keys(ENDPOINTS) as Endpoint[];
    expect(ALL.map(([e, f]) => `${e}/${f}`)).toEqual(endpoints.flatMap((e) => FAULTS.map((f) => `${e}/${f}`)));
  });

  it.each(MATRIX)('%s, %s: %s %s, %s', (endpoint, fault, status, code, verdict, summary) => {
    const cell = cells.get(`${endpoint}/${fault}`);
    if (!cell) throw new Error('cell did not run');
    const want = { status, code, verdict, says: says(summary) };
    const own = ENDPOINTS[endpoint].check;
    const { report, run } = cell;

    // (a) the endpoint's own check: its status, its finding (or none), what it says, and the verdict.
    const check = report.checks.find((c) => c.id === own);
    expect(check?.status).toBe(want.status);
    expect(check?.summary).toMatch(want.says);
    expect(report.findings.filter((f) => f.checkId === own).map((f) => f.code)).toEqual(want.code ? [want.code] : []);
    expect(report.verdict).toBe(want.verdict);
    expect(run.code).toBe(want.verdict === 'broken' ? 1 : 0);
    if (fault !== 'refused') expect(cell.hits, 'the faulty endpoint was called').toBeGreaterThan(0);

    // (b) the run ends within --timeout + 1 s.
    expect(run.elapsedMs).toBeLessThan(TIMEOUT_MS + 1_000);

    // (c) every check ran and says something; the others reached their healthy status.
    expect(report.checks.map((c) => c.id)).toEqual(listed);
    for (const c of report.checks) expect(c.summary.length, c.id).toBeGreaterThan(0);
    const healthy = baseline.get(mechanismOf(endpoint));
    const changed = dependents(endpoint, fault);
    const others = report.checks.filter((c) => c.id !== own).map((c) => [c.id, c.status]);
    const expected = others.map(([id]) => [
      id,
      changed[id as string] ?? healthy?.report.checks.find((c) => c.id === id)?.status,
    ]);
    expect(others).toEqual(expected);
    expect(report.findings.filter((f) => f.checkId !== own)).toEqual([]);
  });
});
