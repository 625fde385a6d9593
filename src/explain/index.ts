import type { ExplainCommand } from '../cli/args';
import { escapeControl } from '../render/escape';
import type { FindingCode } from '../run/findings';
import type { Remedy } from '../run/types';
import type { ConfirmingCheck, Explanation, Extracted } from './catalogue';
import { EXPLANATIONS } from './catalogue';
import { CHAIN_ORDER, GENERIC_CODES, PREFILTER, classify, principalOf } from './classify';
import type { LogRecord } from './records';
import { RecordSplitter } from './records';
import { redactCommandSecrets, redactSecrets } from './redact';

/** One recognised problem: docs/cli.md, "explain". */
export interface ExplainMatch {
  readonly code: FindingCode;
  readonly meaning: string;
  readonly causes: readonly string[];
  /** Role, assumed-role and OIDC provider ARNs, and the issuer URL, as they appear in the text. */
  readonly arns: readonly string[];
  readonly confirmWith: readonly ConfirmingCheck[];
  readonly remedy: Remedy;
  /** How many messages (log lines with their continuation lines) said it. */
  readonly lines: number;
  /** The input line number of the first of them. */
  readonly firstLine: number;
}

export interface ExplainResult {
  readonly schemaVersion: 1;
  readonly matches: readonly ExplainMatch[];
}

/** A message given as the argument is read up to this size (a pasted log on stdin is streamed instead). */
export const MAX_EXPLAIN_INPUT = 1024 * 1024;
/** The messages of one code whose details (ARNs, action) are collected; later ones are only counted. */
const DETAIL_RECORDS = 4;

const SHAPE_NOISE = /[0-9a-f]{8,64}|\d{5,40}|\d{1,4}[-:/.]\d{1,4}[-:/.]\d{1,9}/g;
const SHAPE_CACHE = 1024;

interface Hit {
  readonly code: FindingCode;
  count: number;
  readonly firstLine: number;
  readonly order: number;
  readonly texts: string[];
}

/**
 * Reads a log record by record and keeps, per code, a count and the first few messages: memory does not
 * grow with the log. Feed it with push() (chunks of any size), then result().
 */
export class LogExplainer {
  readonly #hits = new Map<FindingCode, Hit>();
  readonly #splitter = new RecordSplitter((record) => this.#record(record), PREFILTER);
  #seen = 0;

  push(chunk: string): void {
    this.#splitter.push(chunk);
  }

  // A failing app repeats the same message with new timestamps and request ids: the rules run once per
  // shape. Only long digit and hex runs are folded, so no rule's outcome depends on what is folded.
  readonly #shapes = new Map<string, FindingCode | undefined>();
  #classify(text: string): FindingCode | undefined {
    const shape = text.replace(SHAPE_NOISE, '#');
    if (this.#shapes.has(shape)) return this.#shapes.get(shape);
    const code = classify(text);
    if (this.#shapes.size >= SHAPE_CACHE) this.#shapes.clear();
    this.#shapes.set(shape, code);
    return code;
  }

  #record(record: LogRecord): void {
    const code = this.#classify(record.text);
    if (code === undefined) return;
    const hit = this.#hits.get(code);
    if (hit) {
      hit.count += 1;
      if (hit.texts.length < DETAIL_RECORDS) hit.texts.push(record.text);
      return;
    }
    this.#hits.set(code, { code, count: 1, firstLine: record.line, order: this.#seen++, texts: [record.text] });
  }

  result(): ExplainResult {
    this.#splitter.end();
    let found = [...this.#hits.values()];
    // A wrapper ("no provider worked", "Access Denied") adds nothing when a cause itself is in the text.
    if (found.some((h) => !GENERIC_CODES.has(h.code))) found = found.filter((h) => !GENERIC_CODES.has(h.code));
    found.sort((a, b) => rank(a.code) - rank(b.code) || a.order - b.order);
    return {
      schemaVersion: 1,
      matches: found.flatMap((hit) => {
        const explanation = EXPLANATIONS.get(hit.code);
        return explanation ? [render(explanation, hit)] : [];
      }),
    };
  }
}

function rank(code: FindingCode): number {
  const index = CHAIN_ORDER.indexOf(code);
  return index < 0 ? CHAIN_ORDER.length : index;
}

function render(explanation: Explanation, hit: Hit): ExplainMatch {
  const x = extract(hit.texts.join('\n'));
  return redactMatch({
    code: hit.code,
    meaning: explanation.meaning(x),
    causes: explanation.causes(x),
    arns: [...x.roleArns, ...x.assumedRoleArns, ...x.providerArns, ...x.issuerUrls],
    confirmWith: explanation.confirmWith,
    remedy: explanation.remedy(x),
    lines: hit.count,
    firstLine: hit.firstLine,
  });
}

/** Recognises the AWS/SDK credential errors in a pasted text: distinct problems, earliest link first. */
export function explainMessage(input: string): ExplainResult {
  const explainer = new LogExplainer();
  explainer.push(input.length > MAX_EXPLAIN_INPUT ? input.slice(0, MAX_EXPLAIN_INPUT) : input);
  return explainer.result();
}

// Bounded expressions: each is tried at the positions where its literal prefix occurs, and scans a bounded
// run from there.
const ARN =
  /arn:aws[a-z-]{0,12}:(?:iam|sts)::[^:\s/"'`,]{1,40}:(?:role|assumed-role|oidc-provider)\/[\w+=,.@/{}<>*-]{1,300}/g;
const ISSUER_URL = /https:\/\/oidc\.eks\.[a-z0-9-]{1,30}\.amazonaws\.com(?:\.cn)?\/id\/[0-9A-Za-z]{1,64}/g;
const PROVIDER_FOR = /No OpenIDConnect provider found in your account for (https:\/\/[^\s"',]{1,300})/gi;
const ENDPOINT_URL =
  /https?:\/\/(?:sts[.\w-]{0,60}\.amazonaws\.com(?:\.cn)?|169\.254\.170\.23|\[fd00:ec2::23\])[^\s"'?#]{0,200}/i;
const ACTION = /not authorized to perform:? ?([a-z0-9-]{1,40}:[A-Za-z0-9*]{1,80})/i;
const OPENSEARCH_ACTION = /no permissions for \[([\w:/*-]{1,120})\]/i;
const TARGET = /on resource:? ?"?(arn:aws[a-z-]{0,12}:iam::[^\s"',]{1,300})/i;

export function extract(text: string): Extracted {
  const arns = unique([...text.matchAll(ARN)].map((m) => m[0].replace(/[.,:;]+$/, '')));
  const issuers = unique([
    ...[...text.matchAll(PROVIDER_FOR)].map((m) => (m[1] ?? '').replace(/[.,:;]+$/, '')),
    ...[...text.matchAll(ISSUER_URL)].map((m) => m[0]),
  ]);
  const principal = principalOf(text);
  return {
    roleArns: arns.filter((a) => /:role\//.test(a)),
    assumedRoleArns: arns.filter((a) => /:assumed-role\//.test(a)),
    providerArns: arns.filter((a) => /:oidc-provider\//.test(a)),
    issuerUrls: issuers,
    endpointUrl: ENDPOINT_URL.exec(text)?.[0]?.replace(/[.,:;)\]]+$/, ''),
    action: ACTION.exec(text)?.[1] ?? OPENSEARCH_ACTION.exec(text)?.[1],
    principal: principal.text,
    targetArn: TARGET.exec(text)?.[1]?.replace(/[.,:;)\]"']+$/, ''),
  };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values.filter((v) => v !== ''))];
}

/** No value taken from a pasted log can carry a secret into the output (docs/cli.md, "explain"). */
function redactMatch(match: ExplainMatch): ExplainMatch {
  return {
    ...match,
    meaning: redactSecrets(match.meaning),
    causes: match.causes.map(redactSecrets),
    arns: match.arns.map(redactSecrets),
    remedy: {
      summary: redactSecrets(match.remedy.summary),
      commands: match.remedy.commands.map(redactCommandSecrets),
      links: match.remedy.links.map(redactSecrets),
    },
  };
}

// JSON.stringify escapes C0 controls but leaves DEL, C1, the line separators and the bidi controls raw; they
// are written as \u escapes so no terminal ever receives them (the parsed value is unchanged).
const JSON_UNSAFE = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function renderExplainJson(result: ExplainResult): string {
  const json = JSON.stringify(result, null, 2).replace(
    JSON_UNSAFE,
    (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
  return `${json}\n`;
}

/** Plain text; everything taken from the pasted input is escaped (it may hold terminal control sequences). */
export function renderExplainText(result: ExplainResult): string {
  if (result.matches.length === 0) {
    return [
      'Nothing in this text matches a known AWS credential error message.',
      'Run irsa-doctor inside the pod for a full diagnosis:',
      '  kubectl exec -it <POD> -n <NAMESPACE> -- irsa-doctor',
      '',
    ].join('\n');
  }
  const lines: string[] = [];
  const count = result.matches.length;
  lines.push(
    count === 1
      ? '1 known problem found.'
      : `${count} distinct problems found (the earliest link of the credential chain first).`,
  );
  result.matches.forEach((match, i) => {
    lines.push('');
    const said =
      match.lines === 1 ? `line ${match.firstLine}` : `${match.lines} messages, first on line ${match.firstLine}`;
    lines.push(`${i + 1}. ${match.code}   (${said})`);
    lines.push(`   Meaning: ${escapeControl(match.meaning)}`);
    if (match.arns.length > 0) lines.push(`   Named in the message: ${match.arns.map(escapeControl).join(', ')}`);
    lines.push('   Likely causes (most likely first):');
    match.causes.forEach((cause, n) => lines.push(`     ${n + 1}. ${escapeControl(cause)}`));
    lines.push(`   Confirm in the pod: irsa-doctor --only ${match.confirmWith.join(',')}`);
    lines.push(`   Fix: ${escapeControl(match.remedy.summary)}`);
    for (const command of match.remedy.commands) lines.push(`     $ ${escapeControl(command)}`);
    for (const link of match.remedy.links) lines.push(`     see ${escapeControl(link)}`);
  });
  return `${lines.join('\n')}\n`;
}

/** How a read of stdin ended. */
export interface StdinRead {
  readonly bytes: number;
  /** True when it stopped because nothing arrived for the idle time, not at the end of the input. */
  readonly idle: boolean;
}

/** Stdin is a directory, or another thing that is not a stream of text. */
export class StdinNotReadableError extends Error {}

/** The streams `explain` needs; the CLI's Io satisfies it. */
export interface ExplainIo {
  readonly stdinIsTTY?: boolean;
  write(text: string): Promise<void>;
  writeError(text: string): Promise<void>;
  readStdin(maxBytes?: number): Promise<string>;
  /**
   * Streams stdin to onText until its end, or until nothing arrived for idleMs. Rejects with
   * StdinNotReadableError when stdin is a directory. When absent, readStdin is used (tests).
   */
  streamStdin?(onText: (text: string) => void, idleMs: number): Promise<StdinRead>;
}

export const EXPLAIN_USAGE = `irsa-doctor explain: give the error message as one argument in quotes, or pipe it in:
  irsa-doctor explain "An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation: ..."
  kubectl logs <POD> -n <NAMESPACE> | irsa-doctor explain -
`;

/**
 * `irsa-doctor explain [TEXT|-]`: exit 0 whether or not anything matched; 2 when there is nothing to read
 * (a terminal, a directory, or a stdin that sends nothing within --timeout).
 */
export async function runExplain(command: ExplainCommand, io: ExplainIo): Promise<number> {
  if (command.text !== undefined && command.text !== '-') {
    await io.write(render_(command, explainMessage(command.text)));
    return 0;
  }
  if (command.text === undefined && io.stdinIsTTY) {
    // Waiting on a terminal for input nobody announced would look like a hang.
    await io.writeError(EXPLAIN_USAGE);
    return 2;
  }
  const explainer = new LogExplainer();
  let read: StdinRead;
  try {
    if (io.streamStdin) {
      read = await io.streamStdin((text) => explainer.push(text), command.stdinIdleMs);
    } else {
      const text = await io.readStdin(MAX_EXPLAIN_INPUT);
      explainer.push(text);
      read = { bytes: text.length, idle: false };
    }
  } catch (error) {
    if (!(error instanceof StdinNotReadableError)) throw error;
    await io.writeError(`irsa-doctor explain: ${escapeControl(error.message)}\n${EXPLAIN_USAGE}`);
    return 2;
  }
  if (read.idle && read.bytes === 0) {
    await io.writeError(
      `irsa-doctor explain: nothing arrived on stdin for ${command.stdinIdleMs} ms (--timeout); stopped waiting.\n${EXPLAIN_USAGE}`,
    );
    return 2;
  }
  if (read.idle) {
    await io.writeError(
      `irsa-doctor explain: stdin sent nothing for ${command.stdinIdleMs} ms (--timeout); explaining what was read.\n`,
    );
  }
  await io.write(render_(command, explainer.result()));
  return 0;
}

function render_(command: ExplainCommand, result: ExplainResult): string {
  return command.output === 'json' ? renderExplainJson(result) : renderExplainText(result);
}
