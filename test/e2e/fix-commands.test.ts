import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SCENARIO_NAMES } from '../../src/sim/index';
import type { KubeApiServer, KubeObject } from '../../src/sim/kube-api';
import { kubeScenario, startKubeApi } from '../../src/sim/kube-api';
import { BINARY, runBinary } from '../helpers/binary';
import { shellLab } from '../helpers/shell-check';
import { EKS_ISSUER, mintToken } from '../helpers/tokens';

/**
 * Every fix command the built binary prints, with hostile values in every place a value reaches one (pod,
 * namespace, ServiceAccount, owner and container names, token path, issuer, role ARN path, region, NO_PROXY,
 * profile files, the subject of a Forbidden message), given to bash: it parses, and run with stub programs
 * it runs no payload and passes no value as a flag.
 */

interface Report {
  rootCause: { code: string; remedy: { commands: string[] } } | null;
  findings: { code: string; remedy: { commands: string[] } }[];
}

function commandsOf(stdout: string): { codes: string[]; commands: string[] } {
  const report = JSON.parse(stdout) as Report;
  return {
    codes: report.findings.map((f) => f.code),
    commands: [...(report.rootCause?.remedy.commands ?? []), ...report.findings.flatMap((f) => f.remedy.commands)],
  };
}

let api: KubeApiServer | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe.skipIf(!existsSync(BINARY))('fix commands with hostile values, given to bash (built binary)', () => {
  it('the checker itself sees a payload run, a syntax error and a value passed as a flag', () => {
    const lab = shellLab();
    const verdict = lab.check([
      `kubectl get pod ${lab.payloads[0]} -n shop`,
      "kubectl get pod 'unterminated",
      `kubectl get pod ${lab.flag}`,
    ]);
    expect(verdict.markers).toEqual(['dollar']);
    expect(verdict.syntaxErrors).toEqual(["kubectl get pod 'unterminated"]);
    expect(verdict.flagArguments).toHaveLength(1);
  });

  it('every demo scenario, with hostile --pod and --namespace', { timeout: 120_000 }, async () => {
    const lab = shellLab();
    const commands: string[] = [];
    for (const [i, scenario] of SCENARIO_NAMES.entries()) {
      // Each scenario gets two payloads; across the scenarios every payload is used in both places.
      const pod = lab.payloads[i % lab.payloads.length]!;
      const namespace = lab.payloads[(i + 5) % lab.payloads.length]!;
      const run = await runBinary(
        ['demo', scenario, `--pod=${pod}`, `--namespace=${namespace}`, '--output', 'json', '--timeout', '5000'],
        { PATH: '/usr/bin:/bin' },
      );
      expect([0, 1], `${scenario}: ${run.stderr}`).toContain(run.code);
      commands.push(...commandsOf(run.stdout).commands);
    }
    const verdict = lab.check(commands);
    expect(verdict.syntaxErrors).toEqual([]);
    expect(verdict.markers).toEqual([]);
    expect(verdict.flagArguments).toEqual([]);
    // The commands really ran (against the stubs): the assertions above are not vacuous.
    expect(verdict.invocations).toBeGreaterThan(30);
  });

  it('an offline run whose env, token and trust policy carry payloads everywhere', { timeout: 120_000 }, async () => {
    const lab = shellLab();
    const commands: string[] = [];
    const codes = new Set<string>();
    const dir = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-fix-commands-'));
    for (const [i, payload] of lab.payloads.entries()) {
      const word = lab.wordPayloads[i % lab.wordPayloads.length]!;
      const pod = path.join(dir, `pod-${i}`);
      mkdirSync(pod);
      const tokenFile = path.join(pod, `token${i % 3 === 0 ? payload.replace(/\//g, '_') : ''}`);
      writeFileSync(
        tokenFile,
        await mintToken({
          namespace: payload,
          serviceAccount: lab.payloads[(i + 1) % lab.payloads.length],
          pod: payload,
          iss: i % 2 === 0 ? `https://oidc.example.com/${word}` : EKS_ISSUER,
          // An empty aud is the IRSA token TOKEN_AUDIENCE_MISMATCH judges (a custom one is the ServiceAccount's).
          aud: i % 4 === 3 ? [] : ['sts.amazonaws.com'],
          ttl: i % 4 === 1 ? -3_600 : 86_400,
        }),
      );
      const config = path.join(pod, `config${i % 2 ? word.replace(/\//g, '_') : ''}`);
      writeFileSync(
        config,
        `[profile ${payload.replace(/\n/g, '')}]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n`,
      );
      const policy = path.join(pod, 'trust.json');
      writeFileSync(
        policy,
        JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/${payload}` },
              Action: 'sts:AssumeRoleWithWebIdentity',
              Condition: { StringEquals: { [`${payload}:sub`]: payload } },
            },
          ],
        }),
      );
      const run = await runBinary(['--offline', '--trust-policy', policy, `--pod=${payload}`, '--output', 'json'], {
        PATH: '/usr/bin:/bin',
        HOME: pod,
        POD_NAME: payload,
        POD_NAMESPACE: payload,
        AWS_ROLE_ARN: i % 2 ? `arn:aws:iam::111122223333:role/${word}/app` : payload,
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_REGION: payload,
        // Every other run keeps the IRSA pair valid, so that the token checks run on the hostile token.
        ...(i % 2 === 0 ? { AWS_ROLE_SESSION_NAME: payload } : {}),
        HTTPS_PROXY: 'http://proxy.internal:3128',
        NO_PROXY: `${payload},example.com`,
        AWS_CONFIG_FILE: config,
        AWS_PROFILE: payload.replace(/\n/g, ''),
        AWS_ENDPOINT_URL: i % 2 ? `https://${word}.example.com` : payload,
        ...(i % 4 === 2 ? { AWS_CONTAINER_CREDENTIALS_FULL_URI: payload } : {}),
      });
      expect([0, 1], run.stderr).toContain(run.code);
      const found = commandsOf(run.stdout);
      found.codes.forEach((c) => codes.add(c));
      commands.push(...found.commands);
    }
    const verdict = lab.check(commands);
    expect(verdict.syntaxErrors).toEqual([]);
    expect(verdict.markers).toEqual([]);
    expect(verdict.flagArguments).toEqual([]);
    expect(verdict.invocations).toBeGreaterThan(20);
    // The payloads reached the finding paths that print commands with these values.
    for (const code of ['ROLE_ARN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_AUDIENCE_MISMATCH', 'PROXY_INTERCEPTS_METADATA']) {
      expect([...codes]).toContain(code);
    }
  });

  it('a Kubernetes API whose names and Forbidden messages carry payloads', { timeout: 120_000 }, async () => {
    const lab = shellLab();
    const commands: string[] = [];
    for (const [i, payload] of lab.payloads.entries()) {
      const scenario = kubeScenario(i % 2 ? 'annotation-missing' : 'ephemeral-container');
      const rename = (o: KubeObject): KubeObject => {
        const copy = structuredClone(o) as KubeObject & { spec?: Record<string, unknown> };
        const metadata = copy.metadata as Record<string, unknown>;
        if (copy.kind === 'Pod') {
          const spec = copy.spec as { containers: { name: string }[]; serviceAccountName?: string };
          spec.containers.forEach((c) => (c.name = payload));
          for (const ref of (metadata.ownerReferences as { name: string }[] | undefined) ?? []) ref.name = payload;
        }
        return copy;
      };
      const forbidden = i % 3 === 0;
      api = await startKubeApi({
        ...scenario.state,
        objects: scenario.state.objects.map(rename),
        ...(forbidden
          ? {
              forbidden: ['pods'],
              user: i % 2 ? `system:serviceaccount:${payload}:${payload}` : payload.replace(/"/g, ''),
            }
          : {}),
      });
      const home = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-fix-kube-'));
      const kubeconfig = await api.writeKubeconfig(home);
      const run = await runBinary(
        ['--kubeconfig', kubeconfig, '--only', 'kube.pod,kube.serviceaccount,kube.webhook', '--output', 'json'],
        {
          PATH: '/usr/bin:/bin',
          HOME: home,
          POD_NAMESPACE: scenario.world.namespace,
          POD_NAME: scenario.world.podName,
          ...scenario.processEnv,
        },
      );
      expect([0, 1], run.stderr).toContain(run.code);
      commands.push(...commandsOf(run.stdout).commands);
      await api.close();
      api = undefined;
    }
    const verdict = lab.check(commands);
    expect(verdict.syntaxErrors).toEqual([]);
    expect(verdict.markers).toEqual([]);
    expect(verdict.flagArguments).toEqual([]);
    expect(commands.length).toBeGreaterThan(20);
    expect(verdict.invocations).toBeGreaterThan(5);
    // A kubeconfig user is any text: it is in the RBAC commands and YAML, quoted.
    expect(commands.some((c) => c.includes('--user=') && c.includes(lab.markers))).toBe(true);
  });
});
