import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IRSA_TOKEN_PATH } from '../../src/aws/env-names';
import type { FileView } from '../../src/context/files';
import { EKS_ISSUER, mintToken } from '../helpers/tokens';
import {
  CASE_TIMEOUT_MS,
  PROPERTY_TIMEOUT_MS,
  RUNS,
  anyText,
  byteFileView,
  contextOf,
  diagnose,
  expectCommandsParse,
  fakeNet,
  hostileJson,
  hostileText,
  only,
  refused,
} from './harness';

/**
 * --trust-policy files: documents shaped like trust policies (one statement or a list; Allow and Deny;
 * Federated, "*" and other principals; every condition operator with ForAnyValue/ForAllValues and IfExists,
 * keys of this issuer, another issuer and global keys; values with `*`, `?`, `${*}` and long patterns made to
 * make a backtracking matcher quadratic), the get-role wrapper, URL-encoded documents, and any JSON or
 * bytes at all. Every case ends in a sound report within the run's deadline: matching is synchronous, so a
 * slow one would hold the event loop past it.
 */

const HOST = EKS_ISSUER.slice('https://'.length);
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${HOST}`;
const POLICY_FILE = '/policy/trust.json';
let token: string;

beforeAll(async () => {
  token = await mintToken({ sub: `system:serviceaccount:shop:${'a'.repeat(2_000)}` });
});

const glob = fc.oneof(
  fc.constantFrom(
    'system:serviceaccount:shop:*',
    'system:serviceaccount:*',
    '*',
    '?',
    'sts.amazonaws.com',
    'a${*}b',
    '${?}',
  ),
  fc
    .tuple(fc.integer({ min: 1, max: 3_000 }), fc.constantFrom('*', '?', ''))
    .map(([n, w]) => `*${`a${w}`.repeat(n)}b*`),
  fc.stringMatching(/^[a-z*?:$-]{0,40}$/),
  hostileText,
);
const values = fc.oneof(
  { weight: 8, arbitrary: fc.oneof(glob, fc.array(glob, { maxLength: 5 })) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(true, 1, null, [], {}) },
);
const operator = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('', 'ForAnyValue:', 'ForAllValues:', 'foranyvalue:'),
      fc.constantFrom(
        'StringEquals',
        'StringLike',
        'StringNotEquals',
        'StringNotLike',
        'StringEqualsIgnoreCase',
        'Null',
        'ArnLike',
        'Bool',
      ),
      fc.constantFrom('', 'IfExists'),
    )
    .map(([set, base, ifExists]) => `${set}${base}${ifExists}`),
  hostileText,
);
const key = fc.oneof(
  fc.constantFrom(
    `${HOST}:sub`,
    `${HOST}:aud`,
    `${HOST.toUpperCase()}:SUB`,
    'oidc.eks.eu-west-1.amazonaws.com/id/X:sub',
    'aws:SourceIp',
    'sts:RoleSessionName',
  ),
  hostileText,
);
const statement = fc.record(
  {
    Sid: fc.oneof(fc.constantFrom('AllowIrsa', ''), hostileText),
    Effect: fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom('Allow', 'Deny') },
      { weight: 1, arbitrary: hostileJson },
    ),
    Principal: fc.oneof(
      { weight: 6, arbitrary: fc.constant({ Federated: PROVIDER }) },
      fc.constant('*'),
      fc.record({
        Federated: fc.oneof(
          fc.constantFrom(PROVIDER, `${PROVIDER}/`, 'https://x'),
          fc.array(hostileText, { maxLength: 3 }),
        ),
      }),
      fc.constant({ Service: 'pods.eks.amazonaws.com' }),
      { weight: 1, arbitrary: hostileJson },
    ),
    Action: fc.oneof(
      {
        weight: 6,
        arbitrary: fc.constantFrom('sts:AssumeRoleWithWebIdentity', 'sts:*', 'sts:Assume*', [
          'sts:AssumeRole',
          'sts:TagSession',
        ]),
      },
      { weight: 2, arbitrary: glob },
      { weight: 1, arbitrary: hostileJson },
    ),
    Condition: fc.oneof(
      { weight: 8, arbitrary: fc.dictionary(operator, fc.dictionary(key, values, { maxKeys: 3 }), { maxKeys: 3 }) },
      { weight: 1, arbitrary: hostileJson },
    ),
  },
  { requiredKeys: ['Effect', 'Principal', 'Action'] },
);
const document = fc.record({
  Version: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('2012-10-17', '2008-10-17') },
    { weight: 1, arbitrary: hostileJson },
  ),
  Statement: fc.oneof(statement, fc.array(statement, { maxLength: 4 })),
});
const file = fc.oneof(
  { weight: 8, arbitrary: document.map((d) => JSON.stringify(d)) },
  { weight: 1, arbitrary: document.map((d) => JSON.stringify({ Role: { AssumeRolePolicyDocument: d } })) },
  { weight: 1, arbitrary: document.map((d) => encodeURIComponent(JSON.stringify(d))) },
  { weight: 1, arbitrary: hostileJson.map((j) => JSON.stringify(j) ?? 'undefined') },
  { weight: 1, arbitrary: anyText },
);

let files: FileView;
/** Cases whose policy parsed and was evaluated (not rejected as unusable): most of them. */
let evaluated = 0;
describe('fuzz: --trust-policy files', () => {
  it(
    `any trust policy file ends in a sound report within the run deadline (${RUNS} cases)`,
    async () => {
      files = byteFileView({ [IRSA_TOKEN_PATH]: token });
      const checks = only('trust.policy');
      await fc.assert(
        fc.asyncProperty(file, async (text) => {
          const ctx = {
            ...contextOf(
              { AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/app', AWS_WEB_IDENTITY_TOKEN_FILE: IRSA_TOKEN_PATH },
              files,
              fakeNet(refused),
            ),
            localFiles: byteFileView({ [POLICY_FILE]: text }),
          };
          const withPolicy = { ...ctx, options: { ...ctx.options, offline: true, trustPolicyFile: POLICY_FILE } };
          const started = performance.now();
          const { report } = await diagnose(withPolicy, checks);
          expect(performance.now() - started).toBeLessThan(CASE_TIMEOUT_MS + 1_000);
          const trust = report.checks.find((c) => c.id === 'trust.policy');
          expect(trust?.summary).not.toMatch(/did not finish/);
          if (trust?.details?.decision !== undefined) evaluated++;
        }),
        { seed: 0x15_0006, numRuns: RUNS },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});

afterAll(() => {
  expect(evaluated).toBeGreaterThan(RUNS / 3);
  expect(expectCommandsParse()).toBeGreaterThan(0);
});
