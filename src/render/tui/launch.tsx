import { Box, Static, Text, render, useAnimation } from 'ink';
import { useSyncExternalStore } from 'react';
import type { LaunchProgress } from '../../launch/progress';
import type { Report } from '../../run/types';
import { escapeControl } from '../escape';
import { fixCommandLines } from '../text';
import type { FinishedCheck } from './store';
import { FrameStore } from './store';
import { CheckRow, Spinner, Summary } from './view';

/*
 * The TUI of `irsa-doctor pod` and `job`: the steps of the launch as they happen (the current one with a spinner
 * and its seconds, the container's waiting reason under it), then the report that came back, drawn with the same
 * rows and verdict box as a local run. Finished lines go to <Static> once; the live area is the current step only.
 * Never reads stdin, like the local TUI.
 */

type Line =
  | { readonly kind: 'title'; readonly text: string }
  | { readonly kind: 'step'; readonly text: string; readonly ms: number }
  | { readonly kind: 'note'; readonly text: string }
  | { readonly kind: 'check'; readonly done: FinishedCheck }
  | { readonly kind: 'summary'; readonly report: Report };

interface Snapshot {
  readonly lines: readonly Line[];
  readonly current: { readonly text: string; readonly detail: string; readonly since: number } | null;
  readonly idWidth: number;
  readonly verbose: boolean;
}

export interface LaunchView {
  readonly progress: LaunchProgress;
  /** Draws the report, unmounts, and prints the fix commands unwrapped below (as the local TUI does). */
  showReport(report: Report, verbose?: boolean): Promise<void>;
  /** Ends the view without a report (a failure is printed after it). */
  stop(): Promise<void>;
}

export function startLaunchView(stdout: NodeJS.WritableStream, title: string): LaunchView {
  const store = new FrameStore<Snapshot>({
    lines: [{ kind: 'title', text: title }],
    current: null,
    idWidth: 10,
    verbose: false,
  });
  const update = (next: Partial<Snapshot>, now = false) => store.update(next, now);
  const closeStep = (): Line[] => {
    const current = store.snapshot.current;
    return current
      ? [...store.snapshot.lines, { kind: 'step', text: current.text, ms: Date.now() - current.since }]
      : [...store.snapshot.lines];
  };
  const instance = render(<LaunchRun store={store} />, {
    stdout: stdout as NodeJS.WriteStream,
    patchConsole: false,
    exitOnCtrlC: false,
  });
  const finish = async () => {
    await instance.waitUntilRenderFlush();
    instance.unmount();
    await instance.waitUntilExit();
  };
  return {
    progress: {
      step(text) {
        update({ lines: closeStep(), current: { text, detail: '', since: Date.now() } });
      },
      detail(text) {
        const current = store.snapshot.current;
        if (current) update({ current: { ...current, detail: text } });
      },
      note(text) {
        update({ lines: [...store.snapshot.lines, { kind: 'note', text }] });
      },
    },
    async showReport(report, verbose = false) {
      const checks: Line[] = report.checks.map((result) => ({
        kind: 'check',
        done: { result, findings: report.findings.filter((f) => f.checkId === result.id) },
      }));
      update(
        {
          lines: [...closeStep(), ...checks, { kind: 'summary', report }],
          current: null,
          idWidth: Math.max(8, ...report.checks.map((c) => c.id.length)) + 2,
          verbose,
        },
        true,
      );
      await finish();
      const commands = fixCommandLines(report);
      if (commands.length > 0) stdout.write(`${commands.join('\n')}\n`);
    },
    async stop() {
      update({ lines: closeStep(), current: null }, true);
      await finish();
    },
  };
}

function LaunchRun({ store }: { store: { subscribe(l: () => void): () => void; getSnapshot(): Snapshot } }) {
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot);
  return (
    <>
      <Static items={snapshot.lines as Line[]} style={{ width: '100%' }}>
        {(line, index) => <LineView key={index} line={line} idWidth={snapshot.idWidth} verbose={snapshot.verbose} />}
      </Static>
      {snapshot.current ? (
        <CurrentStep text={snapshot.current.text} detail={snapshot.current.detail} since={snapshot.current.since} />
      ) : null}
    </>
  );
}

function LineView({ line, idWidth, verbose }: { line: Line; idWidth: number; verbose: boolean }) {
  switch (line.kind) {
    case 'title':
      return (
        <Box marginBottom={1}>
          <Text bold>{escapeControl(line.text)}</Text>
        </Box>
      );
    case 'step':
      return (
        <Box>
          <Box width={2} flexShrink={0}>
            <Text color="green">✔</Text>
          </Box>
          <Text>
            {escapeControl(line.text)} <Text dimColor>({seconds(line.ms)})</Text>
          </Text>
        </Box>
      );
    case 'note':
      return (
        <Box>
          <Box width={2} flexShrink={0}>
            <Text color="cyan">ℹ</Text>
          </Box>
          <Text dimColor>{escapeControl(line.text)}</Text>
        </Box>
      );
    case 'check':
      return <CheckRow done={line.done} idWidth={idWidth} verbose={verbose} />;
    case 'summary':
      return <Summary report={line.report} />;
  }
}

function CurrentStep({ text, detail, since }: { text: string; detail: string; since: number }) {
  useAnimation({ interval: 1000 });
  return (
    <Box flexDirection="column" marginTop={0}>
      <Box>
        <Box width={2} flexShrink={0}>
          <Spinner />
        </Box>
        <Text>
          {escapeControl(text)} <Text dimColor>({seconds(Date.now() - since)})</Text>
        </Text>
      </Box>
      {detail ? (
        <Box paddingLeft={2}>
          <Text dimColor wrap="truncate-end">
            {escapeControl(detail)}
          </Text>
        </Box>
      ) : null}
    </Box>
  );
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
