import { parseArgs } from 'node:util';
import { UsageError } from '../run/select';

export type OutputMode = 'auto' | 'tui' | 'text' | 'json';

export interface CheckCommand {
  readonly kind: 'check' | 'demo';
  readonly scenario?: string;
  readonly listScenarios: boolean;
  readonly output: OutputMode;
  readonly timeoutMs: number;
  readonly only: readonly string[];
  readonly skip: readonly string[];
  readonly noKube: boolean;
  readonly offline: boolean;
  readonly kubeconfig?: string;
  readonly namespace?: string;
  readonly pod?: string;
  readonly target?: number | 'auto';
  readonly trustPolicy?: string;
  readonly exitZero: boolean;
  /** Details of every check in text and TUI, not only of those with a problem. */
  readonly verbose: boolean;
}

export interface ExplainCommand {
  readonly kind: 'explain';
  /** The message to explain; '-' or undefined means read stdin. */
  readonly text: string | undefined;
  readonly output: 'text' | 'json';
  /** Reading stdin stops after this long without a byte (--timeout; docs/cli.md, "explain"). */
  readonly stdinIdleMs: number;
}

/** `pod POD` and `job --service-account SA`: start the doctor in the cluster and render its report here. */
export interface LaunchCommand {
  readonly kind: 'pod' | 'job';
  /** pod: the pod to diagnose. */
  readonly pod?: string;
  /** pod: the app container (-c). */
  readonly container?: string;
  /** job: the ServiceAccount to run as. */
  readonly serviceAccount?: string;
  /** Default: the kubeconfig context's namespace, else "default". */
  readonly namespace?: string;
  /** Default: the image of this version (src/launch/image.ts). */
  readonly image?: string;
  readonly imagePullSecrets: readonly string[];
  readonly context?: string;
  readonly kubeconfig?: string;
  /** From the command to the report: the container's start and the diagnosis (default 120000). */
  readonly timeoutMs: number;
  readonly output: OutputMode;
  readonly exitZero: boolean;
  /** --verbose: the local rendering shows every check's details. */
  readonly verbose: boolean;
  /** Options passed on to the doctor in the cluster (--only, --skip, --offline, --no-kube). */
  readonly doctorArgs: readonly string[];
  /** `demo pod|job [SCENARIO]`: against the built-in simulated cluster instead of a kubeconfig. */
  readonly demo?: { readonly scenario: string };
}

export const LAUNCH_TIMEOUT_MS = 120_000;

/** `fleet -A | -n NS`: every ServiceAccount that uses IRSA or Pod Identity, one Job each (or --static). */
export interface FleetCommand {
  readonly kind: 'fleet';
  /** undefined with -A. */
  readonly namespace?: string;
  readonly selector?: string;
  readonly parallel: number;
  readonly image?: string;
  readonly imagePullSecrets: readonly string[];
  readonly staticOnly: boolean;
  /** Each Job's deadline, from its start (default 120000). */
  readonly timeoutMs: number;
  readonly context?: string;
  readonly kubeconfig?: string;
  /** The EKS cluster name for ListPodIdentityAssociations (default: from the kubeconfig context's ARN). */
  readonly cluster?: string;
  readonly output: OutputMode;
  readonly exitZero: boolean;
  readonly verbose: boolean;
  readonly doctorArgs: readonly string[];
  /** `demo fleet`: against the built-in simulated cluster. */
  readonly demo: boolean;
}

export const FLEET_DEFAULT_PARALLEL = 4;
export const FLEET_MAX_PARALLEL = 50;

export type Command =
  | CheckCommand
  | LaunchCommand
  | FleetCommand
  | ExplainCommand
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'list-checks'; readonly output: OutputMode };

export const HELP = `irsa-doctor: why does this pod not get its AWS role?

Run it inside the pod (kubectl exec, kubectl debug --target, or a Job). It checks the IRSA / EKS Pod Identity
environment, the projected token, the OIDC issuer, STS, the caller identity and the node role, then prints
one verdict, the root cause and the command that fixes it.

Usage:
  irsa-doctor [check] [options]     diagnose the pod it runs in (default)
  irsa-doctor pod POD [-n NS] [-c CONTAINER]
                                    from where kubectl runs: diagnose a running pod's container from an
                                    ephemeral container beside it, and show the report here
  irsa-doctor job --service-account SA [-n NS]
                                    from where kubectl runs: diagnose a ServiceAccount in a one-off Job
                                    (deleted afterwards), and show the report here
  irsa-doctor fleet -A | -n NS [-l SELECTOR] [--parallel N] [--static]
                                    from where kubectl runs: every ServiceAccount that uses IRSA or Pod
                                    Identity, each diagnosed in its own Job (--static: the API only)
  irsa-doctor demo [SCENARIO]       run the diagnosis against a built-in simulated EKS (demo --list)
  irsa-doctor demo pod|job [SCENARIO]
                                    the same through the launchers, against a simulated cluster
  irsa-doctor demo fleet            fleet against a simulated cluster with a mix of healthy and broken
                                    ServiceAccounts
  irsa-doctor explain [TEXT|-]      explain an AWS/SDK error message, or a whole log on stdin (--timeout: idle wait)
  irsa-doctor --list-checks | --version | --help

Options:
  -o, --output auto|tui|text|json   auto (default): TUI on a terminal, plain text otherwise
      --json                        same as --output json
      --timeout MS                  deadline for the whole run (default 10000)
      --only ID,...                 run only these checks (and every check they read: see --list-checks)
      --skip ID,...                 do not run these checks
      --offline                     no network at all: env, files and token claims only
      --no-kube                     do not call the Kubernetes API
      --kubeconfig PATH             Kubernetes access (default: in-cluster config, then KUBECONFIG)
      --namespace NS, --pod NAME    which pod this is (default: SA namespace file, POD_NAME/HOSTNAME)
      --target PID|auto             diagnose another container of the pod via /proc/PID (kubectl debug)
      --trust-policy FILE|-         the role's trust policy JSON (or aws iam get-role output; - reads stdin),
                                    evaluated offline against the token
      --exit-zero                   always exit 0 (the verdict is still printed)
      --verbose                     text and TUI: the details of every check, not only of those with a problem

Options of pod and job (and --output, --only, --skip, --offline, --no-kube, --exit-zero, --verbose):
  -n, --namespace NS                the pod's / ServiceAccount's namespace (default: the context's)
  -c, --container NAME              pod: the app's container (default: the only one, or the pod's
                                    kubectl.kubernetes.io/default-container annotation)
      --service-account SA          job: the ServiceAccount the Job runs as (required)
      --image IMAGE                 the irsa-doctor image (default: the one of this version); must hold
                                    the binary at /irsa-doctor, as the Dockerfile builds it
      --image-pull-secret NAME      job: an imagePullSecret for a private registry (repeatable)
      --kubeconfig PATH, --context NAME
                                    as kubectl: default KUBECONFIG, then ~/.kube/config
      --timeout MS                  how long the container may take to start and report (default 120000)
  pod adds an ephemeral container (irsa-doctor-XXXXX) running as the app container's uid and gid, with no
  capability, no privilege escalation and a read-only root. Ephemeral containers cannot be removed: it stays
  in the pod's spec, terminated, until the pod is replaced. job creates a Job under the ServiceAccount and
  deletes it and its pod at the end, on failure and on Ctrl-C. The RBAC both need: examples/rbac-launcher.yaml.
  Ctrl-C (SIGINT) cleans up what can be cleaned up and exits 130.

Options of fleet (and --output, --image, --image-pull-secret, --kubeconfig, --context, --only, --skip,
--offline, --no-kube, --exit-zero, --verbose):
  -A, --all-namespaces              every namespace (else -n NS)
  -l, --selector SELECTOR           only ServiceAccounts with these labels (kubectl's syntax: app=x,tier!=y)
      --parallel N                  Jobs at a time, 1-${FLEET_MAX_PARALLEL} (default ${FLEET_DEFAULT_PARALLEL})
      --static                      no Job: what the API alone shows (pods that need a restart, invalid
                                    annotations, skipped containers, the webhook, both mechanisms)
      --cluster NAME                the EKS cluster, to list its Pod Identity associations with this
                                    machine's AWS credentials (default: from the context's ARN)
      --timeout MS                  each Job's deadline (default 120000)
  The RBAC it needs: examples/rbac-fleet.yaml. Ctrl-C deletes every Job it created and exits 130.
  Exit: 1 when any ServiceAccount is broken, else 2 when one could not be diagnosed, else 0.

Exit codes: 0 no problem found (warnings allowed), 1 a problem was found, 2 usage error or the tool failed
(pod/job: the remote report's verdict, 2 when there is no report; 130 interrupted).
HEALTHY only when the credentials were obtained; a run that left a link unchecked (--offline, --only,
--skip) says INCOMPLETE and what it did not check.
Nothing secret is printed: the token only as claims and a fingerprint, keys masked.
`;

const OUTPUT_MODES: readonly OutputMode[] = ['auto', 'tui', 'text', 'json'];

function list(values: readonly string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
        'list-checks': { type: 'boolean' },
        list: { type: 'boolean' },
        output: { type: 'string', short: 'o' },
        json: { type: 'boolean' },
        timeout: { type: 'string' },
        only: { type: 'string', multiple: true },
        skip: { type: 'string', multiple: true },
        'no-kube': { type: 'boolean' },
        offline: { type: 'boolean' },
        kubeconfig: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        pod: { type: 'string' },
        target: { type: 'string' },
        'trust-policy': { type: 'string' },
        'exit-zero': { type: 'boolean' },
        verbose: { type: 'boolean' },
        container: { type: 'string', short: 'c' },
        image: { type: 'string' },
        'image-pull-secret': { type: 'string', multiple: true },
        context: { type: 'string' },
        'service-account': { type: 'string' },
        'all-namespaces': { type: 'boolean', short: 'A' },
        selector: { type: 'string', short: 'l' },
        parallel: { type: 'string' },
        static: { type: 'boolean' },
        cluster: { type: 'string' },
      },
    });
  } catch (error) {
    // node's messages can run over several lines: one line, so that no part of argv starts a line of its own.
    throw new UsageError((error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' '));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };

  let output: OutputMode = 'auto';
  if (values.output !== undefined) {
    if (!OUTPUT_MODES.includes(values.output as OutputMode)) {
      throw new UsageError(`--output must be one of ${OUTPUT_MODES.join(', ')} (got "${values.output}")`);
    }
    output = values.output as OutputMode;
  }
  if (values.json) {
    if (values.output !== undefined && values.output !== 'json')
      throw new UsageError('--json conflicts with --output ' + values.output);
    output = 'json';
  }
  if (values['list-checks']) return { kind: 'list-checks', output };

  const [verb = 'check', ...rest] = positionals;
  // The launchers have their own --timeout (how long a container may take), checked in parseLaunch.
  const launch =
    verb === 'pod' || verb === 'job'
      ? verb
      : verb === 'demo' && (rest[0] === 'pod' || rest[0] === 'job')
        ? rest[0]
        : undefined;
  if (verb === 'fleet' || (verb === 'demo' && rest[0] === 'fleet'))
    return parseFleet(verb === 'demo' ? rest.slice(1) : rest, verb === 'demo', values, output);
  for (const option of FLEET_ONLY) {
    if (values[option] !== undefined) throw new UsageError(`--${option} belongs to the fleet command`);
  }
  if (launch) return parseLaunch(launch, verb === 'demo' ? rest.slice(1) : rest, verb === 'demo', values, output);
  let timeoutMs = 10_000;
  if (values.timeout !== undefined) {
    if (!/^\d+$/.test(values.timeout) || Number(values.timeout) < 100 || Number(values.timeout) > 600_000) {
      throw new UsageError(`--timeout takes milliseconds between 100 and 600000 (got "${values.timeout}")`);
    }
    timeoutMs = Number(values.timeout);
  }
  if (verb === 'explain') {
    if (output === 'tui') throw new UsageError('explain prints text or json');
    if (rest.length > 1) throw new UsageError('explain takes one argument: the message in quotes, or - to read stdin');
    return { kind: 'explain', text: rest[0], output: output === 'json' ? 'json' : 'text', stdinIdleMs: timeoutMs };
  }
  for (const option of ['container', 'image', 'image-pull-secret', 'context', 'service-account'] as const) {
    if (values[option] !== undefined) throw new UsageError(`--${option} belongs to the pod and job commands`);
  }
  if (verb !== 'check' && verb !== 'demo') {
    throw new UsageError(`unknown command "${verb}" (commands: check, pod, job, demo, explain)`);
  }
  if (verb === 'check' && rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  if (verb === 'demo' && rest.length > 1)
    throw new UsageError('demo takes at most one scenario name (see demo --list)');
  if (values.list && verb !== 'demo') throw new UsageError('--list belongs to demo: irsa-doctor demo --list');

  let target: number | 'auto' | undefined;
  if (values.target !== undefined) {
    if (values.target === 'auto') target = 'auto';
    else if (/^[1-9]\d{0,9}$/.test(values.target)) target = Number(values.target);
    else throw new UsageError(`--target takes a PID or "auto" (got "${values.target}")`);
  }
  return {
    kind: verb,
    scenario: verb === 'demo' ? rest[0] : undefined,
    listScenarios: Boolean(values.list),
    output,
    timeoutMs,
    only: list(values.only),
    skip: list(values.skip),
    noKube: Boolean(values['no-kube']),
    offline: Boolean(values.offline),
    kubeconfig: values.kubeconfig,
    namespace: values.namespace,
    pod: values.pod,
    target,
    trustPolicy: values['trust-policy'],
    exitZero: Boolean(values['exit-zero']),
    verbose: Boolean(values.verbose),
  };
}

type ParsedValues = ReturnType<
  typeof parseArgs<{ options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> }>
>['values'];

const FLEET_ONLY = ['all-namespaces', 'selector', 'parallel', 'static', 'cluster'] as const;

function parseFleet(
  positionals: readonly string[],
  demo: boolean,
  values: ParsedValues,
  output: OutputMode,
): FleetCommand {
  const str = (name: string) => values[name] as string | undefined;
  for (const option of ['target', 'pod', 'trust-policy', 'list', 'container', 'service-account'] as const) {
    if (values[option] !== undefined) throw new UsageError(`--${option} does not apply to fleet`);
  }
  if (positionals.length > 0)
    throw new UsageError(`fleet takes no argument (got "${positionals[0]}"): irsa-doctor fleet -A | -n NS`);
  const all = Boolean(values['all-namespaces']);
  const namespace = kubeName('--namespace', str('namespace'));
  if (demo) {
    for (const option of ['kubeconfig', 'context', 'namespace', 'all-namespaces', 'cluster'] as const) {
      if (values[option] !== undefined)
        throw new UsageError(`--${option} does not apply to demo fleet: it runs against the simulated cluster`);
    }
  } else if (all === (namespace !== undefined)) {
    throw new UsageError(
      all ? '-A and -n exclude each other' : 'fleet needs -A (every namespace) or -n NS (one namespace)',
    );
  }
  const selector = str('selector');
  if (selector !== undefined && (selector.trim() === '' || selector.length > 1024 || /[\x00-\x1f\x7f]/.test(selector)))
    throw new UsageError(`--selector is not a label selector: "${selector}"`);
  let parallel = FLEET_DEFAULT_PARALLEL;
  const p = str('parallel');
  if (p !== undefined) {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > FLEET_MAX_PARALLEL)
      throw new UsageError(`--parallel takes a number of Jobs from 1 to ${FLEET_MAX_PARALLEL} (got "${p}")`);
    parallel = Number(p);
  }
  const cluster = str('cluster');
  if (cluster !== undefined && !/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/.test(cluster))
    throw new UsageError(`--cluster is not an EKS cluster name: "${cluster}"`);
  const launch = parseLaunch(
    'job',
    [],
    true,
    {
      ...values,
      'service-account': undefined,
      kubeconfig: undefined,
      context: undefined,
      namespace: undefined,
    } as ParsedValues,
    output,
  );
  return {
    kind: 'fleet',
    ...(namespace !== undefined ? { namespace } : {}),
    ...(selector !== undefined ? { selector } : {}),
    parallel,
    ...(launch.image !== undefined ? { image: launch.image } : {}),
    imagePullSecrets: launch.imagePullSecrets,
    staticOnly: Boolean(values.static),
    timeoutMs: launch.timeoutMs,
    ...(str('context') !== undefined ? { context: str('context') } : {}),
    ...(str('kubeconfig') !== undefined ? { kubeconfig: str('kubeconfig') } : {}),
    ...(cluster !== undefined ? { cluster } : {}),
    output,
    exitZero: Boolean(values['exit-zero']),
    verbose: Boolean(values.verbose),
    doctorArgs: launch.doctorArgs,
    demo,
  };
}

const KUBE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function kubeName(what: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!KUBE_NAME.test(value))
    throw new UsageError(`${what} is not a Kubernetes name (lower case letters, digits, '-' and '.'): "${value}"`);
  return value;
}

function parseLaunch(
  kind: 'pod' | 'job',
  positionals: readonly string[],
  demo: boolean,
  values: ParsedValues,
  output: OutputMode,
): LaunchCommand {
  const str = (name: string) => values[name] as string | undefined;
  for (const option of ['target', 'pod', 'trust-policy', 'list'] as const) {
    if (values[option] !== undefined) throw new UsageError(`--${option} does not apply to ${kind}`);
  }
  let pod: string | undefined;
  let scenario: string | undefined;
  if (demo) {
    if (positionals.length > 1) throw new UsageError(`demo ${kind} takes at most one scenario name (see demo --list)`);
    scenario = positionals[0] ?? 'healthy-irsa';
  } else if (kind === 'pod') {
    if (positionals.length !== 1)
      throw new UsageError("pod takes one argument: the pod's name (irsa-doctor pod POD -n NS)");
    pod = kubeName('the pod', positionals[0]);
  } else if (positionals.length > 0)
    throw new UsageError(`job takes no argument (got "${positionals[0]}"): irsa-doctor job --service-account SA -n NS`);
  if (kind === 'job' && str('container') !== undefined) throw new UsageError('--container belongs to pod');
  if (kind === 'pod' && str('service-account') !== undefined) throw new UsageError('--service-account belongs to job');
  if (kind === 'pod' && values['image-pull-secret'] !== undefined) {
    throw new UsageError(
      "--image-pull-secret belongs to job: an ephemeral container pulls with the pod's own imagePullSecrets",
    );
  }
  if (kind === 'job' && !demo && str('service-account') === undefined) {
    throw new UsageError('job needs --service-account SA (the ServiceAccount to diagnose)');
  }
  if (demo) {
    for (const option of ['kubeconfig', 'context', 'namespace', 'service-account', 'container'] as const) {
      if (values[option] !== undefined)
        throw new UsageError(`--${option} does not apply to demo ${kind}: it runs against the simulated cluster`);
    }
  }
  let timeoutMs = LAUNCH_TIMEOUT_MS;
  const timeout = str('timeout');
  if (timeout !== undefined) {
    if (!/^\d+$/.test(timeout) || Number(timeout) < 1000 || Number(timeout) > 3_600_000) {
      throw new UsageError(`--timeout takes milliseconds between 1000 and 3600000 for ${kind} (got "${timeout}")`);
    }
    timeoutMs = Number(timeout);
  }
  const image = str('image');
  if (image !== undefined && (image === '' || /\s/.test(image) || image.length > 512)) {
    throw new UsageError(`--image is not an image reference: "${image}"`);
  }
  const doctorArgs: string[] = [];
  const only = list(values.only as string[] | undefined);
  const skip = list(values.skip as string[] | undefined);
  for (const id of [...only, ...skip]) {
    if (!/^[a-z-]+\.[a-z.-]+$/.test(id))
      throw new UsageError(`not a check id: "${id}" (see irsa-doctor --list-checks)`);
  }
  if (only.length > 0) doctorArgs.push('--only', only.join(','));
  if (skip.length > 0) doctorArgs.push('--skip', skip.join(','));
  if (values.offline) doctorArgs.push('--offline');
  if (values['no-kube']) doctorArgs.push('--no-kube');
  return {
    kind,
    ...(pod !== undefined ? { pod } : {}),
    ...(str('container') !== undefined ? { container: kubeName('--container', str('container')) } : {}),
    ...(str('service-account') !== undefined
      ? { serviceAccount: kubeName('--service-account', str('service-account')) }
      : {}),
    ...(str('namespace') !== undefined ? { namespace: kubeName('--namespace', str('namespace')) } : {}),
    ...(image !== undefined ? { image } : {}),
    imagePullSecrets: ((values['image-pull-secret'] as string[] | undefined) ?? []).map(
      (s) => kubeName('--image-pull-secret', s) as string,
    ),
    ...(str('context') !== undefined ? { context: str('context') } : {}),
    ...(str('kubeconfig') !== undefined ? { kubeconfig: str('kubeconfig') } : {}),
    timeoutMs,
    output,
    exitZero: Boolean(values['exit-zero']),
    verbose: Boolean(values.verbose),
    doctorArgs,
    ...(scenario !== undefined ? { demo: { scenario } } : {}),
  };
}
