import type { Check } from '../run/types';
import { clockSkew } from './clock-skew';
import { envIrsa } from './env-irsa';
import { envMechanism } from './env-mechanism';
import { envPodIdentity } from './env-pod-identity';
import { envPrecedence } from './env-precedence';
import { envProxy } from './env-proxy';
import { envRegion } from './env-region';
import { identityCaller } from './identity-caller';
import { identityImds } from './identity-imds';
import { issuerDiscovery } from './issuer-discovery';
import { kubePod } from './kube-pod';
import { kubeServiceAccount } from './kube-serviceaccount';
import { kubeWebhook } from './kube-webhook';
import { podIdentityAgent } from './pod-identity-agent';
import { stsAssumeRole } from './sts-assume-role';
import { stsEndpoints } from './sts-endpoints';
import { tokenClaims } from './token-claims';
import { tokenFile } from './token-file';
import { trustPolicyCheck } from './trust-policy';

/**
 * Every check, in the order they are reported. A check may only depend on checks listed before it.
 */
export const CHECKS: readonly Check[] = [
  envMechanism,
  // The local checks: env, then the token file and its claims.
  envIrsa,
  envPodIdentity,
  envRegion,
  envPrecedence,
  envProxy,
  tokenFile,
  tokenClaims,
  // trust.policy stays after token.claims and env.irsa (its dependencies) and before sts.assume-role, whose
  // AccessDenied it explains.
  trustPolicyCheck,
  // Before the AWS calls whose failures a wrong clock explains (expired tokens, expired signatures): the
  // earlier check of a stage is the root cause.
  clockSkew,
  // The AWS chain: after every env and token check they read.
  issuerDiscovery,
  stsAssumeRole,
  podIdentityAgent,
  identityImds,
  identityCaller,
  stsEndpoints,
  // The Kubernetes side: last in the report, but ranked first for the root cause by their stage.
  kubePod,
  kubeWebhook,
  kubeServiceAccount,
] as readonly Check[];
