import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { IRSA_TOKEN_PATH, KUBE_SA_DIR } from '../../src/aws/env-names';
import { CHECKS } from '../../src/checks/registry';
import type { Env } from '../../src/context/context';
import { shellLab } from '../helpers/shell-check';
import { EKS_ISSUER, mintToken } from '../helpers/tokens';
import type { Responder } from './harness';
import {
  PROPERTY_TIMEOUT_MS,
  RUNS,
  STS_NS,
  answer,
  byteFileView,
  contextOf,
  diagnose,
  fakeNet,
  hostileText,
  plausibleAws,
  refused,
} from './harness';

/**
 * Values that end up in fix commands: pod, namespace and ServiceAccount names (env, the namespace file, the
 * token's claims), the token path, the issuer, the role ARN's path and name, the region, NO_PROXY, the
 * endpoint override, the instance id IMDS names and the jwks_uri discovery names, each drawn from payloads
 * that write a marker file if a shell ever runs them (test/helpers/shell-check.ts), plain names and hostile
 * text. Every command of every case is then given to bash: it parses, and run against stub programs it runs
 * no payload and passes no value as a flag.
 */

const lab = shellLab();
const commands: string[] = [];

/** A payload most of the time, sometimes a plain value (so the paths that need one are reached) or hostile text. */
const hostile = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...lab.payloads, ...lab.wordPayloads) },
  { weight: 2, arbitrary: fc.constantFrom('shop', 'checkout', 'cart-7d9f8b6c5-x2x4q', 'us-west-2') },
  { weight: 1, arbitrary: hostileText },
);
const word = fc.constantFrom(...lab.wordPayloads, 'app', 'team');

const cases = fc.record({
  namespace: hostile,
  serviceAccount: hostile,
  pod: hostile,
  issuerPath: word,
  roleArn: fc.oneof(
    word.map((w) => `arn:aws:iam::111122223333:role/${w}/app`),
    hostile,
    fc.constant('arn:aws:iam::111122223333:role/app'),
  ),
  region: hostile,
  noProxy: hostile,
  endpoint: fc.option(
    fc.oneof(
      word.map((w) => `https://${w}.example.com`),
      hostile,
    ),
    { nil: undefined },
  ),
  envPod: fc.option(hostile, { nil: undefined }),
  envNamespace: fc.option(hostile, { nil: undefined }),
  audience: fc.constantFrom('sts.amazonaws.com', 'sts.amazon.com'),
  expired: fc.boolean(),
  sts: fc.constantFrom('denied', 'no-provider', 'expired', 'ok', 'refused'),
  instanceId: hostile,
  jwksUri: fc.oneof(
    word.map((w) => `https://oidc.example.com/${w}/keys`),
    hostile,
  ),
});

function stsError(code: string, message: string): Responder {
  return () =>
    answer(
      400,
      `<ErrorResponse xmlns="${STS_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
      'text/xml',
    );
}

describe('fuzz: values that end up in fix commands', () => {
  it(
    `every printed command quotes them (${RUNS} cases)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(cases, async (c) => {
          const token = await mintToken({
            namespace: c.namespace,
            serviceAccount: c.serviceAccount,
            pod: c.pod,
            iss: c.issuerPath === 'app' ? EKS_ISSUER : `https://oidc.example.com/${c.issuerPath}`,
            aud: [c.audience],
            ...(c.expired ? { ttl: -3_600 } : {}),
          });
          const files = byteFileView({
            [IRSA_TOKEN_PATH]: token,
            [`${KUBE_SA_DIR}/namespace`]: c.namespace,
          });
          const env: Env = {
            AWS_ROLE_ARN: c.roleArn,
            AWS_WEB_IDENTITY_TOKEN_FILE: IRSA_TOKEN_PATH,
            AWS_REGION: c.region,
            HTTPS_PROXY: 'http://proxy.internal:3128',
            NO_PROXY: c.noProxy,
            ...(c.endpoint !== undefined ? { AWS_ENDPOINT_URL: c.endpoint } : {}),
            ...(c.envPod !== undefined ? { POD_NAME: c.envPod } : {}),
            ...(c.envNamespace !== undefined ? { POD_NAMESPACE: c.envNamespace } : {}),
          };
          const sts: Responder | undefined =
            c.sts === 'denied'
              ? stsError('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity')
              : c.sts === 'no-provider'
                ? stsError('InvalidIdentityToken', 'No OpenIDConnect provider found in your account for x')
                : c.sts === 'expired'
                  ? stsError('ExpiredTokenException', 'Token expired')
                  : undefined;
          const responder =
            c.sts === 'refused'
              ? refused
              : plausibleAws(
                  { keys: [] },
                  {
                    ...(sts ? { 'sts-assume': sts } : {}),
                    'imds-document': () =>
                      answer(
                        200,
                        JSON.stringify({ accountId: '111122223333', instanceId: c.instanceId }),
                        'application/json',
                      ),
                    discovery: (url) =>
                      answer(
                        200,
                        JSON.stringify({
                          issuer: url.href.slice(0, -'/.well-known/openid-configuration'.length),
                          jwks_uri: c.jwksUri,
                        }),
                        'application/json',
                      ),
                  },
                );
          const ctx = {
            ...contextOf(env, files, fakeNet(responder, true)),
          };
          const { report } = await diagnose(ctx, CHECKS);
          for (const f of report.findings) commands.push(...f.remedy.commands);
        }),
        { seed: 0x15_0007, numRuns: RUNS },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});

afterAll(() => {
  const verdict = lab.check(commands);
  expect(verdict.syntaxErrors).toEqual([]);
  expect(verdict.markers).toEqual([]);
  expect(verdict.flagArguments).toEqual([]);
  // The commands ran against the stubs: the checks above saw them.
  expect(verdict.invocations).toBeGreaterThan(100);
}, PROPERTY_TIMEOUT_MS);
