import net from 'node:net';
import {
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
  STSClient,
  type STSClientConfig,
} from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StsHarness } from './sts-harness';
import { ACCOUNT, ROLE_ARN, assumeParams, sigv4, startHarness, stsPost, tag, trustFor } from './sts-harness';

const KEYS_MESSAGE =
  "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";

function errorOf(body: string): { type?: string; code?: string; message?: string; requestId?: string } {
  return {
    type: tag(body, 'Type'),
    code: tag(body, 'Code'),
    message: tag(body, 'Message'),
    requestId: tag(body, 'RequestId'),
  };
}

describe('simulated STS: AssumeRoleWithWebIdentity over the Query protocol', () => {
  let h: StsHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('answers a valid token with the AWS response shape, text/xml, and credentials that are recorded as secrets', async () => {
    const token = await h.token();
    const r = await stsPost(h.sts.url, assumeParams(token));
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('text/xml');
    expect(r.body).toMatch(
      /^<AssumeRoleWithWebIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/,
    );
    const result = tag(r.body, 'AssumeRoleWithWebIdentityResult') ?? '';
    const credentials = tag(result, 'Credentials') ?? '';
    expect(tag(credentials, 'AccessKeyId')).toMatch(/^ASIA[A-Z2-7]{16}$/);
    const expiration = Date.parse(tag(credentials, 'Expiration') ?? '');
    expect(expiration - Date.now()).toBeGreaterThan(3_500_000);
    expect(expiration - Date.now()).toBeLessThanOrEqual(3_600_000);
    expect(tag(credentials, 'Expiration')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // The role path is dropped in the assumed-role ARN (docs/mechanics.md 7).
    expect(tag(result, 'Arn')).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/app/sim-session`);
    expect(tag(result, 'AssumedRoleId')).toMatch(/^AROA[A-Z2-7]{17}:sim-session$/);
    expect(tag(result, 'SubjectFromWebIdentityToken')).toBe('system:serviceaccount:shop:api');
    expect(tag(result, 'Audience')).toBe('sts.amazonaws.com');
    expect(tag(result, 'Provider')).toBe(`arn:aws:iam::${ACCOUNT}:oidc-provider/${h.issuer.hostPath}`);
    expect(tag(tag(r.body, 'ResponseMetadata') ?? '', 'RequestId')).toBe(r.requestId);
    expect(h.book.secrets).toContain(tag(credentials, 'SecretAccessKey'));
    expect(h.book.secrets).toContain(tag(credentials, 'SessionToken'));
    expect(h.book.secrets).toContain(token);
  });

  it('accepts the same call as a GET query', async () => {
    const token = await h.token();
    const response = await fetch(`${h.sts.url}/?${new URLSearchParams(assumeParams(token))}`);
    expect(response.status).toBe(200);
    expect(tag(await response.text(), 'Arn')).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/app/sim-session`);
  });

  it('GetCallerIdentity maps the SigV4 key id (with its session token) to the assumed role', async () => {
    const r = await stsPost(h.sts.url, assumeParams(await h.token()));
    const keyId = tag(r.body, 'AccessKeyId') ?? '';
    const sessionToken = tag(r.body, 'SessionToken') ?? '';
    const caller = await stsPost(
      h.sts.url,
      { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      { authorization: sigv4(keyId), 'x-amz-security-token': sessionToken },
    );
    expect(caller.status).toBe(200);
    expect(caller.body).toMatch(
      /^<GetCallerIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/,
    );
    expect(tag(caller.body, 'Arn')).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/app/sim-session`);
    expect(tag(caller.body, 'UserId')).toMatch(/^AROA[A-Z2-7]{17}:sim-session$/);
    expect(tag(caller.body, 'Account')).toBe(ACCOUNT);

    // A temporary key without its session token, and an unknown key, are both InvalidClientTokenId.
    for (const headers of [{ authorization: sigv4(keyId) }, { authorization: sigv4('ASIAUNKNOWNUNKNOWN22') }]) {
      const denied = await stsPost(h.sts.url, { Action: 'GetCallerIdentity', Version: '2011-06-15' }, headers);
      expect(denied.status).toBe(403);
      expect(errorOf(denied.body)).toMatchObject({
        type: 'Sender',
        code: 'InvalidClientTokenId',
        message: 'The security token included in the request is invalid.',
      });
    }
    const unsigned = await stsPost(h.sts.url, { Action: 'GetCallerIdentity', Version: '2011-06-15' });
    expect(unsigned.status).toBe(403);
    expect(errorOf(unsigned.body).code).toBe('MissingAuthenticationToken');
  });

  it('rejects an invalid RoleArn with ValidationError "Request ARN is invalid"', async () => {
    const r = await stsPost(
      h.sts.url,
      assumeParams(await h.token(), { RoleArn: 'arn:aws:iam:::111122223333:role/app' }),
    );
    expect(r.status).toBe(400);
    expect(r.contentType).toBe('text/xml');
    expect(r.body).toMatch(/^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/);
    expect(errorOf(r.body)).toEqual({
      type: 'Sender',
      code: 'ValidationError',
      message: 'Request ARN is invalid',
      requestId: r.requestId,
    });
  });

  it('reports every missing parameter at once, as the service does', async () => {
    const r = await stsPost(h.sts.url, { Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15' });
    expect(r.status).toBe(400);
    expect(errorOf(r.body).code).toBe('ValidationError');
    expect(errorOf(r.body).message).toMatch(/^3 validation errors detected: Value null at 'roleArn'/);
  });

  it('rejects a session name outside [\\w+=,.@-]{2,64}', async () => {
    const r = await stsPost(h.sts.url, assumeParams(await h.token(), { RoleSessionName: 'has space' }));
    expect(errorOf(r.body).message).toBe(
      "1 validation error detected: Value 'has space' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
    );
  });

  it('denies a token whose sub the trust policy does not name: 403 AccessDenied', async () => {
    const r = await stsPost(h.sts.url, assumeParams(await h.token({ namespace: 'default' })));
    expect(r.status).toBe(403);
    expect(errorOf(r.body)).toMatchObject({
      type: 'Sender',
      code: 'AccessDenied',
      message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity',
    });
  });

  it('answers a role that does not exist exactly like a denying trust policy', async () => {
    const r = await stsPost(
      h.sts.url,
      assumeParams(await h.token(), { RoleArn: `arn:aws:iam::${ACCOUNT}:role/not-there` }),
    );
    expect(r.status).toBe(403);
    expect(errorOf(r.body).code).toBe('AccessDenied');
  });

  it('checks the audience against the provider client-id list: Incorrect token audience', async () => {
    const r = await stsPost(h.sts.url, assumeParams(await h.token({ audience: ['sts.amazon.com'] })));
    expect(r.status).toBe(400);
    expect(errorOf(r.body)).toMatchObject({ code: 'InvalidIdentityToken', message: 'Incorrect token audience' });
  });

  it('rejects an expired token with ExpiredTokenException and both times in epoch seconds', async () => {
    const r = await stsPost(h.sts.url, assumeParams(await h.token({ issuedAtOffsetSeconds: -7200, ttlSeconds: 3600 })));
    expect(r.status).toBe(400);
    const { code, message } = errorOf(r.body);
    expect(code).toBe('ExpiredTokenException');
    const match = /^Token expired: current date\/time (\d+) must be before the expiration date\/time (\d+)$/.exec(
      message ?? '',
    );
    expect(match).not.toBeNull();
    expect(Number(match?.[1]) - Number(match?.[2])).toBeGreaterThanOrEqual(3600);
  });

  it('rejects a token signed by a key the JWKS does not have, and one under an unknown kid', async () => {
    const forged = await stsPost(h.sts.url, assumeParams(await h.token({ signWithOtherKey: true })));
    expect(forged.status).toBe(400);
    expect(errorOf(forged.body).code).toBe('InvalidIdentityToken');
    expect(errorOf(forged.body).message).toMatch(/could not be validated/);
    const unknownKid = await stsPost(h.sts.url, assumeParams(await h.token({ kid: 'rotated-away' })));
    expect(errorOf(unknownKid.body)).toMatchObject({ code: 'InvalidIdentityToken', message: KEYS_MESSAGE });
  });

  it('rejects a token that is not a JWT', async () => {
    const r = await stsPost(h.sts.url, assumeParams('not-a-jwt-at-all'));
    expect(r.status).toBe(400);
    expect(errorOf(r.body).code).toBe('InvalidIdentityToken');
  });

  it('answers garbage, unknown actions and wrong versions with AWS errors and keeps serving', async () => {
    const junk = await fetch(h.sts.url, { method: 'POST', body: new Uint8Array([0xff, 0x00, 0x26, 0x3d, 0x80]) });
    expect(junk.status).toBe(400);
    expect(errorOf(await junk.text()).code).toBe('MissingAction');
    const unknown = await stsPost(h.sts.url, { Action: 'DescribeEverything', Version: '2011-06-15' });
    expect(errorOf(unknown.body)).toMatchObject({
      code: 'InvalidAction',
      message: 'Could not find operation DescribeEverything for version 2011-06-15',
    });
    const version = await stsPost(h.sts.url, { Action: 'GetCallerIdentity', Version: '2099-01-01' });
    expect(errorOf(version.body).code).toBe('InvalidAction');
    const still = await stsPost(h.sts.url, assumeParams(await h.token()));
    expect(still.status).toBe(200);
  });

  it('refuses DurationSeconds above the role maximum', async () => {
    const r = await stsPost(h.sts.url, assumeParams(await h.token(), { DurationSeconds: '7200' }));
    expect(errorOf(r.body)).toMatchObject({
      code: 'ValidationError',
      message: 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    });
  });
});

describe('simulated STS: what it checks against the account and the issuer', () => {
  it('no provider for the issuer in the role account: the message names the iss', async () => {
    const h = await startHarness({ providers: () => ({ '999988887777': [] }) });
    try {
      const r = await stsPost(h.sts.url, assumeParams(await h.token()));
      expect(r.status).toBe(400);
      expect(errorOf(r.body)).toMatchObject({
        code: 'InvalidIdentityToken',
        message: `No OpenIDConnect provider found in your account for ${h.issuer.issuer}`,
      });
    } finally {
      await h.close();
    }
  });

  it('fetches the JWKS over HTTP from the AWS side: keys unreachable there fail, the pod side does not matter', async () => {
    const h = await startHarness({ issuerFaults: { pod: 'not-found', aws: 'jwks-not-found' } });
    try {
      const r = await stsPost(h.sts.url, assumeParams(await h.token()));
      expect(r.status).toBe(400);
      expect(errorOf(r.body)).toMatchObject({ code: 'InvalidIdentityToken', message: KEYS_MESSAGE });
      // The same issuer seen from the AWS side again: STS succeeds although the pod still sees 404s.
      h.issuer.setFault('aws', 'none');
      expect((await stsPost(h.sts.url, assumeParams(await h.token()))).status).toBe(200);
      expect((await fetch(`${h.issuer.issuer}/.well-known/openid-configuration`)).status).toBe(404);
    } finally {
      await h.close();
    }
  });

  it('a clock ahead of the pod makes a still-valid token expired at STS', async () => {
    const h = await startHarness({ sts: { clockSkewSeconds: 3600 } });
    try {
      const r = await stsPost(
        h.sts.url,
        assumeParams(await h.token({ ttlSeconds: 3600, issuedAtOffsetSeconds: -600 })),
      );
      expect(errorOf(r.body).code).toBe('ExpiredTokenException');
    } finally {
      await h.close();
    }
  });

  it('StringLike with * lets every ServiceAccount of the namespace in, and no other namespace', async () => {
    const h = await startHarness({
      trust: (issuer) =>
        trustFor(issuer, {
          StringLike: { [`${issuer.hostPath}:sub`]: 'system:serviceaccount:shop:*' },
          StringEquals: { [`${issuer.hostPath}:aud`]: 'sts.amazonaws.com' },
        }),
    });
    try {
      expect((await stsPost(h.sts.url, assumeParams(await h.token({ serviceAccount: 'worker' })))).status).toBe(200);
      expect((await stsPost(h.sts.url, assumeParams(await h.token({ namespace: 'shopping' })))).status).toBe(403);
    } finally {
      await h.close();
    }
  });

  it('a wildcard under StringEquals is literal: AccessDenied', async () => {
    const h = await startHarness({
      trust: (issuer) =>
        trustFor(issuer, { StringEquals: { [`${issuer.hostPath}:sub`]: 'system:serviceaccount:shop:*' } }),
    });
    try {
      expect((await stsPost(h.sts.url, assumeParams(await h.token()))).status).toBe(403);
    } finally {
      await h.close();
    }
  });
});

describe('simulated STS faults', () => {
  it('throttling: 400 Throttling "Rate exceeded"', async () => {
    const h = await startHarness({ sts: { fault: 'throttle' } });
    try {
      const r = await stsPost(h.sts.url, assumeParams(await h.token()));
      expect(r.status).toBe(400);
      expect(errorOf(r.body)).toMatchObject({ type: 'Sender', code: 'Throttling', message: 'Rate exceeded' });
    } finally {
      await h.close();
    }
  });

  it('region disabled: 403 RegionDisabledException naming the account', async () => {
    const h = await startHarness({ sts: { fault: 'region-disabled', region: 'us-west-2' } });
    try {
      const r = await stsPost(h.sts.url, assumeParams(await h.token()));
      expect(r.status).toBe(403);
      expect(errorOf(r.body).code).toBe('RegionDisabledException');
      expect(errorOf(r.body).message).toContain(`account:${ACCOUNT}`);
    } finally {
      await h.close();
    }
  });

  it('black hole: accepts the connection, never answers, and close() ends the hanging request', async () => {
    const h = await startHarness({ sts: { fault: 'blackhole' } });
    const port = Number(new URL(h.sts.url).port);
    // The TCP connection is accepted...
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', reject);
    });
    // ...but no answer comes within a client timeout.
    const started = Date.now();
    const outcome = await fetch(h.sts.url, {
      method: 'POST',
      body: new URLSearchParams(assumeParams(await h.token())),
      signal: AbortSignal.timeout(300),
    }).then(
      () => 'answered',
      (error: Error) => error.name,
    );
    expect(outcome).toBe('TimeoutError');
    expect(Date.now() - started).toBeLessThan(2_000);
    // A request still hanging when the server closes is cut off, so close() never waits for clients.
    const hanging = fetch(h.sts.url, { method: 'POST', body: 'Action=GetCallerIdentity' }).then(
      () => 'answered',
      () => 'cut',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    await h.close();
    expect(await hanging).toBe('cut');
  });
});

describe('simulated STS with the AWS SDK for JavaScript v3 as the client', () => {
  const clientFor = (url: string, credentials?: STSClientConfig['credentials']) =>
    new STSClient({
      region: 'us-west-2',
      endpoint: url,
      maxAttempts: 1,
      credentials: credentials ?? { accessKeyId: 'ANONYMOUS', secretAccessKey: 'ANONYMOUS' },
    });

  it('parses the response, then GetCallerIdentity with the returned credentials names the role', async () => {
    const h = await startHarness();
    try {
      const out = await clientFor(h.sts.url).send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: ROLE_ARN,
          RoleSessionName: 'sdk-session',
          WebIdentityToken: await h.token(),
        }),
      );
      expect(out.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/app/sdk-session`);
      expect(out.Credentials?.Expiration).toBeInstanceOf(Date);
      const caller = await clientFor(h.sts.url, {
        accessKeyId: out.Credentials?.AccessKeyId ?? '',
        secretAccessKey: out.Credentials?.SecretAccessKey ?? '',
        sessionToken: out.Credentials?.SessionToken ?? '',
      }).send(new GetCallerIdentityCommand({}));
      expect(caller.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/app/sdk-session`);
      expect(caller.Account).toBe(ACCOUNT);
    } finally {
      await h.close();
    }
  });

  it('surfaces the errors under the names the SDK gives them', async () => {
    const h = await startHarness();
    try {
      const attempt = async (token: string) =>
        clientFor(h.sts.url)
          .send(
            new AssumeRoleWithWebIdentityCommand({
              RoleArn: ROLE_ARN,
              RoleSessionName: 'sdk',
              WebIdentityToken: token,
            }),
          )
          .then(
            () => ({ name: 'none', message: '', status: 200 }),
            (e: { name: string; message: string; $metadata?: { httpStatusCode?: number } }) => ({
              name: e.name,
              message: e.message,
              status: e.$metadata?.httpStatusCode,
            }),
          );
      expect(await attempt(await h.token({ namespace: 'other' }))).toEqual({
        name: 'AccessDenied',
        message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity',
        status: 403,
      });
      expect(await attempt(await h.token({ audience: 'x' }))).toMatchObject({
        name: 'InvalidIdentityTokenException',
        message: 'Incorrect token audience',
      });
      expect(await attempt(await h.token({ issuedAtOffsetSeconds: -90_000 }))).toMatchObject({
        name: 'ExpiredTokenException',
        status: 400,
      });
    } finally {
      await h.close();
    }
  });
});
