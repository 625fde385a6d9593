import { describe, expect, it } from 'vitest';
import type { CheckId } from '../../src/checks/outputs';
import { exitCodeOf, rootCauseOf, runChecks } from '../../src/run/runner';
import { selectChecks, UsageError } from '../../src/run/select';
import type { Check, CheckOutcome, Stage } from '../../src/run/types';
import { fixtureContext } from '../helpers/context';

// The runner is generic over check ids; fake checks borrow ids by casting, as the ids are only labels here.
function fake(
  id: string,
  run: () => Promise<CheckOutcome>,
  extra: { dependsOn?: string[]; uses?: string[]; stage?: Stage; timeoutMs?: number; needs?: 'network' | 'kube' } = {},
): Check {
  return {
    id: id as CheckId,
    title: `fake ${id}`,
    stage: extra.stage ?? 'env',
    dependsOn: (extra.dependsOn ?? []) as CheckId[],
    uses: (extra.uses ?? []) as CheckId[],
    timeoutMs: extra.timeoutMs,
    needs: extra.needs,
    run: run as Check['run'],
  };
}
const pass = async (): Promise<CheckOutcome> => ({ status: 'pass', summary: 'ok' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(runChecks, () => {
  it('reports in declared order even when later checks finish first', async () => {
    const checks = [
      fake('slow', async () => (await sleep(40), { status: 'pass', summary: 'slow' })),
      fake('fast', pass),
    ];
    const finishOrder: string[] = [];
    const report = await runChecks(fixtureContext(), {
      checks,
      version: 't',
      events: { onFinish: (r) => finishOrder.push(r.id) },
    });
    expect(report.checks.map((c) => c.id)).toEqual(['slow', 'fast']);
    expect(finishOrder).toEqual(['fast', 'slow']);
  });

  it('runs independent checks in parallel', async () => {
    const checks = [1, 2, 3].map((n) => fake(`c${n}`, async () => (await sleep(150), { status: 'pass', summary: '' })));
    const started = Date.now();
    await runChecks(fixtureContext(), { checks, version: 't' });
    expect(Date.now() - started).toBeLessThan(400);
  });

  it('turns a throw into status error, never a crash', async () => {
    const report = await runChecks(fixtureContext(), {
      checks: [
        fake('boom', async () => {
          throw new TypeError('bad thing');
        }),
      ],
      version: 't',
    });
    expect(report.checks[0]).toMatchObject({ status: 'error', summary: expect.stringContaining('bad thing') });
  });

  it('turns a hang into status error at the check timeout and aborts its signal', async () => {
    let aborted = false;
    const hang = fake('hang', (() => new Promise(() => {})) as () => Promise<CheckOutcome>, { timeoutMs: 50 });
    const watcher: Check = {
      ...hang,
      run: (_ctx, _up, signal) => {
        signal.addEventListener('abort', () => (aborted = true));
        return new Promise(() => {});
      },
    };
    const report = await runChecks(fixtureContext(), { checks: [watcher], version: 't' });
    expect(report.checks[0]).toMatchObject({ status: 'error', summary: expect.stringContaining('50 ms') });
    expect(aborted).toBe(true);
  });

  it('keeps the whole run inside the global deadline', async () => {
    const hang = () => new Promise<CheckOutcome>(() => {});
    const checks = [fake('a', hang, { timeoutMs: 60_000 }), fake('b', hang, { timeoutMs: 60_000 })];
    const started = Date.now();
    const report = await runChecks(fixtureContext({ timeoutMs: 200 }), { checks, version: 't' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(report.checks.map((c) => c.status)).toEqual(['error', 'error']);
    expect(report.checks[0]?.summary).toContain('--timeout');
  });

  it('skips dependents of a failed check with the reason, and runs users of a soft dependency', async () => {
    const checks = [
      fake('root', async () => ({ status: 'fail', summary: 'broken' })),
      fake('child', pass, { dependsOn: ['root'] }),
      fake('grandchild', pass, { dependsOn: ['child'] }),
      fake('soft', pass, { uses: ['root'] }),
    ];
    const report = await runChecks(fixtureContext(), { checks, version: 't' });
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['root', 'fail'],
      ['child', 'skip'],
      ['grandchild', 'skip'],
      ['soft', 'pass'],
    ]);
    expect(report.checks[1]?.summary).toBe('skipped: depends on root which failed');
    expect(report.checks[2]?.summary).toBe('skipped: depends on child which was skipped');
  });

  it('passes outputs of declared dependencies only', async () => {
    let seen: unknown;
    let misuse: unknown;
    const checks = [
      fake('a', async () => ({ status: 'pass', summary: '', output: { value: 42 } })),
      fake('b', async () => ({ status: 'pass', summary: '' })),
      {
        ...fake('c', pass, { dependsOn: ['a'] }),
        run: async (_ctx, upstream) => {
          seen = upstream.output('a' as CheckId);
          try {
            upstream.output('b' as CheckId);
          } catch (error) {
            misuse = error;
          }
          return { status: 'pass', summary: '' };
        },
      } as Check,
    ];
    await runChecks(fixtureContext(), { checks, version: 't' });
    expect(seen).toEqual({ value: 42 });
    expect(String(misuse)).toContain('without declaring it');
  });

  it('gives a soft dependant the output a failing check published, and nothing of an errored one', async () => {
    const seen: unknown[] = [];
    const checks = [
      fake('failing', async () => ({ status: 'fail', summary: '', output: { winner: 'static-keys' } })),
      fake('broken', async () => {
        throw new Error('boom');
      }),
      {
        ...fake('reader', pass, { uses: ['failing', 'broken'] }),
        run: async (_ctx, upstream) => {
          seen.push(upstream.output('failing' as CheckId), upstream.output('broken' as CheckId));
          return { status: 'pass', summary: '' };
        },
      } as Check,
    ];
    await runChecks(fixtureContext(), { checks, version: 't' });
    expect(seen).toEqual([{ winner: 'static-keys' }, undefined]);
  });

  it('skips network checks under --offline', async () => {
    const report = await runChecks(fixtureContext({ offline: true }), {
      checks: [fake('net', pass, { needs: 'network' })],
      version: 't',
    });
    expect(report.checks[0]).toMatchObject({ status: 'skip', summary: 'skipped: --offline (no network calls)' });
  });
});

describe(rootCauseOf, () => {
  it('picks the earliest broken link of the chain, not the first reported', async () => {
    const checks = [
      fake(
        'sts',
        async () => ({
          status: 'fail',
          summary: '',
          findings: [
            { code: 'TRUST_POLICY_DENIED', summary: 'denied', remedy: { summary: '', commands: [], links: [] } },
          ],
        }),
        { stage: 'sts' },
      ),
      fake(
        'token',
        async () => ({
          status: 'fail',
          summary: '',
          findings: [
            { code: 'TOKEN_STALE', summary: 'stale', remedy: { summary: '', commands: [], links: [] } },
            { code: 'TOKEN_EXPIRED', summary: 'expired', remedy: { summary: '', commands: [], links: [] } },
          ],
        }),
        { stage: 'token' },
      ),
    ];
    const report = await runChecks(fixtureContext(), { checks, version: 't' });
    expect(report.rootCause?.code).toBe('TOKEN_EXPIRED');
    expect(report.verdict).toBe('broken');
    expect(exitCodeOf(report, { exitZero: false })).toBe(1);
    expect(exitCodeOf(report, { exitZero: true })).toBe(0);
  });

  it('has no root cause and exit 0 when only warnings were found', async () => {
    const checks = [
      fake('w', async () => ({
        status: 'warn',
        summary: '',
        findings: [{ code: 'REGION_MISSING', summary: 'no region', remedy: { summary: '', commands: [], links: [] } }],
      })),
    ];
    const report = await runChecks(fixtureContext(), { checks, version: 't' });
    expect(report.rootCause).toBeNull();
    expect(report.verdict).toBe('degraded');
    expect(exitCodeOf(report, { exitZero: false })).toBe(0);
  });
});

describe(selectChecks, () => {
  const all = [fake('a', pass), fake('b', pass, { dependsOn: ['a'] }), fake('c', pass)];

  it('--only pulls in dependencies', () => {
    expect(selectChecks(all, ['b'], []).map((c) => c.id)).toEqual(['a', 'b']);
  });

  it('--only pulls in what the selected checks read through uses too, transitively', () => {
    const chain = [
      fake('root', pass),
      fake('soft', pass, { dependsOn: ['root'] }),
      fake('file', pass, { uses: ['soft'] }),
      fake('claims', pass, { dependsOn: ['file'] }),
      fake('other', pass),
    ];
    expect(selectChecks(chain, ['claims'], []).map((c) => c.id)).toEqual(['root', 'soft', 'file', 'claims']);
  });

  it('lists what --only left out as not checked, and a run without credentials is never healthy', async () => {
    const checks = [fake('env.mechanism', pass), fake('sts.assume-role', pass, { stage: 'sts' })];
    const selected = selectChecks(checks, ['env.mechanism'], []);
    const report = await runChecks(fixtureContext(), { checks: selected, version: 't', omitted: [checks[1]!] });
    expect(report.verdict).toBe('degraded');
    expect(report.verification.links.find((l) => l.link === 'sts')).toEqual({
      link: 'sts',
      state: 'not-checked',
      verified: [],
      notApplicable: [],
      problems: [],
      notChecked: [{ checkId: 'sts.assume-role', cause: 'only', reason: '--only (not selected)' }],
    });
  });

  it('--skip keeps the check as skip and its dependents skip too', async () => {
    const report = await runChecks(fixtureContext(), { checks: selectChecks(all, [], ['a']), version: 't' });
    expect(report.checks.map((c) => [c.id, c.status, c.summary])).toEqual([
      ['a', 'skip', 'skipped: --skip'],
      ['b', 'skip', 'skipped: depends on a which was skipped'],
      ['c', 'pass', 'ok'],
    ]);
  });

  it('rejects unknown ids', () => {
    expect(() => selectChecks(all, ['nope'], [])).toThrow(UsageError);
  });
});
