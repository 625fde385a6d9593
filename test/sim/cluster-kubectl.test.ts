import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE } from '../../src/launch/image';
import { APP_SPEC_USER, LAUNCHER_USER } from '../../src/sim/launch-world';
import { BINARY } from '../helpers/binary';
import type { TestWorld } from '../helpers/launch';
import { parseReport, startTestWorld } from '../helpers/launch';

/*
 * The simulated cluster against the real kubectl, so that it stays honest: what kubectl sends for `debug`,
 * `logs`, `get`, `create`, `delete`, `auth can-i` and `auth whoami` is served as the API server serves it, and
 * the kubelet's containers are what kubectl expects to read back.
 */

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
if (!KUBECTL) console.warn('cluster-kubectl.test.ts skipped: kubectl not found');

let world: TestWorld;

beforeAll(async () => {
  if (!KUBECTL || !existsSync(BINARY)) return;
  world = await startTestWorld({ scenario: 'healthy-irsa' });
});

afterAll(async () => {
  if (!world) return;
  expect(world.leftovers()).toEqual([]);
  await world.close();
});

function kubectl(
  args: string[],
  as: 'admin' | 'user' = 'admin',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      KUBECTL as string,
      ['--kubeconfig', as === 'admin' ? world.adminKubeconfig : world.kubeconfig, ...args],
      { env: { PATH: '/usr/bin:/bin', HOME: world.home }, encoding: 'utf8', timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe.skipIf(!KUBECTL || !existsSync(BINARY))('the simulated cluster with the real kubectl', () => {
  it('kubectl debug --target adds an ephemeral container that diagnoses the app; kubectl logs reads the report', async () => {
    const custom = path.join(world.home, 'custom.json');
    // examples/debug-container.json with the app's uid and gid, as the README's manual recipe does it.
    writeFileSync(
      custom,
      JSON.stringify({
        securityContext: {
          runAsUser: APP_SPEC_USER.uid,
          runAsGroup: APP_SPEC_USER.gid,
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        },
      }),
    );
    const debug = await kubectl([
      'debug',
      '-n',
      'shop',
      world.world.pod,
      `--image=${DEFAULT_IMAGE}`,
      '--target=app',
      '--profile=restricted',
      `--custom=${custom}`,
      '--',
      '/irsa-doctor',
      '--target',
      'auto',
      '--output',
      'json',
    ]);
    expect(debug.code, debug.stderr).toBe(0);
    const name = /Defaulting debug container name to (debugger-[a-z0-9]+)\./.exec(debug.stdout + debug.stderr)?.[1];
    expect(name).toBeDefined();
    // kubectl logs needs the container to have started; it follows it to its end.
    let logs = { code: 1, stdout: '', stderr: '' };
    for (let i = 0; i < 40 && logs.code !== 0; i++) {
      logs = await kubectl(['logs', '-n', 'shop', world.world.pod, '-c', name as string, '-f']);
      if (logs.code !== 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(logs.stderr).toBe('');
    const report = parseReport(logs.stdout);
    expect(report.verdict).toBe('healthy');
    expect(report.checks.find((c) => c.id === 'token.file')?.status).toBe('pass');
    const state = await kubectl([
      'get',
      'pod',
      '-n',
      'shop',
      world.world.pod,
      '-o',
      `jsonpath={.status.ephemeralContainerStatuses[?(@.name=="${name}")].state.terminated.exitCode}`,
    ]);
    expect(state.stdout).toBe('0');
  });

  it('kubectl get jobs sees the launcher’s Job while it runs, and nothing after', async () => {
    const launcher = spawn(BINARY, ['job', '--service-account', 'checkout', '-n', 'shop', '--output', 'json'], {
      env: { PATH: '/usr/bin:/bin', HOME: world.home, KUBECONFIG: world.kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    launcher.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    launcher.stderr.resume();
    const exited = new Promise<number | null>((resolve) => launcher.on('close', resolve));
    let seen = '';
    for (let i = 0; i < 100 && !seen; i++) {
      const jobs = await kubectl(['get', 'jobs', '-n', 'shop', '-o', 'name']);
      seen = jobs.stdout.trim();
    }
    expect(seen).toMatch(/^job\.batch\/irsa-doctor-checkout-[a-z0-9]{5}$/);
    expect(await exited).toBe(0);
    expect(parseReport(stdout).verdict).toBe('healthy');
    const after = await kubectl(['get', 'jobs', '-n', 'shop']);
    expect(after.stdout).toBe('');
    expect(after.stderr).toBe('No resources found in shop namespace.\n');
  });

  it('a Job deleted through the API without a propagation policy orphans its pod (the batch/v1 default); kubectl delete pod removes it', async () => {
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'orphaned' },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            serviceAccountName: 'checkout',
            restartPolicy: 'Never',
            containers: [{ name: 'c', image: DEFAULT_IMAGE, args: ['--version'] }],
          },
        },
      },
    };
    const file = path.join(world.home, 'orphaned.json');
    writeFileSync(file, JSON.stringify(job));
    expect((await kubectl(['create', '--validate=false', '-n', 'shop', '-f', file])).code).toBe(0);
    const pods = () => world.world.cluster.list('pods', 'shop').filter((p) => p.metadata.name.startsWith('orphaned-'));
    for (let i = 0; i < 100 && pods()[0]?.status?.phase !== 'Succeeded'; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(pods()[0]?.status?.phase).toBe('Succeeded');
    // Without a propagation policy (what a client-node delete sends unless told) the pod stays, owner gone.
    world.world.cluster.delete('jobs', 'shop', 'orphaned');
    expect(pods()).toHaveLength(1);
    expect(pods()[0]?.metadata.ownerReferences ?? []).toEqual([]);
    const deleted = await kubectl(['delete', 'pod', '-n', 'shop', pods()[0]?.metadata.name as string]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(pods()).toEqual([]);
  });

  it('kubectl auth whoami and can-i answer for the launcher user as the RBAC of examples/rbac-launcher.yaml says', async () => {
    const who = await kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], 'user');
    expect(who.stdout).toBe(LAUNCHER_USER);
    const can = async (...args: string[]) =>
      (await kubectl(['auth', 'can-i', ...args, '-n', 'shop'], 'user')).stdout.trim();
    expect(await can('patch', 'pods', '--subresource=ephemeralcontainers')).toBe('yes');
    expect(await can('get', 'pods', '--subresource=log')).toBe('yes');
    expect(await can('create', 'jobs.batch')).toBe('yes');
    expect(await can('delete', 'jobs.batch')).toBe('yes');
    expect(await can('create', 'pods', '--subresource=exec')).toBe('no');
    expect(await can('get', 'secrets')).toBe('no');
    expect((await kubectl(['auth', 'can-i', 'create', 'jobs.batch', '-n', 'default'], 'user')).stdout.trim()).toBe(
      'no',
    );
  });

  it('kubectl get events shows what the Job controller and the kubelet recorded', async () => {
    const events = await kubectl([
      'get',
      'events',
      '-n',
      'shop',
      '--field-selector',
      'involvedObject.kind=Pod',
      '-o',
      'jsonpath={.items[*].reason}',
    ]);
    expect(events.code, events.stderr).toBe(0);
    expect(events.stdout.split(' ')).toEqual(
      expect.arrayContaining(['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']),
    );
  });
});
