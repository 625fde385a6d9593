import type { LaunchCommand } from '../cli/args';
import type { Io } from '../cli/main';
import type { LauncherApi } from '../launch/api';
import { restoreLaunchEnvironment } from '../context/process-env';
import { connect } from '../launch/api';
import { DEFAULT_IMAGE } from '../launch/image';
import { runDiagnosisJob } from '../launch/job-launch';
import { Deadline } from '../launch/progress';
import { openSession } from '../launch/session';
import { WatchHub } from '../launch/watch-hub';
import { namespaceOf } from '../launch/session';

/**
 * `irsa-doctor job --service-account SA`: connects with the user's kubeconfig, runs the Job
 * (launch/job-launch.ts), renders the report that came back. `api` replaces the kubeconfig (the demo).
 */
export async function runJob(
  command: LaunchCommand,
  io: Io,
  api?: (signal: AbortSignal) => Promise<LauncherApi>,
): Promise<number> {
  const deadline = new Deadline(command.timeoutMs);
  const session = await openSession({
    command: 'job',
    output: command.output,
    io,
    title: `irsa-doctor job --service-account ${command.serviceAccount ?? ''}`,
  });
  try {
    if (!api) restoreLaunchEnvironment();
    const client = api
      ? await api(session.hardStop)
      : await connect({
          ...(command.kubeconfig !== undefined ? { kubeconfig: command.kubeconfig } : {}),
          ...(command.context !== undefined ? { context: command.context } : {}),
          env: process.env,
          signal: session.hardStop,
        });
    const hub = new WatchHub(client);
    try {
      const result = await runDiagnosisJob(
        client,
        hub,
        {
          namespace: namespaceOf(command, client),
          serviceAccount: command.serviceAccount as string,
          image: command.image ?? DEFAULT_IMAGE,
          imagePullSecrets: command.imagePullSecrets,
          deadline,
          doctorArgs: command.doctorArgs,
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
