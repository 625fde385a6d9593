// Scores `explain` against the corpus of real pasted messages (not a test; the test is
// test/unit/explain-corpus.test.ts): first-answer accuracy overall, per split and per SDK or tool, and every
// entry that is not right. Run: npx bun scripts/explain-score.ts [--split dev|holdout|fresh|fresh2|fresh3|fresh4|all] [--misses]
import { explainMessage } from '../src/explain/index';
import type { CorpusEntry, Verdict } from '../test/helpers/explain-corpus';
import { judge, loadAllCorpora, score } from '../test/helpers/explain-corpus';

const args = process.argv.slice(2);
const split = args.includes('--split') ? args[args.indexOf('--split') + 1] : 'all';
const showMisses = args.includes('--misses');
const entries = loadAllCorpora().filter((e) => split === 'all' || e.split === split);

const results = entries.map((entry) => {
  const first = explainMessage(entry.text).matches[0]?.code;
  return { entry, first, verdict: judge(entry, first) };
});

const pct = (n: number, d: number) => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)}%`);
function line(label: string, verdicts: readonly Verdict[]): string {
  const s = score(verdicts);
  return `| ${label} | ${s.total} | ${s.right} (${pct(s.right, s.total)}) | ${s.none} | ${s.other} | ${s.wrongMechanism} |`;
}

console.log(`split: ${split}`);
console.log('| SDK or tool | entries | first answer right | no answer | other | wrong mechanism |');
console.log('| --- | --- | --- | --- | --- | --- |');
const families = [...new Set(entries.map((e) => e.family))].sort();
for (const family of families) {
  console.log(
    line(
      family,
      results.filter((r) => r.entry.family === family).map((r) => r.verdict),
    ),
  );
}
console.log(
  line(
    '**all**',
    results.map((r) => r.verdict),
  ),
);
for (const part of ['dev', 'holdout', 'fresh', 'fresh2', 'fresh3', 'fresh4'] as const) {
  const sub = results.filter((r) => r.entry.split === part);
  if (sub.length > 0 && split === 'all')
    console.log(
      line(
        `**${part}**`,
        sub.map((r) => r.verdict),
      ),
    );
}
if (showMisses) {
  for (const { entry, first, verdict } of results) {
    if (verdict === 'right') continue;
    const e: CorpusEntry = entry;
    console.log(
      `${verdict}\t${e.id}\t${e.split}\tgot ${first ?? '-'}\twant ${e.expect.join('|') || '(nothing)'}\t${e.source}`,
    );
  }
}
