import { randomBytes } from 'node:crypto';
import type { CoreV1Event, V1ContainerStatus, V1Job, V1Pod } from '@kubernetes/client-node';
import { sh } from '../checks/shell';
import type { Report } from '../run/types';
import type { LauncherApi } from './api';
import { LaunchFailure, apiErrorInfo, unexpectedApiFailure } from './failure';
import type { LaunchProgress } from './progress';
import { Deadline, describeState, imagePullFix, stuckContainerFailure, WatchWaiters } from './progress';
import { JOB_PERMISSIONS, checkPermissions, forbiddenFailure, whoAmI } from './rbac';
import { logWithoutReport, reportFromLog } from './remote-report';
import { readContainerLog } from './read-log';
import type { WatchHub } from './watch-hub';

/*
 * `irsa-doctor job`: the doctor as a ServiceAccount, in a one-off Job like examples/job.yaml. The webhook mutates
 * its pod like any new pod of that ServiceAccount, so the report says what a new pod of it gets now (not what a
 * running pod's own spec adds: for that, `irsa-doctor pod`). The Job and its pod are deleted at the end, on
 * failure and on Ctrl-C; ttlSecondsAfterFinished and activeDeadlineSeconds are the backstops if this process
 * dies first.
 *
 * Built to be run many times side by side (`fleet`): no global state, one LauncherApi and one WatchHub shared by
 * all runs (its pods are followed through one watch per namespace on the run's label, the Job events through one
 * watch per namespace), each run bounded by its own deadline and signal.
 */

export const JOB_CONTAINER = 'irsa-doctor';
/** The Job deletes itself this long after it finished, if the launcher could not (killed, API gone). */
export const JOB_TTL_SECONDS = 600;
const RUN_LABEL = 'app.kubernetes.io/instance';

export interface JobLaunchRequest {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly image: string;
  readonly imagePullSecrets: readonly string[];
  readonly deadline: Deadline;
  /** Passed to the doctor after `--output json`. */
  readonly doctorArgs: readonly string[];
  /** Names the launch (a label on its Jobs' pods); a fleet gives all its Jobs one. */
  readonly runId?: string;
  /** Skip the permission review (a fleet asks once per namespace). */
  readonly permissionsChecked?: boolean;
}

export interface JobLaunchResult {
  readonly report: Report;
  readonly job: string;
  readonly pod: string | undefined;
  /** False when the Job could not be deleted (its TTL then removes it). */
  readonly cleanedUp: boolean;
}

export function newRunId(): string {
  return randomBytes(5).toString('hex');
}

/** irsa-doctor-<sa>-<5 characters>, at most 63 characters (the job-name label's limit). */
export function jobName(serviceAccount: string): string {
  const suffix = randomBytes(4).toString('hex').slice(0, 5);
  const base = serviceAccount
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 63 - 'irsa-doctor-'.length - 6)
    .replace(/-+$/, '');
  return `irsa-doctor-${base}-${suffix}`;
}

/** The Job of examples/job.yaml, for this ServiceAccount: least privilege, JSON out, backstops set. */
export function diagnosisJob(name: string, request: JobLaunchRequest, runId: string): V1Job {
  const labels = {
    'app.kubernetes.io/name': 'irsa-doctor',
    'app.kubernetes.io/managed-by': 'irsa-doctor',
    [RUN_LABEL]: `irsa-doctor-${runId}`,
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: request.namespace, labels },
    spec: {
      // A diagnosis that finds a problem exits 1: retrying would only print the same report again.
      backoffLimit: 0,
      ttlSecondsAfterFinished: JOB_TTL_SECONDS,
      activeDeadlineSeconds: Math.ceil(request.deadline.ms / 1000) + 60,
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: request.serviceAccount,
          restartPolicy: 'Never',
          // It writes nothing and holds nothing: a deleted Job's pod need not wait the default 30 s.
          terminationGracePeriodSeconds: 5,
          ...(request.imagePullSecrets.length > 0
            ? { imagePullSecrets: request.imagePullSecrets.map((s) => ({ name: s })) }
            : {}),
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: JOB_CONTAINER,
              image: request.image,
              command: ['/irsa-doctor'],
              args: ['--output', 'json', ...request.doctorArgs],
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              ],
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } },
            },
          ],
        },
      },
    },
  };
}

function createFailure(request: JobLaunchRequest, message: string, where: 'job' | 'pod'): LaunchFailure {
  const ns = request.namespace;
  const subject = where === 'job' ? 'the Job was refused' : "the Job's pod cannot be created";
  if (/exceeded quota/.test(message)) {
    return new LaunchFailure('rejected', `${subject} by a ResourceQuota: ${message}`, [
      sh`kubectl describe resourcequota -n ${ns}`,
      'The Job needs one pod of 50m CPU and 128Mi memory (256Mi limit) for a few seconds: free that much, or ask for more quota.',
    ]);
  }
  if (/(maximum|minimum) \S+ usage per (Container|Pod)|must be less than or equal to|LimitRange/i.test(message)) {
    return new LaunchFailure('rejected', `${subject} by a LimitRange: ${message}`, [
      sh`kubectl describe limitrange -n ${ns}`,
      "The doctor's container asks for cpu 50m, memory 128Mi, memory limit 256Mi (examples/job.yaml); it runs in well under 128Mi.",
    ]);
  }
  if (/error looking up service account|serviceaccount "[^"]*" not found/.test(message)) {
    return new LaunchFailure('not-found', `ServiceAccount ${request.serviceAccount} not found in namespace ${ns}`, [
      sh`kubectl get serviceaccounts -n ${ns}`,
    ]);
  }
  if (/violates PodSecurity/.test(message)) {
    return new LaunchFailure('rejected', `${subject} by Pod Security admission: ${message}`, [
      'The Job is restricted-compliant (non-root, no capability, seccomp RuntimeDefault); a stricter custom policy must allow it.',
    ]);
  }
  return new LaunchFailure('rejected', `${subject} by admission: ${message}`, [
    'A policy engine (Kyverno, Gatekeeper, a validating webhook) refused it: ask its owner to allow the irsa-doctor Job (examples/job.yaml).',
  ]);
}

export async function runDiagnosisJob(
  api: LauncherApi,
  hub: WatchHub,
  request: JobLaunchRequest,
  progress: LaunchProgress,
  signal: AbortSignal,
): Promise<JobLaunchResult> {
  const { namespace } = request;
  if (!request.permissionsChecked) {
    progress.step(`checking what you may do in namespace ${namespace}`);
    await checkPermissions(api, namespace, JOB_PERMISSIONS, 'job');
  }
  const runId = request.runId ?? newRunId();
  const name = jobName(request.serviceAccount);
  const what = `Job ${namespace}/${name}`;
  let job: V1Job | undefined;
  /** The Job may exist: created, or a create whose answer never came. */
  let mayExist = false;
  let pod: V1Pod | undefined;
  let podGone = false;
  let failedCreate: string | undefined;
  const waiters = new WatchWaiters(request.deadline, signal);
  const nsPath = `/api/v1/namespaces/${encodeURIComponent(namespace)}`;
  const stopPods = hub.listen(
    { path: `${nsPath}/pods`, query: { labelSelector: `${RUN_LABEL}=irsa-doctor-${runId}` } },
    (event) => {
      const object = event.object as V1Pod;
      if (
        object.metadata?.labels?.['job-name'] !== name &&
        object.metadata?.labels?.['batch.kubernetes.io/job-name'] !== name
      )
        return;
      if (event.type === 'DELETED') podGone = true;
      else {
        pod = object;
        podGone = false;
      }
      waiters.wake();
    },
    waiters.fail,
  );
  const stopEvents = hub.listen(
    { path: `${nsPath}/events`, query: { fieldSelector: 'involvedObject.kind=Job' } },
    (event) => {
      const e = event.object as CoreV1Event;
      if (event.type === 'DELETED' || !job?.metadata?.uid || e.involvedObject?.uid !== job.metadata.uid) return;
      if (e.reason === 'FailedCreate' && e.message) {
        failedCreate = e.message.replace(/^Error creating: /, '');
        waiters.wake();
      }
    },
    waiters.fail,
  );
  const until = <T>(check: () => T | LaunchFailure | undefined, onTimeout: () => LaunchFailure) =>
    waiters.until(check, onTimeout);
  const containerStatus = (): V1ContainerStatus | undefined =>
    pod?.status?.containerStatuses?.find((s) => s.name === JOB_CONTAINER);

  let outcome: { report: Report } | undefined;
  let failure: unknown;
  try {
    progress.step(`creating ${what} under ServiceAccount ${request.serviceAccount} (image ${request.image})`);
    try {
      mayExist = true;
      job = await api.batch.createNamespacedJob({ namespace, body: diagnosisJob(name, request, runId) });
    } catch (error) {
      const info = apiErrorInfo(error);
      if (info.status !== undefined) mayExist = false; // the server answered: nothing was created
      if (info.status === 403 && /cannot create resource "jobs"/.test(info.message)) {
        throw forbiddenFailure('job', namespace, await whoAmI(api), JOB_PERMISSIONS.slice(0, 1));
      }
      if (info.status === 404 && /namespaces? "[^"]*" not found/.test(info.message)) {
        throw new LaunchFailure('not-found', `namespace ${namespace} not found`, ['kubectl get namespaces']);
      }
      if (info.status === 403 || info.status === 400 || info.status === 422)
        throw createFailure(request, info.message, 'job');
      throw unexpectedApiFailure(`creating ${what}`, error);
    }

    progress.step(`waiting for the Job's pod to be created and scheduled`);
    const pullFix = imagePullFix(
      request.image,
      'create a docker-registry Secret in the namespace and pass its name with --image-pull-secret <SECRET_NAME>',
    );
    await until<true>(
      () => {
        if (failedCreate !== undefined) return createFailure(request, failedCreate, 'pod');
        const s = containerStatus();
        if (s?.state?.running || s?.state?.terminated) return true;
        const scheduled = pod?.status?.conditions?.find((c) => c.type === 'PodScheduled');
        if (scheduled?.status === 'False')
          progress.detail(`not scheduled: ${scheduled.message ?? scheduled.reason ?? ''}`);
        else if (s) progress.detail(describeState(s));
        if (pod && !s && !scheduled) progress.detail(`pod ${pod.metadata?.name} created`);
        return stuckContainerFailure(s, request.image, `the Job's pod ${pod?.metadata?.name ?? ''}`.trim(), pullFix);
      },
      () => {
        const scheduled = pod?.status?.conditions?.find((c) => c.type === 'PodScheduled');
        if (scheduled?.status === 'False') {
          return new LaunchFailure(
            'unschedulable',
            `the Job's pod was not scheduled within ${request.deadline.seconds} s: ${scheduled.message ?? scheduled.reason ?? 'no reason given'}`,
            [
              'It needs a node with 50m CPU and 128Mi memory free that its ServiceAccount may run on (taints, node selectors).',
              sh`kubectl describe pod -n ${namespace} -l job-name=${name}`,
            ],
          );
        }
        return new LaunchFailure(
          'timeout',
          pod
            ? `the Job's pod did not start within ${request.deadline.seconds} s (${describeState(containerStatus())})`
            : `no pod was created for ${what} within ${request.deadline.seconds} s`,
          [
            sh`kubectl describe job ${name} -n ${namespace}`,
            'A slow image pull? Pass a longer --timeout (milliseconds), or an image closer to the cluster with --image.',
          ],
        );
      },
    );

    const podName = pod?.metadata?.name as string;
    progress.step(`running the diagnosis in pod ${podName}`);
    let log = await readJobLog(api, request, podName, true, signal);
    const terminated = await until<NonNullable<V1ContainerStatus['state']>['terminated']>(
      () =>
        podGone
          ? new LaunchFailure('not-running', `the Job's pod ${podName} was deleted during the diagnosis`, [])
          : (containerStatus()?.state?.terminated ?? undefined),
      () =>
        new LaunchFailure(
          'timeout',
          `the diagnosis in ${podName} did not finish within ${request.deadline.seconds} s`,
          [],
        ),
    );
    let report = reportFromLog(log);
    if (!report) {
      log = await readJobLog(api, request, podName, false, signal);
      report = reportFromLog(log);
    }
    if (!report) {
      const said = logWithoutReport(log).trim().split('\n').slice(0, 12).join('\n');
      throw new LaunchFailure(
        terminated?.reason === 'StartError' ? 'start-failed' : 'remote-failed',
        terminated?.reason === 'StartError'
          ? `the Job's container could not start: ${terminated.message ?? 'StartError'}`
          : `the doctor in pod ${podName} ended with exit code ${terminated?.exitCode} without a report${said ? `:\n${said}` : ' and printed nothing'}`,
        terminated?.reason === 'StartError'
          ? [`The image must be irsa-doctor's (the binary at /irsa-doctor): --image ${request.image}`]
          : [],
      );
    }
    outcome = { report };
  } catch (error) {
    failure = error;
  }
  let cleanedUp = !mayExist;
  try {
    if (mayExist)
      cleanedUp = await deleteJob(
        api,
        request,
        name,
        progress,
        () => pod,
        () => podGone,
        waiters,
      );
  } finally {
    stopPods();
    stopEvents();
  }
  if (outcome) return { report: outcome.report, job: name, pod: pod?.metadata?.name, cleanedUp };
  if (failure instanceof LaunchFailure && failure.kind === 'interrupted') {
    const what = mayExist
      ? cleanedUp
        ? `deleted Job ${namespace}/${name}${pod ? ' and its pod' : ''}`
        : `Job ${namespace}/${name} may be left (see above)`
      : 'nothing was created';
    throw new LaunchFailure('interrupted', what, [], 130);
  }
  throw failure;
}

/**
 * Deletes the Job with propagationPolicy Background (a Job deleted through the API without one orphans its
 * pods: pkg/registry/batch/job/strategy.go), then waits a little for its pod to go. Its own deadline: this runs
 * after Ctrl-C and after the launch deadline too.
 */
async function deleteJob(
  api: LauncherApi,
  request: JobLaunchRequest,
  name: string,
  progress: LaunchProgress,
  pod: () => V1Pod | undefined,
  podGone: () => boolean,
  waiters: WatchWaiters,
): Promise<boolean> {
  const ns = request.namespace;
  const leftover = [
    sh`kubectl delete job ${name} -n ${ns}`,
    `(it deletes itself ${JOB_TTL_SECONDS / 60} minutes after it finished: ttlSecondsAfterFinished)`,
  ];
  progress.step(`deleting Job ${ns}/${name} and its pod`);
  try {
    await api.batch.deleteNamespacedJob({ name, namespace: ns, propagationPolicy: 'Background' });
  } catch (error) {
    const info = apiErrorInfo(error);
    if (info.status === 404) return true;
    progress.note(`could not delete Job ${ns}/${name}: ${info.message}; delete it with: ${leftover.join(' ')}`);
    return false;
  }
  if (!pod() || podGone()) return true;
  const gone = await waiters.within(podGone, 10_000);
  if (!gone) progress.note(`Job ${ns}/${name} is deleted; its pod ${pod()?.metadata?.name} is still terminating`);
  return true;
}

function readJobLog(
  api: LauncherApi,
  request: JobLaunchRequest,
  pod: string,
  follow: boolean,
  signal: AbortSignal,
): Promise<string> {
  return readContainerLog(
    api,
    { namespace: request.namespace, pod, container: JOB_CONTAINER, follow },
    signal,
    async () =>
      forbiddenFailure(
        'job',
        request.namespace,
        await whoAmI(api),
        JOB_PERMISSIONS.filter((p) => p.subresource === 'log'),
      ),
  );
}
