import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createNetClient } from '../../../src/aws/http';
import { Secret } from '../../../src/aws/secrets';
import { assumeRoleWithWebIdentity, getCallerIdentity, jsStsTarget } from '../../../src/aws/sts-client';
import { classifyStsAnswer, classifyStsError } from '../../../src/aws/sts-errors';

describe(classifyStsAnswer, () => {
  // Wire codes as STS sends them, and the names the JS SDK gives the same errors (docs/mechanics.md 3.3).
  it.each([
    ['AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity', 'TRUST_POLICY_DENIED'],
    ['AccessDeniedException', 'Not authorized to perform sts:AssumeRoleWithWebIdentity', 'TRUST_POLICY_DENIED'],
    [
      'InvalidIdentityToken',
      'No OpenIDConnect provider found in your account for https://oidc.eks.us-west-2.amazonaws.com/id/ABC',
      'OIDC_PROVIDER_NOT_REGISTERED',
    ],
    [
      'InvalidIdentityTokenException',
      'No OpenIDConnect provider found in your account for https://oidc.eks.us-west-2.amazonaws.com/id/ABC',
      'OIDC_PROVIDER_NOT_REGISTERED',
    ],
    ['InvalidIdentityToken', 'Incorrect token audience', 'OIDC_AUDIENCE_NOT_ALLOWED'],
    ['InvalidIdentityTokenException', 'Incorrect token audience', 'OIDC_AUDIENCE_NOT_ALLOWED'],
    [
      'InvalidIdentityToken',
      "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements",
      'OIDC_KEYS_UNRETRIEVABLE',
    ],
    ['InvalidIdentityToken', 'something else entirely', 'STS_ERROR'],
    ['IDPCommunicationError', 'could not reach', 'OIDC_KEYS_UNRETRIEVABLE'],
    ['IDPCommunicationErrorException', 'could not reach', 'OIDC_KEYS_UNRETRIEVABLE'],
    ['ExpiredTokenException', 'Token expired: current date/time 1 must be before 0', 'STS_TOKEN_EXPIRED'],
    ['IDPRejectedClaim', 'claim rejected', 'STS_ERROR'],
    ['IDPRejectedClaimException', 'claim rejected', 'STS_ERROR'],
    ['RegionDisabledException', 'STS is not activated in this region', 'STS_REGION_DISABLED'],
    ['Throttling', 'Rate exceeded', 'STS_THROTTLED'],
    ['ThrottlingException', 'slow down', 'STS_THROTTLED'],
    ['Unknown', 'Rate exceeded', 'STS_THROTTLED'],
    ['ValidationError', 'Request ARN is invalid', 'ROLE_ARN_INVALID'],
    ['ValidationError', "1 validation error detected: Value at 'roleSessionName' failed", 'STS_ERROR'],
    ['MalformedPolicyDocument', 'bad', 'STS_ERROR'],
    ['SomethingNew', 'never seen', 'STS_ERROR'],
  ] as const)('%s "%s" is %s', (wire, message, code) => {
    const failure = classifyStsAnswer(wire, message, 400);
    expect(failure.code).toBe(code);
    expect(failure.wireCode).toBe(wire);
    expect(failure.network).toBeUndefined();
  });

  it('bounds a long message', () => {
    expect(classifyStsAnswer('X', 'y'.repeat(5000)).message.length).toBeLessThan(600);
  });
});

// --- a tiny STS speaking the Query/XML protocol, enough for the client's request and answer shapes ---

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

interface Seen {
  body: string;
  authorization: string | undefined;
}

async function tinySts(
  answer: (body: string) => { status: number; xml: string },
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ body, authorization: req.headers.authorization });
      const { status, xml } = answer(body);
      res.writeHead(status, { 'content-type': 'text/xml' });
      res.end(xml);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const errorXml = (code: string, message: string) =>
  `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`;

const assumeXml = `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>
<Credentials><AccessKeyId>ASIATESTTESTTEST1234</AccessKeyId><SecretAccessKey>SECRETKEYVALUE</SecretAccessKey><SessionToken>SESSIONTOKENVALUE</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/app/s1</Arn><AssumedRoleId>AROA:s1</AssumedRoleId></AssumedRoleUser>
</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`;

const callerXml = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:sts::111122223333:assumed-role/app/s1</Arn><UserId>AROA:s1</UserId><Account>111122223333</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r-3</RequestId></ResponseMetadata></GetCallerIdentityResponse>`;

const params = { roleArn: 'arn:aws:iam::111122223333:role/app', sessionName: 's1', token: new Secret('eyJ.token.sig') };
const signal = () => new AbortController().signal;

describe(assumeRoleWithWebIdentity, () => {
  it('sends an unsigned Query request and returns the assumed role, with credentials held as secrets', async () => {
    const sts = await tinySts(() => ({ status: 200, xml: assumeXml }));
    const result = await assumeRoleWithWebIdentity(
      createNetClient(),
      { region: 'us-west-2', endpoint: sts.url },
      params,
      signal(),
    );
    expect(result.assumedRoleArn).toBe('arn:aws:sts::111122223333:assumed-role/app/s1');
    expect(result.credentials.secretAccessKey).toBeInstanceOf(Secret);
    expect(JSON.stringify(result)).not.toContain('SECRETKEYVALUE');
    expect(sts.seen[0]?.authorization).toBeUndefined();
    const form = new URLSearchParams(sts.seen[0]?.body);
    expect(form.get('Action')).toBe('AssumeRoleWithWebIdentity');
    expect(form.get('RoleArn')).toBe(params.roleArn);
    expect(form.get('RoleSessionName')).toBe('s1');
    expect(form.get('WebIdentityToken')).toBe('eyJ.token.sig');
  });

  it.each([
    ['AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity', 403, 'TRUST_POLICY_DENIED'],
    ['InvalidIdentityToken', 'Incorrect token audience', 400, 'OIDC_AUDIENCE_NOT_ALLOWED'],
    ['ExpiredTokenException', 'Token expired', 400, 'STS_TOKEN_EXPIRED'],
    ['IDPCommunicationError', 'nope', 400, 'OIDC_KEYS_UNRETRIEVABLE'],
    ['RegionDisabledException', 'off', 403, 'STS_REGION_DISABLED'],
    ['Throttling', 'Rate exceeded', 400, 'STS_THROTTLED'],
  ] as const)('classifies the SDK error for %s as %s', async (wire, message, status, code) => {
    const sts = await tinySts(() => ({ status, xml: errorXml(wire, message) }));
    const error = await assumeRoleWithWebIdentity(
      createNetClient(),
      { region: 'us-west-2', endpoint: sts.url },
      params,
      signal(),
    ).catch((e: unknown) => e);
    const failure = classifyStsError(error);
    expect(failure.code).toBe(code);
    expect(failure.httpStatus).toBe(status);
    expect(failure.message).toContain(message);
  });

  it('turns a black-holed STS into STS_UNREACHABLE at the deadline, not a hang', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(async () => {
      sockets.forEach((s) => s.destroy());
      server.close();
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const started = Date.now();
    const error = await assumeRoleWithWebIdentity(
      createNetClient(),
      { region: 'us-west-2', endpoint: url, timeoutMs: 200 },
      params,
      signal(),
    ).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(classifyStsError(error)).toMatchObject({ code: 'STS_UNREACHABLE', network: 'read-timeout' });
  });

  it.each([
    [
      'an HTML page (200)',
      200,
      'text/html; charset=utf-8',
      '<html><body>Welcome to nginx!</body></html>',
      /^HTTP 200 text\/html "<html>/,
    ],
    ['plain text (500)', 500, 'text/plain', 'Internal Server Error', /^HTTP 500 text\/plain "Internal Server Error"$/],
    ['bytes labelled text/xml', 200, 'text/xml', '\u0000\u001b[2Jgarbage', /^HTTP 200 text\/xml "\.\.\[2Jgarbage"$/],
    ['XML that is not STS', 200, 'text/xml', '<a><b', /^HTTP 200 with XML that is not an STS response$/],
  ] as const)(
    'says something other than STS answered for %s (STS_ERROR, not a parse error)',
    async (_, status, type, body, said) => {
      const server = http.createServer((req, res) => {
        req.resume();
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      closers.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const error = await assumeRoleWithWebIdentity(
        createNetClient(),
        { region: 'us-west-2', endpoint: url },
        params,
        signal(),
      ).catch((e: unknown) => e);
      const failure = classifyStsError(error, url);
      expect(failure).toMatchObject({
        code: 'STS_ERROR',
        foreign: true,
        httpStatus: status,
        wireCode: `HTTP ${status}`,
      });
      expect(failure.message).toMatch(said);
      expect(failure.explanation).toContain('something else answers at this address');
    },
  );

  it('classifies a refused STS as STS_UNREACHABLE (refused)', async () => {
    const sts = await tinySts(() => ({ status: 200, xml: assumeXml }));
    await closers.pop()?.();
    const error = await assumeRoleWithWebIdentity(
      createNetClient(),
      { region: 'us-west-2', endpoint: sts.url },
      params,
      signal(),
    ).catch((e: unknown) => e);
    expect(classifyStsError(error)).toMatchObject({ code: 'STS_UNREACHABLE', network: 'refused' });
  });
});

describe(getCallerIdentity, () => {
  it('signs the call with the given credentials and returns the ARN', async () => {
    const sts = await tinySts(() => ({ status: 200, xml: callerXml }));
    const identity = await getCallerIdentity(
      createNetClient(),
      { region: 'us-west-2', endpoint: sts.url },
      { accessKeyId: 'ASIATESTTESTTEST1234', secretAccessKey: new Secret('s'), sessionToken: new Secret('t') },
      signal(),
    );
    expect(identity).toEqual({
      arn: 'arn:aws:sts::111122223333:assumed-role/app/s1',
      account: '111122223333',
      userId: 'AROA:s1',
    });
    expect(sts.seen[0]?.authorization).toContain('Credential=ASIATESTTESTTEST1234/');
    expect(sts.seen[0]?.authorization).toContain('/us-west-2/sts/aws4_request');
  });
});

describe(jsStsTarget, () => {
  it('uses AWS_REGION only, else us-east-1, and the endpoint override', () => {
    expect(jsStsTarget({}, undefined)).toEqual({
      region: 'us-east-1',
      endpoint: 'https://sts.us-east-1.amazonaws.com',
    });
    expect(jsStsTarget({ AWS_REGION: 'cn-north-1' }, undefined).endpoint).toBe(
      'https://sts.cn-north-1.amazonaws.com.cn',
    );
    expect(
      jsStsTarget({}, { region: 'eu-west-1', regionSource: 'AWS_DEFAULT_REGION', stsEndpoint: 'https://x' }).region,
    ).toBe('us-east-1');
    expect(jsStsTarget({ AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9' }, undefined).endpoint).toBe('http://127.0.0.1:9');
    expect(jsStsTarget({ AWS_REGION: 'us-isob-east-1' }, undefined).endpoint).toBe(
      'https://sts.us-isob-east-1.sc2s.sgov.gov',
    );
  });
});

describe('an STS call that never reached STS', () => {
  const token = new Secret('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln');
  const signal = new AbortController().signal;

  it.each(['http://user:pa/ss@127.0.0.1:1', 'sts.us-west-2.amazonaws.com', 'ftp://sts.example.com', 'https://[::1'])(
    'endpoint %j: STS_ENDPOINT_INVALID before any request, not "STS said TypeError"',
    async (endpoint) => {
      let requests = 0;
      const net = { ...createNetClient(), request: async () => (requests++, Promise.reject(new Error('sent'))) };
      const error = await assumeRoleWithWebIdentity(
        net,
        { region: 'us-west-2', endpoint },
        { roleArn: 'arn:aws:iam::111122223333:role/app', sessionName: 's', token },
        signal,
      ).catch((e: unknown) => e);
      const failure = classifyStsError(error, endpoint);
      expect(failure.code).toBe('STS_ENDPOINT_INVALID');
      expect(failure.local).toBe(true);
      expect(requests).toBe(0);
    },
  );

  it('an SDK error without an HTTP status is the SDK failing, not an STS error code', () => {
    const failure = classifyStsError(new TypeError('Invalid URL'));
    expect(failure.code).toBe('STS_ERROR');
    expect(failure.local).toBe(true);
    expect(failure.explanation).toBe(
      'No request reached STS: the SDK failed before sending it (TypeError: Invalid URL).',
    );
  });
});
