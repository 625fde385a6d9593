import type { ShellCommand } from '../checks/shell';
import {
  Placeholder,
  namespaceArg,
  placeholder,
  roleNameArg,
  serviceAccountArg,
  sh,
  yamlScalar,
} from '../checks/shell';
import { GlobBudget, globMatch } from './glob';

/**
 * A role trust policy evaluated offline against this pod's AssumeRoleWithWebIdentity request, the way IAM
 * does it (docs/mechanics.md 3.2 and 3.4): explicit Deny wins, then any Allow statement whose
 * Principal, Action and every Condition match; otherwise the implicit deny. Pure functions, no I/O.
 *
 * Rules implemented, and why:
 * - Statement may be one object or an array; statements are ORed; within a statement, operators and keys are
 *   ANDed and the values listed for one key are ORed.
 * - Condition key NAMES are compared case-insensitively (IAM rule), condition VALUES case-sensitively, except
 *   under the ...IgnoreCase operators. `*` inside StringEquals is a literal character; only StringLike and
 *   StringNotLike know `*` (any run) and `?` (one character).
 * - Keys of this request: `<issuer host>:sub` (one value) and `<issuer host>:aud` (the token's audiences).
 *   A key named after another issuer host is a MISSING key, so it fails every non-negated operator unless the
 *   operator ends in IfExists. `aws:*` global keys (source IP, time...) and `sts:*` keys other than
 *   sts:RoleSessionName cannot be known offline: they make the result "indeterminate", never a guess.
 * - `aud` is multi-valued in the token (string or array). EKS projected tokens carry exactly one audience (the
 *   webhook requests one), so every reading agrees for them. For a multi-audience token we apply a plain
 *   (single-valued) operator as "some audience satisfies it" and a negated one as "no audience matches",
 *   which is how IAM treats a single-valued operator against a multi-valued key; ForAnyValue:/ForAllValues:
 *   follow the IAM set rules, including ForAllValues being true for a missing key and ForAnyValue false.
 * - A missing key makes negated operators (StringNotEquals, StringNotLike...) true, as in IAM.
 * - Principal: only `Federated` naming exactly this provider ARN, or the bare `"*"` (everyone), matches a web
 *   identity request. `AWS`, `Service` and `CanonicalUser` principals (even `{"AWS": "*"}`) are for other
 *   callers; a `*` inside Federated is not a wildcard (IAM allows wildcards only as the whole principal).
 * - Action / NotAction: wildcards `*` and `?`, case-insensitive (action names are case-insensitive in IAM).
 */

export const WEB_IDENTITY_ACTION = 'sts:AssumeRoleWithWebIdentity';

/** What STS is asked, as far as the trust policy sees it. */
export interface WebIdentityRequest {
  /** arn:PARTITION:iam::ROLE_ACCOUNT:oidc-provider/ISSUER_HOST_AND_PATH */
  readonly providerArn: string;
  /** The token's iss without https:// and without a trailing slash. */
  readonly issuerHost: string;
  readonly claims: { readonly sub: string; readonly aud: readonly string[] };
  /** Defaults to sts:AssumeRoleWithWebIdentity. */
  readonly action?: string;
  /** The RoleSessionName when known (AWS_ROLE_SESSION_NAME); otherwise sts:RoleSessionName is unknown. */
  readonly sessionName?: string;
}

export type TrustFailureCode =
  | 'TRUST_POLICY_SUB_MISMATCH'
  | 'TRUST_POLICY_AUD_MISMATCH'
  | 'TRUST_POLICY_PRINCIPAL_MISMATCH'
  | 'TRUST_POLICY_DENIED'
  | 'POD_IDENTITY_TRUST_POLICY_DENIED';

/** One reason the policy does not allow this request, in the policy's own words. */
export interface TrustFailure {
  readonly code: TrustFailureCode;
  /** Index in the Statement list (0-based), or null when no statement is involved. */
  readonly statement: number | null;
  readonly sid: string | null;
  /** The operator as written (`StringEquals`, `ForAnyValue:StringLike`), or `Principal` / `Action`. */
  readonly operator: string | null;
  /** The condition key as written, or `Federated` for a principal mismatch. */
  readonly key: string | null;
  readonly expected: readonly string[];
  readonly actual: readonly string[];
  /** Plain words: which statement and condition fail, and how. */
  readonly reason: string;
  /** The likely slip behind it (host-order typo, other account, wildcard under StringEquals...). */
  readonly hint?: string;
}

export type TrustWarningKind = 'no-sub-condition' | 'principal-wildcard' | 'sub-wildcard' | 'multiple-audiences';

export interface TrustWarning {
  readonly kind: TrustWarningKind;
  readonly statement: number | null;
  readonly message: string;
}

export type TrustDecision = 'allow' | 'deny' | 'explicit-deny' | 'indeterminate';

export interface TrustEvaluation {
  readonly decision: TrustDecision;
  readonly allowed: boolean;
  /** The statement that allows the request. */
  readonly allowedBy: { readonly statement: number; readonly sid: string | null } | null;
  /** The failure to report first (most likely the one to fix), when not allowed. */
  readonly failure: TrustFailure | null;
  /** Every failure of the statement closest to allowing (the first one is `failure`). */
  readonly failures: readonly TrustFailure[];
  readonly warnings: readonly TrustWarning[];
  /** Keys whose value cannot be known offline (they make the decision indeterminate). */
  readonly unknownKeys: readonly string[];
  /** Set when wildcard matching hit its work limit (src/aws/glob.ts): the undecided clauses are why. */
  readonly matchingExhausted?: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Parsing: the document, validated into a closed shape.

export type PrincipalSpec =
  | { readonly kind: 'everyone' }
  | { readonly kind: 'map'; readonly entries: Readonly<Record<string, readonly string[]>> };

export interface ConditionClause {
  /** As written in the policy. */
  readonly operator: string;
  readonly key: string;
  readonly values: readonly string[];
}

export interface TrustStatement {
  /** The statement as written, for a corrected document that keeps every other statement as it is. */
  readonly raw: Readonly<Record<string, unknown>>;
  readonly index: number;
  readonly sid: string | null;
  readonly effect: 'Allow' | 'Deny';
  readonly principal: { readonly negated: boolean; readonly spec: PrincipalSpec } | null;
  readonly action: { readonly negated: boolean; readonly patterns: readonly string[] } | null;
  readonly conditions: readonly ConditionClause[];
}

export interface TrustPolicyDocument {
  readonly version: string | null;
  readonly statements: readonly TrustStatement[];
  /** The role, when the text is `aws iam get-role` output (Role.RoleName, Role.Arn). */
  readonly role?: { readonly name: string | undefined; readonly arn: string | undefined };
}

export class TrustPolicyError extends Error {
  override readonly name = 'TrustPolicyError';
}

/**
 * Parses the text of a trust policy file. Accepts the policy document itself, the output of
 * `aws iam get-role` ({"Role": {"AssumeRolePolicyDocument": ...}}), and the URL-encoded document the raw IAM
 * API returns, so users can paste whichever they have.
 */
export function parseTrustPolicyText(text: string): TrustPolicyDocument {
  let json: unknown;
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed === '') throw new TrustPolicyError('the file is empty');
  try {
    json = JSON.parse(trimmed.startsWith('%7B') ? decodeURIComponent(trimmed) : trimmed);
  } catch (error) {
    throw new TrustPolicyError(`not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseTrustPolicy(json);
}

export function parseTrustPolicy(json: unknown): TrustPolicyDocument {
  let document = json;
  let role: TrustPolicyDocument['role'];
  if (isObject(document) && isObject(document.Role) && 'AssumeRolePolicyDocument' in document.Role) {
    const { RoleName, Arn } = document.Role;
    role = {
      name: typeof RoleName === 'string' ? RoleName : undefined,
      arn: typeof Arn === 'string' ? Arn : undefined,
    };
    document = document.Role.AssumeRolePolicyDocument;
  } else if (isObject(document) && 'AssumeRolePolicyDocument' in document) {
    document = document.AssumeRolePolicyDocument;
  }
  if (typeof document === 'string') {
    try {
      document = JSON.parse(document.startsWith('%7B') ? decodeURIComponent(document) : document);
    } catch {
      throw new TrustPolicyError('AssumeRolePolicyDocument is a string that is not JSON');
    }
  }
  if (!isObject(document)) throw new TrustPolicyError('a policy document is a JSON object with a "Statement"');
  const version = document.Version;
  if (version !== undefined && version !== '2012-10-17' && version !== '2008-10-17') {
    throw new TrustPolicyError(`"Version" must be "2012-10-17" (got ${JSON.stringify(version)})`);
  }
  const raw = document.Statement;
  if (raw === undefined) throw new TrustPolicyError('the document has no "Statement"');
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new TrustPolicyError('"Statement" is an empty list');
  return {
    version: typeof version === 'string' ? version : null,
    statements: list.map((s, i) => parseStatement(s, i)),
    ...(role ? { role } : {}),
  };
}

function parseStatement(raw: unknown, index: number): TrustStatement {
  const where = `Statement[${index}]`;
  if (!isObject(raw)) throw new TrustPolicyError(`${where} is not an object`);
  const sid = raw.Sid === undefined ? null : typeof raw.Sid === 'string' ? raw.Sid : null;
  if (raw.Effect !== 'Allow' && raw.Effect !== 'Deny') {
    throw new TrustPolicyError(`${where}.Effect must be "Allow" or "Deny" (got ${JSON.stringify(raw.Effect)})`);
  }
  if (raw.Principal !== undefined && raw.NotPrincipal !== undefined) {
    throw new TrustPolicyError(`${where} has both Principal and NotPrincipal`);
  }
  if (raw.Action !== undefined && raw.NotAction !== undefined) {
    throw new TrustPolicyError(`${where} has both Action and NotAction`);
  }
  const principalRaw = raw.Principal ?? raw.NotPrincipal;
  const actionRaw = raw.Action ?? raw.NotAction;
  return {
    raw,
    index,
    sid,
    effect: raw.Effect,
    principal:
      principalRaw === undefined
        ? null
        : { negated: raw.Principal === undefined, spec: parsePrincipal(principalRaw, where) },
    action:
      actionRaw === undefined
        ? null
        : { negated: raw.Action === undefined, patterns: stringList(actionRaw, `${where}.Action`) },
    conditions: raw.Condition === undefined ? [] : parseConditions(raw.Condition, where),
  };
}

function parsePrincipal(raw: unknown, where: string): PrincipalSpec {
  if (raw === '*') return { kind: 'everyone' };
  if (!isObject(raw))
    throw new TrustPolicyError(`${where}.Principal must be "*" or an object like {"Federated": "..."}`);
  const entries: Record<string, readonly string[]> = {};
  for (const [type, value] of Object.entries(raw)) entries[type] = stringList(value, `${where}.Principal.${type}`);
  return { kind: 'map', entries };
}

function parseConditions(raw: unknown, where: string): ConditionClause[] {
  if (!isObject(raw)) throw new TrustPolicyError(`${where}.Condition must be an object`);
  const clauses: ConditionClause[] = [];
  for (const [operator, block] of Object.entries(raw)) {
    if (!isObject(block)) throw new TrustPolicyError(`${where}.Condition.${operator} must be an object of keys`);
    for (const [key, value] of Object.entries(block)) {
      clauses.push({ operator, key, values: stringList(value, `${where}.Condition.${operator}["${key}"]`, true) });
    }
  }
  return clauses;
}

function stringList(value: unknown, where: string, scalars = false): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => {
    if (typeof v === 'string') return v;
    // IAM accepts booleans and numbers as condition values and compares their text.
    if (scalars && (typeof v === 'boolean' || typeof v === 'number')) return String(v);
    throw new TrustPolicyError(`${where} must be a string or a list of strings`);
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------------------
// Operators.

type BaseOperator =
  | 'StringEquals'
  | 'StringNotEquals'
  | 'StringEqualsIgnoreCase'
  | 'StringNotEqualsIgnoreCase'
  | 'StringLike'
  | 'StringNotLike'
  | 'Null';

const BASE_OPERATORS: readonly BaseOperator[] = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'Null',
];

interface ParsedOperator {
  readonly set: 'ForAnyValue' | 'ForAllValues' | null;
  readonly base: BaseOperator;
  readonly ifExists: boolean;
}

function parseOperator(written: string): ParsedOperator | undefined {
  let rest = written;
  let set: ParsedOperator['set'] = null;
  const prefix = /^(ForAnyValue|ForAllValues):/i.exec(rest);
  if (prefix) {
    set = prefix[1]?.toLowerCase() === 'foranyvalue' ? 'ForAnyValue' : 'ForAllValues';
    rest = rest.slice(prefix[0].length);
  }
  let ifExists = false;
  if (/IfExists$/i.test(rest) && rest.length > 'IfExists'.length) {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
  }
  const base = BASE_OPERATORS.find((op) => op.toLowerCase() === rest.toLowerCase());
  return base ? { set, base, ifExists } : undefined;
}

function isNegated(base: BaseOperator): boolean {
  return base === 'StringNotEquals' || base === 'StringNotEqualsIgnoreCase' || base === 'StringNotLike';
}

/** What one evaluation shares: the matching budget, and whether the policy version has policy variables. */
interface MatchContext {
  readonly budget: GlobBudget;
  readonly variables: boolean;
}

function matchContext(policy: TrustPolicyDocument, budget: GlobBudget): MatchContext {
  return { budget, variables: policy.version === '2012-10-17' };
}

/** Does one request value match one policy value, for the positive form of the operator? */
function valueMatches(base: BaseOperator, actual: string, expected: string, ctx: MatchContext): boolean {
  switch (base) {
    case 'StringEquals':
    case 'StringNotEquals':
      return actual === expected;
    case 'StringEqualsIgnoreCase':
    case 'StringNotEqualsIgnoreCase':
      return actual.toLowerCase() === expected.toLowerCase();
    case 'StringLike':
    case 'StringNotLike':
      // An exhausted budget reads as false here; evaluateClause then reports the clause as unknown.
      return globMatch(expected, actual, { variables: ctx.variables }, ctx.budget) === true;
    case 'Null':
      return false; // Null is decided on presence, never on values (see evaluateClause).
  }
}

/**
 * IAM globbing: `*` any run of characters (also none), `?` exactly one (src/aws/glob.ts, linear time). Outside
 * an evaluation (hints) with its own budget; a match that cannot finish within it is no match.
 */
export function wildcardMatch(pattern: string, value: string, ignoreCase: boolean, budget?: GlobBudget): boolean {
  return globMatch(pattern, value, { ignoreCase }, budget) === true;
}

// ---------------------------------------------------------------------------------------------------------
// The request context.

type KeyLookup =
  | { readonly kind: 'present'; readonly values: readonly string[]; readonly claim: 'sub' | 'aud' | 'other' }
  | { readonly kind: 'missing'; readonly otherIssuer?: string; readonly claim?: string }
  | { readonly kind: 'unknown' };

const ISSUER_CLAIM_KEY = /^(.+):(sub|aud|amr|oaud|azp|email)$/i;

function lookupKey(key: string, request: WebIdentityRequest): KeyLookup {
  const lower = key.toLowerCase();
  const host = request.issuerHost.toLowerCase();
  if (lower === `${host}:sub`) return { kind: 'present', values: [request.claims.sub], claim: 'sub' };
  if (lower === `${host}:aud`) return { kind: 'present', values: request.claims.aud, claim: 'aud' };
  if (lower === 'sts:rolesessionname') {
    return request.sessionName === undefined
      ? { kind: 'unknown' }
      : { kind: 'present', values: [request.sessionName], claim: 'other' };
  }
  if (lower.startsWith('aws:') || lower.startsWith('sts:')) return { kind: 'unknown' };
  const claimKey = ISSUER_CLAIM_KEY.exec(key);
  if (claimKey) {
    const [, prefix = '', claim = ''] = claimKey;
    if (prefix.toLowerCase() === host) return { kind: 'missing', claim: claim.toLowerCase() };
    return { kind: 'missing', otherIssuer: prefix, claim: claim.toLowerCase() };
  }
  return { kind: 'missing' };
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation.

type Truth = true | false | 'unknown';

interface ClauseResult {
  readonly clause: ConditionClause;
  readonly truth: Truth;
  readonly lookup: KeyLookup;
  readonly supported: boolean;
}

function evaluateClause(clause: ConditionClause, request: WebIdentityRequest, ctx: MatchContext): ClauseResult {
  return evaluateClauseWith(clause, lookupKey(clause.key, request), ctx);
}

function evaluateClauseWith(clause: ConditionClause, lookup: KeyLookup, ctx: MatchContext): ClauseResult {
  const op = parseOperator(clause.operator);
  if (!op) return { clause, truth: 'unknown', lookup, supported: false };
  if (lookup.kind === 'unknown') return { clause, truth: 'unknown', lookup, supported: true };
  const present = lookup.kind === 'present';
  if (op.base === 'Null') {
    // "Null": {"key": "true"} is true when the key is absent.
    const truth = clause.values.some((v) => (v.toLowerCase() === 'true') === !present);
    return { clause, truth, lookup, supported: true };
  }
  if (!present) {
    let truth: boolean;
    if (op.ifExists) truth = true;
    else if (op.set === 'ForAllValues') truth = true;
    else if (op.set === 'ForAnyValue') truth = false;
    else truth = isNegated(op.base);
    return { clause, truth, lookup, supported: true };
  }
  const actual = lookup.values;
  const negated = isNegated(op.base);
  const matchesAny = (value: string): boolean => clause.values.some((e) => valueMatches(op.base, value, e, ctx));
  let truth: boolean;
  switch (op.set) {
    case 'ForAnyValue':
      truth = negated ? actual.some((a) => !matchesAny(a)) : actual.some(matchesAny);
      break;
    case 'ForAllValues':
      truth = negated ? actual.every((a) => !matchesAny(a)) : actual.every(matchesAny);
      break;
    case null:
      truth = negated ? !actual.some(matchesAny) : actual.some(matchesAny);
      break;
  }
  // Matching ran out of budget: the answer may be wrong either way, so the clause is not decided.
  if (ctx.budget.exhausted) return { clause, truth: 'unknown', lookup, supported: true };
  return { clause, truth, lookup, supported: true };
}

function principalMatches(statement: TrustStatement, providerArn: string): boolean {
  if (!statement.principal) return false; // a trust policy statement without a principal applies to nobody
  const { negated, spec } = statement.principal;
  const listed = spec.kind === 'everyone' || (spec.entries.Federated ?? []).some((arn) => arn === providerArn);
  return negated ? !listed : listed;
}

function actionMatches(statement: TrustStatement, action: string, ctx: MatchContext): boolean {
  if (!statement.action) return false;
  const listed = statement.action.patterns.some((p) => wildcardMatch(p, action, true, ctx.budget));
  return statement.action.negated ? !listed : listed;
}

interface StatementResult {
  readonly statement: TrustStatement;
  readonly principal: boolean;
  readonly action: boolean;
  readonly clauses: readonly ClauseResult[];
  /** Principal, action and every condition hold. */
  readonly applies: Truth;
}

function evaluateStatement(statement: TrustStatement, request: WebIdentityRequest, ctx: MatchContext): StatementResult {
  const principal = principalMatches(statement, request.providerArn);
  const action = actionMatches(statement, request.action ?? WEB_IDENTITY_ACTION, ctx);
  const clauses = statement.conditions.map((c) => evaluateClause(c, request, ctx));
  let applies: Truth = principal && action;
  if (applies) {
    if (clauses.some((c) => c.truth === false)) applies = false;
    else if (clauses.some((c) => c.truth === 'unknown')) applies = 'unknown';
  }
  return { statement, principal, action, clauses, applies };
}

export function evaluateTrustPolicy(
  policy: TrustPolicyDocument,
  request: WebIdentityRequest,
  budget: GlobBudget = new GlobBudget(),
): TrustEvaluation {
  const ctx = matchContext(policy, budget);
  const results = policy.statements.map((s) => evaluateStatement(s, request, ctx));
  const unknownKeys = [
    ...new Set(
      results.flatMap((r) =>
        r.principal && r.action ? r.clauses.filter((c) => c.truth === 'unknown').map((c) => c.clause.key) : [],
      ),
    ),
  ];
  const denies = results.filter((r) => r.statement.effect === 'Deny');
  const allows = results.filter((r) => r.statement.effect === 'Allow');
  const warnings: TrustWarning[] = [];
  if (request.claims.aud.length > 1) {
    warnings.push({
      kind: 'multiple-audiences',
      statement: null,
      message: `the token has ${request.claims.aud.length} audiences (${request.claims.aud.join(', ')}); a plain operator on :aud is taken to match when any of them matches`,
    });
  }

  const explicitDeny = denies.find((r) => r.applies === true);
  if (explicitDeny) {
    const s = explicitDeny.statement;
    const first = s.conditions[0];
    const failure: TrustFailure = {
      code: 'TRUST_POLICY_DENIED',
      statement: s.index,
      sid: s.sid,
      operator: first?.operator ?? null,
      key: first?.key ?? null,
      expected: first?.values ?? [],
      actual: first ? actualValues(lookupKey(first.key, request)) : [],
      reason: `${statementName(s)} is an explicit Deny that matches this request${first ? ` (${first.operator} on ${first.key})` : ''}; an explicit Deny wins over every Allow`,
    };
    return {
      decision: 'explicit-deny',
      allowed: false,
      allowedBy: null,
      failure,
      failures: [failure],
      warnings,
      unknownKeys,
    };
  }

  const allowing = allows.find((r) => r.applies === true);
  const denyUnknown = denies.some((r) => r.applies === 'unknown');
  if (allowing && !denyUnknown) {
    warnings.push(...allowWarnings(allowing, request));
    return {
      decision: 'allow',
      allowed: true,
      allowedBy: { statement: allowing.statement.index, sid: allowing.statement.sid },
      failure: null,
      failures: [],
      warnings,
      unknownKeys,
    };
  }
  if (allowing || allows.some((r) => r.applies === 'unknown')) {
    return {
      decision: 'indeterminate',
      allowed: false,
      allowedBy: null,
      failure: null,
      failures: [],
      warnings,
      unknownKeys,
      ...(budget.exhausted ? { matchingExhausted: true } : {}),
    };
  }

  const failures = closestFailures(allows, policy, request);
  return {
    decision: 'deny',
    allowed: false,
    allowedBy: null,
    failure: failures[0] ?? null,
    failures,
    warnings,
    unknownKeys,
  };
}

function allowWarnings(result: StatementResult, request: WebIdentityRequest): TrustWarning[] {
  const s = result.statement;
  const warnings: TrustWarning[] = [];
  if (s.principal && !s.principal.negated && s.principal.spec.kind === 'everyone') {
    warnings.push({
      kind: 'principal-wildcard',
      statement: s.index,
      message: `${statementName(s)} trusts "Principal": "*": anyone who can present a matching request may assume this role`,
    });
  }
  const subClauses = result.clauses.filter((c) => c.lookup.kind === 'present' && c.lookup.claim === 'sub');
  if (subClauses.length === 0) {
    warnings.push({
      kind: 'no-sub-condition',
      statement: s.index,
      message: `${statementName(s)} has no condition on ${request.issuerHost}:sub: every ServiceAccount of this cluster can assume the role, not only this one`,
    });
  } else if (subClauses.some((c) => /Like/i.test(c.clause.operator) && c.clause.values.some((v) => /[*?]/.test(v)))) {
    warnings.push({
      kind: 'sub-wildcard',
      statement: s.index,
      message: `${statementName(s)} matches :sub with a wildcard: more ServiceAccounts than this one can assume the role`,
    });
  }
  return warnings;
}

/** The failures of the Allow statement that came closest to allowing: fewest failing parts, then first. */
function closestFailures(
  allows: readonly StatementResult[],
  policy: TrustPolicyDocument,
  request: WebIdentityRequest,
): TrustFailure[] {
  const action = request.action ?? WEB_IDENTITY_ACTION;
  const candidates = allows.filter((r) => r.action);
  if (candidates.length === 0) {
    const actions = [
      ...new Set(policy.statements.flatMap((s) => (s.action?.negated ? [] : (s.action?.patterns ?? [])))),
    ];
    const podIdentity = policy.statements.some(
      (s) =>
        s.principal?.spec.kind === 'map' && (s.principal.spec.entries.Service ?? []).includes('pods.eks.amazonaws.com'),
    );
    return [
      {
        code: 'TRUST_POLICY_DENIED',
        statement: null,
        sid: null,
        operator: 'Action',
        key: null,
        expected: actions,
        actual: [action],
        reason: `no Allow statement covers ${action}${actions.length > 0 ? ` (the policy allows ${actions.join(', ')})` : ''}`,
        hint: podIdentity
          ? 'this trust policy is written for EKS Pod Identity (Service pods.eks.amazonaws.com); IRSA needs a Federated statement for the OIDC provider'
          : undefined,
      },
    ];
  }
  const scored = candidates.map((r) => ({ r, failures: statementFailures(r, request) }));
  scored.sort((a, b) => a.failures.length - b.failures.length || a.r.statement.index - b.r.statement.index);
  return scored[0]?.failures ?? [];
}

function statementFailures(result: StatementResult, request: WebIdentityRequest): TrustFailure[] {
  const s = result.statement;
  const failures: TrustFailure[] = [];
  if (!result.principal) {
    const federated =
      s.principal?.spec.kind === 'map' ? (s.principal.spec.entries.Federated ?? []) : ([] as readonly string[]);
    const others = s.principal?.spec.kind === 'map' ? Object.keys(s.principal.spec.entries) : [];
    const hint =
      federated.length > 0
        ? federated.map((arn) => providerDifference(arn, request.providerArn)).find((h) => h !== undefined)
        : others.length > 0
          ? `the principal is ${others.join('/')}, not Federated: a web identity token is presented by the OIDC provider`
          : undefined;
    failures.push({
      code: 'TRUST_POLICY_PRINCIPAL_MISMATCH',
      statement: s.index,
      sid: s.sid,
      operator: 'Principal',
      key: 'Federated',
      expected: federated.length > 0 ? federated : others.map((o) => `${o} principal`),
      actual: [request.providerArn],
      reason: `${statementName(s)} trusts ${federated.length > 0 ? federated.join(' or ') : `no Federated principal (${s.principal?.negated ? 'NotPrincipal' : others.join(', ') || 'none'})`}, but this token is presented by ${request.providerArn}`,
      hint,
    });
  }
  for (const c of result.clauses) {
    if (c.truth !== false) continue;
    failures.push(conditionFailure(s, c, request));
  }
  return failures;
}

function conditionFailure(s: TrustStatement, c: ClauseResult, request: WebIdentityRequest): TrustFailure {
  const { clause, lookup } = c;
  const base = {
    statement: s.index,
    sid: s.sid,
    operator: clause.operator,
    key: clause.key,
    expected: clause.values,
  };
  if (lookup.kind === 'missing' && lookup.otherIssuer !== undefined) {
    const federated = s.principal?.spec.kind === 'map' ? (s.principal.spec.entries.Federated ?? []) : [];
    const trustsMe = principalMatches(s, request.providerArn);
    // The Principal already names this cluster's provider: the condition is what fails, not the principal.
    const listedOther = federated.some(
      (arn) => providerHostOf(arn)?.toLowerCase() === lookup.otherIssuer?.toLowerCase(),
    );
    const code: TrustFailureCode = !trustsMe
      ? 'TRUST_POLICY_PRINCIPAL_MISMATCH'
      : lookup.claim === 'sub'
        ? 'TRUST_POLICY_SUB_MISMATCH'
        : lookup.claim === 'aud'
          ? 'TRUST_POLICY_AUD_MISMATCH'
          : 'TRUST_POLICY_DENIED';
    return {
      ...base,
      code,
      actual: [],
      reason: `${statementName(s)}: ${clause.operator} on "${clause.key}" names the issuer ${lookup.otherIssuer}, but this token's issuer is ${request.issuerHost}, so the key is absent from the request and the condition fails`,
      hint:
        trustsMe && listedOther && federated.length > 1
          ? `the statement trusts ${federated.length} providers at once, and its conditions for all of them must hold together, which no single token can do: write one statement per provider, each with its own :sub and :aud (as terraform-aws-iam's iam-role-for-service-accounts module does)`
          : trustsMe
            ? `the Principal is already this cluster's provider, but the condition key still names another issuer (copied from another cluster?): it must be ${request.issuerHost}:${lookup.claim ?? 'sub'}${hostDifference(lookup.otherIssuer, request.issuerHost) ? `; ${hostDifference(lookup.otherIssuer, request.issuerHost)}` : ''}`
            : hostDifference(lookup.otherIssuer, request.issuerHost),
    };
  }
  const actual = actualValues(lookup);
  if (parseOperator(clause.operator)?.base === 'Null') {
    return {
      ...base,
      code: 'TRUST_POLICY_DENIED',
      actual,
      reason: `${statementName(s)}: Null ${clause.values.join('/')} requires ${clause.key} to be ${lookup.kind === 'present' ? 'absent, and this request has it' : 'present, and this request lacks it'}`,
    };
  }
  const claim = lookup.kind === 'unknown' ? undefined : lookup.claim;
  const quoted = (values: readonly string[]) => values.map((v) => `"${v}"`).join(' or ');
  if (claim === 'sub') {
    return {
      ...base,
      code: 'TRUST_POLICY_SUB_MISMATCH',
      actual,
      reason: `${statementName(s)}: ${clause.operator} requires ${clause.key} to be ${quoted(clause.values)}, but this token's sub is "${request.claims.sub}"`,
      hint: subHint(clause, request.claims.sub),
    };
  }
  if (claim === 'aud') {
    return {
      ...base,
      code: 'TRUST_POLICY_AUD_MISMATCH',
      actual,
      reason: `${statementName(s)}: ${clause.operator} requires ${clause.key} to be ${quoted(clause.values)}, but this token's aud is ${quoted(request.claims.aud)}`,
      hint: clause.values.some((v) => v.startsWith('system:serviceaccount:'))
        ? `the value ${quoted(clause.values)} is a ServiceAccount subject: it belongs under the key ${request.issuerHost}:sub, and :aud should be "sts.amazonaws.com"`
        : undefined,
    };
  }
  return {
    ...base,
    code: 'TRUST_POLICY_DENIED',
    actual,
    reason: `${statementName(s)}: ${clause.operator} on ${clause.key} fails for this request (${lookup.kind === 'missing' ? 'the key is not part of an EKS web identity request' : `value ${quoted(actual)}`})`,
  };
}

function subHint(clause: ConditionClause, sub: string): string | undefined {
  const op = parseOperator(clause.operator);
  if (op && (op.base === 'StringEquals' || op.base === 'StringEqualsIgnoreCase')) {
    const literalWildcard = clause.values.find((v) => /[*?]/.test(v));
    if (literalWildcard && wildcardMatch(literalWildcard, sub, false)) {
      return `"${literalWildcard}" contains a wildcard, but ${clause.operator} compares literally: use StringLike for wildcards`;
    }
  }
  if (clause.values.some((v) => v.toLowerCase() === sub.toLowerCase()) && op?.base === 'StringEquals') {
    return 'the values differ only in case: condition values are case-sensitive';
  }
  const mine = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(sub);
  for (const value of clause.values) {
    const theirs = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(value);
    if (!mine || !theirs) continue;
    if (theirs[1] !== mine[1] && theirs[2] === mine[2]) {
      return `the policy names namespace "${theirs[1]}" and this pod runs in "${mine[1]}" (was the namespace renamed, or the role copied from another environment?)`;
    }
    if (theirs[1] === mine[1] && theirs[2] !== mine[2]) {
      return `the policy names ServiceAccount "${theirs[2]}" and this pod uses "${mine[2]}"`;
    }
  }
  if (clause.values.some((v) => v === 'sts.amazonaws.com')) {
    return 'the value "sts.amazonaws.com" is the audience: it belongs under the :aud key, and :sub must be system:serviceaccount:<namespace>:<serviceaccount>';
  }
  return undefined;
}

const PROVIDER_ARN = /^arn:([^:]+):iam::([^:]*):oidc-provider\/(.+)$/;

/** The issuer host/path an OIDC provider ARN names, or undefined for anything else. */
export function providerHostOf(arn: string): string | undefined {
  return PROVIDER_ARN.exec(arn)?.[3];
}

/** Why a Federated ARN in the policy is not this provider, in words; undefined when nothing specific. */
export function providerDifference(policyArn: string, expectedArn: string): string | undefined {
  const theirs = PROVIDER_ARN.exec(policyArn);
  const mine = PROVIDER_ARN.exec(expectedArn);
  if (!mine) return undefined;
  if (!theirs) {
    if (/^https?:\/\//.test(policyArn) || policyArn.includes('oidc-provider/https://')) {
      return `the principal must be the provider ARN without https:// (${expectedArn})`;
    }
    return `"${policyArn}" is not an OIDC provider ARN; expected ${expectedArn}`;
  }
  const [, partition, account, host = ''] = theirs;
  const [, myPartition, myAccount, myHost = ''] = mine;
  if (host.startsWith('https://')) return `the provider ARN must not contain https:// (expected ${expectedArn})`;
  if (account !== myAccount) {
    return `the provider ARN is in account ${account}, but the role is in account ${myAccount}: the OIDC provider must be registered in the role's own account (for cross-account IRSA, create the provider in ${myAccount})`;
  }
  if (partition !== myPartition) return `the provider ARN is in partition ${partition}, the role in ${myPartition}`;
  return hostDifference(host, myHost);
}

/** Why an issuer host in the policy is not this token's issuer host, in words. */
export function hostDifference(theirs: string, mine: string): string | undefined {
  const swapped = /^oidc\.([a-z0-9-]+)\.eks\.(.+)$/i.exec(theirs);
  if (swapped && swapped[1]?.toLowerCase() !== 'eks') {
    const corrected = `oidc.eks.${swapped[1]}.${swapped[2]}`;
    if (corrected.toLowerCase() === mine.toLowerCase()) {
      return `host typo: "${theirs.split('/')[0]}" must be "${mine.split('/')[0]}" (oidc.eks.REGION, not oidc.REGION.eks)`;
    }
  }
  if (theirs.replace(/\/+$/, '') === mine) return 'remove the trailing slash after the issuer ID';
  if (theirs.toLowerCase() === mine.toLowerCase())
    return 'the issuer differs only in case: the cluster ID is upper-case hex';
  const eks = /^oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/id\/([0-9A-Za-z]+)$/;
  const t = eks.exec(theirs);
  const m = eks.exec(mine);
  if (t && m) {
    if (t[1] !== m[1]) return `the policy names the issuer of region ${t[1]}, this cluster's issuer is in ${m[1]}`;
    if (t[2] !== m[2]) {
      return `the policy trusts another cluster's issuer (ID ${t[2]}, this cluster's is ${m[2]}): was the cluster recreated, or the role copied from another cluster?`;
    }
  }
  return undefined;
}

function actualValues(lookup: KeyLookup): string[] {
  return lookup.kind === 'present' ? [...lookup.values] : [];
}

function statementName(s: TrustStatement): string {
  return `statement ${s.index}${s.sid ? ` (Sid "${s.sid}")` : ''}`;
}

// ---------------------------------------------------------------------------------------------------------
// The trust policy this pod needs, and the same in Terraform and eksctl.

export interface CorrectedTrustInput {
  readonly providerArn: string;
  readonly issuerHost: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** sts.amazonaws.com unless the SA's eks.amazonaws.com/audience annotation says otherwise. */
  readonly audience: string;
}

export interface TrustPolicyJson {
  readonly Version: '2012-10-17';
  readonly Statement: readonly {
    readonly Effect: 'Allow';
    readonly Principal: { readonly Federated: string };
    readonly Action: string;
    readonly Condition: { readonly StringEquals: Readonly<Record<string, string>> };
  }[];
}

/** The minimal trust policy that lets exactly this ServiceAccount assume the role through this issuer. */
export function correctedTrustPolicy(input: CorrectedTrustInput): TrustPolicyJson {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: input.providerArn },
        Action: WEB_IDENTITY_ACTION,
        Condition: {
          StringEquals: {
            [`${input.issuerHost}:sub`]: `system:serviceaccount:${input.namespace}:${input.serviceAccount}`,
            [`${input.issuerHost}:aud`]: input.audience,
          },
        },
      },
    ],
  };
}

/** `data "aws_iam_policy_document"` for the same policy. */
export function renderTrustPolicyTerraform(input: CorrectedTrustInput, name = 'irsa_trust'): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    `data "aws_iam_policy_document" "${name}" {`,
    '  statement {',
    '    effect  = "Allow"',
    `    actions = [${q(WEB_IDENTITY_ACTION)}]`,
    '',
    '    principals {',
    '      type        = "Federated"',
    `      identifiers = [${q(input.providerArn)}]`,
    '    }',
    '',
    '    condition {',
    '      test     = "StringEquals"',
    `      variable = ${q(`${input.issuerHost}:sub`)}`,
    `      values   = [${q(`system:serviceaccount:${input.namespace}:${input.serviceAccount}`)}]`,
    '    }',
    '',
    '    condition {',
    '      test     = "StringEquals"',
    `      variable = ${q(`${input.issuerHost}:aud`)}`,
    `      values   = [${q(input.audience)}]`,
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The eksctl command, and the ClusterConfig snippet, that create the role with this trust. */
export function renderTrustPolicyEksctl(
  input: CorrectedTrustInput,
  roleName: string,
): { command: ShellCommand; config: string } {
  // A name the caller could not know is its placeholder (<NAMESPACE>); one that is not a valid name becomes one.
  const given = (value: string, check: (v: string) => string | Placeholder): string | Placeholder => {
    const known = /^<([A-Z_]+)>$/.exec(value);
    return known ? placeholder(known[1] ?? 'VALUE') : check(value);
  };
  const namespace = given(input.namespace, namespaceArg);
  const serviceAccount = given(input.serviceAccount, serviceAccountArg);
  const role = given(roleName, roleNameArg);
  const command = sh`eksctl create iamserviceaccount --cluster ${placeholder('CLUSTER')} --namespace ${namespace} --name ${serviceAccount} --role-name ${role} --attach-policy-arn ${placeholder('POLICY_ARN')} --approve`;
  const config = [
    'iam:',
    '  withOIDC: true',
    '  serviceAccounts:',
    '    - metadata:',
    `        name: ${yamlScalar(serviceAccount)}`,
    `        namespace: ${yamlScalar(namespace)}`,
    `      roleName: ${yamlScalar(role)}`,
    '      attachPolicyARNs:',
    '        - <POLICY_ARN>',
    '',
  ].join('\n');
  return { command, config };
}

/**
 * The issuer as IAM writes it in provider ARNs and condition keys: without its scheme (whatever it is: IAM
 * stores the provider URL without https://, and a token whose iss has another scheme still names its keys by
 * host and path) and without a trailing slash. The one derivation every check uses (docs/mechanics.md 3.2, 3.4).
 */
export function issuerHostOf(iss: string): string {
  return iss.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, '').replace(/\/+$/, '');
}

/** The provider ARN the trust must name: the role's partition and account, the token's issuer. */
export function providerArnFor(iss: string, role: { readonly partition: string; readonly account: string }): string {
  return `arn:${role.partition}:iam::${role.account}:oidc-provider/${issuerHostOf(iss)}`;
}

/** `aws iam update-assume-role-policy` with the document inline, quoted for a POSIX shell. */
export function updateAssumeRolePolicyCommand(roleName: string, policy: TrustPolicyJson): ShellCommand {
  return sh`aws iam update-assume-role-policy --role-name ${roleNameArg(roleName)} --policy-document ${JSON.stringify(policy)}`;
}

// ---------------------------------------------------------------------------------------------------------
// The document this pod needs, keeping what the role's policy allows for others.

/** A trust policy document as JSON (the statements of the given file are kept as they were written). */
export interface TrustDocumentJson {
  readonly Version: string;
  readonly Statement: readonly unknown[];
}

export interface AmendedTrustPolicy {
  readonly document: TrustDocumentJson;
  /**
   * `unchanged`: the policy already allows this pod; `amended`: the given document with the statement that
   * came closest fixed (split into one statement per provider) and every other statement kept;
   * `replaced`: no amendment allows this pod (an explicit Deny, a condition this tool cannot fix), so the
   * document is this pod's statement alone.
   */
  readonly how: 'unchanged' | 'amended' | 'replaced';
}

/**
 * The given policy, changed as little as allows this pod. A statement that trusts several clusters' providers
 * at once with all their conditions ANDed allows none of them; it becomes one statement per provider, each
 * with the conditions on its own issuer's keys, which is what terraform-aws-iam's
 * iam-role-for-service-accounts module writes (modules/iam-role-for-service-accounts/main.tf @981121bc).
 * In this pod's own statement the keys that name no listed provider are renamed to this issuer (a policy
 * copied from another cluster), and failing :sub / :aud conditions become this pod's values. The result is
 * evaluated again; when it still does not allow the pod, this pod's minimal statement replaces the document.
 */
/** A policy that already allows the pod, shown as it is. */
function unchangedPolicy(policy: TrustPolicyDocument): AmendedTrustPolicy {
  return {
    document: documentOf(
      policy,
      policy.statements.map((s) => s.raw),
    ),
    how: 'unchanged',
  };
}

export function amendedTrustPolicy(
  policy: TrustPolicyDocument,
  evaluation: TrustEvaluation,
  request: WebIdentityRequest,
  input: CorrectedTrustInput,
  budget: GlobBudget = new GlobBudget(),
): AmendedTrustPolicy {
  const ctx = matchContext(policy, budget);
  const corrected = correctedTrustPolicy(input);
  const minimal: AmendedTrustPolicy = { document: corrected, how: 'replaced' };
  if (evaluation.allowed) return unchangedPolicy(policy);
  if (evaluation.decision === 'explicit-deny') return minimal;
  const closest = evaluation.failure?.statement ?? null;
  const mine = corrected.Statement[0] as unknown as Record<string, unknown>;
  const statements =
    closest === null
      ? [...policy.statements.map((s) => s.raw), mine]
      : policy.statements.flatMap((s) => (s.index === closest ? splitForProviders(s, request, input, ctx) : [s.raw]));
  const document = documentOf(policy, statements);
  return allows(document, request, budget) ? { document, how: 'amended' } : minimal;
}

function documentOf(policy: TrustPolicyDocument, statements: readonly unknown[]): TrustDocumentJson {
  return { Version: policy.version ?? '2012-10-17', Statement: statements };
}

function allows(document: TrustDocumentJson, request: WebIdentityRequest, budget: GlobBudget): boolean {
  try {
    return evaluateTrustPolicy(parseTrustPolicy(document), request, budget).allowed;
  } catch {
    return false;
  }
}

/** The issuer host a condition key names (`<host>:sub`), lower-cased, or undefined for other keys. */
function issuerOfKey(key: string): string | undefined {
  const match = ISSUER_CLAIM_KEY.exec(key);
  return match?.[1]?.toLowerCase();
}

function splitForProviders(
  statement: TrustStatement,
  request: WebIdentityRequest,
  input: CorrectedTrustInput,
  ctx: MatchContext,
): Record<string, unknown>[] {
  const federated =
    statement.principal && !statement.principal.negated && statement.principal.spec.kind === 'map'
      ? (statement.principal.spec.entries.Federated ?? [])
      : [];
  const myHost = request.issuerHost.toLowerCase();
  const others = federated.filter((arn) => arn !== request.providerArn && providerHostOf(arn) !== undefined);
  const otherHosts = new Set(others.map((arn) => (providerHostOf(arn) as string).toLowerCase()));
  const pieces: Record<string, unknown>[] = [];
  const sid = (n: number): Record<string, unknown> =>
    statement.sid === null ? {} : { Sid: n === 0 ? statement.sid : `${statement.sid}${n + 1}` };

  for (const arn of others) {
    const host = (providerHostOf(arn) as string).toLowerCase();
    const clauses = statement.conditions.filter((c) => {
      const issuer = issuerOfKey(c.key);
      return issuer === undefined || issuer === host;
    });
    pieces.push(pieceOf(statement.raw, sid(pieces.length), { Federated: arn }, statement.raw.Action, clauses));
  }

  // This pod's provider: its own keys, global keys, and keys of an issuer no listed provider has (renamed).
  const own: ConditionClause[] = [];
  for (const clause of statement.conditions) {
    const issuer = issuerOfKey(clause.key);
    if (issuer !== undefined && otherHosts.has(issuer)) continue;
    const key =
      issuer !== undefined && issuer !== myHost
        ? `${request.issuerHost}:${clause.key.slice(clause.key.lastIndexOf(':') + 1)}`
        : clause.key;
    if (own.some((c) => c.operator === clause.operator && c.key.toLowerCase() === key.toLowerCase())) continue;
    own.push({ ...clause, key });
  }
  const wanted = {
    sub: `system:serviceaccount:${input.namespace}:${input.serviceAccount}`,
    aud: input.audience,
  } as const;
  const fixed = own.map((clause): ConditionClause => {
    const lookup = lookupKey(clause.key, request);
    const claim = lookup.kind === 'present' ? lookup.claim : undefined;
    if ((claim === 'sub' || claim === 'aud') && evaluateClause(clause, request, ctx).truth === false) {
      return { operator: 'StringEquals', key: clause.key, values: [wanted[claim]] };
    }
    return clause;
  });
  for (const claim of ['sub', 'aud'] as const) {
    const key = `${request.issuerHost}:${claim}`;
    if (!fixed.some((c) => c.key.toLowerCase() === key.toLowerCase())) {
      fixed.push({ operator: 'StringEquals', key, values: [wanted[claim]] });
    }
  }
  const action = actionMatches(statement, WEB_IDENTITY_ACTION, ctx)
    ? statement.raw.Action
    : [...(statement.action && !statement.action.negated ? statement.action.patterns : []), WEB_IDENTITY_ACTION];
  const mine = pieceOf(statement.raw, sid(pieces.length), { Federated: request.providerArn }, action, fixed);
  // Keep the provider order of the statement: this cluster's piece where its provider was listed.
  const at = federated.indexOf(request.providerArn);
  if (at < 0) return [...pieces, mine];
  const before = federated.slice(0, at).filter((arn) => others.includes(arn)).length;
  return [...pieces.slice(0, before), mine, ...pieces.slice(before)];
}

function pieceOf(
  raw: Readonly<Record<string, unknown>>,
  sid: Record<string, unknown>,
  principal: unknown,
  action: unknown,
  clauses: readonly ConditionClause[],
): Record<string, unknown> {
  const { Sid: _sid, Principal: _p, NotPrincipal: _np, Action: _a, NotAction: _na, Condition: _c, ...rest } = raw;
  return {
    ...sid,
    ...rest,
    Principal: principal,
    Action: action,
    ...(clauses.length > 0 ? { Condition: conditionJson(clauses) } : {}),
  };
}

/** Clauses back into IAM's Condition block: operator -> key -> value (a list when there are several). */
function conditionJson(clauses: readonly ConditionClause[]): Record<string, Record<string, string | string[]>> {
  const out: Record<string, Record<string, string | string[]>> = {};
  for (const c of clauses) {
    const block = (out[c.operator] ??= {});
    block[c.key] = c.values.length === 1 ? (c.values[0] as string) : [...c.values];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// EKS Pod Identity: the role is assumed by EKS Auth, not by the pod.

export const POD_IDENTITY_PRINCIPAL = 'pods.eks.amazonaws.com';
/** EKS Auth assumes the role and tags the session: the trust must allow both (docs/mechanics.md 3.4, 5). */
export const POD_IDENTITY_ACTIONS = ['sts:AssumeRole', 'sts:TagSession'] as const;

/**
 * The session tags EKS Auth puts on a Pod Identity session (docs/mechanics.md 5), as far as the pod knows
 * them: namespace, ServiceAccount, pod name and uid come from its token; the cluster's name and ARN do not,
 * so conditions on them stay undecided.
 */
export interface PodIdentityRequest {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly podName: string | undefined;
  readonly podUid: string | undefined;
  readonly clusterName?: string;
  readonly clusterArn?: string;
}

const EKS_SESSION_TAGS = [
  'eks-cluster-arn',
  'eks-cluster-name',
  'kubernetes-namespace',
  'kubernetes-service-account',
  'kubernetes-pod-name',
  'kubernetes-pod-uid',
] as const;

function podIdentityLookup(key: string, request: PodIdentityRequest): KeyLookup {
  const lower = key.toLowerCase();
  if (lower.startsWith('aws:requesttag/')) {
    const tag = lower.slice('aws:requesttag/'.length);
    const values: Record<(typeof EKS_SESSION_TAGS)[number], string | undefined> = {
      'eks-cluster-arn': request.clusterArn,
      'eks-cluster-name': request.clusterName,
      'kubernetes-namespace': request.namespace,
      'kubernetes-service-account': request.serviceAccount,
      'kubernetes-pod-name': request.podName,
      'kubernetes-pod-uid': request.podUid,
    };
    if (!(EKS_SESSION_TAGS as readonly string[]).includes(tag)) return { kind: 'missing' };
    const value = values[tag as (typeof EKS_SESSION_TAGS)[number]];
    return value === undefined ? { kind: 'unknown' } : { kind: 'present', values: [value], claim: 'other' };
  }
  if (lower === 'aws:tagkeys') return { kind: 'present', values: [...EKS_SESSION_TAGS], claim: 'other' };
  if (lower.startsWith('aws:') || lower.startsWith('sts:')) return { kind: 'unknown' };
  const claimKey = ISSUER_CLAIM_KEY.exec(key);
  return claimKey
    ? { kind: 'missing', otherIssuer: claimKey[1], claim: claimKey[2]?.toLowerCase() }
    : { kind: 'missing' };
}

function trustsEksAuth(statement: TrustStatement): boolean {
  if (!statement.principal) return false;
  const { negated, spec } = statement.principal;
  const listed = spec.kind === 'everyone' || (spec.entries.Service ?? []).includes(POD_IDENTITY_PRINCIPAL);
  return negated ? !listed : listed;
}

interface PodIdentityStatementResult {
  readonly statement: TrustStatement;
  readonly principal: boolean;
  readonly clauses: readonly ClauseResult[];
  /** Per action: principal, action and every condition hold. */
  readonly applies: Readonly<Record<(typeof POD_IDENTITY_ACTIONS)[number], Truth>>;
}

function evaluatePodIdentityStatement(
  statement: TrustStatement,
  request: PodIdentityRequest,
  ctx: MatchContext,
): PodIdentityStatementResult {
  const principal = trustsEksAuth(statement);
  const clauses = statement.conditions.map((c) => evaluateClauseWith(c, podIdentityLookup(c.key, request), ctx));
  const conditions: Truth = clauses.some((c) => c.truth === false)
    ? false
    : clauses.some((c) => c.truth === 'unknown')
      ? 'unknown'
      : true;
  const appliesTo = (action: string): Truth =>
    principal && actionMatches(statement, action, ctx) ? conditions : false;
  return {
    statement,
    principal,
    clauses,
    applies: { 'sts:AssumeRole': appliesTo('sts:AssumeRole'), 'sts:TagSession': appliesTo('sts:TagSession') },
  };
}

/**
 * What the role's trust policy decides when EKS Auth assumes the role for this pod: Principal Service
 * pods.eks.amazonaws.com, and BOTH sts:AssumeRole and sts:TagSession allowed (each action is evaluated on its
 * own, as IAM does; they may come from different statements), under conditions on the session tags
 * (aws:RequestTag/kubernetes-namespace, ...). Keys the pod cannot know (aws:SourceAccount, aws:SourceArn, the
 * cluster's name and ARN) make the result indeterminate, never a guess.
 */
export function evaluatePodIdentityTrust(
  policy: TrustPolicyDocument,
  request: PodIdentityRequest,
  budget: GlobBudget = new GlobBudget(),
): TrustEvaluation {
  const ctx = matchContext(policy, budget);
  const results = policy.statements.map((s) => evaluatePodIdentityStatement(s, request, ctx));
  const unknownKeys = [
    ...new Set(
      results.flatMap((r) =>
        r.principal ? r.clauses.filter((c) => c.truth === 'unknown').map((c) => c.clause.key) : [],
      ),
    ),
  ];
  const base = { warnings: [] as TrustWarning[], unknownKeys };
  for (const action of POD_IDENTITY_ACTIONS) {
    const deny = results.find((r) => r.statement.effect === 'Deny' && r.applies[action] === true);
    if (deny) {
      const s = deny.statement;
      const failure: TrustFailure = {
        code: 'POD_IDENTITY_TRUST_POLICY_DENIED',
        statement: s.index,
        sid: s.sid,
        operator: s.conditions[0]?.operator ?? null,
        key: s.conditions[0]?.key ?? null,
        expected: s.conditions[0]?.values ?? [],
        actual: [],
        reason: `${statementName(s)} is an explicit Deny of ${action} for EKS Auth that matches this pod; an explicit Deny wins over every Allow`,
      };
      return { ...base, decision: 'explicit-deny', allowed: false, allowedBy: null, failure, failures: [failure] };
    }
  }
  const verdict = (action: (typeof POD_IDENTITY_ACTIONS)[number]): Truth => {
    const allows = results.filter((r) => r.statement.effect === 'Allow');
    if (allows.some((r) => r.applies[action] === true)) {
      return results.some((r) => r.statement.effect === 'Deny' && r.applies[action] === 'unknown') ? 'unknown' : true;
    }
    return allows.some((r) => r.applies[action] === 'unknown') ? 'unknown' : false;
  };
  const verdicts = POD_IDENTITY_ACTIONS.map((a) => [a, verdict(a)] as const);
  if (verdicts.every(([, v]) => v === true)) {
    const by = results.find((r) => r.statement.effect === 'Allow' && r.applies['sts:TagSession'] === true);
    return {
      ...base,
      decision: 'allow',
      allowed: true,
      allowedBy: by ? { statement: by.statement.index, sid: by.statement.sid } : null,
      failure: null,
      failures: [],
    };
  }
  const denied = verdicts.find(([, v]) => v === false);
  if (!denied) {
    return {
      ...base,
      decision: 'indeterminate',
      allowed: false,
      allowedBy: null,
      failure: null,
      failures: [],
      ...(budget.exhausted ? { matchingExhausted: true } : {}),
    };
  }
  const failures = closestPodIdentityFailures(results, denied[0], ctx);
  return { ...base, decision: 'deny', allowed: false, allowedBy: null, failure: failures[0] ?? null, failures };
}

function closestPodIdentityFailures(
  results: readonly PodIdentityStatementResult[],
  action: (typeof POD_IDENTITY_ACTIONS)[number],
  ctx: MatchContext,
): TrustFailure[] {
  const allows = results.filter((r) => r.statement.effect === 'Allow');
  const scored = allows.map((r) => ({ r, failures: podIdentityStatementFailures(r, action, ctx) }));
  scored.sort(
    (a, b) =>
      Number(b.r.principal) - Number(a.r.principal) ||
      a.failures.length - b.failures.length ||
      a.r.statement.index - b.r.statement.index,
  );
  return (
    scored[0]?.failures ?? [
      {
        code: 'POD_IDENTITY_TRUST_POLICY_DENIED',
        statement: null,
        sid: null,
        operator: 'Principal',
        key: 'Service',
        expected: [POD_IDENTITY_PRINCIPAL],
        actual: [],
        reason: 'the policy has no Allow statement at all',
      },
    ]
  );
}

function podIdentityStatementFailures(
  result: PodIdentityStatementResult,
  action: (typeof POD_IDENTITY_ACTIONS)[number],
  ctx: MatchContext,
): TrustFailure[] {
  const s = result.statement;
  const failures: TrustFailure[] = [];
  const base = { code: 'POD_IDENTITY_TRUST_POLICY_DENIED' as const, statement: s.index, sid: s.sid };
  if (!result.principal) {
    const entries = s.principal?.spec.kind === 'map' ? s.principal.spec.entries : {};
    const federated = entries.Federated ?? [];
    failures.push({
      ...base,
      operator: 'Principal',
      key: 'Service',
      expected: [POD_IDENTITY_PRINCIPAL],
      actual: Object.entries(entries).flatMap(([type, values]) => values.map((v) => `${type}: ${v}`)),
      reason: `${statementName(s)} trusts ${
        Object.keys(entries).length > 0
          ? Object.entries(entries)
              .map(([type, values]) => `${type} ${values.join(', ')}`)
              .join('; ')
          : 'no principal EKS Auth presents'
      }, not the service principal ${POD_IDENTITY_PRINCIPAL} that EKS Pod Identity assumes the role as`,
      hint:
        federated.length > 0
          ? 'this is an IRSA trust (a Federated OIDC provider, sts:AssumeRoleWithWebIdentity); a Pod Identity association needs a statement for Service pods.eks.amazonaws.com as well'
          : undefined,
    });
  }
  const covered = POD_IDENTITY_ACTIONS.filter((a) => actionMatches(s, a, ctx));
  if (!actionMatches(s, action, ctx)) {
    failures.push({
      ...base,
      operator: 'Action',
      key: null,
      expected: [...POD_IDENTITY_ACTIONS],
      actual: s.action?.patterns ? [...s.action.patterns] : [],
      reason: `${statementName(s)} allows ${covered.length > 0 ? covered.join(' and ') : (s.action?.patterns.join(', ') ?? 'no action')} but not ${action}: EKS Auth assumes the role and tags the session with the pod's namespace, ServiceAccount and cluster, and needs both sts:AssumeRole and sts:TagSession`,
    });
  }
  for (const c of result.clauses) {
    if (c.truth !== false) continue;
    const { clause, lookup } = c;
    const actual = actualValues(lookup);
    const tag = clause.key.toLowerCase().startsWith('aws:requesttag/')
      ? clause.key.slice('aws:requesttag/'.length)
      : undefined;
    failures.push({
      ...base,
      operator: clause.operator,
      key: clause.key,
      expected: clause.values,
      actual,
      reason:
        lookup.kind === 'present'
          ? `${statementName(s)}: ${clause.operator} requires ${clause.key} to be ${clause.values.map((v) => `"${v}"`).join(' or ')}, but EKS tags this pod's session with ${tag ?? clause.key} ${actual.map((v) => `"${v}"`).join(', ')}`
          : `${statementName(s)}: ${clause.operator} on ${clause.key} fails: ${lookup.kind === 'missing' && lookup.otherIssuer !== undefined ? 'an OIDC issuer key, which a Pod Identity request does not have' : 'EKS Auth does not send this key'}`,
    });
  }
  return failures;
}

/**
 * The given policy changed as little as lets EKS Auth assume it for this pod: in the statement that came
 * closest, both actions and this pod's namespace and ServiceAccount; an IRSA statement is kept as it is and
 * the Pod Identity statement eksctl writes (pkg/apis/eksctl.io/v1alpha5/iam.go EKSServicePrincipalTrustStatement)
 * is added beside it. Checked again; without an amendment that works, the document is that statement alone.
 */
export function amendedPodIdentityPolicy(
  policy: TrustPolicyDocument,
  evaluation: TrustEvaluation,
  request: PodIdentityRequest,
  budget: GlobBudget = new GlobBudget(),
): AmendedTrustPolicy {
  const ctx = matchContext(policy, budget);
  const minimalStatement = {
    Effect: 'Allow',
    Principal: { Service: POD_IDENTITY_PRINCIPAL },
    Action: [...POD_IDENTITY_ACTIONS],
  };
  const minimal: AmendedTrustPolicy = {
    document: { Version: '2012-10-17', Statement: [minimalStatement] },
    how: 'replaced',
  };
  if (evaluation.allowed) return unchangedPolicy(policy);
  if (evaluation.decision === 'explicit-deny') return minimal;
  const closest = policy.statements.find((s) => s.index === evaluation.failure?.statement);
  const statements =
    closest === undefined || !trustsEksAuth(closest)
      ? [...policy.statements.map((s) => s.raw), minimalStatement]
      : policy.statements.map((s) => (s === closest ? fixPodIdentityStatement(s, request, ctx) : s.raw));
  const document = documentOf(policy, statements);
  try {
    if (evaluatePodIdentityTrust(parseTrustPolicy(document), request, budget).allowed) {
      return { document, how: 'amended' };
    }
  } catch {
    // fall through to the minimal document
  }
  return minimal;
}

function fixPodIdentityStatement(
  statement: TrustStatement,
  request: PodIdentityRequest,
  ctx: MatchContext,
): Record<string, unknown> {
  const wanted: Record<string, string | undefined> = {
    'kubernetes-namespace': request.namespace,
    'kubernetes-service-account': request.serviceAccount,
    'kubernetes-pod-name': request.podName,
    'kubernetes-pod-uid': request.podUid,
  };
  const clauses = statement.conditions.flatMap((clause): ConditionClause[] => {
    const lookup = podIdentityLookup(clause.key, request);
    if (evaluateClauseWith(clause, lookup, ctx).truth !== false) return [clause];
    const tag = clause.key.toLowerCase().startsWith('aws:requesttag/')
      ? clause.key.slice('aws:requesttag/'.length).toLowerCase()
      : undefined;
    const value = tag === undefined ? undefined : wanted[tag];
    return value === undefined ? [] : [{ operator: 'StringEquals', key: clause.key, values: [value] }];
  });
  const patterns = statement.action && !statement.action.negated ? statement.action.patterns : [];
  const missing = POD_IDENTITY_ACTIONS.filter((a) => !actionMatches(statement, a, ctx));
  const action = missing.length === 0 ? statement.raw.Action : [...patterns, ...missing];
  const principal: unknown = (statement.principal?.negated ? undefined : statement.raw.Principal) ?? {
    Service: POD_IDENTITY_PRINCIPAL,
  };
  return pieceOf(statement.raw, statement.sid === null ? {} : { Sid: statement.sid }, principal, action, clauses);
}
