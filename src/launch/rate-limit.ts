/*
 * Being gentle with the API server when many calls run side by side (`fleet`): a client-side token bucket (what
 * client-go's QPS and Burst do: k8s.io/client-go/util/flowcontrol, NewTokenBucketRateLimiter) in front of every
 * request, and a retry budget for the answers that say "later" (429 Too Many Requests, which API Priority and
 * Fairness sends with Retry-After, and 500/502/503/504): each is retried after a back-off while the budget
 * lasts, then the answer is passed on as it is, so an overloaded server is not hammered by retries.
 */

export interface ApiLimits {
  /** Requests per second on average. */
  readonly qps: number;
  /** Requests allowed at once after a quiet period. */
  readonly burst: number;
  /** Retries of 429/5xx answers for the whole client (not per call). */
  readonly retryBudget: number;
}

/**
 * client-go's default is 5 QPS, burst 10; kubectl lifts its discovery client to 50 QPS, burst 300
 * (staging/src/k8s.io/kubectl/pkg/cmd/cmd.go). A fleet run creates, follows and deletes a few objects per
 * ServiceAccount, so 50 QPS with a burst of 100: 1,000 ServiceAccounts in well under two minutes of requests.
 */
export const FLEET_LIMITS: ApiLimits = { qps: 50, burst: 100, retryBudget: 50 };

export class TokenBucket {
  private tokens: number;
  private last = Date.now();
  private queue: Promise<void> = Promise.resolve();
  /** How long callers waited for a token in total (ms), for the benchmark. */
  waitedMs = 0;

  constructor(private readonly limits: Pick<ApiLimits, 'qps' | 'burst'>) {
    this.tokens = limits.burst;
  }

  /** Resolves when a request may go; in order of arrival. Rejects when `signal` aborts while waiting. */
  take(signal: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.wait(signal));
    // The next caller waits for this one's turn, not for its outcome.
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async wait(signal: AbortSignal): Promise<void> {
    const now = Date.now();
    this.tokens = Math.min(this.limits.burst, this.tokens + ((now - this.last) / 1000) * this.limits.qps);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return;
    }
    const ms = Math.ceil(((1 - this.tokens) / this.limits.qps) * 1000);
    this.waitedMs += ms;
    await sleep(ms, signal);
    this.tokens = 0;
    this.last = Date.now();
  }
}

export class RetryBudget {
  private left: number;
  used = 0;
  constructor(total: number) {
    this.left = total;
  }

  take(): boolean {
    if (this.left <= 0) return false;
    this.left -= 1;
    this.used += 1;
    return true;
  }
}

/** Statuses that mean "try again later" (the request was not, or may not have been, acted on). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/**
 * How long to wait before retry `attempt` (1, 2, ...): the server's Retry-After in seconds when it sends one
 * (capped at 10 s), else an exponential back-off from 200 ms with jitter, capped at 5 s.
 */
export function retryDelayMs(attempt: number, retryAfter: string | undefined): number {
  const seconds = retryAfter !== undefined && /^\d{1,4}$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
  if (seconds !== undefined) return Math.min(seconds, 10) * 1000;
  const base = Math.min(5000, 200 * 2 ** (attempt - 1));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
