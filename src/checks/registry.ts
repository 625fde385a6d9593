import type { Check } from '../run/types';
import { envMechanism } from './env-mechanism';
import { trustPolicyCheck } from './trust-policy';

/**
 * Every check, in the order they are reported. A check may only depend on checks listed before it.
 */
export const CHECKS: readonly Check[] = [
  envMechanism,
  // trust.policy stays after token.claims and env.irsa (its dependencies) and before sts.assume-role, whose
  // AccessDenied it explains.
  trustPolicyCheck,
] as readonly Check[];
