import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE } from '../../src/launch/image';
import { DOCTOR_IMAGE_CONFIG } from '../../src/sim/launch-world';
import { BINARY } from '../helpers/binary';
import type { TestWorld } from '../helpers/launch';
import { startTestWorld } from '../helpers/launch';

/*
 * Ctrl-C in the middle of a launch: the launcher exits 130 and says what it did. A Job and its pod are deleted
 * (the kubelet has stopped the pod's process by then); an ephemeral container cannot be removed, so it is named,
 * and the doctor in it ends by itself within its own deadline. Nothing else is left behind.
 */

let current: TestWorld | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

interface Interrupted {
  readonly code: number | null;
  readonly stderr: string;
  readonly elapsedAfterSignalMs: number;
}

/** Starts the launcher, sends SIGINT once `ready` holds for the cluster, and waits for it to exit. */
function interruptWhen(world: TestWorld, args: string[], ready: () => boolean): Promise<Interrupted> {
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, args, {
      env: { PATH: '/usr/bin:/bin', HOME: world.home, KUBECONFIG: world.kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let signalledAt = 0;
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.resume();
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const poll = setInterval(() => {
      if (signalledAt === 0 && ready()) {
        signalledAt = Date.now();
        child.kill('SIGINT');
      }
    }, 25);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      clearInterval(poll);
      resolve({ code, stderr, elapsedAfterSignalMs: signalledAt ? Date.now() - signalledAt : -1 });
    });
  });
}

function jobPodRunning(world: TestWorld): boolean {
  return world.world.cluster
    .list('pods', 'shop')
    .some((p) => p.metadata.name.startsWith('irsa-doctor-') && p.status?.containerStatuses?.[0]?.state?.running);
}

async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

describe.skipIf(!existsSync(BINARY))('Ctrl-C during a launch', () => {
  it('job, while the diagnosis runs: deletes the Job and its pod, exits 130', async () => {
    const world = (current = await startTestWorld({ scenario: 'sts-blackhole' }));
    const run = await interruptWhen(
      world,
      ['job', '--service-account', 'checkout', '-n', 'shop', '--output', 'text'],
      () => jobPodRunning(world),
    );
    expect(run.elapsedAfterSignalMs).toBeGreaterThan(0);
    expect(run.stderr).toContain('irsa-doctor job: interrupted: cleaning up (press Ctrl-C again to stop at once)');
    expect(run.stderr).toMatch(
      /irsa-doctor job: interrupted: deleted Job shop\/irsa-doctor-checkout-[a-z0-9]{5} and its pod\n$/,
    );
    expect(run.code).toBe(130);
    // Gone when the launcher exits: no Job, no pod, no container process.
    expect(world.leftovers()).toEqual([]);
  });

  it('job, while its image is still pulling: deletes the Job, exits 130', async () => {
    const slow = `${DEFAULT_IMAGE.replace(/:.*$/, '')}:slow`;
    const world = (current = await startTestWorld({
      scenario: 'healthy-irsa',
      images: { [slow]: { ...DOCTOR_IMAGE_CONFIG, pull: 'hang' } },
    }));
    const run = await interruptWhen(
      world,
      ['job', '--service-account', 'checkout', '-n', 'shop', '--image', slow],
      () => world.world.cluster.list('pods', 'shop').some((p) => p.metadata.name.startsWith('irsa-doctor-')),
    );
    expect(run.stderr).toMatch(/interrupted: deleted Job shop\/irsa-doctor-checkout-[a-z0-9]{5} and its pod\n$/);
    expect(run.code).toBe(130);
    expect(world.leftovers()).toEqual([]);
  });

  it('pod, while the diagnosis runs: names the ephemeral container that stays, exits 130; its doctor ends by itself', async () => {
    const world = (current = await startTestWorld({ scenario: 'sts-blackhole' }));
    const run = await interruptWhen(world, ['pod', world.world.pod, '-n', 'shop'], () =>
      (
        (world.world.cluster.get('pods', 'shop', world.world.pod)?.status?.ephemeralContainerStatuses ?? []) as {
          state?: { running?: unknown };
        }[]
      ).some((s) => s.state?.running),
    );
    expect(run.stderr).toMatch(
      /irsa-doctor pod: interrupted: ephemeral container irsa-doctor-[a-z0-9]{5} stays in pod shop\/checkout-7d9f8b6c5-x2k4q \(ephemeral containers cannot be removed\); the doctor in it ends by itself within its own --timeout \(10 s\)\n$/,
    );
    expect(run.code).toBe(130);
    // Its own deadline (10 s by default) ends the doctor in the ephemeral container; the pod is the app's.
    expect(await eventually(() => world.leftovers().length === 0, 15_000)).toBe(true);
  }, 40_000);
});
