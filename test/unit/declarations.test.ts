import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CHECKS } from '../../src/checks/registry';
import { readsOf } from '../../src/run/select';

/*
 * A check reads only what it declares (dependsOn, uses), so that --only, which runs exactly the declared
 * reads, gives every selected check all it reads. The runner enforces it at run time (an undeclared read
 * throws and the check ends `error`); this reads each check's source, so a read on a path no test reaches is
 * caught too.
 */

const CHECKS_DIR = fileURLToPath(new URL('../../src/checks/', import.meta.url));
const READ = /upstream\.(?:output|status)(?:<[^>]*>)?\(\s*'([a-z-]+\.[a-z.-]+)'/g;

describe('check declarations', () => {
  const sources = readdirSync(CHECKS_DIR)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: f, text: readFileSync(path.join(CHECKS_DIR, f), 'utf8') }));

  it('every upstream read in a check file names a check that the file declares', () => {
    const undeclared: string[] = [];
    let reads = 0;
    for (const { file, text } of sources) {
      const declaredIn = CHECKS.filter((c) => new RegExp(`id: '${c.id.replace('.', '\\.')}'`).test(text));
      const read = [...text.matchAll(READ)].map((m) => m[1] ?? '');
      reads += read.length;
      if (read.length === 0) continue;
      expect(declaredIn.length, `${file} reads upstream but defines no check`).toBe(1);
      const declared = new Set<string>(readsOf(declaredIn[0]!));
      for (const id of read) if (!declared.has(id)) undeclared.push(`${file}: ${declaredIn[0]!.id} reads ${id}`);
    }
    expect(reads).toBeGreaterThan(30);
    expect(undeclared).toEqual([]);
  });

  it('a check depends only on checks listed before it (the registry order is a valid run order)', () => {
    const seen = new Set<string>();
    for (const check of CHECKS) {
      for (const id of readsOf(check)) expect(seen.has(id), `${check.id} reads ${id}, listed after it`).toBe(true);
      seen.add(check.id);
    }
  });
});
