import type { FleetCommand } from '../cli/args';
import type { Io } from '../cli/main';
import type { AssociationLookup } from '../fleet/associations';
import { eksAssociationLookup, eksClusterOf } from '../fleet/associations';
import type { FleetObserver, FleetResult } from '../fleet/run';
import { runFleet } from '../fleet/run';
import {
  VERDICT_WORDS,
  durationWords,
  failureFixLines,
  footer,
  renderFleetJson,
  renderFleetText,
  rowFixLines,
} from '../fleet/render';
import type { LauncherApi } from '../launch/api';
import { connectAsUser } from '../launch/api';
import { LaunchFailure, describeFailure } from '../launch/failure';
import { DEFAULT_IMAGE } from '../launch/image';
import type { ApiLimits } from '../launch/rate-limit';
import { FLEET_LIMITS } from '../launch/rate-limit';
import { escapeControl } from '../render/escape';

/**
 * `irsa-doctor fleet`: connects with the user's kubeconfig (rate-limited, with a retry budget), runs the fleet
 * (fleet/run.ts) and shows it as the live table, text or JSON. The first Ctrl-C (or SIGTERM) stops starting
 * Jobs and deletes every Job created; a second one stops at once. `api` and `associations` replace the
 * kubeconfig and the EKS API (the demo, tests).
 */
export async function runFleetCommand(
  command: FleetCommand,
  io: Io,
  api?: (signal: AbortSignal, limits: ApiLimits) => Promise<LauncherApi>,
  associations?: AssociationLookup,
): Promise<number> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const mode = command.output === 'auto' ? (io.stdoutIsTTY ? 'tui' : 'text') : command.output;
  const interrupt = new AbortController();
  const hardStop = new AbortController();
  const writeError = (text: string) => void io.writeError(text);
  const onSignal = () => {
    if (!interrupt.signal.aborted) {
      writeError(
        '\nirsa-doctor fleet: interrupted: deleting the Jobs it created (press Ctrl-C again to stop at once)\n',
      );
      interrupt.abort(new LaunchFailure('interrupted', 'interrupted', [], 130));
    } else if (!hardStop.signal.aborted) {
      writeError('irsa-doctor fleet: stopping without cleaning up (their ttlSecondsAfterFinished removes the Jobs)\n');
      hardStop.abort(new LaunchFailure('interrupted', 'interrupted twice', [], 130));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const title = `irsa-doctor fleet ${command.namespace ? `-n ${command.namespace}` : '-A'}${command.selector ? ` -l ${command.selector}` : ''}${command.staticOnly ? ' --static' : ` (Jobs, ${command.parallel} at a time)`}`;
  const view = mode === 'tui' ? (await import('../render/tui/fleet')).startFleetView(process.stdout, title) : undefined;
  let viewOpen = view !== undefined;
  const stopView = async () => {
    if (viewOpen) {
      viewOpen = false;
      await view?.stop();
    }
  };
  try {
    const client = api
      ? await api(hardStop.signal, FLEET_LIMITS)
      : await connectAsUser(command, hardStop.signal, FLEET_LIMITS);
    const eks = eksClusterOf([client.clusterName, client.contextName]);
    const lookup =
      associations ??
      eksAssociationLookup({
        clusterName: command.cluster ?? eks?.name,
        region: eks?.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION,
        signal: hardStop.signal,
        timeoutMs: 20_000,
      });
    let done = 0;
    let total = 0;
    const observer: FleetObserver = {
      discovered(rows, discovery) {
        total = rows.length;
        view?.discovered(rows.length);
        if (mode === 'text')
          writeError(
            `irsa-doctor fleet: ${rows.length} ServiceAccount${rows.length === 1 ? '' : 's'} to diagnose in ${discovery.namespaces.length} namespace${discovery.namespaces.length === 1 ? '' : 's'}${discovery.refused.length > 0 ? ` (${discovery.refused.length} not readable)` : ''}\n`,
          );
      },
      changed(row) {
        view?.changed(row);
        if (row.state === 'done') {
          done += 1;
          if (mode === 'text' && !command.staticOnly)
            writeError(
              `irsa-doctor fleet: [${done}/${total}] ${escapeControl(`${row.namespace}/${row.serviceAccount}`)} ${row.verdict ? VERDICT_WORDS[row.verdict] : ''} ${durationWords(row.durationMs)}\n`,
            );
        }
      },
      note(text) {
        if (view && viewOpen) view.note(text);
        else writeError(`irsa-doctor fleet: note: ${escapeControl(text)}\n`);
      },
    };
    let result: FleetResult;
    try {
      result = await runFleet(
        client,
        {
          namespace: command.namespace,
          selector: command.selector,
          parallel: command.parallel,
          image: command.image ?? DEFAULT_IMAGE,
          imagePullSecrets: command.imagePullSecrets,
          timeoutMs: command.timeoutMs,
          staticOnly: command.staticOnly,
          doctorArgs: command.doctorArgs,
          associations: lookup,
          keepReports: mode === 'json',
        },
        observer,
        interrupt.signal,
      );
    } finally {
      if (process.env.IRSA_DOCTOR_FLEET_STATS === '1')
        writeError(`irsa-doctor fleet: stats: requests=${client.requestCount()} retries=${client.retryCount()}\n`);
    }
    const meta = {
      startedAt,
      durationMs: Date.now() - started,
      parallel: command.parallel,
      namespace: command.namespace,
      selector: command.selector,
    };
    if (view) {
      await stopView();
      const rows = [...result.rows].filter((r) => r.verdict !== 'healthy' && r.verdict !== 'not-verified');
      const lines: string[] = [];
      for (const row of rows) {
        const fix = rowFixLines(row);
        if (fix.length > 0)
          lines.push(
            '',
            `${escapeControl(`${row.namespace}/${row.serviceAccount}`)}: ${row.verdict ? VERDICT_WORDS[row.verdict] : ''}`,
            ...fix,
          );
      }
      for (const r of result.discovery.refused) {
        lines.push('', `namespace ${escapeControl(r.namespace)}: not diagnosed: ${escapeControl(r.failure.message)}`);
        lines.push(...failureFixLines(r.failure.fix));
      }
      lines.push('', ...footer(result));
      await io.write(`${lines.join('\n')}\n`);
    } else if (mode === 'json') {
      await io.write(renderFleetJson(result, meta));
    } else {
      await io.write(renderFleetText(result, { verbose: command.verbose }));
    }
    if (result.interrupted) {
      await io.writeError(
        `irsa-doctor fleet: interrupted: ${result.jobsCreated} Job${result.jobsCreated === 1 ? '' : 's'} created, ${result.jobsLeft.length === 0 ? 'none left' : `left: ${result.jobsLeft.join(', ')}`}\n`,
      );
      return 130;
    }
    const code = (await import('../fleet/run')).exitCodeOfFleet(result);
    return command.exitZero && code !== 2 ? 0 : code;
  } catch (error) {
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
      await io.writeError('irsa-doctor fleet: interrupted\n');
      return 130;
    }
    // As describeFailure words it, with the RBAC here-document unindented so that it works when copied.
    const [first = ''] = describeFailure('fleet', new LaunchFailure(failure.kind, failure.message, [])).split('\n');
    const more = describeFailure('fleet', new LaunchFailure(failure.kind, failure.message, []))
      .split('\n')
      .slice(1)
      .filter((l) => l !== '');
    await io.writeError(`${[first, ...more, ...failureFixLines(failure.fix, '  ')].join('\n')}\n`);
    return failure.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
