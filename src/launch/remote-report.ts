import type { ShellCommand } from '../checks/shell';
import { credentialsCheckOf } from '../run/verification';
import type {
  CheckResult,
  Finding,
  Identity,
  LinkVerification,
  Remedy,
  Report,
  RootCause,
  Verification,
} from '../run/types';
import { CREDENTIALS_STATES, LINK_STATES, NOT_CHECKED_CAUSES, STAGE_ORDER, STATUSES } from '../run/types';

/*
 * The report the doctor printed in a container, read back from its log (`--output json`: one pretty-printed
 * object on stdout; the log may hold its stderr lines around it). The log comes from whatever image --image
 * named, so it is treated as hostile: bounded, parsed as data, every field checked against the shape of
 * docs/report.md before the local renderers see it (they escape every string they print). Unknown finding codes
 * are kept: a newer doctor in the image may know codes this launcher does not.
 */

/** The log is read up to this many bytes; a report is a few dozen KiB. */
export const MAX_LOG_BYTES = 4 * 1024 * 1024;

export function reportFromLog(log: string): Report | undefined {
  const start = log.startsWith('{\n') ? 0 : log.indexOf('\n{\n') + 1;
  if (start < 0 || (start === 0 && !log.startsWith('{\n'))) return undefined;
  const end = log.indexOf('\n}\n', start);
  const stop = end >= 0 ? end + 2 : log.endsWith('\n}') ? log.length : -1;
  if (stop < 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(log.slice(start, stop));
  } catch {
    return undefined;
  }
  return asReport(value);
}

/** The log without the report: what the doctor said on stderr, for messages. */
export function logWithoutReport(log: string): string {
  const start = log.startsWith('{\n') ? 0 : log.indexOf('\n{\n') + 1;
  if (start <= 0 && !log.startsWith('{\n')) return log;
  const end = log.indexOf('\n}\n', start);
  return end < 0 ? log.slice(0, start) : log.slice(0, start) + log.slice(end + 3);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const stringOrNull = (v: unknown): string | null => (isString(v) ? v : null);

function asStrings(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every(isString) ? v : undefined;
}

/**
 * A fix command as the doctor in the cluster printed it. It built it with its own `sh` (src/checks/shell.ts), but
 * a whole command line cannot be quoted again here, and one from an image that is not irsa-doctor's could say
 * anything: it is passed on as that doctor's words, which the renderers escape for the terminal like every
 * other string of the report. The one place a launcher takes a command it did not build.
 */
function remoteCommand(text: string): ShellCommand {
  return text as ShellCommand;
}

function asRemedy(v: unknown): Remedy | undefined {
  if (!isRecord(v) || !isString(v.summary)) return undefined;
  const commands = asStrings(v.commands ?? []);
  const links = asStrings(v.links ?? []);
  if (!commands || !links) return undefined;
  return { summary: v.summary, commands: commands.map(remoteCommand), links };
}

function asVerification(value: unknown): Verification | undefined {
  if (!isRecord(value) || !isString(value.headline) || !isString(value.credentialsCheck)) return undefined;
  if (!CREDENTIALS_STATES.includes(value.credentials as never) || !Array.isArray(value.links)) return undefined;
  const links: LinkVerification[] = [];
  for (const l of value.links) {
    if (!isRecord(l) || !STAGE_ORDER.includes(l.link as never) || !LINK_STATES.includes(l.state as never))
      return undefined;
    const verified = asStrings(l.verified);
    const notApplicable = asStrings(l.notApplicable);
    const problems = asStrings(l.problems);
    if (!verified || !notApplicable || !problems || !Array.isArray(l.notChecked)) return undefined;
    const notChecked: LinkVerification['notChecked'][number][] = [];
    for (const n of l.notChecked) {
      if (!isRecord(n) || !isString(n.checkId) || !isString(n.reason) || !NOT_CHECKED_CAUSES.includes(n.cause as never))
        return undefined;
      notChecked.push({ checkId: n.checkId as never, cause: n.cause as never, reason: n.reason });
    }
    links.push({
      link: l.link as LinkVerification['link'],
      state: l.state as LinkVerification['state'],
      verified: verified as never,
      notApplicable: notApplicable as never,
      problems: problems as never,
      notChecked,
    });
  }
  return {
    credentials: value.credentials as Verification['credentials'],
    credentialsCheck: value.credentialsCheck as Verification['credentialsCheck'],
    links,
    headline: value.headline,
  };
}

const VERDICT_LABEL: Record<Report['verdict'], string> = { healthy: 'HEALTHY', degraded: 'DEGRADED', broken: 'BROKEN' };

export function asReport(value: unknown): Report | undefined {
  if (!isRecord(value) || value.schemaVersion !== 1) return undefined;
  const verdict = value.verdict;
  if (verdict !== 'healthy' && verdict !== 'degraded' && verdict !== 'broken') return undefined;
  const mechanism = value.mechanism;
  if (!['irsa', 'pod-identity', 'static-keys', 'node-role', 'none'].includes(mechanism as string)) return undefined;
  if (!Array.isArray(value.checks) || !Array.isArray(value.findings)) return undefined;
  const checks: CheckResult[] = [];
  for (const c of value.checks) {
    if (!isRecord(c) || !isString(c.id) || !isString(c.title) || !isString(c.summary)) return undefined;
    if (!STATUSES.includes(c.status as never)) return undefined;
    const details: Record<string, string | number | boolean | null> = {};
    if (isRecord(c.details)) {
      for (const [k, d] of Object.entries(c.details)) {
        if (d === null || ['string', 'number', 'boolean'].includes(typeof d))
          details[k] = d as string | number | boolean | null;
      }
    }
    checks.push({
      id: c.id as CheckResult['id'],
      title: c.title,
      status: c.status as CheckResult['status'],
      summary: c.summary,
      durationMs: typeof c.durationMs === 'number' ? c.durationMs : 0,
      dependsOn: (asStrings(c.dependsOn) ?? []) as CheckResult['dependsOn'],
      ...(isRecord(c.details) ? { details } : {}),
    });
  }
  const findings: Finding[] = [];
  for (const f of value.findings) {
    if (!isRecord(f) || !isString(f.code) || !isString(f.checkId) || !isString(f.summary)) return undefined;
    if (f.severity !== 'error' && f.severity !== 'warning' && f.severity !== 'info') return undefined;
    const remedy = asRemedy(f.remedy);
    if (!remedy) return undefined;
    findings.push({
      code: f.code as Finding['code'],
      severity: f.severity,
      checkId: f.checkId as Finding['checkId'],
      summary: f.summary,
      evidence: isRecord(f.evidence) ? f.evidence : {},
      remedy,
    });
  }
  let rootCause: RootCause | null = null;
  if (value.rootCause !== null && value.rootCause !== undefined) {
    const r = value.rootCause;
    const remedy = isRecord(r) ? asRemedy(r.remedy) : undefined;
    if (!isRecord(r) || !isString(r.code) || !isString(r.checkId) || !isString(r.summary) || !remedy) return undefined;
    rootCause = {
      code: r.code as RootCause['code'],
      checkId: r.checkId as RootCause['checkId'],
      summary: r.summary,
      remedy,
    };
  }
  const identity = isRecord(value.identity) ? value.identity : {};
  const sources = ['irsa', 'pod-identity', 'node-role', 'static-keys', 'profile', 'none', 'unknown'];
  const tool = isRecord(value.tool) && isString(value.tool.version) ? value.tool.version : 'unknown';
  let verification: Verification | undefined;
  if (value.verification !== undefined) {
    verification = asVerification(value.verification);
    if (!verification) return undefined;
  }
  // A doctor older than `verification` (docs/report.md) in the image: its verdict, and that it said no more.
  verification ??= {
    credentials: verdict === 'healthy' ? 'obtained' : 'not-checked',
    credentialsCheck: credentialsCheckOf(mechanism as Report['mechanism']),
    links: [],
    headline: `${VERDICT_LABEL[verdict]}: as reported by irsa-doctor ${tool} in the cluster, which does not say what it verified`,
  };
  return {
    // Additive fields of newer doctors are kept as they are: the JSON output passes them through.
    ...value,
    schemaVersion: 1,
    tool: { name: 'irsa-doctor', version: tool },
    startedAt: isString(value.startedAt) ? value.startedAt : '',
    durationMs: typeof value.durationMs === 'number' ? value.durationMs : 0,
    mechanism: mechanism as Report['mechanism'],
    verdict,
    rootCause,
    findings,
    checks,
    identity: {
      expectedRoleArn: stringOrNull(identity.expectedRoleArn),
      callerArn: stringOrNull(identity.callerArn),
      source: (sources.includes(identity.source as string) ? identity.source : 'unknown') as Identity['source'],
      nodeRoleArn: stringOrNull(identity.nodeRoleArn),
    },
    verification,
  } as Report;
}
