import type { CheckId } from '../checks/outputs';
import type { Check } from './types';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Every check `check` reads: its hard (dependsOn) and soft (uses) dependencies. */
export function readsOf(check: Pick<Check, 'dependsOn' | 'uses'>): readonly CheckId[] {
  return [...check.dependsOn, ...(check.uses ?? [])];
}

/**
 * Applies --only and --skip. `--only` pulls in everything the checks it names read, hard (dependsOn) and soft
 * (uses), transitively: a check that reads a check which did not run decides on less than it was written for
 * (token.file without env.irsa does not know the token's path and skips, and the run would then claim nothing
 * was wrong). `--skip` keeps the check in the report as `skip`, and its dependents skip with that reason.
 */
export function selectChecks(all: readonly Check[], only: readonly string[], skip: readonly string[]): Check[] {
  const byId = new Map<string, Check>(all.map((c) => [c.id, c]));
  for (const id of [...only, ...skip]) {
    if (!byId.has(id)) {
      throw new UsageError(`unknown check id "${id}" (see --list-checks)`);
    }
  }
  let selected = new Set<CheckId>(all.map((c) => c.id));
  if (only.length > 0) {
    selected = new Set();
    const add = (id: CheckId): void => {
      if (selected.has(id)) return;
      selected.add(id);
      const check = byId.get(id);
      for (const dep of check ? readsOf(check) : []) add(dep);
    };
    for (const id of only) add(id as CheckId);
  }
  const skipped = new Set(skip);
  return all
    .filter((c) => selected.has(c.id))
    .map((c) =>
      skipped.has(c.id)
        ? {
            ...c,
            needs: undefined,
            run: async () => ({ status: 'skip' as const, summary: 'skipped: --skip', skipReason: '--skip' as const }),
          }
        : c,
    );
}
