import type { V1ContainerStatus } from '@kubernetes/client-node';
import { escapeControl } from '../render/escape';
import { LaunchFailure } from './failure';

/*
 * What a launch tells the user while it runs, independent of how it is shown: the text mode prints each step as
 * a line on stderr, the TUI shows the current one with a spinner (render/tui/launch.tsx), JSON stays quiet but
 * for notes. Also the pieces both launchers share: reading a container's state and the one deadline of a launch.
 */

export interface LaunchProgress {
  /** A new step: what is happening now (the one before is done). */
  step(text: string): void;
  /** The current step's detail changed (a container's waiting reason). */
  detail(text: string): void;
  /** Something to keep in mind: a retry, what stays behind. Always shown. */
  note(text: string): void;
}

export const silentProgress: LaunchProgress = { step: () => undefined, detail: () => undefined, note: () => undefined };

/** Lines on stderr: `irsa-doctor pod: ...`, details only when they change. */
export function textProgress(command: string, writeError: (text: string) => void, verbose: boolean): LaunchProgress {
  let lastDetail = '';
  return {
    step(text) {
      lastDetail = '';
      if (verbose) writeError(`irsa-doctor ${command}: ${escapeControl(text)}\n`);
    },
    detail(text) {
      if (!verbose || text === lastDetail) return;
      lastDetail = text;
      writeError(`irsa-doctor ${command}:   ${escapeControl(text)}\n`);
    },
    note(text) {
      writeError(`irsa-doctor ${command}: note: ${escapeControl(text)}\n`);
    },
  };
}

/** A container's state in the user's words, e.g. "waiting: ContainerCreating". */
export function describeState(status: V1ContainerStatus | undefined): string {
  const state = status?.state;
  if (!state) return 'not reported yet';
  if (state.waiting)
    return `waiting: ${state.waiting.reason ?? 'unknown'}${state.waiting.message ? ` (${state.waiting.message})` : ''}`;
  if (state.running) return 'running';
  if (state.terminated)
    return `terminated with exit code ${state.terminated.exitCode}${state.terminated.reason ? ` (${state.terminated.reason})` : ''}`;
  return 'unknown';
}

const PULL_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'RegistryUnavailable',
]);
const START_REASONS = new Set([
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'PreCreateHookError',
  'PreStartHookError',
]);

/**
 * A waiting state that will not resolve by waiting: an image that cannot be pulled, a container that cannot be
 * created. `pullFix` says how to get an image the nodes can pull, for this launcher.
 */
export function stuckContainerFailure(
  status: V1ContainerStatus | undefined,
  image: string,
  what: string,
  pullFix: readonly string[],
): LaunchFailure | undefined {
  const waiting = status?.state?.waiting;
  if (!waiting?.reason) return undefined;
  if (PULL_REASONS.has(waiting.reason)) {
    return new LaunchFailure(
      'image-pull',
      `${what}: the image ${image} cannot be pulled (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''})`,
      pullFix,
    );
  }
  if (START_REASONS.has(waiting.reason)) {
    return new LaunchFailure(
      'start-failed',
      `${what} cannot start (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''})`,
      [`The image must be irsa-doctor's (the binary at /irsa-doctor, as the Dockerfile builds it): --image ${image}`],
    );
  }
  return undefined;
}

/** The image help both launchers print for a pull that fails. */
export function imagePullFix(image: string, privateRegistry: string): string[] {
  return [
    `Build and push the image to a registry the nodes can pull from, then pass it with --image (README: "The image"):`,
    `  docker buildx build --platform linux/amd64,linux/arm64 -t <REGISTRY>/irsa-doctor:<VERSION> --push .`,
    `A private registry: ${privateRegistry}`,
    `(tried: ${image})`,
  ];
}

/** The one deadline of a launch, from the command's start: every wait takes what is left of it. */
export class Deadline {
  private readonly at: number;
  constructor(readonly ms: number) {
    this.at = Date.now() + ms;
  }

  get leftMs(): number {
    return Math.max(0, this.at - Date.now());
  }

  get seconds(): number {
    return Math.round(this.ms / 1000);
  }
}

/**
 * Waits for `settle` to be called with a value or a failure, up to the deadline (then `onTimeout` decides the
 * failure) or until `signal` aborts (the interrupt failure).
 */
export function waitUntil<T>(
  register: (settle: (outcome: { value: T } | { failure: LaunchFailure }) => void) => void,
  deadline: Deadline,
  signal: AbortSignal,
  onTimeout: () => LaunchFailure,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (outcome: { value: T } | { failure: LaunchFailure }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if ('value' in outcome) resolve(outcome.value);
      else reject(outcome.failure);
    };
    const onAbort = () => finish({ failure: interruptedFailure(signal) });
    const timer = setTimeout(() => finish({ failure: onTimeout() }), deadline.leftMs);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    register(finish);
  });
}

/**
 * What a launch waits on while watches run: every watch event wakes the waiters, a watch that fails fails them
 * all, and `until` resolves with the first value `check` returns (now or after a wake-up) within the deadline.
 */
export class WatchWaiters {
  private readonly waiters = new Set<() => void>();
  private failure: LaunchFailure | undefined;

  constructor(
    private readonly deadline: Deadline,
    private readonly signal: AbortSignal,
  ) {}

  readonly wake = (): void => this.waiters.forEach((w) => w());

  readonly fail = (failure: LaunchFailure): void => {
    this.failure = failure;
    this.wake();
  };

  until<T>(check: () => T | LaunchFailure | undefined, onTimeout: () => LaunchFailure): Promise<T> {
    return waitUntil<T>(
      (settle) => {
        const look = () => {
          if (this.failure) return settle({ failure: this.failure });
          const value = check();
          if (value instanceof LaunchFailure) settle({ failure: value });
          else if (value !== undefined) settle({ value });
        };
        this.waiters.add(look);
        look();
      },
      this.deadline,
      this.signal,
      onTimeout,
    ).finally(() => this.waiters.clear());
  }

  /**
   * True as soon as `done` holds, false after `ms`. Neither the deadline nor the signal ends it: clean-up runs
   * after Ctrl-C and after the launch deadline too.
   */
  async within(done: () => boolean, ms: number): Promise<boolean> {
    const result = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      timer.unref?.();
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      this.waiters.add(check);
      check();
    });
    this.waiters.clear();
    return result;
  }
}

/** The failure an aborted signal stands for: its reason when it is one (Ctrl-C), else a plain interrupt. */
export function interruptedFailure(signal: AbortSignal): LaunchFailure {
  const reason: unknown = signal.reason;
  if (reason instanceof LaunchFailure) return reason;
  return new LaunchFailure('interrupted', 'interrupted', [], 130);
}
