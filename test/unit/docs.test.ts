import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FINDING_CODES } from '../../src/run/findings';

/**
 * The repository must stand alone: a comment that says "docs/mechanics.md 1.3" or
 * `docs/packaging.md, "Versions"` has to lead a reader to a file and a section that exist. This test reads every
 * such citation in the code, tests, scripts, README, Dockerfile, examples and docs, and checks it against the
 * headings of the cited file. It also checks that nothing in the repository points at notes that live outside it.
 *
 * The citation forms recognised, after `docs/NAME.md` (or a bare `NAME.md` of a file in docs/ when a section
 * follows it):
 *   1.3 | 4.1-4.4 | 3.2, 3.4 | 3.2 and 3.4      numbered headings ("### 1.3 ...", "## 5. ...")
 *   row 4 | rows 2 and 13                        headings "### Row N: ..."
 *   (section 2)                                  a numbered heading
 *   , "Name" | "Name" 3                          a heading containing Name (or, failing that, the text), and item
 *                                                3. of the numbered list in that section
 *   4.2: "quoted words"                          words that must appear in that section
 *   1.3 step 2                                   item 2. of the numbered list in section 1.3
 *   , Name words)  | (name words)                a heading containing those words
 * Anything else after the file name is prose and is not checked.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SELF = path.relative(ROOT, fileURLToPath(import.meta.url));
/** Where citations are looked for (relative to the repository root). */
const CITING = ['src', 'test', 'scripts', 'examples', 'docs', 'README.md', 'Dockerfile'];
/** Not part of the repository's text: dependencies, build output, local benchmark results. */
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'coverage', '.bench', '.git']);

// ---- the docs: headings and sections ----

interface Heading {
  readonly level: number;
  readonly text: string; // normalised (see plain)
  readonly line: number; // 0-based line index in the document
}

interface Doc {
  readonly lines: readonly string[];
  readonly headings: readonly Heading[];
}

/** Lower-case text without markdown emphasis, code ticks or link targets, whitespace collapsed. */
function plain(text: string): string {
  return text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\[[^\]]*\]/g, '$1')
    .replace(/[`*]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

function parseDoc(markdown: string): Doc {
  const lines = markdown.split('\n');
  const headings: Heading[] = [];
  let fenced = false;
  lines.forEach((line, index) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const match = fenced ? null : /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (match) headings.push({ level: match[1]!.length, text: plain(match[2]!), line: index });
  });
  return { lines, headings };
}

/** The lines under a heading, up to the next heading of the same or a higher level. */
function sectionLines(doc: Doc, heading: Heading): readonly string[] {
  const next = doc.headings.find((h) => h.line > heading.line && h.level <= heading.level);
  return doc.lines.slice(heading.line, next ? next.line : doc.lines.length);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A numbered list item "N. ..." (the steps of a section, the items of a list). */
function listItem(number: string): RegExp {
  return new RegExp(`^\\s*${escapeRegExp(number)}\\.\\s`);
}

function numberedHeading(doc: Doc, number: string): Heading | undefined {
  const pattern = new RegExp(`^${escapeRegExp(number)}(?:\\.?(?:\\s|$)|:)`);
  return doc.headings.find((h) => pattern.test(h.text));
}

function rowHeading(doc: Doc, row: string): Heading | undefined {
  const pattern = new RegExp(`^row\\s+${escapeRegExp(row)}\\b`);
  return doc.headings.find((h) => pattern.test(h.text));
}

function namedHeading(doc: Doc, name: string): Heading | undefined {
  const wanted = plain(name);
  return doc.headings.find((h) => h.text.includes(wanted));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(headingText: string): string {
  return headingText
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

// ---- the citations ----

type SectionRef =
  | { readonly kind: 'number'; readonly number: string; readonly quote?: string; readonly step?: string }
  | { readonly kind: 'row'; readonly row: string }
  | { readonly kind: 'name'; readonly name: string; readonly quoted: boolean; readonly item?: string };

interface Citation {
  readonly source: string; // file:line
  readonly doc: string; // e.g. mechanics.md
  readonly refs: readonly SectionRef[];
}

const NUM = String.raw`\d+(?:\.\d+)*`;
const NUM_LIST = new RegExp(
  String.raw`^\s*(${NUM}(?:\s*(?:-|–|,|and)\s*${NUM})*)(?![\w.]*\w)(?:\s+step\s+(\d+)\b)?(?:\s*[:,]?\s*"([^"\n]+)")?`,
);

/** 4.1-4.4 -> 4.1, 4.2, 4.3, 4.4; 3.2, 3.4 -> 3.2, 3.4. */
function expandNumbers(list: string): string[] {
  const numbers: string[] = [];
  for (const part of list.split(/\s*(?:,|and)\s*/)) {
    const range = /^(\S+?)\s*[-–]\s*(\S+)$/.exec(part);
    if (!range) {
      numbers.push(part.trim());
      continue;
    }
    const [from, to] = [range[1]!, range[2]!];
    const [fromHead, fromLast] = [from.slice(0, from.lastIndexOf('.') + 1), from.split('.').pop()!];
    const [toHead, toLast] = [to.slice(0, to.lastIndexOf('.') + 1), to.split('.').pop()!];
    if (fromHead === toHead && Number(toLast) >= Number(fromLast) && Number(toLast) - Number(fromLast) < 20) {
      for (let n = Number(fromLast); n <= Number(toLast); n++) numbers.push(`${fromHead}${n}`);
    } else {
      numbers.push(from, to);
    }
  }
  return numbers.filter((n) => n !== '');
}

function rowList(first: string, rest: string): SectionRef[] {
  return [first, ...(rest.match(/\d+/g) ?? [])].map((row) => ({ kind: 'row', row }));
}

/** One part of a parenthesised reference: "section 2", "3.3 STS errors", "exit codes". */
function parenthesisedPart(part: string): SectionRef[] {
  const section = /^section\s+(\S+)$/i.exec(part);
  if (section) return [{ kind: 'number', number: section[1]! }];
  const rows = /^rows?\s+(\d+)(.*)$/i.exec(part);
  if (rows) return rowList(rows[1]!, rows[2]!);
  const leading = new RegExp(`^(${NUM})(?![\\w.]*\\w)`).exec(part);
  if (leading) return [{ kind: 'number', number: leading[1]! }];
  if (/^[A-Za-z][A-Za-z -]{0,40}$/.test(part)) return [{ kind: 'name', name: part, quoted: false }];
  return [];
}

/** The section references in the text that follows a cited file name. */
function sectionRefs(tail: string): SectionRef[] {
  const rest = tail.replace(/^`/, '');
  const parenthesised = /^\s*\(([^()\n]*)\)/.exec(rest);
  if (parenthesised) {
    return parenthesised[1]!
      .split(/\s*[,;]\s*/)
      .map((part) => part.trim())
      .flatMap(parenthesisedPart);
  }
  const section = /^\s*section\s+(\d+(?:\.\d+)*)/i.exec(rest);
  if (section) return [{ kind: 'number', number: section[1]! }];
  const rows = /^\s*rows?\s+(\d+)((?:\s*(?:,|and|&)\s*\d+)*)/i.exec(rest);
  if (rows) return rowList(rows[1]!, rows[2]!);
  const numbers = NUM_LIST.exec(rest);
  if (numbers) {
    const list = expandNumbers(numbers[1]!);
    const [step, quote] = [numbers[2], numbers[3]];
    return list.map((number, index): SectionRef => {
      if (index < list.length - 1) return { kind: 'number', number };
      return {
        kind: 'number',
        number,
        ...(step === undefined ? {} : { step }),
        ...(quote === undefined ? {} : { quote }),
      };
    });
  }
  const quoted = /^\s*,?\s*"([^"\n]+)"(?:\s+(\d+)\b)?/.exec(rest);
  if (quoted) {
    const item = quoted[2];
    return [
      item === undefined
        ? { kind: 'name', name: quoted[1]!, quoted: true }
        : { kind: 'name', name: quoted[1]!, quoted: true, item },
    ];
  }
  const named = /^\s*,\s*([A-Za-z][A-Za-z -]{0,40}?)\s*\)/.exec(rest);
  if (named) return [{ kind: 'name', name: named[1]!, quoted: false }];
  return [];
}

/**
 * Every citation in one file's text. `docNames` are the files in docs/: a bare `failure-modes.md row 7` counts as
 * a citation of docs/failure-modes.md; a bare name that is not in docs/ counts only when a section follows it.
 */
function findCitations(text: string, file: string, docNames: ReadonlySet<string>): Citation[] {
  const citations: Citation[] = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const source = `${file}:${index + 1}`;
    for (const match of line.matchAll(/docs\/([\w.-]+?\.md)\b/g)) {
      const tail = line.slice(match.index + match[0].length);
      citations.push({ source, doc: match[1]!, refs: sectionRefs(tail) });
    }
    for (const match of line.matchAll(/(?<![\w./-])([\w-]+\.md)\b/g)) {
      const tail = line.slice(match.index + match[0].length);
      const refs = sectionRefs(tail);
      const name = match[1]!;
      if (refs.length > 0 && (docNames.has(name) || /^\s*(?:rows?|section)\s/i.test(tail))) {
        citations.push({ source, doc: name, refs });
      }
    }
  });
  return citations;
}

/** What is wrong with a citation, given the docs that exist (by file name). Empty when it resolves. */
function checkCitation(citation: Citation, docs: ReadonlyMap<string, Doc>): string[] {
  const doc = docs.get(citation.doc);
  if (!doc) return [`${citation.source}: docs/${citation.doc} does not exist`];
  const problems: string[] = [];
  const where = `${citation.source}: docs/${citation.doc}`;
  for (const ref of citation.refs) {
    switch (ref.kind) {
      case 'number': {
        const heading = numberedHeading(doc, ref.number);
        if (!heading) {
          problems.push(`${where} has no section ${ref.number}`);
        } else if (ref.quote !== undefined && !plain(sectionLines(doc, heading).join(' ')).includes(plain(ref.quote))) {
          problems.push(`${where} ${ref.number} does not say "${ref.quote}"`);
        } else if (
          ref.step !== undefined &&
          !sectionLines(doc, heading).some((line) => listItem(ref.step!).test(line))
        ) {
          problems.push(`${where} ${ref.number} has no step ${ref.step}`);
        }
        break;
      }
      case 'row':
        if (!rowHeading(doc, ref.row)) problems.push(`${where} has no row ${ref.row}`);
        break;
      case 'name': {
        const heading = namedHeading(doc, ref.name);
        const inText = ref.quoted && plain(doc.lines.join(' ')).includes(plain(ref.name));
        if (!heading && !inText) {
          problems.push(`${where} has no section "${ref.name}"`);
        } else if (ref.item !== undefined) {
          if (!heading || !sectionLines(doc, heading).some((line) => listItem(ref.item!).test(line))) {
            problems.push(`${where}, "${ref.name}" has no item ${ref.item}`);
          }
        }
        break;
      }
      default: {
        const unknown: never = ref;
        throw new Error(`unhandled reference ${JSON.stringify(unknown)}`);
      }
    }
  }
  return problems;
}

// ---- the repository ----

function filesUnder(relative: string): string[] {
  const absolute = path.join(ROOT, relative);
  if (!statSync(absolute, { throwIfNoEntry: false })) return [];
  if (statSync(absolute).isFile()) return [relative];
  return readdirSync(absolute, { withFileTypes: true })
    .filter((entry) => !SKIPPED_DIRS.has(entry.name))
    .flatMap((entry) => filesUnder(path.join(relative, entry.name)));
}

/** Text files only: a NUL byte marks a binary. */
function readText(relative: string): string | undefined {
  const buffer = readFileSync(path.join(ROOT, relative));
  return buffer.includes(0) ? undefined : buffer.toString('utf8');
}

const docNames = readdirSync(path.join(ROOT, 'docs')).filter((name) => name.endsWith('.md'));
const docs = new Map(docNames.map((name) => [name, parseDoc(readFileSync(path.join(ROOT, 'docs', name), 'utf8'))]));

// ---- the tests ----

describe('the checker itself', () => {
  const fixture = new Map([
    [
      'guide.md',
      parseDoc(
        [
          '# Guide',
          '## 1. Intro',
          '### 1.1 First',
          'The webhook is quiet about it.',
          '1. step one',
          '### 1.2 Second',
          '## 2. Rows',
          '### Row 1: one',
          '### Row 2: two',
          '## Dependency facts',
          '1. first fact',
          '2. second fact',
          '## Ink behaviour',
          '```',
          '## 9. not a heading (in a code block)',
          '```',
        ].join('\n'),
      ),
    ],
  ]);
  const names = new Set(fixture.keys());
  const problemsOf = (line: string) =>
    findCitations(line, 'x.ts', names).flatMap((citation) => checkCitation(citation, fixture));

  it('accepts citations that resolve, in every form the code uses', () => {
    for (const line of [
      '// see docs/guide.md 1.1, and docs/guide.md 1.1-1.2 and docs/guide.md (1.2 the second, 2 rows)',
      '// docs/guide.md 1.1 and 1.2; docs/guide.md 2.',
      '// docs/guide.md row 2, docs/guide.md rows 1 and 2, guide.md row 1',
      '// (docs/guide.md, "Dependency facts" 2) (docs/guide.md, Ink behaviour) (docs/guide.md (section 2))',
      '// docs/guide.md 1.1: "is quiet about it", docs/guide.md, "quiet about", docs/guide.md 1.1 step 1',
      '// `docs/guide.md` is prose after the name, and so is docs/guide.md: it says 9.9 things',
    ]) {
      expect(problemsOf(line), line).toEqual([]);
    }
  });

  it('reports a missing file, section, row, name, list item or quoted text', () => {
    expect(problemsOf('// docs/missing.md 1.1')).toEqual(['x.ts:1: docs/missing.md does not exist']);
    expect(problemsOf('// docs/guide.md 1.3')).toEqual(['x.ts:1: docs/guide.md has no section 1.3']);
    expect(problemsOf('// docs/guide.md 1.1-1.3')).toEqual(['x.ts:1: docs/guide.md has no section 1.3']);
    expect(problemsOf('// docs/guide.md 9')).toEqual(['x.ts:1: docs/guide.md has no section 9']);
    expect(problemsOf('// guide.md rows 2 and 3')).toEqual(['x.ts:1: docs/guide.md has no row 3']);
    expect(problemsOf('// docs/guide.md, "Versions"')).toEqual(['x.ts:1: docs/guide.md has no section "Versions"']);
    expect(problemsOf('// docs/guide.md, chroot results)')).toEqual([
      'x.ts:1: docs/guide.md has no section "chroot results"',
    ]);
    expect(problemsOf('// docs/guide.md, "Dependency facts" 3')).toEqual([
      'x.ts:1: docs/guide.md, "Dependency facts" has no item 3',
    ]);
    expect(problemsOf('// docs/guide.md 1.2: "is quiet about it"')).toEqual([
      'x.ts:1: docs/guide.md 1.2 does not say "is quiet about it"',
    ]);
    expect(problemsOf('// other.md row 1')).toEqual(['x.ts:1: docs/other.md does not exist']);
    expect(problemsOf('// docs/guide.md 1.1 step 2')).toEqual(['x.ts:1: docs/guide.md 1.1 has no step 2']);
  });

  it('does not take a number that only starts with the cited one (1 is not 1.1, 1.1 is not 1.10)', () => {
    const doc = new Map([['d.md', parseDoc('## 1.10 Tenth\n### 1.1x odd')]]);
    expect(checkCitation({ source: 's', doc: 'd.md', refs: [{ kind: 'number', number: '1.1' }] }, doc)).toHaveLength(1);
    expect(checkCitation({ source: 's', doc: 'd.md', refs: [{ kind: 'number', number: '1' }] }, doc)).toHaveLength(1);
  });
});

describe('citations of docs/ in the repository', () => {
  const citing = CITING.flatMap(filesUnder).filter((file) => file !== SELF);
  const citations = citing.flatMap((file) => {
    const text = readText(file);
    return text === undefined ? [] : findCitations(text, file, new Set(docNames));
  });

  it('finds the citations (the scan is not silently empty)', () => {
    expect(citations.filter((c) => c.doc === 'mechanics.md').length).toBeGreaterThan(50);
    expect(citations.some((c) => c.doc === 'failure-modes.md' && c.refs.some((r) => r.kind === 'row'))).toBe(true);
    expect(citations.some((c) => c.doc === 'packaging.md' && c.refs.some((r) => r.kind === 'name'))).toBe(true);
  });

  it('every cited file and section exists', () => {
    const problems = citations.flatMap((citation) => checkCitation(citation, docs));
    expect(problems).toEqual([]);
  });
});

describe('docs/ links and codes', () => {
  it('every link between the docs leads to an existing file and heading', () => {
    const problems: string[] = [];
    for (const [name, doc] of docs) {
      doc.lines.forEach((line, index) => {
        for (const match of line.matchAll(/\]\(([\w.-]*\.md)?(?:#([^)\s]+))?\)/g)) {
          const [target, anchor] = [match[1] ?? name, match[2]];
          if (match[1] === undefined && anchor === undefined) continue;
          const targetDoc = docs.get(target);
          if (!targetDoc) {
            problems.push(`docs/${name}:${index + 1}: links to missing ${target}`);
          } else if (anchor !== undefined && !targetDoc.headings.some((h) => slug(h.text) === anchor)) {
            problems.push(`docs/${name}:${index + 1}: no heading for #${anchor} in ${target}`);
          }
        }
      });
    }
    expect(problems).toEqual([]);
  });

  it('every finding code that docs/failure-modes.md names exists in src/run/findings.ts', () => {
    const text = readFileSync(path.join(ROOT, 'docs', 'failure-modes.md'), 'utf8');
    const named = new Set([...text.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)].map((m) => m[1]!));
    const envNames = [...named].filter((code) => code.startsWith('AWS_') || code.endsWith('_PROXY'));
    const unknown = [...named].filter((code) => !envNames.includes(code) && !(code in FINDING_CODES));
    expect(named.size).toBeGreaterThan(20);
    expect(unknown).toEqual([]);
  });
});

describe('the repository stands alone', () => {
  // Built from pieces so that this file does not match its own patterns.
  const outside: readonly [string, RegExp][] = [
    ['the shared folder', new RegExp(['\\.\\.', 'shared'].join('/'))],
    ['the contract notes', new RegExp(['CONTRACT', 'md'].join('\\.'), 'i')],
    ['the reference notes', new RegExp(['reference', '[\\w*.-]+\\.md'].join('/'), 'i')],
    ['the reference notes by name', new RegExp(['irsa-mechanics', 'style-anchors'].map((n) => `${n}\\.md`).join('|'))],
  ];

  it('no file mentions notes that live outside the repository', () => {
    const mentions = filesUnder('.').flatMap((file) => {
      const text = readText(file);
      if (text === undefined) return [];
      return outside.flatMap(([what, pattern]) =>
        text.split('\n').flatMap((line, index) => (pattern.test(line) ? [`${file}:${index + 1}: ${what}`] : [])),
      );
    });
    expect(mentions).toEqual([]);
  });
});
