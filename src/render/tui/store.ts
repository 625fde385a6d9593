import type { CheckId } from '../../checks/outputs';
import type { RunEvents } from '../../run/runner';
import type { Check, CheckResult, Finding, Report } from '../../run/types';

export interface FinishedCheck {
  readonly result: CheckResult;
  readonly findings: readonly Finding[];
}

/** What the view shows at one moment. Immutable: each event makes a new snapshot. */
export interface RunSnapshot {
  /** Every selected check in declared (report) order: ids and titles for the live area. */
  readonly plan: readonly { readonly id: CheckId; readonly title: string }[];
  /**
   * The finished checks that can be printed for good: the longest declared-order prefix of finished checks,
   * so a fast check never prints above a slower one declared before it. Only ever grows (it feeds <Static>).
   */
  readonly printed: readonly FinishedCheck[];
  /** Checks started and not finished. */
  readonly running: ReadonlySet<CheckId>;
  /** Finished checks held back until the ones declared before them finish. */
  readonly held: ReadonlyMap<CheckId, FinishedCheck>;
  /** Set once the run is over. */
  readonly report: Report | null;
}

/**
 * The bridge between the runner and React: the runner pushes events in, the view reads snapshots through
 * useSyncExternalStore. The checks never run inside a component.
 */
export interface RunStore {
  readonly events: Required<RunEvents>;
  complete(report: Report): void;
  subscribe(listener: () => void): () => void;
  getSnapshot(): RunSnapshot;
}

/** The longest the view waits to show a check event (Ink itself draws at most ~30 frames a second). */
export const FRAME_MS = 50;

/**
 * A snapshot that views read through useSyncExternalStore. Events come in bursts (a dozen local checks finish
 * within a few ms): `update` tells the view at most once per FRAME_MS (or at once with `now`), so React and
 * Ink lay out one frame per burst instead of one per event. Measured on the binary: one render per event grew
 * the heap by ~35 MiB during a run, most of the TUI's memory. Every live view (the diagnosis, the launchers,
 * the fleet table) keeps its state in one.
 */
export class FrameStore<T extends object> {
  private readonly listeners = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private current: T) {}

  get snapshot(): T {
    return this.current;
  }

  update(next: Partial<T>, now = false): void {
    this.current = { ...this.current, ...next };
    if (now) this.notify();
    else this.timer ??= setTimeout(this.notify, FRAME_MS);
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): T => this.current;

  private readonly notify = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const listener of this.listeners) listener();
  };
}

export function createRunStore(checks: readonly Check[]): RunStore {
  const finished = new Map<CheckId, FinishedCheck>();
  const store = new FrameStore<RunSnapshot>({
    plan: checks.map((c) => ({ id: c.id, title: c.title })),
    printed: [],
    running: new Set(),
    held: new Map(),
    report: null,
  });
  const update = (next: Partial<RunSnapshot>, now = false) => store.update(next, now);

  const split = () => {
    const printed: FinishedCheck[] = [];
    let index = 0;
    for (; index < checks.length; index++) {
      const done = finished.get(checks[index]!.id);
      if (!done) break;
      printed.push(done);
    }
    const held = new Map<CheckId, FinishedCheck>();
    for (const check of checks.slice(index)) {
      const done = finished.get(check.id);
      if (done) held.set(check.id, done);
    }
    return { printed, held };
  };

  return {
    events: {
      onStart(check) {
        update({ running: new Set([...store.snapshot.running, check.id]) });
      },
      onFinish(result, findings) {
        finished.set(result.id, { result, findings });
        const running = new Set(store.snapshot.running);
        running.delete(result.id);
        update({ running, ...split() });
      },
    },
    complete(report) {
      // The report is the truth: every check is in it, even one the events missed.
      const printed = report.checks.map((result): FinishedCheck => ({
        result,
        findings: report.findings.filter((f) => f.checkId === result.id),
      }));
      update({ printed, held: new Map(), running: new Set(), report }, true);
    },
    subscribe: store.subscribe,
    getSnapshot: store.getSnapshot,
  };
}
