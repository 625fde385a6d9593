import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseExplain } from '../helpers/reports';

import { BINARY, binaryCommand } from '../helpers/binary';
// An explicit, minimal env: nothing of the developer's AWS setup reaches the binary.
const ENV = { PATH: '/usr/bin:/bin', HOME: '/nonexistent', NO_COLOR: '1' };

function run(args: string[], input?: string) {
  const result = spawnSync(...binaryCommand(args), { env: ENV, input: input ?? '', encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const NODE_ROLE_MESSAGE =
  'An error occurred (AccessDenied) when calling the GetObject operation: User: arn:aws:sts::111122223333:assumed-role/eks-prod-NodeInstanceRole/i-0a1b2c3d4e5f67890 is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::shop/a"';

describe('irsa-doctor explain (built binary)', () => {
  it('explains a message given as the argument, in text', () => {
    const { code, stdout, stderr } = run(['explain', NODE_ROLE_MESSAGE]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('1. NODE_ROLE_FALLBACK');
    expect(stdout).toContain("signed by the node's instance role");
    expect(stdout).toContain(
      'Named in the message: arn:aws:sts::111122223333:assumed-role/eks-prod-NodeInstanceRole/i-0a1b2c3d4e5f67890',
    );
    expect(stdout).toContain('Confirm in the pod: irsa-doctor --only env.mechanism,');
  });

  it('reads a pasted log from stdin with "-" and prints the contract JSON', () => {
    const log = [
      '10:00:00 INFO start',
      'botocore.errorfactory.InvalidIdentityTokenException: An error occurred (InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation: No OpenIDConnect provider found in your account for https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF',
    ].join('\n');
    const { code, stdout } = run(['explain', '-', '--output', 'json'], log);
    expect(code).toBe(0);
    const json = parseExplain(stdout);
    expect(json.schemaVersion).toBe(1);
    expect(json.matches).toHaveLength(1);
    expect(json.matches[0]).toMatchObject({
      code: 'OIDC_PROVIDER_NOT_REGISTERED',
      arns: ['https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF'],
    });
    expect(json.matches[0].remedy.commands[0]).toContain('--region eu-west-1');
  });

  it('reads stdin when no argument is given and stdin is a pipe', () => {
    const { code, stdout } = run(['explain', '--json'], 'An error occurred (Throttling): Rate exceeded');
    expect(code).toBe(0);
    expect(parseExplain(stdout).matches[0].code).toBe('STS_THROTTLED');
  });

  it('exits 0 with an empty list when nothing matches', () => {
    const { code, stdout } = run(['explain', '--output', 'json', 'all is well']);
    expect(code).toBe(0);
    expect(parseExplain(stdout)).toEqual({ schemaVersion: 1, matches: [] });
  });

  it('rejects the TUI output mode for explain as a usage error', () => {
    const { code, stderr } = run(['explain', '--output', 'tui', 'x']);
    expect(code).toBe(2);
    expect(stderr).toContain('explain prints text or json');
  });
});

// Bounds here guard against a hang or a catastrophic regex (each run takes well under a second); speed is
// measured by scripts/bench-explain.sh, not by these tests.
const HANG_BOUND_MS = 15_000;
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function runTimed(args: string[], input: string) {
  const started = Date.now();
  const result = spawnSync(BINARY, args, {
    env: ENV,
    input,
    encoding: 'utf8',
    timeout: HANG_BOUND_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    code: result.status,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
    ms: Date.now() - started,
  };
}

describe('irsa-doctor explain: hostile input (built binary)', () => {
  const MIB = 1024 * 1024;
  // Single 1 MiB lines built to make backtracking matchers quadratic or worse: repeated prefixes of the
  // principal, ARN, host, escape and markup expressions, each with the term that would complete it missing.
  const adversarial: Record<string, string> = {
    'User: prefixes': 'User: '.repeat(MIB / 6) + ' not authorized',
    'assumed-role prefixes': 'is not authorized to perform: s3:x User: assumed-role/'.repeat(MIB / 50),
    'ARN prefixes': 'arn:aws:sts::'.repeat(MIB / 13),
    'hyphenated STS host': `sts${'-a'.repeat(MIB / 2)} timeout`,
    'escape runs': '\\'.repeat(MIB - 1) + 'n',
    'markup runs': '<Code'.repeat(MIB / 5),
    'agent address and transport words': '169.254.170.23 timeout '.repeat(MIB / 23),
    'one long token': 'x'.repeat(MIB),
    'principal placeholders': `${'User: arn:aws:sts::<'.repeat(MIB / 40)}${'a '.repeat(MIB / 4)} not authorized`,
    'curly placeholders': `${'User: arn:aws{'.repeat(MIB / 14)} AccessDenied amazonaws`,
    'container status words': 'EcsContainer StatusCode( status code '.repeat(MIB / 38),
    'assume-a-role words': 'could not be used to assume '.repeat(MIB / 28),
    'obtaining verbs without credentials': `AWS ${'retrieving a b c '.repeat(MIB / 18)} failed`,
    'credentials without absence': `AWS error ${'credentials x y z '.repeat(MIB / 18)}`,
    'no-bad runs before credentials': `S3 ${'no bad '.repeat(MIB / 7)} failed`,
    'local endpoint prefixes': `container-role ${'//localhost:8'.repeat(MIB / 13)} 400`,
    'signing-scope prefixes': `STS ${"the region '".repeat(MIB / 12)} is wrong`,
    'STS package and loader words': 'AWSSDK.SecurityToken could not be '.repeat(MIB / 34),
    'token path lookbehind': 'kubernetes.io/serviceaccount/token '.repeat(MIB / 35),
  };
  for (const [name, line] of Object.entries(adversarial)) {
    it(`ends quickly on a 1 MiB line of ${name}`, () => {
      const { code, signal, stderr, ms } = runTimed(['explain', '-', '--output', 'json'], line);
      expect(signal, `${name}: killed after ${ms} ms`).toBeNull();
      expect(code).toBe(0);
      expect(stderr).toBe('');
    });
  }

  it('stops waiting on an open stdin that sends nothing (--timeout), with exit 2 and a message', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(BINARY, ['explain', '-', '--timeout', '500'], { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      const guard = setTimeout(() => child.kill('SIGKILL'), HANG_BOUND_MS);
      child.on('exit', (c) => {
        clearTimeout(guard);
        resolve(c);
      });
    });
    child.stdin.destroy();
    expect(code).toBe(2);
    expect(stderr).toContain('nothing arrived on stdin for 500 ms');
    expect(Date.now() - started).toBeLessThan(HANG_BOUND_MS);
  });

  it('explains what arrived when stdin then goes quiet', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(BINARY, ['explain', '-', '--json', '--timeout', '500'], {
      env: ENV,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stdin.write(`${NODE_ROLE_MESSAGE}\n`);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.stdin.destroy();
    expect(code).toBe(0);
    expect(JSON.parse(stdout).matches[0].code).toBe('NODE_ROLE_FALLBACK');
  });

  it('refuses a directory on stdin as a usage error, without a stack trace', async () => {
    const { openSync, closeSync } = await import('node:fs');
    const fd = openSync('/', 'r');
    try {
      const result = spawnSync(BINARY, ['explain', '-'], {
        env: ENV,
        stdio: [fd, 'pipe', 'pipe'],
        encoding: 'utf8',
        timeout: HANG_BOUND_MS,
      });
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('stdin is a directory');
      expect(result.stderr).not.toContain('internal error');
      expect(result.stderr).not.toMatch(/\n\s+at /);
    } finally {
      closeSync(fd);
    }
  });

  it('lets no raw control, C1 or bidi character from the input reach stdout or stderr, in either mode', () => {
    const hostile = [
      'User: arn:aws:sts::111122223333:assumed-role/app\u202e\u009b31m\u001b]0;pwned\u0007/sess\u001b[2J is not authorized to perform: s3:GetObject\u2066',
      '\u009bAn error occurred (InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation: No OpenIDConnect provider found in your account for https://oidc.eks.us-east-1.amazonaws.com/id/AB\u202eCD\u001b[31m',
    ].join('\n');
    for (const mode of ['json', 'text']) {
      const { code, stdout, stderr } = runTimed(['explain', '-', '--output', mode], hostile);
      expect(code).toBe(0);
      expect(stdout.replace(/\n/g, ''), mode).not.toMatch(RAW_CONTROL);
      expect(stderr).not.toMatch(RAW_CONTROL);
      if (mode === 'json') expect(JSON.parse(stdout).matches.length).toBeGreaterThan(0);
    }
  });

  it('echoes no secret from a pasted log: keys, session tokens, JWTs, Authorization headers, URL passwords', () => {
    const secrets = {
      secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKENabcdefghijklmnop0123456789',
      jwt: 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJpc3MiOiJodHRwczovL29pZGMuZWtzIn0.c2lnbmF0dXJlLXBhcnQtb2YtdGhlLWp3dA',
      signature: '9b6e53c627e2a4eaa5799a9e4cc3cb9c7198a894d9e26635b79114b33a43df13',
      password: 'hunter2secret',
      keyId: 'ASIAQEXAMPLEKEYID123',
    };
    const log = [
      `AWS_ACCESS_KEY_ID=${secrets.keyId} AWS_SECRET_ACCESS_KEY=${secrets.secretKey} AWS_SESSION_TOKEN=${secrets.sessionToken}`,
      `Authorization: AWS4-HMAC-SHA256 Credential=${secrets.keyId}/20240320/eu-central-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=${secrets.signature}`,
      `POST https://sts.amazonaws.com/?Action=AssumeRoleWithWebIdentity&WebIdentityToken=${secrets.jwt} failed: dial tcp: i/o timeout`,
      `HTTPS_PROXY=http://admin:${secrets.password}@proxy.internal:3128 Unexpected response code for CONNECT: 403`,
      'An error occurred (InvalidClientTokenId) when calling the GetCallerIdentity operation: The security token included in the request is invalid.',
      `WebIdentityErr: failed to retrieve credentials caused by: InvalidIdentityToken: token ${secrets.jwt} rejected`,
    ].join('\n');
    for (const mode of ['json', 'text']) {
      const { code, stdout, stderr } = runTimed(['explain', '-', '--output', mode], log);
      expect(code).toBe(0);
      for (const [name, value] of Object.entries(secrets)) {
        expect(stdout + stderr, `${mode}: ${name}`).not.toContain(value);
      }
    }
  });
});
