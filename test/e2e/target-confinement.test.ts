import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINARY } from '../helpers/binary';
import type { MeasuredRun, TracedRun } from '../helpers/hostile';
import {
  GNU_TIME,
  chrootProblem,
  chrootedSleep,
  makeTargetRoot,
  measured,
  openedPaths,
  startedProcesses,
  straceProblem,
  traced,
} from '../helpers/hostile';
import { expectValidReport } from '../helpers/reports';
import { mintToken, segmentsOf } from '../helpers/tokens';

/**
 * docs/security.md, "Files": with --target every path of the app is resolved inside its root. The app here is a
 * real process chrooted into a directory of the test's making (what /proc/PID/root of a container is), whose
 * token path leads out of it every way a hostile app could arrange: an absolute link to a file of the doctor's
 * own filesystem, /proc/OTHER/root/..., /proc/self/root/..., a `..` chain, a parent directory linking out, a
 * loop. The file outside holds a valid-looking token: read, it would be POSTed to the app's STS endpoint (a
 * recorder here). The built binary runs under strace -y, which names the file behind every descriptor opened.
 */
const skip = straceProblem ?? chrootProblem ?? (GNU_TIME ? undefined : 'GNU time (/usr/bin/time) is missing');
if (skip) console.warn(`target-confinement.test.ts skipped: ${skip}`);

const work = mkdtempSync(path.join(tmpdir(), 'irsa-confine-'));
const outside = path.join(work, 'outside');
const ROLE = 'arn:aws:iam::111122223333:role/app';
const TIMEOUT_MS = 3_000;

interface Report {
  checks: { id: string; status: string; summary: string; details?: Record<string, unknown> }[];
  findings: { code: string; checkId: string; summary: string }[];
}

/** Token paths as the app names them, and what the doctor must make of each. */
const ESCAPES = [
  { name: 'an absolute link to a file of the doctor’s filesystem', link: 'abs-host' },
  { name: 'a link through /proc/OTHER/root (another container’s root)', link: 'proc-other' },
  { name: 'a link through /proc/self/root', link: 'proc-self' },
  { name: 'a .. chain far past the root', link: 'dotdot' },
  { name: 'a parent directory that links out', link: 'parent/secret' },
] as const;

describe.skipIf(skip !== undefined || !existsSync(BINARY))('--target: paths resolved inside the app’s root', () => {
  let canary = '';
  let insideToken = '';
  const posted: string[] = [];
  let sts: http.Server;
  let stsUrl = '';
  let root = '';
  const runs = new Map<string, TracedRun>();
  const timed = new Map<string, MeasuredRun>();
  const stops: (() => void)[] = [];

  async function diagnoseApp(env: Record<string, string>): Promise<TracedRun> {
    const app = await chrootedSleep(root, env);
    stops.push(app.stop);
    const run = await traced(
      ['--target', String(app.pid), '--output', 'json', '--timeout', String(TIMEOUT_MS), '--no-kube'],
      {
        PATH: '/usr/bin:/bin',
        HOME: work,
      },
    );
    app.stop();
    return run;
  }

  async function measureApp(env: Record<string, string>): Promise<MeasuredRun> {
    const app = await chrootedSleep(root, env);
    stops.push(app.stop);
    const run = await measured(
      ['--target', String(app.pid), '--output', 'json', '--timeout', String(TIMEOUT_MS), '--no-kube'],
      {
        PATH: '/usr/bin:/bin',
        HOME: work,
      },
    );
    app.stop();
    return run;
  }

  const appEnv = (tokenFile: string, extra: Record<string, string> = {}) => ({
    AWS_ROLE_ARN: ROLE,
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    AWS_REGION: 'us-west-2',
    AWS_ENDPOINT_URL_STS: stsUrl,
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  });

  beforeAll(async () => {
    canary = await mintToken({ namespace: 'outside', serviceAccount: 'canary' });
    insideToken = await mintToken({ namespace: 'shop', serviceAccount: 'inside' });
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'secret'), canary);
    sts = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        posted.push(decodeURIComponent(body));
        res
          .writeHead(500, { 'content-type': 'text/xml' })
          .end('<ErrorResponse><Error><Code>InternalFailure</Code></Error></ErrorResponse>');
      });
    });
    await new Promise<void>((resolve) => sts.listen(0, '127.0.0.1', resolve));
    stsUrl = `http://127.0.0.1:${(sts.address() as AddressInfo).port}`;

    root = makeTargetRoot('irsa-confine-root-');
    mkdirSync(path.join(root, 'links'));
    mkdirSync(path.join(root, 'data'));
    mkdirSync(path.join(root, 'dev'));
    writeFileSync(path.join(root, 'data/token'), insideToken);
    const link = (name: string, to: string) => symlinkSync(to, path.join(root, 'links', name));
    link('abs-host', path.join(outside, 'secret'));
    link('proc-other', `/proc/${process.pid}/root${outside}/secret`);
    link('proc-self', `/proc/self/root${outside}/secret`);
    link('dotdot', `${'../'.repeat(30)}${outside.slice(1)}/secret`);
    link('parent', outside);
    link('loop-a', 'loop-b');
    link('loop-b', 'loop-a');
    link('inside', '/data/token');
    link('devzero', '/dev/zero');
    spawnSync('mkfifo', [path.join(root, 'links/fifo')]);
    spawnSync('mknod', ['-m', '666', path.join(root, 'dev/zero'), 'c', '1', '5']);

    const cases: [string, Record<string, string>][] = [
      ...ESCAPES.map((e): [string, Record<string, string>] => [e.link, appEnv(`/links/${e.link}`)]),
      ['loop', appEnv('/links/loop-a')],
      ['inside', appEnv('/links/inside')],
    ];
    for (let i = 0; i < cases.length; i += 4) {
      const batch = cases.slice(i, i + 4);
      const done = await Promise.all(batch.map(([, env]) => diagnoseApp(env)));
      batch.forEach(([name], j) => runs.set(name, done[j] as TracedRun));
    }
    // What would hang or grow a reader, in the app's env and root: measured without strace, one at a time.
    const hostile: [string, Record<string, string>][] = [
      ['token FIFO', appEnv('/links/fifo')],
      ['token /dev/zero', appEnv('/links/devzero')],
      ['TZ=:FIFO', appEnv('/links/inside', { TZ: ':/links/fifo' })],
      ['AWS_CONFIG_FILE FIFO', appEnv('/links/inside', { AWS_CONFIG_FILE: '/links/fifo', HOME: '/data' })],
      ['AWS_SHARED_CREDENTIALS_FILE /dev/zero', appEnv('/links/inside', { AWS_SHARED_CREDENTIALS_FILE: '/dev/zero' })],
    ];
    for (const [name, env] of hostile) timed.set(name, await measureApp(env));
  }, 120_000);

  afterAll(async () => {
    stops.forEach((stop) => stop());
    await new Promise((resolve) => sts?.close(resolve));
    rmSync(work, { recursive: true, force: true });
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const reportOf = (run: TracedRun | MeasuredRun) => {
    const report = JSON.parse(run.stdout) as Report;
    expectValidReport(report);
    return report;
  };
  const check = (report: Report, id: string) => report.checks.find((c) => c.id === id);
  const outsideOpened = (run: TracedRun) => openedPaths(run.trace).filter((p) => p.startsWith(outside));

  it('the control: a link to the app’s own file inside its root is followed, read and used', () => {
    const run = runs.get('inside') as TracedRun;
    const report = reportOf(run);
    expect(check(report, 'token.file')?.status).toBe('pass');
    expect(check(report, 'token.file')?.details?.resolved).toBe('/data/token');
    expect(posted.some((body) => body.includes(insideToken))).toBe(true);
    expect(openedPaths(run.trace)).toContain(path.join(root, 'data/token'));
  });

  it.for(ESCAPES)(
    '$name: resolved inside the root, where it does not exist; the file outside is never opened',
    ({ link }) => {
      const run = runs.get(link) as TracedRun;
      const report = reportOf(run);
      expect(check(report, 'token.file')?.status).toBe('fail');
      expect(report.findings.map((f) => f.code)).toContain('TOKEN_FILE_MISSING');
      expect(outsideOpened(run)).toEqual([]);
      expect(startedProcesses(run.trace)).toEqual([]);
      const { payload, signature } = segmentsOf(canary);
      expect(run.stdout).not.toContain(payload);
      expect(run.stdout).not.toContain(signature);
      expect(run.code).toBe(1);
    },
  );

  it('a loop of links: ELOOP after 40 hops, reported, nothing outside opened', () => {
    const run = runs.get('loop') as TracedRun;
    const report = reportOf(run);
    expect(check(report, 'token.file')?.summary).toMatch(/a loop of symbolic links \(more than 40\)/);
    expect(outsideOpened(run)).toEqual([]);
  });

  it('the file outside the root was never POSTed as a WebIdentityToken', () => {
    expect(posted.length).toBeGreaterThan(0);
    expect(posted.filter((body) => body.includes(canary))).toEqual([]);
  });

  it.for([
    'token FIFO',
    'token /dev/zero',
    'TZ=:FIFO',
    'AWS_CONFIG_FILE FIFO',
    'AWS_SHARED_CREDENTIALS_FILE /dev/zero',
  ])('%s in the app: a complete report within --timeout + 1 s, under 150 MB', (name) => {
    const run = timed.get(name) as MeasuredRun;
    const report = reportOf(run);
    expect(report.checks.length).toBeGreaterThan(10);
    expect(run.elapsedMs).toBeLessThan(TIMEOUT_MS + 1_000);
    expect(run.maxRssKiB).toBeLessThan(150 * 1024);
    expect([0, 1]).toContain(run.code);
    if (name.startsWith('token')) {
      expect(report.findings.map((f) => f.code)).toContain('TOKEN_FILE_NOT_REGULAR');
    }
  });
});
