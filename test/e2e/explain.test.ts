import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BINARY = fileURLToPath(new URL('../../dist/irsa-doctor', import.meta.url));
// An explicit, minimal env: nothing of the developer's AWS setup reaches the binary.
const ENV = { PATH: '/usr/bin:/bin', HOME: '/nonexistent', NO_COLOR: '1' };

function run(args: string[], input?: string) {
  const result = spawnSync(BINARY, args, { env: ENV, input: input ?? '', encoding: 'utf8', timeout: 20_000 });
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
    const json = JSON.parse(stdout);
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
    expect(JSON.parse(stdout).matches[0].code).toBe('STS_THROTTLED');
  });

  it('exits 0 with an empty list when nothing matches', () => {
    const { code, stdout } = run(['explain', '--output', 'json', 'all is well']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ schemaVersion: 1, matches: [] });
  });

  it('rejects the TUI output mode for explain as a usage error', () => {
    const { code, stderr } = run(['explain', '--output', 'tui', 'x']);
    expect(code).toBe(2);
    expect(stderr).toContain('explain prints text or json');
  });
});
