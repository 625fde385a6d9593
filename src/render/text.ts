import type { Finding, Report, Snippet, Status } from '../run/types';
import { assertNever } from '../run/types';
import { commandLines, displayValue, escapeControl } from './escape';

/** The label of a status in plain text: fixed width, greppable in Job logs. */
export function statusLabel(status: Status): string {
  switch (status) {
    case 'pass':
      return 'PASS';
    case 'warn':
      return 'WARN';
    case 'fail':
      return 'FAIL';
    case 'skip':
      return 'SKIP';
    case 'error':
      return 'ERR ';
    default:
      return assertNever(status);
  }
}

/**
 * The verdict in words, as `verification.headline` has it (derived from what was verified, so a run that did
 * not obtain the credentials never says it did); escaped, as it quotes the reasons checks gave.
 */
export function verdictLine(report: Pick<Report, 'verification'>): string {
  return escapeControl(report.verification.headline);
}

/**
 * The mechanism as the header shows it: `none` is what env.mechanism concluded, not what a run that left it
 * out (--only, --skip) knows.
 */
export function mechanismWords(report: Pick<Report, 'mechanism' | 'checks'>): string {
  const status = report.checks.find((c) => c.id === 'env.mechanism')?.status;
  const looked = status === 'pass' || status === 'warn' || status === 'fail';
  return looked || report.mechanism !== 'none' ? report.mechanism : 'not checked';
}

export interface TextOptions {
  /** Details of checks that passed or were skipped too (--verbose); by default only of those with a problem. */
  readonly verbose?: boolean;
}

/** Whether a check's details lines are shown: always for a problem, for the rest only with --verbose. */
export function showsDetails(status: Status, verbose: boolean): boolean {
  return verbose || status === 'warn' || status === 'fail' || status === 'error';
}

/**
 * Plain text for logs and pipes: no ANSI, no cursor movement, one line per check, then findings with their
 * fixes, then the verdict. Every string from outside goes through escapeControl.
 */
export function renderText(report: Report, options: TextOptions = {}): string {
  const lines: string[] = [];
  const idWidth = Math.max(...report.checks.map((c) => c.id.length), 8);
  lines.push(`irsa-doctor ${report.tool.version}  mechanism: ${mechanismWords(report)}  (${report.durationMs} ms)`);
  lines.push('');
  for (const check of report.checks) {
    lines.push(`[${statusLabel(check.status)}] ${check.id.padEnd(idWidth)}  ${escapeControl(check.summary)}`);
    if (!showsDetails(check.status, options.verbose ?? false)) continue;
    for (const [key, value] of Object.entries(check.details ?? {})) {
      lines.push(`${' '.repeat(idWidth + 9)}${escapeControl(key)}: ${displayValue(value)}`);
    }
  }
  const identity = report.identity;
  if (identity.expectedRoleArn || identity.callerArn || identity.nodeRoleArn) {
    lines.push('');
    lines.push('Identity');
    if (identity.expectedRoleArn) lines.push(`  expected role: ${escapeControl(identity.expectedRoleArn)}`);
    if (identity.callerArn)
      lines.push(`  caller:        ${escapeControl(identity.callerArn)} (source: ${identity.source})`);
    if (identity.nodeRoleArn) lines.push(`  node role:     ${escapeControl(identity.nodeRoleArn)}`);
  }
  if (report.findings.length > 0) {
    lines.push('');
    lines.push('Findings');
    const cause = report.rootCause;
    for (const finding of report.findings) {
      const isRoot = cause !== null && finding.code === cause.code && finding.checkId === cause.checkId;
      lines.push(...findingLines(finding, isRoot));
    }
  }
  lines.push('');
  lines.push(verdictLine(report));
  if (report.rootCause) {
    const cause = report.rootCause;
    lines.push(`Root cause: ${cause.code} (${cause.checkId})`);
    lines.push(`  ${escapeControl(cause.summary)}`);
    lines.push(`Fix: ${escapeControl(cause.remedy.summary)}`);
    lines.push(...commandBlock(cause.remedy.commands, '  '));
    lines.push(...snippetBlock(cause.remedy.snippets, '  '));
    for (const link of cause.remedy.links) lines.push(`  see ${escapeControl(link)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A finding with its evidence and fix. The root cause is printed once, under the verdict: its summary and
 * fix are not repeated here, only where it sits among the findings and its evidence.
 */
function findingLines(finding: Finding, isRootCause: boolean): string[] {
  const lines = [`  ${finding.severity.toUpperCase().padEnd(7)} ${finding.code} (${finding.checkId})`];
  if (!isRootCause) lines.push(`          ${escapeControl(finding.summary)}`);
  const evidence = Object.entries(finding.evidence);
  if (evidence.length > 0) {
    lines.push(
      `          evidence: ${evidence.map(([k, v]) => `${escapeControl(k)}=${displayValue(v, 200)}`).join(', ')}`,
    );
  }
  if (isRootCause) {
    lines.push('          the root cause: what it means and its fix are below');
    return lines;
  }
  lines.push(`          fix: ${escapeControl(finding.remedy.summary)}`);
  lines.push(...commandBlock(finding.remedy.commands, '            '));
  lines.push(...snippetBlock(finding.remedy.snippets, '            '));
  return lines;
}

/**
 * Documents of a remedy (YAML, Terraform, eksctl config) whole: a title line, then the text unindented so
 * that what is copied is the document itself, and never behind a `$` prompt (it is not a command).
 */
function snippetBlock(snippets: readonly Snippet[] | undefined, indent: string): string[] {
  return (snippets ?? []).flatMap((snippet) => [
    `${indent}${escapeControl(snippet.title)}:`,
    ...snippet.text.split('\n').map(escapeControl),
  ]);
}

/**
 * Every fix command of the report, root cause first, as plain lines: the TUI writes them after Ink has
 * finished, because Ink hard-wraps text to the terminal width (inside a border, too) and a wrapped command
 * cannot be copied; plain lines are only soft-wrapped by the terminal.
 */
export function fixCommandLines(report: Report): string[] {
  const cause = report.rootCause;
  const sources = [
    ...(cause ? [{ label: `${cause.code} (root cause)`, remedy: cause.remedy }] : []),
    ...report.findings
      .filter((f) => !(cause && f.code === cause.code && f.checkId === cause.checkId))
      .map((f) => ({ label: f.code, remedy: f.remedy })),
  ].filter((s) => s.remedy.commands.length > 0 || (s.remedy.snippets ?? []).length > 0);
  const lines: string[] = [];
  for (const { label, remedy } of sources) {
    lines.push(`Fix ${label}:`, ...commandBlock(remedy.commands, '  '), ...snippetBlock(remedy.snippets, '  '));
  }
  return lines;
}

/** Commands as `$ ` lines under `indent`; a here-document's body and terminator stay unindented (commandLines). */
function commandBlock(commands: readonly string[], indent: string): string[] {
  return commands.flatMap((command) => {
    const { first, rest } = commandLines(command);
    return [`${indent}${first}`, ...rest];
  });
}
