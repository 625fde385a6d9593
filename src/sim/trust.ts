/*
 * The simulated IAM's own trust-policy evaluation for AssumeRoleWithWebIdentity. It is deliberately separate
 * from src/aws/trust-policy.ts (the tool's evaluator): the sim is the referee the tool is tested against, so
 * a shared bug would make both agree and the tests pass. Standard IAM semantics (docs/mechanics.md 3.4): statements
 * are ORed, an explicit Deny wins, keys and operators inside one statement are ANDed, the values of one key
 * are ORed; condition-key names are case-insensitive, values are not (except the IgnoreCase operators);
 * StringEquals takes `*` literally, StringLike has `*` and `?`.
 */

export interface TrustRequest {
  /** The principal presented: arn:PARTITION:iam::ACCOUNT:oidc-provider/HOST/PATH. */
  readonly federatedPrincipal: string;
  readonly action: string;
  /** Condition keys (any case) to their values, e.g. "127.0.0.1:4000/id/X:sub". */
  readonly context: Readonly<Record<string, string>>;
}

export type TrustDecision = 'allow' | 'explicit-deny' | 'implicit-deny';

type Json = unknown;

export function evaluateTrust(policy: Json, request: TrustRequest): TrustDecision {
  const statements = asList(isObject(policy) ? policy.Statement : undefined).filter(isObject);
  const context = new Map(Object.entries(request.context).map(([k, v]) => [k.toLowerCase(), v]));
  let allowed = false;
  for (const statement of statements) {
    if (!statementApplies(statement, request, context)) continue;
    if (statement.Effect === 'Deny') return 'explicit-deny';
    if (statement.Effect === 'Allow') allowed = true;
  }
  return allowed ? 'allow' : 'implicit-deny';
}

function statementApplies(
  statement: Record<string, Json>,
  request: TrustRequest,
  context: ReadonlyMap<string, string>,
): boolean {
  // NotPrincipal / NotAction are not modelled: a statement using them never applies here.
  if ('NotPrincipal' in statement || 'NotAction' in statement) return false;
  return (
    principalMatches(statement.Principal, request.federatedPrincipal) &&
    asList(statement.Action).some((a) => typeof a === 'string' && glob(a, request.action, true)) &&
    conditionsHold(statement.Condition, context)
  );
}

function principalMatches(principal: Json, federated: string): boolean {
  if (principal === '*') return true;
  if (!isObject(principal)) return false;
  if (asList(principal.AWS).includes('*')) return true;
  return asList(principal.Federated).some((p) => p === federated);
}

function conditionsHold(condition: Json, context: ReadonlyMap<string, string>): boolean {
  if (condition === undefined) return true;
  if (!isObject(condition)) return false;
  return Object.entries(condition).every(([operator, block]) => {
    if (!isObject(block)) return false;
    return Object.entries(block).every(([key, values]) =>
      operatorHolds(operator, context.get(key.toLowerCase()), asList(values).map(String)),
    );
  });
}

function operatorHolds(rawOperator: string, actual: string | undefined, values: readonly string[]): boolean {
  let operator = rawOperator;
  let set: 'any' | 'all' | undefined;
  if (operator.startsWith('ForAnyValue:')) [set, operator] = ['any', operator.slice('ForAnyValue:'.length)];
  else if (operator.startsWith('ForAllValues:')) [set, operator] = ['all', operator.slice('ForAllValues:'.length)];
  const ifExists = operator.endsWith('IfExists');
  if (ifExists) operator = operator.slice(0, -'IfExists'.length);
  if (actual === undefined) {
    // A missing key fails every operator, except with IfExists and ForAllValues (vacuously true).
    return ifExists || set === 'all';
  }
  const negated = operator.startsWith('StringNot');
  const base = negated ? `String${operator.slice('StringNot'.length)}` : operator;
  let matches: (value: string) => boolean;
  switch (base) {
    case 'StringEquals':
      matches = (v) => v === actual;
      break;
    case 'StringEqualsIgnoreCase':
      matches = (v) => v.toLowerCase() === actual.toLowerCase();
      break;
    case 'StringLike':
      matches = (v) => glob(v, actual, false);
      break;
    default:
      return false; // An operator this evaluator does not know never grants.
  }
  const any = values.some(matches);
  return negated ? !any : any;
}

/** IAM wildcard matching: `*` any run of characters, `?` exactly one. */
export function glob(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}

function asList(value: Json): Json[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
