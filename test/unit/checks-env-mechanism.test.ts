import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envMechanism } from '../../src/checks/env-mechanism';
import { CHECKS } from '../../src/checks/registry';
import { runChecks } from '../../src/run/runner';
import { selectChecks } from '../../src/run/select';
import { kubeScenario, startKubeApi } from '../../src/sim/kube-api';
import type { Upstream } from '../../src/run/types';
import { fixtureContext } from '../helpers/context';

const none: Upstream = { output: () => undefined, status: () => undefined };
const run = (init: Parameters<typeof fixtureContext>[0]) =>
  envMechanism.run(fixtureContext(init), none, new AbortController().signal);

describe('env.mechanism', () => {
  it('passes for IRSA and states the mechanism', async () => {
    const outcome = await run({
      env: { AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/a', AWS_WEB_IDENTITY_TOKEN_FILE: '/t' },
    });
    expect(outcome).toMatchObject({ status: 'pass', facts: { mechanism: 'irsa' } });
    expect(outcome.findings ?? []).toEqual([]);
  });

  it('passes for Pod Identity', async () => {
    const outcome = await run({ env: { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials' } });
    expect(outcome).toMatchObject({ status: 'pass', facts: { mechanism: 'pod-identity' } });
  });

  it('warns when both sets are present: IRSA is what every SDK uses', async () => {
    const outcome = await run({
      env: {
        AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/a',
        AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials',
      },
    });
    expect(outcome.status).toBe('warn');
    expect(outcome.findings?.map((f) => f.code)).toEqual(['BOTH_MECHANISMS_CONFIGURED']);
    expect(outcome.facts?.mechanism).toBe('irsa');
  });

  it('reports IRSA_ENV_MISSING with the ServiceAccount filled in from the pod API token', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const root = mkdtempSync(`${tmpdir()}/irsa-root-`);
    mkdirSync(`${root}/var/run/secrets/kubernetes.io/serviceaccount`, { recursive: true });
    writeFileSync(`${root}/var/run/secrets/kubernetes.io/serviceaccount/namespace`, 'shop\n');
    const claims = Buffer.from(JSON.stringify({ sub: 'system:serviceaccount:shop:cart' })).toString('base64url');
    writeFileSync(`${root}/var/run/secrets/kubernetes.io/serviceaccount/token`, `eyJhbGciOiJSUzI1NiJ9.${claims}.c2ln`);
    const outcome = await run({ root });
    expect(outcome.status).toBe('fail');
    const [finding] = outcome.findings ?? [];
    expect(finding?.code).toBe('IRSA_ENV_MISSING');
    expect(finding?.remedy.commands.join('\n')).toContain(
      'kubectl annotate serviceaccount cart -n shop eks.amazonaws.com/role-arn=',
    );
    expect(outcome.facts?.mechanism).toBe('none');
  });

  it('points a debug container at the app container that has the variables', async () => {
    const outcome = await run({
      peers: [
        { pid: 12, command: 'envoy', awsEnvNames: [] },
        { pid: 7, command: 'node server.js', awsEnvNames: ['AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE'] },
      ],
    });
    expect(outcome.findings?.map((f) => f.code)).toEqual(['EPHEMERAL_CONTAINER']);
    expect(outcome.findings?.[0]?.remedy.commands).toContain('irsa-doctor --target 7');
  });

  it('does not look at peers when --target is already in use', async () => {
    const outcome = await run({ targetPid: 7, peers: [{ pid: 7, command: 'x', awsEnvNames: ['AWS_ROLE_ARN'] }] });
    expect(outcome.findings?.map((f) => f.code)).toEqual(['IRSA_ENV_MISSING']);
  });
});

describe('env.mechanism with kube.pod in a debug container', () => {
  it('reports EPHEMERAL_CONTAINER once: kube.pod leaves it to env.mechanism, which names the app process', async () => {
    const scenario = kubeScenario('ephemeral-container');
    const api = await startKubeApi(scenario.state);
    const home = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-ephemeral-'));
    try {
      const kubeconfig = await api.writeKubeconfig(home);
      const ctx = fixtureContext({
        env: { POD_NAMESPACE: scenario.world.namespace, POD_NAME: scenario.world.podName, ...scenario.processEnv },
        peers: [{ pid: 7, command: 'node server.js', awsEnvNames: ['AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE'] }],
        kubeconfig,
      });
      const checks = selectChecks(CHECKS, ['env.mechanism', 'kube.pod'], []);
      const report = await runChecks(ctx, { checks, version: 't' });
      const ephemeral = report.findings.filter((f) => f.code === 'EPHEMERAL_CONTAINER');
      expect(ephemeral.map((f) => f.checkId)).toEqual(['env.mechanism']);
      expect(report.checks.find((c) => c.id === 'kube.pod')?.status).not.toBe('error');
    } finally {
      await api.close();
      rmSync(home, { recursive: true, force: true });
    }
  });
});
