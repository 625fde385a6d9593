import type { LauncherApi, WatchEvent } from './api';
import { LaunchFailure, StreamStatusError, apiErrorInfo, unexpectedApiFailure } from './failure';

/*
 * Shared watches: one watch request per (path, selector) however many waiters listen, resumed from the last
 * resourceVersion when the server ends it (its timeoutSeconds, a load balancer's idle cut), restarted from
 * scratch when that version has expired (410 Gone: the listeners then see ADDED again for what exists, which
 * they treat like MODIFIED). The `job` launcher listens for its own pod through a watch on all pods of its run,
 * so many Jobs of one run (`fleet`) cost one watch per namespace, not one per Job.
 */

export type Listener = (event: WatchEvent) => void;

export interface WatchKey {
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
}

interface Shared {
  readonly listeners: Set<Listener>;
  readonly failures: Set<(error: LaunchFailure) => void>;
  readonly abort: AbortController;
}

/** How long the server keeps one watch open before the hub resumes it (seconds). */
const WATCH_TIMEOUT_SECONDS = 240;
const MAX_RESTARTS_IN_A_ROW = 5;

export class WatchHub {
  private readonly watches = new Map<string, Shared>();

  constructor(private readonly api: LauncherApi) {}

  /**
   * Listens to a watch until the returned function is called. `onFailure` hears a watch that cannot go on
   * (refused, the API server gone). Nothing is missed whenever the request reaches the server: a watch without a
   * resourceVersion starts with an ADDED event for every object that exists ("start at most recent").
   */
  listen(key: WatchKey, listener: Listener, onFailure: (error: LaunchFailure) => void): () => void {
    const id = `${key.path}?${new URLSearchParams(Object.entries(key.query).sort()).toString()}`;
    let shared = this.watches.get(id);
    if (!shared) {
      shared = this.start(key);
      this.watches.set(id, shared);
    }
    shared.listeners.add(listener);
    shared.failures.add(onFailure);
    const mine = shared;
    return () => {
      mine.listeners.delete(listener);
      mine.failures.delete(onFailure);
      if (mine.listeners.size === 0) {
        mine.abort.abort();
        this.watches.delete(id);
      }
    };
  }

  /** Ends every watch. */
  close(): void {
    for (const shared of this.watches.values()) shared.abort.abort();
    this.watches.clear();
  }

  private start(key: WatchKey): Shared {
    const listeners = new Set<Listener>();
    const failures = new Set<(error: LaunchFailure) => void>();
    const abort = new AbortController();
    const fail = (error: LaunchFailure) => {
      for (const f of [...failures]) f(error);
    };
    void (async () => {
      let resourceVersion: string | undefined;
      let restarts = 0;
      while (!abort.signal.aborted) {
        let expired = false;
        try {
          await this.api.watch(
            key.path,
            {
              ...key.query,
              timeoutSeconds: String(WATCH_TIMEOUT_SECONDS),
              allowWatchBookmarks: 'true',
              ...(resourceVersion ? { resourceVersion } : {}),
            },
            (event) => {
              restarts = 0;
              if (event.type === 'ERROR') {
                if (event.object?.code === 410) expired = true;
                return;
              }
              const rv = event.object?.metadata?.resourceVersion;
              if (typeof rv === 'string') resourceVersion = rv;
              if (event.type === 'BOOKMARK') return;
              for (const listener of [...listeners]) listener(event);
            },
            abort.signal,
          );
        } catch (error) {
          if (abort.signal.aborted) return;
          const info = apiErrorInfo(error);
          if (error instanceof StreamStatusError && info.status === 410) expired = true;
          else {
            fail(error instanceof LaunchFailure ? error : unexpectedApiFailure(`watch ${key.path}`, error));
            return;
          }
        }
        if (expired) resourceVersion = undefined;
        restarts += 1;
        if (restarts > MAX_RESTARTS_IN_A_ROW) {
          fail(
            new LaunchFailure(
              'api',
              `the watch on ${key.path} keeps ending at once; the API server or a proxy in between cuts it`,
              [],
            ),
          );
          return;
        }
        // A little back-off, so that a server cutting every watch at once is not asked again in a tight loop.
        await new Promise((resolve) => setTimeout(resolve, 100 * restarts).unref?.());
      }
    })();
    return { listeners, failures, abort };
  }
}
