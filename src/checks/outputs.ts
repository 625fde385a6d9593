import type { MechanismOutput } from './env-mechanism';

/**
 * The output each check hands to the checks that declare it in dependsOn/uses. Adding a check means adding
 * its id here; the key set is the CheckId union.
 */
export interface CheckOutputs {
  'env.mechanism': MechanismOutput;
}

export type CheckId = keyof CheckOutputs;
