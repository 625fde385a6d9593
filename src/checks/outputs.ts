import type { RoleArn } from '../aws/arn';
import type { Secret } from '../aws/secrets';
import type { CredentialSource } from '../run/types';
import type { ClockSkewOutput } from './clock-skew';
import type { MechanismOutput } from './env-mechanism';
import type { KubePodOutput } from './kube-pod';
import type { KubeServiceAccountOutput } from './kube-serviceaccount';
import type { KubeWebhookOutput } from './kube-webhook';
import type { TrustPolicyOutput } from './trust-policy';

/** env.irsa: the complete, well-formed IRSA pair. */
export interface IrsaEnvOutput {
  readonly roleArn: RoleArn;
  readonly tokenFile: string;
  readonly sessionName: string | undefined;
}

/** env.pod-identity: the complete Pod Identity pair. */
export interface PodIdentityEnvOutput {
  readonly fullUri: string;
  /** AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE; undefined when only the inline AWS_CONTAINER_AUTHORIZATION_TOKEN is set. */
  readonly tokenFile: string | undefined;
}

export type SdkFamily = 'js-v3' | 'boto3' | 'go-v2';

/** env.region: the region and the STS endpoint each SDK family would use from this env. */
export interface RegionOutput {
  readonly region: string | undefined;
  readonly regionSource: 'AWS_REGION' | 'AWS_DEFAULT_REGION' | undefined;
  readonly stsEndpoints: readonly { readonly sdk: SdkFamily; readonly url: string; readonly why: string }[];
  /** The STS endpoint the JS SDK (what this tool is built on) would call: override, else regional. */
  readonly stsEndpoint: string;
}

/** env.precedence: which credential source each SDK family would pick. */
export interface PrecedenceOutput {
  readonly choices: readonly { readonly sdk: SdkFamily; readonly source: CredentialSource; readonly detail: string }[];
}

/** token.file: the token as read (held as a Secret: never printed). */
export interface TokenFileOutput {
  readonly path: string;
  readonly mechanism: 'irsa' | 'pod-identity';
  readonly token: Secret;
  /** undefined for a token given inline in AWS_CONTAINER_AUTHORIZATION_TOKEN: there is no file. */
  readonly mtimeMs: number | undefined;
}

/** token.claims: the decoded (unverified) header and claims. */
export interface TokenClaimsOutput {
  readonly alg: string | undefined;
  readonly kid: string | undefined;
  readonly iss: string;
  readonly sub: string;
  readonly aud: readonly string[];
  readonly exp: number | undefined;
  readonly iat: number | undefined;
  readonly nbf: number | undefined;
  /** From sub (system:serviceaccount:NS:SA). */
  readonly namespace: string | undefined;
  readonly serviceAccount: string | undefined;
  /** From the kubernetes.io claim. */
  readonly podName: string | undefined;
  readonly podUid?: string | undefined;
}

/** issuer.discovery: the issuer as the pod sees it. */
export interface IssuerOutput {
  /** iss without the scheme: the prefix of the trust policy's condition keys (docs/mechanics.md 3.4). */
  readonly issuerHost: string;
  readonly jwksUri: string;
  readonly signatureVerified: boolean;
}

/** sts.assume-role: the role STS handed out (the credentials themselves were dropped). */
export interface AssumeRoleOutput {
  readonly assumedRoleArn: string;
}

/** pod-identity.agent: who the agent's credentials belong to (the credentials themselves were dropped). */
export interface PodIdentityAgentOutput {
  /** undefined when the agent issued credentials but GetCallerIdentity could not confirm whose. */
  readonly callerArn: string | undefined;
}

/** identity.imds: the node's instance role as seen from this pod. */
export interface ImdsOutput {
  readonly nodeRoleArn: string | undefined;
  /** This pod can obtain node credentials from IMDS. */
  readonly reachable: boolean;
  /** The node's instance id, when IMDS told it. */
  readonly instanceId?: string;
}

/** identity.caller: who an app in this pod is, and which source said so. */
export interface CallerOutput {
  readonly callerArn: string;
  readonly source: CredentialSource;
}

/** sts.endpoints: each STS URL the SDK families would call, and whether it answered. */
export interface StsEndpointsOutput {
  readonly endpoints: readonly {
    readonly url: string;
    readonly sdks: readonly SdkFamily[];
    readonly reachable: boolean;
  }[];
}

/**
 * The output each check hands to the checks that declare it in dependsOn/uses. Adding a check means adding
 * its id here; the key set is the CheckId union.
 */
export interface CheckOutputs {
  'env.mechanism': MechanismOutput;
  'env.irsa': IrsaEnvOutput;
  'env.pod-identity': PodIdentityEnvOutput;
  'env.region': RegionOutput;
  'env.precedence': PrecedenceOutput;
  'env.proxy': undefined;
  'token.file': TokenFileOutput;
  'token.claims': TokenClaimsOutput;
  'trust.policy': TrustPolicyOutput;
  'issuer.discovery': IssuerOutput;
  'sts.assume-role': AssumeRoleOutput;
  'pod-identity.agent': PodIdentityAgentOutput;
  'identity.imds': ImdsOutput;
  'identity.caller': CallerOutput;
  'sts.endpoints': StsEndpointsOutput;
  'clock.skew': ClockSkewOutput;
  'kube.pod': KubePodOutput;
  'kube.serviceaccount': KubeServiceAccountOutput;
  'kube.webhook': KubeWebhookOutput;
}

export type CheckId = keyof CheckOutputs;
