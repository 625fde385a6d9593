import { readPodSelf } from '../context/pod-self';
import { KubeApiError, isUnavailable, kubeClientFor } from '../kube/client';
import type { ContainerMutation, PodMutation } from '../kube/mutation';
import { analysePodMutation, controllerOf, locateOwnContainer } from '../kube/mutation';
import { WEBHOOK_CONFIGURATION, honoursSkipLabel } from './kube-webhook';
import type { Check, FindingInput } from '../run/types';
import { assertNever } from '../run/types';
import type { KubeOwner } from './kube-remedies';
import { describeOwner, knownDetails, outcomeOfKubeFailure } from './kube-remedies';
import type { PodRef } from './remedies';
import { LINKS, SKIP_WEBHOOK_LABEL_KEY, recreateWorkload, remedy, removeSkipLabelCommands } from './remedies';
import { kubeLabel, namespaceArg, placeholder, podArg, sh } from './shell';

export interface KubePodOutput {
  readonly namespace: string;
  readonly podName: string;
  readonly serviceAccountName: string;
  /** The pod's eks.amazonaws.com/* annotations. */
  readonly annotations: Readonly<Record<string, string>>;
  readonly mutation: PodMutation;
  readonly owner: KubeOwner | undefined;
  /** The AWS_ROLE_ARN the webhook wrote into the pod's injected containers. */
  readonly specRoleArn: string | undefined;
  /** The ephemeral container this process most likely runs in (see locateOwnContainer). */
  readonly ephemeralSelf: string | undefined;
  /** The pod was not mutated because of the skip label (WEBHOOK_SKIP_LABEL). */
  readonly skippedByLabel: boolean;
}

const PREFIX = 'eks.amazonaws.com/';

/**
 * Reads this pod from the API and explains what the webhook did to it: per container, whether it got the
 * IRSA / Pod Identity variables and token mount, and if not, the likely reason (docs/mechanics.md 1.3).
 */
export const kubePod: Check<'kube.pod'> = {
  id: 'kube.pod',
  title: "The pod's mutation by the webhook (Kubernetes API)",
  stage: 'kube',
  dependsOn: [],
  // env.mechanism may already have named the app's process (EPHEMERAL_CONTAINER): one finding, not two.
  uses: ['env.mechanism'],
  needs: 'kube',
  // Two sequential reads (pod, then its ReplicaSet), each bounded by KUBE_CALL_TIMEOUT_MS.
  timeoutMs: 6_000,
  async run(ctx, upstream, signal) {
    const self = await readPodSelf(ctx);
    if (!self.namespace || !self.podName) {
      return {
        status: 'skip',
        summary: `skipped: cannot tell which pod this is (${!self.namespace ? 'no namespace' : 'no pod name'}): pass --namespace/--pod or set POD_NAMESPACE/POD_NAME through the downward API`,
      };
    }
    const client = await kubeClientFor(ctx);
    if (isUnavailable(client)) return { status: 'skip', summary: `skipped: ${client.unavailable}` };
    const { namespace, podName } = { namespace: self.namespace, podName: self.podName };

    let pod;
    try {
      pod = await client.readPod(namespace, podName, signal);
    } catch (error) {
      if (error instanceof KubeApiError && error.kind === 'not-found') {
        return {
          status: 'error',
          summary: `pod ${namespace}/${podName} does not exist (pod name from ${podNameSource(ctx)}; with hostNetwork HOSTNAME is the node's name): pass --pod NAME or set POD_NAME`,
        };
      }
      return outcomeOfKubeFailure(error, 'namespace', self);
    }

    const mutation = analysePodMutation(pod);
    const annotations = Object.fromEntries(
      Object.entries(pod.metadata?.annotations ?? {}).filter(([key]) => key.startsWith(PREFIX)),
    );
    const serviceAccountName = pod.spec?.serviceAccountName ?? 'default';

    let owner: KubeOwner | undefined;
    let ownerNote: string | null = null;
    const controller = controllerOf(pod);
    if (controller) {
      owner = { kind: controller.kind, name: controller.name };
      if (controller.kind === 'ReplicaSet') {
        try {
          const replicaSet = await client.readReplicaSet(namespace, controller.name, signal);
          const rsOwner = controllerOf(replicaSet);
          if (rsOwner?.kind === 'Deployment') owner = { kind: 'Deployment', name: rsOwner.name };
        } catch (error) {
          if (!(error instanceof KubeApiError)) throw error;
          ownerNote = `the ReplicaSet's owner is unknown (${error.kind}: ${error.message})`;
        }
      }
    }

    const injected = mutation.containers.filter((c) => c.injected && c.kind !== 'ephemeral');
    const specRoleArn = injected.find((c) => c.roleArn !== undefined)?.roleArn;
    const findings: FindingInput[] = [];
    const podRef: PodRef = { namespace, podName, owner: owner ?? null, skipLabel: mutation.skipLabel };

    // The label means something only through the webhook's objectSelector: when the configuration can be
    // read and has none, the label is not why this pod was not mutated. Read only for such a pod, and any
    // failure (it is cluster-scoped, usually not readable) leaves it unknown.
    let selector: boolean | undefined;
    if (mutation.skipLabel && mutation.mechanism === 'none') {
      try {
        selector = honoursSkipLabel(await client.readMutatingWebhookConfiguration(WEBHOOK_CONFIGURATION, signal));
      } catch (error) {
        if (!(error instanceof KubeApiError)) throw error;
      }
    }
    const skippedByLabel = mutation.skipLabel && mutation.mechanism === 'none' && selector !== false;
    if (skippedByLabel) {
      findings.push({
        code: 'WEBHOOK_SKIP_LABEL',
        summary: `Pod ${namespace}/${podName} carries the label ${SKIP_WEBHOOK_LABEL_KEY}, which the webhook's objectSelector excludes (DoesNotExist${selector === undefined ? ' in the configuration EKS manages; the configuration was not readable here to confirm it' : ''}): it was never mutated, so it has no IRSA or Pod Identity variables and no token. Recreating the pod does not help, the new pod keeps the label: remove the label from ${owner ? `the pod template of ${describeOwner(owner)}` : "the pod's manifest"}.`,
        evidence: {
          label: SKIP_WEBHOOK_LABEL_KEY,
          value: pod.metadata?.labels?.[SKIP_WEBHOOK_LABEL_KEY] ?? null,
          owner: describeOwner(owner),
        },
        remedy: remedy(
          `Remove the ${SKIP_WEBHOOK_LABEL_KEY} label from the pod template; the new pods are then mutated.`,
          removeSkipLabelCommands(podRef),
          [LINKS.irsa],
        ),
      });
    }

    for (const volume of mutation.overriddenVolumes) {
      const variable =
        volume.mechanism === 'irsa' ? 'AWS_WEB_IDENTITY_TOKEN_FILE' : 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE';
      findings.push({
        code: 'TOKEN_VOLUME_OVERRIDDEN',
        summary: `Pod ${namespace}/${podName} defines its own volume "${volume.name}" (${volume.source}${volume.source === 'projected' ? " without a ServiceAccount token at the webhook's file name" : ''}). The webhook adds its projected token volume only when no volume of that name exists, so this pod got no projected ServiceAccount token: ${variable} names whatever that volume holds, and the SDKs send that (or find no file).`,
        evidence: { volume: volume.name, source: volume.source, mechanism: volume.mechanism },
        remedy: remedy(
          `Rename or remove the pod's own "${volume.name}" volume (and its volumeMounts) so the webhook adds its projected token volume, then recreate the pod.`,
          [
            sh`kubectl get pod ${podArg(podName)} -n ${namespaceArg(namespace)} -o jsonpath='{range .spec.volumes[*]}{.name}{"\\n"}{end}'`,
            ...recreateWorkload(podRef),
          ],
          [LINKS.irsa],
        ),
      });
    }

    if (mutation.notInjected.length > 0) {
      findings.push({
        code: 'CONTAINER_NOT_INJECTED',
        summary: `The webhook mutated this pod for ${mechanismWords(mutation)}, but ${mutation.notInjected.length === 1 ? 'one container did' : `${mutation.notInjected.length} containers did`} not get the variables and token mount: ${mutation.notInjected.map((c) => `${c.name} (${kindWords(c)}: ${c.why})`).join('; ')}. Code in ${mutation.notInjected.length === 1 ? 'it' : 'them'} falls back to other credentials (often the node role).`,
        evidence: {
          containers: mutation.notInjected.map((c) => ({ name: c.name, kind: c.kind, reason: c.skipReason })),
          skipContainers: mutation.skipContainers,
        },
        remedy: remedy(
          notInjectedRemedySummary(mutation.notInjected),
          [
            sh`kubectl get pod ${podArg(podName)} -n ${namespaceArg(namespace)} -o jsonpath='{.metadata.annotations.eks\\.amazonaws\\.com/skip-containers}{"\\n"}'`,
            sh`kubectl get pod ${podArg(podName)} -n ${namespaceArg(namespace)} -o jsonpath='{range .spec.initContainers[*]}{.name}{": "}{.env[*].name}{"\\n"}{end}{range .spec.containers[*]}{.name}{": "}{.env[*].name}{"\\n"}{end}'`,
            ...recreateWorkload(podRef),
          ],
          [LINKS.irsa],
        ),
      });
    }

    // With --target the diagnosed env is the app container's, so this heuristic only applies to ourselves.
    const located = ctx.options.targetPid === undefined ? locateOwnContainer(pod, ctx.env) : undefined;
    const ephemeralSelf = located?.ephemeral;
    if (ephemeralSelf && upstream.output('env.mechanism')?.injectedPeerPid === undefined) {
      const app = injected.find((c) => c.kind === 'container') ?? injected[0];
      const shared = ephemeralSelf.targetContainerName;
      findings.push({
        code: 'EPHEMERAL_CONTAINER',
        summary: `irsa-doctor is running in the ephemeral container "${ephemeralSelf.name}" (none of the pod's other containers matches this environment). The webhook never mutates ephemeral containers, so its missing AWS variables say nothing about the app${app ? `; container "${app.name}" has them` : ''}. Diagnose the app container through /proc instead.`,
        evidence: {
          ephemeralContainer: ephemeralSelf.name,
          targetContainerName: shared ?? null,
          app: app?.name ?? null,
        },
        remedy: remedy(
          shared
            ? `This debug container shares the process namespace of "${shared}": re-run with --target auto.`
            : `This debug container was started without --target, so it cannot see the app's processes: start one that targets the app container and run irsa-doctor --target auto in it.`,
          shared
            ? [sh`irsa-doctor --target auto`]
            : [
                sh`kubectl debug -it ${podArg(podName)} -n ${namespaceArg(namespace)} --image=${placeholder('IRSA_DOCTOR_IMAGE')} --target=${kubeLabel(app?.name, 'APP_CONTAINER')} -- /irsa-doctor --target auto`,
              ],
          ['https://kubernetes.io/docs/tasks/debug/debug-application/debug-running-pod/#ephemeral-container'],
        ),
      });
    }

    const volume = mutation.tokenVolumes[0];
    const output: KubePodOutput = {
      namespace,
      podName,
      serviceAccountName,
      annotations,
      mutation,
      owner,
      specRoleArn,
      ephemeralSelf: ephemeralSelf?.name,
      skippedByLabel,
    };
    const regular = mutation.containers.filter((c) => c.kind !== 'ephemeral');
    const summary =
      mutation.mechanism === 'none'
        ? `pod ${namespace}/${podName} (ServiceAccount ${serviceAccountName}) was not mutated: no container has IRSA or Pod Identity variables`
        : `pod ${namespace}/${podName} (ServiceAccount ${serviceAccountName}): ${mechanismWords(mutation)} in ${regular.length - mutation.notInjected.length} of ${regular.length} containers${mutation.notInjected.length > 0 ? `; not in ${mutation.notInjected.map((c) => c.name).join(', ')}` : ''}`;
    const broken = findings.some((f) => f.code === 'WEBHOOK_SKIP_LABEL' || f.code === 'TOKEN_VOLUME_OVERRIDDEN');
    return {
      status: broken ? 'fail' : findings.length > 0 ? 'warn' : 'pass',
      summary,
      output,
      findings,
      facts: { pod: { namespace, podName, owner, skipLabel: mutation.skipLabel } },
      details: knownDetails({
        apiServer: `${client.server} (${client.source})`,
        serviceAccount: serviceAccountName,
        owner: describeOwner(owner) + (ownerNote ? ` (${ownerNote})` : ''),
        containers: mutation.containers.map(containerLine).join('; '),
        tokenVolume: volume
          ? `${volume.name}: audience ${volume.audience ?? '(API server default)'}, expirationSeconds ${volume.expirationSeconds ?? '(default 3600)'}`
          : null,
        skipContainers:
          mutation.skipContainers.length > 0
            ? `${mutation.skipContainers.map((n) => JSON.stringify(n)).join(', ')}${mutation.skipNamesUntrimmed.length > 0 ? ` (${mutation.skipNamesUntrimmed.map((n) => JSON.stringify(n)).join(', ')} names no container: the webhook does not trim spaces, so ${mutation.skipNamesUntrimmed.map((n) => n.trim()).join(', ')} was mutated)` : ''}`
            : null,
        skipLabel: mutation.skipLabel
          ? mutation.mechanism === 'none'
            ? selector === false
              ? `${SKIP_WEBHOOK_LABEL_KEY} is set, but the webhook configuration has no objectSelector for it: the label is not why this pod was not mutated`
              : `${SKIP_WEBHOOK_LABEL_KEY} is set: the webhook skips this pod`
            : `${SKIP_WEBHOOK_LABEL_KEY} is set, but the pod was mutated (the label was added after it was created, or the webhook configuration has no such objectSelector)`
          : null,
        hostNetwork: mutation.hostNetwork
          ? 'true: IMDS (node credentials) is always reachable, HOSTNAME is the node name, and Pod Identity is reported to fail for hostNetwork pods (eks-pod-identity-agent #139)'
          : false,
      }),
    };
  },
};

function podNameSource(ctx: { options: { pod?: string }; env: Readonly<Record<string, string | undefined>> }): string {
  if (ctx.options.pod) return '--pod';
  if (ctx.env.POD_NAME) return 'POD_NAME';
  return 'the API token or HOSTNAME';
}

function mechanismWords(mutation: PodMutation): string {
  switch (mutation.mechanism) {
    case 'irsa':
      return 'IRSA';
    case 'pod-identity':
      return 'EKS Pod Identity';
    case 'both':
      return 'IRSA and EKS Pod Identity';
    case 'none':
      return 'nothing';
    default:
      return assertNever(mutation.mechanism);
  }
}

function kindWords(c: ContainerMutation): string {
  switch (c.kind) {
    case 'container':
      return 'container';
    case 'init':
      return 'init container';
    case 'sidecar':
      return 'native sidecar';
    case 'ephemeral':
      return 'ephemeral container';
    default:
      return assertNever(c.kind);
  }
}

function containerLine(c: ContainerMutation): string {
  const got = [
    c.irsa ? 'IRSA env' : '',
    c.podIdentity ? 'Pod Identity env' : '',
    c.irsaMount || c.podIdentityMount ? 'token mount' : '',
  ]
    .filter((s) => s !== '')
    .join(' + ');
  const reason = c.skipReason ? ` (skipped: ${c.skipReason})` : '';
  return `${c.name} [${c.kind}]: ${got || 'nothing'}${reason}`;
}

function notInjectedRemedySummary(containers: readonly ContainerMutation[]): string {
  const reasons = new Set(containers.map((c) => c.skipReason));
  const parts: string[] = [];
  if (reasons.has('skip-containers')) {
    parts.push('remove the container from the eks.amazonaws.com/skip-containers annotation if it needs AWS access');
  }
  if (reasons.has('pair-rule')) {
    parts.push(
      'remove the hand-set AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE (or the Pod Identity pair) from the container so the webhook injects both',
    );
  }
  if (reasons.has('no-mount')) parts.push('remove the hand-set variables, or mount the token volume yourself');
  if (reasons.has('unknown')) parts.push('check for another mutating webhook that adds containers after this one');
  return `${parts.join('; ')}; then recreate the pod (the webhook only acts on pod creation).`.replace(/^./, (c) =>
    c.toUpperCase(),
  );
}
