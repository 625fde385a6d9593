import type { Check } from '../run/types';
import { envMechanism } from './env-mechanism';

/**
 * Every check, in the order they are reported. A check may only depend on checks listed before it.
 */
export const CHECKS: readonly Check[] = [envMechanism] as readonly Check[];
