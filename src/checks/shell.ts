/**
 * The one place values are put into the shell commands a remedy prints. Pod names, namespaces, ARNs, paths
 * and issuers come from the environment, the token or a server, so each is quoted for a POSIX shell before
 * it reaches a command a user will paste: `POD_NAME='x$(id)'` must print as a harmless word.
 *
 * A remedy's commands are `ShellCommand`s, which only `sh` and `heredoc` make: a command built by string
 * concatenation does not type-check, so no value can reach a printed command without going through here.
 */

import { parseRoleArn } from '../aws/arn';

declare const shellCommandBrand: unique symbol;

/** A command line whose every interpolated value was quoted by `sh` (or a quoted here-document). */
export type ShellCommand = string & { readonly [shellCommandBrand]: true };

/**
 * A value the user fills in, written <LIKE_THIS> (or a pattern of them, arn:aws:iam::<ACCOUNT_ID>:role/<ROLE_NAME>).
 * Shown as it is: it is ours, and the user replaces it.
 */
export class Placeholder {
  constructor(
    readonly name: string,
    private readonly shown = `<${name}>`,
  ) {}
  toString(): string {
    return this.shown;
  }
}

export function placeholder(name: string): Placeholder {
  return new Placeholder(name);
}

/** A whole command made by `sh`, inserted into another as it is (it is already shell syntax). */
export class ShellFragment {
  constructor(readonly text: ShellCommand) {}
  toString(): string {
    return this.text;
  }
}

export function fragment(command: ShellCommand): ShellFragment {
  return new ShellFragment(command);
}

/** Characters that mean nothing to a POSIX shell inside a word (not at its start: see shellQuote). */
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Single-quotes a value for a POSIX shell (bash, zsh, sh). A word of plain characters stays bare so that
 * common commands read naturally; anything else, including the empty string, is quoted, with `'` written as
 * `'\''`. Single quotes also stop bash's history expansion of `!` when the line is pasted interactively.
 * A leading `-` or `=` is quoted too, which keeps it a word but cannot stop a program from reading it as a
 * flag: `sh` replaces such a value by a placeholder where it would start a word.
 */
export function shellQuote(value: string): string {
  if (PLAIN_WORD.test(value) && !/^[-=]/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A list is written as that many words, each quoted on its own. */
export type ShellValue = string | number | Placeholder | ShellFragment | readonly ShellValue[];

/** Where the next character of a command line lands, as a POSIX shell reads the text written so far. */
interface LexState {
  readonly quote: 'none' | 'single' | 'double';
  /** After an unquoted `#` at the start of a word: the rest of the line is a comment. */
  readonly comment: boolean;
  /** The next character would start a new word (after whitespace or an operator, or at the start). */
  readonly wordStart: boolean;
}

const START: LexState = { quote: 'none', comment: false, wordStart: true };

/** Advances the lexer over text written by us (a template's literal part, or an already quoted value). */
function advance(state: LexState, text: string): LexState {
  let { quote, comment, wordStart } = state;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (comment) {
      if (ch === '\n') {
        comment = false;
        wordStart = true;
      }
      continue;
    }
    switch (quote) {
      case 'single':
        if (ch === "'") quote = 'none';
        break;
      case 'double':
        if (ch === '\\') i++;
        else if (ch === '"') quote = 'none';
        break;
      case 'none':
        if (ch === '\\') {
          i++;
          wordStart = false;
        } else if (ch === "'") {
          quote = 'single';
          wordStart = false;
        } else if (ch === '"') {
          quote = 'double';
          wordStart = false;
        } else if (ch === '#' && wordStart) {
          comment = true;
        } else if (/[\s|&;()<>]/.test(ch)) {
          wordStart = true;
        } else {
          wordStart = false;
        }
        break;
    }
  }
  return { quote, comment, wordStart };
}

/**
 * A value as it must be written where the lexer stands. In a comment it is quoted (so that copying the
 * command the comment mentions stays safe) and its line breaks and control characters escaped, because a
 * newline would end the comment. Inside a literal '...' or "..." of the template, the quotes are closed
 * around the value's own single quotes. A value that would start a word with `-` is never offered as an
 * argument: it becomes <VALUE>, since quoting cannot stop a program from reading a flag.
 */
function render(value: ShellValue, state: LexState): string {
  if (Array.isArray(value)) {
    let current = state;
    return value
      .map((word: ShellValue, i) => {
        if (i > 0) current = advance(current, ' ');
        const rendered = render(word, current);
        current = advance(current, rendered);
        return rendered;
      })
      .join(' ');
  }
  if (value instanceof Placeholder || value instanceof ShellFragment) return value.toString();
  const text = String(value);
  if (state.comment) return escapeForComment(shellQuote(text));
  switch (state.quote) {
    case 'single':
      return text.replace(/'/g, `'\\''`);
    case 'double':
      return `"${shellQuote(text)}"`;
    case 'none':
      if (state.wordStart && text.startsWith('-')) return placeholder('VALUE').toString();
      return shellQuote(text);
  }
}

function escapeForComment(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (ch) => {
    const code = ch.codePointAt(0) ?? 0;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * A command with every interpolated value quoted: sh`kubectl get pod ${pod} -n ${namespace}`. The literal
 * parts are the template's own text, written by us; only `${...}` values are treated as data, and each is
 * written for where it lands (a word, the inside of the template's quotes, a comment).
 */
export function sh(strings: TemplateStringsArray, ...values: readonly ShellValue[]): ShellCommand {
  let out = strings[0] ?? '';
  let state = advance(START, out);
  values.forEach((value, i) => {
    const rendered = render(value, state);
    const literal = strings[i + 1] ?? '';
    state = advance(advance(state, rendered), literal);
    out += rendered + literal;
  });
  return out as ShellCommand;
}

/**
 * `command <<'EOF'` with `body` as a quoted here-document: the shell expands nothing in it, so any text is
 * safe there, as long as no line of it equals the terminator; one that does not occur in the body is chosen.
 * `command` must not itself end in a comment.
 */
export function heredoc(command: ShellCommand, body: string): ShellCommand {
  const lines = new Set(body.split('\n'));
  let terminator = 'EOF';
  for (let n = 1; lines.has(terminator); n++) terminator = `EOF${n}`;
  return `${command} <<'${terminator}'\n${body}\n${terminator}` as ShellCommand;
}

/**
 * A value for a YAML document we print (a here-document body): double-quoted with JSON's escapes, which YAML
 * reads back as the same string, so a name cannot end its line, start a new key or a new document.
 */
export function yamlScalar(value: string | Placeholder): string {
  if (value instanceof Placeholder) return value.toString();
  // A plain DNS-style name reads as itself; words YAML 1.1 would read as booleans or null are quoted.
  const plain = /^[a-z][-a-z0-9.]*$/.test(value) && !/^(?:y|n|yes|no|on|off|true|false|null)$/.test(value);
  return plain ? value : JSON.stringify(value);
}

// --- values in argument positions -----------------------------------------------------------------------------

/**
 * Values that a command uses as a name must be one, or the command is not offered with them: quoting keeps a
 * word a word, but `--kubeconfig=/tmp/x` as a "pod name" would still be read by kubectl as a flag, and a name
 * that is not valid only makes the pasted command fail. Each helper returns the value when it is valid, else
 * the placeholder the user fills in (the value itself is shown, escaped, in the finding's text and evidence).
 */
type Arg = string | Placeholder;

/** DNS-1123 subdomain: pods, ServiceAccounts, Deployments, ReplicaSets, Jobs (Kubernetes validation). */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** DNS-1123 label: namespaces (and container names). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function kubeName(value: string | undefined, name: string): Arg {
  return value !== undefined && value.length <= 253 && DNS_SUBDOMAIN.test(value) ? value : placeholder(name);
}

export function kubeLabel(value: string | undefined, name: string): Arg {
  return value !== undefined && value.length <= 63 && DNS_LABEL.test(value) ? value : placeholder(name);
}

export function namespaceArg(value: string | undefined): Arg {
  return kubeLabel(value, 'NAMESPACE');
}

export function podArg(value: string | undefined): Arg {
  return kubeName(value, 'POD');
}

export function serviceAccountArg(value: string | undefined): Arg {
  return kubeName(value, 'SERVICE_ACCOUNT');
}

/** IAM role names: 1-64 of letters, digits and +=,.@_- (IAM API reference, CreateRole RoleName). */
export function roleNameArg(value: string | undefined): Arg {
  return value !== undefined && /^[\w+=,.@][\w+=,.@-]{0,63}$/.test(value) ? value : placeholder('ROLE_NAME');
}

/** An IAM role ARN (the webhook's and IAM's rules, src/aws/arn.ts), else the pattern the user fills in. */
export function roleArnArg(value: string | undefined): Arg {
  return value !== undefined && parseRoleArn(value) !== undefined
    ? value
    : new Placeholder('ROLE_ARN', 'arn:aws:iam::<ACCOUNT_ID>:role/<ROLE_NAME>');
}

/** An ARN: arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE in printable ASCII without spaces. */
export function arnArg(value: string | undefined, name: string): Arg {
  return value !== undefined &&
    value.length <= 2048 &&
    /^arn:aws[a-z0-9-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:[\x21-\x7e]+$/.test(value)
    ? value
    : placeholder(name);
}

/**
 * An http(s) URL as the tool would call it: parses, and has no space or control character. User info
 * (`user:password@`) is dropped: a printed command never carries a credential.
 */
export function urlArg(value: string | undefined, name: string): Arg {
  if (value === undefined || !/^https?:\/\/[\x21-\x7e]+$/.test(value)) return placeholder(name);
  try {
    const url = new URL(value);
    if (url.username === '' && url.password === '') return value;
    url.username = '';
    url.password = '';
    return url.href;
  } catch {
    return placeholder(name);
  }
}

/** A host name or address (for getent): letters, digits, dots, dashes, colons of IPv6. */
export function hostArg(value: string | undefined, name: string): Arg {
  return value !== undefined && /^[A-Za-z0-9_.:[\]][A-Za-z0-9_.:[\]-]*$/.test(value) ? value : placeholder(name);
}

/** An EC2 instance id (i- and 8 or 17 hex digits). */
export const INSTANCE_ID = /^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;

/** A value of a known fixed shape (an instance id, an association id), or the placeholder. */
export function matching(value: string | undefined, pattern: RegExp, name: string): Arg {
  return value !== undefined && pattern.test(value) ? value : placeholder(name);
}

/** A file path: quoted as any value, and one that starts with `-` is written ./-x so it cannot be a flag. */
export function pathArg(value: string | undefined, name: string): Arg {
  if (value === undefined || value === '') return placeholder(name);
  return value.startsWith('-') ? `./${value}` : value;
}
