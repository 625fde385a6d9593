import { describe, expect, it } from 'vitest';
import { CredentialBook } from '../../src/sim/identities';
import type { ImdsMode } from '../../src/sim/imds';
import { startImds } from '../../src/sim/imds';

const ROLE = 'eks-nodegroup-NodeInstanceRole-ABC';

async function withImds(
  mode: ImdsMode,
  run: (url: string, book: CredentialBook) => Promise<void>,
  tokens?: 'optional',
) {
  const book = new CredentialBook();
  const imds = await startImds({
    book,
    mode,
    account: '111122223333',
    region: 'us-west-2',
    roleName: ROLE,
    instanceId: 'i-0a1b2c3d4e5f67890',
    ...(tokens ? { tokens } : {}),
  });
  try {
    await run(imds.url, book);
  } finally {
    await imds.close();
  }
}

async function token(url: string): Promise<string> {
  const r = await fetch(`${url}/latest/api/token`, {
    method: 'PUT',
    headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' },
  });
  expect(r.status).toBe(200);
  expect(r.headers.get('x-aws-ec2-metadata-token-ttl-seconds')).toBe('21600');
  return r.text();
}

describe('simulated IMDS (IMDSv2)', () => {
  it('issues a session token on PUT with a TTL header, 400 without one', async () => {
    await withImds('reachable', async (url, book) => {
      const t = await token(url);
      expect(t.length).toBeGreaterThan(20);
      expect(book.secrets).toContain(t);
      const missing = await fetch(`${url}/latest/api/token`, { method: 'PUT' });
      expect(missing.status).toBe(400);
      const tooLong = await fetch(`${url}/latest/api/token`, {
        method: 'PUT',
        headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21601' },
      });
      expect(tooLong.status).toBe(400);
    });
  });

  it('requires the token on GETs (401 without or with a wrong one) when v2 is required', async () => {
    await withImds('reachable', async (url) => {
      expect((await fetch(`${url}/latest/meta-data/iam/security-credentials/`)).status).toBe(401);
      const wrong = await fetch(`${url}/latest/meta-data/iam/security-credentials/`, {
        headers: { 'x-aws-ec2-metadata-token': 'forged' },
      });
      expect(wrong.status).toBe(401);
    });
  });

  it('serves the role name, its credentials, iam/info, the identity document and the region', async () => {
    await withImds('reachable', async (url, book) => {
      const headers = { 'x-aws-ec2-metadata-token': await token(url) };
      const get = async (path: string) => {
        const r = await fetch(`${url}${path}`, { headers });
        expect(r.status, path).toBe(200);
        return r.text();
      };
      expect(await get('/latest/meta-data/iam/security-credentials/')).toBe(ROLE);
      const credentials = JSON.parse(await get(`/latest/meta-data/iam/security-credentials/${ROLE}`));
      expect(Object.keys(credentials)).toEqual([
        'Code',
        'LastUpdated',
        'Type',
        'AccessKeyId',
        'SecretAccessKey',
        'Token',
        'Expiration',
      ]);
      expect(credentials).toMatchObject({
        Code: 'Success',
        Type: 'AWS-HMAC',
        AccessKeyId: expect.stringMatching(/^ASIA/),
      });
      expect(book.secrets).toEqual(expect.arrayContaining([credentials.SecretAccessKey, credentials.Token]));
      // The node credentials belong to the node role with the instance id as session name (docs/mechanics.md 6).
      expect(book.lookup(credentials.AccessKeyId, credentials.Token)?.arn).toBe(
        `arn:aws:sts::111122223333:assumed-role/${ROLE}/i-0a1b2c3d4e5f67890`,
      );
      expect(JSON.parse(await get('/latest/meta-data/iam/info'))).toMatchObject({
        Code: 'Success',
        InstanceProfileArn: expect.stringMatching(/^arn:aws:iam::111122223333:instance-profile\//),
      });
      expect(JSON.parse(await get('/latest/dynamic/instance-identity/document'))).toMatchObject({
        accountId: '111122223333',
        region: 'us-west-2',
        instanceId: 'i-0a1b2c3d4e5f67890',
      });
      expect(await get('/latest/meta-data/placement/region')).toBe('us-west-2');
      expect((await fetch(`${url}/latest/meta-data/nothing-here`, { headers })).status).toBe(404);
    });
  });

  it('serves IMDSv1 GETs when tokens are optional', async () => {
    await withImds(
      'reachable',
      async (url) => {
        const r = await fetch(`${url}/latest/meta-data/iam/security-credentials/`);
        expect(r.status).toBe(200);
        expect(await r.text()).toBe(ROLE);
      },
      'optional',
    );
  });

  it('hop limit 1: the token PUT is never answered and v1 GETs are 401', async () => {
    await withImds('hop-limit-1', async (url) => {
      const outcome = await fetch(`${url}/latest/api/token`, {
        method: 'PUT',
        headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' },
        signal: AbortSignal.timeout(300),
      }).then(
        () => 'answered',
        (e: Error) => e.name,
      );
      expect(outcome).toBe('TimeoutError');
      expect((await fetch(`${url}/latest/meta-data/iam/security-credentials/`)).status).toBe(401);
    });
  });

  it('disabled: nothing listens (connection refused)', async () => {
    await withImds('disabled', async (url) => {
      const error = await fetch(`${url}/latest/api/token`, { method: 'PUT' }).then(
        () => undefined,
        (e: Error & { cause?: { code?: string } }) => e.cause?.code,
      );
      expect(error).toBe('ECONNREFUSED');
    });
  });
});
