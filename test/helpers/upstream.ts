import type { CheckId, CheckOutputs } from '../../src/checks/outputs';
import type { Status, Upstream } from '../../src/run/types';

/** An Upstream holding the given outputs (status `pass`) and statuses. */
export function upstreamOf(
  outputs: Partial<{ [K in CheckId]: CheckOutputs[K] }>,
  statuses: Partial<Record<CheckId, Status>> = {},
): Upstream {
  return {
    output: <K extends CheckId>(id: K) => outputs[id] as CheckOutputs[K] | undefined,
    status: (id) => statuses[id] ?? (id in outputs ? 'pass' : undefined),
  };
}
