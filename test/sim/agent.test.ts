import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedAgent } from '../../src/sim/agent';
import { startAgent } from '../../src/sim/agent';
import { CredentialBook } from '../../src/sim/identities';
import type { SimulatedIssuer } from '../../src/sim/oidc';
import { startIssuer } from '../../src/sim/oidc';

const ROLE_ARN = 'arn:aws:iam::111122223333:role/shop-api';

/** GET with an explicit Host header (fetch does not let a caller set Host). */
function get(
  uri: string,
  headers: Record<string, string>,
): Promise<{ status: number; contentType: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(uri, { headers, agent: false, timeout: 2_000 }, (response) => {
      let body = '';
      response.on('data', (c: Buffer) => (body += c.toString()));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, contentType: response.headers['content-type'], body }),
      );
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

describe('simulated EKS Pod Identity agent', () => {
  let issuer: SimulatedIssuer;
  let agent: SimulatedAgent;
  const book = new CredentialBook();
  const podToken = (namespace = 'shop', serviceAccount = 'api', extra = {}) =>
    issuer.mintToken({ namespace, serviceAccount, audience: ['pods.eks.amazonaws.com'], ...extra });

  beforeAll(async () => {
    issuer = await startIssuer();
    agent = await startAgent({
      book,
      mode: 'ok',
      clusterName: 'demo',
      associations: [
        { namespace: 'shop', serviceAccount: 'api', roleArn: ROLE_ARN },
        { namespace: 'shop', serviceAccount: 'denied', roleArn: ROLE_ARN, trustDeniesEks: true },
      ],
    });
  });
  afterAll(async () => {
    await Promise.all([agent.close(), issuer.close()]);
  });

  it('hands out JSON credentials for an associated ServiceAccount, known to STS as the role', async () => {
    const host = new URL(agent.credentialsUri).host;
    const r = await get(agent.credentialsUri, { host, authorization: await podToken() });
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('application/json');
    const c = JSON.parse(r.body);
    expect(Object.keys(c)).toEqual(['AccessKeyId', 'SecretAccessKey', 'Token', 'AccountId', 'Expiration']);
    expect(c.AccountId).toBe('111122223333');
    expect(c.Expiration).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const identity = book.lookup(c.AccessKeyId, c.Token);
    expect(identity?.arn).toMatch(/^arn:aws:sts::111122223333:assumed-role\/shop-api\/eks-demo-[\w.-]+$/);
    expect(identity?.arn.split('/')[2]?.length).toBeLessThanOrEqual(64);
    expect(book.secrets).toEqual(expect.arrayContaining([c.SecretAccessKey, c.Token]));
  });

  it('accepts the link-local hosts in the Host header and refuses any other with its 403 text', async () => {
    const token = await podToken();
    for (const host of ['169.254.170.23', '[fd00:ec2::23]', '169.254.170.23:80']) {
      expect((await get(agent.credentialsUri, { host, authorization: token })).status, host).toBe(200);
    }
    const r = await get(agent.credentialsUri, { host: 'localhost:80', authorization: token });
    expect(r.status).toBe(403);
    expect(r.contentType).toBe('text/plain; charset=utf-8');
    expect(r.body).toBe(
      'Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23] address not localhost\n',
    );
  });

  it("rejects empty, unparsable and expired tokens with the agent's own 400 messages", async () => {
    const host = '169.254.170.23';
    const empty = await get(agent.credentialsUri, { host });
    expect(empty).toMatchObject({ status: 400, body: 'Service account token cannot be empty\n' });
    const junk = await get(agent.credentialsUri, { host, authorization: 'not-a-jwt' });
    expect(junk.status).toBe(400);
    expect(junk.body).toMatch(/^Service account token cannot be parsed: /);
    const expired = await get(agent.credentialsUri, {
      host,
      authorization: await podToken('shop', 'api', { issuedAtOffsetSeconds: -90_000 }),
    });
    expect(expired.status).toBe(400);
    expect(expired.body).toMatch(/^Service account token failed basic claim validations: .*expired/);
  });

  it("relays EKS Auth's AccessDeniedException (400) and ResourceNotFoundException (404) in its bracketed form", async () => {
    const host = '169.254.170.23';
    const denied = await get(agent.credentialsUri, { host, authorization: await podToken('shop', 'denied') });
    expect(denied.status).toBe(400);
    expect(denied.body).toMatch(
      /^\[[0-9a-f-]{36}\]: \(AccessDeniedException\): Unauthorized Exception! EKS does not have permissions to assume the associated role\., fault: client\n$/,
    );
    const none = await get(agent.credentialsUri, { host, authorization: await podToken('shop', 'nobody') });
    expect(none.status).toBe(404);
    expect(none.body).toMatch(/^\[[0-9a-f-]{36}\]: \(ResourceNotFoundException\): .*, fault: client\n$/);
  });

  it('answers unknown paths 404 and other methods 405', async () => {
    const base = new URL(agent.credentialsUri);
    expect((await get(`${base.origin}/v2/credentials`, { host: '169.254.170.23' })).status).toBe(404);
    const post = await fetch(agent.credentialsUri, { method: 'POST' });
    expect(post.status).toBe(405);
  });
});

describe('simulated agent failure modes', () => {
  it('blackhole: no answer within a client timeout; disabled: connection refused', async () => {
    const hole = await startAgent({
      book: new CredentialBook(),
      mode: 'blackhole',
      clusterName: 'c',
      associations: [],
    });
    try {
      const outcome = await fetch(hole.credentialsUri, { signal: AbortSignal.timeout(300) }).then(
        () => 'answered',
        (e: Error) => e.name,
      );
      expect(outcome).toBe('TimeoutError');
    } finally {
      await hole.close();
    }
    const off = await startAgent({ book: new CredentialBook(), mode: 'disabled', clusterName: 'c', associations: [] });
    const code = await fetch(off.credentialsUri).then(
      () => undefined,
      (e: Error & { cause?: { code?: string } }) => e.cause?.code,
    );
    expect(code).toBe('ECONNREFUSED');
    await off.close();
  });
});
