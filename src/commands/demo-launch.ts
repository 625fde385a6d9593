import type { LaunchCommand } from '../cli/args';
import type { Io } from '../cli/main';
import { resolveOutput } from '../cli/main';
import { connectWithKubeconfig } from '../launch/api';
import { UsageError } from '../run/select';
import { runLaunch } from './launch';

/**
 * `irsa-doctor demo pod|job [SCENARIO]`: the launchers end to end on this machine. It starts the scenario's
 * simulated EKS with a simulated cluster (HTTPS API, the pod-identity-webhook, a kubelet that runs this very
 * binary as the containers: sim/launch-world.ts), then runs the same `pod` or `job` command against it as a
 * user with examples/rbac-launcher.yaml. The simulator loads only here.
 */
export async function runLaunchDemo(command: LaunchCommand, io: Io): Promise<number> {
  const sim = await import('../sim/index');
  const name = command.demo?.scenario ?? 'healthy-irsa';
  if (!sim.isScenarioName(name)) throw new UsageError(`unknown demo scenario "${name}" (see irsa-doctor demo --list)`);
  const { startLaunchWorld } = await import('../sim/launch-world');
  const { selfDoctorCommand } = await import('../sim/kubelet');
  const world = await startLaunchWorld({ scenario: name, doctor: selfDoctorCommand() });
  try {
    if (resolveOutput(command.output, io.stdoutIsTTY) !== 'json') {
      const isolation = world.kubelet.isolation;
      await io.writeError(
        `irsa-doctor demo ${command.kind}: scenario ${name}: ${world.eks.scenario.description}\n` +
          `irsa-doctor demo ${command.kind}: simulated cluster at ${world.api.url}; its kubelet runs containers with ${
            isolation.mode === 'namespaces'
              ? 'Linux namespaces (own PID namespace and root, the uid/gid of the spec, no capability)'
              : `plain processes (${isolation.reason}): the path of the launcher is the real one, the isolation is not`
          }\n`,
      );
    }
    const demoCommand: LaunchCommand = {
      ...command,
      namespace: world.namespace,
      ...(command.kind === 'pod' ? { pod: world.pod } : { serviceAccount: world.serviceAccount }),
    };
    const api = (signal: AbortSignal) => connectWithKubeconfig(world.kubeconfig('user'), signal);
    return await runLaunch(demoCommand, io, api);
  } finally {
    await world.close();
  }
}
