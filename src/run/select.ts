import type { CheckId } from '../checks/outputs';
import type { Check } from './types';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Applies --only and --skip. `--only` pulls in the hard dependencies of what it names (they are needed to
 * run it); `--skip` keeps the check in the report as `skip`, and its dependents skip with that reason.
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
      for (const dep of byId.get(id)?.dependsOn ?? []) add(dep);
    };
    for (const id of only) add(id as CheckId);
  }
  const skipped = new Set(skip);
  return all
    .filter((c) => selected.has(c.id))
    .map((c) =>
      skipped.has(c.id)
        ? { ...c, needs: undefined, run: async () => ({ status: 'skip' as const, summary: 'skipped: --skip' }) }
        : c,
    );
}
