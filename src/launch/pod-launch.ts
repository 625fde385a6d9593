import type { V1ContainerStatus, V1EphemeralContainer, V1Pod } from '@kubernetes/client-node';
import { targetOwnerFromMessage } from '../context/target';
import { sh } from '../checks/shell';
import type { Report } from '../run/types';
import type { LauncherApi } from './api';
import { LaunchFailure, apiErrorInfo, unexpectedApiFailure } from './failure';
import type { LaunchProgress } from './progress';
import { Deadline, describeState, imagePullFix, stuckContainerFailure, WatchWaiters } from './progress';
import { POD_PERMISSIONS, checkPermissions, forbiddenFailure, whoAmI } from './rbac';
import { logWithoutReport, reportFromLog } from './remote-report';
import { readContainerLog } from './read-log';
import type { WatchHub } from './watch-hub';

/*
 * `irsa-doctor pod`: the doctor beside a running app, in an ephemeral container that targets the app's container
 * (the pods/ephemeralcontainers subresource, as `kubectl debug --target` adds one). It runs `--target auto
 * --output json` as the app's uid and gid with nothing else: no capability, no privilege escalation, a read-only
 * root, seccomp RuntimeDefault. The kernel lets a process read another's /proc/PID/environ and /proc/PID/root
 * when both run as the same uid and gid (docs/mechanics.md, examples/debug.md), so that is all it needs. When
 * the spec does not say the uid and gid (the image's USER decides), the doctor reports them from the app's
 * /proc/PID/status, which any uid may read, and the launcher tries once more as those.
 *
 * Ephemeral containers cannot be removed from a pod: each run leaves one, terminated, in the pod's spec until the
 * pod is replaced (Kubernetes API: EphemeralContainers, "may not be removed").
 */

export interface PodLaunchRequest {
  readonly namespace: string;
  readonly pod: string;
  /** -c: the app's container; else the only one, or the default-container annotation. */
  readonly container?: string;
  readonly image: string;
  readonly deadline: Deadline;
  /** Passed to the doctor after `--target auto --output json` (--only, --skip, --offline, --no-kube). */
  readonly doctorArgs: readonly string[];
}

export interface PodLaunchResult {
  readonly report: Report;
  /** The app container diagnosed. */
  readonly container: string;
  /** Every ephemeral container this run added (they stay in the pod). */
  readonly ephemeralContainers: readonly string[];
  readonly user: { readonly uid: number | undefined; readonly gid: number | undefined };
}

export const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';

/** The container to diagnose: -c, else the only one, else the one the default-container annotation names. */
export function chooseContainer(pod: V1Pod, wanted: string | undefined): string {
  const containers = pod.spec?.containers ?? [];
  const sidecars = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always');
  const names = [...containers, ...sidecars].map((c) => c.name);
  const podName = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
  if (wanted !== undefined) {
    if (names.includes(wanted)) return wanted;
    throw new LaunchFailure(
      'usage',
      `container "${wanted}" is not in pod ${podName} (its containers: ${names.join(', ')})`,
      [],
    );
  }
  if (containers.length === 1) return containers[0]?.name as string;
  const annotated = pod.metadata?.annotations?.[DEFAULT_CONTAINER_ANNOTATION];
  if (annotated !== undefined && names.includes(annotated)) return annotated;
  throw new LaunchFailure(
    'usage',
    `pod ${podName} has ${containers.length} containers (${containers.map((c) => c.name).join(', ')}): choose the app's with -c NAME`,
    [`or annotate the pod's template with ${DEFAULT_CONTAINER_ANNOTATION}: NAME, as kubectl reads it too`],
  );
}

export interface AppUser {
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  /** Where they come from, in words. */
  readonly source: string;
}

/** runAsUser/runAsGroup of the container's securityContext over the pod's (the kubelet's own rule). */
export function appUserFromSpec(pod: V1Pod, containerName: string): AppUser {
  const container = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find(
    (c) => c.name === containerName,
  );
  const own = container?.securityContext ?? {};
  const podLevel = pod.spec?.securityContext ?? {};
  const uid = own.runAsUser ?? podLevel.runAsUser;
  const gid = own.runAsGroup ?? podLevel.runAsGroup;
  const from = (value: number | undefined, ownValue: number | undefined) =>
    value === undefined
      ? undefined
      : ownValue !== undefined
        ? "the container's securityContext"
        : "the pod's securityContext";
  const sources = [...new Set([from(uid, own.runAsUser), from(gid, own.runAsGroup)].filter(Boolean))];
  return { uid, gid, source: sources.length > 0 ? sources.join(' and ') : 'nowhere in the spec (the image decides)' };
}

/** The ephemeral container: the app's uid/gid when known, and nothing else. */
export function ephemeralContainerSpec(
  name: string,
  target: string,
  image: string,
  user: { uid: number | undefined; gid: number | undefined },
  doctorArgs: readonly string[],
): V1EphemeralContainer {
  return {
    name,
    image,
    // The image holds the binary and nothing else: no shell is ever needed.
    command: ['/irsa-doctor'],
    args: ['--target', 'auto', '--output', 'json', ...doctorArgs],
    targetContainerName: target,
    imagePullPolicy: 'IfNotPresent',
    stdin: false,
    tty: false,
    terminationMessagePolicy: 'File',
    securityContext: {
      ...(user.uid !== undefined ? { runAsUser: user.uid } : {}),
      ...(user.gid !== undefined ? { runAsGroup: user.gid } : {}),
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

const SUFFIX = 'bcdfghjklmnpqrstvwxz2456789';

/** irsa-doctor-<5 characters>, as kubectl names its debugger containers. */
export function ephemeralName(): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += SUFFIX[Math.floor(Math.random() * SUFFIX.length)];
  return `irsa-doctor-${suffix}`;
}

function rootAppFailure(request: PodLaunchRequest, container: string, how: string): LaunchFailure {
  return new LaunchFailure(
    'root-app',
    `the app container ${container} runs as root (uid 0, ${how}): reading another root process's /proc entries needs CAP_SYS_PTRACE, which irsa-doctor pod never adds`,
    [
      'Run it by hand with that one capability, as root, if your policy allows it (examples/debug.md):',
      sh`kubectl debug -it ${request.pod} -n ${request.namespace} --image=${request.image} --target=${container} --profile=general -- /irsa-doctor --target auto`,
      `Or diagnose the ServiceAccount instead: irsa-doctor job --service-account <SA> -n ${request.namespace}`,
    ],
  );
}

export async function launchInPod(
  api: LauncherApi,
  hub: WatchHub,
  request: PodLaunchRequest,
  progress: LaunchProgress,
  signal: AbortSignal,
): Promise<PodLaunchResult> {
  const { namespace } = request;
  progress.step(`checking what you may do in namespace ${namespace}`);
  await checkPermissions(api, namespace, POD_PERMISSIONS, 'pod');

  progress.step(`reading pod ${namespace}/${request.pod}`);
  let pod: V1Pod;
  try {
    pod = await api.core.readNamespacedPod({ name: request.pod, namespace });
  } catch (error) {
    const info = apiErrorInfo(error);
    if (info.status === 404) {
      throw new LaunchFailure('not-found', `pod ${request.pod} not found in namespace ${namespace}`, [
        sh`kubectl get pods -n ${namespace}`,
      ]);
    }
    if (info.status === 403) throw forbiddenFailure('pod', namespace, await whoAmI(api), POD_PERMISSIONS.slice(0, 1));
    throw unexpectedApiFailure(`reading pod ${namespace}/${request.pod}`, error);
  }
  if (pod.metadata?.deletionTimestamp) {
    throw new LaunchFailure('not-running', `pod ${namespace}/${request.pod} is being deleted`, [
      sh`kubectl get pods -n ${namespace}`,
    ]);
  }
  const phase = pod.status?.phase ?? 'Unknown';
  if (phase !== 'Running') {
    throw new LaunchFailure(
      'not-running',
      `pod ${namespace}/${request.pod} is ${phase}, not Running: an ephemeral container only starts in a running pod`,
      phase === 'Pending'
        ? [
            sh`kubectl describe pod ${request.pod} -n ${namespace}`,
            'To diagnose its ServiceAccount meanwhile: irsa-doctor job --service-account <SA> -n ' + namespace,
          ]
        : [
            `A finished pod cannot be diagnosed; diagnose its ServiceAccount instead: irsa-doctor job --service-account ${pod.spec?.serviceAccountName ?? '<SA>'} -n ${namespace}`,
          ],
    );
  }
  const container = chooseContainer(pod, request.container);
  const status = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])].find(
    (s) => s.name === container,
  );
  if (!status?.state?.running) {
    throw new LaunchFailure(
      'not-running',
      `container ${container} of pod ${namespace}/${request.pod} is not running (${describeState(status)})`,
      [sh`kubectl describe pod ${request.pod} -n ${namespace}`],
    );
  }
  const fromSpec = appUserFromSpec(pod, container);
  if (fromSpec.uid === 0) throw rootAppFailure(request, container, `from ${fromSpec.source}`);
  const knownFromSpec = fromSpec.uid !== undefined && fromSpec.gid !== undefined;
  progress.note(
    knownFromSpec
      ? `container ${container} runs as uid ${fromSpec.uid} gid ${fromSpec.gid} (${fromSpec.source}); the doctor runs as the same`
      : `the spec does not say container ${container}'s ${fromSpec.uid === undefined ? 'uid' : 'gid'}; the doctor reads it from the app's process and runs again as that if needed`,
  );

  const added: string[] = [];
  try {
    return await diagnoseBeside(api, hub, request, progress, signal, container, fromSpec, added);
  } catch (error) {
    if (error instanceof LaunchFailure && error.kind === 'interrupted' && added.length > 0) {
      throw new LaunchFailure(
        'interrupted',
        `ephemeral container ${added.join(', ')} stays in pod ${namespace}/${request.pod} (ephemeral containers cannot be removed); the doctor in it ends by itself within its own --timeout (10 s)`,
        [],
        130,
      );
    }
    throw error;
  }
}

async function diagnoseBeside(
  api: LauncherApi,
  hub: WatchHub,
  request: PodLaunchRequest,
  progress: LaunchProgress,
  signal: AbortSignal,
  container: string,
  fromSpec: AppUser,
  added: string[],
): Promise<PodLaunchResult> {
  const { namespace } = request;
  const knownFromSpec = fromSpec.uid !== undefined && fromSpec.gid !== undefined;
  let user: { uid: number | undefined; gid: number | undefined } = { uid: fromSpec.uid, gid: fromSpec.gid };
  for (let attempt = 1; ; attempt++) {
    const name = ephemeralName();
    const spec = ephemeralContainerSpec(name, container, request.image, user, request.doctorArgs);
    const run = await runEphemeralContainer(api, hub, request, spec, progress, signal, () => added.push(name));
    if (run.report) return { report: run.report, container, ephemeralContainers: added, user };
    const owner = targetOwnerFromMessage(run.log);
    if (owner && attempt === 1 && !knownFromSpec && (owner.uid !== user.uid || owner.gid !== user.gid)) {
      if (owner.uid === 0) throw rootAppFailure(request, container, 'found by the doctor from its process');
      progress.note(
        `the app's process runs as uid ${owner.uid} gid ${owner.gid} (read from its /proc/PID/status), not as the doctor did; adding a second ephemeral container as uid ${owner.uid} gid ${owner.gid} (${name} stays, terminated)`,
      );
      user = { uid: owner.uid, gid: owner.gid };
      continue;
    }
    const said = logWithoutReport(run.log).trim().split('\n').slice(0, 12).join('\n');
    throw new LaunchFailure(
      'remote-failed',
      `the doctor in ephemeral container ${name} ended with exit code ${run.exitCode} without a report${said ? `:\n${said}` : ' and printed nothing'}`,
      [sh`kubectl logs ${request.pod} -n ${namespace} -c ${name}`],
    );
  }
}

interface EphemeralRun {
  readonly report: Report | undefined;
  readonly log: string;
  readonly exitCode: number | undefined;
}

function ephemeralStatus(pod: V1Pod | undefined, name: string): V1ContainerStatus | undefined {
  return pod?.status?.ephemeralContainerStatuses?.find((s) => s.name === name);
}

async function runEphemeralContainer(
  api: LauncherApi,
  hub: WatchHub,
  request: PodLaunchRequest,
  spec: V1EphemeralContainer,
  progress: LaunchProgress,
  signal: AbortSignal,
  onAdded: () => void,
): Promise<EphemeralRun> {
  const { namespace } = request;
  const podName = request.pod;
  const what = `ephemeral container ${spec.name}`;
  let latest: V1Pod | undefined;
  const waiters = new WatchWaiters(request.deadline, signal);
  const unsubscribe = hub.listen(
    {
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      query: { fieldSelector: `metadata.name=${podName}` },
    },
    (event) => {
      if (event.type === 'DELETED')
        latest = { ...(event.object as V1Pod), status: { ...(event.object as V1Pod).status, phase: 'Deleted' } };
      else latest = event.object as V1Pod;
      waiters.wake();
    },
    waiters.fail,
  );
  /** Resolves with the first value `check` returns for the latest pod, or fails. */
  const until = <T>(check: () => T | LaunchFailure | undefined, onTimeout: () => LaunchFailure) =>
    waiters.until(check, onTimeout);

  try {
    progress.step(`adding ${what} (image ${request.image}) targeting container ${spec.targetContainerName}`);
    try {
      await api.core.patchNamespacedPodEphemeralcontainers(
        { name: podName, namespace, body: { spec: { ephemeralContainers: [spec] } } },
        // kubectl debug sends a strategic merge patch, which merges ephemeralContainers by name.
        api.strategicMergePatch,
      );
    } catch (error) {
      throw await patchFailure(api, request, error);
    }
    onAdded();
    progress.note(
      `${what} stays in the pod's spec after it ends: ephemeral containers cannot be removed (they go when the pod is replaced)`,
    );

    progress.step(`waiting for ${what} to start`);
    const pullFix = imagePullFix(
      request.image,
      "ephemeral containers pull with the pod's own imagePullSecrets (and the node's credentials, e.g. ECR): push the image where the pod's secrets reach",
    );
    await until<true>(
      () => {
        if (latest?.status?.phase === 'Deleted')
          return new LaunchFailure('not-running', `pod ${namespace}/${podName} was deleted while ${what} started`, []);
        const s = ephemeralStatus(latest, spec.name as string);
        if (s?.state?.running || s?.state?.terminated) return true;
        if (s) progress.detail(describeState(s));
        return stuckContainerFailure(s, request.image, what, pullFix);
      },
      () =>
        new LaunchFailure(
          'timeout',
          `${what} did not start within ${request.deadline.seconds} s (${describeState(ephemeralStatus(latest, spec.name as string))})`,
          [
            sh`kubectl describe pod ${podName} -n ${namespace}`,
            `A slow image pull? Pass a longer --timeout (milliseconds), or an image closer to the cluster with --image.`,
          ],
        ),
    );

    progress.step(`running the diagnosis in ${what}`);
    let log = await readLog(api, namespace, podName, spec.name as string, true, signal);
    const terminated = await until<NonNullable<V1ContainerStatus['state']>['terminated']>(
      () => {
        if (latest?.status?.phase === 'Deleted')
          return new LaunchFailure('not-running', `pod ${namespace}/${podName} was deleted during the diagnosis`, []);
        return ephemeralStatus(latest, spec.name as string)?.state?.terminated ?? undefined;
      },
      () =>
        new LaunchFailure('timeout', `${what} did not finish within ${request.deadline.seconds} s`, [
          sh`kubectl logs ${podName} -n ${namespace} -c ${spec.name as string}`,
        ]),
    );
    let report = reportFromLog(log);
    // A followed log can be cut by the API server or a proxy: read it once more, whole.
    if (!report) {
      log = await readLog(api, namespace, podName, spec.name as string, false, signal);
      report = reportFromLog(log);
    }
    if (!report && terminated?.reason === 'StartError') {
      throw new LaunchFailure('start-failed', `${what} could not start: ${terminated.message ?? 'StartError'}`, [
        `The image must be irsa-doctor's (the binary at /irsa-doctor, as the Dockerfile builds it): --image ${request.image}`,
      ]);
    }
    return { report, log, exitCode: terminated?.exitCode };
  } finally {
    unsubscribe();
  }
}

async function patchFailure(api: LauncherApi, request: PodLaunchRequest, error: unknown): Promise<LaunchFailure> {
  if (error instanceof LaunchFailure) return error;
  const info = apiErrorInfo(error);
  if (info.status === 404) {
    return new LaunchFailure(
      'unsupported',
      `this API server has no pods/ephemeralcontainers subresource: ephemeral containers need Kubernetes 1.23 or later (every EKS version in support has them)`,
      [`Run the doctor as a Job instead: irsa-doctor job --service-account <SA> -n ${request.namespace}`],
    );
  }
  if (info.status === 403 && /cannot patch resource "pods\/ephemeralcontainers"/.test(info.message)) {
    return forbiddenFailure(
      'pod',
      request.namespace,
      await whoAmI(api),
      POD_PERMISSIONS.filter((p) => p.subresource === 'ephemeralcontainers'),
    );
  }
  if (info.status === 403 || info.status === 400 || info.status === 422) {
    return new LaunchFailure('rejected', `the API server refused the ephemeral container: ${info.message}`, [
      'An admission policy (PodSecurity, Kyverno, Gatekeeper) may forbid ephemeral containers in this namespace; ask its owner, or use irsa-doctor job.',
    ]);
  }
  return unexpectedApiFailure(`adding the ephemeral container to ${request.namespace}/${request.pod}`, error);
}

/** The container's log (followed to its end, or read whole), bounded. */
function readLog(
  api: LauncherApi,
  namespace: string,
  pod: string,
  container: string,
  follow: boolean,
  signal: AbortSignal,
): Promise<string> {
  return readContainerLog(api, { namespace, pod, container, follow }, signal, async () =>
    forbiddenFailure(
      'pod',
      namespace,
      await whoAmI(api),
      POD_PERMISSIONS.filter((p) => p.subresource === 'log'),
    ),
  );
}
