import { describe, expect, it } from 'vitest';
import { explainMessage } from '../../src/explain/index';
import type { Verdict } from '../helpers/explain-corpus';
import { judge, loadAllCorpora, score } from '../helpers/explain-corpus';

// The corpus of messages users pasted into public issue threads (test/data/explain-corpus*.jsonl): each entry's
// first answer must be one the thread's resolution supports, and none may blame another mechanism, except the
// documented misses below. An expectation is never changed to fit what explain says.
const corpus = loadAllCorpora();

/**
 * Entries whose first answer is known not to be right, with the verdict it gets. A miss that gets fixed, or a
 * new one, fails the test: the list is the record, not a way around it.
 */
const KNOWN_MISSES: Readonly<Record<string, { readonly verdict: Verdict; readonly why: string }>> = {
  h063: {
    verdict: 'other',
    why: 'a CRT log whose only failing line is a TLS negotiation timeout naming no host; the thread says it was STS, the line does not',
  },
  // fresh4 was scored once, on the rules it was collected after, and is not tuned on: its misses stay as measured.
  i001: {
    verdict: 'other',
    why: "the box borders cut the principal's ARN over lines (arn:aws:sts │ ::...), so the node group's role is not read",
  },
  i002: {
    verdict: 'none',
    why: 'a credentials file that "did not contain" the key: no word of absence the last resort reads',
  },
  i003: {
    verdict: 'other',
    why: 'fluent-bit\'s "auth error" with a missing credentials file is read as a generic failure, not as no credentials',
  },
  i006: {
    verdict: 'other',
    why: 'a JSON stack trace wrapped mid-word cuts the principal (dyn\\namic_...), so the signer is not read',
  },
  i007: {
    verdict: 'other',
    why: 'PHP flattens the XML to "SenderAccessDeniedUser: arn:...": the principal glued to the code is not read',
  },
  i011: { verdict: 'other', why: "a principal redacted in words ({default EC2 role}) is not read as the node's role" },
  i013: {
    verdict: 'other',
    why: "MSK's SASL authentication failure is read as a generic credential failure, not as a denial",
  },
  i015: { verdict: 'none', why: 'kafka-go\'s "[58] SASL Authentication Failed" names nothing of AWS' },
  i019: {
    verdict: 'none',
    why: 'Go v2\'s "get credentials: request canceled, context canceled" is not read as a failed fetch',
  },
};

describe('explain: the corpus of real pasted messages', () => {
  it('holds at least 150 entries from at least 20 SDKs and tools, each with its source, no source twice', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(150);
    expect(new Set(corpus.map((e) => e.source)).size).toBe(corpus.length);
    expect(new Set(corpus.map((e) => e.family)).size).toBeGreaterThanOrEqual(20);
    for (const entry of corpus) expect(entry.source).toMatch(/^https:\/\//);
    expect(new Set(corpus.map((e) => e.id)).size).toBe(corpus.length);
    for (const id of Object.keys(KNOWN_MISSES)) expect(corpus.map((e) => e.id)).toContain(id);
  });

  for (const entry of corpus) {
    const miss = KNOWN_MISSES[entry.id];
    const want = miss?.verdict ?? 'right';
    it(`${entry.id} (${entry.split}, ${entry.family}) -> ${entry.expect[0] ?? 'nothing'}${miss ? ` (known miss: ${miss.verdict})` : ''}`, () => {
      const first = explainMessage(entry.text).matches[0]?.code;
      expect(judge(entry, first), `${entry.source}: ${entry.why}; got ${first ?? 'nothing'}`).toBe(want);
    });
  }

  it('gets >= 95% of first answers right in each split the rules were improved on, with no wrong mechanism', () => {
    for (const split of ['dev', 'holdout', 'fresh', 'fresh2', 'fresh3'] as const) {
      const part = corpus.filter((e) => e.split === split);
      const s = score(part.map((e) => judge(e, explainMessage(e.text).matches[0]?.code)));
      expect(s.right / s.total, split).toBeGreaterThanOrEqual(0.95);
      expect(s.wrongMechanism, split).toBe(0);
    }
  });
});
