import type { ExplainCommand } from '../cli/args';
import { escapeControl } from '../render/escape';
import type { FindingCode } from '../run/findings';
import type { Remedy } from '../run/types';
import type { ConfirmingCheck, Extracted, MessagePattern } from './catalogue';
import { PATTERNS } from './catalogue';

/** One recognised message: docs/cli.md, "explain". */
export interface ExplainMatch {
  readonly code: FindingCode;
  readonly meaning: string;
  readonly causes: readonly string[];
  /** Role, assumed-role and OIDC provider ARNs, and the issuer URL, as they appear in the text. */
  readonly arns: readonly string[];
  readonly confirmWith: readonly ConfirmingCheck[];
  readonly remedy: Remedy;
}

export interface ExplainResult {
  readonly schemaVersion: 1;
  readonly matches: readonly ExplainMatch[];
}

/** Pasted logs beyond this are not read (a log excerpt is kilobytes; this bounds memory and time). */
export const MAX_EXPLAIN_INPUT = 1024 * 1024;
/**
 * Lines are matched in windows of this size: patterns of the form `A.*B` cost O(n^2) on one huge line with
 * many A and no B, and an error message is far shorter than this.
 */
const WINDOW = 16 * 1024;
const OVERLAP = 1024;

const ARN = /arn:aws[a-z-]*:(?:iam|sts)::\d{12}:(?:role|assumed-role|oidc-provider)\/[\w+=,.@/-]+/g;
const ISSUER_URL = /https:\/\/oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?\/id\/[0-9A-Za-z]+/g;
const PROVIDER_FOR = /No OpenIDConnect provider found in your account for (https:\/\/[^\s"',]+)/gi;
const ENDPOINT_URL = /https?:\/\/(?:sts[.\w-]*\.amazonaws\.com(?:\.cn)?|169\.254\.170\.23|\[fd00:ec2::23\])[^\s"']*/i;
const ACTION = /not authorized to perform:? ([a-z0-9-]+:[A-Za-z0-9*]+)/i;

/** Recognises the AWS/SDK credential errors in a pasted text; best match first, none is an empty list. */
export function explainMessage(input: string): ExplainResult {
  const text = input.length > MAX_EXPLAIN_INPUT ? input.slice(0, MAX_EXPLAIN_INPUT) : input;
  const lines = text.split(/\r?\n/).flatMap(windows);
  const hits = new Map<FindingCode, { pattern: MessagePattern; first: number; lines: number[] }>();
  PATTERNS.forEach((pattern) => {
    if (pattern.context && !pattern.context.test(text)) return;
    lines.forEach((line, index) => {
      if (!pattern.line.test(line)) return;
      if (pattern.alsoOnLine && !pattern.alsoOnLine.test(line)) return;
      if (pattern.unless?.test(line)) return;
      const hit = hits.get(pattern.code);
      if (!hit) hits.set(pattern.code, { pattern, first: index, lines: [index] });
      else if (hit.pattern === pattern) hit.lines.push(index);
      else if (pattern.priority > hit.pattern.priority) {
        hits.set(pattern.code, { pattern, first: index, lines: [index] });
      }
    });
  });
  let found = [...hits.values()];
  // A wrapper ("no provider worked", "WebIdentityErr") adds nothing when the cause itself is in the text.
  if (found.some((h) => !h.pattern.generic)) found = found.filter((h) => !h.pattern.generic);
  found.sort((a, b) => b.pattern.priority - a.pattern.priority || a.first - b.first);
  return {
    schemaVersion: 1,
    matches: found.map(({ pattern, lines: at }) => {
      // The message and its continuation line (indented, or "caused by"), where SDKs often put the details.
      const continues = (i: number) => /^(?:\s|caused by)/i.test(lines[i] ?? '');
      const nearby = [...new Set(at.flatMap((i) => (continues(i + 1) ? [i, i + 1] : [i])))]
        .filter((i) => i < lines.length)
        .map((i) => lines[i] ?? '')
        .join('\n');
      const extracted = extract(nearby);
      return {
        code: pattern.code,
        meaning: pattern.meaning(extracted),
        causes: pattern.causes(extracted),
        arns: [...extracted.roleArns, ...extracted.assumedRoleArns, ...extracted.providerArns, ...extracted.issuerUrls],
        confirmWith: pattern.confirmWith,
        remedy: pattern.remedy(extracted),
      };
    }),
  };
}

function windows(line: string): string[] {
  if (line.length <= WINDOW) return [line];
  const parts: string[] = [];
  for (let start = 0; start < line.length; start += WINDOW - OVERLAP) parts.push(line.slice(start, start + WINDOW));
  return parts;
}

export function extract(text: string): Extracted {
  const arns = unique([...text.matchAll(ARN)].map((m) => m[0].replace(/[.,:;]+$/, '')));
  const issuers = unique([
    ...[...text.matchAll(PROVIDER_FOR)].map((m) => (m[1] ?? '').replace(/[.,:;]+$/, '')),
    ...[...text.matchAll(ISSUER_URL)].map((m) => m[0]),
  ]);
  return {
    roleArns: arns.filter((a) => /:role\//.test(a)),
    assumedRoleArns: arns.filter((a) => /:assumed-role\//.test(a)),
    providerArns: arns.filter((a) => /:oidc-provider\//.test(a)),
    issuerUrls: issuers,
    endpointUrl: ENDPOINT_URL.exec(text)?.[0]?.replace(/[.,:;)\]]+$/, ''),
    action: ACTION.exec(text)?.[1],
  };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values.filter((v) => v !== ''))];
}

export function renderExplainJson(result: ExplainResult): string {
  return `${JSON.stringify(result, null, 2)}\n`;
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
  lines.push(`${count} known message${count === 1 ? '' : 's'} found${count > 1 ? ' (best match first)' : ''}.`);
  result.matches.forEach((match, i) => {
    lines.push('');
    lines.push(`${i + 1}. ${match.code}`);
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

/** The streams `explain` needs; the CLI's Io satisfies it. */
export interface ExplainIo {
  readonly stdinIsTTY?: boolean;
  write(text: string): Promise<void>;
  writeError(text: string): Promise<void>;
  readStdin(maxBytes?: number): Promise<string>;
}

export const EXPLAIN_USAGE = `irsa-doctor explain: give the error message as one argument in quotes, or pipe it in:
  irsa-doctor explain "An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation: ..."
  kubectl logs <POD> -n <NAMESPACE> | irsa-doctor explain -
`;

/** `irsa-doctor explain [TEXT|-]`: exit 0 whether or not anything matched, 2 when there is nothing to read. */
export async function runExplain(command: ExplainCommand, io: ExplainIo): Promise<number> {
  let text: string;
  if (command.text !== undefined && command.text !== '-') {
    text = command.text;
  } else if (command.text === undefined && io.stdinIsTTY) {
    // Waiting on a terminal for input nobody announced would look like a hang.
    await io.writeError(EXPLAIN_USAGE);
    return 2;
  } else {
    text = await io.readStdin(MAX_EXPLAIN_INPUT);
  }
  const result = explainMessage(text);
  await io.write(command.output === 'json' ? renderExplainJson(result) : renderExplainText(result));
  return 0;
}
