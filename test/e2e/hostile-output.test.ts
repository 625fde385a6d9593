import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { listenLoopback, readBody } from '../../src/sim/loopback';
import { kubeScenario, startKubeApi } from '../../src/sim/kube-api';
import { BINARY } from '../helpers/binary';
import { mintToken, segmentsOf } from '../helpers/tokens';

/**
 * The output half of "safe beside a hostile app", through the built binary in all three output modes:
 * servers that reflect secrets back (an STS error quoting the web identity token and its signature, a
 * GetCallerIdentity error echoing the session token it was just given, an agent echoing its Authorization
 * token or sending credentials as \u0053ecretAccessKey, XML or INI, a Kubernetes Status quoting the bearer
 * token), passwords in endpoint and proxy URLs, tokens in query strings; argv echoed in usage errors; and a
 * TUI on a pipe, which must run no program (Ink's terminal-size used to run tput).
 */

const WORK = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-hostile-output-'));
const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

/** `raw`: the arguments as given, no --output added. */
type Mode = 'json' | 'text' | 'tui' | 'raw';
const MODES: readonly Exclude<Mode, 'raw'>[] = SCRIPT ? ['json', 'text', 'tui'] : ['json', 'text'];

interface Run {
  readonly code: number | null;
  readonly output: string;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The binary with exactly `env`; the TUI on a pseudo-terminal through `script`. */
function run(mode: Mode, args: readonly string[], env: Record<string, string>): Promise<Run> {
  const command = [BINARY, ...args, ...(mode === 'tui' || mode === 'raw' ? [] : ['--output', mode])];
  const [file, ...argv] = mode === 'tui' ? [SCRIPT!, '-qec', command.map(quote).join(' '), '/dev/null'] : command;
  return new Promise((resolve, reject) => {
    const child = spawn(file!, argv, {
      cwd: WORK,
      env: { PATH: '/usr/bin:/bin', TERM: 'xterm-256color', HOME: WORK, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, output });
    });
  });
}

const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

/** Each secret that shows: as given, without escapes, or squashed to base64 (a TUI may wrap it). */
function leaks(output: string, secrets: Readonly<Record<string, string>>): string[] {
  const plain = output.replace(ANSI, '');
  const squashed = plain.replace(/[^A-Za-z0-9+/=_-]/g, '');
  return Object.entries(secrets)
    .filter(([, s]) => output.includes(s) || plain.includes(s) || (s.length >= 12 && squashed.includes(s)))
    .map(([name]) => name);
}

/** C0 (but tab and newline), DEL, C1, and the bidi and line-separator controls. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const secret = (label: string) => `${label}${randomBytes(24).toString('base64url')}`;

const stsError = (code: string, message: string) =>
  `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>4a4d2c6b-0000-4000-8000-000000000000</RequestId></ErrorResponse>`;

const xmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function reply(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

interface Scenario {
  readonly name: string;
  /** Starts the servers; returns the env, the secrets that must not show, and a close function. */
  setup(): Promise<{
    env: Record<string, string>;
    args?: string[];
    secrets: Record<string, string>;
    close(): Promise<void>;
  }>;
}

async function irsaPod(token: string): Promise<Record<string, string>> {
  const dir = mkdtempSync(path.join(WORK, 'pod-'));
  writeFileSync(path.join(dir, 'token'), token);
  return {
    AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/cart-role',
    AWS_WEB_IDENTITY_TOKEN_FILE: path.join(dir, 'token'),
    AWS_REGION: 'us-west-2',
    AWS_DEFAULT_REGION: 'us-west-2',
  };
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'STS quotes the web identity token and its signature; endpoint, proxy and IMDS URLs carry passwords',
    async setup() {
      const token = await mintToken();
      const { payload, signature } = segmentsOf(token);
      const sts = await listenLoopback(async (req, res) => {
        const form = new URLSearchParams((await readBody(req, 1 << 20)) ?? '');
        const sent = form.get('WebIdentityToken') ?? '';
        const message = `Token ${sent} rejected: signature ${sent.split('.')[2]} does not verify; cut: ${sent.slice(0, 200)}`;
        reply(res, 400, 'text/xml', stsError('InvalidIdentityToken', xmlText(message)));
      });
      const stsUrl = new URL(sts.url);
      const secrets = {
        token,
        payload,
        signature,
        'STS URL password': 'stsPassw0rd/with-slash',
        'proxy password': 'pr0xy/pass word',
        'IMDS URL password': 'imdsPassw0rd',
        'query token': 'queryTok3nValue',
      };
      return {
        env: {
          ...(await irsaPod(token)),
          AWS_ENDPOINT_URL_STS: `http://admin:${encodeURIComponent(secrets['STS URL password'])}@${stsUrl.host}`,
          HTTPS_PROXY: `bob:${secrets['proxy password']}@proxy.internal:3128`,
          https_proxy: `http://bob:${secrets['proxy password']}@proxy.internal:3128`,
          NO_PROXY: '127.0.0.1,169.254.169.254,169.254.170.23,fd00:ec2::23',
          AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://u:${secrets['IMDS URL password']}@127.0.0.1:9/?token=${secrets['query token']}`,
        },
        secrets,
        close: () => sts.close(),
      };
    },
  },
  {
    name: 'GetCallerIdentity echoes the session token and the secret key it was just given',
    async setup() {
      const token = await mintToken();
      const issued = { secretAccessKey: secret('sk'), sessionToken: `IQoJb3JpZ2luX2Vj${secret('st')}` };
      const sts = await listenLoopback(async (req, res) => {
        const form = new URLSearchParams((await readBody(req, 1 << 20)) ?? '');
        if (form.get('Action') === 'AssumeRoleWithWebIdentity') {
          reply(
            res,
            200,
            'text/xml',
            `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAECHOKEY000000001</AccessKeyId><SecretAccessKey>${issued.secretAccessKey}</SecretAccessKey><SessionToken>${issued.sessionToken}</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/cart-role/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`,
          );
          return;
        }
        const header = String(req.headers['x-amz-security-token'] ?? '');
        reply(
          res,
          403,
          'text/xml',
          stsError(
            'InvalidClientTokenId',
            `The security token ${header} included in the request is invalid (secret ${issued.secretAccessKey})`,
          ),
        );
      });
      return {
        env: { ...(await irsaPod(token)), AWS_ENDPOINT_URL_STS: sts.url },
        secrets: { token, ...issued },
        close: () => sts.close(),
      };
    },
  },
  ...(['file', 'inline'] as const).map((how): Scenario => ({
    name: `the Pod Identity agent echoes its ${how} token and sends credentials as \\u0053ecretAccessKey, XML and INI`,
    async setup() {
      const token = await mintToken({ aud: 'pods.eks.amazonaws.com' });
      const unknown = { json: secret('jsonsk'), xml: secret('xmlsk'), ini: secret('inisk'), tok: secret('tok') };
      let calls = 0;
      const agent = await listenLoopback((req, res) => {
        const sent = String(req.headers.authorization ?? '');
        const bodies = [
          () => reply(res, 400, 'text/plain', `Service account token cannot be parsed: ${sent}`),
          () =>
            reply(
              res,
              500,
              'application/json',
              `{"AccessKeyId":"ASIAAGENT","\\u0053ecretAccessKey":"${unknown.json}","\\u0054oken":"${unknown.tok}","echo":"${sent}"}`,
            ),
          () =>
            reply(res, 500, 'text/xml', `<Credentials><SecretAccessKey>${unknown.xml}</SecretAccessKey></Credentials>`),
          () => reply(res, 500, 'text/plain', `[default]\naws_secret_access_key = ${unknown.ini}\n`),
        ];
        bodies[calls++ % bodies.length]!();
      });
      const dir = mkdtempSync(path.join(WORK, 'pod-'));
      writeFileSync(path.join(dir, 'token'), token);
      const agentUrl = new URL(agent.url);
      return {
        env: {
          AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://agent:AgentUrlPassw0rd@${agentUrl.host}/v1/credentials`,
          ...(how === 'file'
            ? { AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: path.join(dir, 'token') }
            : { AWS_CONTAINER_AUTHORIZATION_TOKEN: token }),
          AWS_REGION: 'us-west-2',
          AWS_DEFAULT_REGION: 'us-west-2',
        },
        secrets: {
          token,
          ...segmentsOf(token),
          'agent URL password': 'AgentUrlPassw0rd',
          'agent \\u0053ecretAccessKey': unknown.json,
          'agent \\u0054oken': unknown.tok,
          'agent XML SecretAccessKey': unknown.xml,
          'agent INI secret': unknown.ini,
        },
        close: () => agent.close(),
      };
    },
  })),
  {
    name: 'a Kubernetes Status message quotes the bearer token',
    async setup() {
      const scenario = kubeScenario('healthy');
      const bearer = secret('kubetoken');
      const api = await startKubeApi({ ...scenario.state, token: bearer, user: bearer, forbidden: ['pods'] });
      const home = mkdtempSync(path.join(WORK, 'home-'));
      const kubeconfig = await api.writeKubeconfig(home);
      return {
        env: { POD_NAMESPACE: 'shop', POD_NAME: scenario.world.podName, ...scenario.processEnv },
        args: ['--kubeconfig', kubeconfig, '--only', 'kube.pod'],
        secrets: { bearer },
        close: () => api.close(),
      };
    },
  },
];

describe.skipIf(!existsSync(BINARY))('no reflected secret in any output mode (built binary)', () => {
  it.for(SCENARIOS)('$name', { timeout: 90_000 }, async (scenario, { expect }) => {
    const { env, args = [], secrets, close } = await scenario.setup();
    try {
      const runs = await Promise.all(
        MODES.map(async (mode) => ({ mode, run: await run(mode, ['--timeout', '5000', ...args], env) })),
      );
      const problems: string[] = [];
      for (const { mode, run: r } of runs) {
        expect([0, 1], `${mode}:\n${r.output}`).toContain(r.code);
        if (mode === 'json') JSON.parse(r.output);
        for (const name of leaks(r.output, secrets)) problems.push(`${mode} shows the ${name}`);
        if (mode !== 'tui' && RAW_CONTROL.test(r.output)) problems.push(`${mode} has a raw control character`);
      }
      expect(problems).toEqual([]);
      // The servers were really reached and their text is in the report: the secrets were there to leak.
      expect(runs.find((r) => r.mode === 'json')?.run.output).toMatch(/redacted|\[secret sha256:/);
    } finally {
      await close();
    }
  });
});

describe.skipIf(!existsSync(BINARY))('a malformed STS endpoint is not an answer of STS', () => {
  it.for(['http://user:pa/ss@127.0.0.1:8443', 'sts.us-west-2.amazonaws.com', 'ftp://sts.example.com', 'https://[::1'])(
    'AWS_ENDPOINT_URL_STS=%s',
    async (endpoint, { expect }) => {
      const env = { ...(await irsaPod(await mintToken())), AWS_ENDPOINT_URL_STS: endpoint };
      const r = await run('json', ['--only', 'env.region,sts.assume-role', '--timeout', '3000'], env);
      const report = JSON.parse(r.output) as { rootCause: { code: string } | null; findings: { code: string }[] };
      expect(report.rootCause?.code).toBe('STS_ENDPOINT_INVALID');
      expect(report.findings.map((f) => f.code)).not.toContain('STS_ERROR');
      expect(r.output).not.toMatch(/TypeError|STS said|STS answered/);
      expect(r.output).not.toContain('pa/ss');
    },
  );
});

describe.skipIf(!existsSync(BINARY))('usage errors echo argv escaped and redacted, on one line', () => {
  const cases: readonly (readonly string[])[] = [
    ['\u001b[2J\u001b]0;pwned\u0007'],
    ['--output', '\u001b[31mred'],
    ['--timeout', '\u009b31m'],
    ['--target', 'x\nirsa-doctor: HEALTHY'],
    ['demo', '\u202egnp.exe'],
    ['--\u001b[2J'],
    ['check', 'http://user:s3cretPassw0rd@host/?token=qu3ryT0ken'],
  ];
  it.for(cases)('%j', async (args, { expect }) => {
    const r = await run('raw', args, {});
    expect(r.code).toBe(2);
    expect(r.output).not.toMatch(RAW_CONTROL);
    expect(r.output).not.toMatch(/s3cretPassw0rd|qu3ryT0ken/);
    // The error line and the help hint: a value cannot add a line of its own.
    expect(r.output.trimEnd().split('\n')).toHaveLength(2);
  });
});

describe.skipIf(!existsSync(BINARY))('the TUI on a pipe or a size-less terminal runs no program', () => {
  /** A directory of programs the tool must never run: each leaves a marker file when it is run. */
  function stubs(shells = true): { dir: string; markers: string } {
    const dir = mkdtempSync(path.join(WORK, 'stubs-'));
    const markers = mkdtempSync(path.join(WORK, 'markers-'));
    for (const name of ['tput', 'resize', 'stty', 'kubectl', 'aws', 'infocmp', ...(shells ? ['sh', 'bash'] : [])]) {
      const file = path.join(dir, name);
      writeFileSync(file, `#!/bin/sh\ntouch '${markers}/${name}'\n`);
      chmodSync(file, 0o755);
    }
    return { dir, markers };
  }
  const straceWorks =
    existsSync('/usr/bin/strace') &&
    spawnSync('/usr/bin/strace', ['-f', '-qq', '-o', '/dev/null', '/bin/true']).status === 0;

  it.for([
    ['demo', '--output', 'tui'],
    ['--offline', '--output', 'tui'],
  ])('%j with stdout a pipe', async (args, { expect }) => {
    const { dir, markers } = stubs();
    const log = path.join(WORK, `strace-${randomBytes(4).toString('hex')}`);
    const command = straceWorks
      ? ['/usr/bin/strace', '-f', '-qq', '-e', 'trace=execve,vfork,fork', '-o', log, BINARY]
      : [BINARY];
    const r = spawnSync(command[0]!, [...command.slice(1), ...args], {
      env: { PATH: `${dir}:/usr/bin:/bin`, TERM: 'xterm-256color', HOME: WORK },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect([0, 1]).toContain(r.status);
    expect(r.stdout).toContain('╭');
    expect(readdirSync(markers)).toEqual([]);
    if (straceWorks) {
      const calls = readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => /\b(?:execve|vfork|fork)\(/.test(line));
      expect(calls).toHaveLength(1);
      expect(calls[0]).toContain(`execve("${BINARY}"`);
    }
  });

  it.skipIf(!SCRIPT)('on a pseudo-terminal of size 0x0', async ({ expect }) => {
    // `script` itself starts a shell: only the programs the tool could be tricked into running are stubbed.
    const { dir, markers } = stubs(false);
    const r = spawnSync(SCRIPT!, ['-qec', `${quote(BINARY)} demo`, '/dev/null'], {
      env: { PATH: `${dir}:/usr/bin:/bin`, TERM: 'xterm-256color', HOME: WORK },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stdout).toContain('╭');
    expect(readdirSync(markers)).toEqual([]);
  });
});
