import { SecretRegistry, withSecretRegistry } from '../aws/secrets';
import type { Context } from '../context/context';
import type { CheckId } from '../checks/outputs';
import { severityOf } from './findings';
import { redactFinding, redactReport, redactResult, registerEnvSecrets } from './redact';
import type {
  Check,
  CheckOutcome,
  CheckResult,
  Facts,
  Finding,
  FindingInput,
  Identity,
  Mechanism,
  PodFacts,
  Report,
  RootCause,
  Status,
  Upstream,
} from './types';
import { STAGE_ORDER, assertNever } from './types';
import type { Coverage, Covered } from './verification';
import { verdictOf, verificationOf } from './verification';

export interface RunEvents {
  onStart?(check: Check): void;
  onFinish?(result: CheckResult, findings: readonly Finding[]): void;
}

export interface RunPlan {
  readonly checks: readonly Check[];
  readonly version: string;
  readonly events?: RunEvents;
  /** Each check's own deadline when it sets none. */
  readonly defaultCheckTimeoutMs?: number;
  /** The registry's checks that --only left out: reported in `verification` as not checked. */
  readonly omitted?: readonly Check[];
}

interface Settled {
  readonly result: CheckResult;
  readonly outcome: CheckOutcome | undefined;
  readonly findings: readonly Finding[];
  readonly coverage: Coverage;
}

const DEFAULT_CHECK_TIMEOUT_MS = 5_000;
/** Time left after the last network call gives up, for the check to turn the timeout into its finding. */
const NET_RESERVE_MS = 150;

/**
 * Every network call of the run ends by `deadline` (its own timeout shortened if need be), so a black-holed
 * endpoint under a short --timeout still yields the check's own finding (STS_UNREACHABLE, ...) instead of
 * the check being cut off as `error` by the run deadline. One Context for the whole run: checks that share
 * per-Context state (the Kubernetes client) keep sharing it.
 */
function withNetDeadline(ctx: Context, deadline: number): Context {
  const net = ctx.net;
  const left = () => Math.max(1, deadline - ctx.clock.now());
  return {
    ...ctx,
    net: {
      request: (url, init) => {
        const timeoutMs = Math.min(init.timeoutMs, left());
        const connectTimeoutMs =
          init.connectTimeoutMs === undefined ? undefined : Math.min(init.connectTimeoutMs, timeoutMs);
        return net.request(url, { ...init, timeoutMs, connectTimeoutMs });
      },
      probe: (url, init) => net.probe(url, { ...init, timeoutMs: Math.min(init.timeoutMs, left()) }),
    },
  };
}

/**
 * Runs the checks: each starts as soon as its dependencies settle, so independent checks run in parallel,
 * and results are reported in declared order. Every throw and timeout becomes status `error`; the run never
 * outlives ctx.options.timeoutMs (checks still running then are reported as `error`).
 *
 * The run has its own SecretRegistry: every Secret its checks and clients make is added to it, with the
 * diagnosed env's secret values, and each result and finding goes through the redaction pass
 * (src/run/redact.ts) before anyone sees it: the TUI's live events, and the report every renderer prints.
 */
export async function runChecks(given: Context, plan: RunPlan): Promise<Report> {
  const registry = new SecretRegistry();
  return withSecretRegistry(registry, () => {
    registerEnvSecrets(given.env);
    return runInRegistry(given, plan, registry);
  });
}

async function runInRegistry(given: Context, plan: RunPlan, registry: SecretRegistry): Promise<Report> {
  const startedAt = given.clock.now();
  const runDeadline = startedAt + given.options.timeoutMs;
  const ctx = withNetDeadline(given, runDeadline - NET_RESERVE_MS);
  const settled = new Map<CheckId, Promise<Settled>>();
  const finished = new Map<CheckId, Settled>();

  for (const check of plan.checks) {
    const upstreamIds = [...check.dependsOn, ...(check.uses ?? [])];
    const run = async (): Promise<Settled> => {
      await Promise.all(upstreamIds.map((id) => settled.get(id)));
      const blocker = check.dependsOn.find((id) => !isUsable(finished.get(id)?.result.status));
      if (blocker !== undefined) {
        const dep = finished.get(blocker);
        const why = dep ? `${blocker} ${describeStatus(dep.result.status)}` : `${blocker} was not selected`;
        return skipped(check, `skipped: depends on ${why}`, inheritedCoverage(blocker, dep));
      }
      const unavailable = unavailableCoverage(check, ctx);
      if (unavailable) return skipped(check, `skipped: ${unavailable.reason}`, unavailable);
      return execute(check, ctx, upstreamView(check, finished), runDeadline, plan);
    };
    const promise = run().then((raw) => {
      const s: Settled = {
        ...raw,
        result: redactResult(raw.result, registry),
        findings: raw.findings.map((f) => redactFinding(f, registry)),
      };
      finished.set(check.id, s);
      plan.events?.onFinish?.(s.result, s.findings);
      return s;
    });
    settled.set(check.id, promise);
  }

  const all = await Promise.all(plan.checks.map((c) => settled.get(c.id) as Promise<Settled>));
  // Again with every secret of the run: one learned late (the session token) may show in an earlier result.
  return redactReport(assembleReport(ctx, plan, all, startedAt), registry);
}

function isUsable(status: Status | undefined): boolean {
  return status === 'pass' || status === 'warn';
}

function describeStatus(status: Status): string {
  switch (status) {
    case 'pass':
      return 'passing';
    case 'warn':
      return 'warning';
    case 'fail':
      return 'which failed';
    case 'skip':
      return 'which was skipped';
    case 'error':
      return 'which could not run';
    default:
      return assertNever(status);
  }
}

function unavailableCoverage(check: Check, ctx: Context): (Coverage & { kind: 'not-checked' }) | undefined {
  if (check.needs === 'network' && ctx.options.offline) {
    return { kind: 'not-checked', cause: 'offline', reason: '--offline (no network calls)' };
  }
  if (check.needs === 'kube' && (ctx.options.offline || ctx.options.noKube)) {
    const flag = ctx.options.offline ? 'offline' : 'no-kube';
    return { kind: 'not-checked', cause: flag, reason: `--${flag} (no Kubernetes API calls)` };
  }
  return undefined;
}

/**
 * A check skipped for its hard dependency is as unverified as that dependency, for the same reason (a check
 * after one --offline skipped is not checked because of --offline), or not applicable with it; after one that
 * failed, the problem is reported there.
 */
function inheritedCoverage(blocker: CheckId, dep: Settled | undefined): Coverage {
  if (dep === undefined) return { kind: 'not-checked', cause: 'only', reason: `depends on ${blocker}, not selected` };
  const status = dep.result.status;
  if (status === 'fail')
    return { kind: 'not-checked', cause: 'dependency', reason: `depends on ${blocker}, which failed` };
  if (status === 'error')
    return { kind: 'not-checked', cause: 'error', reason: `depends on ${blocker}, which could not finish` };
  const upstream = dep.coverage;
  if (upstream.kind !== 'not-checked')
    return upstream.kind === 'not-applicable'
      ? upstream
      : { kind: 'not-checked', cause: 'dependency', reason: `depends on ${blocker} (${status})` };
  const reason = upstream.reason.startsWith('depends on ')
    ? upstream.reason
    : `depends on ${blocker}: ${upstream.reason}`;
  return { kind: 'not-checked', cause: upstream.cause, reason };
}

/** What a finished check covered: a skip says why (skipReason), an error could not finish. */
function coverageOf(outcome: CheckOutcome): Coverage {
  if (outcome.status === 'error') return { kind: 'not-checked', cause: 'error', reason: outcome.summary };
  if (outcome.status !== 'skip') return { kind: 'ran' };
  if (outcome.skipReason === 'not-applicable') return { kind: 'not-applicable' };
  if (outcome.skipReason === '--skip') return { kind: 'not-checked', cause: 'skip', reason: '--skip' };
  return { kind: 'not-checked', cause: 'unavailable', reason: outcome.summary.replace(/^skipped: /, '') };
}

function upstreamView(check: Check, finished: ReadonlyMap<CheckId, Settled>): Upstream {
  const declared = new Set<CheckId>([...check.dependsOn, ...(check.uses ?? [])]);
  const guard = (id: CheckId): Settled | undefined => {
    if (!declared.has(id)) throw new Error(`${check.id} reads ${id} without declaring it in dependsOn or uses`);
    return finished.get(id);
  };
  return {
    output(id) {
      const s = guard(id);
      const ran = s?.result.status === 'pass' || s?.result.status === 'warn' || s?.result.status === 'fail';
      return ran ? (s?.outcome?.output as never) : undefined;
    },
    status: (id) => guard(id)?.result.status,
  };
}

function skipped(check: Check, summary: string, coverage: Coverage): Settled {
  return { result: resultOf(check, 'skip', summary, 0), outcome: undefined, findings: [], coverage };
}

function couldNotFinish(result: CheckResult): Settled {
  return {
    result,
    outcome: undefined,
    findings: [],
    coverage: { kind: 'not-checked', cause: 'error', reason: result.summary },
  };
}

function resultOf(
  check: Check,
  status: Status,
  summary: string,
  durationMs: number,
  outcome?: CheckOutcome,
): CheckResult {
  return {
    id: check.id,
    title: check.title,
    status,
    summary,
    durationMs,
    dependsOn: check.dependsOn,
    ...(outcome?.details && Object.keys(outcome.details).length > 0 ? { details: outcome.details } : {}),
  };
}

async function execute(
  check: Check,
  ctx: Context,
  upstream: Upstream,
  runDeadline: number,
  plan: RunPlan,
): Promise<Settled> {
  const started = ctx.clock.now();
  const own = check.timeoutMs ?? plan.defaultCheckTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const budget = Math.min(own, runDeadline - started);
  if (budget <= 0)
    return couldNotFinish(resultOf(check, 'error', 'not run: the run deadline (--timeout) was reached', 0));
  plan.events?.onStart?.(check);
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), budget);
  });
  try {
    const outcome = await Promise.race([check.run(ctx, upstream, controller.signal), timeout]);
    const durationMs = Math.round(ctx.clock.now() - started);
    if (outcome === 'timeout') {
      controller.abort(new Error('timeout'));
      const which = budget < own ? 'the run deadline (--timeout)' : `its ${own} ms timeout`;
      return couldNotFinish(resultOf(check, 'error', `did not finish within ${which}`, durationMs));
    }
    const findings = (outcome.findings ?? []).map((f): Finding => findingOf(check, f));
    const result = resultOf(check, outcome.status, outcome.summary, durationMs, outcome);
    return { result, outcome, findings, coverage: coverageOf(outcome) };
  } catch (error) {
    const durationMs = Math.round(ctx.clock.now() - started);
    return couldNotFinish(resultOf(check, 'error', `the check itself failed: ${describeError(error)}`, durationMs));
  } finally {
    clearTimeout(timer);
  }
}

function findingOf(check: Check, input: FindingInput, pod?: PodFacts): Finding {
  const { remedyFor, ...finding } = input;
  return {
    ...finding,
    remedy: pod && remedyFor ? remedyFor(pod) : finding.remedy,
    severity: severityOf(input.code),
    checkId: check.id,
    evidence: input.evidence ?? {},
  };
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

function assembleReport(ctx: Context, plan: RunPlan, all: readonly Settled[], startedAt: number): Report {
  const facts = all.map((s) => s.outcome?.facts).filter((f): f is Facts => f !== undefined);
  // What the Kubernetes API showed of the pod completes the remedies of the checks that ran before it.
  const pod = facts.reduce<PodFacts | undefined>((known, f) => f.pod ?? known, undefined);
  const byId = new Map(plan.checks.map((c) => [c.id, c]));
  const findings = all.flatMap((s) => {
    const check = byId.get(s.result.id);
    const inputs = s.outcome?.findings ?? [];
    return check && pod ? inputs.map((f) => findingOf(check, f, pod)) : s.findings;
  });
  const mechanism: Mechanism = facts.reduce<Mechanism>((m, f) => f.mechanism ?? m, 'none');
  const identity: Identity = facts.reduce<Identity>((id, f) => ({ ...id, ...f.identity }), {
    expectedRoleArn: ctx.env.AWS_ROLE_ARN ?? null,
    callerArn: null,
    source: 'unknown',
    nodeRoleArn: null,
  });
  const checks = all.map((s) => s.result);
  const covered: Covered[] = [
    ...plan.checks.map((check, i): Covered => {
      const s = all[i] as Settled;
      const published = s.outcome?.output !== undefined;
      return { id: check.id, stage: check.stage, result: s.result, coverage: s.coverage, published };
    }),
    ...(plan.omitted ?? []).map((check): Covered => ({
      id: check.id,
      stage: check.stage,
      result: undefined,
      coverage: { kind: 'not-checked', cause: 'only', reason: '--only (not selected)' },
      published: false,
    })),
  ];
  const { verdict, verification } = verificationOf(mechanism, covered, findings, checks);
  return {
    schemaVersion: 1,
    tool: { name: 'irsa-doctor', version: plan.version },
    startedAt: new Date(startedAt).toISOString(),
    durationMs: Math.round(ctx.clock.now() - startedAt),
    mechanism,
    verdict,
    rootCause: rootCauseOf(findings, plan.checks),
    findings,
    checks,
    identity,
    verification,
  };
}

export { verdictOf };

/** The earliest broken link of env -> token -> issuer -> STS -> identity; declared order breaks ties. */
export function rootCauseOf(findings: readonly Finding[], checks: readonly Check[]): RootCause | null {
  const position = new Map(checks.map((c, i) => [c.id, { stage: STAGE_ORDER.indexOf(c.stage), index: i }]));
  const rank = (f: Finding) => position.get(f.checkId) ?? { stage: STAGE_ORDER.length, index: checks.length };
  const errors = findings
    .map((f, order) => ({ f, order }))
    .filter(({ f }) => f.severity === 'error')
    .sort((a, b) => rank(a.f).stage - rank(b.f).stage || rank(a.f).index - rank(b.f).index || a.order - b.order);
  const first = errors[0]?.f;
  return first ? { code: first.code, checkId: first.checkId, summary: first.summary, remedy: first.remedy } : null;
}

/** Exit codes (docs/cli.md): 0 healthy (warnings allowed), 1 a problem was found. */
export function exitCodeOf(report: Report, options: { exitZero: boolean }): 0 | 1 {
  if (options.exitZero) return 0;
  return report.findings.some((f) => f.severity === 'error') ? 1 : 0;
}
