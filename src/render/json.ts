import type { Report } from '../run/types';

/**
 * What JSON.stringify leaves raw although a terminal acts on it: DEL and the C1 controls (0x9b is an 8-bit
 * CSI, as potent as ESC [), and the Unicode line separators and bidi overrides escapeControl also escapes.
 * They can only occur inside JSON strings, where a \uXXXX escape parses back to the same value.
 */
const RAW_IN_JSON = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * The contract's JSON (docs/report.md). JSON.stringify escapes the C0 controls (ESC included); the rest
 * of what a terminal would act on is escaped here, so no raw control character from the input reaches a
 * terminal through it.
 */
export function renderJson(report: Report): string {
  return renderJsonValue(report);
}

/** Any value as renderJson prints a report (the fleet's JSON: docs/report.md, "fleet"). */
export function renderJsonValue(value: unknown): string {
  const json = JSON.stringify(value, null, 2).replace(
    RAW_IN_JSON,
    (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
  return `${json}\n`;
}
