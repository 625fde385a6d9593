import type { LaunchCommand, OutputMode } from '../cli/args';
import type { Io } from '../cli/main';
import { renderJson } from '../render/json';
import { renderText } from '../render/text';
import { exitCodeOf } from '../run/runner';
import type { Report } from '../run/types';
import { LaunchFailure, describeFailure } from './failure';
import type { LauncherApi } from './api';
import type { LaunchProgress } from './progress';
import { textProgress } from './progress';

/*
 * One run of a launcher as the user sees it: where progress goes for the output mode (the TUI's live steps,
 * stderr lines in text mode, only notes in JSON mode), how the report that came back is rendered here (the same
 * renderers as a local run), and Ctrl-C. The first SIGINT (or SIGTERM) aborts `interrupt`: the launch stops
 * waiting and cleans up (the Job is deleted); a second one aborts `hardStop`, which also cuts the API calls of
 * that clean-up. The exit code is the report's (exitCodeOf), 2 for a failure, 130 after an interrupt.
 */

export interface LaunchSession {
  readonly progress: LaunchProgress;
  /** First Ctrl-C: stop and clean up. */
  readonly interrupt: AbortSignal;
  /** Second Ctrl-C: give up the clean-up too. */
  readonly hardStop: AbortSignal;
  /** Renders the report in the chosen mode; returns the exit code. */
  showReport(report: Report, options: { readonly exitZero: boolean; readonly verbose: boolean }): Promise<number>;
  /** Prints why there is no report on stderr; returns the exit code (2, or 130 when interrupted). */
  showFailure(error: unknown, afterInterrupt?: string): Promise<number>;
  close(): void;
}

export interface SessionOptions {
  readonly command: 'pod' | 'job';
  readonly output: OutputMode;
  readonly io: Io;
  /** The TUI's first line. */
  readonly title: string;
  /** Install SIGINT/SIGTERM handlers (the CLI does; tests driving it in-process need not). */
  readonly signals?: boolean;
}

export async function openSession(options: SessionOptions): Promise<LaunchSession> {
  const { io, command } = options;
  const mode = options.output === 'auto' ? (io.stdoutIsTTY ? 'tui' : 'text') : options.output;
  const interrupt = new AbortController();
  const hardStop = new AbortController();
  const writeError = (text: string) => void io.writeError(text);

  const view =
    mode === 'tui'
      ? (await import('../render/tui/launch')).startLaunchView(process.stdout, `irsa-doctor ${command}`)
      : undefined;
  const progress: LaunchProgress = view?.progress ?? textProgress(command, writeError, mode === 'text');
  let viewOpen = view !== undefined;
  const stopView = async () => {
    if (viewOpen) {
      viewOpen = false;
      await view?.stop();
    }
  };

  const onSignal = () => {
    if (!interrupt.signal.aborted) {
      writeError(`\nirsa-doctor ${command}: interrupted: cleaning up (press Ctrl-C again to stop at once)\n`);
      interrupt.abort(new LaunchFailure('interrupted', 'interrupted', [], 130));
    } else if (!hardStop.signal.aborted) {
      writeError(`irsa-doctor ${command}: stopping without cleaning up\n`);
      hardStop.abort(new LaunchFailure('interrupted', 'interrupted twice', [], 130));
    }
  };
  if (options.signals !== false) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  return {
    progress,
    interrupt: interrupt.signal,
    hardStop: hardStop.signal,
    async showReport(report, { exitZero, verbose }) {
      if (view && viewOpen) {
        viewOpen = false;
        await view.showReport(report, verbose);
      } else {
        await io.write(mode === 'json' ? renderJson(report) : renderText(report, { verbose }));
      }
      return exitCodeOf(report, { exitZero });
    },
    async showFailure(error, afterInterrupt) {
      await stopView();
      const failure =
        error instanceof LaunchFailure
          ? error
          : new LaunchFailure(
              'api',
              `internal error, please report it: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
              [],
            );
      if (failure.kind === 'interrupted' || interrupt.signal.aborted) {
        const said =
          failure.kind === 'interrupted' && failure.message !== 'interrupted' ? failure.message : afterInterrupt;
        await io.writeError(`irsa-doctor ${command}: interrupted${said ? `: ${said}` : ''}\n`);
        return 130;
      }
      await io.writeError(describeFailure(command, failure));
      return failure.exitCode;
    },
    close() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** -n, else the kubeconfig context's namespace, which must be a Kubernetes name too (it goes into URLs and YAML). */
export function namespaceOf(command: LaunchCommand, api: LauncherApi): string {
  const namespace = command.namespace ?? api.contextNamespace;
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
    throw new LaunchFailure(
      'usage',
      `the namespace of kubeconfig context ${api.contextName} is not a Kubernetes name: "${namespace}"`,
      ['Pass the namespace with -n NS.'],
    );
  }
  return namespace;
}
