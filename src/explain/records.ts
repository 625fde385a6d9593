/**
 * A pasted log as records: one logical message each (a line and its continuation lines), normalised so that
 * matching sees the same text whatever the SDK's or the log shipper's formatting. Everything here runs in
 * time linear in the input: lines are cut into bounded windows before any regular expression sees them, and
 * every expression below is a single pass (no nested quantifiers, no unbounded `.*` between two terms).
 */

/** A record holds at most this much text; a longer line is read in overlapping windows of this size. */
export const RECORD_WINDOW = 8 * 1024;
const WINDOW_OVERLAP = 512;

export interface LogRecord {
  /** Normalised text: no control characters, no markup, single spaces. */
  readonly text: string;
  /** 1-based number of the input line the record starts on. */
  readonly line: number;
}

// CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST) and the 8-bit CSI; bounded so a lone ESC costs nothing.
const ANSI =
  /\u001b\[[0-9;?]{0,32}[ -/]{0,4}[@-~]|\u001b\][^\u0007\u001b]{0,512}(?:\u0007|\u001b\\)?|\u009b[0-9;?]{0,32}[@-~]/g;
// JSON- or shell-escaped newlines and tabs inside one physical line (`\n\tcaused by: ...`), any escape depth.
const ESCAPED_BREAK = /\\{1,8}[nrt]/g;
const ESCAPED_QUOTE = /\\{1,8}(["'])/g;
// The STS/S3 error XML: keep the element names that carry meaning, drop the rest of the markup. Only these
// names: `<ACCOUNT_ID>` and `<INSTANCE_ID>` are users' placeholders, not markup.
const XML_OPEN = /<(Code|Message|Type)>/gi;
const XML_OTHER =
  /<\/?(?:Code|Message|Type|Errors?|ErrorResponse|Response|RequestI[dD]|HostId|Resource|Detail|\?xml)\b[^<>]{0,300}>/gi;
// Box drawing (k9s, kubectl plugins, tables), typographic quotes, bidi and other invisible controls.
const BOX = /[\u2500-\u257f]/g;
const CURLY = /[\u201c\u201d\u201e]/g;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
const SPACES = /\s{2,}/g;

export function normalize(raw: string): string {
  return raw
    .replace(ANSI, ' ')
    .replace(ESCAPED_BREAK, ' ')
    .replace(ESCAPED_QUOTE, '$1')
    .replace(XML_OPEN, ' $1: ')
    .replace(XML_OTHER, ' ')
    .replace(BOX, ' ')
    .replace(CURLY, '"')
    .replace(CONTROL, ' ')
    .replace(SPACES, ' ')
    .trim();
}

/**
 * A line that carries on the message above it: indented, a stack frame, a "caused by", markup, a quote, or the
 * rest of an AWS sentence a terminal or a user broke ("User: arn:..." / "is not authorized to perform: ...").
 */
const CONTINUES =
  /^(?:\s|caused by|at |-{2,}>?|[<>)\]}|\u2502\u2514\u251c]|is not authorized|not authorized to|on resource|because no|with an explicit deny|status code:)/i;
/** A message broken after a colon, comma or opening bracket continues on the next line. */
const OPEN_END = /[:,([{]\s*$/;
/** An ARN cut by wrapping: the next line goes on with the same ARN, without a space. */
const ARN_TAIL = /arn:aws[a-z-]*:[^\s]{0,200}[\w-]$/;
const ARN_RESUME = /^\s{0,40}(?:[>|\u2502]\s{0,8})?([\w+=,.@/-]{1,200}\/i-[\w{}<>*-]{1,40}\b)/;
/** Leading quote markers and box borders of pasted output. */
const LEAD = /^\s{0,40}(?:[>|\u2502\u2514\u251c]\s{0,8}){1,4}/;

/**
 * Splits text into records as it arrives: feed it chunks (any boundaries), then end(). Memory is bounded by
 * one record and one partial line window.
 */
export class RecordSplitter {
  readonly #emit: (record: LogRecord) => void;
  readonly #wanted: RegExp | undefined;
  #partial = '';
  #lineNo = 0;
  #current: string[] = [];
  #currentSize = 0;
  #currentLine = 0;
  #lastLine = '';

  /** wanted: a cheap test on the raw text; records that fail it are dropped before normalisation. */
  constructor(emit: (record: LogRecord) => void, wanted?: RegExp) {
    this.#emit = emit;
    this.#wanted = wanted;
  }

  #out(raw: string, line: number): void {
    if (this.#wanted && !this.#wanted.test(raw)) return;
    const text = normalize(raw);
    if (text !== '') this.#emit({ text, line });
  }

  push(chunk: string): void {
    let text = this.#partial + chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.#line(text.slice(start, nl));
      start = nl + 1;
    }
    text = text.slice(start);
    // A line longer than a window is read window by window, so one huge line never sits in memory whole.
    while (text.length > 2 * RECORD_WINDOW) {
      this.#window(text.slice(0, RECORD_WINDOW));
      text = text.slice(RECORD_WINDOW - WINDOW_OVERLAP);
    }
    this.#partial = text;
  }

  end(): void {
    if (this.#partial !== '') this.#line(this.#partial);
    this.#partial = '';
    this.#flush();
  }

  #window(part: string): void {
    // Windows of one long line are records of their own, all on that line's number.
    this.#flush();
    this.#out(part, this.#lineNo + 1);
  }

  #line(raw: string): void {
    this.#lineNo += 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length > RECORD_WINDOW) {
      for (let start = 0; start < line.length; start += RECORD_WINDOW - WINDOW_OVERLAP) {
        this.#flush();
        this.#out(line.slice(start, start + RECORD_WINDOW), this.#lineNo);
      }
      return;
    }
    if (line.trim() === '') return; // blank lines neither start nor end a message
    const continues =
      this.#current.length > 0 &&
      (CONTINUES.test(line) || OPEN_END.test(this.#lastLine)) &&
      this.#currentSize + line.length <= RECORD_WINDOW;
    if (!continues) {
      this.#flush();
      this.#currentLine = this.#lineNo;
    }
    const body = line.replace(LEAD, '');
    const resumed = this.#current.length > 0 && ARN_TAIL.test(this.#lastLine) ? ARN_RESUME.exec(line) : null;
    if (resumed && continues) {
      // "...NodeInstanceRole-r5wn6T6 │" + "│ DFOpd/i-0a6f..." is one ARN cut by the terminal width.
      const last = this.#current.length - 1;
      this.#current[last] = `${(this.#current[last] ?? '').replace(/[\s\u2502|]+$/, '')}${resumed[1] ?? ''}`;
      this.#current.push(line.slice(resumed[0].length));
    } else {
      this.#current.push(body);
    }
    this.#currentSize += line.length + 1;
    this.#lastLine = line.replace(/[\s\u2502|]+$/, '');
  }

  #flush(): void {
    if (this.#current.length === 0) return;
    const raw = this.#current.length === 1 ? (this.#current[0] ?? '') : this.#current.join('\n');
    this.#current = [];
    this.#currentSize = 0;
    this.#lastLine = '';
    this.#out(raw, this.#currentLine);
  }
}

export function splitRecords(text: string): LogRecord[] {
  const records: LogRecord[] = [];
  const splitter = new RecordSplitter((r) => records.push(r));
  splitter.push(text);
  splitter.end();
  return records;
}
