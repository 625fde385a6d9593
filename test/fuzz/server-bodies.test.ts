import fc from 'fast-check';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetFailureKind } from '../../src/aws/http';
import { NetError } from '../../src/aws/http';
import { IRSA_TOKEN_PATH, POD_IDENTITY_TOKEN_PATH, POD_IDENTITY_URI } from '../../src/aws/env-names';
import type { Env } from '../../src/context/context';
import type { FileView } from '../../src/context/files';
import type { Check } from '../../src/run/types';
import { EKS_ISSUER } from '../helpers/tokens';
import type { Responder, Service } from './harness';
import {
  ASSUMED_ARN,
  PROPERTY_TIMEOUT_MS,
  CONTENT_TYPES,
  HTTP_STATUSES,
  NOW_S,
  RUNS,
  SECRET_MARK,
  STS_NS,
  answer,
  byteFileView,
  contextOf,
  diagnose,
  expectCommandsParse,
  expectNotShown,
  fakeNet,
  hostileJson,
  hostileText,
  only,
  plausibleAws,
} from './harness';

/**
 * Server bodies: whatever STS, the Pod Identity agent, the OIDC issuer and IMDS answer (status,
 * content type, body, or no answer at all), the whole diagnosis ends in a sound report. Each property fuzzes
 * one server while the others answer like a healthy EKS, so the fuzzed answer is the only thing wrong.
 */

const KID = 'fuzz-kid';
let jwk: JWK;
let files: FileView;

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  jwk = { ...(await exportJWK(publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  const mint = (aud: string) =>
    new SignJWT({ 'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'cart' } } })
      .setProtectedHeader({ alg: 'RS256', kid: KID })
      .setIssuer(EKS_ISSUER)
      .setSubject('system:serviceaccount:shop:cart')
      .setAudience(aud)
      .setIssuedAt(NOW_S - 600)
      .setExpirationTime(NOW_S + 86_000)
      .sign(privateKey);
  files = byteFileView({
    [IRSA_TOKEN_PATH]: await mint('sts.amazonaws.com'),
    [POD_IDENTITY_TOKEN_PATH]: await mint('pods.eks.amazonaws.com'),
    '/var/run/secrets/kubernetes.io/serviceaccount/namespace': 'shop',
  });
});

const IRSA_ENV: Env = {
  AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/app',
  AWS_WEB_IDENTITY_TOKEN_FILE: IRSA_TOKEN_PATH,
  AWS_REGION: 'us-west-2',
  AWS_DEFAULT_REGION: 'us-west-2',
  AWS_STS_REGIONAL_ENDPOINTS: 'regional',
};
const POD_IDENTITY_ENV: Env = {
  AWS_CONTAINER_CREDENTIALS_FULL_URI: POD_IDENTITY_URI,
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: POD_IDENTITY_TOKEN_PATH,
  AWS_REGION: 'us-west-2',
  AWS_DEFAULT_REGION: 'us-west-2',
};

// --- one fuzzed answer -----------------------------------------------------------------------------------------

type Body = string | Uint8Array;
type Fuzzed = { readonly net: NetFailureKind } | { status: number; contentType: string | undefined; body: Body };

const NET_KINDS: NetFailureKind[] = ['dns', 'refused', 'connect-timeout', 'read-timeout', 'tls', 'reset', 'other'];

const ERROR_STATUSES = fc.oneof(fc.constantFrom(400, 403, 404, 429, 500, 503), HTTP_STATUSES);

/**
 * An answer with a status that usually fits its body (200 for a result, 4xx/5xx for an error) and sometimes
 * any status, any content type, or no answer at all.
 */
function fuzzedAnswer(ok: fc.Arbitrary<Body>, error?: fc.Arbitrary<Body>): fc.Arbitrary<Fuzzed> {
  const bodyWith = (body: fc.Arbitrary<Body>, usual: fc.Arbitrary<number>) =>
    fc.record({
      status: fc.oneof({ weight: 4, arbitrary: usual }, HTTP_STATUSES),
      contentType: CONTENT_TYPES,
      body,
    });
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...NET_KINDS).map((net): Fuzzed => ({ net })) },
    { weight: 8, arbitrary: bodyWith(ok, fc.constant(200)) },
    { weight: error ? 5 : 1, arbitrary: bodyWith(error ?? ok, ERROR_STATUSES) },
    { weight: 2, arbitrary: bodyWith(junkBody, HTTP_STATUSES) },
  );
}

function respondWith(fuzzed: Fuzzed): Responder {
  return (url) =>
    'net' in fuzzed
      ? new NetError(fuzzed.net, url.href, undefined, `fuzzed ${fuzzed.net}`)
      : answer(fuzzed.status, fuzzed.body, fuzzed.contentType);
}

/** Bodies no server should send: empty, bytes, invalid UTF-8, BOMs, another format, huge. */
const junkBody: fc.Arbitrary<Body> = fc.oneof(
  fc.constantFrom('', ' ', 'null', '[]', '{}', '<html><body>502 Bad Gateway</body></html>', '\ufeff{}', '\ufeff<a/>'),
  fc.uint8Array({ maxLength: 200 }),
  fc.constantFrom(Buffer.from([0xff, 0xfe, 0x3c, 0x00]), Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), Buffer.alloc(64)),
  hostileText,
  fc.integer({ min: 200_000, max: 1_100_000 }).map((n) => 'x'.repeat(n)),
);

/** Hostile text, XML-escaped or raw (raw breaks the document), or as numeric character references. */
const xmlText = fc.oneof(
  hostileText.map((t) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')),
  hostileText,
  hostileText.map((t) => [...t].map((c) => `&#x${(c.codePointAt(0) ?? 0).toString(16)};`).join('')),
  fc.constantFrom('&#27;[2J', '&#x9b;31m', '&#xD800;', '&#99999999;', '&bogus;', '&amp', '<![CDATA[\u001b[2J]]>'),
);

/** A child element whose content is right, text of the wrong kind, nested elements, or missing. */
function element(name: string, right: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 16, arbitrary: fc.constant(`<${name}>${right}</${name}>`) },
    xmlText.map((t) => `<${name}>${t}</${name}>`),
    fc.constant(`<${name}/>`),
    fc.constant(`<${name}><member>${right}</member><member>x</member></${name}>`),
    fc.constant(`<${name}>${right}</${name}><${name}>${right}</${name}>`),
    fc.constant(`<${name} a="1" b='&quot;'>${right}</${name}>`),
    fc.constant(''),
  );
}

const assumeRoleBody = fc
  .record({
    key: element('AccessKeyId', 'ASIAASSUMEDKEY000001'),
    secret: element('SecretAccessKey', `${SECRET_MARK}sts`),
    session: element('SessionToken', `${SECRET_MARK}sts-session`),
    expiration: element('Expiration', '2030-01-01T00:00:00Z'),
    arn: element('Arn', ASSUMED_ARN),
  })
  .map(
    (e) =>
      `<AssumeRoleWithWebIdentityResponse xmlns="${STS_NS}"><AssumeRoleWithWebIdentityResult><Credentials>${e.key}${e.secret}${e.session}${e.expiration}</Credentials><AssumedRoleUser>${e.arn}<AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`,
  );

const callerBody = fc
  .record({
    arn: element('Arn', ASSUMED_ARN),
    account: element('Account', '111122223333'),
    user: element('UserId', 'AROA:x'),
  })
  .map(
    (e) =>
      `<GetCallerIdentityResponse xmlns="${STS_NS}"><GetCallerIdentityResult>${e.arn}${e.user}${e.account}</GetCallerIdentityResult></GetCallerIdentityResponse>`,
  );

const STS_CODES = [
  'AccessDenied',
  'InvalidIdentityToken',
  'IDPCommunicationError',
  'ExpiredTokenException',
  'RegionDisabledException',
  'IDPRejectedClaim',
  'Throttling',
  'ValidationError',
  'InvalidClientTokenId',
  'PackedPolicyTooLarge',
  'Exception',
  '',
];
const STS_MESSAGES = [
  'Not authorized to perform sts:AssumeRoleWithWebIdentity',
  'No OpenIDConnect provider found in your account for https://oidc.example',
  'Incorrect token audience',
  "Couldn't retrieve verification key from your identity provider",
  'Rate exceeded',
  'Request ARN is invalid',
  'OpenIDConnect provider thumbprint mismatch',
];

const errorBody = fc
  .record({
    type: element('Type', 'Sender'),
    code: fc.oneof(fc.constantFrom(...STS_CODES).chain((c) => element('Code', c))),
    message: fc.oneof(
      fc.constantFrom(...STS_MESSAGES).chain((m) => element('Message', m)),
      fc.tuple(fc.constantFrom(...STS_MESSAGES), xmlText).map(([m, t]) => `<Message>${t}${m}${t}</Message>`),
    ),
    wrapper: fc.constantFrom('ErrorResponse', 'Response', 'Error', 'AssumeRoleWithWebIdentityResponse'),
  })
  .map(
    (e) =>
      `<${e.wrapper} xmlns="${STS_NS}"><Error>${e.type}${e.code}${e.message}</Error><RequestId>r</RequestId></${e.wrapper}>`,
  );

/** XML tricks aimed at the parser: DTDs and entities, comments, CDATA, truncation, deep nesting. */
const trickyXml = fc.oneof(
  fc.constant(
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><ErrorResponse><Error><Code>&lol2;</Code><Message>&lol2;</Message></Error></ErrorResponse>',
  ),
  fc.constant(
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><ErrorResponse><Error><Code>AccessDenied</Code><Message>&xxe;</Message></Error></ErrorResponse>',
  ),
  fc.constant(
    '<!-- <ErrorResponse> --><GetCallerIdentityResponse><GetCallerIdentityResult/></GetCallerIdentityResponse>',
  ),
  fc.constant('<ErrorResponse><Error><Code><![CDATA[AccessDenied]]></Code><Message><![CDATA[\u001b[2J]]></Message>'),
  fc.integer({ min: 10, max: 20_000 }).map((depth) => `${'<a>'.repeat(depth)}x${'</a>'.repeat(depth)}`),
  fc.integer({ min: 1, max: 5_000 }).map((n) => `<ErrorResponse>${'<Error><Code>A</Code></Error>'.repeat(n)}`),
  fc
    .tuple(fc.oneof(assumeRoleBody, errorBody, callerBody), fc.nat())
    .map(([xml, cut]) => xml.slice(0, cut % xml.length)),
);

/** What STS answers with 200, and what it answers with an error status. */
const stsResult = (result: fc.Arbitrary<string>): fc.Arbitrary<Body> =>
  fc.oneof(
    { weight: 8, arbitrary: result },
    { weight: 1, arbitrary: result === assumeRoleBody ? callerBody : assumeRoleBody },
    { weight: 2, arbitrary: trickyXml },
    { weight: 1, arbitrary: hostileJson.map((j) => JSON.stringify(j) ?? '') },
  );
const stsError: fc.Arbitrary<Body> = fc.oneof({ weight: 4, arbitrary: errorBody }, { weight: 1, arbitrary: trickyXml });

// --- JSON bodies ---------------------------------------------------------------------------------------------

/** A JSON field that is right, of the wrong type, or missing. */
function field(right: unknown): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 9, arbitrary: fc.constant(right) },
    { weight: 1, arbitrary: hostileJson },
    { weight: 1, arbitrary: hostileText },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

/** Serialises an object without its undefined fields, sometimes with extra hostile keys. */
function jsonOf(record: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<string> {
  return fc
    .tuple(record, fc.dictionary(hostileText, hostileJson, { maxKeys: 2 }))
    .map(([r, extra]) => JSON.stringify({ ...extra, ...r }));
}

const agentCredentials: fc.Arbitrary<Body> = fc.oneof(
  {
    weight: 4,
    arbitrary: jsonOf(
      fc.record({
        AccessKeyId: field('ASIAAGENTKEY00000001'),
        SecretAccessKey: field(`${SECRET_MARK}agent`),
        Token: field(`${SECRET_MARK}agent-session`),
        AccountId: field('111122223333'),
        Expiration: field('2030-01-01T00:00:00Z'),
      }),
    ),
  },
  { weight: 1, arbitrary: hostileJson.map((j) => JSON.stringify(j) ?? '') },
);

/** The agent's text/plain errors (its own, or EKS Auth's relayed), with hostile text around them. */
const agentError: fc.Arbitrary<Body> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          'Service account token cannot be parsed',
          'Called agent through invalid address',
          '[req-1]: (AccessDeniedException): EKS does not have permissions, fault: client',
          '[req-1]: (ResourceNotFoundException): no association, fault: client',
          '(InvalidTokenException): bad token',
          '(ThrottlingException): slow down',
          '',
        ),
        hostileText,
      )
      .map(([message, t]) => `${t}${message}${t}`),
  },
  { weight: 1, arbitrary: hostileJson.map((j) => JSON.stringify(j) ?? '') },
  { weight: 1, arbitrary: junkBody },
);

const jwksUri = fc.oneof(
  { weight: 12, arbitrary: fc.constant(`${EKS_ISSUER}/keys`) },
  fc.constantFrom('http://oidc.example/keys', 'http://127.0.0.1:1/keys', 'file:///keys', '', 'https://[::1', 'keys'),
  hostileText.map((t) => `https://oidc.example/${t}`),
  hostileJson,
);

const discoveryBody: fc.Arbitrary<Body> = fc.oneof(
  {
    weight: 4,
    arbitrary: jsonOf(
      fc.record({
        issuer: fc.oneof(
          { weight: 12, arbitrary: fc.constant(EKS_ISSUER) },
          fc.constantFrom(`${EKS_ISSUER}/`, EKS_ISSUER.toUpperCase(), 'https://other.example'),
          hostileText,
          hostileJson,
        ),
        jwks_uri: jwksUri,
        id_token_signing_alg_values_supported: field(['RS256']),
      }),
    ),
  },
  { weight: 1, arbitrary: hostileJson.map((j) => JSON.stringify(j) ?? '') },
  { weight: 1, arbitrary: junkBody },
);

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** One JWK: the real key (maybe under another kid, maybe damaged), or keys of any type with garbage fields. */
function key(): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(jwk) },
    fc.record({ kid: fc.oneof(fc.constant(KID), hostileText) }).map((k) => ({ ...jwk, ...k })),
    fc
      .record({ n: field(jwk.n), e: field(jwk.e), alg: field('RS256'), use: field('sig'), kty: field('RSA') })
      .map((k) => ({ kid: KID, ...k })),
    fc.uint8Array({ minLength: 1, maxLength: 300 }).map((n) => ({ ...jwk, n: b64url(n) })),
    fc.record({
      kty: fc.constantFrom('EC', 'OKP', 'oct', 'RSA', 'rsa', ''),
      crv: field('P-256'),
      x: field('AAAA'),
      y: field('AAAA'),
      k: field('AAAA'),
      kid: field(KID),
      alg: fc.constantFrom('ES256', 'EdDSA', 'HS256', 'RS256', 'none', 'PS512'),
      key_ops: field(['verify']),
      x5c: field(['MIIB']),
    }),
    hostileJson,
  );
}

/** A function: the keys need the JWK that beforeAll makes. */
const jwksBody = (): fc.Arbitrary<Body> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: jsonOf(
        fc.record({ keys: fc.oneof({ weight: 4, arbitrary: fc.array(key(), { maxLength: 4 }) }, hostileJson) }),
      ),
    },
    { weight: 1, arbitrary: hostileJson.map((j) => JSON.stringify(j) ?? '') },
    { weight: 1, arbitrary: junkBody },
  );

const imdsBody: fc.Arbitrary<Body> = fc.oneof(
  fc.constantFrom('eks-node-role', 'eks-node-role\nsecond-role', '', 'a b', 'x'.repeat(65), '../../etc'),
  jsonOf(
    fc.record({
      accountId: field('111122223333'),
      region: field('us-west-2'),
      instanceId: field('i-0123456789abcdef0'),
    }),
  ),
  jsonOf(
    fc.record({
      Code: field('Success'),
      AccessKeyId: field('ASIANODE'),
      SecretAccessKey: field('S'),
      Token: field('T'),
    }),
  ),
  hostileText,
  junkBody,
);

// --- the properties ------------------------------------------------------------------------------------------

/** Each service's answer for one case; the services not named answer like a healthy EKS. */
function fuzzedServices(answers: Partial<Record<Service, Fuzzed>>): Responder {
  const overrides: Partial<Record<Service, Responder>> = {};
  for (const [service, fuzzed] of Object.entries(answers) as [Service, Fuzzed][]) {
    overrides[service] = respondWith(fuzzed);
  }
  return plausibleAws({ keys: [jwk] }, overrides);
}

/** The checks a fuzzed answer can reach, with their inputs; the env, proxy and Kubernetes checks stay out. */
const STS_CHECKS = only('identity.caller');
const AGENT_CHECKS = only('identity.caller');
const OIDC_CHECKS = only('issuer.discovery');
const IMDS_CHECKS = only('identity.caller');

async function diagnoseWith(
  checks: readonly Check[],
  env: Env,
  answers: Partial<Record<Service, Fuzzed>>,
): Promise<void> {
  const rendered = await diagnose(contextOf(env, files, fakeNet(fuzzedServices(answers), true)), checks);
  expectNotShown(rendered, SECRET_MARK, 'a credential from a server');
}

describe('fuzz: server bodies', () => {
  it(
    `any STS answer (AssumeRoleWithWebIdentity, GetCallerIdentity, errors) ends in a sound report (${RUNS} cases)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fuzzedAnswer(stsResult(assumeRoleBody), stsError),
          fc.option(fuzzedAnswer(stsResult(callerBody), stsError), { nil: undefined }),
          async (assume, caller) => {
            await diagnoseWith(STS_CHECKS, IRSA_ENV, {
              'sts-assume': assume,
              ...(caller ? { 'sts-caller': caller } : {}),
            });
          },
        ),
        { seed: 0x6_0003, numRuns: RUNS },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    `any Pod Identity agent answer ends in a sound report (${RUNS} cases)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fuzzedAnswer(agentCredentials, agentError),
          fc.option(fuzzedAnswer(stsResult(callerBody), stsError), { nil: undefined }),
          async (agent, caller) => {
            await diagnoseWith(AGENT_CHECKS, POD_IDENTITY_ENV, { agent, ...(caller ? { 'sts-caller': caller } : {}) });
          },
        ),
        { seed: 0x6_0004, numRuns: RUNS },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    `any OIDC discovery document and JWKS ends in a sound report (${RUNS} cases)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fuzzedAnswer(discoveryBody), fuzzedAnswer(jwksBody()), async (discovery, jwks) => {
          await diagnoseWith(OIDC_CHECKS, IRSA_ENV, { discovery, jwks });
        }),
        { seed: 0x6_0005, numRuns: RUNS },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    `any IMDS answer ends in a sound report (${RUNS} cases)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record(
            {
              'imds-token': fuzzedAnswer(fc.oneof(fc.constant('AQAEAIMDSTOKEN'), imdsBody)),
              'imds-alive': fuzzedAnswer(imdsBody),
              'imds-roles': fuzzedAnswer(imdsBody),
              'imds-document': fuzzedAnswer(imdsBody),
              'imds-credentials': fuzzedAnswer(imdsBody),
              'sts-caller': fuzzedAnswer(stsResult(callerBody), stsError),
            },
            { requiredKeys: [] },
          ),
          fc.constantFrom<Env>({}, { AWS_REGION: 'us-west-2' }, IRSA_ENV),
          async (answers, env) => {
            await diagnoseWith(IMDS_CHECKS, env, answers);
          },
        ),
        { seed: 0x6_0006, numRuns: RUNS },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});

// Whatever the input, every fix command printed is valid shell.
afterAll(() => {
  expect(expectCommandsParse()).toBeGreaterThan(0);
});
