import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IRSA_TOKEN_PATH } from '../../src/aws/env-names';
import { CHECKS } from '../../src/checks/registry';
import type { RunOptions } from '../../src/context/context';
import { DEFAULT_OPTIONS } from '../../src/context/context';
import { renderJson } from '../../src/render/json';
import { renderText } from '../../src/render/text';
import { runInInk } from '../../src/render/tui/index';
import { readsOf, selectChecks } from '../../src/run/select';
import type { Report } from '../../src/run/types';
import type { ScenarioName, SimulatedEks } from '../../src/sim/index';
import {
  SCENARIO_NAMES,
  SIM_NAMESPACE,
  SIM_POD,
  SIM_SERVICE_ACCOUNT,
  demoContext,
  startDemoKubeApi,
  startSimulatedEks,
} from '../../src/sim/index';
import { mintToken } from '../helpers/tokens';
import { expectValidReport } from '../helpers/reports';

/*
 * No run claims credentials it did not obtain, in any output mode: every check id with --only and with --skip
 * (on a healthy IRSA pod, a healthy Pod Identity pod and an IRSA pod whose token expired), and every demo
 * scenario with --offline and with --no-kube. The oracle is independent of `verification`: the claim ("healthy",
 * "HEALTHY", "gets the AWS credentials") may appear only when a check that obtains credentials
 * (sts.assume-role, pod-identity.agent) or confirms the caller (identity.caller) is in the report as pass/warn.
 */

const CREDENTIAL_CHECKS = new Set(['sts.assume-role', 'pod-identity.agent', 'identity.caller']);
const CLAIM = /HEALTHY|gets the AWS credentials/;
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

class FakeTerminal extends Writable {
  text = '';
  readonly columns = 400;
  readonly rows = 60;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

interface Rendered {
  readonly report: Report;
  readonly text: string;
  readonly tui: string;
  readonly json: string;
}

/** One run through the TUI (the checks run once), then the same Report as text and JSON. */
async function diagnose(
  sim: SimulatedEks,
  select: { only?: string[]; skip?: string[] },
  options: Partial<RunOptions>,
): Promise<Rendered> {
  const runOptions: RunOptions = { ...DEFAULT_OPTIONS, timeoutMs: 3_000, ...options };
  const kube = runOptions.offline || runOptions.noKube ? undefined : await startDemoKubeApi(sim);
  try {
    const checks = selectChecks(CHECKS, select.only ?? [], select.skip ?? []);
    const selected = new Set(checks.map((c) => c.id));
    const plan = { checks, version: 't', omitted: CHECKS.filter((c) => !selected.has(c.id)) };
    const terminal = new FakeTerminal();
    const report = await runInInk(demoContext(sim, runOptions, kube), plan, terminal);
    return { report, text: renderText(report), tui: terminal.text.replace(ANSI, ''), json: renderJson(report) };
  } finally {
    await kube?.close();
  }
}

function statusOf(report: Report, id: string): string | undefined {
  return report.checks.find((c) => c.id === id)?.status;
}

/**
 * Credentials in hand, read from the checks alone: STS or the agent issued them (pass; the agent's warn when
 * only the GetCallerIdentity proof failed), or identity.caller confirmed the caller.
 */
function obtained(report: Report): boolean {
  return report.checks.some(
    (c) =>
      (CREDENTIAL_CHECKS.has(c.id) && c.status === 'pass') ||
      (c.id === 'identity.caller' && c.status === 'warn') ||
      (c.id === 'pod-identity.agent' && c.status === 'warn' && c.summary.startsWith('the agent issued credentials')),
  );
}

function expectNoUnfoundedClaim(run: Rendered, label: string): void {
  const parsed = JSON.parse(run.json) as Report;
  expectValidReport(parsed);
  if (obtained(run.report)) {
    expect(run.report.verification.credentials, label).toBe('obtained');
    return;
  }
  expect(run.report.verdict, label).not.toBe('healthy');
  expect(parsed.verdict, label).not.toBe('healthy');
  expect(run.report.verification.credentials, label).not.toBe('obtained');
  expect(run.text, `${label}: text`).not.toMatch(CLAIM);
  expect(run.tui, `${label}: tui`).not.toMatch(CLAIM);
  expect(parsed.verification.headline, `${label}: json`).not.toMatch(CLAIM);
  // The same headline in all three modes.
  expect(run.text, `${label}: text headline`).toContain(`\n${parsed.verification.headline}\n`);
  expect(run.tui, `${label}: tui headline`).toContain(parsed.verification.headline.slice(0, 60));
}

const ALL_IDS = CHECKS.map((c) => c.id);

/** A healthy IRSA pod whose projected token expired an hour ago (the kubelet stopped refreshing it). */
async function expiredTokenPod(): Promise<SimulatedEks> {
  const sim = await startSimulatedEks('healthy-irsa');
  const iat = Math.floor(Date.now() / 1000) - 90_000;
  sim.files[IRSA_TOKEN_PATH] = await mintToken({
    iss: sim.urls.issuer,
    namespace: SIM_NAMESPACE,
    serviceAccount: SIM_SERVICE_ACCOUNT,
    pod: SIM_POD,
    iat,
    ttl: 86_400,
  });
  return sim;
}

describe.each([
  { pod: 'healthy IRSA', start: () => startSimulatedEks('healthy-irsa') },
  { pod: 'healthy Pod Identity', start: () => startSimulatedEks('healthy-pod-identity') },
  { pod: 'IRSA with an expired token', start: expiredTokenPod },
])('$pod: every check id with --only and with --skip', ({ pod, start }) => {
  let sim: SimulatedEks;
  beforeAll(async () => {
    sim = await start();
  });
  afterAll(() => sim.close());

  it.each(ALL_IDS)('--only %s runs what it reads and claims nothing it did not obtain', async (id) => {
    const run = await diagnose(sim, { only: [id] }, {});
    const label = `${pod} --only ${id}`;
    expectNoUnfoundedClaim(run, label);
    const ran = new Set(run.report.checks.map((c) => c.id));
    for (const check of CHECKS.filter((c) => ran.has(c.id))) {
      for (const read of readsOf(check)) expect(ran.has(read), `${label}: ${check.id} reads ${read}`).toBe(true);
    }
    // --only leaves some of the chain out, and says so.
    expect(run.report.verdict, label).not.toBe('healthy');
    if (run.report.verdict !== 'broken') expect(run.report.verification.headline, label).toContain('(--only)');
    if (pod === 'IRSA with an expired token' && ran.has('token.claims')) {
      expect(run.report.rootCause?.code, label).toBe('TOKEN_EXPIRED');
    }
  });

  it.each(ALL_IDS)('--skip %s names it and claims nothing it did not obtain', async (id) => {
    const run = await diagnose(sim, { skip: [id] }, {});
    const label = `${pod} --skip ${id}`;
    expectNoUnfoundedClaim(run, label);
    const links = run.report.verification.links;
    expect(
      links.flatMap((l) => l.verified),
      label,
    ).not.toContain(id);
    // Unless a hard dependency already kept it from running (not applicable here, failed, not available), the
    // verification says the user skipped it.
    const check = CHECKS.find((c) => c.id === id)!;
    const depsRan = check.dependsOn.every((d) => ['pass', 'warn'].includes(statusOf(run.report, d) ?? ''));
    if (depsRan) {
      expect(
        links.flatMap((l) => l.notChecked),
        label,
      ).toContainEqual({ checkId: id, cause: 'skip', reason: '--skip' });
    }
  });
});

describe('every demo scenario with --offline and with --no-kube', () => {
  const cases = SCENARIO_NAMES.flatMap((name: ScenarioName) => [
    { name, flag: '--offline' as const },
    { name, flag: '--no-kube' as const },
  ]);
  it.each(cases)('$name $flag claims nothing it did not obtain', async ({ name, flag }) => {
    const sim = await startSimulatedEks(name);
    try {
      const run = await diagnose(sim, {}, flag === '--offline' ? { offline: true } : { noKube: true });
      const label = `${name} ${flag}`;
      expectNoUnfoundedClaim(run, label);
      if (flag === '--offline') {
        expect(obtained(run.report), label).toBe(false);
        expect(run.report.verdict, label).not.toBe('healthy');
      }
      if (run.report.verdict !== 'broken') expect(run.report.verification.headline, label).toContain(flag);
    } finally {
      await sim.close();
    }
  });
});
