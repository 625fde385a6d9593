import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINARY } from '../helpers/binary';
import { expectValidReport } from '../helpers/reports';
import type { TracedRun } from '../helpers/hostile';
import {
  STRACE,
  TRACED,
  chrootProblem,
  chrootedSleep,
  makeTargetRoot,
  startedProcesses,
  straceProblem,
  traced,
} from '../helpers/hostile';

/**
 * docs/security.md, "Programs": the doctor runs no program, whatever the configuration it reads says. Every
 * command below would leave a marker file if anything ran it; the built binary runs under strace -f, which
 * sees every exec and every fork or non-thread clone of it and of anything it started. Without --target the
 * configuration is this process's own (HOME, AWS_CONFIG_FILE, KUBECONFIG, --kubeconfig); with --target it is
 * the app's, in the app's root, which is where a hostile app would plant it.
 */
const skip = straceProblem;
if (skip) console.warn(`no-program.test.ts skipped: ${skip}`);

const work = mkdtempSync(path.join(tmpdir(), 'irsa-noprog-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const marker = (name: string) => path.join(work, `RAN-${name}`);
const MARKERS = [
  'process',
  'source-process',
  'exec',
  'auth-provider',
  'cli-exec',
  'target-process',
  'target-exec',
  'target-auth-provider',
];

interface Report {
  checks: { id: string; status: string; summary: string }[];
  findings: { code: string; checkId: string; summary: string; evidence: Record<string, unknown> }[];
}

function awsConfig(file: string, process: string): void {
  writeFileSync(
    file,
    [
      '[default]',
      `credential_process = sh -c 'touch ${marker(process)}; echo {}'`,
      '[profile chained]',
      'role_arn = arn:aws:iam::111122223333:role/chained',
      'source_profile = source',
      '[profile source]',
      `credential_process = /bin/sh -c "touch ${marker('source-process')}"`,
      '',
    ].join('\n'),
  );
}

function kubeconfig(user: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'current-context: c',
    'clusters: [{name: k, cluster: {server: "https://127.0.0.1:1"}}]',
    'contexts: [{name: c, context: {cluster: k, user: u}}]',
    `users: [{name: u, user: ${user}}]`,
    '',
  ].join('\n');
}
const execUser = (name: string) =>
  `{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: /bin/sh, args: ["-c", "touch ${marker(name)}"]}}`;
const authProviderUser = (name: string) =>
  `{auth-provider: {name: gcp, config: {cmd-path: /bin/sh, cmd-args: "-c 'touch ${marker(name)}'", token-key: "{.t}", expiry-key: "{.e}"}}}`;

const BASE_ENV = { PATH: '/usr/bin:/bin', POD_NAME: 'app-0', POD_NAMESPACE: 'shop' };
const ARGS = ['--output', 'json', '--timeout', '3000'];

function expectNothingRan(run: TracedRun): Report {
  expect(run.trace, 'strace saw the binary').toMatch(/execve\(/);
  expect(startedProcesses(run.trace)).toEqual([]);
  for (const name of MARKERS) expect(existsSync(marker(name)), `marker ${name}`).toBe(false);
  const report = JSON.parse(run.stdout) as Report;
  expectValidReport(report);
  return report;
}

describe.skipIf(skip !== undefined)('the detector', () => {
  it('sees a program that starts another one (the control: what a run of credential_process would look like)', () => {
    const log = path.join(work, 'control.strace');
    spawnSync(STRACE as string, [
      '-f',
      '-y',
      '-qq',
      '-e',
      `trace=${TRACED}`,
      '-o',
      log,
      '/bin/sh',
      '-c',
      '/bin/true; :',
    ]);
    const started = startedProcesses(readFileSync(log, 'utf8'));
    expect(started.some((line) => line.includes('execve("/bin/true"'))).toBe(true);
  });
});

describe.skipIf(skip !== undefined || !existsSync(BINARY))('no program is ever run (strace -f)', () => {
  const home = path.join(work, 'home');
  let own: TracedRun;
  let chained: TracedRun;
  let cli: TracedRun;
  let libraries: TracedRun;
  const staticConfig = path.join(work, 'static.config');
  const tokenKubeconfig = path.join(work, 'token.yaml');

  beforeAll(async () => {
    mkdirSync(path.join(home, '.aws'), { recursive: true });
    awsConfig(path.join(home, '.aws/config'), 'process');
    writeFileSync(path.join(work, 'exec.yaml'), kubeconfig(execUser('exec')));
    writeFileSync(path.join(work, 'auth-provider.yaml'), kubeconfig(authProviderUser('auth-provider')));
    writeFileSync(path.join(work, 'cli.yaml'), kubeconfig(execUser('cli-exec')));
    writeFileSync(
      staticConfig,
      '[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n',
    );
    writeFileSync(tokenKubeconfig, kubeconfig('{token: abc}'));
    [own, chained, cli, libraries] = await Promise.all([
      traced(ARGS, { ...BASE_ENV, HOME: home, KUBECONFIG: path.join(work, 'exec.yaml') }),
      traced(ARGS, {
        ...BASE_ENV,
        HOME: home,
        AWS_PROFILE: 'chained',
        KUBECONFIG: path.join(work, 'auth-provider.yaml'),
      }),
      traced([...ARGS, '--kubeconfig', path.join(work, 'cli.yaml')], { ...BASE_ENV, HOME: home }),
      // Static keys of a profile: identity.caller builds an SDK client and signs GetCallerIdentity with them.
      traced(ARGS, {
        ...BASE_ENV,
        HOME: home,
        AWS_CONFIG_FILE: staticConfig,
        AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:1',
        AWS_REGION: 'us-west-2',
        KUBECONFIG: tokenKubeconfig,
      }),
    ]);
  }, 60_000);

  it('credential_process of the profile the chain picks: reported, quoted, not run', () => {
    const report = expectNothingRan(own);
    const finding = report.findings.find((f) => f.code === 'CREDENTIAL_PROCESS_NOT_RUN');
    expect(finding?.evidence.wouldRun).toBe(`sh -c 'sh -c '\\''touch ${marker('process')}; echo {}'\\'''`);
    expect(finding?.evidence.run).toBe(false);
    expect(report.checks.find((c) => c.id === 'identity.caller')?.summary).toMatch(
      /^skipped: the JS SDK chain would run credential_process of profile default, which irsa-doctor does not run/,
    );
  });

  it('a kubeconfig exec plugin (KUBECONFIG): reported with every word quoted, not run', () => {
    const report = expectNothingRan(own);
    const finding = report.findings.find((f) => f.code === 'KUBECONFIG_COMMAND_NOT_RUN');
    expect(finding?.evidence).toMatchObject({
      kind: 'exec',
      run: false,
      wouldRun: `/bin/sh '-c' 'touch ${marker('exec')}'`,
    });
    expect(report.checks.find((c) => c.id === 'kube.pod')?.summary).toMatch(
      /exec plugin, which irsa-doctor does not run$/,
    );
  });

  it('credential_process of a source_profile the chain reaches through role_arn: not run', () => {
    const report = expectNothingRan(chained);
    const finding = report.findings.find((f) => f.code === 'CREDENTIAL_PROCESS_NOT_RUN');
    expect(finding?.evidence).toMatchObject({ profile: 'source', selectedProfile: 'chained' });
  });

  it('an azure/gcp auth-provider cmd-path (run through a shell by client-node): reported as that shell, not run', () => {
    const report = expectNothingRan(chained);
    const finding = report.findings.find((f) => f.code === 'KUBECONFIG_COMMAND_NOT_RUN');
    expect(finding?.evidence).toMatchObject({ kind: 'auth-provider' });
    expect(finding?.evidence.wouldRun).toBe(`sh -c '"/bin/sh" -c '\\''touch ${marker('auth-provider')}'\\'''`);
  });

  it('the AWS SDK and client-node read no file of their own: only the file view opens the config files', () => {
    const report = expectNothingRan(libraries);
    expect(report.checks.find((c) => c.id === 'identity.caller')?.summary).toMatch(
      /^GetCallerIdentity with profile default \(static keys AKIA\*\*\*\*MPLE of profile default\) failed/,
    );
    const opens = libraries.trace.split('\n').filter((l) => /^\d+\s+open(at2?)?\(/.test(l));
    for (const file of [
      staticConfig,
      tokenKubeconfig,
      path.join(home, '.aws/config'),
      path.join(home, '.aws/credentials'),
    ]) {
      // A library opens by the path it was given; the file view never does (it walks /proc/self/fd/N).
      expect(
        opens.filter((l) => l.includes(`"${file}"`)),
        file,
      ).toEqual([]);
    }
    // The files were read, by the file view: non-blocking, the last component not followed.
    const reads = opens.filter((l) => l.endsWith(`<${staticConfig}>`) || l.endsWith(`<${tokenKubeconfig}>`));
    expect(reads.length).toBeGreaterThanOrEqual(2);
    for (const line of reads) expect(line).toMatch(/O_NONBLOCK.*O_NOFOLLOW|O_NOFOLLOW.*O_NONBLOCK/);
  });

  it("the user's own --kubeconfig with an exec plugin: not run either", () => {
    const report = expectNothingRan(cli);
    expect(report.findings.map((f) => f.code)).toContain('KUBECONFIG_COMMAND_NOT_RUN');
  });
});

if (!skip && chrootProblem) console.warn(`no-program.test.ts: the --target runs are skipped: ${chrootProblem}`);

describe.skipIf(skip !== undefined || chrootProblem !== undefined || !existsSync(BINARY))(
  'no program is ever run with --target: the app plants the configuration in its own root',
  () => {
    let run: TracedRun;
    let stop = () => undefined as void;

    beforeAll(async () => {
      const root = makeTargetRoot('irsa-noprog-root-');
      mkdirSync(path.join(root, 'home/app/.aws'), { recursive: true });
      mkdirSync(path.join(root, 'home/app/.kube'), { recursive: true });
      awsConfig(path.join(root, 'home/app/.aws/config'), 'target-process');
      writeFileSync(path.join(root, 'home/app/.kube/config'), kubeconfig(execUser('target-exec')));
      writeFileSync(path.join(root, 'home/app/.kube/azure'), kubeconfig(authProviderUser('target-auth-provider')));
      const app = await chrootedSleep(root, {
        HOME: '/home/app',
        KUBECONFIG: '/home/app/.kube/config:/home/app/.kube/azure',
        POD_NAME: 'app-0',
        POD_NAMESPACE: 'shop',
      });
      stop = app.stop;
      run = await traced(['--target', String(app.pid), ...ARGS], { PATH: '/usr/bin:/bin', HOME: work });
    }, 60_000);
    afterAll(() => stop());

    it("reads the app's profile inside its root, reports its credential_process, runs nothing", () => {
      const report = expectNothingRan(run);
      const finding = report.findings.find((f) => f.code === 'CREDENTIAL_PROCESS_NOT_RUN');
      expect(finding?.evidence.files).toBe('/home/app/.aws/config');
      expect(finding?.evidence.wouldRun).toContain(marker('target-process'));
    });

    it("never uses the app's KUBECONFIG (exec plugin, auth-provider cmd-path): not even read, so not reported either", () => {
      const report = expectNothingRan(run);
      expect(report.findings.map((f) => f.code)).not.toContain('KUBECONFIG_COMMAND_NOT_RUN');
      expect(report.checks.find((c) => c.id === 'kube.webhook')?.summary).toMatch(
        /the app's KUBECONFIG is never used with --target/,
      );
      expect(run.trace).not.toMatch(/\.kube\/(config|azure)>/);
    });
  },
);
