import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CHECKS } from '../../src/checks/registry';
import { FINDING_CODES } from '../../src/run/findings';

/** The README's tables are the user's reference: they must list exactly what the binary has. */
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
/** The cells of the table rows whose first cell is a code span matching `first`. */
const rows = (first: RegExp) =>
  readme
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    )
    .filter(([cell]) => first.test(cell ?? ''))
    .map(([cell = '', ...rest]) => [cell.replace(/^`([^`]+)`.*$/, '$1'), ...rest]);

describe('README', () => {
  it('lists every check, in report order, with its title, hard dependencies and what else it reads', () => {
    const listed = rows(/^`[a-z-]+\.[a-z-.]+`$/);
    expect(listed.map(([id, title]) => `${id}: ${title}`)).toEqual(CHECKS.map((c) => `${c.id}: ${c.title}`));
    for (const [id, , needs, after, reads] of listed) {
      const check = CHECKS.find((c) => c.id === id);
      expect(needs, id).toBe(check?.needs ?? '');
      expect(after, id).toBe(check?.dependsOn.map((d) => `\`${d}\``).join(', '));
      expect(reads, id).toBe((check?.uses ?? []).map((d) => `\`${d}\``).join(', '));
    }
  });

  it('lists every finding code with its severity', () => {
    const listed = rows(/^`[A-Z][A-Z0-9_]+`( ¹)?$/);
    expect(listed.map(([code, severity]) => `${code} ${severity}`)).toEqual(
      Object.entries(FINDING_CODES).map(([code, { severity }]) => `${code} ${severity}`),
    );
  });
});
