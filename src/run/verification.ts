import type { CheckId } from '../checks/outputs';
import type {
  CheckResult,
  CredentialsState,
  Finding,
  LinkState,
  LinkVerification,
  Mechanism,
  NotChecked,
  NotCheckedCause,
  Stage,
  Verdict,
  Verification,
} from './types';
import { assertNever } from './types';

/*
 * What a run verified and what it did not. A verdict never claims more than was checked: "healthy" and "gets
 * the AWS credentials" are said only of runs that obtained the credentials (or confirmed who an app here is),
 * and every other run names what it left out and why (docs/report.md, "verification").
 */

/** How far one check got: it ran (to any status but skip/error), had nothing to check, or did not check. */
export type Coverage =
  | { readonly kind: 'ran' }
  | { readonly kind: 'not-applicable' }
  | { readonly kind: 'not-checked'; readonly cause: NotCheckedCause; readonly reason: string };

export interface Covered {
  readonly id: CheckId;
  readonly stage: Stage;
  /** Undefined for a check --only left out of the run. */
  readonly result: CheckResult | undefined;
  readonly coverage: Coverage;
  /**
   * Whether it handed its dependants an output. A credential check publishes one only with the credentials in
   * hand: sts.assume-role answering `warn` for throttling got none.
   */
  readonly published: boolean;
}

/** Reading order of the links in `verification.links`: the chain as a pod's credentials travel it. */
export const LINK_ORDER: readonly Stage[] = ['env', 'token', 'issuer', 'sts', 'identity', 'kube'];

const LINK_NOUNS: Record<Stage, string> = {
  env: 'env',
  token: 'token',
  issuer: 'OIDC issuer',
  sts: 'STS',
  identity: 'caller identity',
  kube: 'Kubernetes objects',
};

/** The check whose success means this mechanism's credentials were issued. */
export function credentialsCheckOf(mechanism: Mechanism): CheckId {
  switch (mechanism) {
    case 'irsa':
      return 'sts.assume-role';
    case 'pod-identity':
      return 'pod-identity.agent';
    case 'static-keys':
    case 'node-role':
    case 'none':
      return 'identity.caller';
    default:
      return assertNever(mechanism);
  }
}

export function linksOf(covered: readonly Covered[], findings: readonly Finding[]): LinkVerification[] {
  const withError = new Set(findings.filter((f) => f.severity === 'error').map((f) => f.checkId));
  return LINK_ORDER.flatMap((link): LinkVerification[] => {
    const mine = covered.filter((c) => c.stage === link);
    if (mine.length === 0) return [];
    const verified: CheckId[] = [];
    const notApplicable: CheckId[] = [];
    const problems: CheckId[] = [];
    const notChecked: NotChecked[] = [];
    for (const c of mine) {
      if (c.result?.status === 'fail' || withError.has(c.id)) problems.push(c.id);
      else if (c.coverage.kind === 'not-applicable') notApplicable.push(c.id);
      else if (c.coverage.kind === 'not-checked') {
        notChecked.push({ checkId: c.id, cause: c.coverage.cause, reason: c.coverage.reason });
      } else verified.push(c.id);
    }
    let state: LinkState;
    if (problems.length > 0) state = 'problem';
    else if (notChecked.length === 0) state = 'verified';
    else if (verified.length === 0) state = 'not-checked';
    else state = 'partial';
    return [{ link, state, verified, notApplicable, problems, notChecked }];
  });
}

export function credentialsOf(
  mechanism: Mechanism,
  covered: readonly Covered[],
): { readonly credentials: CredentialsState; readonly credentialsCheck: CheckId } {
  const entry = (id: CheckId) => covered.find((c) => c.id === id);
  const ran = (id: CheckId) => ['pass', 'warn', 'fail'].includes(entry(id)?.result?.status ?? '');
  const ok = (id: CheckId) => {
    const status = entry(id)?.result?.status;
    return (status === 'pass' || status === 'warn') && entry(id)?.published === true;
  };
  const issuing = credentialsCheckOf(mechanism);
  if (ok(issuing)) return { credentials: 'obtained', credentialsCheck: issuing };
  if (ok('identity.caller')) return { credentials: 'obtained', credentialsCheck: 'identity.caller' };
  if (ran(issuing)) return { credentials: 'not-obtained', credentialsCheck: issuing };
  return { credentials: 'not-checked', credentialsCheck: issuing };
}

/**
 * Whether nothing the credential claim rests on was left out: every check of env, token, issuer, STS and
 * identity ran or had nothing to check. The Kubernetes objects explain a broken chain but are not part of it:
 * a pod whose credentials were issued gets them whether or not the doctor may read its ServiceAccount.
 */
export function chainComplete(links: readonly LinkVerification[]): boolean {
  return links.every((l) => l.link === 'kube' || l.notChecked.length === 0);
}

/**
 * `broken` on any error finding; `degraded` on warnings, on checks that could not finish, and on every run that
 * did not obtain the credentials or left part of the chain unchecked (--offline, --only, --skip, ...); else
 * `healthy`. The exit code does not change with it: 0 unless an error finding (docs/cli.md, "Exit codes").
 */
export function verdictOf(
  findings: readonly Finding[],
  checks: readonly CheckResult[],
  verification?: Pick<Verification, 'credentials' | 'links'>,
): Verdict {
  if (findings.some((f) => f.severity === 'error')) return 'broken';
  if (findings.some((f) => f.severity === 'warning')) return 'degraded';
  if (checks.some((c) => c.status === 'error' || c.status === 'warn')) return 'degraded';
  if (verification && (verification.credentials !== 'obtained' || !chainComplete(verification.links))) {
    return 'degraded';
  }
  return 'healthy';
}

export interface HeadlineInput {
  readonly verdict: Verdict;
  readonly mechanism: Mechanism;
  readonly findings: readonly Finding[];
  readonly checks: readonly CheckResult[];
  readonly credentials: CredentialsState;
  readonly credentialsCheck: CheckId;
  readonly links: readonly LinkVerification[];
}

/**
 * The verdict line, derived from what was verified:
 * - HEALTHY / BROKEN as before;
 * - DEGRADED when there are warnings, INCOMPLETE when there are none but the run left something out;
 * then what was found fine, whether the credentials were obtained, and what was not checked, grouped by why:
 * "INCOMPLETE: no problem in env, token and trust.policy; STS not called: --offline; not checked: OIDC
 * issuer, caller identity and Kubernetes objects (--offline)".
 */
export function headlineOf(input: HeadlineInput): string {
  const { verdict, links } = input;
  switch (verdict) {
    case 'broken':
      return input.mechanism === 'irsa' || input.mechanism === 'pod-identity'
        ? 'BROKEN: this pod will not get the AWS credentials it is set up for'
        : 'BROKEN: this pod is not set up for IRSA or EKS Pod Identity';
    case 'healthy':
      return [
        'HEALTHY: this pod gets the AWS credentials it is set up for',
        ...notCheckedPhrases(links, undefined),
      ].join('; ');
    case 'degraded': {
      const warned =
        input.findings.some((f) => f.severity === 'warning') || input.checks.some((c) => c.status === 'warn');
      const parts: string[] = [];
      const everything = links.every((l) => l.notChecked.length === 0);
      if (input.credentials === 'obtained') {
        const issued = issuedPhrase(input.credentialsCheck, chainComplete(links));
        parts.push(warned ? `${issued}, but see the warnings above` : issued);
      } else {
        const fine = joinWords(verifiedItems(links, input.credentialsCheck));
        if (warned) parts.push(`nothing broken${fine && !everything ? ` in ${fine}` : ''}, but see the warnings above`);
        else parts.push(fine ? `no problem in ${fine}` : 'nothing was verified');
        parts.push(missingCredentialsPhrase(input));
      }
      const skipped = input.credentials === 'obtained' ? undefined : input.credentialsCheck;
      parts.push(...notCheckedPhrases(links, skipped));
      return `${warned ? 'DEGRADED' : 'INCOMPLETE'}: ${parts.join('; ')}`;
    }
    default:
      return assertNever(verdict);
  }
}

function issuedPhrase(check: CheckId, complete: boolean): string {
  if (complete) return 'this pod gets the AWS credentials it is set up for';
  if (check === 'sts.assume-role') return 'STS issued the credentials this pod is set up for';
  if (check === 'pod-identity.agent') return 'the Pod Identity agent issued the credentials this pod is set up for';
  return 'an app here gets the expected identity';
}

function credentialsNoun(check: CheckId): string {
  if (check === 'sts.assume-role') return 'STS';
  if (check === 'pod-identity.agent') return 'Pod Identity agent';
  return 'caller identity';
}

/** "STS not called: --offline", "Pod Identity agent gave no credentials (see pod-identity.agent)". */
function missingCredentialsPhrase(input: HeadlineInput): string {
  const noun = credentialsNoun(input.credentialsCheck);
  if (input.credentials === 'not-obtained') return `${noun} gave no credentials (see ${input.credentialsCheck})`;
  const entry = input.links.flatMap((l) => l.notChecked).find((n) => n.checkId === input.credentialsCheck);
  if (entry === undefined) return `${noun} not checked`;
  if (entry.cause === 'error') return `the ${noun} call did not finish (${shortReason(entry)})`;
  return `${noun} not ${noun === 'caller identity' ? 'checked' : 'called'}: ${shortReason(entry)}`;
}

/**
 * Whole links by their noun, and the verified checks of partial links by id. The credential check, which did
 * not get the credentials, is said separately: its link is named by its other checks.
 */
function verifiedItems(links: readonly LinkVerification[], except: CheckId): string[] {
  return links.flatMap((l): readonly string[] => {
    const others = l.verified.filter((id) => id !== except);
    if (l.state === 'verified' && others.length === l.verified.length)
      return others.length > 0 ? [LINK_NOUNS[l.link]] : [];
    if (l.state === 'verified' || l.state === 'partial') return others;
    return [];
  });
}

/** "not checked: OIDC issuer and caller identity (--offline)", one phrase per reason. */
function notCheckedPhrases(links: readonly LinkVerification[], except: CheckId | undefined): string[] {
  const groups = new Map<string, string[]>();
  const add = (reason: string, item: string) => groups.set(reason, [...(groups.get(reason) ?? []), item]);
  for (const link of links) {
    const entries = link.notChecked.filter((n) => n.checkId !== except);
    if (entries.length === 0) continue;
    const reasons = new Set(entries.map(shortReason));
    const whole = link.state === 'not-checked' && entries.length === link.notChecked.length && reasons.size === 1;
    if (whole) add([...reasons][0] ?? '', LINK_NOUNS[link.link]);
    else for (const entry of entries) add(shortReason(entry), entry.checkId);
  }
  return [...groups].map(([reason, items]) => `not checked: ${joinWords(items)} (${reason})`);
}

const REASON_MAX = 80;

function shortReason(entry: NotChecked): string {
  switch (entry.cause) {
    case 'only':
      return '--only';
    case 'skip':
      return '--skip';
    case 'offline':
      return '--offline';
    case 'no-kube':
      return '--no-kube';
    case 'error':
      return 'could not finish';
    case 'dependency':
    case 'unavailable':
      return headlineReason(entry.reason);
    default:
      return assertNever(entry.cause);
  }
}

/**
 * A check's reason, short enough for the headline: the same reason inherited through a dependency reads the
 * same (so the link is named once), and a long one keeps its first clause ("no Kubernetes API access", "not
 * permitted (HTTP 403)"); the whole reason stays in `notChecked[].reason`.
 */
function headlineReason(reason: string): string {
  const own = reason.replace(/^depends on [a-z.-]+: /, '');
  const clause = own.length > 40 ? (/^(.{12,}?)(?:: |; )/.exec(own)?.[1] ?? own) : own;
  return clause.length > REASON_MAX ? `${clause.slice(0, REASON_MAX - 3)}...` : clause;
}

function joinWords(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Assembles the Report's `verification` from what each check got to. */
export function verificationOf(
  mechanism: Mechanism,
  covered: readonly Covered[],
  findings: readonly Finding[],
  checks: readonly CheckResult[],
): { readonly verdict: Verdict; readonly verification: Verification } {
  const links = linksOf(covered, findings);
  const { credentials, credentialsCheck } = credentialsOf(mechanism, covered);
  const verdict = verdictOf(findings, checks, { credentials, links });
  const headline = headlineOf({ verdict, mechanism, findings, checks, credentials, credentialsCheck, links });
  return { verdict, verification: { credentials, credentialsCheck, links, headline } };
}
