import type { ChildProcess } from 'node:child_process';
import { promises as fsp, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1Container, V1EnvVar, V1Pod, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { KUBE_SA_DIR } from '../aws/env-names';
import type { ClusterApiServer, LogOptions, LogProvider } from './cluster-api';
import { kubeconfigYaml } from './cluster-api';
import type { KObject, SimCluster } from './cluster';
import { ApiError, SIM_NODE_NAME } from './cluster';
import type { ContainerUser, DoctorCommand, Isolation, IsolationMode, Runtime } from './sandbox';
import { createRuntime, detectIsolation } from './sandbox';
import { SIM_TLS } from './tls';

/*
 * The simulated kubelet of the one node: it runs what the scheduler put there, as child processes of the real
 * binary (sandbox.ts says how they are isolated), with the env and files those containers would get: the
 * image's env, the container's env with field references resolved, the service variables of the API server,
 * the projected token volumes with tokens minted by the cluster's OIDC issuer, the ServiceAccount's API token,
 * CA and namespace. It pulls from a small registry of known images, writes container and pod status back to
 * the API (waiting/running/terminated, phase, conditions) with Events, serves pods/log (with follow), and stops
 * the containers of a deleted pod. Images: every image is this binary; the "app" image runs it as a stand-in
 * for an application (APP_STAND_IN below), which is all `--target` looks at:
 * a process with the app's env, uid, gid and root.
 */

/**
 * The app stand-in: `explain -` reads a stdin the kubelet holds open and never writes to, so it waits, with the
 * longest idle wait explain allows (10 minutes): a stand-in orphaned by a killed simulator ends by itself.
 */
const APP_STAND_IN = ['explain', '-', '--timeout', '600000'];

export interface ImageConfig {
  /**
   * `doctor`: /irsa-doctor with the container's args; `app`: the stand-in application process; `pause`: a
   * container that runs without any process (an app whose only part that matters is its pod spec: a fleet's
   * many workloads); `canned`: no process, the output and exit code of `canned` at once (the fleet benchmark's
   * fast mode, docs in the README).
   */
  readonly run: 'doctor' | 'app' | 'pause' | 'canned';
  readonly canned?: (pod: KObject, container: string) => { readonly output: string; readonly exitCode: number };
  /** The image's USER, used when neither the container nor the pod sets runAsUser. */
  readonly user: ContainerUser;
  /** The image's ENV. */
  readonly env: Readonly<Record<string, string>>;
  /** `hang`: the pull never finishes (a huge image, a registry that stalls). */
  readonly pull?: 'ok' | 'hang';
  /** The registry wants credentials: pulls work only with this imagePullSecret in the pod. */
  readonly pullSecret?: string;
}

export interface TokenRequest {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly podName: string;
  readonly audience: string;
  readonly expirationSeconds: number;
}

export interface KubeletOptions {
  readonly cluster: SimCluster;
  readonly api: ClusterApiServer;
  readonly doctor: DoctorCommand;
  readonly images: Readonly<Record<string, ImageConfig>>;
  readonly isolation?: IsolationMode | 'auto';
  /**
   * The simulated network: variables every container gets so that the SDKs reach the simulated AWS endpoints on
   * loopback (a container's own value wins), and values rewritten on the way in (the Pod Identity agent's
   * link-local address becomes its loopback port).
   */
  readonly network: {
    readonly env: Readonly<Record<string, string>>;
    readonly rewrite: Readonly<Record<string, string>>;
  };
  readonly mintToken: (request: TokenRequest) => Promise<string>;
  /** The simulated network of one pod, when pods differ (a fleet: each ServiceAccount its own AWS side). */
  readonly networkFor?: (pod: KObject) => KubeletOptions['network'] | undefined;
}

export interface ContainerProcessInfo {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly pid: number | undefined;
}

export interface SimKubelet {
  readonly isolation: Isolation;
  /** Where the container roots are (every container process runs under it). */
  readonly workDir: string;
  /** Container processes alive now. */
  processes(): readonly ContainerProcessInfo[];
  /** Runs the doctor with `args` inside a running container, as `kubectl exec` would: same root, env, uid, gid. */
  exec(namespace: string, pod: string, container: string, args: readonly string[]): Promise<ExecResult>;
  /** The env a running container was started with (for tests that compare runs). */
  containerEnv(namespace: string, pod: string, container: string): Readonly<Record<string, string>> | undefined;
  /** Stops every container, waits for the processes to exit and removes the work directory. */
  close(): Promise<void>;
}

export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

type Kind = 'init' | 'regular' | 'ephemeral';

type State =
  | { readonly phase: 'waiting'; readonly reason: string; readonly message?: string }
  | { readonly phase: 'running'; readonly startedAt: string }
  | {
      readonly phase: 'terminated';
      readonly exitCode: number;
      readonly reason: string;
      readonly message?: string;
      readonly startedAt?: string;
      readonly finishedAt: string;
    };

interface ContainerRecord {
  readonly name: string;
  readonly kind: Kind;
  readonly image: string;
  state: State;
  process?: ChildProcess;
  exited?: Promise<void>;
  env?: Record<string, string>;
  root?: string;
  user?: ContainerUser;
  readonly log: LogBuffer;
}

interface PodRecord {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly dir: string;
  readonly containers: Map<string, ContainerRecord>;
  stopping: boolean;
  readonly ip: string;
}

const MAX_LOG_BYTES = 8 * 1024 * 1024;

/** One container's output: stdout and stderr interleaved as they come, like the container runtime's log file. */
class LogBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private ended = false;
  private readonly waiters = new Set<() => void>();

  push(chunk: Buffer): void {
    if (this.ended || this.size >= MAX_LOG_BYTES) return;
    const part = chunk.subarray(0, MAX_LOG_BYTES - this.size);
    this.chunks.push(part);
    this.size += part.length;
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  get bytes(): number {
    return this.size;
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  async *read(options: LogOptions, signal: AbortSignal): AsyncIterable<Buffer> {
    let index = 0;
    let sent = 0;
    const limit = options.limitBytes ?? Number.POSITIVE_INFINITY;
    if (options.tailLines !== undefined) {
      const lines = Buffer.concat(this.chunks).toString('utf8').split('\n');
      const tail = lines.slice(-options.tailLines - (lines.at(-1) === '' ? 1 : 0)).join('\n');
      yield Buffer.from(tail);
      index = this.chunks.length;
      if (!options.follow) return;
    }
    for (;;) {
      while (index < this.chunks.length) {
        const chunk = this.chunks[index++] as Buffer;
        const part = chunk.subarray(0, Math.max(0, limit - sent));
        sent += part.length;
        if (part.length > 0) yield part;
        if (sent >= limit) return;
      }
      if (!options.follow || this.ended || signal.aborted) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.waiters.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export async function startKubelet(options: KubeletOptions): Promise<SimKubelet> {
  const { cluster, api } = options;
  const isolation: Isolation =
    options.isolation === undefined || options.isolation === 'auto'
      ? detectIsolation(options.doctor)
      : options.isolation === 'namespaces'
        ? detectIsolation(options.doctor).mode === 'namespaces'
          ? { mode: 'namespaces' }
          : (() => {
              throw new Error(`namespaces isolation is not available here: ${detectIsolation(options.doctor).reason}`);
            })()
        : { mode: 'processes', reason: 'asked for' };
  const workDir = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-kubelet-'));
  await fsp.chmod(workDir, 0o755);
  const runtime: Runtime = createRuntime(isolation, options.doctor, workDir);
  const pods = new Map<string, PodRecord>();
  const port = new URL(api.url).port;
  let closed = false;
  let ipCounter = 10;
  const starting = new Set<Promise<void>>();
  const stopping = new Set<Promise<void>>();

  const podObject = (record: PodRecord): KObject | undefined => {
    const pod = cluster.get('pods', record.namespace, record.name);
    return pod && pod.metadata.uid === record.uid ? pod : undefined;
  };

  const containerSpecs = (pod: KObject): { spec: V1Container; kind: Kind }[] => {
    const spec = pod.spec as NonNullable<V1Pod['spec']>;
    return [
      ...(spec.initContainers ?? []).map((c) => ({ spec: c, kind: 'init' as Kind })),
      ...(spec.containers ?? []).map((c) => ({ spec: c, kind: 'regular' as Kind })),
      ...(spec.ephemeralContainers ?? []).map((c) => ({ spec: c as V1Container, kind: 'ephemeral' as Kind })),
    ];
  };

  /** Writes the container statuses, phase and conditions from the records (the kubelet's status manager). */
  const writeStatus = (record: PodRecord) => {
    const pod = podObject(record);
    if (!pod) return;
    const statusOf = (c: ContainerRecord) => {
      const state =
        c.state.phase === 'waiting'
          ? { waiting: { reason: c.state.reason, ...(c.state.message ? { message: c.state.message } : {}) } }
          : c.state.phase === 'running'
            ? { running: { startedAt: c.state.startedAt } }
            : {
                terminated: {
                  exitCode: c.state.exitCode,
                  reason: c.state.reason,
                  ...(c.state.message ? { message: c.state.message } : {}),
                  ...(c.state.startedAt ? { startedAt: c.state.startedAt } : {}),
                  finishedAt: c.state.finishedAt,
                  containerID: `containerd://${record.uid.replaceAll('-', '')}${c.name}`.slice(0, 77),
                },
              };
      return {
        name: c.name,
        image: c.image,
        imageID: c.state.phase === 'waiting' ? '' : `${c.image.split(':')[0]}@sha256:${'0'.repeat(64)}`,
        ready: c.state.phase === 'running' && c.kind !== 'ephemeral',
        restartCount: 0,
        started: c.state.phase === 'running',
        state,
        lastState: {},
        ...(c.state.phase !== 'waiting'
          ? { containerID: `containerd://${record.uid.replaceAll('-', '')}`.slice(0, 77) }
          : {}),
      };
    };
    const all = [...record.containers.values()];
    const regular = all.filter((c) => c.kind === 'regular');
    const restartPolicy = pod.spec?.restartPolicy ?? 'Always';
    let phase = 'Running';
    if (regular.some((c) => c.state.phase === 'waiting')) phase = 'Pending';
    else if (regular.length > 0 && regular.every((c) => c.state.phase === 'terminated') && restartPolicy !== 'Always') {
      phase = regular.every((c) => c.state.phase === 'terminated' && c.state.exitCode === 0) ? 'Succeeded' : 'Failed';
    }
    const ready = regular.length > 0 && regular.every((c) => c.state.phase === 'running');
    const at = now();
    const scheduled = ((pod.status?.conditions ?? []) as { type: string }[]).find((c) => c.type === 'PodScheduled');
    const condition = (type: string, status: boolean) => ({
      type,
      status: status ? 'True' : 'False',
      lastTransitionTime: at,
    });
    cluster.update('pods', record.namespace, record.name, (p) => {
      p.status = {
        ...p.status,
        phase,
        hostIP: '192.168.12.34',
        podIP: record.ip,
        podIPs: [{ ip: record.ip }],
        startTime: p.status?.startTime ?? at,
        conditions: [
          condition('PodReadyToStartContainers', true),
          condition('Initialized', true),
          condition('Ready', ready),
          condition('ContainersReady', ready),
          scheduled ?? condition('PodScheduled', true),
        ],
        initContainerStatuses: all.filter((c) => c.kind === 'init').map(statusOf),
        containerStatuses: regular.map(statusOf),
        ephemeralContainerStatuses: all.filter((c) => c.kind === 'ephemeral').map(statusOf),
      };
      if ((p.status.initContainerStatuses as unknown[]).length === 0) delete p.status.initContainerStatuses;
      if ((p.status.ephemeralContainerStatuses as unknown[]).length === 0) delete p.status.ephemeralContainerStatuses;
    });
  };

  const event = (
    record: PodRecord,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    container?: string,
  ) => {
    const pod = podObject(record);
    if (!pod) return;
    cluster.recordEvent(
      {
        ...pod,
        ...(container ? { metadata: { ...pod.metadata } } : {}),
      },
      type,
      reason,
      message,
      'kubelet',
    );
  };

  /** The registry: a known image pulls; an unknown one fails as containerd words it. */
  const pull = async (
    record: PodRecord,
    pod: KObject,
    container: ContainerRecord,
  ): Promise<ImageConfig | undefined> => {
    const ref = container.image;
    const image = options.images[ref];
    event(record, 'Normal', 'Pulling', `Pulling image "${ref}"`, container.name);
    const fail = (message: string) => {
      container.state = { phase: 'waiting', reason: 'ErrImagePull', message };
      writeStatus(record);
      event(record, 'Warning', 'Failed', `Failed to pull image "${ref}": ${message}`, container.name);
      event(record, 'Warning', 'Failed', 'Error: ErrImagePull', container.name);
      // The back-off state follows the first failure (pkg/kubelet/images/image_manager.go).
      cluster.later(300, () => {
        if (record.stopping || container.state.phase !== 'waiting') return;
        container.state = {
          phase: 'waiting',
          reason: 'ImagePullBackOff',
          message: `Back-off pulling image "${ref}": ErrImagePull: ${message}`,
        };
        writeStatus(record);
        event(record, 'Normal', 'BackOff', `Back-off pulling image "${ref}"`, container.name);
      });
      return undefined;
    };
    if (!image) {
      return fail(
        `rpc error: code = NotFound desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`,
      );
    }
    if (image.pullSecret) {
      const secrets = ((pod.spec?.imagePullSecrets ?? []) as { name: string }[]).map((s) => s.name);
      const granted = secrets.includes(image.pullSecret) && cluster.get('secrets', record.namespace, image.pullSecret);
      if (!granted) {
        const host = ref.split('/')[0];
        return fail(
          `rpc error: code = Unknown desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": unexpected status from HEAD request to https://${host}/v2/${ref.slice((host?.length ?? 0) + 1).replace(/:[^:]+$/, '')}/manifests/${ref.split(':').at(-1)}: 401 Unauthorized`,
        );
      }
    }
    if (image.pull === 'hang') return undefined; // stays ContainerCreating; a test's --timeout ends the wait
    event(
      record,
      'Normal',
      'Pulled',
      `Successfully pulled image "${ref}" in 12ms (12ms including waiting). Image size: 44518236 bytes.`,
      container.name,
    );
    return image;
  };

  const resolveEnv = (
    pod: KObject,
    spec: V1Container,
    image: ImageConfig,
    files: ReadonlyMap<string, string>,
    root: string,
  ) => {
    const env: Record<string, string> = { ...image.env };
    const field = (fieldPath: string): string => {
      const label = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
      if (label)
        return String(
          (pod.metadata[label[1] as 'labels'] as Record<string, string> | undefined)?.[label[2] as string] ?? '',
        );
      const values: Record<string, unknown> = {
        'metadata.name': pod.metadata.name,
        'metadata.namespace': pod.metadata.namespace,
        'metadata.uid': pod.metadata.uid,
        'spec.nodeName': SIM_NODE_NAME,
        'spec.serviceAccountName': pod.spec?.serviceAccountName,
        'status.hostIP': '192.168.12.34',
        'status.podIP': pods.get(pod.metadata.uid)?.ip ?? '',
      };
      return String(values[fieldPath] ?? '');
    };
    // The service variables every container gets for the kubernetes Service (pkg/kubelet/envvars).
    if (runtime.isolation.mode === 'namespaces') {
      Object.assign(env, {
        KUBERNETES_SERVICE_HOST: '127.0.0.1',
        KUBERNETES_SERVICE_PORT: port,
        KUBERNETES_SERVICE_PORT_HTTPS: port,
        KUBERNETES_PORT: `tcp://127.0.0.1:${port}`,
      });
    }
    env.HOSTNAME = pod.metadata.name;
    const network = options.networkFor?.(pod) ?? options.network;
    Object.assign(env, network.env);
    for (const variable of (spec.env ?? []) as V1EnvVar[]) {
      if (variable.value !== undefined) env[variable.name] = variable.value;
      else if (variable.valueFrom?.fieldRef) env[variable.name] = field(variable.valueFrom.fieldRef.fieldPath);
      else if (variable.valueFrom?.secretKeyRef) {
        const secret = cluster.get('secrets', pod.metadata.namespace, variable.valueFrom.secretKeyRef.name ?? '');
        const data = (secret?.data as Record<string, string> | undefined)?.[variable.valueFrom.secretKeyRef.key];
        if (data !== undefined) env[variable.name] = Buffer.from(data, 'base64').toString('utf8');
      } else env[variable.name] = '';
    }
    for (const [name, value] of Object.entries(env)) {
      const rewritten = network.rewrite[value];
      if (rewritten !== undefined) env[name] = rewritten;
    }
    if (runtime.isolation.mode === 'processes') {
      // No mount namespaces: paths that name the container's files point where they were written.
      for (const [name, value] of Object.entries(env)) {
        const host = files.get(value);
        if (host !== undefined) env[name] = host;
      }
      if (env.HOME !== undefined) {
        const home = runtime.hostPath(root, env.HOME);
        mkdirSync(home, { recursive: true });
        env.HOME = home;
      }
      const kubeconfig = files.get(`${KUBE_SA_DIR}/kubeconfig`);
      if (kubeconfig) env.KUBECONFIG = kubeconfig;
    } else if (env.HOME !== undefined) {
      mkdirSync(runtime.hostPath(root, env.HOME), { recursive: true, mode: 0o755 });
    }
    return env;
  };

  /** The projected volumes a container mounts, written into its root; returns container path -> host path. */
  const writeVolumes = async (pod: KObject, spec: V1Container, root: string): Promise<Map<string, string>> => {
    const files = new Map<string, string>();
    const volumes = (pod.spec?.volumes ?? []) as V1Volume[];
    for (const mount of (spec.volumeMounts ?? []) as V1VolumeMount[]) {
      const volume = volumes.find((v) => v.name === mount.name);
      if (!volume) continue;
      const dir = runtime.hostPath(root, mount.mountPath);
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      const write = (file: string, contents: string, mode: number) => {
        const host = path.join(dir, file);
        mkdirSync(path.dirname(host), { recursive: true, mode: 0o755 });
        writeFileSync(host, contents, { mode });
        files.set(path.posix.join(mount.mountPath, file), host);
      };
      if (volume.projected) {
        const mode = volume.projected.defaultMode ?? 0o644;
        for (const source of volume.projected.sources ?? []) {
          if (source.serviceAccountToken) {
            const audience = source.serviceAccountToken.audience ?? 'https://kubernetes.default.svc';
            const token = await options.mintToken({
              namespace: pod.metadata.namespace as string,
              serviceAccount: pod.spec?.serviceAccountName ?? 'default',
              podName: pod.metadata.name,
              audience,
              expirationSeconds: source.serviceAccountToken.expirationSeconds ?? 3607,
            });
            if (audience === 'https://kubernetes.default.svc') {
              const ns = pod.metadata.namespace as string;
              api.addUser(token, {
                name: `system:serviceaccount:${ns}:${pod.spec?.serviceAccountName ?? 'default'}`,
                groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`],
              });
              if (runtime.isolation.mode === 'processes' && mount.mountPath === KUBE_SA_DIR) {
                write('kubeconfig', kubeconfigYaml(api.url, token, ns, 'in-cluster'), 0o644);
              }
            }
            write(source.serviceAccountToken.path, token, mode);
          }
          if (source.configMap?.name === 'kube-root-ca.crt') write('ca.crt', SIM_TLS.cert, mode);
          for (const item of source.downwardAPI?.items ?? []) {
            if (item.fieldRef?.fieldPath === 'metadata.namespace')
              write(item.path, pod.metadata.namespace as string, mode);
          }
        }
      } else if (volume.secret) {
        const secret = cluster.get('secrets', pod.metadata.namespace, volume.secret.secretName ?? '');
        for (const [name, value] of Object.entries((secret?.data ?? {}) as Record<string, string>)) {
          write(name, Buffer.from(value, 'base64').toString('utf8'), volume.secret.defaultMode ?? 0o644);
        }
      }
    }
    return files;
  };

  const userOf = (pod: KObject, spec: V1Container, image: ImageConfig): ContainerUser => {
    const own = spec.securityContext ?? {};
    const podLevel = pod.spec?.securityContext ?? {};
    const uid = own.runAsUser ?? podLevel.runAsUser;
    const gid = own.runAsGroup ?? podLevel.runAsGroup;
    if (uid === undefined) return { uid: image.user.uid, gid: gid ?? image.user.gid };
    // containerd: without runAsGroup the group comes from the image's passwd entry for the uid; these images
    // have none, so it is 0 unless the uid is the image's own USER.
    return { uid, gid: gid ?? (uid === image.user.uid ? image.user.gid : 0) };
  };

  const startContainer = async (record: PodRecord, pod: KObject, spec: V1Container, container: ContainerRecord) => {
    const image = await pull(record, pod, container);
    if (!image || record.stopping || closed) return;
    const user = userOf(pod, spec, image);
    const nonRoot = spec.securityContext?.runAsNonRoot ?? pod.spec?.securityContext?.runAsNonRoot;
    if (nonRoot && user.uid === 0) {
      container.state = {
        phase: 'waiting',
        reason: 'CreateContainerConfigError',
        message: 'container has runAsNonRoot and image will run as root',
      };
      writeStatus(record);
      event(record, 'Warning', 'Failed', `Error: ${container.state.message}`, container.name);
      return;
    }
    const command = spec.command;
    if (command !== undefined && command[0] !== '/irsa-doctor') {
      // These images hold one executable and nothing else: no shell, no PATH.
      const finishedAt = now();
      container.state = {
        phase: 'terminated',
        exitCode: 128,
        reason: 'StartError',
        message: `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "${command[0]}": executable file not found in $PATH: unknown`,
        finishedAt,
      };
      container.log.end();
      writeStatus(record);
      return;
    }
    if (image.run === 'pause' || image.run === 'canned') {
      const at = now();
      if (image.run === 'canned') {
        const canned = image.canned?.(pod, container.name) ?? { output: '', exitCode: 0 };
        container.log.push(Buffer.from(canned.output));
        container.log.end();
        container.state = {
          phase: 'terminated',
          exitCode: canned.exitCode,
          reason: canned.exitCode === 0 ? 'Completed' : 'Error',
          startedAt: at,
          finishedAt: at,
        };
      } else container.state = { phase: 'running', startedAt: at };
      writeStatus(record);
      return;
    }
    const root = path.join(record.dir, container.name);
    await runtime.prepareRoot(root, image.run);
    const files = await writeVolumes(pod, spec, root);
    const env = resolveEnv(pod, spec, image, files, root);
    // command replaces the image's ENTRYPOINT (/irsa-doctor) and args follow it, as the runtime execs them.
    let args: string[] = image.run === 'app' ? APP_STAND_IN : [...(command ?? []).slice(1), ...(spec.args ?? [])];
    const target =
      container.kind === 'ephemeral' && (spec as { targetContainerName?: string }).targetContainerName
        ? record.containers.get((spec as { targetContainerName?: string }).targetContainerName as string)
        : undefined;
    let launchEnv = env;
    if (runtime.isolation.mode === 'processes' && target) {
      const at = args.indexOf('--target');
      if (at >= 0 && args[at + 1] === 'auto') {
        if (existsSync('/proc/self/environ') && target.process?.pid !== undefined) {
          args = [...args.slice(0, at), '--target', String(target.process.pid), ...args.slice(at + 2)];
        } else {
          // No /proc here: the doctor diagnoses the target's env directly.
          args = [...args.slice(0, at), ...args.slice(at + 2)];
          launchEnv = { ...(target.env ?? {}) };
        }
      }
    }
    if (record.stopping || closed) return;
    const child = runtime.start({
      root,
      user,
      env: launchEnv,
      args,
      stdinPipe: image.run === 'app',
      ...(target?.process ? { target: target.process } : {}),
    });
    container.process = child;
    container.env = env;
    container.root = root;
    container.user = user;
    const startedAt = now();
    child.stdout?.on('data', (chunk: Buffer) => container.log.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => container.log.push(chunk));
    child.stdin?.on('error', () => undefined);
    container.exited = new Promise<void>((resolve) => {
      child.once('error', (error) => {
        container.log.push(Buffer.from(`${error.message}\n`));
      });
      child.once('close', (code, signal) => {
        const exitCode = code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : 1);
        container.state = {
          phase: 'terminated',
          exitCode,
          reason: exitCode === 0 ? 'Completed' : 'Error',
          startedAt,
          finishedAt: now(),
        };
        container.log.end();
        if (!record.stopping) writeStatus(record);
        resolve();
      });
    });
    container.state = { phase: 'running', startedAt };
    writeStatus(record);
    event(record, 'Normal', 'Created', `Created container ${container.name}`, container.name);
    event(record, 'Normal', 'Started', `Started container ${container.name}`, container.name);
  };

  const sync = (pod: KObject) => {
    if (closed || pod.spec?.nodeName !== SIM_NODE_NAME) return;
    let record = pods.get(pod.metadata.uid);
    if (!record) {
      if (pod.metadata.deletionTimestamp || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
      record = {
        uid: pod.metadata.uid,
        namespace: pod.metadata.namespace as string,
        name: pod.metadata.name,
        dir: path.join(workDir, pod.metadata.uid),
        containers: new Map(),
        stopping: false,
        ip: `192.168.12.${ipCounter++ % 240}`,
      };
      mkdirSync(record.dir, { mode: 0o755 });
      pods.set(record.uid, record);
    }
    if (record.stopping) return;
    const fresh: { spec: V1Container; container: ContainerRecord }[] = [];
    for (const { spec, kind } of containerSpecs(pod)) {
      if (record.containers.has(spec.name)) continue;
      const container: ContainerRecord = {
        name: spec.name,
        kind,
        image: spec.image ?? '',
        state:
          kind === 'init'
            ? { phase: 'terminated', exitCode: 0, reason: 'Completed', finishedAt: now() }
            : { phase: 'waiting', reason: 'ContainerCreating' },
        log: new LogBuffer(),
      };
      // Init containers are not run by this kubelet: the simulated pods have none that matter.
      if (kind === 'init') container.log.end();
      record.containers.set(spec.name, container);
      if (kind !== 'init') fresh.push({ spec, container });
    }
    if (fresh.length === 0) return;
    writeStatus(record);
    const current = record;
    // Regular containers first, then ephemeral ones (which need their target's process).
    const started = (async () => {
      for (const { spec, container } of fresh) {
        try {
          await startContainer(current, pod, spec, container);
        } catch (error) {
          container.state = {
            phase: 'waiting',
            reason: 'CreateContainerError',
            message: error instanceof Error ? error.message : String(error),
          };
          writeStatus(current);
        }
      }
    })();
    // close() waits for these: a root being written while the work directory is removed would outlive it.
    starting.add(started);
    void started.finally(() => starting.delete(started));
  };

  const stopPod = (pod: KObject, graceSeconds: number) => {
    const record = pods.get(pod.metadata.uid);
    if (!record) {
      cluster.podStopped(pod);
      return;
    }
    record.stopping = true;
    const live = [...record.containers.values()].filter((c) => c.process && c.state.phase === 'running');
    for (const c of live) {
      event(record, 'Normal', 'Killing', `Stopping container ${c.name}`, c.name);
      c.process?.stdin?.end();
      if (c.process) runtime.signal(c.process, 'SIGTERM');
    }
    // SIGKILL after the grace period, capped at 10 s here. The container's own process is PID 1 of its PID
    // namespace and so ignores SIGTERM unless it handles it (pid_namespaces(7)), as in a real pod.
    const killer = setTimeout(() => live.forEach((c) => c.process?.kill('SIGKILL')), Math.min(graceSeconds, 10) * 1000);
    killer.unref?.();
    const cleanup = Promise.all(live.map((c) => c.exited)).then(async () => {
      clearTimeout(killer);
      pods.delete(record.uid);
      await fsp.rm(record.dir, { recursive: true, force: true, maxRetries: 3 });
      cluster.podStopped(pod);
    });
    // close() waits for it: Bun's recursive rm of a tree that another rm is removing a part of returns with
    // the top directory still there (measured with Bun 1.4.5; Node's does not).
    stopping.add(cleanup);
    void cleanup.finally(() => stopping.delete(cleanup));
  };

  cluster.podStopper = stopPod;
  const unsubscribe = cluster.on((change) => {
    if (change.resource !== 'pods' || change.type === 'DELETED') return;
    queueMicrotask(() => {
      const current = cluster.get('pods', change.object.metadata.namespace, change.object.metadata.name);
      if (current && current.metadata.uid === change.object.metadata.uid && !current.metadata.deletionTimestamp)
        sync(current);
    });
  });

  const logs: LogProvider = {
    open(pod, containerName, logOptions, signal) {
      const record = pods.get(pod.metadata.uid);
      const container = record?.containers.get(containerName);
      if (!container || (container.state.phase === 'waiting' && container.log.bytes === 0)) {
        const reason =
          container?.state.phase === 'waiting'
            ? container.state.reason === 'ErrImagePull'
              ? "image can't be pulled"
              : container.state.reason === 'ImagePullBackOff'
                ? 'trying and failing to pull image'
                : container.state.reason
            : 'ContainerCreating';
        // pkg/kubelet/kubelet_pods.go validateContainerLogStatus.
        throw new ApiError(
          400,
          'BadRequest',
          `container "${containerName}" in pod "${pod.metadata.name}" is waiting to start: ${reason}`,
        );
      }
      return container.log.read(logOptions, signal);
    },
  };
  api.setLogProvider(logs);

  // Pods already on the node (created before the kubelet started).
  for (const pod of cluster.list('pods')) sync(pod);

  const find = (namespace: string, pod: string, container: string) => {
    const object = cluster.get('pods', namespace, pod);
    return object ? pods.get(object.metadata.uid)?.containers.get(container) : undefined;
  };

  return {
    isolation: runtime.isolation,
    workDir,
    processes: () =>
      [...pods.values()].flatMap((record) =>
        [...record.containers.values()]
          .filter((c) => c.process && c.process.exitCode === null && c.process.signalCode === null)
          .map((c) => ({ namespace: record.namespace, pod: record.name, container: c.name, pid: c.process?.pid })),
      ),
    containerEnv: (namespace, pod, container) => find(namespace, pod, container)?.env,
    async exec(namespace, pod, containerName, args) {
      const container = find(namespace, pod, containerName);
      if (
        !container?.process ||
        container.state.phase !== 'running' ||
        !container.root ||
        !container.user ||
        !container.env
      ) {
        throw new Error(`container ${containerName} of pod ${namespace}/${pod} is not running`);
      }
      const child = runtime.start({
        root: container.root,
        user: container.user,
        env: container.env,
        args,
        stdinPipe: false,
        target: container.process,
      });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
      return { code, stdout, stderr };
    },
    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      cluster.podStopper = undefined;
      await Promise.allSettled([...starting]);
      const all = [...pods.values()].flatMap((r) => [...r.containers.values()]);
      for (const c of all) {
        c.process?.stdin?.end();
        c.process?.kill('SIGKILL');
      }
      await Promise.all(all.map((c) => c.exited));
      await Promise.allSettled([...stopping]);
      pods.clear();
      await fsp.rm(workDir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

/** The command that starts this very program as the doctor (the demo's kubelet runs its own binary). */
export function selfDoctorCommand(): DoctorCommand {
  const script = process.argv[1];
  // A Bun-compiled executable is its own program (argv[1] is its embedded entry under /$bunfs); under node the
  // entry script must be named.
  if (
    script === undefined ||
    script.startsWith('/$bunfs/') ||
    script.startsWith('B:\\~BUN') ||
    script === process.execPath
  ) {
    return { command: process.execPath, args: [] };
  }
  return { command: process.execPath, args: [script] };
}
