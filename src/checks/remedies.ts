import type { PodFacts, Remedy, Snippet } from '../run/types';
import type { ShellCommand, ShellValue } from './shell';
import { fragment, kubeName, namespaceArg, placeholder, podArg, sh } from './shell';

/**
 * Names for the prose of a finding (summaries, remedy text): the value as found, escaped by the renderers,
 * or the placeholder. Commands take their values through the argument helpers of shell.ts instead.
 */
export function ns(namespace: string | undefined): string {
  return namespace ?? '<NAMESPACE>';
}

export function saName(serviceAccount: string | undefined): string {
  return serviceAccount ?? '<SERVICE_ACCOUNT>';
}

export function remedy(
  summary: string,
  commands: readonly ShellCommand[] = [],
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
  clock: 'https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/set-time.html',
} as const;

/** The workload that owns the pod, after following ReplicaSet -> Deployment where readable. */
export interface KubeOwner {
  readonly kind: string;
  readonly name: string;
}

/**
 * The pod a remedy acts on, as far as the tool knows it. `owner` is undefined until the Kubernetes API has
 * shown the pod (then it names the workload, or is null for a bare pod).
 */
export interface PodRef {
  readonly namespace: string | undefined;
  readonly podName: string | undefined;
  readonly owner?: KubeOwner | null;
  /** The pod carries eks.amazonaws.com/skip-pod-identity-webhook (known once the API has shown it). */
  readonly skipLabel?: boolean;
}

export function podRefOf(facts: PodFacts): PodRef {
  return {
    namespace: facts.namespace,
    podName: facts.podName,
    owner: facts.owner ?? null,
    skipLabel: facts.skipLabel,
  };
}

/**
 * A remedy whose commands name the pod's workload: built now with what the check knows, and again by the
 * runner once kube.pod has read the owner (FindingInput.remedyFor), so that a Deployment is restarted by its
 * name instead of `deployment/<DEPLOYMENT>`.
 */
export function podRemedy(
  self: PodRef,
  build: (pod: PodRef) => Remedy,
): { readonly remedy: Remedy; readonly remedyFor: (facts: PodFacts) => Remedy } {
  return { remedy: build(self), remedyFor: (facts) => build(podRefOf(facts)) };
}

/** Workloads whose pod template `kubectl rollout restart` and `kubectl set env` act on. */
const ROLLING_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

/** The pod and namespace as command arguments: valid Kubernetes names, or their placeholders (shell.ts). */
function podWord(pod: PodRef): ShellValue {
  return podArg(pod.podName);
}

function nsWord(pod: PodRef): ShellValue {
  return namespaceArg(pod.namespace);
}

/** A pod name inside a `#` comment, where quoting does not help (a newline would end the comment). */
function podInComment(pod: PodRef): ShellValue {
  return pod.podName !== undefined && /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(pod.podName)
    ? pod.podName
    : placeholder('POD');
}

/**
 * The owner as it may appear in a command or a comment. The API server only accepts DNS-1123 names and
 * alphanumeric kinds; anything else did not come from a real API server and is not echoed.
 */
function usableOwner(owner: KubeOwner | null | undefined): KubeOwner | null | undefined {
  if (!owner) return owner;
  const name = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(owner.name) ? owner.name : '<OWNER_NAME>';
  return { kind: /^[A-Za-z][A-Za-z0-9]{0,62}$/.test(owner.kind) ? owner.kind : 'Workload', name };
}

function workloadWord(owner: KubeOwner): ShellValue {
  return fragment(sh`${owner.kind.toLowerCase()}/${kubeName(owner.name, 'OWNER_NAME')}`);
}

/**
 * New pods for the workload, so the webhook mutates them with the current ServiceAccount, association and
 * spec (it acts only on pod creation, docs/mechanics.md 1.5). The one remedy of every cause that needs the
 * webhook to run again.
 */
export function recreateWorkload(pod: PodRef): ShellCommand[] {
  const namespace = nsWord(pod);
  const name = podWord(pod);
  const owner = usableOwner(pod.owner);
  if (owner === undefined) {
    return [
      sh`kubectl get pod ${name} -n ${namespace} -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}{"\\n"}'`,
      sh`kubectl rollout restart deployment/${placeholder('DEPLOYMENT')} -n ${namespace}   # or statefulset/daemonset; a bare pod: kubectl delete pod ${podInComment(pod)} and re-apply it`,
    ];
  }
  if (owner === null) {
    return [
      sh`kubectl get pod ${name} -n ${namespace} -o yaml > ${`${String(podInComment(pod)).replace(/[<>]/g, '')}.yaml`}   # keep the spec; a bare pod is not recreated by anything`,
      sh`kubectl delete pod ${name} -n ${namespace}`,
      sh`kubectl apply -f ${placeholder('POD_MANIFEST')}.yaml   # your original manifest (the saved copy holds the old injected env: remove it first)`,
    ];
  }
  if (ROLLING_KINDS.has(owner.kind)) return [sh`kubectl rollout restart ${workloadWord(owner)} -n ${namespace}`];
  switch (owner.kind) {
    case 'ReplicaSet':
      return [sh`kubectl delete pod ${name} -n ${namespace}   # ReplicaSet ${owner.name} creates a new one`];
    case 'Job':
      return [
        sh`kubectl delete job ${kubeName(owner.name, 'JOB')} -n ${namespace}   # a Job's pods are not restarted in place`,
        sh`kubectl apply -f ${placeholder('JOB_MANIFEST')}.yaml   # re-create the Job from its manifest`,
      ];
    default:
      return [sh`kubectl delete pod ${name} -n ${namespace}   # its ${owner.kind} ${owner.name} creates a new one`];
  }
}

/**
 * A new pod in place of this one, for what belongs to this pod alone (its projected token, which the kubelet
 * writes afresh for a new pod): the controller replaces a deleted pod. A bare pod or a Job's pod is
 * recreated the only way it can be.
 */
export function replacePod(pod: PodRef): ShellCommand[] {
  const owner = usableOwner(pod.owner);
  if (owner === null || owner?.kind === 'Job') return recreateWorkload(pod);
  return owner === undefined
    ? [sh`kubectl delete pod ${podWord(pod)} -n ${nsWord(pod)}   # its controller creates a new one`]
    : [sh`kubectl delete pod ${podWord(pod)} -n ${nsWord(pod)}   # its ${owner.kind} ${owner.name} creates a new one`];
}

/**
 * Changes the variables of the pod template (`NAME=value`, or `NAME-` to remove one). `kubectl set env` on a
 * Deployment, StatefulSet or DaemonSet rolls out new pods by itself, so no restart follows it; a pod's own
 * env cannot be changed, so a bare pod or a Job is edited in its manifest and recreated.
 */
export function setEnvCommands(pod: PodRef, assignments: readonly ShellValue[]): ShellCommand[] {
  const namespace = nsWord(pod);
  const words = fragment(sh`${assignments}`);
  const owner = usableOwner(pod.owner);
  if (owner === undefined) {
    return [
      sh`kubectl set env deployment/${placeholder('DEPLOYMENT')} -n ${namespace} ${words}   # or statefulset/daemonset: the workload that owns pod ${podInComment(pod)}; it rolls out new pods`,
    ];
  }
  if (owner !== null && ROLLING_KINDS.has(owner.kind)) {
    return [sh`kubectl set env ${workloadWord(owner)} -n ${namespace} ${words}   # rolls out new pods`];
  }
  if (owner?.kind === 'ReplicaSet') {
    return [
      sh`kubectl set env replicaset/${kubeName(owner.name, 'REPLICASET')} -n ${namespace} ${words}`,
      ...replacePod(pod),
    ];
  }
  // Only the variable names go into the comment: a value from outside could end a comment with a newline.
  const names = assignments.map((a) => String(a).replace(/(=[\s\S]*|-)$/, ''));
  return [sh`# change ${names} in the pod spec of the manifest, then:`, ...recreateWorkload(pod)];
}

/**
 * A merge patch of the pod template of the workload (`kubectl patch deployment/x --type merge -p ...`);
 * the patch is JSON of ours, quoted as one word.
 */
export function patchTemplateCommands(pod: PodRef, patch: unknown): ShellCommand[] {
  const json = JSON.stringify(patch);
  const owner = usableOwner(pod.owner);
  if (owner !== undefined && owner !== null && ROLLING_KINDS.has(owner.kind)) {
    return [sh`kubectl patch ${workloadWord(owner)} -n ${nsWord(pod)} --type merge -p ${json}`];
  }
  if (owner === undefined) {
    return [
      sh`kubectl patch deployment/${placeholder('DEPLOYMENT')} -n ${nsWord(pod)} --type merge -p ${json}   # or statefulset/daemonset: the workload that owns pod ${podInComment(pod)}`,
    ];
  }
  return [sh`# apply this to the pod template in the manifest: ${json}`, ...recreateWorkload(pod)];
}

export const SKIP_WEBHOOK_LABEL_KEY = 'eks.amazonaws.com/skip-pod-identity-webhook';

/**
 * Removes the skip label from the pod template. Recreating the pod alone does nothing: the new pod keeps the
 * label, and the webhook's objectSelector keeps skipping it (docs/mechanics.md 1.1, 1.6). Changing the
 * template of a Deployment, StatefulSet or DaemonSet rolls out new pods by itself.
 */
export function removeSkipLabelCommands(pod: PodRef): ShellCommand[] {
  const patch = JSON.stringify([
    { op: 'remove', path: `/spec/template/metadata/labels/${SKIP_WEBHOOK_LABEL_KEY.replace('/', '~1')}` },
  ]);
  const owner = usableOwner(pod.owner);
  const namespace = nsWord(pod);
  if (owner === undefined) {
    return [
      sh`kubectl patch deployment/${placeholder('DEPLOYMENT')} -n ${namespace} --type json -p ${patch}   # or statefulset/daemonset: the workload that owns pod ${podInComment(pod)}`,
    ];
  }
  if (owner !== null && ROLLING_KINDS.has(owner.kind)) {
    return [sh`kubectl patch ${workloadWord(owner)} -n ${namespace} --type json -p ${patch}   # rolls out new pods`];
  }
  if (owner?.kind === 'ReplicaSet') {
    return [
      sh`kubectl patch replicaset/${kubeName(owner.name, 'REPLICASET')} -n ${namespace} --type json -p ${patch}`,
      ...replacePod(pod),
    ];
  }
  return [
    sh`# remove the label ${SKIP_WEBHOOK_LABEL_KEY} from the pod in the manifest, then:`,
    ...recreateWorkload(pod),
  ];
}

/**
 * The one remedy of a clock that is off (CLOCK_SKEW, and the token and signature failures it causes): the
 * node's time synchronisation. Pods share their node's clock, so nothing in the pod fixes it.
 */
export function clockRemedy(): Remedy {
  return remedy(
    "Fix the node's time synchronisation: chrony (or systemd-timesyncd) with the Amazon Time Sync Service at 169.254.169.123 (fd00:ec2::123 on IPv6), which EKS AMIs configure by default. Neither upgrading the SDK nor recreating the pod helps while the clock is off.",
    [
      sh`date -u`,
      sh`chronyc tracking   # on the node: the offset and the NTP source`,
      sh`chronyc sources -v   # on the node`,
    ],
    [LINKS.clock],
  );
}
