/**
 * IAM's StringLike matching (and wildcard actions), in time linear in the pattern and the value: the policy
 * file and the token are both outside input, and the backtracking matcher this replaces took seconds on one
 * crafted pattern (`*aaaa...ab` against a long `sub`), blocking the event loop past --timeout.
 *
 * Semantics (IAM User Guide, "IAM JSON policy elements: Condition operators", String condition operators,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
 * case-sensitive, `*` matches any run of characters (also none), `?` exactly one, anywhere in the value. In
 * policies of Version 2012-10-17 the special policy variables `${*}`, `${?}` and `${$}` stand for a literal
 * `*`, `?` and `$` ("Special characters",
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html); other `${...}` text
 * is compared as written.
 *
 * How: the pattern is cut at its stars into segments. The first must match at the start and the last at the
 * end; each one between is taken at its leftmost occurrence after the previous one, which is always right
 * because a star absorbs whatever lies between. A segment without `?` is found with Knuth-Morris-Pratt, so the
 * value is read once overall; a segment with `?` is compared window by window. Every step is charged to a
 * budget shared by one policy evaluation, so even a policy of many `?` patterns ends in bounded time: the
 * match then reports that it could not finish instead of guessing.
 */

/** Steps (character comparisons) one trust-policy evaluation may spend on matching: well under 100 ms. */
export const GLOB_STEPS = 20_000_000;

export class GlobBudget {
  #left: number;
  readonly #steps: number;
  exhausted = false;
  constructor(steps = GLOB_STEPS) {
    this.#left = steps;
    this.#steps = steps;
  }
  /** Steps spent so far. */
  get used(): number {
    return this.#steps - this.#left;
  }
  /** Charges `steps`; false (and exhausted from then on) once the budget is spent. */
  spend(steps: number): boolean {
    this.#left -= steps;
    if (this.#left < 0) this.exhausted = true;
    return !this.exhausted;
  }
}

/** One segment between stars: its characters, with `any[i]` set where the pattern has `?`. */
interface Segment {
  readonly text: string;
  readonly any: readonly boolean[] | null;
}

export interface GlobOptions {
  readonly ignoreCase?: boolean;
  /** Version 2012-10-17: ${*}, ${?} and ${$} are literal characters. */
  readonly variables?: boolean;
}

function segmentsOf(pattern: string, variables: boolean): Segment[] {
  const segments: Segment[] = [];
  let text = '';
  let any: boolean[] = [];
  let hasAny = false;
  const close = () => {
    segments.push({ text, any: hasAny ? any : null });
    text = '';
    any = [];
    hasAny = false;
  };
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    // A literal special character: ${*}, ${?}, ${$}.
    if (variables && pattern.startsWith('${', i) && /^[*?$]$/.test(pattern[i + 2] ?? '') && pattern[i + 3] === '}') {
      text += pattern[i + 2];
      any.push(false);
      i += 3;
      continue;
    }
    if (ch === '*') {
      close();
      continue;
    }
    text += ch === '?' ? '\u0000' : ch;
    any.push(ch === '?');
    if (ch === '?') hasAny = true;
  }
  close();
  return segments;
}

/** Does `segment` match `value` at `at` exactly (its length fits)? */
function matchesAt(segment: Segment, value: string, at: number, budget: GlobBudget): boolean {
  const { text, any } = segment;
  if (at < 0 || at + text.length > value.length) return false;
  if (!budget.spend(text.length)) return false;
  for (let i = 0; i < text.length; i++) {
    if (any?.[i]) continue;
    if (text[i] !== value[at + i]) return false;
  }
  return true;
}

/** The KMP failure table of a `?`-free segment. */
function failureTable(text: string): Int32Array {
  const fail = new Int32Array(text.length);
  for (let i = 1, k = 0; i < text.length; i++) {
    while (k > 0 && text[i] !== text[k]) k = fail[k - 1]!;
    if (text[i] === text[k]) k++;
    fail[i] = k;
  }
  return fail;
}

/** The leftmost start of `segment` in value[from, limit), or -1 (also when the budget ran out). */
function find(segment: Segment, value: string, from: number, limit: number, budget: GlobBudget): number {
  const { text, any } = segment;
  if (text.length === 0) return from;
  if (limit - from < text.length) return -1;
  if (any) {
    for (let at = from; at + text.length <= limit; at++) {
      if (matchesAt(segment, value, at, budget)) return at;
      if (budget.exhausted) return -1;
    }
    return -1;
  }
  // KMP: the table costs twice the segment, the scan twice the characters it reads (amortised fallbacks).
  if (!budget.spend(2 * text.length)) return -1;
  const fail = failureTable(text);
  for (let i = from, k = 0; i < limit; i++) {
    while (k > 0 && value[i] !== text[k]) k = fail[k - 1]!;
    if (value[i] === text[k]) k++;
    if (k === text.length) return budget.spend(2 * (i + 1 - from)) ? i - text.length + 1 : -1;
  }
  budget.spend(2 * (limit - from));
  return -1;
}

/**
 * Whether `value` matches the IAM wildcard `pattern`. `budget` is charged for the work; when it runs out
 * the answer is 'exhausted' (callers treat that as unknown, never as a match or a mismatch).
 */
export function globMatch(
  pattern: string,
  value: string,
  options: GlobOptions = {},
  budget: GlobBudget = new GlobBudget(),
): boolean | 'exhausted' {
  const p = options.ignoreCase ? pattern.toLowerCase() : pattern;
  const v = options.ignoreCase ? value.toLowerCase() : value;
  if (!budget.spend(p.length)) return 'exhausted';
  const segments = segmentsOf(p, options.variables ?? false);
  const result = (() => {
    const first = segments[0]!;
    if (segments.length === 1) return first.text.length === v.length && matchesAt(first, v, 0, budget);
    const last = segments[segments.length - 1]!;
    if (first.text.length + last.text.length > v.length) return false;
    if (!matchesAt(first, v, 0, budget)) return false;
    const end = v.length - last.text.length;
    if (!matchesAt(last, v, end, budget)) return false;
    let at = first.text.length;
    for (const segment of segments.slice(1, -1)) {
      const found = find(segment, v, at, end, budget);
      if (found < 0) return false;
      at = found + segment.text.length;
    }
    return true;
  })();
  return budget.exhausted ? 'exhausted' : result;
}
