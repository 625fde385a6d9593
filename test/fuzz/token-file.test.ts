import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { IRSA_TOKEN_PATH, POD_IDENTITY_TOKEN_PATH, POD_IDENTITY_URI } from '../../src/aws/env-names';
import { CHECKS } from '../../src/checks/registry';
import { EKS_ISSUER } from '../helpers/tokens';
import {
  NOW_S,
  PROPERTY_TIMEOUT_MS,
  RUNS,
  anyText,
  byteFileView,
  contextOf,
  diagnose,
  expectNotShown,
  fakeNet,
  hostileJson,
  hostileText,
  refused,
  expectCommandsParse,
} from './harness';

/**
 * Token file contents: whatever bytes sit at AWS_WEB_IDENTITY_TOKEN_FILE or the Pod Identity token
 * path, the whole diagnosis ends in a sound report. The JWTs are built by hand (header.payload.signature as
 * base64url of JSON): nothing needs a valid signature to reach token.claims, and hand-made segments can hold
 * what no JWT library would emit.
 */

const b64url = (data: string | Uint8Array) => Buffer.from(data).toString('base64url');

/** A claim that is right, absent, or of the wrong type. */
function claim(right: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 12, arbitrary: right },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: hostileJson },
  );
}

const time = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -3_600, max: 3_600 }).map((d) => NOW_S + d) },
  fc.integer({ min: -86_400 * 400, max: 86_400 * 400 }).map((d) => NOW_S + d),
  fc.constantFrom(0, -1, 1e308, -1e308, 8.64e12, 2 ** 53, 0.5, -0),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom('1700000000', '', 'tomorrow', null, true, [NOW_S], { exp: NOW_S }),
);

const audience = fc.oneof(
  { weight: 6, arbitrary: fc.constant(['sts.amazonaws.com', 'pods.eks.amazonaws.com']) },
  fc.constantFrom(['sts.amazonaws.com'], ['pods.eks.amazonaws.com']),
  fc.constantFrom('sts.amazonaws.com', 'pods.eks.amazonaws.com', 'sts.amazon.com', ''),
  fc.array(fc.oneof(fc.constantFrom('sts.amazonaws.com', 'pods.eks.amazonaws.com'), hostileText), { maxLength: 5 }),
  fc.constantFrom(42, { aud: 'sts.amazonaws.com' }, [['sts.amazonaws.com']], [1, 2], [null], []),
  fc.array(fc.constant('sts.amazonaws.com'), { minLength: 500, maxLength: 2_000 }),
  hostileText,
);

const subject = fc.oneof(
  { weight: 2, arbitrary: fc.constant('system:serviceaccount:shop:cart') },
  fc
    .tuple(fc.oneof(fc.constant('shop'), hostileText), fc.oneof(fc.constant('cart'), hostileText))
    .map(([ns, sa]) => `system:serviceaccount:${ns}:${sa}`),
  fc.constantFrom('system:serviceaccount:shop', 'system:serviceaccount::', 'system:serviceaccount:a:b:c', ''),
  anyText,
);

const issuer = fc.oneof(
  { weight: 4, arbitrary: fc.constant(EKS_ISSUER) },
  fc.constantFrom('http://127.0.0.1:1/', 'https://', 'ftp://issuer', 'https://[::1', `${EKS_ISSUER}/`, 'not a url'),
  hostileText.map((t) => `https://oidc.example/${t}`),
  anyText,
);

const kubernetesBlock = fc.oneof(
  fc.record({
    namespace: claim(fc.constant('shop')),
    pod: claim(fc.record({ name: claim(hostileText), uid: claim(hostileText) })),
    serviceaccount: claim(fc.record({ name: claim(hostileText), uid: claim(fc.uuid()) })),
    node: claim(fc.record({ name: claim(hostileText) })),
  }),
  hostileJson,
);

const claims = fc
  .record({
    iss: claim(issuer),
    sub: claim(subject),
    aud: claim(audience),
    exp: claim(fc.oneof({ weight: 4, arbitrary: fc.constant(NOW_S + 80_000) }, time)),
    iat: claim(fc.oneof({ weight: 4, arbitrary: fc.constant(NOW_S - 600) }, time)),
    nbf: claim(fc.oneof({ weight: 4, arbitrary: fc.constant(NOW_S - 600) }, time)),
    'kubernetes.io': claim(kubernetesBlock),
    extra: fc.dictionary(hostileText, hostileJson, { maxKeys: 3 }),
  })
  .map(({ extra, ...named }) => {
    const out: Record<string, unknown> = { ...extra };
    for (const [k, v] of Object.entries(named)) if (v !== undefined) out[k] = v;
    return out;
  });

const header = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      alg: claim(fc.constantFrom('RS256', 'ES256', 'none', 'HS256')),
      kid: claim(hostileText),
      typ: claim(fc.constant('JWT')),
    }),
  },
  hostileJson,
  // A huge header: far past what any issuer sends, still below the 64 KiB file limit.
  fc.integer({ min: 1_000, max: 40_000 }).map((n) => ({ alg: 'RS256', kid: 'k'.repeat(n) })),
);

/** JSON text of a segment: usually the object, sometimes not JSON at all or not an object. */
function segmentText(value: fc.Arbitrary<unknown>): fc.Arbitrary<string | Uint8Array> {
  return fc.oneof(
    { weight: 20, arbitrary: value.map((v) => JSON.stringify(v) ?? 'undefined') },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', '{', '[1,2]', 'null', '"str"', '{"a":1}}', '\ufeff{}', '{"exp":1e999}'),
    },
    { weight: 1, arbitrary: value.map((v) => Buffer.from(JSON.stringify(v) ?? '', 'utf16le')) },
    // Invalid UTF-8 inside the JSON: a lone continuation byte, an overlong NUL, a truncated sequence.
    {
      weight: 1,
      arbitrary: fc
        .tuple(value, fc.constantFrom([0x80], [0xc0, 0x80], [0xe2, 0x82], [0xff, 0xfe], [0xed, 0xa0, 0x80]))
        .map(([v, bad]) => Buffer.concat([Buffer.from(JSON.stringify(v) ?? '').subarray(0, 3), Buffer.from(bad)])),
    },
  );
}

const signature = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }).map(b64url) },
  fc.constantFrom('', 'AAAA', '=='),
);

/** The token and its signature segment, which no output may ever show (docs/report.md). */
const jwt = fc
  .tuple(segmentText(header), segmentText(claims), signature)
  .map(([h, p, s]) => ({ token: `${b64url(h)}.${b64url(p)}.${s}`, signature: s }));

/** Ways a token file gets damaged on the way: cut, re-encoded, split, padded, mixed with bytes. */
const damage = fc.oneof(
  { weight: 14, arbitrary: fc.constant((t: string): string | Uint8Array => t) },
  fc.nat().map((n) => (t: string) => t.slice(0, n % (t.length + 1))),
  fc.constant((t: string) => t.replaceAll('-', '+').replaceAll('_', '/') + '=='),
  fc.constantFrom('\n', '\r\n', ' ', '\t', '\u000b').map((ws) => (t: string) => `${ws}${t}${ws}`),
  fc.integer({ min: 1, max: 6 }).map((n) => (t: string) => [...t.split('.'), 'eA', 'eA', 'eA'].slice(0, n).join('.')),
  fc.tuple(fc.nat(), hostileText).map(([at, text]) => (t: string) => {
    const i = at % (t.length + 1);
    return `${t.slice(0, i)}${text}${t.slice(i)}`;
  }),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([at, bytes]) => (t: string) => {
    const i = at % (t.length + 1);
    return Buffer.concat([Buffer.from(t.slice(0, i)), Buffer.from(bytes), Buffer.from(t.slice(i))]);
  }),
);

const noSignature = (bytes: string | Uint8Array) => ({ bytes, signature: '' });
const tokenBytes: fc.Arbitrary<{ bytes: string | Uint8Array; signature: string }> = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(jwt, damage).map(([t, d]) => ({ bytes: d(t.token), signature: t.signature })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }).map(noSignature) },
  { weight: 1, arbitrary: anyText.map(noSignature) },
  // At and past the 64 KiB limit: never read whole.
  {
    weight: 1,
    arbitrary: fc.integer({ min: 64 * 1024 - 2, max: 64 * 1024 + 2 }).map((n) => noSignature('a'.repeat(n))),
  },
);

const IRSA_ENV = {
  AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/app',
  AWS_WEB_IDENTITY_TOKEN_FILE: IRSA_TOKEN_PATH,
  AWS_REGION: 'us-west-2',
  AWS_STS_REGIONAL_ENDPOINTS: 'regional',
};
const POD_IDENTITY_ENV = {
  AWS_CONTAINER_CREDENTIALS_FULL_URI: POD_IDENTITY_URI,
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: POD_IDENTITY_TOKEN_PATH,
  AWS_REGION: 'us-west-2',
};

describe('fuzz: token file contents', () => {
  it(
    `any bytes in the token file end in a sound report (${RUNS} cases)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(tokenBytes, fc.boolean(), async ({ bytes, signature }, podIdentity) => {
          const env = podIdentity ? POD_IDENTITY_ENV : IRSA_ENV;
          const files = byteFileView({
            [podIdentity ? POD_IDENTITY_TOKEN_PATH : IRSA_TOKEN_PATH]: bytes,
            '/var/run/secrets/kubernetes.io/serviceaccount/namespace': 'shop',
          });
          // Every network call is refused at once: the token still flows into issuer.discovery, the STS call
          // and the agent call, which must turn that into findings.
          const rendered = await diagnose(contextOf(env, files, fakeNet(refused)), CHECKS);
          // Long enough to be the token's own and not a coincidence.
          if (signature.length >= 24) expectNotShown(rendered, signature, 'the token signature');
        }),
        { seed: 0x6_0001, numRuns: RUNS },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});

// Whatever the input, every fix command printed is valid shell.
afterAll(() => {
  expect(expectCommandsParse()).toBeGreaterThan(0);
});
