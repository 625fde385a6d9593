import type { V1Job } from '@kubernetes/client-node';
import type { LauncherApi } from '../launch/api';
import { LaunchFailure, apiErrorInfo } from '../launch/failure';
import { newRunId, runDiagnosisJob } from '../launch/job-launch';
import type { LaunchProgress } from '../launch/progress';
import { Deadline } from '../launch/progress';
import { missingPermissions, whoAmI } from '../launch/rbac';
import { WatchHub } from '../launch/watch-hub';
import type { Report, RootCause } from '../run/types';
import type { AssociationLookup } from './associations';
import type { Discovery, DiscoverySource, TargetFacts } from './discover';
import { discover } from './discover';
import { FLEET_JOB_PERMISSIONS, fleetForbidden } from './rbac';
import type { StaticFinding, StaticVerdict } from './static';
import { restartCommands, staticFindings, staticMechanism, staticVerdict } from './static';

/*
 * One fleet run: discovery (discover.ts), the static findings of every ServiceAccount (static.ts), then, unless
 * --static, one Job per ServiceAccount through the `job` launcher (src/launch/job-launch.ts), at most
 * `parallel` at a time, each with its own deadline, all sharing one API client (rate-limited, with a retry
 * budget: src/launch/rate-limit.ts) and one WatchHub (one watch per namespace for the run's pods and one for Job
 * events, not one per Job). Rows are handed to the observer as they change, so the TUI fills in as Jobs finish.
 * Every Job carries the run's label; at the end, after an error and after Ctrl-C, each namespace a Job was
 * created in is listed by that label and what is left is deleted (a create whose answer was lost included).
 */

export type RowVerdict = 'healthy' | 'degraded' | 'broken' | 'not-verified' | 'failed' | 'forbidden';
export type RowState = 'queued' | 'running' | 'done';

export interface FleetRow {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly sources: readonly DiscoverySource[];
  state: RowState;
  mechanism: string;
  verdict: RowVerdict | undefined;
  rootCause: { readonly code: string; readonly summary: string } | null;
  readonly staticFindings: readonly StaticFinding[];
  readonly staticVerdict: StaticVerdict;
  /** How to get new pods for the ServiceAccount's workloads (a Job report's own restart commands name the Job). */
  readonly restart: readonly string[];
  /** One running pod of the ServiceAccount, for the commands that look at a pod. */
  readonly examplePod: string | null;
  report: Report | null;
  failure: { readonly kind: string; readonly message: string; readonly fix: readonly string[] } | null;
  job: string | null;
  startedAt: number | undefined;
  durationMs: number | null;
}

export interface FleetObserver {
  discovered(rows: readonly FleetRow[], discovery: Discovery): void;
  changed(row: FleetRow): void;
  note(text: string): void;
}

export interface FleetOptions {
  readonly namespace: string | undefined;
  readonly selector: string | undefined;
  readonly parallel: number;
  readonly image: string;
  readonly imagePullSecrets: readonly string[];
  /** Each Job's own deadline, from its start. */
  readonly timeoutMs: number;
  readonly staticOnly: boolean;
  readonly doctorArgs: readonly string[];
  readonly associations: AssociationLookup;
  /**
   * Keep each report whole (the JSON prints them). Otherwise only what the table and the fixes need is kept
   * (the root cause, the verdict, the verification), so memory does not grow with the reports' checks.
   */
  readonly keepReports: boolean;
}

export interface FleetResult {
  readonly mode: 'jobs' | 'static';
  readonly discovery: Discovery;
  readonly rows: readonly FleetRow[];
  readonly runId: string;
  readonly interrupted: boolean;
  readonly jobsCreated: number;
  /** Jobs that could not be deleted (their TTL removes them). */
  readonly jobsLeft: readonly string[];
}

const KUBE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const RANK: Record<string, number> = { healthy: 0, 'not-verified': 0, degraded: 1, broken: 2 };

/**
 * Root causes by which a Job's fresh pod says only that it got no mechanism at all. The Job cannot tell why
 * (its pod is new); an error the API shows about the workloads' own pods (their Pod Identity association
 * deleted, say) is then the cause, and advice to annotate the ServiceAccount for IRSA would be the wrong way.
 */
const NOT_CONFIGURED = new Set(['SA_ANNOTATION_MISSING', 'NO_CREDENTIALS', 'NODE_ROLE_FALLBACK']);

export function rootCauseOf(report: Report | null, findings: readonly StaticFinding[]): FleetRow['rootCause'] {
  const fromReport: RootCause | null = report?.rootCause ?? null;
  const staticError = findings.find((f) => f.severity === 'error');
  if (fromReport && !(staticError && NOT_CONFIGURED.has(fromReport.code))) {
    return { code: fromReport.code, summary: fromReport.summary };
  }
  const first = staticError ?? findings.find((f) => f.severity === 'warning');
  return first ? { code: first.code, summary: first.summary } : null;
}

export function newRow(target: TargetFacts, discovery: Discovery): FleetRow {
  const findings = staticFindings(target, {
    webhook: discovery.webhook,
    associationsConsulted: discovery.associations.state === 'checked',
  });
  return {
    namespace: target.namespace,
    serviceAccount: target.name,
    sources: target.sources,
    state: 'queued',
    mechanism: staticMechanism(target),
    verdict: undefined,
    rootCause: null,
    staticFindings: findings,
    staticVerdict: staticVerdict(findings),
    restart: restartCommands(target),
    // It goes into commands unquoted: only a Kubernetes name (a hostile server could send anything).
    examplePod: target.workloads.map((w) => w.pod).find((p) => KUBE_NAME.test(p)) ?? null,
    report: null,
    failure: null,
    job: null,
    startedAt: undefined,
    durationMs: null,
  };
}

export async function runFleet(
  api: LauncherApi,
  options: FleetOptions,
  observer: FleetObserver,
  interrupt: AbortSignal,
): Promise<FleetResult> {
  const discovery = await discover(api, {
    namespace: options.namespace,
    selector: options.selector,
    signal: interrupt,
    associations: options.associations,
  });
  const rows = discovery.targets.map((t) => newRow(t, discovery));
  const byKey = new Map(
    discovery.targets.map((t, i) => [`${t.namespace}/${t.name}`, { target: t, row: rows[i] as FleetRow }]),
  );
  observer.discovered(rows, discovery);
  const runId = newRunId();

  if (options.staticOnly) {
    for (const row of rows) {
      row.state = 'done';
      row.verdict = row.staticVerdict;
      row.rootCause = rootCauseOf(null, row.staticFindings);
      observer.changed(row);
    }
    return { mode: 'static', discovery, rows, runId, interrupted: false, jobsCreated: 0, jobsLeft: [] };
  }

  const hub = new WatchHub(api);
  const permissions = new Map<string, Promise<LaunchFailure | undefined>>();
  const namespacesWithJobs = new Set<string>();
  let jobsCreated = 0;
  const permissionIn = (ns: string) => {
    let p = permissions.get(ns);
    if (!p) {
      p = (async () => {
        const missing = await missingPermissions(api, ns, FLEET_JOB_PERMISSIONS);
        return missing.length === 0 ? undefined : fleetForbidden(ns, await whoAmI(api), missing, 'namespace');
      })();
      permissions.set(ns, p);
    }
    return p;
  };

  const finish = (row: FleetRow, outcome: { report: Report } | { failure: unknown }) => {
    row.state = 'done';
    row.durationMs = row.startedAt === undefined ? null : Date.now() - row.startedAt;
    if ('report' in outcome) {
      row.report = options.keepReports ? outcome.report : { ...outcome.report, checks: [], findings: [] };
      // A fresh Job pod that got no mechanism says nothing about what the workloads run with: keep the API's.
      if (outcome.report.mechanism !== 'none' || row.mechanism === 'none') row.mechanism = outcome.report.mechanism;
      const worst = Math.max(RANK[outcome.report.verdict] ?? 0, RANK[row.staticVerdict] ?? 0);
      row.verdict = worst === 2 ? 'broken' : worst === 1 ? 'degraded' : 'healthy';
      row.rootCause = rootCauseOf(outcome.report, row.staticFindings);
    } else {
      const failure =
        outcome.failure instanceof LaunchFailure
          ? outcome.failure
          : new LaunchFailure('api', `internal error, please report it: ${String(outcome.failure)}`, []);
      row.failure = { kind: failure.kind, message: failure.message, fix: failure.fix };
      row.verdict = failure.kind === 'forbidden' ? 'forbidden' : 'failed';
      row.rootCause = rootCauseOf(null, row.staticFindings);
    }
    observer.changed(row);
  };

  const progressFor = (row: FleetRow): LaunchProgress => ({
    step(text) {
      const created = /^creating Job [^/]+\/(\S+)/.exec(text);
      if (created?.[1]) {
        row.job = created[1];
        jobsCreated += 1;
        namespacesWithJobs.add(row.namespace);
        observer.changed(row);
      }
    },
    detail: () => undefined,
    note: (text) => observer.note(`${row.namespace}/${row.serviceAccount}: ${text}`),
  });

  const queue = [...byKey.values()];
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (interrupt.aborted) return;
      const { target, row } = next;
      row.state = 'running';
      row.startedAt = Date.now();
      observer.changed(row);
      try {
        if (!target.exists)
          throw new LaunchFailure(
            'not-found',
            `ServiceAccount ${target.namespace}/${target.name} does not exist (its running pods outlived it)`,
            [],
          );
        const refused = await permissionIn(target.namespace);
        if (refused) throw refused;
        const result = await runDiagnosisJob(
          api,
          hub,
          {
            namespace: target.namespace,
            serviceAccount: target.name,
            image: options.image,
            imagePullSecrets: options.imagePullSecrets,
            deadline: new Deadline(options.timeoutMs),
            doctorArgs: options.doctorArgs,
            runId,
            permissionsChecked: true,
          },
          progressFor(row),
          interrupt,
        );
        if (!result.cleanedUp)
          observer.note(`Job ${target.namespace}/${result.job} could not be deleted (its TTL removes it)`);
        finish(row, { report: result.report });
      } catch (error) {
        finish(row, { failure: error });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.parallel, queue.length)) }, worker));
  } finally {
    hub.close();
  }
  for (const row of rows) {
    if (row.state !== 'done') {
      row.state = 'done';
      row.verdict = 'failed';
      row.failure = { kind: 'interrupted', message: 'not diagnosed: interrupted', fix: [] };
      row.rootCause = rootCauseOf(null, row.staticFindings);
      observer.changed(row);
    }
  }
  const jobsLeft = await sweep(api, runId, namespacesWithJobs, observer);
  return { mode: 'jobs', discovery, rows, runId, interrupted: interrupt.aborted, jobsCreated, jobsLeft };
}

/**
 * Deletes every Job of the run still there: each launch deletes its own, so this finds something only after a
 * create whose answer never came, or a delete that failed. Uses the client's own signal (the second Ctrl-C).
 */
async function sweep(
  api: LauncherApi,
  runId: string,
  namespaces: ReadonlySet<string>,
  observer: FleetObserver,
): Promise<string[]> {
  const left: string[] = [];
  for (const namespace of namespaces) {
    let jobs: V1Job[];
    try {
      jobs = (
        await api.batch.listNamespacedJob({
          namespace,
          labelSelector: `app.kubernetes.io/instance=irsa-doctor-${runId}`,
        })
      ).items;
    } catch (error) {
      // Unknown, so not "none": the run's label finds them later (kubectl delete jobs -l ...), and their TTL does.
      left.push(`${namespace}/* (label app.kubernetes.io/instance=irsa-doctor-${runId})`);
      observer.note(`could not list the Jobs of this run in namespace ${namespace}: ${apiErrorInfo(error).message}`);
      continue;
    }
    for (const job of jobs) {
      const name = job.metadata?.name;
      if (!name || job.metadata?.deletionTimestamp) continue;
      try {
        await api.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' });
      } catch (error) {
        if (apiErrorInfo(error).status !== 404) {
          left.push(`${namespace}/${name}`);
          observer.note(`could not delete Job ${namespace}/${name}: ${apiErrorInfo(error).message}`);
        }
      }
    }
  }
  return left;
}

export function exitCodeOfFleet(result: FleetResult): number {
  if (result.interrupted) return 130;
  if (result.rows.some((r) => r.verdict === 'broken')) return 1;
  if (
    result.rows.some((r) => r.verdict === 'failed' || r.verdict === 'forbidden') ||
    result.discovery.refused.length > 0
  )
    return 2;
  return 0;
}
