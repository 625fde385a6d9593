import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeApiServer, KubeApiTls, KubeScenarioName } from '../../src/sim/kube-api';
import { kubeScenario, startKubeApi } from '../../src/sim/kube-api';
import { parseReport } from '../helpers/reports';
import { TLS_UNAVAILABLE, selfSignedLoopbackCert } from '../helpers/tls';

import { BINARY, HANG_TIMER_SCALE, binaryCommand } from '../helpers/binary';
const KUBE_CHECKS = 'kube.pod,kube.serviceaccount,kube.webhook';

interface Finding {
  code: string;
  severity: string;
  checkId: string;
  summary: string;
  remedy: { summary: string; commands: string[]; snippets?: { language: string; text: string }[] };
}
interface Report {
  verdict: string;
  rootCause: { code: string } | null;
  findings: Finding[];
  checks: { id: string; status: string; summary: string; details?: Record<string, unknown> }[];
  verification: { credentials: string };
}

let api: KubeApiServer | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

/** The binary must be spawned asynchronously: the sim answers from this test's event loop. */
function runBinary(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      ...binaryCommand(args),
      { env, encoding: 'utf8', timeout: 20_000 * HANG_TIMER_SCALE },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function diagnose(name: KubeScenarioName, tls?: KubeApiTls) {
  const scenario = kubeScenario(name);
  api = await startKubeApi(scenario.state, tls);
  const home = mkdtempSync(path.join(os.tmpdir(), 'irsa-doctor-e2e-'));
  const kubeconfig = await api.writeKubeconfig(home);
  // An explicit env: nothing of the developer's kube or AWS setup reaches the binary.
  const env = {
    PATH: '/usr/bin:/bin',
    HOME: home,
    POD_NAMESPACE: scenario.world.namespace,
    POD_NAME: scenario.world.podName,
    ...scenario.processEnv,
  };
  // kube.pod reads env.mechanism (for a debug container's peer); these pods' env is not the point here.
  const args = ['--kubeconfig', kubeconfig, '--only', KUBE_CHECKS, '--skip', 'env.mechanism', '--output', 'json'];
  const result = await runBinary(args, env);
  expect(result.stderr).toBe('');
  const report = parseReport(result.stdout) as unknown as Report;
  const status = (id: string) => report.checks.find((c) => c.id === id)?.status;
  const codes = report.findings.map((f) => f.code);
  return { ...result, report, status, codes, scenario, requests: api.requests };
}

describe.skipIf(!existsSync(BINARY))('kube checks through the built binary against the simulated API server', () => {
  it('healthy: the pod, its ServiceAccount and the webhook all agree', async () => {
    const run = await diagnose('healthy');
    expect(run.codes).toEqual([]);
    expect([run.status('kube.pod'), run.status('kube.serviceaccount'), run.status('kube.webhook')]).toEqual([
      'pass',
      'pass',
      'pass',
    ]);
    expect(run.report.checks.find((c) => c.id === 'kube.pod')?.details?.owner).toBe('deployment/checkout');
    expect(run.code).toBe(0);
    // Least privilege in practice: only gets, never a list, when the webhook is where it should be.
    expect(run.requests.every((r) => r.startsWith('GET ') && /\/[^/]+\/[^/]+$/.test(r))).toBe(true);
  });

  it('annotation missing: SA_ANNOTATION_MISSING is the root cause, with annotate + rollout restart', async () => {
    const run = await diagnose('annotation-missing');
    expect(run.codes).toEqual(['SA_ANNOTATION_MISSING']);
    expect(run.status('kube.serviceaccount')).toBe('fail');
    expect(run.report.rootCause?.code).toBe('SA_ANNOTATION_MISSING');
    const commands = run.report.findings[0]?.remedy.commands ?? [];
    expect(commands[0]).toBe(
      'kubectl annotate serviceaccount checkout -n shop eks.amazonaws.com/role-arn=arn:aws:iam::<ACCOUNT_ID>:role/<ROLE_NAME>',
    );
    expect(commands).toContain('kubectl rollout restart deployment/checkout -n shop');
    expect(run.code).toBe(1);
  });

  it('annotation changed after the pod started: SA_ROLE_CHANGED_RESTART_NEEDED names both roles and the Deployment', async () => {
    const run = await diagnose('annotation-changed');
    expect(run.codes).toEqual(['SA_ROLE_CHANGED_RESTART_NEEDED']);
    const finding = run.report.findings[0];
    expect(finding?.summary).toContain('arn:aws:iam::111122223333:role/checkout-s3-old');
    expect(finding?.summary).toContain('now names role arn:aws:iam::111122223333:role/checkout-s3,');
    expect(finding?.remedy.commands).toEqual(['kubectl rollout restart deployment/checkout -n shop']);
    expect(run.code).toBe(1);
  });

  it('sidecar not injected: CONTAINER_NOT_INJECTED names the native sidecar and the skip-containers annotation', async () => {
    const run = await diagnose('sidecar-not-injected');
    expect(run.codes).toEqual(['CONTAINER_NOT_INJECTED']);
    expect(run.status('kube.pod')).toBe('warn');
    expect(run.report.findings[0]?.summary).toContain(
      'log-shipper (native sidecar: listed in the pod annotation eks.amazonaws.com/skip-containers)',
    );
    expect(run.code).toBe(0); // a warning: the app container itself is fine
  });

  it('ephemeral container: EPHEMERAL_CONTAINER with the kubectl debug --target command for the app container', async () => {
    const run = await diagnose('ephemeral-container');
    expect(run.codes).toEqual(['EPHEMERAL_CONTAINER']);
    const finding = run.report.findings[0];
    expect(finding?.summary).toContain('"debugger-h7x2k"');
    expect(finding?.remedy.commands).toEqual([
      'kubectl debug -it checkout-7d9f8b6c5d-x2x9q -n shop --image=<IRSA_DOCTOR_IMAGE> --target=app -- /irsa-doctor --target auto',
    ]);
    // The ServiceAccount is compared with the app container's role, not with this debug container's empty env.
    expect(run.status('kube.serviceaccount')).toBe('pass');
    expect(run.code).toBe(0);
  });

  it('RBAC forbidden: the checks skip (not fail) and the remedy carries the Role and binding', async () => {
    const run = await diagnose('rbac-forbidden');
    expect(run.status('kube.pod')).toBe('skip');
    expect(run.status('kube.webhook')).toBe('skip');
    expect(run.status('kube.serviceaccount')).toBe('skip');
    expect(run.codes).toEqual(['K8S_API_FORBIDDEN', 'K8S_API_FORBIDDEN']);
    expect(run.report.findings.every((f) => f.severity === 'info')).toBe(true);
    const podFinding = run.report.findings.find((f) => f.checkId === 'kube.pod');
    // The YAML is a document to save and apply, not a command: a snippet, never among the `$` commands.
    expect(podFinding?.remedy.commands.some((c) => c.includes('apiVersion:'))).toBe(false);
    const yaml = podFinding?.remedy.snippets?.find((s) => s.language === 'yaml')?.text ?? '';
    expect(yaml).toContain('kind: Role\nmetadata:\n  name: irsa-doctor\n  namespace: shop');
    expect(yaml).toContain("resources: ['pods', 'serviceaccounts']");
    expect(yaml).toContain('  - kind: ServiceAccount\n    name: checkout\n    namespace: shop');
    const webhookFinding = run.report.findings.find((f) => f.checkId === 'kube.webhook');
    expect(webhookFinding?.remedy.snippets?.[0]?.text).toContain("resourceNames: ['pod-identity-webhook']");
    // Nothing broken, but --only ran no credential check: not healthy (docs/report.md, "verification").
    expect(run.report.verdict).toBe('degraded');
    expect(run.report.verification.credentials).toBe('not-checked');
    expect(run.code).toBe(0);
  });

  it('webhook configuration absent: WEBHOOK_MISSING is the root cause, not the ServiceAccount', async () => {
    const run = await diagnose('webhook-absent');
    expect(run.codes).toEqual(['WEBHOOK_MISSING']);
    expect(run.status('kube.webhook')).toBe('fail');
    expect(run.report.rootCause?.code).toBe('WEBHOOK_MISSING');
    expect(run.report.checks.find((c) => c.id === 'kube.serviceaccount')?.summary).toContain(
      'because the webhook configuration is missing',
    );
    expect(run.code).toBe(1);
  });

  it('both mechanisms: BOTH_MECHANISMS_CONFIGURED, Pod Identity wins', async () => {
    const run = await diagnose('both-mechanisms');
    expect(run.codes).toEqual(['BOTH_MECHANISMS_CONFIGURED']);
    expect(run.status('kube.serviceaccount')).toBe('warn');
    expect(run.report.findings[0]?.remedy.commands[0]).toBe(
      'kubectl annotate serviceaccount checkout -n shop eks.amazonaws.com/role-arn-',
    );
    expect(run.code).toBe(0);
  });

  // client-node's own transport (undici) loses the cluster CA under Bun; this proves the binary's HTTPS path
  // trusts the kubeconfig's certificate-authority-data.
  it.skipIf(TLS_UNAVAILABLE)(
    'HTTPS API server with a private CA from the kubeconfig works in the Bun binary',
    async () => {
      const tls = selfSignedLoopbackCert();
      const run = await diagnose('healthy', tls);
      expect(api?.url.startsWith('https://127.0.0.1:')).toBe(true);
      const kube = run.report.checks.filter((c) => c.id.startsWith('kube.'));
      expect(kube.map((c) => c.status)).toEqual(['pass', 'pass', 'pass']);
    },
  );
  // An oidc auth-provider's cached id-token is used as it is (src/kube/kubeconfig.ts): no refresh against the
  // idp-issuer-url, no program: the token is the bearer of the binary's own GET.
  it('a kubeconfig user with an auth-provider (oidc id-token) reads the pod with the cached token', async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const idToken = `${b64({ alg: 'RS256' })}.${b64({ sub: 'dev', exp: Math.floor(Date.now() / 1000) + 3600 })}.c2ln`;
    const scenario = kubeScenario('healthy');
    api = await startKubeApi({ ...scenario.state, token: idToken });
    const kubeconfig = path.join(mkdtempSync(path.join(os.tmpdir(), 'irsa-doctor-e2e-')), 'kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${api.url}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {auth-provider: {name: oidc, config: {id-token: "${idToken}", client-id: x, idp-issuer-url: "https://issuer.invalid"}}}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
    );
    const { world } = scenario;
    const args = [
      '--kubeconfig',
      kubeconfig,
      '--only',
      'kube.pod',
      '--namespace',
      world.namespace,
      '--pod',
      world.podName,
    ];
    const result = await runBinary([...args, '--output', 'json'], { PATH: '/usr/bin:/bin', HOME: os.tmpdir() });
    const report = JSON.parse(result.stdout) as Report;
    expect(report.checks.find((c) => c.id === 'kube.pod')?.status).toBe('pass');
    expect(api.requests).toContain(`GET /api/v1/namespaces/${world.namespace}/pods/${world.podName}`);
  });
});

// Proves the fake speaks real API machinery: discovery, content negotiation (Table), Status errors.
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
if (!KUBECTL) console.warn('kube-scenarios: skipping the kubectl test: no kubectl in /usr/bin or /usr/local/bin');

describe.skipIf(!KUBECTL)('kubectl against the simulated API server', () => {
  function kubectl(
    kubeconfig: string,
    home: string,
    args: string[],
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        KUBECTL as string,
        ['--kubeconfig', kubeconfig, ...args],
        { env: { PATH: '/usr/bin:/bin', HOME: home }, encoding: 'utf8', timeout: 20_000 },
        (error, stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
      );
    });
  }

  it('gets the pod, the ServiceAccount and the webhook configuration, and reads a 404 as kubectl does', async () => {
    const scenario = kubeScenario('healthy');
    api = await startKubeApi(scenario.state);
    const home = mkdtempSync(path.join(os.tmpdir(), 'irsa-doctor-kubectl-'));
    const kubeconfig = await api.writeKubeconfig(home);

    const pod = await kubectl(kubeconfig, home, ['get', 'pod', scenario.world.podName, '-n', 'shop', '-o', 'json']);
    expect(pod.code).toBe(0);
    const podJson = JSON.parse(pod.stdout);
    expect(podJson.spec.containers[0].env.map((e: { name: string }) => e.name).slice(-5)).toEqual([
      'AWS_STS_REGIONAL_ENDPOINTS',
      'AWS_DEFAULT_REGION',
      'AWS_REGION',
      'AWS_ROLE_ARN',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
    ]);

    const sa = await kubectl(kubeconfig, home, ['get', 'serviceaccount', '-n', 'shop']);
    expect(sa.code).toBe(0);
    expect(sa.stdout).toMatch(/^NAME\s+CREATED AT\ncheckout\s+2026-10-02T12:00:00Z\n$/);

    const webhook = await kubectl(kubeconfig, home, ['get', 'mutatingwebhookconfigurations', '-o', 'json']);
    expect(webhook.code).toBe(0);
    expect(JSON.parse(webhook.stdout).items[0].webhooks[0]).toMatchObject({
      name: 'iam-for-pods.amazonaws.com',
      failurePolicy: 'Ignore',
    });

    const missing = await kubectl(kubeconfig, home, ['get', 'pod', 'nope', '-n', 'shop']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Error from server (NotFound): pods "nope" not found');

    // The one-line RBAC remedy is what kubectl would create: checked client-side through the sim's discovery.
    const role = await kubectl(kubeconfig, home, [
      'create',
      'role',
      'irsa-doctor',
      '-n',
      'shop',
      '--verb=get',
      '--resource=pods,serviceaccounts,replicasets.apps',
      '--dry-run=client',
      '-o',
      'json',
    ]);
    expect(role.code).toBe(0);
    expect(JSON.parse(role.stdout).rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'serviceaccounts'], verbs: ['get'] },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get'] },
    ]);
  });

  it('shows the API server Forbidden message for a refused read', async () => {
    const scenario = kubeScenario('rbac-forbidden');
    api = await startKubeApi(scenario.state);
    const home = mkdtempSync(path.join(os.tmpdir(), 'irsa-doctor-kubectl-'));
    const kubeconfig = await api.writeKubeconfig(home);
    const result = await kubectl(kubeconfig, home, ['get', 'pod', scenario.world.podName, '-n', 'shop']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'Error from server (Forbidden): pods "checkout-7d9f8b6c5d-x2x9q" is forbidden: User "system:serviceaccount:shop:checkout" cannot get resource "pods" in API group "" in the namespace "shop"',
    );
  });
});
