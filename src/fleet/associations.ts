import type { Checked } from './discover';

/*
 * The EKS Pod Identity associations of the cluster, from the EKS API (ListPodIdentityAssociations), when this
 * machine has AWS credentials and the cluster's name is known: a ServiceAccount with an association but no
 * annotation and no running pod is found only this way, and an association beside an IRSA annotation is the
 * "both configured" case. Optional: without credentials, a cluster name or the permission
 * (eks:ListPodIdentityAssociations), the run goes on and the report says why they were not consulted.
 * The SDK reads the standard configuration (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_EKS, ...).
 */

export interface Association {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly associationId: string;
  readonly roleArn: string | undefined;
}

export type AssociationLookup = (namespace: string | undefined) => Promise<Checked<Association[]>>;

export const notConsulted =
  (reason: string): AssociationLookup =>
  async () => ({ state: 'not-checked', reason });

/** The cluster name and region an `aws eks update-kubeconfig` context is named after (its ARN). */
export function eksClusterOf(names: readonly string[]): { readonly name: string; readonly region: string } | undefined {
  for (const n of names) {
    const m = /^arn:aws[a-z0-9-]*:eks:([a-z0-9-]+):\d{12}:cluster\/([0-9A-Za-z][A-Za-z0-9_-]{0,99})$/.exec(n);
    if (m?.[1] && m[2]) return { region: m[1], name: m[2] };
  }
  return undefined;
}

const MAX_ASSOCIATIONS = 100_000;

export interface EksLookupOptions {
  /** --cluster, else from the kubeconfig's context/cluster ARN. */
  readonly clusterName: string | undefined;
  readonly region: string | undefined;
  readonly signal: AbortSignal;
  /** How long the whole lookup may take. */
  readonly timeoutMs: number;
}

export function eksAssociationLookup(options: EksLookupOptions): AssociationLookup {
  return async (namespace) => {
    if (options.clusterName === undefined)
      return {
        state: 'not-checked',
        reason:
          'the cluster name is not known (pass --cluster NAME, or use a kubeconfig context from aws eks update-kubeconfig)',
      };
    const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]);
    try {
      const { EKSClient, ListPodIdentityAssociationsCommand } = await import('@aws-sdk/client-eks');
      const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
      const credentials = fromNodeProviderChain();
      try {
        await credentials();
      } catch (error) {
        return {
          state: 'not-checked',
          reason: `no AWS credentials on this machine (${messageOf(error).split('\n')[0]?.slice(0, 200)})`,
        };
      }
      const client = new EKSClient({
        credentials,
        ...(options.region !== undefined ? { region: options.region } : {}),
        maxAttempts: 3,
      });
      try {
        const found: Association[] = [];
        let nextToken: string | undefined;
        do {
          const page = await client.send(
            new ListPodIdentityAssociationsCommand({
              clusterName: options.clusterName,
              maxResults: 100,
              ...(namespace !== undefined ? { namespace } : {}),
              ...(nextToken !== undefined ? { nextToken } : {}),
            }),
            { abortSignal: signal },
          );
          for (const a of page.associations ?? []) {
            if (a.namespace && a.serviceAccount && a.associationId)
              found.push({
                namespace: a.namespace,
                serviceAccount: a.serviceAccount,
                associationId: a.associationId,
                roleArn: undefined,
              });
          }
          nextToken = page.nextToken || undefined;
        } while (nextToken !== undefined && found.length < MAX_ASSOCIATIONS);
        return { state: 'checked', value: found };
      } finally {
        client.destroy();
      }
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      if (name === 'AccessDeniedException')
        return {
          state: 'not-checked',
          reason: `the EKS API refused eks:ListPodIdentityAssociations on cluster ${options.clusterName}: ${messageOf(error).slice(0, 300)}`,
        };
      if (name === 'ResourceNotFoundException')
        return {
          state: 'not-checked',
          reason: `the EKS API knows no cluster ${options.clusterName}${options.region ? ` in ${options.region}` : ''}`,
        };
      return {
        state: 'not-checked',
        reason: `asking the EKS API for the Pod Identity associations failed: ${messageOf(error).split('\n')[0]?.slice(0, 300)}`,
      };
    }
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
