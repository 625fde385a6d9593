import { Box, Static, Text, render, useAnimation } from 'ink';
import { useSyncExternalStore } from 'react';
import type { FleetRow } from '../../fleet/run';
import { rowCells } from '../../fleet/render';
import { escapeControl } from '../escape';
import type { Look } from './theme';
import { statusLook } from './theme';
import { FrameStore } from './store';
import { Spinner } from './view';

/*
 * The live table of `irsa-doctor fleet`: a header, then one line per ServiceAccount as its Job finishes
 * (ServiceAccount, mechanism, verdict, root cause, time), written once through <Static> so a table of a
 * thousand rows costs nothing to redraw; under it the Jobs running now with a spinner and their seconds, and a
 * counter. What to do about each problem is printed as plain lines after Ink is done (fleet/render.ts), as the
 * local TUI prints its fix commands, so they can be copied. Never reads stdin.
 */

interface Snapshot {
  /** Append-only: <Static> prints each line once, in this order. */
  readonly lines: readonly StaticLine[];
  readonly done: number;
  readonly running: readonly FleetRow[];
  readonly total: number | undefined;
}

export interface FleetView {
  discovered(total: number): void;
  changed(row: FleetRow): void;
  note(text: string): void;
  stop(): Promise<void>;
}

const WIDTHS = [40, 13, 14, 34, 6] as const;

/** A row's verdict looks like the check status of the same weight, so the fleet table reads as the report does. */
export function verdictLook(verdict: FleetRow['verdict']): Look {
  switch (verdict) {
    case 'healthy':
      return statusLook('pass');
    case 'degraded':
      return statusLook('warn');
    case 'broken':
      return statusLook('fail');
    case 'forbidden':
    case 'failed':
      return statusLook('error');
    default:
      return statusLook('skip');
  }
}

export function startFleetView(stdout: NodeJS.WritableStream, title: string): FleetView {
  const store = new FrameStore<Snapshot>({
    lines: [{ kind: 'title', text: title }, { kind: 'header' }],
    done: 0,
    running: [],
    total: undefined,
  });
  const update = (next: Partial<Snapshot>, now = false) => store.update(next, now);
  const running = new Map<string, FleetRow>();
  const instance = render(<FleetTable store={store} />, {
    stdout: stdout as NodeJS.WriteStream,
    patchConsole: false,
    exitOnCtrlC: false,
  });
  return {
    discovered(total) {
      update({ total }, true);
    },
    changed(row) {
      const key = `${row.namespace}/${row.serviceAccount}`;
      if (row.state === 'running') running.set(key, { ...row });
      else running.delete(key);
      update({
        running: [...running.values()],
        ...(row.state === 'done'
          ? { done: store.snapshot.done + 1, lines: [...store.snapshot.lines, { kind: 'row', row: { ...row } }] }
          : {}),
      });
    },
    note(text) {
      update({ lines: [...store.snapshot.lines, { kind: 'note', text }] });
    },
    async stop() {
      update({ running: [] }, true);
      await instance.waitUntilRenderFlush();
      instance.unmount();
      await instance.waitUntilExit();
    },
  };
}

type StaticLine =
  | { readonly kind: 'title'; readonly text: string }
  | { readonly kind: 'header' }
  | { readonly kind: 'row'; readonly row: FleetRow }
  | { readonly kind: 'note'; readonly text: string };

function FleetTable({ store }: { store: { subscribe(l: () => void): () => void; getSnapshot(): Snapshot } }) {
  const s = useSyncExternalStore(store.subscribe, store.getSnapshot);
  return (
    <>
      <Static items={s.lines as StaticLine[]}>{(line, index) => <StaticView key={index} line={line} />}</Static>
      {s.running.map((row) => (
        <Running key={`${row.namespace}/${row.serviceAccount}`} row={row} />
      ))}
      {s.total !== undefined && s.done < s.total ? (
        <Text dimColor>
          {s.done}/{s.total} done, {s.running.length} running
        </Text>
      ) : null}
    </>
  );
}

function Cells({ cells, look }: { cells: readonly string[]; look?: Look }) {
  return (
    <Box>
      <Box width={2} flexShrink={0}>
        {look ? <Text color={look.color}>{look.glyph}</Text> : <Text> </Text>}
      </Box>
      {cells.map((cell, i) => (
        <Box key={i} width={(WIDTHS[i] ?? 10) + 1} flexShrink={i === 0 ? 1 : 0}>
          <Text wrap="truncate-end" {...(i === 2 && look ? { color: look.color } : {})}>
            {cell}
          </Text>
        </Box>
      ))}
    </Box>
  );
}

function StaticView({ line }: { line: StaticLine }) {
  switch (line.kind) {
    case 'title':
      return (
        <Box marginBottom={1}>
          <Text bold>{escapeControl(line.text)}</Text>
        </Box>
      );
    case 'header':
      return <Cells cells={['SERVICEACCOUNT', 'MECHANISM', 'VERDICT', 'ROOT CAUSE', 'TIME']} />;
    case 'row':
      return <Cells cells={rowCells(line.row)} look={verdictLook(line.row.verdict)} />;
    case 'note':
      return (
        <Box>
          <Box width={2} flexShrink={0}>
            <Text color="cyan">ℹ</Text>
          </Box>
          <Text dimColor>{escapeControl(line.text)}</Text>
        </Box>
      );
  }
}

function Running({ row }: { row: FleetRow }) {
  useAnimation({ interval: 1000 });
  const cells = rowCells(row);
  return (
    <Box>
      <Box width={2} flexShrink={0}>
        <Spinner />
      </Box>
      <Text>
        {cells[0]} <Text dimColor>running ({Math.round((Date.now() - (row.startedAt ?? Date.now())) / 1000)} s)</Text>
      </Text>
    </Box>
  );
}
