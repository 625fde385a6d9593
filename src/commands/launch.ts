import type { LaunchCommand } from '../cli/args';
import type { Io } from '../cli/main';
import type { LauncherApi } from '../launch/api';
import { connectAsUser } from '../launch/api';
import { DEFAULT_IMAGE } from '../launch/image';
import { runDiagnosisJob } from '../launch/job-launch';
import { launchInPod } from '../launch/pod-launch';
import { Deadline } from '../launch/progress';
import { namespaceOf, openSession } from '../launch/session';
import { WatchHub } from '../launch/watch-hub';

/**
 * `irsa-doctor pod POD` and `irsa-doctor job --service-account SA` (parsed by cli/args.ts): connects with the
 * user's kubeconfig, starts the doctor beside the pod (launch/pod-launch.ts) or in a Job under the
 * ServiceAccount (launch/job-launch.ts), and renders the report that came back. `api` replaces the kubeconfig
 * (the demo).
 */
export async function runLaunch(
  command: LaunchCommand,
  io: Io,
  api?: (signal: AbortSignal) => Promise<LauncherApi>,
): Promise<number> {
  const deadline = new Deadline(command.timeoutMs);
  const session = await openSession({
    command: command.kind,
    output: command.output,
    io,
    title:
      command.kind === 'pod'
        ? `irsa-doctor pod ${command.pod ?? ''}`
        : `irsa-doctor job --service-account ${command.serviceAccount ?? ''}`,
  });
  try {
    const client = api ? await api(session.hardStop) : await connectAsUser(command, session.hardStop);
    const hub = new WatchHub(client);
    try {
      const common = {
        namespace: namespaceOf(command, client),
        image: command.image ?? DEFAULT_IMAGE,
        deadline,
        doctorArgs: command.doctorArgs,
      };
      const result =
        command.kind === 'pod'
          ? await launchInPod(
              client,
              hub,
              {
                ...common,
                pod: command.pod as string,
                ...(command.container !== undefined ? { container: command.container } : {}),
              },
              session.progress,
              session.interrupt,
            )
          : await runDiagnosisJob(
              client,
              hub,
              {
                ...common,
                serviceAccount: command.serviceAccount as string,
                imagePullSecrets: command.imagePullSecrets,
              },
              session.progress,
              session.interrupt,
            );
      return await session.showReport(result.report, command);
    } finally {
      hub.close();
    }
  } catch (error) {
    return await session.showFailure(error);
  } finally {
    session.close();
  }
}
