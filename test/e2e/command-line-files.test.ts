import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BinaryRun } from '../helpers/binary';
import { BINARY, runBinary } from '../helpers/binary';
import { mintToken } from '../helpers/tokens';

/**
 * The files named on the command line: --trust-policy FILE|- and --kubeconfig PATH. They are the user's own, on
 * the tool's side, so pipes, FIFOs and process substitution work; anything wrong with them is a usage error of
 * one line that names the file and the problem (exit 2), never a finding about the pod.
 */
const ISS = 'https://oidc.eks.eu-west-1.amazonaws.com/id/B71EXAMPLEB71EXAMPLEB71EXAMPLE00';
const HOST = ISS.slice('https://'.length);
const ROLE = 'arn:aws:iam::111122223333:role/cart-role';
const TIMEOUT_MS = 2_000;
const AWS = ['/usr/bin/aws', '/usr/local/bin/aws'].find((p) => existsSync(p));
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

const dir = mkdtempSync(path.join(tmpdir(), 'irsa-cli-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => path.join(dir, name);

function trust(sub: string) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/${HOST}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { [`${HOST}:sub`]: sub, [`${HOST}:aud`]: 'sts.amazonaws.com' } },
      },
    ],
  };
}

let env: Record<string, string> = {};
const ARGS = ['--offline', '--no-kube', '--output', 'json', '--timeout', String(TIMEOUT_MS)];

interface Report {
  checks: { id: string; status: string; summary: string }[];
  findings: { code: string; checkId: string }[];
}
const trustCheck = (run: BinaryRun) => (JSON.parse(run.stdout) as Report).checks.find((c) => c.id === 'trust.policy');

/** The binary with stdin from `input` (a string, or a pipe left open when null). */
function withStdin(args: readonly string[], input: string | null): Promise<BinaryRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(BINARY, [...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    if (input !== null) child.stdin.end(input);
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      child.stdin.destroy();
      resolve({ code, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
}

/** A shell line, for what only a shell makes: process substitution and pipes between programs. */
function shell(line: string, extraEnv: Record<string, string> = {}): Promise<BinaryRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('/bin/bash', ['-c', line], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe.skipIf(!existsSync(BINARY))('--trust-policy FILE|- and --kubeconfig PATH', () => {
  beforeAll(async () => {
    writeFileSync(at('token'), await mintToken({ iss: ISS, namespace: 'shop', serviceAccount: 'cart' }));
    env = {
      PATH: '/usr/bin:/bin',
      HOME: dir,
      AWS_ROLE_ARN: ROLE,
      AWS_WEB_IDENTITY_TOKEN_FILE: at('token'),
      AWS_REGION: 'eu-west-1',
      POD_NAMESPACE: 'shop',
    };
    writeFileSync(at('ok.json'), JSON.stringify(trust('system:serviceaccount:shop:cart')));
    writeFileSync(at('stale.json'), JSON.stringify(trust('system:serviceaccount:shop-old:cart')));
    writeFileSync(at('garbage.json'), '{"Version": "2012-10-17", "Statement": [');
    writeFileSync(at('empty.json'), '');
    writeFileSync(at('list.json'), '[]');
    writeFileSync(at('locked.json'), JSON.stringify(trust('system:serviceaccount:shop:cart')));
    chmodSync(at('locked.json'), 0o600);
    mkdirSync(at('a-directory'));
  });

  it.for([
    ['a missing file', 'missing.json', 'no such file'],
    ['a file that is not JSON', 'garbage.json', 'not valid JSON: '],
    ['an empty file', 'empty.json', 'the file is empty'],
    ['[]', 'list.json', 'a policy document is a JSON object with a "Statement"'],
    ['a directory', 'a-directory', 'is a directory, not a file'],
    ['/dev/null', '/dev/null', 'the file is empty'],
  ] as const)('%s is a usage error: exit 2, one line naming the file and the problem', async ([, file, problem]) => {
    const name = file.startsWith('/') ? file : at(file);
    const run = await runBinary(['--trust-policy', name, ...ARGS], env);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')).toHaveLength(2); // one line and its newline
    expect(run.stderr.startsWith(`irsa-doctor: --trust-policy ${name}: ${problem}`)).toBe(true);
    expect(run.code).toBe(2);
  });

  it.skipIf(process.getuid?.() !== 0 || !SETPRIV)(
    'an unreadable file is a usage error too (run as uid 65534)',
    async () => {
      const run = await shell(
        `${SETPRIV} --reuid=65534 --regid=65534 --clear-groups ${q(BINARY)} --trust-policy ${q(at('locked.json'))} ${ARGS.join(' ')}`,
      );
      expect(run.stderr).toBe(`irsa-doctor: --trust-policy ${at('locked.json')}: permission denied\n`);
      expect(run.code).toBe(2);
    },
  );

  it('reads the policy from stdin with -, in the shape aws iam get-role prints', async () => {
    // `aws iam get-role --role-name cart-role` output (docs.aws.amazon.com/cli/latest/reference/iam/get-role.html):
    // the policy decoded into an object inside Role.
    const getRole = {
      Role: {
        Path: '/',
        RoleName: 'cart-role',
        RoleId: 'AROA3XFRBF23EXAMPLE00',
        Arn: ROLE,
        CreateDate: '2024-03-12T09:21:33+00:00',
        AssumeRolePolicyDocument: trust('system:serviceaccount:shop-old:cart'),
        MaxSessionDuration: 3600,
        RoleLastUsed: {},
      },
    };
    const run = await withStdin(['--trust-policy', '-', ...ARGS], JSON.stringify(getRole, null, 4));
    expect(trustCheck(run)?.status).toBe('fail');
    expect((JSON.parse(run.stdout) as Report).findings.map((f) => f.code)).toContain('TRUST_POLICY_SUB_MISMATCH');
    expect(run.code).toBe(1);
  });

  it('reads process substitution, <(...)', async () => {
    const run = await shell(`${q(BINARY)} --trust-policy <(cat ${q(at('ok.json'))}) ${ARGS.join(' ')}`);
    expect(trustCheck(run)?.status).toBe('pass');
    expect(run.code).toBe(0);
  });

  it('reads a FIFO whose writer comes a moment later', async () => {
    const fifo = at('policy.fifo');
    spawnSync('mkfifo', [fifo]);
    const run = await shell(
      `(sleep 0.3; cat ${q(at('ok.json'))} > ${q(fifo)}) & ${q(BINARY)} --trust-policy ${q(fifo)} ${ARGS.join(' ')}`,
    );
    expect(trustCheck(run)?.status).toBe('pass');
  });

  it('gives up on a FIFO nobody writes to, and on a stdin that sends nothing, at the deadline', async () => {
    const fifo = at('silent.fifo');
    spawnSync('mkfifo', [fifo]);
    const [silentFifo, silentStdin] = await Promise.all([
      runBinary(['--trust-policy', fifo, ...ARGS], env),
      withStdin(['--trust-policy', '-', ...ARGS], null),
    ]);
    expect(silentFifo.stderr).toBe(
      `irsa-doctor: --trust-policy ${fifo}: nothing was written to it before the deadline (--timeout): a FIFO without a writer?\n`,
    );
    expect(silentStdin.stderr).toMatch(
      /^irsa-doctor: --trust-policy - \(stdin\): nothing was written to it before the deadline/,
    );
    for (const run of [silentFifo, silentStdin]) {
      expect(run.code).toBe(2);
      expect(run.elapsedMs).toBeLessThan(TIMEOUT_MS + 1_000);
    }
  });

  it('takes the policy that the real AWS CLI prints, piped in: aws iam get-role ... | irsa-doctor --trust-policy -', async ({
    skip,
  }) => {
    const version = AWS
      ? spawnSync(AWS, ['--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } })
      : undefined;
    if (!AWS || !`${version?.stdout ?? ''}${version?.stderr ?? ''}`.startsWith('aws-cli/2.')) {
      skip('the AWS CLI v2 is not installed at /usr/bin/aws');
    }
    // IAM's GetRole answer as the Query API sends it: the policy URL-encoded inside the XML
    // (docs.aws.amazon.com/IAM/latest/APIReference/API_GetRole.html); the CLI decodes it into an object.
    const document = encodeURIComponent(JSON.stringify(trust('system:serviceaccount:shop:cart')));
    const iam = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(
          `<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role><Path>/</Path><AssumeRolePolicyDocument>${document}</AssumeRolePolicyDocument><MaxSessionDuration>3600</MaxSessionDuration><RoleId>AROA3XFRBF23EXAMPLE00</RoleId><RoleName>cart-role</RoleName><Arn>${ROLE}</Arn><CreateDate>2024-03-12T09:21:33Z</CreateDate><RoleLastUsed/></Role></GetRoleResult><ResponseMetadata><RequestId>4a5b-example</RequestId></ResponseMetadata></GetRoleResponse>`,
        );
      });
    });
    await new Promise<void>((resolve) => iam.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(iam.address() as AddressInfo).port}`;
      // The CLI's own credentials only for the CLI: in the doctor's env they would be static keys of the pod.
      const cliEnv =
        'AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=';
      const cli = `${cliEnv} ${AWS} iam get-role --role-name cart-role --endpoint-url ${endpoint} --region us-east-1 --output json`;
      // The default deadline (10 s), as people run it: the policy comes in when the CLI has started and answered.
      const run = await shell(
        `set -o pipefail; ${cli} | ${q(BINARY)} --trust-policy - --offline --no-kube --output json`,
      );
      expect(run.stderr).toBe('');
      expect(trustCheck(run)?.status).toBe('pass');
      expect(run.code).toBe(0);
    } finally {
      await new Promise((resolve) => iam.close(resolve));
    }
  }, 40_000);

  it('a --kubeconfig that does not exist is a usage error', async () => {
    const run = await runBinary(['--kubeconfig', at('no-such-kubeconfig'), '--output', 'json'], env);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`irsa-doctor: --kubeconfig ${at('no-such-kubeconfig')}: no such file\n`);
    expect(run.code).toBe(2);
  });
});
