import { readFileSync, readdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { renderToString } from 'ink';
import { describe, expect, it } from 'vitest';
import type { CheckId } from '../../src/checks/outputs';
import type { Check, CheckOutcome, CheckResult, Report, Status } from '../../src/run/types';
import { STATUSES } from '../../src/run/types';
import { runInInk } from '../../src/render/tui/index';
import type { RunSnapshot } from '../../src/render/tui/store';
import { FRAME_MS, createRunStore } from '../../src/render/tui/store';
import { severityLook, statusLook, verdictLook } from '../../src/render/tui/theme';
import { RunView } from '../../src/render/tui/view';
import { sh } from '../../src/checks/shell';
import { fixtureContext } from '../helpers/context';
import { brokenReport, healthyReport, hostileReport } from '../helpers/reports';

// SGR and other CSI sequences, plus OSC; what is left is what a reader sees.
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g;
const strip = (text: string) => text.replace(ANSI, '');

function finalView(report: Report, columns = 200, verbose = false): string {
  const snapshot: RunSnapshot = {
    plan: report.checks.map((c) => ({ id: c.id, title: c.title })),
    printed: report.checks.map((result) => ({
      result,
      findings: report.findings.filter((f) => f.checkId === result.id),
    })),
    running: new Set(),
    held: new Map(),
    report,
  };
  return strip(renderToString(<RunView snapshot={snapshot} verbose={verbose} />, { columns }));
}

describe('theme', () => {
  it('gives every status its own glyph', () => {
    const glyphs = STATUSES.map((s) => statusLook(s).glyph);
    expect(new Set(glyphs).size).toBe(STATUSES.length);
  });

  it('colours fail red and pass green, warn and degraded yellow', () => {
    expect(statusLook('fail').color).toBe('red');
    expect(statusLook('pass').color).toBe('green');
    expect(statusLook('warn').color).toBe('yellow');
    expect(verdictLook('broken').color).toBe('red');
    expect(verdictLook('degraded').color).toBe('yellow');
    expect(severityLook('info').color).toBe('cyan');
  });
});

describe('RunView, final frame', () => {
  it('shows a healthy verdict, every check with its pass glyph, and no root cause', () => {
    const out = finalView(healthyReport());
    expect(out).toContain('HEALTHY: this pod gets the AWS credentials it is set up for');
    expect(out).not.toContain('Root cause');
    for (const id of ['env.mechanism', 'env.irsa', 'token.file', 'token.claims', 'sts.assume-role']) {
      expect(out).toMatch(new RegExp(`${statusLook('pass').glyph} ${id.replace('.', '\\.')}\\s`));
    }
    expect(out).toContain('mechanism: irsa');
    // The identity block, as in the text renderer.
    expect(out).toMatch(/expected role:\s+arn:aws:iam::111122223333:role\/cart-role/);
    expect(out).toMatch(
      /caller:\s+arn:aws:sts::111122223333:assumed-role\/cart-role\/botocore-session-1 \(source: irsa\)/,
    );
    // The box is drawn with round corners.
    expect(out).toContain('╭');
    expect(out).toContain('╰');
  });

  it('shows the root cause, its summary and the fix in the box; the commands go below it, never wrapped', () => {
    const out = finalView(brokenReport());
    expect(out).toContain('BROKEN: this pod will not get the AWS credentials it is set up for');
    expect(out).toMatch(/Root cause: TOKEN_EXPIRED \(token\.claims\)/);
    expect(out).toContain('The token expired 2 h ago');
    expect(out).toContain('Fix: Recreate the pod so the kubelet mounts a fresh token');
    expect(out).toContain('(commands below the box, unwrapped for copying)');
    expect(out).not.toContain('$ kubectl');
    expect(out).toContain('see https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html');
  });

  it('gives each check the glyph of its status, in declared order', () => {
    const report = brokenReport();
    const out = finalView(report);
    const rows = out.split('\n').filter((l) => report.checks.some((c) => l.includes(` ${c.id} `)));
    expect(rows.map((r) => r.trim().split(/\s+/).slice(0, 2))).toEqual(
      report.checks.map((c) => [statusLook(c.status).glyph, c.id]),
    );
    expect(new Set(report.checks.map((c) => c.status))).toEqual(new Set<Status>(STATUSES));
  });

  it("lists every finding with its severity glyph, code and summary; the root cause's summary once, in the box", () => {
    const out = finalView(brokenReport());
    expect(out).toMatch(/▲ REGION_MISSING \(env\.mechanism\) No AWS_REGION/);
    expect(out).toMatch(/ℹ K8S_API_FORBIDDEN \(env\.irsa\) The SA may not read pods/);
    expect(out).toMatch(/✖ TOKEN_EXPIRED \(token\.claims\) the root cause: see below/);
    expect(out).toContain('evidence: exp=2026-11-22T08:00:00Z');
    expect(out.split('The token expired 2 h ago').length - 1).toBe(1);
    expect(out.split('Recreate the pod so the kubelet mounts a fresh token').length - 1).toBe(1);
    expect(out.indexOf('The token expired 2 h ago')).toBeGreaterThan(out.indexOf('Root cause:'));
  });

  it('wraps inside the box at a narrow width instead of overflowing it', () => {
    const out = finalView(brokenReport(), 40);
    for (const line of out.split('\n')) expect(line.length).toBeLessThanOrEqual(40);
    expect(out).toContain('TOKEN_EXPIRED');
  });

  it('escapes control characters from outside strings: nothing can move the cursor or recolour', () => {
    const raw = renderToString(
      <RunView
        snapshot={{
          plan: [],
          printed: hostileReport().checks.map((result) => ({ result, findings: [] })),
          running: new Set(),
          held: new Map(),
          report: hostileReport(),
        }}
      />,
      { columns: 300 },
    );
    // Colour is off in tests (FORCE_COLOR=0), so any ESC or CR in the raw output came from the fixture.
    expect(raw).not.toMatch(/[\u001b\r\u0007]/);
    expect(raw).toContain('summary evil\\x1b[2J\\rgone\\x07');
    expect(raw).toContain('key\\x1b[1m: value evil\\x1b[2J\\rgone\\x07');
    expect(raw).toContain('arn:aws:iam::1:role/x\\x1b[31m');
  });
});

describe('RunView while running', () => {
  it('shows a spinner for running checks and holds finished ones until the checks above finish', () => {
    const checks = ['env.mechanism', 'env.irsa', 'token.file'].map((id) => fake(id as CheckId, 'pass'));
    const store = createRunStore(checks);
    store.events.onStart(checks[0]!);
    store.events.onStart(checks[2]!);
    store.events.onFinish(
      { id: 'token.file', title: 't', status: 'pass', summary: 'fast one', durationMs: 1, dependsOn: [] },
      [],
    );
    const snapshot = store.getSnapshot();
    expect(snapshot.printed).toEqual([]);
    expect([...snapshot.held.keys()]).toEqual(['token.file']);
    const out = strip(renderToString(<RunView snapshot={snapshot} />, { columns: 120 }));
    expect(out).toMatch(/⠋ env\.mechanism\s+fake env\.mechanism/);
    expect(out).not.toContain('fast one');
    expect(out).toContain('1 finished, shown once the checks above finish · 1 waiting for their dependencies');

    store.events.onFinish(
      { id: 'env.mechanism', title: 't', status: 'fail', summary: 'slow one', durationMs: 9, dependsOn: [] },
      [],
    );
    expect(store.getSnapshot().printed.map((p) => p.result.id)).toEqual(['env.mechanism']);
    expect([...store.getSnapshot().held.keys()]).toEqual(['token.file']);
  });
});

describe(createRunStore, () => {
  it('tells the view once per burst of check events, and at once when the run completes', async () => {
    const checks = ['env.mechanism', 'env.irsa'].map((id) => fake(id as CheckId, 'pass'));
    const store = createRunStore(checks);
    let notified = 0;
    store.subscribe(() => notified++);
    for (const check of checks) store.events.onStart(check);
    store.events.onFinish({ ...healthyReport().checks[0]!, id: 'env.mechanism' }, []);
    expect(store.getSnapshot().printed.map((p) => p.result.id)).toEqual(['env.mechanism']);
    expect(notified).toBe(0);
    await new Promise((r) => setTimeout(r, FRAME_MS + 20));
    expect(notified).toBe(1);
    store.complete(healthyReport());
    expect(notified).toBe(2);
    await new Promise((r) => setTimeout(r, FRAME_MS + 20));
    expect(notified).toBe(2);
  });
});

describe('CheckRow', () => {
  it('shows the details of a check with a problem only; passing ones keep theirs for text and JSON', () => {
    const rows: CheckResult[] = [
      { ...healthyReport().checks[0]!, status: 'pass' as const, details: { shown: 'no' } },
      { ...healthyReport().checks[1]!, status: 'fail' as const, details: { evidence: 'yes' } },
    ];
    const out = finalView({ ...healthyReport(), checks: rows });
    expect(out).not.toContain('shown: no');
    expect(out).toContain('evidence: yes');
    const verbose = finalView({ ...healthyReport(), checks: rows }, 200, true);
    expect(verbose).toContain('shown: no');
    expect(verbose).toContain('evidence: yes');
  });
});

function fake(id: CheckId, status: Status, delayMs = 0): Check {
  return {
    id,
    title: `fake ${id}`,
    stage: 'env',
    dependsOn: [],
    run: (async (): Promise<CheckOutcome> => {
      await new Promise((r) => setTimeout(r, delayMs));
      return { status, summary: `${id} said ${status}` };
    }) as Check['run'],
  };
}

class FakeTerminal extends Writable {
  text = '';
  readonly columns = 100;
  readonly rows = 40;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

describe(runInInk, () => {
  it('runs the checks outside React, prints them in declared order and resolves with the report', async () => {
    const terminal = new FakeTerminal();
    const checks = [fake('env.mechanism', 'pass', 60), fake('env.irsa', 'fail', 0), fake('token.file', 'pass', 10)];
    const report = await runInInk(fixtureContext(), { checks, version: '9.9.9' }, terminal);
    expect(report.checks.map((c) => c.status)).toEqual(['pass', 'fail', 'pass']);
    const out = strip(terminal.text);
    const positions = checks.map((c) => out.indexOf(`${c.id} said`));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    // The verdict box is the report's, after every check line: no credentials were obtained, so not healthy.
    expect(report.verification.headline).toMatch(/^INCOMPLETE: /);
    expect(out.indexOf('INCOMPLETE:')).toBeGreaterThan(Math.max(...positions));
    expect(out).not.toContain('HEALTHY');
    expect(out).toContain('irsa-doctor 9.9.9');
  });

  it('writes each fix command after the box as one plain line, however long, root cause first', async () => {
    const terminal = new FakeTerminal();
    const long = sh`aws iam update-assume-role-policy --role-name app --policy-document ${'x y'.repeat(100)}`;
    const failing: Check = {
      ...fake('token.claims', 'fail'),
      run: (async (): Promise<CheckOutcome> => ({
        status: 'fail',
        summary: 'expired',
        findings: [
          { code: 'IMDS_REACHABLE', summary: 'imds', remedy: { summary: 's', commands: [sh`aws ec2 x`], links: [] } },
          { code: 'TOKEN_EXPIRED', summary: 'old', remedy: { summary: 's', commands: [long], links: [] } },
        ],
      })) as Check['run'],
    };
    await runInInk(fixtureContext(), { checks: [failing], version: 't' }, terminal);
    const lines = strip(terminal.text).split('\n');
    const box = lines.findIndex((l) => l.startsWith('╰'));
    expect(lines.slice(box + 1).filter((l) => l !== '')).toEqual([
      'Fix TOKEN_EXPIRED (root cause):',
      `  $ ${long}`,
      'Fix IMDS_REACHABLE:',
      '  $ aws ec2 x',
    ]);
  });
});

describe('Ink stays on the TTY path', () => {
  it('is imported by src/render/tui only (main.ts loads that module lazily)', () => {
    const src = fileURLToPath(new URL('../../src', import.meta.url));
    const importers = (readdirSync(src, { recursive: true }) as string[])
      .filter((path) => /\.tsx?$/.test(path))
      .filter((path) => /from ['"]ink['"]|import\(['"]ink['"]\)/.test(readFileSync(`${src}/${path}`, 'utf8')));
    expect(importers.length).toBeGreaterThan(0);
    expect(importers.filter((path) => !path.startsWith('render/tui/'))).toEqual([]);
    const main = readFileSync(`${src}/cli/main.ts`, 'utf8');
    expect(main).not.toMatch(/^import .*render\/tui/m);
  });
});
