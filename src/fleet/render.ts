import packageJson from '../../package.json' with { type: 'json' };
import { commandLines, escapeControl } from '../render/escape';
import { renderJsonValue } from '../render/json';
import type { FleetResult, FleetRow } from './run';
import { exitCodeOfFleet } from './run';

/*
 * The fleet's outputs besides the TUI (render/tui/fleet.tsx): a text table with the fix of each ServiceAccount
 * that has a problem under it, and the JSON of docs/fleet.schema.json (docs/report.md, "fleet"): every
 * per-ServiceAccount report exactly as the doctor in the Job printed it (docs/report.schema.json), the static
 * findings, and a summary. Every string from the cluster is escaped for the terminal (escapeControl).
 */

export const VERDICT_WORDS: Record<NonNullable<FleetRow['verdict']>, string> = {
  healthy: 'HEALTHY',
  degraded: 'DEGRADED',
  broken: 'BROKEN',
  'not-verified': 'NOT VERIFIED',
  failed: 'NOT DIAGNOSED',
  forbidden: 'FORBIDDEN',
};

export interface FleetSummary {
  readonly serviceAccounts: number;
  readonly healthy: number;
  readonly degraded: number;
  readonly broken: number;
  readonly notVerified: number;
  readonly notDiagnosed: number;
  readonly forbidden: number;
  readonly forbiddenNamespaces: number;
  readonly exitCode: number;
}

export function summaryOf(result: FleetResult): FleetSummary {
  const count = (v: FleetRow['verdict']) => result.rows.filter((r) => r.verdict === v).length;
  return {
    serviceAccounts: result.rows.length,
    healthy: count('healthy'),
    degraded: count('degraded'),
    broken: count('broken'),
    notVerified: count('not-verified'),
    notDiagnosed: count('failed'),
    forbidden: count('forbidden'),
    forbiddenNamespaces: result.discovery.refused.length,
    exitCode: exitCodeOfFleet(result),
  };
}

export function durationWords(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** One line per row's state for the summary: "3 healthy, 2 broken, ...". */
export function summaryWords(s: FleetSummary): string {
  const parts = [
    [s.healthy, 'healthy'],
    [s.degraded, 'degraded'],
    [s.broken, 'broken'],
    [s.notVerified, 'not verified (--static)'],
    [s.notDiagnosed, 'not diagnosed'],
    [s.forbidden, 'forbidden'],
  ]
    .filter(([n]) => (n as number) > 0)
    .map(([n, w]) => `${n} ${w}`);
  const ns =
    s.forbiddenNamespaces > 0
      ? `; ${s.forbiddenNamespaces} namespace${s.forbiddenNamespaces > 1 ? 's' : ''} could not be read`
      : '';
  return `${s.serviceAccounts} ServiceAccount${s.serviceAccounts === 1 ? '' : 's'}: ${parts.join(', ') || 'none found'}${ns}`;
}

export function rowCells(row: FleetRow): [string, string, string, string, string] {
  return [
    escapeControl(`${row.namespace}/${row.serviceAccount}`),
    escapeControl(row.mechanism),
    row.verdict ? VERDICT_WORDS[row.verdict] : row.state === 'running' ? 'running' : 'queued',
    escapeControl(row.rootCause?.code ?? (row.failure ? row.failure.kind : '-')),
    durationWords(row.durationMs),
  ];
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** What to do about one row: the root cause's fix, or why it was not diagnosed and what lifts that. */
/**
 * A failure's fix lines: sentences indented; a here-document (the RBAC to apply) as a command whose body and
 * terminator stay unindented, so that it still works when copied.
 */
export function failureFixLines(fix: readonly string[], indent = '    '): string[] {
  return fix.flatMap((f) => {
    if (/^[^\n]*<<-?'?[A-Za-z_]/.test(f)) {
      const { first, rest } = commandLines(f);
      return [`${indent}${first}`, ...rest];
    }
    return f.split('\n').map((l) => `${indent}${escapeControl(l)}`);
  });
}

/**
 * The fix commands of a Job's report, for the fleet. The doctor ran in the Job's own pod, which is gone by now:
 * its "recreate the pod" (delete the Job, re-apply its manifest) becomes the restart of the ServiceAccount's own
 * workloads, and a command that looks at the Job's pod looks at one of the workloads' pods instead (a
 * Kubernetes name: nothing to quote), or is left out when the ServiceAccount has no running pod.
 */
export function fleetCommands(
  commands: readonly string[],
  row: Pick<FleetRow, 'job' | 'restart' | 'examplePod'>,
): string[] {
  const job = row.job;
  if (!job) return [...commands];
  const out: string[] = [];
  let replaced = false;
  const jobPod = new RegExp(`${job.replace(/[.]/g, '\\.')}-[a-z0-9]{5}`, 'g');
  for (const c of commands) {
    if (c.startsWith(`kubectl delete job ${job} `)) {
      if (!replaced) out.push(...row.restart);
      replaced = true;
    } else if (c.includes('<JOB_MANIFEST>')) {
      // The second half of recreating a Job: done by the restart above.
    } else if (c.includes(job)) {
      if (row.examplePod && !c.replace(jobPod, '').includes(job)) out.push(c.replace(jobPod, row.examplePod));
    } else out.push(c);
  }
  return out;
}

export function rowFixLines(row: FleetRow): string[] {
  const lines: string[] = [];
  const push = (commands: readonly string[]) => {
    for (const command of commands) {
      const { first, rest } = commandLines(command);
      lines.push(`    ${first}`, ...rest);
    }
  };
  if (row.failure) {
    const [first = '', ...more] = row.failure.message.split('\n');
    lines.push(`  ${escapeControl(first)}`, ...more.map((l) => `  ${escapeControl(l)}`));
    lines.push(...failureFixLines(row.failure.fix));
  }
  // The row's root cause first: a static finding when it explains what the Job saw (fleet/run.ts rootCauseOf).
  const staticFirst = row.rootCause !== null && row.staticFindings.some((f) => f.code === row.rootCause?.code);
  const statics = () => {
    for (const f of row.staticFindings) {
      if (f.severity === 'info') continue;
      lines.push(`  ${escapeControl(f.code)} (${f.severity}, from the API): ${escapeControl(f.summary)}`);
      push(f.remedy.commands);
    }
  };
  if (staticFirst) statics();
  const cause = row.report?.rootCause;
  if (cause) {
    const job = row.job ?? '';
    const words = (t: string) =>
      escapeControl(job ? t.replaceAll(`job/${job}`, row.restart.length > 0 ? 'its workloads' : 'its pods') : t);
    lines.push(`  ${escapeControl(cause.code)}: ${words(cause.summary)}`);
    if (cause.remedy.summary) lines.push(`    ${words(cause.remedy.summary)}`);
    push(fleetCommands(cause.remedy.commands, row));
  }
  if (!staticFirst) statics();
  return lines;
}

export function renderFleetText(result: FleetResult, options: { readonly verbose: boolean }): string {
  const out: string[] = [];
  const d = result.discovery;
  const rows = [...result.rows].sort(
    (a, b) => a.namespace.localeCompare(b.namespace) || a.serviceAccount.localeCompare(b.serviceAccount),
  );
  // A namespace that could not be read is a row of the table too, aligned with the others.
  const refusedCells = d.refused.map((r) => [
    `${escapeControl(r.namespace)}/*`,
    '-',
    'FORBIDDEN',
    'namespace not readable',
    '-',
  ]);
  out.push(
    ...table([
      ['SERVICEACCOUNT', 'MECHANISM', 'VERDICT', 'ROOT CAUSE', 'TIME'],
      ...rows.map(rowCells),
      ...refusedCells,
    ]),
  );
  const problems = rows.filter(
    (r) => (r.verdict !== 'healthy' && r.verdict !== 'not-verified') || (options.verbose && rowFixLines(r).length > 0),
  );
  if (problems.length > 0 || d.refused.length > 0) out.push('');
  for (const row of problems) {
    const lines = rowFixLines(row);
    if (lines.length === 0) continue;
    out.push(
      `${escapeControl(`${row.namespace}/${row.serviceAccount}`)}: ${row.verdict ? VERDICT_WORDS[row.verdict] : ''}`,
      ...lines,
    );
  }
  for (const r of d.refused) {
    out.push(`namespace ${escapeControl(r.namespace)}: not diagnosed: ${escapeControl(r.failure.message)}`);
    out.push(...failureFixLines(r.failure.fix));
  }
  out.push('', ...footer(result));
  return `${out.join('\n')}\n`;
}

export function footer(result: FleetResult): string[] {
  const d = result.discovery;
  const lines = [
    `${summaryWords(summaryOf(result))}.`,
    `Pod Identity associations (EKS API): ${d.associations.state === 'checked' ? `${d.associations.value} listed` : `not consulted: ${escapeControl(d.associations.reason)}`}.`,
    `Webhook configuration: ${d.webhook.state === 'checked' ? (d.webhook.value ? 'present' : 'MISSING') : `not checked: ${escapeControl(d.webhook.reason)}`}.`,
  ];
  if (result.mode === 'static')
    lines.push(
      '--static: the API only, no Job ran: "not verified" means nothing wrong was seen, not that credentials work.',
    );
  if (result.jobsLeft.length > 0)
    lines.push(
      `Jobs left behind (their ttlSecondsAfterFinished removes them): ${result.jobsLeft.map(escapeControl).join(', ')}`,
    );
  return lines;
}

export const FLEET_SCHEMA_VERSION = 1;

export function fleetJson(
  result: FleetResult,
  meta: {
    readonly startedAt: string;
    readonly durationMs: number;
    readonly parallel: number;
    readonly namespace: string | undefined;
    readonly selector: string | undefined;
  },
) {
  const d = result.discovery;
  return {
    schemaVersion: FLEET_SCHEMA_VERSION,
    kind: 'fleet',
    tool: { name: 'irsa-doctor', version: packageJson.version },
    startedAt: meta.startedAt,
    durationMs: meta.durationMs,
    mode: result.mode,
    scope: {
      allNamespaces: meta.namespace === undefined,
      namespace: meta.namespace ?? null,
      selector: meta.selector ?? null,
      parallel: meta.parallel,
    },
    discovery: {
      listing: d.listing,
      namespaces: d.namespaces.length,
      webhook:
        d.webhook.state === 'checked'
          ? { state: d.webhook.value ? 'present' : 'missing' }
          : { state: 'not-checked', reason: d.webhook.reason },
      podIdentityAssociations:
        d.associations.state === 'checked'
          ? { consulted: true, count: d.associations.value }
          : { consulted: false, reason: d.associations.reason },
    },
    summary: summaryOf(result),
    serviceAccounts: result.rows.map((r) => ({
      namespace: r.namespace,
      name: r.serviceAccount,
      sources: r.sources,
      mechanism: r.mechanism,
      verdict: r.verdict ?? 'failed',
      rootCause: r.rootCause,
      durationMs: r.durationMs,
      job: r.job,
      staticFindings: r.staticFindings,
      report: r.report,
      failure: r.failure,
    })),
    forbiddenNamespaces: d.refused.map((r) => ({
      namespace: r.namespace,
      message: r.failure.message,
      fix: r.failure.fix,
    })),
    jobsLeft: result.jobsLeft,
  };
}

export function renderFleetJson(...args: Parameters<typeof fleetJson>): string {
  return renderJsonValue(fleetJson(...args));
}
