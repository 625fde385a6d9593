import type { RoleArn } from '../aws/arn';
import type { Secret } from '../aws/secrets';
import type { CredentialSource } from '../run/types';
import type { MechanismOutput } from './env-mechanism';

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
  readonly mtimeMs: number;
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
}

export type CheckId = keyof CheckOutputs;
