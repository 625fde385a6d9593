import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINARY } from '../helpers/binary';
import type { MeasuredRun } from '../helpers/hostile';
import { GNU_TIME, measured } from '../helpers/hostile';
import { expectValidReport } from '../helpers/reports';
import { mintToken } from '../helpers/tokens';

/**
 * docs/security.md, "Files": a FIFO read synchronously stops the event loop forever, and /dev/zero read whole
 * grows the process to gigabytes. Each field that names a file the doctor or its libraries would read gets a
 * FIFO without a writer, then /dev/zero, in this process's own env and files (kubectl exec into the app's
 * container). Every run must end within --timeout + 1 s with a complete report, under 150 MB peak RSS
 * (GNU time's %M).
 */
const skip = GNU_TIME ? undefined : 'GNU time (/usr/bin/time) is missing';
if (skip) console.warn(`hangs.test.ts skipped: ${skip}`);

const TIMEOUT_MS = 2_000;
const work = mkdtempSync(path.join(tmpdir(), 'irsa-hangs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const fifo = path.join(work, 'fifo');

interface Report {
  checks: { id: string; status: string; summary: string; details?: Record<string, unknown> }[];
  findings: { code: string; checkId: string }[];
}

function kubeconfig(name: string, cluster: string, user: string): string {
  const file = path.join(work, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: c',
      `clusters: [{name: k, cluster: {server: "https://127.0.0.1:1"${cluster}}}]`,
      'contexts: [{name: c, context: {cluster: k, user: u}}]',
      `users: [{name: u, user: {${user}}}]`,
      '',
    ].join('\n'),
  );
  return file;
}

function profileConfig(name: string, tokenFile: string): string {
  const file = path.join(work, `${name}.config`);
  writeFileSync(
    file,
    `[profile web]\nrole_arn = arn:aws:iam::111122223333:role/web\nweb_identity_token_file = ${tokenFile}\n`,
  );
  return file;
}

/** The field, and the env that points it at `target` (a FIFO or /dev/zero). */
const FIELDS: readonly [string, (target: string) => Record<string, string>][] = [
  [
    'kubeconfig certificate-authority',
    (t) => ({ KUBECONFIG: kubeconfig(`ca${t.length}`, `, certificate-authority: ${t}`, 'token: x') }),
  ],
  [
    'kubeconfig client-certificate',
    (t) => ({ KUBECONFIG: kubeconfig(`cert${t.length}`, '', `client-certificate: ${t}, client-key-data: eA==`) }),
  ],
  [
    'kubeconfig client-key',
    (t) => ({ KUBECONFIG: kubeconfig(`key${t.length}`, '', `client-certificate-data: eA==, client-key: ${t}`) }),
  ],
  ['kubeconfig token-file', (t) => ({ KUBECONFIG: kubeconfig(`tf${t.length}`, '', `token-file: ${t}`) })],
  [
    'kubeconfig auth-provider tokenFile',
    (t) => ({ KUBECONFIG: kubeconfig(`ap${t.length}`, '', `auth-provider: {name: x, config: {tokenFile: ${t}}}`) }),
  ],
  [
    "a profile's web_identity_token_file",
    (t) => ({ AWS_CONFIG_FILE: profileConfig(`web${t.length}`, t), AWS_PROFILE: 'web' }),
  ],
  ['AWS_SHARED_CREDENTIALS_FILE', (t) => ({ AWS_SHARED_CREDENTIALS_FILE: t })],
  ['AWS_CONFIG_FILE', (t) => ({ AWS_CONFIG_FILE: t })],
  ['AWS_WEB_IDENTITY_TOKEN_FILE', (t) => ({ AWS_WEB_IDENTITY_TOKEN_FILE: t })],
  [
    'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
    (t) => ({
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: t,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:1/v1/credentials',
    }),
  ],
];
const TARGETS = { FIFO: fifo, '/dev/zero': '/dev/zero' } as const;

describe.skipIf(skip !== undefined || !existsSync(BINARY))('FIFOs and /dev/zero wherever a file is read', () => {
  const runs = new Map<string, MeasuredRun>();

  beforeAll(async () => {
    spawnSync('mkfifo', [fifo]);
    const token = path.join(work, 'token');
    writeFileSync(token, await mintToken());
    mkdirSync(path.join(work, 'home'));
    const base = {
      PATH: '/usr/bin:/bin',
      HOME: path.join(work, 'home'),
      POD_NAME: 'app-0',
      POD_NAMESPACE: 'shop',
      AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/app',
      AWS_WEB_IDENTITY_TOKEN_FILE: token,
      AWS_REGION: 'us-west-2',
      // Every network peer refuses at once: what is measured is the file handling, not a network timeout.
      AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:1',
      AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:1/',
    };
    const cells = Object.entries(TARGETS).flatMap(([kind, target]) =>
      FIELDS.map(([field, env]) => ({ name: `${field} = ${kind}`, env: { ...base, ...env(target) } })),
    );
    // Four at a time: the measured bound is wall time from spawn to exit, on a small shared machine.
    for (let i = 0; i < cells.length; i += 4) {
      const batch = cells.slice(i, i + 4);
      const done = await Promise.all(
        batch.map((cell) => measured(['--output', 'json', '--timeout', String(TIMEOUT_MS)], cell.env)),
      );
      batch.forEach((cell, j) => runs.set(cell.name, done[j] as MeasuredRun));
    }
  }, 180_000);

  it.for(Object.keys(TARGETS).flatMap((kind) => FIELDS.map(([field]) => `${field} = ${kind}`)))(
    '%s: a complete report within --timeout + 1 s, under 150 MB',
    (name) => {
      const run = runs.get(name) as MeasuredRun;
      let report: Report;
      try {
        report = JSON.parse(run.stdout) as Report;
      } catch {
        throw new Error(`no JSON report (exit ${run.code}, ${run.elapsedMs} ms): ${run.stderr.slice(0, 300)}`);
      }
      expect(report.checks.length).toBeGreaterThan(10);
      expectValidReport(report);
      for (const c of report.checks) expect(c.summary, c.id).not.toMatch(/^the check itself failed/);
      expect(run.elapsedMs).toBeLessThan(TIMEOUT_MS + 1_000);
      expect(run.maxRssKiB).toBeLessThan(150 * 1024);
      expect([0, 1]).toContain(run.code);
      expect(run.stderr).toBe('');
    },
  );

  it('says why a FIFO or device was not read, where it reads the file itself', () => {
    const kube = runs.get('kubeconfig certificate-authority = FIFO') as MeasuredRun;
    expect((JSON.parse(kube.stdout) as Report).checks.find((c) => c.id === 'kube.pod')?.summary).toMatch(
      /certificate-authority \S+ cannot be read \(not a regular file \(a FIFO, device or socket\): not opened\)/,
    );
    const token = JSON.parse((runs.get('AWS_WEB_IDENTITY_TOKEN_FILE = /dev/zero') as MeasuredRun).stdout) as Report;
    expect(token.findings.map((f) => f.code)).toContain('TOKEN_FILE_NOT_REGULAR');
    const shared = JSON.parse((runs.get('AWS_SHARED_CREDENTIALS_FILE = FIFO') as MeasuredRun).stdout) as Report;
    expect(shared.checks.find((c) => c.id === 'env.precedence')?.details?.[fifo]).toMatch(/not a regular file/);
  });
});
