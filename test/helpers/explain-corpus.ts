import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The explain corpus (test/data/explain-corpus.jsonl): messages users pasted into public issue threads, each
 * with its source, the SDK or tool, the text as pasted, and the codes an EKS expert would name (first the
 * expected answer, then the other acceptable ones), decided from the thread's resolution. `split` keeps a
 * held-out fifth; every part is scored.
 *
 * test/data/explain-corpus-fresh.jsonl (`split: fresh`, then `fresh2`) and explain-corpus-fresh3.jsonl (`fresh3`)
 * were each collected after the rules of their time were written, from threads none of the others come from,
 * with their expectations committed before explain was first run on them: each measured once how the rules
 * generalise, and was then improved on.
 */
export interface CorpusEntry {
  readonly id: string;
  readonly source: string;
  readonly sdk: string;
  readonly family: string;
  readonly text: string;
  /** Acceptable first answers; empty when nothing should be named (not an AWS credential problem). */
  readonly expect: readonly string[];
  readonly why: string;
  readonly split: 'dev' | 'holdout' | 'fresh' | 'fresh2' | 'fresh3' | 'fresh4';
}

export const CORPUS_PATH = fileURLToPath(new URL('../data/explain-corpus.jsonl', import.meta.url));
export const FRESH_CORPUS_PATH = fileURLToPath(new URL('../data/explain-corpus-fresh.jsonl', import.meta.url));
export const FRESH3_CORPUS_PATH = fileURLToPath(new URL('../data/explain-corpus-fresh3.jsonl', import.meta.url));
export const FRESH4_CORPUS_PATH = fileURLToPath(new URL('../data/explain-corpus-fresh4.jsonl', import.meta.url));

export function loadCorpus(path = CORPUS_PATH): CorpusEntry[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CorpusEntry);
}

/** Every part of the corpus: the first collection and the fresh batches. */
export function loadAllCorpora(): CorpusEntry[] {
  return [
    ...loadCorpus(CORPUS_PATH),
    ...loadCorpus(FRESH_CORPUS_PATH),
    ...loadCorpus(FRESH3_CORPUS_PATH),
    ...loadCorpus(FRESH4_CORPUS_PATH),
  ];
}

/**
 * Which mechanism a code blames. An answer that blames another mechanism than every acceptable code is a
 * confidently wrong one (a Pod Identity problem answered as IRSA, clock skew as static keys, ...). The generic
 * codes claim no mechanism: they say what cannot be told from the text.
 */
const MECHANISM: Readonly<Record<string, string>> = {
  IRSA_ENV_MISSING: 'pod-mutation',
  IRSA_ENV_PARTIAL: 'irsa',
  ROLE_ARN_INVALID: 'irsa',
  TOKEN_FILE_MISSING: 'token-file',
  TOKEN_FILE_UNREADABLE: 'token-file',
  TOKEN_MALFORMED: 'irsa',
  TOKEN_EXPIRED: 'irsa',
  TOKEN_STALE: 'irsa',
  TOKEN_AUDIENCE_MISMATCH: 'irsa',
  TRUST_POLICY_DENIED: 'irsa',
  TRUST_POLICY_SUB_MISMATCH: 'irsa',
  TRUST_POLICY_AUD_MISMATCH: 'irsa',
  TRUST_POLICY_PRINCIPAL_MISMATCH: 'irsa',
  OIDC_PROVIDER_NOT_REGISTERED: 'irsa',
  OIDC_AUDIENCE_NOT_ALLOWED: 'irsa',
  OIDC_KEYS_UNRETRIEVABLE: 'irsa',
  STS_TOKEN_EXPIRED: 'irsa',
  SDK_MISSING_STS_MODULE: 'sdk',
  SDK_TOO_OLD: 'sdk',
  POD_IDENTITY_AGENT_UNREACHABLE: 'pod-identity',
  POD_IDENTITY_ACCESS_DENIED: 'pod-identity',
  POD_IDENTITY_NO_ASSOCIATION: 'pod-identity',
  POD_IDENTITY_TOKEN_REJECTED: 'pod-identity',
  EKS_AUTH_UNREACHABLE: 'pod-identity',
  NODE_ROLE_FALLBACK: 'node-role',
  METADATA_PROXY_ERROR: 'metadata-proxy',
  STATIC_CREDENTIALS_OVERRIDE: 'static-keys',
  CREDENTIALS_INVALID: 'static-keys',
  SESSION_CREDENTIALS_EXPIRED: 'session-refresh',
  CLOCK_SKEW: 'clock',
  STS_UNREACHABLE: 'network',
  PROXY_INTERCEPTS_METADATA: 'network',
  REGION_REQUIRED: 'region',
  REGION_MISSING: 'region',
  STS_GLOBAL_ENDPOINT: 'region',
  STS_REGION_DISABLED: 'region',
  ROLE_LACKS_PERMISSION: 'permission',
  ROLE_CHAINING_DENIED: 'permission',
  STS_THROTTLED: 'throttling',
};
const GENERIC = new Set(['NO_CREDENTIALS', 'DENIED_PRINCIPAL_UNKNOWN', 'STS_ERROR', 'CREDENTIAL_CAUSE_UNKNOWN']);

export type Verdict = 'right' | 'none' | 'other' | 'wrong-mechanism';

/** right: the first answer is acceptable; none: nothing named; other: wrong but generic or same mechanism. */
export function judge(entry: CorpusEntry, first: string | undefined): Verdict {
  if (entry.expect.length === 0) {
    if (first === undefined) return 'right';
    return GENERIC.has(first) ? 'other' : 'wrong-mechanism';
  }
  if (first === undefined) return 'none';
  if (entry.expect.includes(first)) return 'right';
  if (GENERIC.has(first)) return 'other';
  const blamed = MECHANISM[first] ?? first;
  const acceptable = new Set(entry.expect.map((code) => MECHANISM[code] ?? code));
  return acceptable.has(blamed) ? 'other' : 'wrong-mechanism';
}

export interface Score {
  readonly total: number;
  readonly right: number;
  readonly none: number;
  readonly other: number;
  readonly wrongMechanism: number;
}

export function score(verdicts: readonly Verdict[]): Score {
  const count = (v: Verdict) => verdicts.filter((x) => x === v).length;
  return {
    total: verdicts.length,
    right: count('right'),
    none: count('none'),
    other: count('other'),
    wrongMechanism: count('wrong-mechanism'),
  };
}
