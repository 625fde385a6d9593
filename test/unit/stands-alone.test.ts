import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * The repository stands alone: no README line, doc, comment or test points at material outside it (the
 * steering documents this project was written from, a developer's machine). Where the code explains a rule it
 * cites the project's own docs/ or an upstream source (repository, path, commit; an AWS documentation URL).
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCANNED = ['README.md', 'docs', 'src', 'test', 'examples', 'scripts', '.ci', 'Dockerfile', 'package.json'];
const TEXT = /\.(ts|tsx|mjs|js|json|md|ya?ml|sh)$|^(run|Dockerfile)$/;

function files(entry: string): string[] {
  const full = path.join(ROOT, entry);
  if (!existsSync(full)) return [];
  if (statSync(full).isDirectory()) return readdirSync(full).flatMap((name) => files(path.join(entry, name)));
  return TEXT.test(path.basename(entry)) ? [entry] : [];
}

// Built from pieces so that this file does not match itself.
const OUTSIDE: readonly { what: string; pattern: RegExp }[] = [
  { what: 'a path up out of the repository', pattern: new RegExp(['\\.\\./', 'shared'].join('')) },
  { what: 'the steering contract', pattern: new RegExp(`\\b${'CONT'}RACT\\b`) },
  { what: 'the steering reference notes', pattern: new RegExp(['refer', 'ence/[A-Za-z-]+\\.md'].join('')) },
  { what: 'the steering style guide', pattern: new RegExp(['STY', 'LE\\.md|style-', 'anchors'].join('')) },
  { what: 'the mechanics notes by their outside name', pattern: new RegExp(['irsa-', 'mechanics\\.md'].join('')) },
  { what: 'a developer machine path', pattern: new RegExp(['/wo', 'rk/(?:wt|main|shared)\\b'].join('')) },
];
/** Outside docs/ a project doc is named with its folder: a bare name reads like the outside notes. */
const BARE_DOC = {
  what: 'a project doc without its docs/ folder (ambiguous with the outside notes)',
  pattern: /(?<![\w/.-])(?:failure-modes|packaging|mechanics|report|cli)\.md\b/,
};

describe('the repository stands alone', () => {
  const scanned = SCANNED.flatMap(files).filter((f) => f !== path.join('test', 'unit', 'stands-alone.test.ts'));

  it('scans the code, tests, docs and examples', () => {
    expect(scanned.length).toBeGreaterThan(100);
    expect(scanned).toContain('README.md');
    expect(scanned).toContain(path.join('src', 'cli', 'main.ts'));
  });

  it('no file points outside the repository', () => {
    const hits: string[] = [];
    for (const file of scanned) {
      const lines = readFileSync(path.join(ROOT, file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        const rules = file.startsWith(`docs${path.sep}`) ? OUTSIDE : [...OUTSIDE, BARE_DOC];
        for (const { what, pattern } of rules) {
          if (pattern.test(line)) hits.push(`${file}:${i + 1}: ${what}: ${line.trim().slice(0, 120)}`);
        }
      });
    }
    expect(hits).toEqual([]);
  });

  it('every relative link of the README and docs/ resolves to a file of the repository', () => {
    const broken: string[] = [];
    for (const file of scanned.filter((f) => f.endsWith('.md') && !f.startsWith('test'))) {
      const text = readFileSync(path.join(ROOT, file), 'utf8');
      for (const match of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        const target = match[1] ?? '';
        if (/^[a-z]+:/.test(target)) continue;
        if (!existsSync(path.join(ROOT, path.dirname(file), target))) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
