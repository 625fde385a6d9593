/**
 * The one place values are put into the shell commands a remedy prints. Pod names, namespaces, ARNs, paths
 * and issuers come from the environment, the token or a server, so each is quoted for a POSIX shell before
 * it reaches a command a user will paste: `POD_NAME='x$(id)'` must print as a harmless word.
 */

/** A value the user fills in, written <LIKE_THIS>. Shown as it is: it is ours, and the user replaces it. */
export class Placeholder {
  constructor(readonly name: string) {}
  toString(): string {
    return `<${this.name}>`;
  }
}

export function placeholder(name: string): Placeholder {
  return new Placeholder(name);
}

/** A fragment that is already shell syntax (a quoted sub-command, a redirect): inserted as it is. */
export class ShellFragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Characters that mean nothing to a POSIX shell inside a word (not at its start: see shellQuote). */
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Single-quotes a value for a POSIX shell (bash, zsh, sh). A word of plain characters stays bare so that
 * common commands read naturally; anything else, including the empty string, is quoted, with `'` written as
 * `'\''`. A leading `-` or `=` is quoted too, which keeps it a word but cannot stop a program from reading it
 * as a flag: callers that put a name in an argument position validate the name first.
 */
export function shellQuote(value: string): string {
  if (PLAIN_WORD.test(value) && !/^[-=]/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export type ShellValue = string | number | Placeholder | ShellFragment;

function render(value: ShellValue): string {
  if (value instanceof Placeholder || value instanceof ShellFragment) return value.toString();
  return shellQuote(String(value));
}

/**
 * A command with every interpolated value quoted: sh`kubectl get pod ${pod} -n ${namespace}`. The literal
 * parts are the template's own text, written by us; only `${...}` values are treated as data.
 */
export function sh(strings: TemplateStringsArray, ...values: readonly ShellValue[]): string {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return out;
}
