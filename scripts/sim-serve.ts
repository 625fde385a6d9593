/*
 * Serves one scenario of the simulated EKS in its own process, for measurements that spawn the binary (or the
 * AWS CLI) many times against the same endpoints: `npx bun scripts/sim-serve.ts SCENARIO DIR`.
 *
 * Writes the pod's files under DIR, prints the env the pod would see as JSON on one line to stdout (every
 * endpoint already points at 127.0.0.1, every file path at DIR), then serves until SIGTERM or SIGINT.
 * With --kube (IRSA scenarios) it also serves the Kubernetes API of that pod, mutated by the webhook, with its
 * annotated ServiceAccount and the webhook configuration, and adds KUBECONFIG (written under DIR) to the env.
 * With --launch it serves the launchers' simulated cluster instead (src/sim/launch-world.ts: HTTPS API, webhook,
 * Job controller, the kubelet running dist/irsa-doctor as the containers) and prints what `irsa-doctor pod|job`
 * needs from where kubectl runs: KUBECONFIG (the launcher user's, under DIR), POD, NAMESPACE, SERVICE_ACCOUNT.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SCENARIO_NAMES, isScenarioName, materialize, startDemoKubeApi, startSimulatedEks } from '../src/sim/index';
import { startLaunchWorld } from '../src/sim/launch-world';

const BINARY = path.resolve(import.meta.dirname, '../dist/irsa-doctor');

/** The launchers' cluster until SIGTERM or SIGINT; its env line names the kubeconfig and the objects. */
async function serveLaunchWorld(name: Parameters<typeof startLaunchWorld>[0]['scenario'], root: string) {
  const world = await startLaunchWorld({ scenario: name, doctor: { command: BINARY, args: [] } });
  let closing = false;
  const stop = (): void => {
    if (closing) return;
    closing = true;
    const force = setTimeout(() => process.exit(0), 5_000);
    force.unref();
    void world.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const kubeconfig = path.join(root, 'kubeconfig');
  writeFileSync(kubeconfig, world.kubeconfig('user'), { mode: 0o600 });
  const env = {
    KUBECONFIG: kubeconfig,
    POD: world.pod,
    NAMESPACE: world.namespace,
    SERVICE_ACCOUNT: world.serviceAccount,
  };
  process.stdout.write(`${JSON.stringify(env)}\n`);
}

async function main(argv: readonly string[]): Promise<void> {
  const [name, dir, flag] = argv;
  if (
    name === undefined ||
    dir === undefined ||
    !isScenarioName(name) ||
    (flag !== undefined && flag !== '--kube' && flag !== '--launch')
  ) {
    process.stderr.write(
      `usage: sim-serve.ts SCENARIO DIR [--kube|--launch]\nscenarios: ${SCENARIO_NAMES.join(' ')}\n`,
    );
    process.exit(2);
  }
  const root = path.resolve(dir);
  mkdirSync(root, { recursive: true });
  if (flag === '--launch') return serveLaunchWorld(name, root);
  const sim = await startSimulatedEks(name);
  const kube = flag === '--kube' ? await startDemoKubeApi(sim) : undefined;
  let closing = false;
  const stop = (): void => {
    if (closing) return;
    closing = true;
    // A black-holed endpoint holds its sockets open; do not let them keep the process up after close.
    const force = setTimeout(() => process.exit(0), 2_000);
    force.unref();
    void Promise.all([sim.close(), kube?.close()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const { env } = materialize(sim, root);
  // The demo keeps the kubeconfig in memory; a spawned binary reads it from disk, under DIR like the rest.
  for (const [appPath, text] of Object.entries(kube?.files ?? {})) {
    const file = path.join(root, appPath);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text, { mode: 0o600 });
    env.KUBECONFIG = file;
  }
  process.stdout.write(`${JSON.stringify(env)}\n`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`sim-serve: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
