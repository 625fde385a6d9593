import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GlobBudget, globMatch } from '../../../src/aws/glob';

/** IAM wildcard semantics spelled as an anchored regular expression: the reference for small inputs. */
function reference(pattern: string, value: string, variables = false): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const literal = variables && /^\$\{[*?$]\}/.exec(pattern.slice(i));
    if (literal) {
      source += `\\${pattern[i + 2]}`;
      i += 3;
    } else if (pattern[i] === '*') source += '[\\s\\S]*';
    else if (pattern[i] === '?') source += '[\\s\\S]';
    else source += pattern[i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`).test(value);
}

describe('globMatch (IAM StringLike)', () => {
  it.each([
    ['system:serviceaccount:shop:*', 'system:serviceaccount:shop:checkout', true],
    ['system:serviceaccount:shop:*', 'system:serviceaccount:payments:checkout', false],
    ['system:serviceaccount:*:checkout', 'system:serviceaccount:shop:checkout', true],
    ['system:serviceaccount:shop:checkout-?', 'system:serviceaccount:shop:checkout-1', true],
    ['system:serviceaccount:shop:checkout-?', 'system:serviceaccount:shop:checkout-12', false],
    ['*', '', true],
    ['', '', true],
    ['?', '', false],
    ['a*a', 'a', false],
    ['a*a', 'aa', true],
    ['*Checkout', 'checkout', false], // case-sensitive
    ['**a**', 'xax', true],
  ])('%j matches %j: %s', (pattern, value, expected) => {
    expect(globMatch(pattern, value)).toBe(expected);
  });

  it('reads ${*}, ${?} and ${$} as literal characters in Version 2012-10-17 policies only', () => {
    expect(globMatch('a${*}b', 'a*b', { variables: true })).toBe(true);
    expect(globMatch('a${*}b', 'axxb', { variables: true })).toBe(false);
    expect(globMatch('a${?}b', 'a?b', { variables: true })).toBe(true);
    expect(globMatch('cost${$}', 'cost$', { variables: true })).toBe(true);
    // Without variables (Version 2008-10-17) the text is a pattern like any other: ${ then * then }.
    expect(globMatch('a${*}b', 'a${anything}b')).toBe(true);
  });

  it('agrees with the regular-expression reference on any small pattern and value', () => {
    const alphabet = fc.constantFrom('a', 'b', '*', '?', '$', '{', '}');
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 12 }).map((a) => a.join('')),
        fc.array(fc.constantFrom('a', 'b', '*', '?', '$'), { maxLength: 14 }).map((a) => a.join('')),
        fc.boolean(),
        (pattern, value, variables) =>
          globMatch(pattern, value, { variables }) === reference(pattern, value, variables),
      ),
      { seed: 15, numRuns: 5_000 },
    );
  });

  it('matches case-insensitively for actions', () => {
    expect(globMatch('sts:AssumeRole*', 'sts:assumerolewithwebidentity', { ignoreCase: true })).toBe(true);
  });

  it('takes linear time on the patterns that made the backtracking matcher quadratic', () => {
    const value = 'a'.repeat(60_000);
    const patterns = [
      `*${'a'.repeat(30_000)}b*`,
      `*${'a'.repeat(500_000)}b*`,
      `${'*a'.repeat(200_000)}b*`,
      `*${'a'.repeat(1_000)}*${'a'.repeat(1_000)}*b*`,
      `*${'ab'.repeat(20_000)}*`,
    ];
    for (const pattern of patterns) {
      const budget = new GlobBudget();
      expect(globMatch(pattern, value, {}, budget)).toBe(false);
      // The work is counted: a small constant times the pattern and value lengths, not their product.
      expect(budget.used, pattern.slice(0, 12)).toBeLessThanOrEqual(8 * (pattern.length + value.length));
    }
  });

  it("stops a '?' pattern that would need more work than its budget, and says so", () => {
    const budget = new GlobBudget(1_000_000);
    expect(globMatch(`*${'a?'.repeat(20_000)}b*`, 'a'.repeat(60_000), {}, budget)).toBe('exhausted');
    expect(budget.exhausted).toBe(true);
  });
});
