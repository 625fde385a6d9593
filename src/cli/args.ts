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

export type Command =
  | CheckCommand
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
  irsa-doctor demo [SCENARIO]       run the diagnosis against a built-in simulated EKS (demo --list)
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

Exit codes: 0 no problem found (warnings allowed), 1 a problem was found, 2 usage error or the tool failed.
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
  if (verb !== 'check' && verb !== 'demo') {
    throw new UsageError(`unknown command "${verb}" (commands: check, demo, explain)`);
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
