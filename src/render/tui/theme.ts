import type { Severity } from '../../run/findings';
import type { Status, Verdict } from '../../run/types';
import { assertNever } from '../../run/types';

/**
 * The one place that maps a status, a severity or a verdict to how it looks. Every state has a glyph AND a
 * colour, so the TUI still reads right with NO_COLOR (colour off) or on a colour-blind reader's terminal.
 */
export interface Look {
  readonly glyph: string;
  /** An Ink/chalk colour name. */
  readonly color: 'green' | 'yellow' | 'red' | 'gray' | 'magenta' | 'cyan';
}

export function statusLook(status: Status): Look {
  switch (status) {
    case 'pass':
      return { glyph: '✔', color: 'green' };
    case 'warn':
      return { glyph: '▲', color: 'yellow' };
    case 'fail':
      return { glyph: '✖', color: 'red' };
    case 'skip':
      return { glyph: '○', color: 'gray' };
    case 'error':
      return { glyph: '⁉', color: 'magenta' };
    default:
      return assertNever(status);
  }
}

export function severityLook(severity: Severity): Look {
  switch (severity) {
    case 'error':
      return { glyph: '✖', color: 'red' };
    case 'warning':
      return { glyph: '▲', color: 'yellow' };
    case 'info':
      return { glyph: 'ℹ', color: 'cyan' };
    default:
      return assertNever(severity);
  }
}

export function verdictLook(verdict: Verdict): Look {
  switch (verdict) {
    case 'healthy':
      return { glyph: '✔', color: 'green' };
    case 'degraded':
      return { glyph: '▲', color: 'yellow' };
    case 'broken':
      return { glyph: '✖', color: 'red' };
    default:
      return assertNever(verdict);
  }
}

/** Braille spinner frames; one frame per SPINNER_INTERVAL_MS. */
export const SPINNER_FRAMES: readonly string[] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
export const SPINNER_INTERVAL_MS = 80;
