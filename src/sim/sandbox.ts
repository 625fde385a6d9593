import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fsp, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/*
 * How the simulated kubelet runs a container: as a child process of the real binary, isolated as far as this
 * machine allows.
 *
 * `namespaces` (Linux, as root, with util-linux unshare/nsenter and libcap's capsh): what a container runtime
 * does, with the kernel's own primitives. Each pod container is the first process of its own PID namespace
 * (unshare --pid --fork --kill-child) with a private mount namespace where that namespace's /proc is mounted,
 * chrooted into its own root directory, then reduced by capsh to the container's uid and gid, no supplementary
 * group, no capability in any set (bounding included) and no_new_privs: what `runAsUser`/`runAsGroup`,
 * `capabilities: drop: [ALL]` and `allowPrivilegeEscalation: false` give. Roots belong to root and are 0755, so a
 * non-root container can write nothing (readOnlyRootFilesystem). An ephemeral container enters the PID namespace
 * of its targetContainerName (nsenter --pid), as `kubectl debug --target` does, with a root of its own that holds
 * only the image (the binary and the libraries it links). So `--target auto` in it sees the app's process, and
 * reads the app's env and token through /proc/PID/environ and /proc/PID/root exactly as in a pod: same uid/gid
 * checks by the kernel, same paths. What this does not have: network namespaces (everything shares loopback,
 * which is how the simulated AWS endpoints are reached), cgroups (no limits), seccomp (RuntimeDefault is not
 * applied), and images other than this binary.
 *
 * `processes` (anywhere else: not root, not Linux, tools missing, or the doctor is not one executable): plain
 * child processes of this uid. The container's files are written under a directory and the env values that
 * name them point there; its Kubernetes credentials come as a KUBECONFIG file, because the in-cluster path
 * cannot be mounted. For an ephemeral container `--target auto` becomes `--target PID` of the target's process
 * (all processes share one root, so auto cannot tell containers apart), or, without /proc (macOS), the doctor
 * gets the target's env directly. This shows the whole path of the launchers, but not the isolation.
 */

export type IsolationMode = 'namespaces' | 'processes';

export interface Isolation {
  readonly mode: IsolationMode;
  /** Why `processes` was chosen, for the user. */
  readonly reason?: string;
}

export interface DoctorCommand {
  /** The executable that runs the doctor (the compiled binary, or node for the npm bundle). */
  readonly command: string;
  /** Arguments before the doctor's own (the bundle's path under node). */
  readonly args: readonly string[];
}

const TOOLS = {
  unshare: ['/usr/bin/unshare', '/bin/unshare'],
  nsenter: ['/usr/bin/nsenter', '/bin/nsenter'],
  capsh: ['/usr/sbin/capsh', '/sbin/capsh', '/usr/bin/capsh'],
  ldd: ['/usr/bin/ldd', '/bin/ldd'],
  mknod: ['/usr/bin/mknod', '/bin/mknod'],
} as const;

type Tool = keyof typeof TOOLS;

function findTool(tool: Tool): string | undefined {
  return TOOLS[tool].find((p) => existsSync(p));
}

let probed: Isolation | undefined;

/** Picks `namespaces` when this machine can do it, else `processes` with the reason. */
export function detectIsolation(doctor: DoctorCommand): Isolation {
  if (process.platform !== 'linux') return { mode: 'processes', reason: `${process.platform} has no Linux namespaces` };
  if (process.getuid?.() !== 0)
    return { mode: 'processes', reason: 'not running as root (namespaces, chroot and mknod need it)' };
  if (doctor.args.length > 0)
    return { mode: 'processes', reason: 'the doctor is not a single executable (the npm bundle runs under node)' };
  const missing = (Object.keys(TOOLS) as Tool[]).filter((t) => !findTool(t));
  if (missing.length > 0)
    return { mode: 'processes', reason: `${missing.join(', ')} not found (util-linux, libcap2-bin)` };
  if (!probed) {
    const result = spawnSync(findTool('unshare') as string, ['--pid', '--fork', '--mount-proc', '/bin/true'], {
      stdio: 'ignore',
      timeout: 10_000,
    });
    probed =
      result.status === 0
        ? { mode: 'namespaces' }
        : { mode: 'processes', reason: 'unshare --pid is refused here (no CAP_SYS_ADMIN in this container?)' };
  }
  return probed;
}

export interface ContainerUser {
  readonly uid: number;
  readonly gid: number;
}

export interface ContainerLaunch {
  /** The container's own root (namespaces) or the directory its files are under (processes). */
  readonly root: string;
  readonly user: ContainerUser;
  readonly env: Readonly<Record<string, string>>;
  /** The doctor's arguments. */
  readonly args: readonly string[];
  /** Keep stdin open as a pipe (the app stand-in waits on it); else /dev/null. */
  readonly stdinPipe: boolean;
  /** An ephemeral container: the target container's process (its PID namespace is entered). */
  readonly target?: ChildProcess;
}

export interface Runtime {
  readonly isolation: Isolation;
  /** Paths inside the container become these host paths (namespaces: root + path; processes: the same). */
  prepareRoot(root: string, image: 'doctor' | 'app'): Promise<void>;
  /** Where a file the container sees at `containerPath` is written on this machine. */
  hostPath(root: string, containerPath: string): string;
  start(launch: ContainerLaunch): ChildProcess;
  /**
   * Sends `signal` to the container's own process: under namespaces that is the child of unshare/nsenter (both
   * ignore SIGTERM while they wait for it), under processes the child itself.
   */
  signal(child: ChildProcess, signal: NodeJS.Signals): void;
}

export function createRuntime(isolation: Isolation, doctor: DoctorCommand, workDir: string): Runtime {
  return isolation.mode === 'namespaces'
    ? namespaceRuntime(isolation, doctor, workDir)
    : processRuntime(isolation, doctor);
}

function namespaceRuntime(isolation: Isolation, doctor: DoctorCommand, workDir: string): Runtime {
  const tool = (t: Tool) => findTool(t) as string;
  const image = path.join(workDir, 'image');
  let built: Promise<string[]> | undefined;
  /** The image once per kubelet: the binary (a hard link when on the same filesystem), its libraries, /dev. */
  const buildImage = () =>
    (built ??= (async () => {
      mkdirSync(path.join(image, 'dev'), { recursive: true, mode: 0o755 });
      const files: string[] = ['/irsa-doctor'];
      try {
        linkSync(doctor.command, path.join(image, 'irsa-doctor'));
      } catch {
        await fsp.copyFile(doctor.command, path.join(image, 'irsa-doctor'));
      }
      await fsp.chmod(path.join(image, 'irsa-doctor'), 0o755);
      const ldd = spawnSync(tool('ldd'), [doctor.command], { encoding: 'utf8', timeout: 10_000 });
      if (ldd.status !== 0) throw new Error(`ldd ${doctor.command} failed: ${ldd.stderr}`);
      for (const line of ldd.stdout.split('\n')) {
        const library = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1];
        if (!library) continue;
        mkdirSync(path.join(image, path.dirname(library)), { recursive: true, mode: 0o755 });
        await fsp.copyFile(library, path.join(image, library)); // follows symlinks: the real file
        files.push(library);
      }
      for (const [name, minor] of [
        ['null', 3],
        ['random', 8],
        ['urandom', 9],
      ] as const) {
        const made = spawnSync(tool('mknod'), ['-m', '666', path.join(image, 'dev', name), 'c', '1', String(minor)]);
        if (made.status !== 0) throw new Error(`mknod /dev/${name} failed`);
        files.push(`/dev/${name}`);
      }
      return files;
    })());
  return {
    isolation,
    async prepareRoot(root) {
      const files = await buildImage();
      mkdirSync(root, { recursive: true, mode: 0o755 });
      await fsp.chmod(root, 0o755);
      for (const file of files) {
        mkdirSync(path.join(root, path.dirname(file)), { recursive: true, mode: 0o755 });
        linkSync(path.join(image, file), path.join(root, file));
      }
      mkdirSync(path.join(root, 'proc'), { mode: 0o755 });
      mkdirSync(path.join(root, 'tmp'), { mode: 0o755 });
    },
    hostPath: (root, containerPath) => path.join(root, containerPath),
    signal(child, signal) {
      for (const pid of childrenOf(child.pid)) {
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
      }
    },
    start(launch) {
      const drop = [
        `--chroot=${launch.root}`,
        '--drop=all',
        '--inh=',
        `--gid=${launch.user.gid}`,
        '--groups=',
        `--uid=${launch.user.uid}`,
        '--no-new-privs',
        '--shell=/irsa-doctor',
        '--',
        ...launch.args,
      ];
      const stdio: ['pipe' | 'ignore', 'pipe', 'pipe'] = [launch.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'];
      if (launch.target?.pid !== undefined) {
        // Enter the target's PID namespace (its pid_for_children: the namespace its first process lives in), then
        // a mount namespace of its own where that namespace's /proc is mounted inside this container's root.
        return spawn(
          tool('nsenter'),
          [
            `--pid=/proc/${launch.target.pid}/ns/pid_for_children`,
            '--',
            tool('unshare'),
            `--mount-proc=${launch.root}/proc`,
            '--',
            tool('capsh'),
            ...drop,
          ],
          { env: { ...launch.env }, stdio },
        );
      }
      return spawn(
        tool('unshare'),
        ['--pid', '--fork', '--kill-child', `--mount-proc=${launch.root}/proc`, '--', tool('capsh'), ...drop],
        { env: { ...launch.env }, stdio },
      );
    },
  };
}

function processRuntime(isolation: Isolation, doctor: DoctorCommand): Runtime {
  return {
    isolation,
    async prepareRoot(root) {
      mkdirSync(root, { recursive: true, mode: 0o755 });
    },
    hostPath: (root, containerPath) => path.join(root, containerPath),
    signal: (child, signal) => void child.kill(signal),
    start(launch) {
      const stdio: ['pipe' | 'ignore', 'pipe', 'pipe'] = [launch.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'];
      return spawn(doctor.command, [...doctor.args, ...launch.args], {
        env: { ...launch.env },
        stdio,
        cwd: launch.root,
      });
    },
  };
}

/** The processes whose parent is `pid` (CONFIG_PROC_CHILDREN is not everywhere: read every PPid). */
function childrenOf(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (Number(/^PPid:\s*(\d+)/m.exec(status)?.[1]) === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** True when `dir` exists and is a directory (the kubelet's work dir checks). */
export function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
