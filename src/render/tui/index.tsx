import { render } from 'ink';
import type { Context } from '../../context/context';
import type { RunPlan } from '../../run/runner';
import { runChecks } from '../../run/runner';
import type { Report } from '../../run/types';
import type { TextOptions } from '../text';
import { fixCommandLines } from '../text';
import { createRunStore } from './store';
import { LiveRun } from './view';

/**
 * The Ink TUI (the only module that imports Ink; main.ts loads it lazily on the TTY path). The checks run
 * here, outside React: their events go into a store the view subscribes to. Never reads stdin (no useInput),
 * so `kubectl exec -t` without -i and an open stdin pipe cannot make it wait.
 */
export async function runInTerminal(ctx: Context, plan: RunPlan, options: TextOptions = {}): Promise<Report> {
  return runInInk(ctx, plan, withKnownSize(process.stdout), options);
}

/**
 * Ink asks the package terminal-size for the size of a stream that has none (a pipe, or a pseudo-terminal of
 * size 0x0), and terminal-size then runs `tput cols`, `tput lines` and `resize`: the tool runs no program, so
 * such a stream is given a size of its own (80x24, the terminal default) and Ink never gets to ask.
 */
export function withKnownSize(stdout: NodeJS.WriteStream): NodeJS.WriteStream {
  if (stdout.columns > 0 && stdout.rows > 0) return stdout;
  return new Proxy(stdout, {
    get(target, property) {
      if (property === 'columns') return target.columns > 0 ? target.columns : 80;
      if (property === 'rows') return target.rows > 0 ? target.rows : 24;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** runInTerminal on any stream: tests pass a fake terminal. */
export async function runInInk(
  ctx: Context,
  plan: RunPlan,
  stdout: NodeJS.WritableStream,
  options: TextOptions = {},
): Promise<Report> {
  const store = createRunStore(plan.checks);
  const instance = render(<LiveRun store={store} verbose={options.verbose ?? false} />, {
    stdout,
    // Nothing of ours logs while Ink draws; leaving console alone keeps a stray library warning visible as is.
    patchConsole: false,
    exitOnCtrlC: false,
  });
  let report: Report;
  try {
    report = await runChecks(ctx, {
      ...plan,
      events: {
        onStart: (check) => {
          store.events.onStart(check);
          plan.events?.onStart?.(check);
        },
        onFinish: (result, findings) => {
          store.events.onFinish(result, findings);
          plan.events?.onFinish?.(result, findings);
        },
      },
    });
    store.complete(report);
    await instance.waitUntilRenderFlush();
  } finally {
    instance.unmount();
    await instance.waitUntilExit();
  }
  const commands = fixCommandLines(report);
  if (commands.length > 0) stdout.write(`${commands.join('\n')}\n`);
  return report;
}
