import type { V1Container, V1EnvVar, V1Pod, V1Volume } from '@kubernetes/client-node';
import {
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
  AWS_CONTAINER_CREDENTIALS_FULL_URI,
  AWS_DEFAULT_REGION,
  AWS_REGION,
  AWS_ROLE_ARN,
  AWS_STS_REGIONAL_ENDPOINTS,
  AWS_WEB_IDENTITY_TOKEN_FILE,
  IRSA_AUDIENCE,
  IRSA_TOKEN_PATH,
  POD_IDENTITY_AUDIENCE,
  POD_IDENTITY_TOKEN_PATH,
  POD_IDENTITY_URI,
} from '../aws/env-names';
import {
  AUDIENCE_ANNOTATION,
  ROLE_ARN_ANNOTATION,
  STS_REGIONAL_ANNOTATION,
  TOKEN_EXPIRATION_ANNOTATION,
} from '../checks/kube-serviceaccount';
import {
  IRSA_VOLUME,
  POD_IDENTITY_VOLUME,
  SKIP_CONTAINERS_ANNOTATION,
  SKIP_WEBHOOK_LABEL,
  parseSkipContainers,
} from '../kube/mutation';
import type { KObject, PodMutator, SimCluster } from './cluster';

/*
 * The amazon-eks-pod-identity-webhook as a mutating admission step of the simulated cluster: what it does to a
 * pod at CREATE, from the ServiceAccount's annotations and the Pod Identity associations (docs/mechanics.md 1.3,
 * upstream pkg/handler/handler.go: mode selection, addEnvToContainer, the pair rule, the mount, the early exit).
 * Ephemeral containers are never touched: the webhook's rule matches pod CREATE only, not the
 * pods/ephemeralcontainers subresource (docs/mechanics.md 1.3).
 */

export interface WebhookConfig {
  /** The webhook's --aws-default-region. */
  readonly region: string;
  /**
   * The webhook's --container-credentials-full-uri (docs/mechanics.md 1.2): the agent's link-local address on
   * EKS, the simulated agent's loopback address here, so a pod's env is exactly what its spec says.
   */
  readonly credentialsUri?: string;
  /** The same per ServiceAccount (a fleet's cluster, where each one has its own simulated agent). */
  readonly credentialsUriOf?: (namespace: string, serviceAccount: string) => string | undefined;
  /**
   * --compose-role-arn: a role-arn annotation without `arn:` becomes arn:<partition>:iam::<account>:role/<value>,
   * the account being the webhook host's (docs/mechanics.md 1.1).
   */
  readonly composeRoleArn?: { readonly partition: string; readonly account: string };
  /** namespace/serviceAccount pairs with a Pod Identity association (the container-credentials config file). */
  readonly podIdentityAssociations: () => readonly { readonly namespace: string; readonly serviceAccount: string }[];
}

const IRSA_MOUNT = IRSA_TOKEN_PATH.slice(0, IRSA_TOKEN_PATH.lastIndexOf('/'));
const POD_IDENTITY_MOUNT = POD_IDENTITY_TOKEN_PATH.slice(0, POD_IDENTITY_TOKEN_PATH.lastIndexOf('/'));

export function podIdentityWebhook(config: WebhookConfig): PodMutator {
  return (given: KObject, cluster: SimCluster): KObject => {
    const pod = structuredClone(given) as unknown as V1Pod & KObject;
    if (!cluster.get('mutatingwebhookconfigurations', undefined, 'pod-identity-webhook')) return given;
    if (pod.metadata.labels?.[SKIP_WEBHOOK_LABEL] !== undefined) return given;
    const namespace = pod.metadata.namespace as string;
    const saName = pod.spec?.serviceAccountName ?? 'default';
    const sa = cluster.get('serviceaccounts', namespace, saName);
    const annotations = (sa?.metadata.annotations ?? {}) as Record<string, string>;
    const podIdentity = config
      .podIdentityAssociations()
      .some((a) => a.namespace === namespace && a.serviceAccount === saName);
    const annotated = annotations[ROLE_ARN_ANNOTATION];
    const compose = config.composeRoleArn;
    const roleArn =
      annotated !== undefined && compose && !annotated.startsWith('arn:')
        ? `arn:${compose.partition}:iam::${compose.account}:role/${annotated}`
        : annotated;
    // "Container credentials method takes precedence" over role-arn (docs/mechanics.md 1.3 step 1).
    if (!podIdentity && !roleArn) return given;
    const regional = (annotations[STS_REGIONAL_ANNOTATION] ?? 'true') === 'true';
    const expiration = Number(annotations[TOKEN_EXPIRATION_ANNOTATION] ?? 86_400);
    const skip = parseSkipContainers(pod.metadata.annotations?.[SKIP_CONTAINERS_ANNOTATION]);
    const spec = pod.spec as NonNullable<V1Pod['spec']>;

    const identity: V1EnvVar[] = podIdentity
      ? [
          {
            name: AWS_CONTAINER_CREDENTIALS_FULL_URI,
            value: config.credentialsUriOf?.(namespace, saName) ?? config.credentialsUri ?? POD_IDENTITY_URI,
          },
          { name: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, value: POD_IDENTITY_TOKEN_PATH },
        ]
      : [
          { name: AWS_ROLE_ARN, value: roleArn as string },
          { name: AWS_WEB_IDENTITY_TOKEN_FILE, value: IRSA_TOKEN_PATH },
        ];
    const volumeName = podIdentity ? POD_IDENTITY_VOLUME : IRSA_VOLUME;
    const mountPath = podIdentity ? POD_IDENTITY_MOUNT : IRSA_MOUNT;

    const mutate = (container: V1Container): V1Container => {
      if (skip.includes(container.name)) return container;
      const names = new Set((container.env ?? []).map((e) => e.name));
      const hasPair = identity.some((e) => names.has(e.name));
      const hasRegion = names.has(AWS_REGION) || names.has(AWS_DEFAULT_REGION);
      const hasSts = names.has(AWS_STS_REGIONAL_ENDPOINTS);
      if (hasPair && hasRegion && hasSts) return container; // the early exit: not even the mount
      const env = [...(container.env ?? [])];
      if (regional && !hasSts) env.push({ name: AWS_STS_REGIONAL_ENDPOINTS, value: 'regional' });
      if (config.region && !hasRegion) {
        env.push({ name: AWS_DEFAULT_REGION, value: config.region }, { name: AWS_REGION, value: config.region });
      }
      if (!hasPair) env.push(...identity);
      const mounts = [...(container.volumeMounts ?? [])];
      if (!mounts.some((m) => m.name === volumeName)) mounts.push({ name: volumeName, mountPath, readOnly: true });
      return { ...container, env, volumeMounts: mounts };
    };

    const volume: V1Volume = {
      name: volumeName,
      projected: {
        defaultMode: 420,
        sources: [
          {
            serviceAccountToken: podIdentity
              ? { audience: POD_IDENTITY_AUDIENCE, expirationSeconds: expiration, path: 'eks-pod-identity-token' }
              : {
                  audience: annotations[AUDIENCE_ANNOTATION] ?? IRSA_AUDIENCE,
                  expirationSeconds: expiration,
                  path: 'token',
                },
          },
        ],
      },
    };
    const volumes = spec.volumes ?? [];
    spec.volumes = volumes.some((v) => v.name === volumeName) ? volumes : [volume, ...volumes];
    if (spec.initContainers) spec.initContainers = spec.initContainers.map(mutate);
    spec.containers = (spec.containers ?? []).map(mutate);
    return pod as unknown as KObject;
  };
}
