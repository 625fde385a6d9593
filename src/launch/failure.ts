import { escapeControl } from '../render/escape';

/*
 * Why a launch ended without a report. Each way gets its own kind, a message that says what happened in the
 * user's words, and the fix as lines to run or do; every one exits 2 (the tool could not diagnose), except an
 * interrupt (130, as a shell reports SIGINT).
 */

/** An HTTP status on a stream, as an error carrying the Status message (like client-node's ApiException). */
export class StreamStatusError extends Error {
  override readonly name = 'StreamStatusError';
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP ${code}`);
  }
}

export type FailureKind =
  | 'usage'
  | 'kubeconfig'
  | 'unreachable'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'not-running'
  | 'unsupported'
  | 'rejected'
  | 'image-pull'
  | 'start-failed'
  | 'unschedulable'
  | 'timeout'
  | 'remote-failed'
  | 'no-report'
  | 'root-app'
  | 'interrupted'
  | 'api';

export class LaunchFailure extends Error {
  override readonly name = 'LaunchFailure';
  constructor(
    readonly kind: FailureKind,
    message: string,
    /** What to do about it: commands or sentences, one per line. */
    readonly fix: readonly string[],
    readonly exitCode: 2 | 130 = 2,
  ) {
    super(message);
  }
}

/** The failure as stderr shows it: `irsa-doctor pod: message`, then the fix indented. Escaped for a terminal. */
export function describeFailure(command: string, failure: LaunchFailure): string {
  // Line by line: a message or a fix may span lines (a heredoc), and escapeControl would escape the newlines.
  const [first = '', ...rest] = failure.message.split('\n');
  const lines = [`irsa-doctor ${command}: ${escapeControl(first)}`, ...rest.map((l) => escapeControl(l))];
  for (const fix of failure.fix) lines.push(...fix.split('\n').map((l) => `  ${escapeControl(l)}`));
  return `${lines.join('\n')}\n`;
}

/** What an API call's failure says: the HTTP status and the Status object's message and reason, if any. */
export interface ApiErrorInfo {
  readonly status: number | undefined;
  readonly message: string;
  readonly reason: string | undefined;
}

export function apiErrorInfo(error: unknown): ApiErrorInfo {
  if (error instanceof StreamStatusError) {
    const parsed = parseStatus(error.body);
    return {
      status: error.code,
      message: parsed?.message ?? (error.body.trim().slice(0, 300) || `HTTP ${error.code}`),
      reason: parsed?.reason,
    };
  }
  // client-node's ApiException: numeric `code`, `body` the decoded Status (or its text).
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'number') {
    const body = 'body' in error ? error.body : undefined;
    const parsed = typeof body === 'string' ? parseStatus(body) : isStatus(body) ? body : undefined;
    return {
      status: error.code,
      message:
        parsed?.message ?? (typeof body === 'string' && body.trim() ? body.trim().slice(0, 300) : `HTTP ${error.code}`),
      reason: parsed?.reason,
    };
  }
  return { status: undefined, message: error instanceof Error ? error.message : String(error), reason: undefined };
}

function isStatus(value: unknown): value is { message?: string; reason?: string } {
  return typeof value === 'object' && value !== null && ('message' in value || 'reason' in value);
}

function parseStatus(text: string): { message?: string; reason?: string } | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isStatus(value)
      ? {
          ...(typeof value.message === 'string' ? { message: value.message.slice(0, 1000) } : {}),
          ...(typeof value.reason === 'string' ? { reason: value.reason } : {}),
        }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A failed call the caller has no more specific words for: passes LaunchFailures through, names 401 and the
 * rest with the server's own message.
 */
export function unexpectedApiFailure(what: string, error: unknown): LaunchFailure {
  if (error instanceof LaunchFailure) return error;
  const info = apiErrorInfo(error);
  if (info.status === 401) {
    return new LaunchFailure(
      'unauthorized',
      `${what}: the API server does not accept the kubeconfig's credentials (401 Unauthorized)`,
      [
        'The token expired or is for another cluster: refresh the kubeconfig (aws eks update-kubeconfig --name <CLUSTER>) and check with: kubectl auth whoami',
      ],
    );
  }
  if (info.status === undefined) {
    return new LaunchFailure('unreachable', `${what}: ${info.message}`, [
      'Check that this machine reaches the API server: kubectl cluster-info',
    ]);
  }
  return new LaunchFailure('api', `${what}: the API server answered ${info.status}: ${info.message}`, []);
}
