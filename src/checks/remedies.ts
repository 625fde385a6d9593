import type { Remedy, Snippet } from '../run/types';

/** Placeholders the user fills in are written <LIKE_THIS>; values the tool knows are filled in. */
export function ns(namespace: string | undefined): string {
  return namespace ?? '<NAMESPACE>';
}

export function saName(serviceAccount: string | undefined): string {
  return serviceAccount ?? '<SERVICE_ACCOUNT>';
}

export function remedy(
  summary: string,
  commands: readonly string[] = [],
  links: readonly string[] = [],
  snippets: readonly Snippet[] = [],
): Remedy {
  return { summary, commands, links, ...(snippets.length > 0 ? { snippets } : {}) };
}

export const LINKS = {
  irsa: 'https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html',
  irsaTroubleshoot: 'https://repost.aws/knowledge-center/eks-troubleshoot-irsa-errors',
  oidcTroubleshoot: 'https://repost.aws/knowledge-center/eks-troubleshoot-oidc-and-irsa',
  podIdentity: 'https://docs.aws.amazon.com/eks/latest/userguide/pod-identities.html',
  stsEndpoint: 'https://docs.aws.amazon.com/eks/latest/userguide/configure-sts-endpoint.html',
  sdkChain: 'https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html',
  tokenPermissions: 'https://kubernetes.io/docs/concepts/storage/projected-volumes/#serviceaccounttoken',
  associateOidc: 'https://docs.aws.amazon.com/eks/latest/userguide/enable-iam-roles-for-service-accounts.html',
  imds: 'https://docs.aws.amazon.com/eks/latest/userguide/best-practices-security.html',
} as const;

/** Deleting the pod: its controller recreates it, and the kubelet projects a fresh token. */
export function deletePodCommand(namespace: string | undefined, podName: string | undefined, why: string): string {
  return `kubectl delete pod ${podName ?? '<POD>'} -n ${ns(namespace)}   # ${why}`;
}

/** The command that recreates the pod's workload so the webhook mutates the new pods. */
export function restartCommands(namespace: string | undefined, podName: string | undefined): string[] {
  return [
    `kubectl get pod ${podName ?? '<POD>'} -n ${ns(namespace)} -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}{"\\n"}'`,
    `kubectl rollout restart deployment/<DEPLOYMENT> -n ${ns(namespace)}   # or statefulset/daemonset; a bare pod: kubectl delete pod ${podName ?? '<POD>'} -n ${ns(namespace)} and re-apply it`,
  ];
}
