import type { SpawnSyncReturns } from 'node:child_process';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_NODE, unsupportedNode } from '../../src/cli/runtime';
import { SCENARIOS, materialize, startSimulatedEks } from '../../src/sim/index';
import type { KubeApiServer } from '../../src/sim/kube-api';
import { kubeScenario, startKubeApi } from '../../src/sim/kube-api';
import { TLS_UNAVAILABLE, selfSignedLoopbackCert } from '../helpers/tls';

/**
 * The npm package as a user gets it: `npm pack` of this repository (its `files` and `bin`), installed from the
 * tarball with npm, and run by `npx` and from npm's bin directory under the project's Node (node_modules/node,
 * v24; the package declares >= 22.19), with nothing of the repository on the path. The bins are the Node bundle
 * (dist/npm, built by `npm run build -- npm`, which npm test runs), not the Linux executable: this is what runs on macOS and Windows.
 * What the tests could not run here: macOS and Windows themselves, Node 22.
 */
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const NODE_BIN = path.join(REPO, 'node_modules', 'node', 'bin');
const NPM = ['/usr/bin/npm', '/usr/local/bin/npm'].find((p) => existsSync(p));
const NPX = ['/usr/bin/npx', '/usr/local/bin/npx'].find((p) => existsSync(p));
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
const unavailable = !existsSync(path.join(REPO, 'dist', 'npm', 'irsa-doctor.mjs'))
  ? 'dist/npm is missing: run "npm run build -- npm" first (npm test does)'
  : !NPM || !NPX
    ? 'npm or npx is missing'
    : !existsSync(path.join(NODE_BIN, 'node'))
      ? 'node_modules/node is missing (npm ci)'
      : undefined;
if (unavailable) console.warn(`npm-package.test.ts skipped: ${unavailable}`);

let work = '';
let tarball = '';
let prefix = '';
let home = '';
/** PATH as on a user's machine: the project's Node first, then the system; none of the repository's bins. */
let userPath = '';

beforeAll(() => {
  if (unavailable) return;
  work = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-npm-'));
  home = path.join(work, 'home');
  mkdirSync(home);
  userPath = `${NODE_BIN}:/usr/bin:/bin`;
  // --ignore-scripts: the bundle is the one the build made; prepack would rebuild it under the other tests.
  const packed = spawnSync(NPM!, ['pack', '--ignore-scripts', '--pack-destination', work, '--silent'], {
    cwd: REPO,
    encoding: 'utf8',
    env: { PATH: userPath, HOME: home },
  });
  if (packed.status !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
  tarball = path.join(work, `irsa-doctor-${VERSION}.tgz`);
  prefix = path.join(work, 'prefix');
  const installed = spawnSync(
    NPM!,
    ['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball],
    { encoding: 'utf8', env: { PATH: userPath, HOME: home } },
  );
  if (installed.status !== 0) throw new Error(`npm install failed: ${installed.stderr}`);
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function run(file: string, args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(file, args, {
    encoding: 'utf8',
    cwd: work,
    env: { PATH: `${prefix}/bin:${userPath}`, HOME: home, ...env },
    timeout: 60_000,
  });
}

/** The installed bin, as `irsa-doctor ...` in a shell would run it. */
const irsaDoctor = (args: string[], env: Record<string, string> = {}) =>
  run(path.join(prefix, 'bin', 'irsa-doctor'), args, env);

/** Asynchronous: the simulator of this process must keep answering while the bundle runs. */
function irsaDoctorAsync(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      path.join(prefix, 'bin', 'irsa-doctor'),
      args,
      { env: { PATH: `${prefix}/bin:${userPath}`, HOME: home, ...env }, encoding: 'utf8', timeout: 60_000 },
      (error, stdout) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out: stdout }),
    );
  });
}

describe.skipIf(unavailable !== undefined)('the npm package', () => {
  it('npm pack --dry-run: the Node bundle, both bins, LICENSE, README, the notices, nothing else', () => {
    const dry = spawnSync(NPM!, ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: REPO,
      encoding: 'utf8',
      env: { PATH: userPath, HOME: home },
    });
    const [pack] = JSON.parse(dry.stdout) as { files: { path: string; mode: number }[]; name: string }[];
    const files = pack!.files.map((f) => f.path);
    expect(files.filter((f) => !/^dist\/npm\/(chunks\/)?[\w.-]+$/.test(f)).sort()).toEqual(
      ['LICENSE', 'README.md', 'package.json'].sort(),
    );
    expect(files).toContain('dist/npm/irsa-doctor.mjs');
    expect(files).toContain('dist/npm/kubectl-irsa_doctor.mjs');
    expect(files).toContain('dist/npm/THIRD-PARTY-NOTICES.txt');
    // The bins are executable in the tarball (npm also sets the mode on install).
    for (const bin of ['dist/npm/irsa-doctor.mjs', 'dist/npm/kubectl-irsa_doctor.mjs']) {
      expect(pack!.files.find((f) => f.path === bin)!.mode & 0o111, bin).not.toBe(0);
    }
    const manifest = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      engines: { node: string };
      dependencies?: Record<string, string>;
    };
    expect(manifest.bin).toEqual({
      'irsa-doctor': 'dist/npm/irsa-doctor.mjs',
      'kubectl-irsa_doctor': 'dist/npm/kubectl-irsa_doctor.mjs',
    });
    // Everything is bundled: installing the package fetches nothing else.
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.engines.node).toBe(`>=${MIN_NODE}`);
  });

  it('npx runs it from the tarball: --version', () => {
    const result = run(NPX!, ['--yes', '--offline', `--package=${tarball}`, '--', 'irsa-doctor', '--version']);
    expect(result.stdout).toBe(`irsa-doctor ${VERSION}\n`);
    expect(result.status).toBe(0);
  });

  it('demo: the whole diagnosis against the simulator, under Node', () => {
    const healthy = irsaDoctor(['demo', '--output', 'json']);
    const report = JSON.parse(healthy.stdout) as { verdict: string; checks: { id: string; status: string }[] };
    expect(report.verdict).toBe('healthy');
    expect(report.checks.find((c) => c.id === 'kube.pod')?.status).toBe('pass');
    expect(healthy.status).toBe(0);
    const broken = irsaDoctor(['demo', 'trust-sub-mismatch', '--output', 'text']);
    const expected = SCENARIOS.find((s) => s.name === 'trust-sub-mismatch')!.expect;
    expect(broken.stdout).toContain(`Root cause: ${expected.rootCause} (`);
    expect(broken.status).toBe(expected.exitCode);
  });

  // The launchers under Node: `demo job` runs the real `irsa-doctor job` code (client-node, watches, logs) against
  // the simulated cluster, whose kubelet runs this same bundle under node as the Job's container.
  it('demo job: the launcher and the doctor in the Job, under Node', () => {
    const healthy = irsaDoctor(['demo', 'job', '--output', 'json']);
    expect(JSON.parse(healthy.stdout)).toMatchObject({ verdict: 'healthy', rootCause: null, mechanism: 'irsa' });
    expect(healthy.status).toBe(0);
    const broken = irsaDoctor(['demo', 'job', 'trust-sub-mismatch', '--output', 'text']);
    expect(broken.stderr).toContain('the npm bundle runs under node');
    expect(broken.stderr).toMatch(/irsa-doctor job: deleting Job shop\/irsa-doctor-checkout-[a-z0-9]{5} and its pod/);
    expect(broken.stdout).toContain('Root cause: TRUST_POLICY_DENIED (sts.assume-role)');
    expect(broken.status).toBe(1);
  });

  it('explain: a pasted STS error', () => {
    const message =
      'An error occurred (InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation: No OpenIDConnect provider found in your account for https://oidc.eks.us-west-2.amazonaws.com/id/ABC';
    const result = irsaDoctor(['explain', message]);
    expect(result.stdout).toContain('OIDC_PROVIDER_NOT_REGISTERED');
    expect(result.status).toBe(0);
  });

  it('the in-pod diagnosis under Node: STS, IMDS and the Kubernetes API over TLS with a private CA', async ({
    skip,
  }) => {
    if (TLS_UNAVAILABLE) skip(TLS_UNAVAILABLE);
    const sim = await startSimulatedEks('healthy-irsa');
    const scenario = kubeScenario('healthy');
    let api: KubeApiServer | undefined;
    const dir = mkdtempSync(path.join(work, 'pod-'));
    try {
      api = await startKubeApi(scenario.state, selfSignedLoopbackCert());
      const kubeconfig = await api.writeKubeconfig(dir);
      const { env } = materialize(sim, dir);
      const args = ['--output', 'json', '--kubeconfig', kubeconfig, '--namespace', scenario.world.namespace];
      const { code, out } = await irsaDoctorAsync([...args, '--pod', scenario.world.podName], env);
      const report = JSON.parse(out) as { checks: { id: string; status: string }[] };
      const status = (id: string) => report.checks.find((c) => c.id === id)?.status;
      expect(status('sts.assume-role')).toBe('pass');
      expect(status('identity.caller')).toBe('pass');
      expect(status('kube.pod')).toBe('pass');
      expect(status('kube.serviceaccount')).not.toBe('error');
      expect(api.requests).toContain(
        `GET /api/v1/namespaces/${scenario.world.namespace}/pods/${scenario.world.podName}`,
      );
      expect([0, 1]).toContain(code);
    } finally {
      await Promise.all([sim.close(), api?.close()]);
    }
  });

  it.skipIf(!SCRIPT)('the Ink TUI on a pseudo-terminal, under Node', () => {
    const bin = path.join(prefix, 'bin', 'irsa-doctor');
    const result = run(SCRIPT!, ['-qec', `'${bin}' demo node-role-fallback`, '/dev/null'], { TERM: 'xterm-256color' });
    expect(result.stdout).toContain('IRSA_ENV_MISSING');
    expect(result.stdout).toContain('╭');
    expect(result.status).toBe(1);
  });

  it.skipIf(!KUBECTL)('kubectl finds kubectl-irsa_doctor from npm and runs it as kubectl irsa-doctor', () => {
    const list = run(KUBECTL!, ['plugin', 'list']);
    expect(list.stdout).toContain(path.join(prefix, 'bin', 'kubectl-irsa_doctor'));
    expect(list.stderr).not.toMatch(/warning/i);
    const help = run(KUBECTL!, ['irsa-doctor', '--help']);
    expect(help.stdout).toMatch(/^ {2}kubectl irsa-doctor \[check\] \[options\]/m);
    expect(help.status).toBe(0);
  });

  // The system Node here is 20; the bundle must refuse it with a message, not a stack trace from undici.
  const systemNode = spawnSync('/usr/bin/node', ['-p', 'process.versions.node'], { encoding: 'utf8' });
  const oldNode = systemNode.status === 0 ? systemNode.stdout.trim() : undefined;
  it.skipIf(!oldNode || !unsupportedNode({ node: oldNode }))(
    `refuses Node older than ${MIN_NODE} (/usr/bin/node)`,
    () => {
      const result = spawnSync('/usr/bin/node', [path.join(prefix, 'bin', 'irsa-doctor'), '--version'], {
        encoding: 'utf8',
        env: { PATH: '/usr/bin:/bin', HOME: home },
      });
      expect(result.stderr).toBe(`irsa-doctor: needs Node.js ${MIN_NODE} or later; this is Node.js ${oldNode}\n`);
      expect(result.stdout).toBe('');
      expect(result.status).toBe(2);
    },
  );
});
