import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kubectlApply } from '../../src/kube/rbac';
import { DEFAULT_IMAGE } from '../../src/launch/image';
import { launcherRbacYaml } from '../../src/launch/rbac';
import type { KObject } from '../../src/sim/cluster';
import { APP_IMAGE, APP_IMAGE_USER, DOCTOR_IMAGE_CONFIG, LAUNCHER_USER } from '../../src/sim/launch-world';
import type { LaunchWorldOptions } from '../../src/sim/launch-world';
import { SIM_HOME } from '../../src/sim/index';
import { detectIsolation } from '../../src/sim/sandbox';
import { BINARY } from '../helpers/binary';
import type { TestWorld } from '../helpers/launch';
import { parseReport, startTestWorld } from '../helpers/launch';

/*
 * Every way `irsa-doctor pod` and `job` can fail, each with its own message and exit code 2 (130 for Ctrl-C),
 * against the simulated cluster; after each, nothing is left behind (no Job, no pod but the app's, no container
 * process of the launch).
 */

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
const namespaces = detectIsolation({ command: BINARY, args: [] }).mode === 'namespaces';

let current: TestWorld | undefined;
afterEach(async () => {
  const world = current;
  current = undefined;
  if (world) {
    expect(world.leftovers()).toEqual([]);
    await world.close();
  }
});

async function world(
  options: Omit<LaunchWorldOptions, 'doctor' | 'scenario'> & { scenario?: LaunchWorldOptions['scenario'] } = {},
) {
  current = await startTestWorld({ scenario: 'healthy-irsa', ...options });
  return current;
}

const podArgs = (w: TestWorld, ...more: string[]) => [
  'pod',
  w.world.pod,
  '-n',
  w.world.namespace,
  '--output',
  'text',
  ...more,
];
const jobArgs = (w: TestWorld, ...more: string[]) => [
  'job',
  '--service-account',
  w.world.serviceAccount,
  '-n',
  w.world.namespace,
  '--output',
  'text',
  ...more,
];

function ephemeralContainers(w: TestWorld): string[] {
  return (
    (w.world.cluster.get('pods', w.world.namespace, w.world.pod)?.spec?.ephemeralContainers ?? []) as { name: string }[]
  ).map((c) => c.name);
}

function kubectl(w: TestWorld, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      KUBECTL as string,
      ['--kubeconfig', w.adminKubeconfig, ...args],
      { env: { PATH: '/usr/bin:/bin', HOME: w.home }, encoding: 'utf8', timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** Resolves once `check` holds for the cluster (polled: the test watches the simulator, not the launcher). */
async function eventually(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!existsSync(BINARY))('launcher failures, each with its message and exit code', () => {
  describe('RBAC', () => {
    it.skipIf(!KUBECTL)(
      'pod: a user without it gets exactly the Role of examples/rbac-launcher.yaml, nothing is added, and with it applied the run works',
      async () => {
        const w = await world({ launcherRbac: 'none' });
        const run = await w.run(podArgs(w));
        expect(run.code).toBe(2);
        expect(run.stderr).toContain(
          `irsa-doctor pod: user ${LAUNCHER_USER} may not get pods (read the pod and its containers), watch pods (follow the ephemeral container as it starts), patch pods/ephemeralcontainers (add the ephemeral container), get pods/log (read its report) in namespace shop: irsa-doctor pod needs the Role irsa-doctor-launcher`,
        );
        const role = kubectlApply(launcherRbacYaml('shop', { kind: 'User', name: LAUNCHER_USER }));
        expect(run.stderr).toContain(
          role
            .split('\n')
            .map((l) => `  ${l}`)
            .join('\n'),
        );
        expect(run.stdout).toBe('');
        expect(ephemeralContainers(w)).toEqual([]);
        expect(w.world.api.requests.filter((r) => !r.includes('selfsubject'))).toEqual([]);

        // The file the README points at, filled in for this namespace and user, applied by an admin with kubectl.
        const example = readFileSync(new URL('../../examples/rbac-launcher.yaml', import.meta.url), 'utf8')
          .replaceAll('my-namespace', 'shop')
          .replaceAll('jane@example.com', LAUNCHER_USER);
        const file = path.join(w.home, 'rbac-launcher.yaml');
        writeFileSync(file, example);
        const applied = await kubectl(w, ['create', '--validate=false', '-f', file]);
        expect(applied.stderr).toBe('');
        const again = await w.run(podArgs(w));
        expect(again.stderr).not.toContain('may not');
        expect(again.code).toBe(0);
      },
    );

    it('job: a user without it gets the Role, and no Job is created', async () => {
      const w = await world({ launcherRbac: 'none' });
      const run = await w.run(jobArgs(w));
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(
        `irsa-doctor job: user ${LAUNCHER_USER} may not create jobs.batch (create the Job), delete jobs.batch (delete it afterwards)`,
      );
      expect(run.stderr).toContain(
        "  kubectl apply -f - <<'EOF'\n  apiVersion: rbac.authorization.k8s.io/v1\n  kind: Role\n",
      );
      expect(w.world.api.requests.some((r) => r.startsWith('POST /apis/batch'))).toBe(false);
    });
  });

  describe('the pod', () => {
    it('not found: names the pod and the namespace', async () => {
      const w = await world();
      const run = await w.run(['pod', 'checkout-0000', '-n', 'shop']);
      expect(
        run.stderr.endsWith(
          'irsa-doctor pod: pod checkout-0000 not found in namespace shop\n  kubectl get pods -n shop\n',
        ),
      ).toBe(true);
      expect(run.code).toBe(2);
    });

    it('not running: a Pending pod cannot take an ephemeral container', async () => {
      const w = await world();
      w.world.cluster.create(
        'pods',
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'checkout-pending' } as KObject['metadata'],
          spec: {
            serviceAccountName: 'checkout',
            containers: [{ name: 'app', image: 'registry.example.com/not-there:1' }],
          },
        },
        'shop',
      );
      const run = await w.run(['pod', 'checkout-pending', '-n', 'shop']);
      expect(run.stderr).toContain(
        'irsa-doctor pod: pod shop/checkout-pending is Pending, not Running: an ephemeral container only starts in a running pod',
      );
      expect(run.code).toBe(2);
      w.world.cluster.delete('pods', 'shop', 'checkout-pending');
      await eventually(() => !w.world.cluster.get('pods', 'shop', 'checkout-pending'), 'the pending pod to go');
    });

    it('several containers and no -c: lists them; -c picks one', async () => {
      const w = await world();
      w.world.cluster.create(
        'pods',
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'checkout-two' } as KObject['metadata'],
          spec: {
            serviceAccountName: 'checkout',
            containers: [
              { name: 'app', image: APP_IMAGE },
              { name: 'proxy', image: APP_IMAGE },
            ],
          },
        },
        'shop',
      );
      await eventually(
        () => w.world.cluster.get('pods', 'shop', 'checkout-two')?.status?.phase === 'Running',
        'checkout-two to run',
      );
      const run = await w.run(['pod', 'checkout-two', '-n', 'shop']);
      expect(run.stderr).toContain(
        "irsa-doctor pod: pod shop/checkout-two has 2 containers (app, proxy): choose the app's with -c NAME",
      );
      expect(run.code).toBe(2);
      const wrong = await w.run(['pod', 'checkout-two', '-n', 'shop', '-c', 'sidecar']);
      expect(wrong.stderr).toContain(
        'container "sidecar" is not in pod shop/checkout-two (its containers: app, proxy)',
      );
      expect(wrong.code).toBe(2);
      const chosen = await w.run(['pod', 'checkout-two', '-n', 'shop', '-c', 'proxy', '--output', 'json']);
      expect(parseReport(chosen.stdout).verdict).toBeDefined();
      w.world.cluster.delete('pods', 'shop', 'checkout-two');
      await eventually(() => !w.world.cluster.get('pods', 'shop', 'checkout-two'), 'checkout-two to go');
    });

    it('ephemeral containers unsupported by the API server: says so and offers the Job', async () => {
      const w = await world({ cluster: { ephemeralContainersDisabled: true } });
      const run = await w.run(podArgs(w));
      expect(run.stderr).toContain(
        'irsa-doctor pod: this API server has no pods/ephemeralcontainers subresource: ephemeral containers need Kubernetes 1.23 or later',
      );
      expect(run.stderr).toContain('irsa-doctor job --service-account <SA> -n shop');
      expect(run.code).toBe(2);
    });
  });

  describe('the image', () => {
    it('pod: an image that cannot be pulled is named, with how to build, push and use a private registry', async () => {
      const w = await world();
      const run = await w.run(podArgs(w, '--image', 'registry.example.com/irsa-doctor:nope'));
      expect(run.stderr).toMatch(
        /irsa-doctor pod: ephemeral container irsa-doctor-[a-z0-9]{5}: the image registry\.example\.com\/irsa-doctor:nope cannot be pulled \((ErrImagePull|ImagePullBackOff): .*registry\.example\.com\/irsa-doctor:nope: not found\)/,
      );
      expect(run.stderr).toContain('docker buildx build --platform linux/amd64,linux/arm64');
      expect(run.stderr).toContain('imagePullSecrets');
      expect(run.code).toBe(2);
    });

    it('job: a private registry without its pull secret fails naming the image; with --image-pull-secret it works', async () => {
      const image = 'registry.example.com/private/irsa-doctor:0.1.0';
      const w = await world({
        images: { [image]: { ...DOCTOR_IMAGE_CONFIG, pullSecret: 'regcred' } },
        objects: [
          {
            resource: 'secrets',
            object: {
              apiVersion: 'v1',
              kind: 'Secret',
              metadata: { name: 'regcred' } as KObject['metadata'],
              type: 'kubernetes.io/dockerconfigjson',
              data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') },
            },
          },
        ],
      });
      const denied = await w.run(jobArgs(w, '--image', image));
      expect(denied.stderr).toContain(`the image ${image} cannot be pulled`);
      expect(denied.stderr).toContain('401 Unauthorized');
      expect(denied.stderr).toContain('--image-pull-secret <SECRET_NAME>');
      expect(denied.code).toBe(2);
      expect(w.leftovers()).toEqual([]);
      const pulled = await w.run(jobArgs(w, '--image', image, '--image-pull-secret', 'regcred', '--output', 'json'));
      expect(parseReport(pulled.stdout).verdict).toBe('healthy');
      expect(pulled.code).toBe(0);
    });

    it('pod: a container that never starts within --timeout', async () => {
      const slow = `${DEFAULT_IMAGE.replace(/:.*$/, '')}:slow`;
      const w = await world({ images: { [slow]: { ...DOCTOR_IMAGE_CONFIG, pull: 'hang' } } });
      const run = await w.run(podArgs(w, '--image', slow, '--timeout', '2000'));
      expect(run.stderr).toMatch(
        /irsa-doctor pod: ephemeral container irsa-doctor-[a-z0-9]{5} did not start within 2 s \(waiting: ContainerCreating\)/,
      );
      expect(run.stderr).toContain('kubectl describe pod checkout-7d9f8b6c5-x2k4q -n shop');
      expect(run.code).toBe(2);
    });

    it('job: a pod that never starts within --timeout; the Job is deleted', async () => {
      const slow = `${DEFAULT_IMAGE.replace(/:.*$/, '')}:slow`;
      const w = await world({ images: { [slow]: { ...DOCTOR_IMAGE_CONFIG, pull: 'hang' } } });
      const run = await w.run(jobArgs(w, '--image', slow, '--timeout', '2000'));
      expect(run.stderr).toContain(
        "irsa-doctor job: the Job's pod did not start within 2 s (waiting: ContainerCreating)",
      );
      expect(run.code).toBe(2);
    });
  });

  describe('the Job', () => {
    const quota = (hard: Record<string, string>): LaunchWorldOptions['objects'] => [
      {
        resource: 'resourcequotas',
        object: {
          apiVersion: 'v1',
          kind: 'ResourceQuota',
          metadata: { name: 'compute' } as KObject['metadata'],
          spec: { hard },
        },
      },
    ];

    it('a ResourceQuota on pods: the pod is not created (FailedCreate); says which quota', async () => {
      const w = await world({ objects: quota({ pods: '1' }) });
      const run = await w.run(jobArgs(w));
      expect(run.stderr).toContain(
        'irsa-doctor job: the Job\'s pod cannot be created by a ResourceQuota: pods "irsa-doctor-checkout-',
      );
      expect(run.stderr).toContain('exceeded quota: compute, requested: pods=1, used: pods=1, limited: pods=1');
      expect(run.stderr).toContain('kubectl describe resourcequota -n shop');
      expect(run.code).toBe(2);
    });

    it('a ResourceQuota on Jobs: the Job itself is refused', async () => {
      const w = await world({ objects: quota({ 'count/jobs.batch': '0' }) });
      const run = await w.run(jobArgs(w));
      expect(run.stderr).toContain(
        'irsa-doctor job: the Job was refused by a ResourceQuota: jobs.batch "irsa-doctor-checkout-',
      );
      expect(run.stderr).toContain(
        'exceeded quota: compute, requested: count/jobs.batch=1, used: count/jobs.batch=0, limited: count/jobs.batch=0',
      );
      expect(run.code).toBe(2);
    });

    it('a LimitRange the pod does not fit: names the limit and what the doctor needs', async () => {
      const w = await world({
        objects: [
          {
            resource: 'limitranges',
            object: {
              apiVersion: 'v1',
              kind: 'LimitRange',
              metadata: { name: 'small' } as KObject['metadata'],
              spec: { limits: [{ type: 'Container', max: { memory: '128Mi' } }] },
            },
          },
        ],
      });
      const run = await w.run(jobArgs(w));
      expect(run.stderr).toContain("irsa-doctor job: the Job's pod cannot be created by a LimitRange:");
      expect(run.stderr).toContain('maximum memory usage per Container is 128Mi, but limit is 256Mi');
      expect(run.stderr).toContain('kubectl describe limitrange -n shop');
      expect(run.code).toBe(2);
    });

    it('an admission webhook denying Jobs', async () => {
      const w = await world({
        cluster: {
          denials: [
            {
              resource: 'jobs',
              webhook: 'validate.kyverno.svc-fail',
              message: 'resource Job/shop/x was blocked: require-team-label',
            },
          ],
        },
      });
      const run = await w.run(jobArgs(w));
      expect(run.stderr).toContain(
        'irsa-doctor job: the Job was refused by admission: admission webhook "validate.kyverno.svc-fail" denied the request: resource Job/shop/x was blocked: require-team-label',
      );
      expect(run.code).toBe(2);
    });

    it('an admission webhook denying its pod', async () => {
      const w = await world({
        cluster: { denials: [{ resource: 'pods', webhook: 'gatekeeper.sh', message: 'no debug images' }] },
      });
      // The app pod was created before the policy: only new pods are refused.
      const run = await w.run(jobArgs(w));
      expect(run.stderr).toContain(
        'irsa-doctor job: the Job\'s pod cannot be created by admission: admission webhook "gatekeeper.sh" denied the request: no debug images',
      );
      expect(run.code).toBe(2);
    });

    it('a ServiceAccount that does not exist', async () => {
      const w = await world();
      const run = await w.run(['job', '--service-account', 'payments', '-n', 'shop']);
      expect(
        run.stderr.endsWith(
          'irsa-doctor job: ServiceAccount payments not found in namespace shop\n  kubectl get serviceaccounts -n shop\n',
        ),
      ).toBe(true);
      expect(run.code).toBe(2);
    });

    it('a pod that is never scheduled within --timeout: the scheduler says why', async () => {
      const message =
        '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.';
      const w = await world({ cluster: { unschedulable: message } });
      const run = await w.run(jobArgs(w, '--timeout', '2000'));
      expect(run.stderr).toContain(`irsa-doctor job: the Job's pod was not scheduled within 2 s: ${message}`);
      expect(run.code).toBe(2);
    });
  });

  describe('the API server', () => {
    it('unreachable: names the server and the socket error', async () => {
      const w = await world();
      const closed = net.createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((r) => closed.close(() => r()));
      const kubeconfig = path.join(w.home, 'gone.kubeconfig');
      writeFileSync(
        kubeconfig,
        w.world.kubeconfig('user').replace(/server: https:\/\/127\.0\.0\.1:\d+/, `server: https://127.0.0.1:${port}`),
      );
      for (const args of [podArgs(w), jobArgs(w)]) {
        const run = await w.run(args, { env: { KUBECONFIG: kubeconfig } });
        expect(run.stderr).toContain(`cannot reach the API server https://127.0.0.1:${port} (ECONNREFUSED)`);
        expect(run.code).toBe(2);
      }
    });

    it('a certificate the kubeconfig does not trust for that name', async () => {
      const w = await world();
      const kubeconfig = path.join(w.home, 'other-name.kubeconfig');
      writeFileSync(
        kubeconfig,
        w.world
          .kubeconfig('user')
          .replace(/(\n\s+server: .*\n)/, '$1      tls-server-name: api.other-cluster.example\n'),
      );
      const run = await w.run(podArgs(w), { env: { KUBECONFIG: kubeconfig } });
      expect(run.stderr).toMatch(
        /presented a certificate the kubeconfig's CA does not verify \(ERR_TLS_CERT_ALTNAME_INVALID\)/,
      );
      expect(run.code).toBe(2);
    });

    it('credentials it does not accept (401)', async () => {
      const w = await world();
      const kubeconfig = path.join(w.home, 'expired.kubeconfig');
      writeFileSync(kubeconfig, w.world.kubeconfig('user').replace(/token: \S+/, 'token: expired-token'));
      const run = await w.run(jobArgs(w), { env: { KUBECONFIG: kubeconfig } });
      expect(run.stderr).toContain("the API server does not accept the kubeconfig's credentials (401 Unauthorized)");
      expect(run.code).toBe(2);
    });

    it('no kubeconfig at all', async () => {
      const w = await world();
      const run = await w.run(podArgs(w), { env: { KUBECONFIG: '' } });
      expect(run.stderr).toContain(
        'irsa-doctor pod: no kubeconfig: none given with --kubeconfig, KUBECONFIG is not set and ~/.kube/config does not exist',
      );
      expect(run.code).toBe(2);
    });

    it('a --context the kubeconfig does not have', async () => {
      const w = await world();
      const run = await w.run(podArgs(w, '--context', 'prod'));
      expect(run.stderr).toContain(
        'irsa-doctor pod: --context prod: no such context in the kubeconfig (it has: irsa-doctor-sim)',
      );
      expect(run.code).toBe(2);
    });
  });

  describe('the doctor in the container', () => {
    it('exits 2 without a report: its own message is shown', async () => {
      const w = await world();
      const run = await w.run(podArgs(w, '--only', 'no.such-check'));
      expect(run.stderr).toMatch(
        /irsa-doctor pod: the doctor in ephemeral container irsa-doctor-[a-z0-9]{5} ended with exit code 2 without a report:\nirsa-doctor: /,
      );
      expect(run.stderr).toContain('no.such-check');
      expect(run.code).toBe(2);
    });

    it.skipIf(!namespaces)(
      "the spec does not say the app's uid/gid: the doctor reads them from the app's process, the launcher tells and retries once as those",
      async () => {
        const w = await world({ appUser: 'image' });
        const run = await w.run(podArgs(w, '--output', 'json'));
        expect(run.stderr).toContain(
          "the spec does not say container app's uid; the doctor reads it from the app's process and runs again as that if needed",
        );
        expect(run.stderr).toMatch(
          new RegExp(
            `note: the app's process runs as uid ${APP_IMAGE_USER.uid} gid ${APP_IMAGE_USER.gid} \\(read from its /proc/PID/status\\), not as the doctor did; adding a second ephemeral container as uid ${APP_IMAGE_USER.uid} gid ${APP_IMAGE_USER.gid} \\(irsa-doctor-[a-z0-9]{5} stays, terminated\\)`,
          ),
        );
        expect(parseReport(run.stdout).verdict).toBe('healthy');
        expect(run.code).toBe(0);
        const added = (
          (w.world.cluster.get('pods', 'shop', w.world.pod)?.spec?.ephemeralContainers ?? []) as {
            securityContext?: { runAsUser?: number; runAsGroup?: number };
          }[]
        ).map((c) => c.securityContext);
        expect(added.map((s) => [s?.runAsUser, s?.runAsGroup])).toEqual([
          [undefined, undefined],
          [APP_IMAGE_USER.uid, APP_IMAGE_USER.gid],
        ]);
      },
    );

    it.skipIf(!namespaces)(
      'an app running as root: refuses to add CAP_SYS_PTRACE and gives the manual command',
      async () => {
        const w = await world({
          appUser: 'image',
          images: { [APP_IMAGE]: { run: 'app', user: { uid: 0, gid: 0 }, env: { HOME: SIM_HOME } } },
        });
        const run = await w.run(podArgs(w));
        expect(run.stderr).toContain(
          "irsa-doctor pod: the app container app runs as root (uid 0, found by the doctor from its process): reading another root process's /proc entries needs CAP_SYS_PTRACE, which irsa-doctor pod never adds",
        );
        expect(run.stderr).toContain('--profile=general -- /irsa-doctor --target auto');
        expect(run.code).toBe(2);
      },
    );
  });
});
