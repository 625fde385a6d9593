import packageJson from '../../package.json' with { type: 'json' };
import { CHECKS } from '../checks/registry';
import type { Context } from '../context/context';
import { contextForSelf } from '../context/context';
import { TargetError, contextForTarget, pickAutoTarget } from '../context/target';
import type { StdinRead } from '../explain/index';
import { runExplain } from '../explain/index';
import { FINDING_CODES } from '../run/findings';
import { exitCodeOf, runChecks } from '../run/runner';
import { UsageError, selectChecks } from '../run/select';
import type { Check, Report } from '../run/types';
import { renderJson } from '../render/json';
import { renderText } from '../render/text';
import { SecretRegistry } from '../aws/secrets';
import type { Env } from '../context/context';
import { escapeControl, escapeForTerminal } from '../render/escape';
import { redactText, registerEnvSecrets } from '../run/redact';
import type { CheckCommand, OutputMode } from './args';
import { HELP, parseCommand } from './args';
import type { CommandLineInputs } from './inputs';
import { InputFileError, readCommandLineInputs } from './inputs';
import { forProgram } from './program';

export const VERSION: string = packageJson.version;

/** The outside world of the CLI itself: streams and the terminal. */
export interface Io {
  readonly stdoutIsTTY: boolean;
  /** `explain` without an argument reads stdin only when it is not a terminal. */
  readonly stdinIsTTY?: boolean;
  write(text: string): Promise<void>;
  writeError(text: string): Promise<void>;
  /** Reads stdin to its end, or to maxBytes (then stops reading). */
  readStdin(maxBytes?: number): Promise<string>;
  /** Streams stdin as text until its end or idleMs without a byte (`explain -`). */
  streamStdin?(onText: (text: string) => void, idleMs: number): Promise<StdinRead>;
  /** How the user invoked it, for the help: `irsa-doctor` (default) or `kubectl irsa-doctor` (src/cli/program.ts). */
  readonly program?: string;
}

/**
 * Every byte the CLI writes passes here: stdout and stderr are escaped for the terminal (escapeForTerminal),
 * and stderr, which carries text that never went through a report (usage errors echoing argv, --target
 * errors listing other containers' command lines, internal errors), goes through the redaction pass too.
 */
function guardedIo(io: Io, env: Env): Io {
  const registry = new SecretRegistry();
  registerEnvSecrets(env, registry);
  return {
    ...io,
    write: (text) => io.write(escapeForTerminal(text)),
    writeError: (text) => io.writeError(escapeForTerminal(redactText(redactText(text, registry)))),
  };
}

/** Parse flags, build a Context, run the checks, render, and return the exit code. Never throws. */
export async function main(argv: readonly string[], given: Io, env: Env = process.env): Promise<number> {
  const io = guardedIo(given, env);
  try {
    const command = parseCommand(argv);
    switch (command.kind) {
      case 'help':
        await io.write(forProgram(HELP, io.program ?? 'irsa-doctor'));
        return 0;
      case 'version':
        await io.write(`irsa-doctor ${VERSION}\n`);
        return 0;
      case 'list-checks':
        await io.write(command.output === 'json' ? listChecksJson() : listChecksText());
        return 0;
      case 'explain':
        return await runExplain(command, io);
      case 'check':
        return await diagnose(command, await contextFor(command, await readCommandLineInputs(command, io)), CHECKS, io);
      case 'demo':
        return await runDemo(command, io);
      case 'fleet':
        if (command.demo) return await (await import('../commands/demo-fleet')).runFleetDemo(command, io);
        return await (await import('../commands/fleet')).runFleetCommand(command, io);
      case 'pod':
      case 'job':
        // The launchers (and @kubernetes/client-node with them) load only for these commands.
        if (command.demo) return await (await import('../commands/demo-launch')).runLaunchDemo(command, io);
        return await (await import('../commands/launch')).runLaunch(command, io);
    }
  } catch (error) {
    if (error instanceof TargetError) {
      await io.writeError(`irsa-doctor: ${error.message}\n`);
      return 2;
    }
    if (error instanceof InputFileError) {
      await io.writeError(`irsa-doctor: ${error.message}\n`);
      return 2;
    }
    if (error instanceof UsageError) {
      // One line, whatever argv held: its newlines and escapes are shown escaped.
      await io.writeError(
        `irsa-doctor: ${escapeControl(error.message)}\nRun "${io.program ?? 'irsa-doctor'} --help" for usage.\n`,
      );
      return 2;
    }
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    await io.writeError(`irsa-doctor: internal error, please report it: ${message}\n`);
    return 2;
  }
}

/** This container, or with --target the container of another process of the pod. */
async function contextFor(command: CheckCommand, inputs: CommandLineInputs): Promise<Context> {
  const options = runOptions(command, inputs);
  if (command.target === undefined) return contextForSelf(options);
  const pid = command.target === 'auto' ? await pickAutoTarget() : command.target;
  return contextForTarget(pid, options);
}

export function runOptions(command: CheckCommand, inputs: CommandLineInputs = {}): Context['options'] {
  return {
    ...inputs,
    offline: command.offline,
    noKube: command.noKube,
    timeoutMs: command.timeoutMs,
    namespace: command.namespace,
    pod: command.pod,
    kubeconfig: command.kubeconfig,
    trustPolicyFile: command.trustPolicy,
    targetPid: typeof command.target === 'number' ? command.target : undefined,
  };
}

/**
 * `demo [SCENARIO]`: starts the simulated EKS on loopback in this process, diagnoses it with the same checks,
 * and closes it. The sim is imported only here, so a real diagnosis never loads it.
 */
async function runDemo(command: CheckCommand, io: Io): Promise<number> {
  const sim = await import('../sim/index');
  if (command.listScenarios) {
    await io.write(command.output === 'json' ? demoListJson(sim.SCENARIOS) : demoListText(sim.SCENARIOS));
    return 0;
  }
  const name = command.scenario ?? 'healthy-irsa';
  if (!sim.isScenarioName(name)) {
    throw new UsageError(`unknown demo scenario "${name}" (see irsa-doctor demo --list)`);
  }
  if (command.target !== undefined) throw new UsageError('--target diagnoses a real pod; demo runs the simulator');
  const inputs = await readCommandLineInputs(command, io);
  const running = await sim.startSimulatedEks(name);
  const kube = command.noKube || command.offline ? undefined : await sim.startDemoKubeApi(running);
  try {
    const ctx = sim.demoContext(running, runOptions(command, inputs), kube);
    if (resolveOutput(command.output, io.stdoutIsTTY) !== 'json') {
      await io.writeError(`irsa-doctor demo: scenario ${name}: ${running.scenario.description}\n`);
    }
    return await diagnose(command, ctx, CHECKS, io);
  } finally {
    await Promise.all([running.close(), kube?.close()]);
  }
}

interface ScenarioSummary {
  readonly name: string;
  readonly description: string;
  readonly expect: { readonly rootCause: string | null; readonly verdict: string; readonly exitCode: number };
}

function demoListText(scenarios: readonly ScenarioSummary[]): string {
  const width = Math.max(...scenarios.map((s) => s.name.length));
  const lines = ['Demo scenarios (irsa-doctor demo NAME; default healthy-irsa):'];
  for (const s of scenarios) {
    const outcome = s.expect.rootCause ?? s.expect.verdict;
    lines.push(`  ${s.name.padEnd(width)}  ${outcome}`, `  ${' '.repeat(width)}  ${s.description}`);
  }
  return `${lines.join('\n')}\n`;
}

function demoListJson(scenarios: readonly ScenarioSummary[]): string {
  return `${JSON.stringify({ scenarios: scenarios.map((s) => ({ name: s.name, description: s.description, expect: s.expect })) }, null, 2)}\n`;
}

/** Runs the checks against ctx and renders in the chosen mode. Shared by `check` and `demo`. */
export async function diagnose(command: CheckCommand, ctx: Context, all: readonly Check[], io: Io): Promise<number> {
  const checks = selectChecks(all, command.only, command.skip);
  const selected = new Set(checks.map((c) => c.id));
  const plan = { checks, version: VERSION, omitted: all.filter((c) => !selected.has(c.id)) };
  const mode = resolveOutput(command.output, io.stdoutIsTTY);
  let report: Report;
  if (mode === 'tui') {
    // Ink (and yoga's WebAssembly) load only on this path: text and JSON runs never pay for them.
    const { runInTerminal } = await import('../render/tui/index');
    report = await runInTerminal(ctx, plan, { verbose: command.verbose });
  } else {
    report = await runChecks(ctx, plan);
    await io.write(mode === 'json' ? renderJson(report) : renderText(report, { verbose: command.verbose }));
  }
  return exitCodeOf(report, { exitZero: command.exitZero });
}

export function resolveOutput(mode: OutputMode, isTTY: boolean): 'tui' | 'text' | 'json' {
  if (mode === 'auto') return isTTY ? 'tui' : 'text';
  return mode;
}

function listChecksText(): string {
  const width = Math.max(...CHECKS.map((c) => c.id.length));
  const lines = ['Checks (in report order):'];
  for (const check of CHECKS) {
    const deps = check.dependsOn.length > 0 ? `  [after ${check.dependsOn.join(', ')}]` : '';
    const uses = (check.uses ?? []).length > 0 ? `  [reads ${(check.uses ?? []).join(', ')}]` : '';
    const needs = check.needs ? `  (${check.needs})` : '';
    lines.push(`  ${check.id.padEnd(width)}  ${check.title}${needs}${deps}${uses}`);
  }
  lines.push(
    '',
    'after: runs only when these pass; reads: uses their results when they ran. --only ID runs both, too.',
  );
  lines.push('', 'Finding codes:');
  const codeWidth = Math.max(...Object.keys(FINDING_CODES).map((c) => c.length));
  for (const [code, { severity, meaning }] of Object.entries(FINDING_CODES)) {
    lines.push(`  ${code.padEnd(codeWidth)}  ${severity.padEnd(7)}  ${meaning}`);
  }
  return `${lines.join('\n')}\n`;
}

function listChecksJson(): string {
  const checks = CHECKS.map((c) => ({
    id: c.id,
    title: c.title,
    stage: c.stage,
    dependsOn: c.dependsOn,
    uses: c.uses ?? [],
    needs: c.needs ?? null,
  }));
  const codes = Object.entries(FINDING_CODES).map(([code, v]) => ({ code, ...v }));
  return `${JSON.stringify({ schemaVersion: 1, checks, codes }, null, 2)}\n`;
}
