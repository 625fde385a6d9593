import { chmodSync, chownSync, mkdirSync, mkdtempSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { MechanismOutput } from '../../../src/checks/env-mechanism';
import type { IrsaEnvOutput } from '../../../src/checks/outputs';
import { canRead, tokenFile } from '../../../src/checks/token-file';
import { parseRoleArn } from '../../../src/aws/arn';
import { fixtureContext } from '../../helpers/context';
import { mintToken, segmentsOf } from '../../helpers/tokens';
import { upstreamOf } from '../../helpers/upstream';

const DIR = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
const PATH = `${DIR}/token`;
const irsaMechanism: MechanismOutput = { mechanism: 'irsa', irsa: true, podIdentity: false, staticKeys: false };
const irsa: IrsaEnvOutput = {
  roleArn: parseRoleArn('arn:aws:iam::111122223333:role/cart') as IrsaEnvOutput['roleArn'],
  tokenFile: PATH,
  sessionName: undefined,
};

function freshRoot(): string {
  const root = mkdtempSync(`${tmpdir()}/irsa-tokfile-`);
  mkdirSync(`${root}${DIR}`, { recursive: true });
  return root;
}

const run = (root: string, user: { uid?: number; gid?: number; groups?: number[] } = {}) =>
  tokenFile.run(
    fixtureContext({ root, uid: 0, gid: 0, groups: [0], ...user }),
    upstreamOf({ 'env.mechanism': irsaMechanism, 'env.irsa': irsa }),
    new AbortController().signal,
  );

describe('token.file', () => {
  it('hands an inline Pod Identity token (no file) on to the claims and agent checks, never showing it', async () => {
    const token = await mintToken({ aud: ['pods.eks.amazonaws.com'] });
    const outcome = await tokenFile.run(
      fixtureContext({ env: { AWS_CONTAINER_AUTHORIZATION_TOKEN: `${token}\n` } }),
      upstreamOf({
        'env.mechanism': { mechanism: 'pod-identity', irsa: false, podIdentity: true, staticKeys: false },
        'env.pod-identity': { fullUri: 'http://169.254.170.23/v1/credentials', tokenFile: undefined },
      }),
      new AbortController().signal,
    );
    expect(outcome.status).toBe('pass');
    expect(outcome.output).toMatchObject({ mechanism: 'pod-identity', mtimeMs: undefined });
    expect(outcome.output?.token.reveal()).toBe(token);
    expect(outcome.summary).toContain('inline in AWS_CONTAINER_AUTHORIZATION_TOKEN');
    expect(JSON.stringify({ ...outcome, output: undefined })).not.toContain(segmentsOf(token).payload);
  });

  it('passes for a readable token and never shows it', async () => {
    const root = freshRoot();
    const token = await mintToken();
    writeFileSync(`${root}${PATH}`, `${token}\n`, { mode: 0o644 });
    const outcome = await run(root, { uid: 1000, gid: 1000, groups: [1000] });
    expect(outcome.status).toBe('pass');
    expect(outcome.output?.token.reveal()).toBe(token);
    expect(outcome.output?.mechanism).toBe('irsa');
    expect(outcome.details).toMatchObject({ path: PATH, mode: '0644', size: token.length + 1 });
    expect(outcome.details?.fingerprint).toMatch(/^sha256:[0-9a-f]{12}$/);
    const shown = JSON.stringify({ ...outcome, output: { ...outcome.output } });
    expect(shown).not.toContain(segmentsOf(token).signature);
    expect(shown).not.toContain(segmentsOf(token).payload);
  });

  it("follows the kubelet's symlink chain token -> ..data/token", async () => {
    const root = freshRoot();
    mkdirSync(`${root}${DIR}/..2026_11_22_10_00_00.123`);
    writeFileSync(`${root}${DIR}/..2026_11_22_10_00_00.123/token`, await mintToken());
    symlinkSync('..2026_11_22_10_00_00.123', `${root}${DIR}/..data`);
    symlinkSync('..data/token', `${root}${PATH}`);
    const outcome = await run(root);
    expect(outcome.status).toBe('pass');
    expect(outcome.details?.symlink).toBe('-> ..data/token');
  });

  it('TOKEN_FILE_MISSING when nothing is there, and for a dangling symlink', async () => {
    const root = freshRoot();
    const outcome = await run(root);
    expect(outcome.findings?.map((f) => f.code)).toEqual(['TOKEN_FILE_MISSING']);
    expect(outcome.findings?.[0]?.summary).toContain('subPath');
    symlinkSync('..data/token', `${root}${PATH}`);
    const dangling = await run(root);
    expect(dangling.findings?.[0]?.code).toBe('TOKEN_FILE_MISSING');
    expect(dangling.findings?.[0]?.summary).toContain('symlink to ..data/token');
  });

  it('TOKEN_FILE_NOT_REGULAR for a directory', async () => {
    const root = freshRoot();
    mkdirSync(`${root}${PATH}`);
    const outcome = await run(root);
    expect(outcome.findings?.map((f) => f.code)).toEqual(['TOKEN_FILE_NOT_REGULAR']);
  });

  it('TOKEN_FILE_UNREADABLE for 0600 owned by another uid, computed from mode and owner (the tool runs as root)', async () => {
    const root = freshRoot();
    writeFileSync(`${root}${PATH}`, await mintToken());
    chmodSync(`${root}${PATH}`, 0o600);
    chownSync(`${root}${PATH}`, 2000, 2000);
    const outcome = await run(root, { uid: 1000, gid: 1000, groups: [1000, 3000] });
    expect(outcome.status).toBe('fail');
    const [finding] = outcome.findings ?? [];
    expect(finding?.code).toBe('TOKEN_FILE_UNREADABLE');
    expect(finding?.evidence).toMatchObject({
      mode: '0600',
      ownerUid: 2000,
      ownerGid: 2000,
      processUid: 1000,
      processGid: 1000,
      processGroups: [1000, 3000],
    });
    expect(finding?.remedy.commands.join('\n')).toContain('fsGroup: 1000');
    expect(finding?.remedy.commands.join('\n')).toContain(
      `kubectl patch deployment/<DEPLOYMENT> -n <NAMESPACE> --type merge -p '{"spec":{"template":{"spec":{"securityContext":{"fsGroup":1000}}}}}'`,
    );
    // Once the API has shown the pod, the patch names its Deployment.
    const known = finding?.remedyFor?.({
      namespace: 'shop',
      podName: 'cart-1',
      owner: { kind: 'Deployment', name: 'cart' },
      skipLabel: false,
    });
    expect(known?.commands.join('\n')).toContain(`kubectl patch deployment/cart -n shop --type merge -p '{"spec"`);
    expect(outcome.output).toBeUndefined();
  });

  it('group and other bits decide for non-owners', () => {
    const stat = { kind: 'file' as const, mode: 0o640, uid: 0, gid: 2000, size: 1, mtimeMs: 0 };
    expect(canRead(stat, { uid: 1000, gid: 1000, groups: [2000] })).toBe(true);
    expect(canRead(stat, { uid: 1000, gid: 1000, groups: [1000] })).toBe(false);
    expect(canRead({ ...stat, mode: 0o644 }, { uid: 1000, gid: 1000, groups: [] })).toBe(true);
    expect(canRead({ ...stat, mode: 0o000 }, { uid: 0, gid: 0, groups: [] })).toBe(true);
  });

  it('TOKEN_FILE_TOO_LARGE for a 100 MB sparse file, asking the file view for at most 64 KiB', async () => {
    const root = freshRoot();
    writeFileSync(`${root}${PATH}`, '');
    truncateSync(`${root}${PATH}`, 100 * 1024 * 1024);
    const ctx = fixtureContext({ root, uid: 0 });
    const requested: number[] = [];
    const files = {
      ...ctx.files,
      readHead: (p: string, maxBytes: number) => {
        requested.push(maxBytes);
        return ctx.files.readHead(p, maxBytes);
      },
    };
    const outcome = await tokenFile.run(
      { ...ctx, files },
      upstreamOf({ 'env.mechanism': irsaMechanism, 'env.irsa': irsa }),
      new AbortController().signal,
    );
    expect(outcome.findings?.map((f) => f.code)).toEqual(['TOKEN_FILE_TOO_LARGE']);
    expect(outcome.findings?.[0]?.evidence).toMatchObject({ size: 104857600 });
    expect(requested.length).toBeGreaterThan(0);
    expect(Math.max(...requested)).toBeLessThanOrEqual(64 * 1024);
  });

  it('TOKEN_MALFORMED for an empty file and for non-UTF-8 bytes', async () => {
    const root = freshRoot();
    writeFileSync(`${root}${PATH}`, '\n');
    expect((await run(root)).findings?.[0]?.summary).toContain('empty');
    writeFileSync(`${root}${PATH}`, Buffer.from([0x65, 0x79, 0xff, 0xfe, 0x00, 0x41]));
    const outcome = await run(root);
    expect(outcome.findings?.map((f) => f.code)).toEqual(['TOKEN_MALFORMED']);
    expect(outcome.findings?.[0]?.summary).toContain('first at offset 2');
  });

  it('uses the Pod Identity file when the mechanism is Pod Identity', async () => {
    const root = mkdtempSync(`${tmpdir()}/irsa-tokfile-`);
    const podDir = '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount';
    mkdirSync(`${root}${podDir}`, { recursive: true });
    writeFileSync(`${root}${podDir}/eks-pod-identity-token`, await mintToken({ aud: 'pods.eks.amazonaws.com' }));
    const mech: MechanismOutput = { mechanism: 'pod-identity', irsa: false, podIdentity: true, staticKeys: false };
    const ctx = fixtureContext({ root, uid: 0 });
    const signal = new AbortController().signal;
    const outcome = await tokenFile.run(
      ctx,
      upstreamOf({
        'env.mechanism': mech,
        'env.pod-identity': {
          fullUri: 'http://169.254.170.23/v1/credentials',
          tokenFile: `${podDir}/eks-pod-identity-token`,
        },
      }),
      signal,
    );
    expect(outcome.status).toBe('pass');
    expect(outcome.output?.mechanism).toBe('pod-identity');
  });

  it('skips with a reason when env.irsa did not pass', async () => {
    const outcome = await tokenFile.run(
      fixtureContext({}),
      upstreamOf({ 'env.mechanism': irsaMechanism }, { 'env.irsa': 'fail' }),
      new AbortController().signal,
    );
    expect(outcome).toMatchObject({ status: 'skip' });
    expect(outcome.summary).toContain('env.irsa');
  });
});
