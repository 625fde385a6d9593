import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { THREADS_NEEDED, startupProblem } from '../../../src/cli/limits';

/** A fake /proc: self with its limits and status, and other processes with their uid and thread count. */
function fakeProc(options: { max: string; capEff?: string; own: number; others: { uid: number; threads: number }[] }) {
  const proc = mkdtempSync(path.join(tmpdir(), 'irsa-limits-'));
  const status = (uid: number, threads: number, cap = '0000000000000000') =>
    `Name:\tx\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nThreads:\t${threads}\nCapEff:\t${cap}\n`;
  mkdirSync(path.join(proc, 'self'));
  writeFileSync(
    path.join(proc, 'self', 'limits'),
    `Limit                     Soft Limit           Hard Limit           Units\nMax processes             ${options.max}                ${options.max}                processes\n`,
  );
  writeFileSync(path.join(proc, 'self', 'status'), status(1000, options.own, options.capEff));
  mkdirSync(path.join(proc, '100'));
  writeFileSync(path.join(proc, '100', 'status'), status(1000, options.own));
  options.others.forEach((p, i) => {
    mkdirSync(path.join(proc, String(200 + i)));
    writeFileSync(path.join(proc, String(200 + i), 'status'), status(p.uid, p.threads));
  });
  return proc;
}

describe('startupProblem', () => {
  const cwdOk = () => '/';
  it('says nothing when RLIMIT_NPROC is unlimited or leaves room for the threads of a run', () => {
    expect(startupProblem(fakeProc({ max: 'unlimited', own: 4, others: [] }), cwdOk)).toBeUndefined();
    expect(
      startupProblem(fakeProc({ max: '100', own: 4, others: [{ uid: 1000, threads: 50 }] }), cwdOk),
    ).toBeUndefined();
  });

  it('counts the threads of every process of the same uid, not of others, and says what to do', () => {
    const crowded = fakeProc({
      max: '30',
      own: 4,
      others: [
        { uid: 1000, threads: 20 },
        { uid: 0, threads: 500 },
      ],
    });
    const problem = startupProblem(crowded, cwdOk);
    expect(problem).toBe(
      `uid 1000 may run 30 processes and threads (RLIMIT_NPROC) and 24 are in use, so this process cannot start the ${THREADS_NEEDED - 4} more threads it needs: raise the limit (ulimit -u) or run irsa-doctor as another uid`,
    );
    expect(problem).not.toContain('\n');
  });

  it('knows that CAP_SYS_RESOURCE or CAP_SYS_ADMIN lifts the limit', () => {
    const proc = fakeProc({ max: '5', capEff: '0000000001000000', own: 4, others: [{ uid: 1000, threads: 9 }] });
    expect(startupProblem(proc, cwdOk)).toBeUndefined();
  });

  it('says so when the working directory was deleted', () => {
    const deleted = () => {
      throw Object.assign(new Error('uv_cwd'), { code: 'ENOENT' });
    };
    expect(startupProblem(fakeProc({ max: 'unlimited', own: 4, others: [] }), deleted)).toMatch(
      /^the current working directory was deleted/,
    );
  });
});
