import { Box, Static, Text, useAnimation } from 'ink';
import { useSyncExternalStore } from 'react';
import type { Finding, Identity, Remedy, Report } from '../../run/types';
import { displayValue, escapeControl } from '../escape';
import { mechanismWords, showsDetails, verdictLine } from '../text';
import type { FinishedCheck, RunSnapshot, RunStore } from './store';
import { SPINNER_FRAMES, SPINNER_INTERVAL_MS, severityLook, statusLook, verdictLook } from './theme';

/**
 * The Ink views of a run. Pure functions of a RunSnapshot (tests render them with renderToString); only
 * LiveRun subscribes to the store that the runner feeds from outside React.
 */

export function LiveRun({ store, verbose = false }: { store: RunStore; verbose?: boolean }) {
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot);
  return <RunView snapshot={snapshot} verbose={verbose} />;
}

export function RunView({ snapshot, verbose = false }: { snapshot: RunSnapshot; verbose?: boolean }) {
  const idWidth = Math.max(8, ...snapshot.plan.map((c) => c.id.length)) + 2;
  const pending = snapshot.plan.filter(
    (c) => !snapshot.running.has(c.id) && !snapshot.held.has(c.id) && !isPrinted(snapshot, c.id),
  );
  // The summary goes to <Static> too, as its last item: printed once, never redrawn, so a verdict taller than
  // the terminal cannot be cut or repainted, and the final dynamic frame Ink leaves behind is empty.
  const lines: StaticLine[] = snapshot.printed.map((done) => ({ kind: 'check', done }));
  if (snapshot.report) lines.push({ kind: 'summary', report: snapshot.report });
  return (
    <>
      <Static items={lines} style={{ width: '100%' }}>
        {(line) =>
          line.kind === 'check' ? (
            <CheckRow key={line.done.result.id} done={line.done} idWidth={idWidth} verbose={verbose} />
          ) : (
            <Summary key="summary" report={line.report} />
          )
        }
      </Static>
      {snapshot.report === null ? (
        <Box flexDirection="column">
          {snapshot.plan
            .filter((c) => snapshot.running.has(c.id))
            .map((c) => (
              <Box key={c.id}>
                <Box width={2} flexShrink={0}>
                  <Spinner />
                </Box>
                <Box width={idWidth} flexShrink={0}>
                  <Text>{c.id}</Text>
                </Box>
                <Text dimColor wrap="truncate-end">
                  {escapeControl(c.title)}
                </Text>
              </Box>
            ))}
          {snapshot.held.size + pending.length > 0 ? (
            <Text dimColor>{progressLine(snapshot.held.size, pending.length)}</Text>
          ) : null}
        </Box>
      ) : null}
    </>
  );
}

/** Finished checks wait for the ones declared above them, so the printed order is the report's order. */
function progressLine(held: number, pending: number): string {
  const parts: string[] = [];
  if (held > 0) parts.push(`${held} finished, shown once the checks above finish`);
  if (pending > 0) parts.push(`${pending} waiting for their dependencies`);
  return `  ${parts.join(' · ')}`;
}

type StaticLine = { kind: 'check'; done: FinishedCheck } | { kind: 'summary'; report: Report };

function isPrinted(snapshot: RunSnapshot, id: string): boolean {
  return snapshot.printed.some((done) => done.result.id === id);
}

/** A tiny spinner: one braille frame per SPINNER_INTERVAL_MS on Ink's shared animation timer. */
export function Spinner() {
  const { frame } = useAnimation({ interval: SPINNER_INTERVAL_MS });
  return <Text color="cyan">{SPINNER_FRAMES[frame % SPINNER_FRAMES.length]}</Text>;
}

export function CheckRow({
  done,
  idWidth,
  verbose = false,
}: {
  done: FinishedCheck;
  idWidth: number;
  verbose?: boolean;
}) {
  const { result } = done;
  const look = statusLook(result.status);
  return (
    <Box flexDirection="column">
      <Box>
        <Box width={2} flexShrink={0}>
          <Text color={look.color}>{look.glyph}</Text>
        </Box>
        <Box width={idWidth} flexShrink={0}>
          <Text>{result.id}</Text>
        </Box>
        <Box flexShrink={1}>
          <Text color={result.status === 'skip' ? 'gray' : undefined}>{escapeControl(result.summary)}</Text>
        </Box>
      </Box>
      {/* Details of checks that passed or were skipped only with --verbose, as in text: without it they are
          noise, and laying out each line through Ink costs memory (the TUI is held under 100 MB). */}
      {(showsDetails(result.status, verbose) ? Object.entries(result.details ?? {}) : []).map(([key, value]) => (
        <Box key={key} paddingLeft={idWidth + 2}>
          <Text dimColor>
            {escapeControl(key)}: {displayValue(value)}
          </Text>
        </Box>
      ))}
    </Box>
  );
}

/** The end of the run: identity, findings, then the verdict box with the root cause and its fix. */
export function Summary({ report }: { report: Report }) {
  return (
    <Box flexDirection="column" marginTop={1}>
      <IdentityBlock identity={report.identity} />
      <Findings findings={report.findings} rootCause={report.rootCause} />
      <VerdictBox report={report} />
    </Box>
  );
}

export function IdentityBlock({ identity }: { identity: Identity }) {
  if (!identity.expectedRoleArn && !identity.callerArn && !identity.nodeRoleArn) return null;
  const rows: [string, string][] = [];
  if (identity.expectedRoleArn) rows.push(['expected role', escapeControl(identity.expectedRoleArn)]);
  if (identity.callerArn) rows.push(['caller', `${escapeControl(identity.callerArn)} (source: ${identity.source})`]);
  if (identity.nodeRoleArn) rows.push(['node role', escapeControl(identity.nodeRoleArn)]);
  return (
    <Box flexDirection="column" marginBottom={1}>
      <Text bold>Identity</Text>
      {rows.map(([label, value]) => (
        <Box key={label} paddingLeft={2}>
          <Box width={15} flexShrink={0}>
            <Text>{label}:</Text>
          </Box>
          <Box flexShrink={1}>
            <Text>{value}</Text>
          </Box>
        </Box>
      ))}
    </Box>
  );
}

/** Every finding; the root cause's summary and fix are in the verdict box only (printed once). */
export function Findings({
  findings,
  rootCause = null,
}: {
  findings: readonly Finding[];
  rootCause?: Report['rootCause'];
}) {
  if (findings.length === 0) return null;
  return (
    <Box flexDirection="column" marginBottom={1}>
      <Text bold>Findings</Text>
      {findings.map((finding, index) => {
        const look = severityLook(finding.severity);
        const evidence = Object.entries(finding.evidence);
        const isRoot = rootCause !== null && finding.code === rootCause.code && finding.checkId === rootCause.checkId;
        return (
          <Box key={`${finding.code}-${index}`} flexDirection="column" paddingLeft={2}>
            <Box>
              <Box width={2} flexShrink={0}>
                <Text color={look.color}>{look.glyph}</Text>
              </Box>
              <Box flexShrink={1}>
                <Text>
                  <Text color={look.color} bold>
                    {finding.code}
                  </Text>
                  <Text dimColor> ({finding.checkId})</Text>{' '}
                  {isRoot ? 'the root cause: see below' : escapeControl(finding.summary)}
                </Text>
              </Box>
            </Box>
            <Box flexDirection="column" paddingLeft={2}>
              {evidence.length > 0 ? (
                <Text dimColor>
                  evidence: {evidence.map(([k, v]) => `${escapeControl(k)}=${displayValue(v, 200)}`).join(', ')}
                </Text>
              ) : null}
              {isRoot ? null : <Text dimColor>fix: {escapeControl(finding.remedy.summary)}</Text>}
            </Box>
          </Box>
        );
      })}
    </Box>
  );
}

export function VerdictBox({ report }: { report: Report }) {
  const look = verdictLook(report.verdict);
  const cause = report.rootCause;
  return (
    <Box flexDirection="column" borderStyle="round" borderColor={look.color} paddingX={1}>
      <Text color={look.color} bold>
        {look.glyph} {verdictLine(report)}
      </Text>
      {cause ? (
        <Box flexDirection="column" marginTop={1}>
          <Text>
            Root cause:{' '}
            <Text color={look.color} bold>
              {cause.code}
            </Text>
            <Text dimColor> ({cause.checkId})</Text>
          </Text>
          <Text>{escapeControl(cause.summary)}</Text>
          <RemedyBlock remedy={cause.remedy} />
        </Box>
      ) : null}
      <Text dimColor>
        irsa-doctor {escapeControl(report.tool.version)} · mechanism: {mechanismWords(report)} · {report.durationMs} ms
      </Text>
    </Box>
  );
}

export function RemedyBlock({ remedy }: { remedy: Remedy }) {
  return (
    <Box flexDirection="column" marginY={1}>
      <Text>
        <Text bold>Fix:</Text> {escapeControl(remedy.summary)}
      </Text>
      {remedy.commands.length > 0 || (remedy.snippets ?? []).length > 0 ? (
        <Text dimColor>
          (commands{(remedy.snippets ?? []).length > 0 ? ' and documents' : ''} below the box, unwrapped for copying)
        </Text>
      ) : null}
      {remedy.links.map((link, index) => (
        <Box key={`l${index}`} paddingLeft={2}>
          <Text dimColor>see {escapeControl(link)}</Text>
        </Box>
      ))}
    </Box>
  );
}
