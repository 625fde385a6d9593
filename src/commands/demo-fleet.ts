import type { FleetCommand } from '../cli/args';
import type { Io } from '../cli/main';
import { resolveOutput } from '../cli/main';
import { connectWithKubeconfig } from '../launch/api';
import { runFleetCommand } from './fleet';

/**
 * `irsa-doctor demo fleet`: the fleet end to end on this machine, against a simulated cluster holding a healthy
 * IRSA and a healthy Pod Identity ServiceAccount, one for each broken demo scenario, the static cases and a
 * namespace the user may not read (sim/fleet-world.ts); its kubelet runs this very binary as the Jobs. The
 * EKS API's associations are the simulated cluster's. The simulator loads only here.
 */
export async function runFleetDemo(command: FleetCommand, io: Io): Promise<number> {
  const { startFleetWorld, MIXED_FLEET, MIXED_FORBIDDEN, MIXED_READ_ONLY } = await import('../sim/fleet-world');
  const { selfDoctorCommand } = await import('../sim/kubelet');
  if (resolveOutput(command.output, io.stdoutIsTTY) !== 'json')
    await io.writeError(
      `irsa-doctor demo fleet: starting a simulated cluster with ${MIXED_FLEET.length} ServiceAccounts in ${new Set(MIXED_FLEET.map((m) => m.namespace)).size + MIXED_FORBIDDEN.length} namespaces (one you may not read)...\n`,
    );
  const world = await startFleetWorld({
    doctor: selfDoctorCommand(),
    members: MIXED_FLEET,
    forbiddenNamespaces: MIXED_FORBIDDEN,
    readOnlyNamespaces: MIXED_READ_ONLY,
    rbac: 'namespaces',
  });
  try {
    return await runFleetCommand(
      { ...command, namespace: undefined },
      io,
      (signal, limits) => connectWithKubeconfig(world.kubeconfig('user'), signal, limits),
      async (namespace) => ({
        state: 'checked',
        value: world
          .associations()
          .filter((a) => namespace === undefined || a.namespace === namespace)
          .map((a) => ({ ...a, roleArn: undefined })),
      }),
    );
  } finally {
    await world.close();
  }
}
