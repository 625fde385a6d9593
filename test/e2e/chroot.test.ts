import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_BINARY, imageRoot, writeImageRoot } from '../../scripts/image-root';
import { KUBE_SA_DIR } from '../../src/aws/env-names';
import { TARGET_ACCESS_HELP } from '../../src/context/target';
import type { SimulatedEks } from '../../src/sim/index';
import {
  SIM_NAMESPACE,
  SIM_POD,
  SIM_REGION,
  SIM_ROLE_ARN,
  SIM_SERVICE_ACCOUNT,
  startSimulatedEks,
} from '../../src/sim/index';
import type { KubeApiServer } from '../../src/sim/kube-api';
import { kubeScenario, startKubeApi } from '../../src/sim/kube-api';
import { BINARY_UNAVAILABLE, HANG_TIMER_SCALE, UNDER_TEST } from '../helpers/binary';
import { dockerfileStages, imageRuntime } from '../helpers/dockerfile';
import { TLS_UNAVAILABLE, selfSignedLoopbackCert } from '../helpers/tls';
import { parseReport } from '../helpers/reports';

/**
 * No Docker engine here, so this proves the Dockerfile's final stage another way: a root holding exactly the
 * image's files (scripts/image-root.ts, which the Dockerfile's build stage runs to make /rootfs, the only thing
 * its final stage copies: test/unit/dockerfile.test.ts), plus what the container runtime adds:
 * /dev/{null,random,urandom} and /proc (Bun finds its payload through /proc/self/exe: docs/packaging.md). It
 * runs as the image's USER with the image's ENV and nothing else, both read from the Dockerfile. The root is
 * owned by root, so that user can write nothing: the run also shows the binary needs no writable filesystem
 * (readOnlyRootFilesystem). The second part adds the rest of the Job's securityContext (a read-only mount, no
 * capabilities, no_new_privs), the pod's in-cluster Kubernetes API access, and --target between containers.
 *
 * Against the arm64 build (vitest.config.ts) the root is made from that binary and the arm64 glibc, and holds
 * one file more: the user-mode emulator (qemu-aarch64-static, a static executable), which runs it.
 */
const BINARY = UNDER_TEST.path;
const IMAGE = imageRuntime(dockerfileStages().at(-1)!);
const [IMAGE_UID, IMAGE_GID] = (IMAGE.user ?? '').split(':').map(Number) as [number, number];
/** Where the emulator goes in the root, when there is one. */
const EMULATOR = UNDER_TEST.emulator ? `/${basename(UNDER_TEST.emulator)}` : undefined;
/** The program and arguments that start the image's entrypoint with `args` inside the root. */
const entrypoint = (args: readonly string[]): string[] =>
  EMULATOR ? [EMULATOR, IMAGE_BINARY, ...args] : [IMAGE_BINARY, ...args];
const CHROOT = ['/usr/sbin/chroot', '/usr/bin/chroot'].find((p) => existsSync(p));
const MOUNT = ['/usr/bin/mount', '/bin/mount'].find((p) => existsSync(p));
const UMOUNT = ['/usr/bin/umount', '/bin/umount'].find((p) => existsSync(p));
const MKNOD = ['/usr/bin/mknod', '/bin/mknod'].find((p) => existsSync(p));
/**
 * capsh (libcap2-bin) rather than util-linux setpriv: setpriv here (2.38) drops uid, groups, capabilities
 * and sets no_new_privs, but cannot chroot, and after it nothing may; capsh chroots first, then drops.
 */
const CAPSH = ['/usr/sbin/capsh', '/sbin/capsh', '/usr/bin/capsh'].find((p) => existsSync(p));
/** Where the kubelet mounts projected tokens; a tmpfs in the read-only view, as in a pod. */
const SECRETS_DIR = '/var/run/secrets';

const unavailable =
  BINARY_UNAVAILABLE ??
  (process.getuid?.() !== 0
    ? 'not running as root (chroot, mount and mknod need it)'
    : !CHROOT || !MOUNT || !UMOUNT || !MKNOD
      ? 'chroot, mount, umount or mknod is missing'
      : undefined);
if (unavailable) console.warn(`chroot.test.ts skipped: ${unavailable}`);

let root = '';
let procMounted = false;
/** Set when the sandbox itself cannot be built here (e.g. no CAP_SYS_ADMIN for mount): the tests skip. */
let setupProblem: string | undefined;

function run(file: string, args: string[]): { code: number | null; out: string; err: string } {
  const result = spawnSync(file, args, { encoding: 'utf8', env: {}, timeout: 20_000 * HANG_TIMER_SCALE });
  return { code: result.status, out: result.stdout ?? '', err: result.stderr ?? String(result.error ?? '') };
}

/** The shared objects the binary loads, loader included, as `ldd` prints them (this machine's binaries only). */
function linkedLibraries(): string[] {
  const { code, out, err } = run('/usr/bin/ldd', [BINARY]);
  if (code !== 0) throw new Error(`ldd ${BINARY} failed: ${err}`);
  return out
    .split('\n')
    .map((line) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1])
    .filter((path): path is string => path !== undefined);
}

/** Every non-directory path under dir, relative to root; /proc is the kernel's, not ours. */
function filesUnder(dir: string, relative: string): string[] {
  return readdirSync(join(dir, relative), { withFileTypes: true }).flatMap((entry) => {
    const path = `${relative}/${entry.name}`;
    if (path === '/proc') return [];
    return entry.isDirectory() ? filesUnder(dir, path) : [path];
  });
}

/** The image's files, from the binary under test and its architecture's glibc. */
const imageFiles = () => imageRoot(BINARY, UNDER_TEST.sysroot);

beforeAll(() => {
  if (unavailable) return;
  root = mkdtempSync(join(tmpdir(), 'irsa-chroot-'));
  chmodSync(root, 0o755);
  writeImageRoot(imageFiles(), root);
  if (EMULATOR) {
    copyFileSync(UNDER_TEST.emulator!, join(root, EMULATOR));
    chmodSync(join(root, EMULATOR), 0o755);
  }
  mkdirSync(join(root, 'dev'));
  for (const [name, minor] of [
    ['null', 3],
    ['random', 8],
    ['urandom', 9],
  ] as const) {
    const made = run(MKNOD!, ['-m', '666', join(root, 'dev', name), 'c', '1', String(minor)]);
    if (made.code !== 0) {
      setupProblem = `mknod failed: ${made.err.trim()}`;
      return;
    }
  }
  mkdirSync(join(root, 'proc'));
  // Only the mount point of the pod's token volumes (see below): a directory, not a file of the root.
  mkdirSync(join(root, SECRETS_DIR), { recursive: true });
  const mounted = run(MOUNT!, ['-t', 'proc', 'proc', join(root, 'proc')]);
  if (mounted.code !== 0) {
    setupProblem = `mount -t proc failed: ${mounted.err.trim()}`;
    return;
  }
  procMounted = true;
});

/** Unmounts, lazily if busy; true when the mount is really gone (never delete through a live mount). */
function unmount(path: string): boolean {
  if (run(UMOUNT!, [path]).code !== 0) run(UMOUNT!, ['-l', path]);
  return !readFileSync('/proc/mounts', 'utf8').includes(` ${path} `);
}

afterAll(() => {
  if (!root) return;
  if (procMounted) {
    const proc = join(root, 'proc');
    if (run(UMOUNT!, [proc]).code !== 0) run(UMOUNT!, ['-l', proc]);
    // Never delete through a live /proc mount.
    if (readFileSync('/proc/mounts', 'utf8').includes(` ${proc} `)) return;
  }
  rmSync(root, { recursive: true, force: true });
});

describe.skipIf(unavailable !== undefined)('the binary in a root holding only the image', () => {
  it("holds nothing but the image's files (the binary, its loader and libraries), three device nodes and /proc", ({
    skip,
  }) => {
    if (setupProblem) {
      console.warn(`chroot.test.ts skipped: ${setupProblem}`);
      skip(setupProblem);
    }
    const image = imageFiles().map((f) => f.path);
    const files = filesUnder(root, '').sort();
    expect(files).toEqual(
      ['/dev/null', '/dev/random', '/dev/urandom', ...image, ...(EMULATOR ? [EMULATOR] : [])].sort(),
    );
    // The libraries are glibc's and nothing else: libc, libm, libpthread, libdl and the loader.
    expect(
      image
        .filter((f) => f !== IMAGE_BINARY)
        .map((f) => basename(f).replace(/[.-].*$/, ''))
        .sort(),
    ).toEqual(['ld', 'libc', 'libdl', 'libm', 'libpthread']);
    // On this machine's own build, what the ELF headers name is what the dynamic loader loads (ldd).
    if (!EMULATOR) expect(image.filter((f) => f !== IMAGE_BINARY).sort()).toEqual(linkedLibraries().sort());
  });

  it("prints its version as the image's user", ({ skip }) => {
    if (setupProblem) {
      console.warn(`chroot.test.ts skipped: ${setupProblem}`);
      skip(setupProblem);
    }
    const result = run(CHROOT!, [`--userspec=${IMAGE.user}`, root, ...entrypoint(['--version'])]);
    expect(result.err).toBe('');
    expect(result.out).toMatch(/^irsa-doctor \d+\.\d+\.\d+\n$/);
    expect(result.code).toBe(0);
  });

  it('diagnoses an empty env offline: JSON with IRSA_ENV_MISSING and exit 1', ({ skip }) => {
    if (setupProblem) {
      console.warn(`chroot.test.ts skipped: ${setupProblem}`);
      skip(setupProblem);
    }
    // The image's env exactly (env -i HOME=/tmp): HOME is the only variable, no PATH, no AWS_*.
    const result = spawnSync(
      CHROOT!,
      [`--userspec=${IMAGE.user}`, root, ...entrypoint(['--offline', '--output', 'json'])],
      { encoding: 'utf8', env: { ...IMAGE.env }, timeout: 20_000 * HANG_TIMER_SCALE },
    );
    const report = parseReport(result.stdout) as unknown as { verdict: string; rootCause: { code: string } | null };
    expect(report.verdict).toBe('broken');
    expect(report.rootCause?.code).toBe('IRSA_ENV_MISSING');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(1);
  });
});

if (!unavailable && !CAPSH)
  console.warn('chroot.test.ts: least-privilege runs skipped: capsh (libcap2-bin) is missing');

/**
 * The securityContext of examples/job.yaml and examples/debug-container.json, here: the same root seen through
 * read-only bind mounts (readOnlyRootFilesystem), one as the app container with the pod's token volumes (a
 * read-only tmpfs, as the kubelet mounts them), one as a kubectl debug container without them; every capability
 * set empty including the bounding set (capabilities: drop: [ALL]), no_new_privs (allowPrivilegeEscalation:
 * false) and the image's uid/gid with no supplementary groups (runAsNonRoot). The app container also gets what
 * the kubelet gives every pod for the Kubernetes API: KUBERNETES_SERVICE_HOST/PORT and the ServiceAccount's
 * token and CA, here of an HTTPS API server on loopback that serves this pod, its ServiceAccount and the webhook.
 */
describe.skipIf(unavailable !== undefined || !CAPSH)('the binary under the least-privilege securityContext', () => {
  /** The app container: the read-only root plus the pod's token volumes. */
  let view = '';
  /** A kubectl debug container: the same read-only root, without the app's volumes. */
  let debugView = '';
  /** Mounted paths in mount order; unmounted in reverse. */
  const mounts: string[] = [];
  let sim: SimulatedEks | undefined;
  let kubeApi: KubeApiServer | undefined;
  /** The app container's env: the sim's, and the in-cluster API service when a certificate could be made. */
  let appEnv: Record<string, string> = {};
  let viewProblem: string | undefined;

  beforeAll(async () => {
    if (setupProblem) return;
    sim = await startSimulatedEks('healthy-irsa');
    appEnv = { ...sim.env };
    const serviceAccountToken = sim.files[`${KUBE_SA_DIR}/token`];
    let kubeCa: string | undefined;
    if (TLS_UNAVAILABLE) console.warn(`chroot.test.ts: in-cluster API access not tested: ${TLS_UNAVAILABLE}`);
    else if (serviceAccountToken) {
      const tls = selfSignedLoopbackCert();
      const world = {
        namespace: SIM_NAMESPACE,
        serviceAccount: SIM_SERVICE_ACCOUNT,
        deployment: 'checkout',
        replicaSet: SIM_POD.slice(0, SIM_POD.lastIndexOf('-')),
        podName: SIM_POD,
        roleArn: SIM_ROLE_ARN,
        region: SIM_REGION,
      };
      // The API server accepts exactly the pod's ServiceAccount token (another is 401).
      kubeApi = await startKubeApi({ ...kubeScenario('healthy', world).state, token: serviceAccountToken }, tls);
      kubeCa = tls.cert;
      const port = new URL(kubeApi.url).port;
      appEnv = { ...appEnv, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port };
    }
    view = mkdtempSync(join(tmpdir(), 'irsa-chroot-ro-'));
    debugView = mkdtempSync(join(tmpdir(), 'irsa-chroot-debug-'));
    const mount = (args: string[], target: string) => {
      const result = run(MOUNT!, [...args, target]);
      if (result.code !== 0) viewProblem ??= `mount ${args.join(' ')} ${target} failed: ${result.err.trim()}`;
      else if (!mounts.includes(target)) mounts.push(target);
      return result.code === 0;
    };
    const secrets = join(view, SECRETS_DIR);
    for (const dir of [view, debugView]) {
      if (!mount(['--bind', root], dir) || !mount(['-o', 'remount,bind,ro'], dir)) return;
      if (!mount(['-t', 'proc', 'proc'], join(dir, 'proc'))) return;
    }
    if (!mount(['-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs'], secrets)) return;
    const podFiles = { ...sim.files, ...(kubeCa ? { [`${KUBE_SA_DIR}/ca.crt`]: kubeCa } : {}) };
    for (const [appPath, contents] of Object.entries(podFiles)) {
      if (!appPath.startsWith(`${SECRETS_DIR}/`)) throw new Error(`sim file outside ${SECRETS_DIR}: ${appPath}`);
      mkdirSync(join(view, dirname(appPath)), { recursive: true, mode: 0o755 });
      writeFileSync(join(view, appPath), contents, { mode: 0o644 });
    }
    mount(['-o', 'remount,ro'], secrets);
  });

  afterAll(async () => {
    await Promise.all([sim?.close(), kubeApi?.close()]);
    if (!view) return;
    const gone = mounts.reverse().every(unmount);
    // rmdir, never a recursive delete: a mount that is still there keeps its contents.
    if (gone) [view, debugView].forEach((dir) => rmdirSync(dir));
  });

  /** Runs /irsa-doctor chrooted in `dir` as `uid`, with nothing but `env`, after dropping everything. */
  function sandboxed(
    uid: number,
    args: string[],
    env: Record<string, string>,
    { dir = view, stdin = 'ignore', gid = uid }: { dir?: string; stdin?: 'ignore' | 'pipe'; gid?: number } = {},
  ) {
    const drop = ['--drop=all', '--inh=', `--gid=${gid}`, '--groups=', `--uid=${uid}`, '--no-new-privs'];
    const [program, ...argv] = entrypoint(args);
    return spawn(CAPSH!, [`--chroot=${dir}`, ...drop, `--shell=${program}`, '--', ...argv], {
      env,
      stdio: [stdin, 'pipe', 'pipe'],
    });
  }

  /** Async: the sim answers from this process's event loop. */
  function finished(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve) => {
      let out = '';
      let err = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000 * HANG_TIMER_SCALE);
      child.on('close', (code) => {
        clearTimeout(killer);
        resolve({ code, out, err });
      });
    });
  }

  /** The pid once capsh has chrooted and exec'd the binary (the same pid: capsh execs, it does not fork). */
  async function execdInView(child: ChildProcess): Promise<number> {
    const pid = child.pid!;
    for (let attempt = 0; attempt < 500; attempt++) {
      try {
        if (
          readlinkSync(`/proc/${pid}/root`) === view &&
          readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(`${entrypoint([]).join('\0')}\0`)
        )
          return pid;
      } catch {
        // not there yet, or gone: the exit shows below
      }
      if (child.exitCode !== null) throw new Error(`the target exited with ${child.exitCode}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('the target never started /irsa-doctor in the view');
  }

  /** A long-lived process of the app container: `explain -` waits for stdin, which stays open until `stop`. */
  async function startTarget(uid: number, gid = uid) {
    const child = sandboxed(uid, ['explain', '-'], sim!.env, { stdin: 'pipe', gid });
    const done = finished(child);
    const pid = await execdInView(child);
    return {
      pid,
      stop: async () => {
        child.stdin?.end();
        return done;
      },
    };
  }

  const statusField = (pid: number, name: string) =>
    /^(\w+):\s*(.*)$/m.exec(
      readFileSync(`/proc/${pid}/status`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith(`${name}:`)) ?? '',
    )?.[2];

  interface Report {
    verdict: string;
    mechanism: string;
    rootCause: { code: string } | null;
    checks: { id: string; status: string }[];
  }

  it('the root and the token volume are read-only', ({ skip }) => {
    if (setupProblem ?? viewProblem) skip(setupProblem ?? viewProblem);
    expect(() => writeFileSync(join(view, 'probe'), 'x')).toThrow(/EROFS/);
    expect(() => writeFileSync(join(view, SECRETS_DIR, 'probe'), 'x')).toThrow(/EROFS/);
    expect(() => writeFileSync(join(debugView, 'probe'), 'x')).toThrow(/EROFS/);
    expect(existsSync(join(view, sim!.env.AWS_WEB_IDENTITY_TOKEN_FILE!))).toBe(true);
    // The debug container does not have the app's token: --target must read it through /proc/PID/root.
    expect(existsSync(join(debugView, sim!.env.AWS_WEB_IDENTITY_TOKEN_FILE!))).toBe(false);
  });

  it('diagnoses healthy IRSA against the simulated EKS on loopback: STS issues the role, exit 0', async ({ skip }) => {
    if (setupProblem ?? viewProblem) skip(setupProblem ?? viewProblem);
    const result = await finished(
      sandboxed(IMAGE_UID, ['--output', 'json', '--timeout', '8000'], { ...IMAGE.env, ...appEnv }, { gid: IMAGE_GID }),
    );
    const report = parseReport(result.out) as unknown as Report;
    expect(report.checks.find((c) => c.id === 'token.file')?.status).toBe('pass');
    expect(report.checks.find((c) => c.id === 'sts.assume-role')?.status).toBe('pass');
    if (kubeApi) {
      // In-cluster access: the pod's ServiceAccount token and CA from the read-only volume, over TLS.
      for (const id of ['kube.pod', 'kube.serviceaccount', 'kube.webhook']) {
        expect(report.checks.find((c) => c.id === id)?.status, id).toBe('pass');
      }
      expect(kubeApi.requests).toContain(`GET /api/v1/namespaces/${SIM_NAMESPACE}/pods/${SIM_POD}`);
    }
    expect(report.rootCause).toBeNull();
    expect(report.verdict).toBe('healthy');
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
  });

  it('--target PID of a process of the same uid and gid reads its env and token with no capability at all', async ({
    skip,
  }) => {
    if (setupProblem ?? viewProblem) skip(setupProblem ?? viewProblem);
    const target = await startTarget(IMAGE_UID, IMAGE_GID);
    try {
      // The sandbox is what it claims, seen from outside: no capability in any set, no_new_privs, the image's uid.
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) {
        expect(statusField(target.pid, set), set).toBe('0000000000000000');
      }
      expect(statusField(target.pid, 'NoNewPrivs')).toBe('1');
      expect(statusField(target.pid, 'Uid')?.split(/\s+/)).toEqual(Array(4).fill(String(IMAGE_UID)));
      expect(statusField(target.pid, 'Groups')).toBe('');
      // Nothing of IRSA in the doctor's own env or root (the debug container's): all of it comes from
      // /proc/PID/environ and /proc/PID/root.
      const args = ['--target', String(target.pid), '--output', 'json', '--timeout', '8000'];
      const result = await finished(sandboxed(IMAGE_UID, args, { ...IMAGE.env }, { dir: debugView, gid: IMAGE_GID }));
      const report = parseReport(result.out) as unknown as Report;
      expect(report.mechanism).toBe('irsa');
      expect(report.checks.find((c) => c.id === 'token.file')?.status).toBe('pass');
      expect(report.checks.find((c) => c.id === 'sts.assume-role')?.status).toBe('pass');
      expect(report.verdict).toBe('healthy');
      expect(result.err).toBe('');
      expect(result.code).toBe(0);
    } finally {
      expect((await target.stop()).code).toBe(0);
    }
  });

  it.for([
    { who: 'another uid', uid: IMAGE_UID + 1, gid: IMAGE_GID + 1 },
    // The kernel's ptrace access check compares gids too: runAsGroup must match the app's as well.
    { who: 'the same uid but another gid', uid: IMAGE_UID, gid: IMAGE_GID + 1 },
  ])('--target PID of $who fails with the access help and exit 2, not a crash', async ({ uid, gid }, { skip }) => {
    if (setupProblem ?? viewProblem) skip(setupProblem ?? viewProblem);
    const target = await startTarget(uid, gid);
    try {
      const args = ['--target', String(target.pid)];
      const result = await finished(sandboxed(IMAGE_UID, args, { ...IMAGE.env }, { dir: debugView, gid: IMAGE_GID }));
      expect(result.err).toContain(
        `--target ${target.pid}: permission denied reading /proc/${target.pid}/environ: it runs as uid ${uid} gid ${gid}, this process as uid ${IMAGE_UID} gid ${IMAGE_GID}`,
      );
      // The help, with the app's uid and gid filled into the kubectl command.
      expect(result.err).toContain(`"runAsUser":${uid},"runAsGroup":${gid}`);
      expect(result.err).toContain(TARGET_ACCESS_HELP.split('\n')[0]);
      expect(result.err).not.toMatch(/panic|\n\s+at /);
      expect(result.out).toBe('');
      expect(result.code).toBe(2);
    } finally {
      await target.stop();
    }
  });
});
