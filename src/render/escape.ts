/**
 * Escapes C0/C1 control characters (ESC, CR, BEL, ...) and the Unicode line/bidi controls, so that text from
 * env values, claims or server bodies can never move the cursor, recolour or hide lines on a terminal.
 * Tab and newline are escaped too: every value renders on the line it belongs to.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function escapeControl(text: string): string {
  return text.replace(CONTROL, (ch) => {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\n') return '\\n';
    if (ch === '\r') return '\\r';
    if (ch === '\t') return '\\t';
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Everything CONTROL escapes except the newline, which the tool's own multi-line messages need. */
const CONTROL_BUT_NEWLINE =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * The last step of every write to stdout and stderr (src/cli/main.ts): whatever a renderer or an error
 * message let through, no raw control character reaches the terminal. Values are escaped where they are
 * put into text (escapeControl, which also escapes their newlines); this catches a slip, so it writes the
 * JSON form \u001b, which is also valid inside a JSON string.
 */
export function escapeForTerminal(text: string): string {
  return text.replace(CONTROL_BUT_NEWLINE, (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

/** A one-line, escaped, length-bounded rendering of any evidence value. */
export function displayValue(value: unknown, max = 400): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const escaped = escapeControl(text);
  return escaped.length > max ? `${escaped.slice(0, max)}... (${escaped.length - max} more chars)` : escaped;
}

/**
 * A remedy command as display lines. A here-document (`kubectl apply -f - <<'EOF'` ... `EOF`) keeps its line
 * breaks, with the body and terminator unindented, so that copying it from the terminal gives a working
 * command; each line is still escaped. Every other newline is escaped like any control character, so a
 * value cannot start a line of its own.
 */
export function commandLines(command: string): { readonly first: string; readonly rest: readonly string[] } {
  const heredoc = /^([^\n]*<<-?'?([A-Za-z_][A-Za-z0-9_]*)'?)\n([\s\S]*)\n\2$/.exec(command);
  if (!heredoc) return { first: `$ ${escapeControl(command)}`, rest: [] };
  const [, head = '', terminator = '', body = ''] = heredoc;
  return { first: `$ ${escapeControl(head)}`, rest: [...body.split('\n').map(escapeControl), terminator] };
}
