import { SECRET_ENV_NAMES } from '../aws/env-names';
import type { SecretRegistry } from '../aws/secrets';
import { MIN_KNOWN_SECRET, currentSecretRegistry, maskAccessKeyId } from '../aws/secrets';
import type { Env } from '../context/context';
import type { CheckResult, Finding, Identity, Remedy, Report, Verification } from './types';

/**
 * The one redaction pass. Everything the tool prints (the report in every mode, and stderr) goes through
 * `redactText`, which removes two kinds of secret:
 *
 * - every value the run knows to be secret (src/aws/secrets.ts: the token and its segments, issued
 *   credentials, the agent and Kubernetes tokens, secret env values, URL passwords), wherever it appears, also
 *   JSON- or shell-escaped, and also a cut-off piece of one (23 characters or more), as a truncated server
 *   message shows it; each is replaced by the fingerprint the tool shows for it elsewhere;
 * - credential-shaped text whatever its value: URL user info (`scheme://user:pass@`, a proxy without a
 *   scheme, a password with `/`), credential query parameters, JSON/INI/XML/header fields named like a
 *   credential (`SecretAccessKey`, `\u0053ecretAccessKey`, `secret_access_key`, `<SessionToken>`,
 *   `Authorization:`), command-line flags (`--password=`), JWTs and AWS session tokens by their shape; access
 *   key ids are masked (`ASIA****WXYZ`).
 *
 * The runner applies it to every check result and finding as they settle (what the TUI shows live) and to
 * the assembled report; main.ts to every stderr line. Codes, ids and statuses are ours and never rewritten.
 */

const REDACTED = '<redacted>';

/** Names of fields whose value is a credential, compared without case, `_` and `-`. */
const STRONG_NAMES = new Set(
  [
    'secretaccesskey',
    'awssecretaccesskey',
    'sessiontoken',
    'awssessiontoken',
    'securitytoken',
    'awssecuritytoken',
    'xamzsecuritytoken',
    'accesstoken',
    'idtoken',
    'refreshtoken',
    'bearertoken',
    'authtoken',
    'authorizationtoken',
    'awscontainerauthorizationtoken',
    'webidentitytoken',
    'password',
    'passwd',
    'clientsecret',
    'privatekey',
    'apikey',
    'xamzsignature',
    'xamzcredential',
  ].map(normalizeName),
);
/** Generic names: a credential when quoted (JSON) or followed by `=`, but plain words in prose ("token: ..."). */
const WEAK_NAMES = new Set(['token', 'secret', 'pwd', 'signature', 'sig', 'credential', 'credentials', 'auth']);

function normalizeName(name: string): string {
  return name
    .replace(/\\u([0-9a-fA-F]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .toLowerCase()
    .replace(/[_.-]/g, '');
}

/** Values that are already our own redaction or masking: left as they are. */
const ALREADY_SAFE =
  /^(?:<[^<>]*>|\[secret sha256:[0-9a-f]+(?: \(part\))?\]|sha256:[0-9a-f]+|\*+|REDACTED|SECRET-sha256-[0-9a-f]+)$/;

// --- patterns ---------------------------------------------------------------------------------------------------

/**
 * `scheme://userinfo@`: the user info runs to the last `@` of the URL, so a password with `/` or `@` in it
 * (which a proxy variable may carry unencoded) is removed whole. Brackets never occur in user info; leaving
 * them out keeps a known secret's fingerprint marker as it is.
 */
const URL_USERINFO = /\b([A-Za-z][A-Za-z0-9+.-]{0,30}:\/\/)[^\s'"<>`[\]]{0,2048}@/g;
/** `user:password@host` with no scheme, as HTTPS_PROXY may be written; an ARN (arn:...:user/a@b) is not one. */
const BARE_USERINFO = /(^|[\s=("'`,;])(?!arn:)[^\s:/@'"`<>=,;()[\]]{1,128}:[^\s@'"`<>[\]]{1,200}@(?=[A-Za-z0-9[])/g;
/** `?name=value` / `&name=value`; the name is checked against SECRET_PARAMETER. */
const QUERY_PARAMETER = /([?&;])([A-Za-z0-9_.-]{1,80})=([^&#\s'"<>`]*)/g;
const SECRET_PARAMETER = /token|signature|sig|password|passwd|pwd|secret|credential|api[-_]?key|auth|code/i;
/**
 * A field name (maybe quoted, maybe with \uXXXX escapes or an escaped quote) and its separator. The name
 * starts a word and is taken whole (the lookahead and back-reference make it atomic), so a long run of name
 * characters costs one attempt, not one per length.
 */
const FIELD =
  /(?<![A-Za-z0-9_.\\-])(\\?["']?)(?=((?:[A-Za-z0-9_.-]|\\u[0-9a-fA-F]{4}){2,80}))\2(\\?["']?)(\s*)([:=])(\s*)/g;
/** <SecretAccessKey>...</SecretAccessKey> and the like (the STS and IMDS XML). */
const XML_SECRET =
  /<((?:[A-Za-z0-9_-]+:)?(?:SecretAccessKey|SessionToken|SecurityToken|Token|WebIdentityToken|Password))>[^<]*(?:<\/\1>)?/gi;
/** HTTP header lines that carry a credential. */
const HEADER_SECRET =
  /\b(authorization|proxy-authorization|x-aws-ec2-metadata-token|x-amz-security-token)(\s*[:=]\s*)(?:(?:bearer|basic|aws4-hmac-sha256)\s+)?[^\s,;'"`<>]+/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;
/** `--password=x`, `--token x` on a command line (a peer's cmdline); the name is checked against SECRET_FLAG. */
const FLAG = /(^|\s)(--?[A-Za-z0-9_-]{1,80})(=|[ \t]+)(?!-)([^\s'"`]+)/g;
const SECRET_FLAG = /(?:password|passwd|secret|token|api-?key)$/i;
/** A JWT, or one base64url-encoded JSON segment of it (a cut-off token still starts so). */
const JWT = /\beyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}/g;
/** Access key ids (long-term AKIA, temporary ASIA): shown masked only (docs/report.md, "Secrets"). */
const ACCESS_KEY_ID = /\b(?:AKIA|ASIA)[A-Z2-7]{16}\b/g;
/** AWS session tokens start with these (base64 of their fixed header). */
const SESSION_TOKEN = /(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz)[A-Za-z0-9+/=]*/g;

function redactPatterns(text: string): string {
  let out = text;
  if (out.includes('@')) {
    out = out.replace(URL_USERINFO, `$1${REDACTED}@`);
    out = out.replace(BARE_USERINFO, `$1${REDACTED}@`);
  }
  if (/[?&;]/.test(out)) {
    out = out.replace(QUERY_PARAMETER, (all, sep: string, name: string, value: string) =>
      !SECRET_PARAMETER.test(name) || value === '' || ALREADY_SAFE.test(value) ? all : `${sep}${name}=${REDACTED}`,
    );
  }
  if (out.includes('<')) out = out.replace(XML_SECRET, (_, tag: string) => `<${tag}>${REDACTED}</${tag}>`);
  out = out.replace(HEADER_SECRET, `$1$2${REDACTED}`);
  out = out.replace(BEARER, `$1 ${REDACTED}`);
  if (out.includes('-')) {
    out = out.replace(FLAG, (all, lead: string, flag: string, sep: string, value: string) =>
      !SECRET_FLAG.test(flag) || /(?:file|path|dir)$/i.test(flag) || ALREADY_SAFE.test(value)
        ? all
        : `${lead}${flag}${sep}${REDACTED}`,
    );
  }
  out = redactFields(out);
  out = out.replace(JWT, '<redacted JWT>');
  out = out.replace(SESSION_TOKEN, '<redacted session token>');
  out = out.replace(ACCESS_KEY_ID, (id) => maskAccessKeyId(id));
  return out;
}

/**
 * Values of credential-named fields: `"SecretAccessKey": "..."` (also when the text is cut inside the value),
 * `aws_secret_access_key = ...`, `'token': '...'`, `Token=...`. The value is read by hand after the separator:
 * a quoted string to its closing quote, else a run up to a delimiter.
 */
function redactFields(text: string): string {
  if (!/[:=]/.test(text)) return text;
  let out = '';
  let last = 0;
  FIELD.lastIndex = 0;
  for (let match = FIELD.exec(text); match; match = FIELD.exec(text)) {
    const [whole, open = '', rawName = '', close = '', , separator = ''] = match;
    const name = normalizeName(rawName);
    const quoted = open !== '' && close !== '';
    const strong = STRONG_NAMES.has(name);
    const weak = WEAK_NAMES.has(name);
    const isSecret = strong ? quoted || separator === '=' || open === '' : weak && (quoted || separator === '=');
    if (!isSecret) {
      // Let the next match start inside this one's tail (`a: "x", "Token": ...`).
      FIELD.lastIndex = match.index + Math.max(1, open.length + rawName.length);
      continue;
    }
    const valueStart = match.index + whole.length;
    const valueEnd = endOfValue(text, valueStart);
    const value = text.slice(valueStart, valueEnd);
    const inner = value.replace(/^\\?["']|\\?["']$/g, '');
    if (inner === '' || ALREADY_SAFE.test(inner) || /^[{[]/.test(value)) {
      FIELD.lastIndex = valueStart;
      continue;
    }
    const quote = /^\\?["']/.exec(value)?.[0] ?? '';
    out += text.slice(last, valueStart) + (quote ? `${quote}${REDACTED}${quote}` : REDACTED);
    last = valueEnd;
    FIELD.lastIndex = valueEnd;
  }
  return out + text.slice(last);
}

/** Where a field's value ends: after its closing quote (or at the end when cut off), else at a delimiter. */
function endOfValue(text: string, start: number): number {
  const quote = /^\\?(["'])/.exec(text.slice(start, start + 2));
  if (quote) {
    const q = quote[1];
    let i = start + quote[0].length;
    for (; i < text.length; i++) {
      const ch = text[i];
      if (ch === '\\') {
        if (text[i + 1] === q) return i + 2; // an escaped closing quote of an escaped JSON string
        i++;
        continue;
      }
      if (ch === q) return i + 1;
    }
    return text.length;
  }
  let i = start;
  while (i < text.length && !/[\s,;&'"`<>}\])]/.test(text[i] ?? '')) i++;
  return i;
}

// --- known secrets ----------------------------------------------------------------------------------------------

/**
 * Pieces of this length of every known secret are indexed, and the text is looked up every STEP characters:
 * any stretch of a secret of PIECE + STEP - 1 characters or more (23) contains a looked-up window, so a cut-off
 * piece of a secret that long is found, at an eighth of the lookups of a window at every position.
 */
const PIECE = 16;
const STEP = 8;
/** Places one piece is remembered at (a repetitive secret has the same piece everywhere). */
const PLACES_PER_PIECE = 4;

interface Form {
  readonly text: string;
  readonly fingerprint: string;
}

interface KnownIndex {
  /** Every searched form of every secret, with its fingerprint. */
  readonly forms: readonly Form[];
  /** Forms shorter than PIECE, found by plain search. */
  readonly short: readonly Form[];
  /** PIECE-long pieces of the longer forms: piece -> [form index, offset] places. */
  readonly pieces: ReadonlyMap<string, readonly (readonly [number, number])[]>;
}

/** The forms a secret can take in our output: as is, JSON-escaped, inside single quotes of a shell command. */
function formsOf(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const shell = secret.replace(/'/g, `'\\''`);
  return [...new Set([secret, json, shell, json.replace(/'/g, `'\\''`)])];
}

/** One registry's index, grown as secrets are added to it (never rebuilt: a run adds them one by one). */
interface GrowingIndex extends KnownIndex {
  readonly forms: Form[];
  readonly short: Form[];
  readonly pieces: Map<string, [number, number][]>;
  /** How many registry entries are indexed. */
  indexed: number;
}

const indexes = new WeakMap<ReadonlyMap<string, string>, GrowingIndex>();

function indexOf(known: ReadonlyMap<string, string>): KnownIndex {
  let index = indexes.get(known);
  if (!index) {
    index = { forms: [], short: [], pieces: new Map(), indexed: 0 };
    indexes.set(known, index);
  }
  if (index.indexed === known.size) return index;
  let n = 0;
  for (const [secret, fingerprint] of known) {
    if (n++ < index.indexed) continue; // a Map iterates in insertion order: these are indexed already
    for (const text of formsOf(secret)) {
      if (text.length < MIN_KNOWN_SECRET) continue;
      const i = index.forms.push({ text, fingerprint }) - 1;
      if (text.length < PIECE) {
        index.short.push({ text, fingerprint });
        continue;
      }
      for (let at = 0; at + PIECE <= text.length; at++) {
        const piece = text.slice(at, at + PIECE);
        const places = index.pieces.get(piece);
        if (!places) index.pieces.set(piece, [[i, at]]);
        else if (places.length < PLACES_PER_PIECE) places.push([i, at]);
      }
    }
  }
  index.indexed = known.size;
  return index;
}

function redactKnown(text: string, known: ReadonlyMap<string, string>): string {
  if (known.size === 0 || text.length < MIN_KNOWN_SECRET) return text;
  const { forms, short, pieces } = indexOf(known);
  // Ranges of the text that are (part of) a secret: [start, end, fingerprint, whole].
  const ranges: [number, number, string, boolean][] = [];
  for (const form of short) {
    for (let at = text.indexOf(form.text); at >= 0; at = text.indexOf(form.text, at + form.text.length)) {
      ranges.push([at, at + form.text.length, form.fingerprint, true]);
    }
  }
  let floor = 0; // a match never grows back into the one before it: the scan stays linear
  for (let i = 0; i + PIECE <= text.length;) {
    const places = pieces.get(text.slice(i, i + PIECE));
    if (!places) {
      i += STEP;
      continue;
    }
    let best: [number, number, string, boolean] | undefined;
    for (const [f, at] of places) {
      const form = forms[f]!;
      let start = i;
      let offset = at;
      while (start > floor && offset > 0 && text[start - 1] === form.text[offset - 1]) {
        start--;
        offset--;
      }
      let end = i + PIECE;
      let formEnd = at + PIECE;
      while (end < text.length && formEnd < form.text.length && text[end] === form.text[formEnd]) {
        end++;
        formEnd++;
      }
      const whole = offset === 0 && formEnd === form.text.length;
      if (!best || end - start > best[1] - best[0]) best = [start, end, form.fingerprint, whole];
    }
    ranges.push(best!);
    floor = best![1];
    i = Math.ceil(floor / STEP) * STEP;
  }
  if (ranges.length === 0) return text;
  ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let last = 0;
  for (const [start, end, fingerprint, whole] of ranges) {
    if (start < last) continue; // inside a range already replaced
    out += text.slice(last, start) + `[secret ${fingerprint}${whole ? '' : ' (part)'}]`;
    last = end;
  }
  return out + text.slice(last);
}

// --- env ------------------------------------------------------------------------------------------------------

/** Names whose values are secrets even when the tool does not know the variable (an app's own settings). */
const SECRET_NAME =
  /(?:SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY)(?!.*(?:_FILE|_PATH|_DIR|_URI|_URL)$)/i;

/**
 * Registers the secret values of an environment with the current run: the AWS secret variables, values of
 * variables named like a secret, and the passwords in URL-valued variables (endpoints, proxies), with or
 * without a scheme.
 */
export function registerEnvSecrets(env: Env, registry: SecretRegistry = currentSecretRegistry()): void {
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    if (SECRET_ENV_NAMES.has(name) || SECRET_NAME.test(name)) registry.add(value);
    for (const password of urlPasswords(value)) registry.add(password);
  }
}

/**
 * The user info of a URL-valued variable: `scheme://user:pass@host`, `user:pass@host`. The value is taken
 * whole, to its last `@`: a password may hold `/`, `@` or even a space.
 */
function urlPasswords(value: string): string[] {
  const at = value.lastIndexOf('@');
  // A host follows the user info (https:@//x or a trailing @ is no credential).
  if (at <= 0 || !/^[A-Za-z0-9[]/.test(value.slice(at + 1))) return [];
  const scheme = value.indexOf('://');
  const authority = value.slice(scheme >= 0 && scheme < at ? scheme + 3 : 0, at);
  const colon = authority.indexOf(':');
  const password = colon >= 0 ? authority.slice(colon + 1) : authority;
  if (password === '' || /[/]{2}/.test(authority)) return [];
  return [...new Set([password, safeDecode(password), ...(colon > 0 ? [authority] : [])])];
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

// --- the pass --------------------------------------------------------------------------------------------------

/**
 * The longest text kept of one value: a hostile env value or body of megabytes is no diagnosis, and every
 * pattern above costs at most a bounded amount per character, so this bounds the pass.
 */
export const MAX_TEXT = 32 * 1024;

/** Removes every known secret and every credential-shaped value from one piece of output text. */
export function redactText(text: string, registry: SecretRegistry = currentSecretRegistry()): string {
  if (text.length < MEMO_FROM) return redactUncached(text, registry);
  // The same long value (a sub, a pattern) is in a report many times over: redact it once per registry state.
  const known = registry.entries();
  let memo = memos.get(known);
  if (!memo || memo.size !== known.size) {
    memo = { size: known.size, results: new Map() };
    memos.set(known, memo);
  }
  const hit = memo.results.get(text);
  if (hit !== undefined) return hit;
  const result = redactUncached(text, registry);
  if (memo.results.size < 1_000) {
    memo.results.set(text, result);
    // Redacting is idempotent: the final pass over the report meets these results again.
    memo.results.set(result, result);
  }
  return result;
}

/** Shorter texts are redacted each time: looking them up would cost as much. */
const MEMO_FROM = 256;
const memos = new WeakMap<ReadonlyMap<string, string>, { size: number; results: Map<string, string> }>();

function redactUncached(text: string, registry: SecretRegistry): string {
  if (text.length <= MAX_TEXT) return redactPatterns(redactKnown(text, registry.entries()));
  // Known secrets are looked for past the cut too, so that one the cut would split is still found whole.
  const known = redactKnown(text.slice(0, MAX_TEXT + 4096), registry.entries());
  return redactPatterns(`${known.slice(0, MAX_TEXT)}... (${text.length - MAX_TEXT} more chars)`);
}

/** Any evidence or detail value: strings redacted, arrays and objects walked (keys too), others kept. */
export function redactValue(value: unknown, registry: SecretRegistry = currentSecretRegistry(), depth = 0): unknown {
  if (typeof value === 'string') return redactText(value, registry);
  if (depth > 20 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, registry, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const name = normalizeName(key);
    const secretField = (STRONG_NAMES.has(name) || WEAK_NAMES.has(name)) && typeof v === 'string';
    out[redactText(key, registry)] =
      secretField && !ALREADY_SAFE.test(v as string) && v !== '' ? REDACTED : redactValue(v, registry, depth + 1);
  }
  return out;
}

/**
 * The markers as a command may hold them: plain characters, so that a marker outside quotes is one word and
 * never a redirection (`<redacted>`) or a glob (`[secret ...]`), and the command still parses.
 */
function shellSafeMarkers(command: string): string {
  return command
    .replace(/<redacted(?: JWT| session token)?>/g, 'REDACTED')
    .replace(
      /\[secret (sha256:[0-9a-f]+)( \(part\))?\]/g,
      (_, fingerprint: string) => `SECRET-${fingerprint.replace(':', '-')}`,
    );
}

/**
 * A fix command through the pass: never cut (a cut can end inside its quotes), so one too long to be of use
 * is replaced by a comment saying so; its markers are plain words, so it still parses.
 */
export function redactCommand<C extends string>(command: C, registry: SecretRegistry = currentSecretRegistry()): C {
  return (
    command.length > MAX_TEXT
      ? `# a command of ${command.length} characters is not shown: a value in it is longer than any real one`
      : shellSafeMarkers(redactText(command, registry))
  ) as C;
}

function redactRemedy(remedy: Remedy, registry: SecretRegistry): Remedy {
  return {
    ...remedy,
    summary: redactText(remedy.summary, registry),
    commands: remedy.commands.map((c) => redactCommand(c, registry)),
    // Links are the tool's own (documentation URLs): never rewritten, so a hostile "secret" cannot break one.
    links: remedy.links,
    ...(remedy.snippets
      ? { snippets: remedy.snippets.map((snippet) => ({ ...snippet, text: redactText(snippet.text, registry) })) }
      : {}),
  };
}

export function redactResult(result: CheckResult, registry: SecretRegistry = currentSecretRegistry()): CheckResult {
  return {
    ...result,
    summary: redactText(result.summary, registry),
    ...(result.details
      ? { details: redactValue(result.details, registry) as NonNullable<CheckResult['details']> }
      : {}),
  };
}

export function redactFinding(finding: Finding, registry: SecretRegistry = currentSecretRegistry()): Finding {
  return {
    ...finding,
    summary: redactText(finding.summary, registry),
    evidence: redactValue(finding.evidence, registry) as Finding['evidence'],
    remedy: redactRemedy(finding.remedy, registry),
  };
}

function redactIdentity(identity: Identity, registry: SecretRegistry): Identity {
  const arn = (value: string | null) => (value === null ? null : redactText(value, registry));
  return {
    ...identity,
    expectedRoleArn: arn(identity.expectedRoleArn),
    callerArn: arn(identity.callerArn),
    nodeRoleArn: arn(identity.nodeRoleArn),
  };
}

/** The verdict line keeps its fixed start (HEALTHY:, BROKEN: ...), which is the tool's own word. */
function redactHeadline(headline: string, registry: SecretRegistry): string {
  const start = /^[A-Z]+: /.exec(headline)?.[0] ?? '';
  return start + redactText(headline.slice(start.length), registry);
}

function redactVerification(verification: Verification, registry: SecretRegistry): Verification {
  return {
    ...verification,
    links: verification.links.map((link) => ({
      ...link,
      notChecked: link.notChecked.map((n) => ({ ...n, reason: redactText(n.reason, registry) })),
    })),
    headline: redactHeadline(verification.headline, registry),
  };
}

/** The whole report, with the secrets known at its end (some are learned after the checks that show them). */
export function redactReport(report: Report, registry: SecretRegistry = currentSecretRegistry()): Report {
  return {
    ...report,
    verification: redactVerification(report.verification, registry),
    rootCause: report.rootCause && {
      ...report.rootCause,
      summary: redactText(report.rootCause.summary, registry),
      remedy: redactRemedy(report.rootCause.remedy, registry),
    },
    findings: report.findings.map((f) => redactFinding(f, registry)),
    checks: report.checks.map((c) => redactResult(c, registry)),
    identity: redactIdentity(report.identity, registry),
  };
}
