import type { Report } from '../run/types';

/**
 * The contract's JSON (CONTRACT.md section 3). JSON.stringify escapes every control character, so no ANSI or
 * raw control byte from the input can reach a terminal through it.
 */
export function renderJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
