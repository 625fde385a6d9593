import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeApiServer, KubeApiTls, KubeObject } from '../../src/sim/kube-api';
import { startKubeApi } from '../../src/sim/kube-api';
import { TLS_UNAVAILABLE, selfSignedLoopbackCert } from '../helpers/tls';

/*
 * The README's and examples/job.yaml's recipe for waiting on the irsa-doctor Job, run as printed by the real
 * kubectl against the simulated API server over TLS. kubectl 1.32 keeps only the last of several --for flags,
 * so `--for=condition=complete --for=condition=failed` waited out the whole timeout for a Job that succeeded
 * and exited 1. The recipe waits for the last condition of the Job to be True: the Job controller appends
 * Complete or Failed (and, from Kubernetes 1.31, SuccessCriteriaMet / FailureTarget just before them) to
 * status.conditions and never appends a False one (kubernetes/kubernetes pkg/controller/job/job_controller.go,
 * ensureJobConditionStatus, commit 6ae037f1db843e99547258d7dd292301a74ba0eb).
 */

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
if (!KUBECTL || TLS_UNAVAILABLE) console.warn('job-wait.test.ts: needs /usr/bin/kubectl and openssl; skipping');

const NAMESPACE = 'my-namespace';
const ROOT = new URL('../..', import.meta.url);
const readme = readFileSync(new URL('README.md', ROOT), 'utf8');
const jobYaml = readFileSync(new URL('examples/job.yaml', ROOT), 'utf8');

/** The shell lines of the README's "As a Job" block that wait for the Job and read its result. */
function readmeRecipe(): { wait: string; result: string } {
  const block = /\*\*As a Job\*\*[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const lines = block.split('\n');
  return {
    wait: lines.find((l) => l.startsWith('kubectl wait ')) ?? '',
    result: lines.find((l) => l.includes('.status.succeeded')) ?? '',
  };
}

function job(status: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'irsa-doctor', namespace: NAMESPACE, uid: 'job-uid', creationTimestamp: '2026-11-22T10:00:00Z' },
    spec: { backoffLimit: 0 },
    status,
  };
}

const RUNNING = { active: 1, startTime: '2026-11-22T10:00:01Z' };
/** As the Job controller of Kubernetes 1.31+ leaves a Job whose pod exited 0, and one whose pod exited 1. */
const SUCCEEDED = {
  succeeded: 1,
  completionTime: '2026-11-22T10:00:09Z',
  conditions: [
    { type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached' },
    { type: 'Complete', status: 'True', reason: 'CompletionsReached' },
  ],
};
const FAILED = {
  failed: 1,
  conditions: [
    { type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded' },
    { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' },
  ],
};

let api: KubeApiServer | undefined;
let dir = '';
afterEach(async () => {
  await api?.close();
  api = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs one line of the recipe with sh, as a user pastes it, with the sim's kubeconfig in KUBECONFIG. */
function sh(line: string, kubeconfig: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', line], {
      env: { PATH: `${path.dirname(KUBECTL!)}:/usr/bin:/bin`, HOME: dir, KUBECONFIG: kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function cluster(initial: Record<string, unknown>): Promise<string> {
  dir = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-job-wait-'));
  const tls: KubeApiTls = selfSignedLoopbackCert();
  api = await startKubeApi(
    { objects: [job(initial)], user: 'kubernetes-admin', token: 'sim-admin-token', namespace: NAMESPACE },
    tls,
  );
  expect(api.url.startsWith('https://127.0.0.1:')).toBe(true);
  return api.writeKubeconfig(dir);
}

/** The Job finishes once kubectl has started watching it (its first watch request reached the server). */
function finishOnceWatched(status: Record<string, unknown>): void {
  const started = Date.now();
  const poll = setInterval(() => {
    const watching = api?.requests.filter((r) => r === `GET /apis/batch/v1/namespaces/${NAMESPACE}/jobs`).length;
    if ((watching ?? 0) >= 2 || Date.now() - started > 10_000) {
      clearInterval(poll);
      api?.putObject(job(status));
    }
  }, 50);
}

describe.skipIf(!KUBECTL || TLS_UNAVAILABLE)('waiting for the irsa-doctor Job with the real kubectl', () => {
  it('README and examples/job.yaml print the same wait line, with one --for', () => {
    const { wait } = readmeRecipe();
    expect(wait).toMatch(/^kubectl wait -n my-namespace job\/irsa-doctor --for=/);
    expect(wait.match(/--for=/g)).toHaveLength(1);
    expect(jobYaml).toContain(`#   ${wait}\n`);
    expect(jobYaml).not.toContain('--for=condition=complete --for=condition=failed');
  });

  it('the old two---for line waits out its timeout for a Job that succeeded (why it was replaced)', async () => {
    const kubeconfig = await cluster(SUCCEEDED);
    const old = await sh(
      `kubectl wait -n ${NAMESPACE} --for=condition=complete --for=condition=failed job/irsa-doctor --timeout=2s`,
      kubeconfig,
    );
    expect(old.code).toBe(1);
    expect(old.stderr).toContain('timed out waiting for the condition');
  });

  it.each([
    { outcome: 'succeeds', status: SUCCEEDED, result: '1' },
    { outcome: 'fails (a problem was found)', status: FAILED, result: '' },
  ])(
    'ends on the condition, not the timeout, for a Job that $outcome while kubectl waits',
    async ({ status, result }) => {
      const { wait, result: resultLine } = readmeRecipe();
      const kubeconfig = await cluster(RUNNING);
      finishOnceWatched(status);
      const waited = await sh(wait, kubeconfig);
      expect(waited.stderr).toBe('');
      expect(waited.stdout).toBe('job.batch/irsa-doctor condition met\n');
      expect(waited.code).toBe(0);
      const got = await sh(resultLine.replace(/\s+#.*$/, ''), kubeconfig);
      expect(got.stdout.trim()).toBe(result);
    },
  );

  it('returns at once for a Job that had already finished', async () => {
    const kubeconfig = await cluster(FAILED);
    const waited = await sh(readmeRecipe().wait, kubeconfig);
    expect(waited.stdout).toBe('job.batch/irsa-doctor condition met\n');
    expect(waited.code).toBe(0);
  });
});
