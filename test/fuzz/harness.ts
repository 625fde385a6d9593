import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { renderToString } from 'ink';
import { createElement } from 'react';
import { expect } from 'vitest';
import { createMemoryFileView } from '../../src/sim/memory-files';
import type { HttpAnswer, HttpRequestInit, NetClient, ProbeResult } from '../../src/aws/http';
import { NetError } from '../../src/aws/http';
import { CHECKS } from '../../src/checks/registry';
import type { Context, Env } from '../../src/context/context';
import type { FileView } from '../../src/context/files';
import { escapeControl } from '../../src/render/escape';
import { renderJson } from '../../src/render/json';
import { renderText } from '../../src/render/text';
import { RunView } from '../../src/render/tui/view';
import { exitCodeOf, runChecks } from '../../src/run/runner';
import { selectChecks } from '../../src/run/select';
import type { CheckId } from '../../src/checks/outputs';
import type { Check, Report } from '../../src/run/types';
import { STATUSES, assertNever } from '../../src/run/types';
import { fixtureContext } from '../helpers/context';
import { expectValidReport } from '../helpers/reports';

/**
 * Issue 6 part 1, "bad input never crashes it": shared pieces of the fuzz suites. Every case runs the real
 * runner and checks in-process against an in-memory filesystem and a fake network that answers at once, so
 * a thousand cases per input kind stay within a few seconds.
 */

/** Cases per input kind (the issue asks for at least 1,000). */
export const RUNS = 1_000;

/**
 * vitest's limit for one property of RUNS cases: far above its usual few seconds, so a loaded CI machine slows
 * the suite down instead of failing it (speed is measured by benchmarks, not asserted here).
 */
export const PROPERTY_TIMEOUT_MS = 180_000;

/** Run deadline of one case: the fake network answers at once, so nothing ever waits for it. */
export const CASE_TIMEOUT_MS = 3_000;

export const NOW = Date.now();
export const NOW_S = Math.floor(NOW / 1000);

// --- invariants -------------------------------------------------------------------------------------------

/**
 * Raw control characters a terminal acts on: C0 except tab and newline (which the renderers emit themselves),
 * DEL and C1 (0x9b is an 8-bit CSI). ESC (0x1b) is inside the range.
 */
export const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
/** The text renderer escapes the Unicode line separators and bidi overrides as well. */
const TEXT_HIDDEN = /[\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const CRASHED = /^the check itself failed/;

/** What the runner must hold to for any input: a complete, well-formed report that renders safely. */
export function expectSoundReport(
  report: Report,
  checks: readonly Check[],
  tui = false,
): { text: string; json: string } {
  expect(report.checks.map((c) => c.id)).toEqual(checks.map((c) => c.id));
  for (const check of report.checks) {
    expect(STATUSES).toContain(check.status);
    // An exception escaping a check is caught by the runner as `error`; on input alone that is still a bug.
    expect(check.summary, `${check.id} threw`).not.toMatch(CRASHED);
  }
  const exit = exitCodeOf(report, { exitZero: false });
  expect([0, 1]).toContain(exit);
  expect(exit === 1).toBe(report.verdict === 'broken');

  const text = renderText(report);
  const rawInText = RAW_CONTROL.exec(text) ?? TEXT_HIDDEN.exec(text);
  expect(
    rawInText,
    `raw U+${rawInText?.[0].codePointAt(0)?.toString(16)} in text near ${context(text, rawInText)}`,
  ).toBe(null);
  const json = renderJson(report);
  const rawInJson = RAW_CONTROL.exec(json) ?? TEXT_HIDDEN.exec(json);
  expect(
    rawInJson,
    `raw U+${rawInJson?.[0].codePointAt(0)?.toString(16)} in JSON near ${context(json, rawInJson)}`,
  ).toBe(null);
  if (tui) {
    // The Ink view's final frame. Colour is off in tests (FORCE_COLOR=0), so any raw control character in it
    // came from the input.
    const frame = renderToString(
      createElement(RunView, {
        snapshot: {
          plan: report.checks.map((c) => ({ id: c.id, title: c.title })),
          printed: report.checks.map((result) => ({
            result,
            findings: report.findings.filter((f) => f.checkId === result.id),
          })),
          running: new Set<CheckId>(),
          held: new Map(),
          report,
        },
      }),
      { columns: 120 },
    );
    expect(frame.includes(SECRET_MARK), 'a secret (SECRET_MARK) in the TUI').toBe(false);
    const rawInTui = RAW_CONTROL.exec(frame) ?? TEXT_HIDDEN.exec(frame);
    expect(
      rawInTui,
      `raw U+${rawInTui?.[0].codePointAt(0)?.toString(16)} in the TUI near ${context(frame, rawInTui)}`,
    ).toBe(null);
  }
  // Every secret the fakes hand out, and every secret env value of the env fuzz, starts with SECRET_MARK:
  // no output may show even that start of one, whatever else the case was about.
  expect(text.includes(SECRET_MARK), 'a secret (SECRET_MARK) in the text output').toBe(false);
  expect(json.includes(SECRET_MARK), 'a secret (SECRET_MARK) in the JSON output').toBe(false);
  for (const command of [
    ...(report.rootCause?.remedy.commands ?? []),
    ...report.findings.flatMap((f) => f.remedy.commands),
  ]) {
    if (commandsSeen.size < MAX_COMMANDS_KEPT) commandsSeen.add(command);
  }
  // Escaping changed the bytes, never the data (a string compare: deep equality is slow on huge values).
  const parsed: unknown = JSON.parse(json);
  expect(JSON.stringify(parsed) === JSON.stringify(report), 'JSON does not parse back to the report').toBe(true);
  expectValidReport(parsed);
  return { text, json };
}

/** Every distinct fix command the cases of this file printed (up to MAX_COMMANDS_KEPT). */
const commandsSeen = new Set<string>();
const MAX_COMMANDS_KEPT = 20_000;

/** A placeholder, <LIKE_THIS>, stands for a word the user types in. */
const PLACEHOLDER = /<[A-Z][A-Z0-9_]*>/g;

/**
 * Every fix command the file's cases printed parses as shell (bash -n): one bash reads them all, and only on
 * a failure is each checked alone to name it. Call from afterAll; returns how many were checked.
 */
export function expectCommandsParse(): number {
  const commands = [...commandsSeen].map((c) => c.replace(PLACEHOLDER, 'PLACEHOLDER'));
  const parses = (script: string) =>
    spawnSync('/bin/bash', ['--norc', '--noprofile', '-n'], { input: script, encoding: 'utf8' }).status === 0;
  if (!parses(commands.join('\n'))) {
    const bad = commands.filter((c) => !parses(c));
    // Named shortly: a failure message must stay readable with values of 40,000 characters.
    expect(
      bad.slice(0, 3).map((c) => JSON.stringify(c.slice(0, 300))),
      'fix commands bash -n rejects',
    ).toEqual([]);
  }
  return commands.length;
}

function context(text: string, match: RegExpExecArray | null): string {
  if (!match) return '';
  return JSON.stringify(text.slice(Math.max(0, match.index - 60), match.index + 20));
}

// Unhandled rejections and uncaught exceptions are collected and asserted per case, so the failing input is
// the one fast-check shrinks and reports (a stray rejection would otherwise fail the file without a seed).
const escaped: unknown[] = [];
process.on('unhandledRejection', (reason) => escaped.push(reason));
process.on('uncaughtException', (error) => escaped.push(error));

/** One case in this many also renders the Ink view. */
export const TUI_EVERY = 100;
let cases = 0;

/** Runs the checks on one input and asserts every invariant; returns the report and its renderings. */
export async function diagnose(
  ctx: Context,
  checks: readonly Check[],
): Promise<{ report: Report; text: string; json: string }> {
  escaped.length = 0;
  const report = await runChecks(ctx, { checks, version: '0.0.0-fuzz' });
  // Ink is slower than the other renderers: every TUI_EVERY-th case also renders the TUI's final frame.
  const rendered = expectSoundReport(report, checks, ++cases % TUI_EVERY === 0);
  // Let rejections of promises nobody awaited surface before the case ends.
  await new Promise((resolve) => setImmediate(resolve));
  expect(escaped).toEqual([]);
  return { report, ...rendered };
}

/**
 * docs/report.md: no secret in any output. `secret` must be distinctive (a marker or a long random
 * string); it is looked for as given, as the text renderer escapes it and as JSON escapes it.
 */
export function expectNotShown(rendered: { text: string; json: string }, secret: string, what: string): void {
  const forms = new Set([secret, escapeControl(secret), JSON.stringify(secret).slice(1, -1)]);
  for (const form of forms) {
    expect(rendered.text.includes(form), `${what} shown in the text output`).toBe(false);
    expect(rendered.json.includes(form), `${what} shown in the JSON output`).toBe(false);
  }
}

/** CHECKS narrowed to `ids` and every check they read, hard (dependsOn) or soft (uses), as --only selects. */
export function only(...ids: string[]): Check[] {
  return selectChecks(CHECKS, ids, []);
}

export function contextOf(env: Env, files: FileView, net: NetClient): Context {
  return { ...fixtureContext({ env, net, noKube: true, timeoutMs: CASE_TIMEOUT_MS }), files };
}

// --- the container filesystem: src/sim/memory-files.ts, which holds any bytes -----------------------------

/** The container's files at the fuzz clock's NOW. */
export function byteFileView(files: Readonly<Record<string, Uint8Array | string>>, mtimeMs = NOW): FileView {
  return createMemoryFileView(files, mtimeMs);
}

// --- a fake network ------------------------------------------------------------------------------------------

export type Responder = (url: URL, init: HttpRequestInit) => HttpAnswer | NetError;

/** Header values node:http refuses before sending (ERR_INVALID_CHAR); the real client rejects them too. */
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * A NetClient that answers at once through `respond`, with the real client's rules on what it accepts: only
 * http(s) URLs, no header value node:http would refuse, an aborted signal rejects, bodies cut at maxBytes.
 */
export function fakeNet(respond: Responder, probeOk = false): NetClient {
  return {
    async request(url, init) {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        throw new NetError('invalid-url', url, undefined, 'invalid URL');
      }
      if (target.protocol !== 'http:' && target.protocol !== 'https:') {
        throw new NetError('invalid-url', url, undefined, `unsupported scheme ${target.protocol}`);
      }
      for (const [name, value] of Object.entries(init.headers ?? {})) {
        if (BAD_HEADER_VALUE.test(value)) {
          throw new NetError('other', url, 'ERR_INVALID_CHAR', `Invalid character in header content ["${name}"]`);
        }
      }
      if (init.signal?.aborted) throw new NetError('aborted', url, undefined, 'aborted before start');
      const answer = respond(target, init);
      if (answer instanceof NetError) throw answer;
      const max = init.maxBytes ?? 1024 * 1024;
      return answer.body.length > max ? { ...answer, body: answer.body.subarray(0, max), truncated: true } : answer;
    },
    async probe(url): Promise<ProbeResult> {
      let valid = true;
      try {
        new URL(url);
      } catch {
        valid = false;
      }
      const failure = !valid
        ? new NetError('invalid-url', url, undefined, 'invalid URL')
        : probeOk
          ? undefined
          : new NetError('refused', url, 'ECONNREFUSED', 'connect ECONNREFUSED');
      return { url, address: undefined, ok: failure === undefined, failure, elapsedMs: 0 };
    },
  };
}

export function refused(url: URL): NetError {
  return new NetError('refused', url.href, 'ECONNREFUSED', `connect ECONNREFUSED ${url.host}`);
}

export function answer(status: number, body: string | Uint8Array, contentType?: string): HttpAnswer {
  return {
    status,
    headers: contentType === undefined ? {} : { 'content-type': contentType },
    body: Buffer.from(body),
    truncated: false,
  };
}

// --- hostile text --------------------------------------------------------------------------------------------

/** Terminal escapes that would clear, move, recolour, retitle or hyperlink if they reached a terminal raw. */
export const ANSI_SEQUENCES = [
  '\u001b[2J',
  '\u001b[31m',
  '\u001b[1A\r',
  '\u001b]0;pwned\u0007',
  '\u001b]8;;https://evil.example\u001b\\click\u001b]8;;\u001b\\',
  '\u001bc',
  '\u009b31m',
  '\u009d0;title\u009c',
  '\r\u001b[K',
] as const;

const CONTROL_CHARS = [
  ...Array.from({ length: 0x1f }, (_, i) => String.fromCharCode(i + 1)),
  '\u007f',
  ...Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(0x80 + i)),
  '\u2028',
  '\u2029',
  '\u202e',
  '\u200f',
  '\u2066',
];

/** Strings made to break a terminal: ANSI sequences, every C0/C1 control (never NUL), bidi overrides. */
export const hostileText: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc.constantFrom(...ANSI_SEQUENCES),
      fc.constantFrom(...CONTROL_CHARS),
      fc.string({ maxLength: 8 }),
      fc.string({ unit: 'grapheme', maxLength: 6 }),
      fc.string({ unit: 'binary', maxLength: 6 }),
    ),
    { maxLength: 10 },
  )
  .map((parts) => parts.join('').replaceAll('\u0000', ''));

/** Text that is a little hostile most of the time and sometimes long. */
export const anyText: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: hostileText },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\n', '\r\n', 'true', 'null', '0', '-1', '1e309') },
  {
    weight: 1,
    arbitrary: fc
      .tuple(hostileText, fc.integer({ min: 1_000, max: 40_000 }))
      .map(([t, n]) => (t || 'x').repeat(Math.ceil(n / Math.max(1, t.length)))),
  },
);

/** Any JSON value, with hostile strings in keys and values. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -0),
    hostileText,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileText, tie('value'), { maxKeys: 4 }),
  ),
})).value;

export const HTTP_STATUSES = fc.oneof(
  fc.constantFrom(200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 405, 429, 500, 502, 503),
  fc.integer({ min: 100, max: 599 }),
);

export const CONTENT_TYPES = fc.option(
  fc.oneof(
    fc.constantFrom(
      'application/json',
      'text/xml',
      'application/xml',
      'text/plain',
      'text/html; charset=utf-8',
      'application/octet-stream',
      'application/json; charset=utf-16',
    ),
    hostileText.map((t) => t.replace(/[^\t\x20-\x7e\x80-\xff]/g, '')),
  ),
  { nil: undefined },
);

// --- AWS as it answers when all is well ------------------------------------------------------------------------

/** Which endpoint a request is for, told apart the way the clients call them (method, path, headers, form). */
export type Service =
  | 'sts-assume'
  | 'sts-caller'
  | 'discovery'
  | 'jwks'
  | 'agent'
  | 'imds-token'
  | 'imds-alive'
  | 'imds-roles'
  | 'imds-document'
  | 'imds-credentials'
  | 'other';

export function serviceOf(url: URL, init: HttpRequestInit): Service {
  const form = init.body === undefined ? '' : Buffer.from(init.body).toString('utf8');
  const headers = Object.keys(init.headers ?? {}).map((h) => h.toLowerCase());
  if (init.method === 'POST' && form.includes('Action=AssumeRoleWithWebIdentity')) return 'sts-assume';
  if (init.method === 'POST' && form.includes('Action=GetCallerIdentity')) return 'sts-caller';
  if (url.pathname.endsWith('/.well-known/openid-configuration')) return 'discovery';
  if (headers.includes('accept')) return 'jwks';
  if (headers.includes('authorization')) return 'agent';
  if (url.pathname === '/latest/api/token') return 'imds-token';
  if (url.pathname === '/latest/meta-data/') return 'imds-alive';
  if (url.pathname === '/latest/meta-data/iam/security-credentials/') return 'imds-roles';
  if (url.pathname.startsWith('/latest/meta-data/iam/security-credentials/')) return 'imds-credentials';
  if (url.pathname === '/latest/dynamic/instance-identity/document') return 'imds-document';
  return 'other';
}

export const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/**
 * Starts every secret the fakes hand out (secret keys, session tokens) and every secret env value, so that a
 * test can assert no output shows even the start of one.
 */
export const SECRET_MARK = 'sEcReT-mArK-';
export const ASSUMED_ARN = 'arn:aws:sts::111122223333:assumed-role/app/irsa-doctor-1';

export function assumeRoleXml(arn = ASSUMED_ARN): string {
  return `<AssumeRoleWithWebIdentityResponse xmlns="${STS_NS}"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAASSUMEDKEY000001</AccessKeyId><SecretAccessKey>${SECRET_MARK}sts</SecretAccessKey><SessionToken>${SECRET_MARK}sts-session</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>${arn}</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`;
}

export function callerXml(arn = ASSUMED_ARN): string {
  return `<GetCallerIdentityResponse xmlns="${STS_NS}"><GetCallerIdentityResult><Arn>${arn}</Arn><UserId>AROA:x</UserId><Account>111122223333</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`;
}

/** Every endpoint answering as a healthy EKS pod sees it; `overrides` replace the answers of some services. */
export function plausibleAws(
  jwks: object = { keys: [] },
  overrides: Partial<Record<Service, Responder>> = {},
): Responder {
  return (url, init) => {
    const service = serviceOf(url, init);
    const override = overrides[service];
    if (override) return override(url, init);
    switch (service) {
      case 'sts-assume':
        return answer(200, assumeRoleXml(), 'text/xml');
      case 'sts-caller':
        return answer(200, callerXml(), 'text/xml');
      case 'discovery': {
        const issuer = url.href.slice(0, -'/.well-known/openid-configuration'.length);
        return answer(200, JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }), 'application/json');
      }
      case 'jwks':
        return answer(200, JSON.stringify(jwks), 'application/json');
      case 'agent':
        return answer(
          200,
          JSON.stringify({
            AccessKeyId: 'ASIAAGENTKEY00000001',
            SecretAccessKey: `${SECRET_MARK}agent`,
            Token: `${SECRET_MARK}agent-session`,
            AccountId: '111122223333',
            Expiration: '2030-01-01T00:00:00Z',
          }),
          'application/json',
        );
      case 'imds-token':
        return answer(200, 'AQAEAIMDSTOKEN', 'text/plain');
      case 'imds-alive':
        return answer(200, 'iam/\ninstance-id', 'text/plain');
      case 'imds-roles':
        return answer(200, 'eks-node-role', 'text/plain');
      case 'imds-document':
        return answer(
          200,
          JSON.stringify({ accountId: '111122223333', region: 'us-west-2', instanceId: 'i-0123456789abcdef0' }),
          'application/json',
        );
      case 'imds-credentials':
        return answer(
          200,
          JSON.stringify({
            Code: 'Success',
            AccessKeyId: 'ASIANODE',
            SecretAccessKey: `${SECRET_MARK}imds`,
            Token: `${SECRET_MARK}imds-session`,
          }),
          'application/json',
        );
      case 'other':
        return answer(404, 'not found', 'text/plain');
      default:
        return assertNever(service);
    }
  };
}
