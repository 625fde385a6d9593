import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IRSA_TOKEN_PATH, POD_IDENTITY_TOKEN_PATH, POD_IDENTITY_URI } from '../../src/aws/env-names';
import { CHECKS } from '../../src/checks/registry';
import type { FileView } from '../../src/context/files';
import { mintToken } from '../helpers/tokens';
import {
  PROPERTY_TIMEOUT_MS,
  RUNS,
  anyText,
  byteFileView,
  contextOf,
  diagnose,
  expectNotShown,
  SECRET_MARK,
  fakeNet,
  hostileText,
  plausibleAws,
  refused,
  expectCommandsParse,
} from './harness';

/**
 * Env values: whatever the diagnosed process's environment holds, the whole diagnosis ends in a
 * sound report. Values are aimed at what the env checks parse (ARNs of every partition, regions, URLs,
 * NO_PROXY lists, the regional-endpoints switch) and mixed with empty, huge and control-character values.
 * Half the cases meet a network that refuses everything, half one that answers like AWS, so the values also
 * travel into the STS, agent and IMDS calls.
 */

const PARTITIONS = ['aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b', 'aws-iso-e', 'aws-iso-f', 'aws-eusc'];
const REGIONS = [
  'us-west-2',
  'cn-north-1',
  'us-gov-west-1',
  'us-iso-east-1',
  'us-isob-east-1',
  'eu-isoe-west-1',
  'us-isof-south-1',
  'eusc-de-east-1',
];

/** Mostly the specific shape, sometimes any hostile text. */
function value(specific: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof({ weight: 4, arbitrary: specific }, { weight: 1, arbitrary: anyText });
}

/** Splices hostile text into a value at a random place. */
function spliced(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(base, fc.nat(), hostileText).map(([b, at, t]) => {
    const i = at % (b.length + 1);
    return `${b.slice(0, i)}${t}${b.slice(i)}`;
  });
}

const roleArn = value(
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...PARTITIONS).map((p) => `arn:${p}:iam::111122223333:role/app`) },
    fc
      .record({
        scheme: fc.constantFrom('arn', 'arn', 'ARN', 'urn', ''),
        partition: fc.oneof(fc.constantFrom(...PARTITIONS), fc.constantFrom('AWS', 'aws-xx', 'aws-iso-z', '')),
        service: fc.constantFrom('iam', 'iam', 'sts', 'IAM', 's3'),
        region: fc.constantFrom('', '', 'us-west-2'),
        account: fc.oneof(
          fc.stringMatching(/^\d{12}$/),
          fc.constantFrom('', '12345678901', '1234567890123', 'aws', '*', '０１２３４５６７８９０１'),
        ),
        kind: fc.constantFrom('role', 'role', 'assumed-role', 'user', 'Role', 'role:'),
        path: fc.constantFrom('/', '/', '/team/', '//', '/a b/', '/\u001b[31m/', '/../', ''),
        name: fc.oneof(
          fc.stringMatching(/^[\w+=,.@-]{1,64}$/),
          fc.constantFrom('', 'x'.repeat(65), 'app role', 'app/role', 'app*', 'app\u0085'),
        ),
      })
      .map((a) => `${a.scheme}:${a.partition}:${a.service}:${a.region}:${a.account}:${a.kind}${a.path}${a.name}`),
    spliced(fc.constantFrom(...PARTITIONS).map((p) => `arn:${p}:iam::111122223333:role/app`)),
  ),
);

const region = value(
  fc.oneof(
    fc.constantFrom(...REGIONS),
    fc.constantFrom('us-east-1a', 'US-EAST-1', ' us-east-1', 'us-east-1\n', 'aws-global', 'local', '-', 'us--1'),
    spliced(fc.constantFrom(...REGIONS)),
    fc.stringMatching(/^[a-z]{2,5}(-[a-z]{2,8}){0,3}-\d{1,3}$/),
  ),
);

const url = value(
  fc.oneof(
    fc.constantFrom(
      'https://sts.us-west-2.amazonaws.com',
      'https://sts.amazonaws.com/',
      'https://sts.cn-north-1.amazonaws.com.cn',
      POD_IDENTITY_URI,
      'http://[fd00:ec2::23]/v1/credentials',
      'http://169.254.169.254',
      'http://[fd00:ec2::254]',
      'http://127.0.0.1:8080/creds',
      'http://localhost',
      'http://[::1',
      'http://[::1]:99999',
      'https://user:p%40ss@sts.example.com:443/x?y=1#z',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'http://%zz/',
      'http://0x7f.1/',
      'https://',
      '//sts.amazonaws.com',
      'sts.us-west-2.amazonaws.com',
      'http://169.254.170.23:80:80/',
      'socks5://proxy:1080',
      'http://proxy.internal:3128',
    ),
    fc.webUrl({ withQueryParameters: true, withFragments: true }),
    spliced(fc.constantFrom('https://sts.us-west-2.amazonaws.com', POD_IDENTITY_URI, 'http://proxy:3128')),
  ),
);

const noProxy = value(
  fc
    .array(
      fc.oneof(
        fc.constantFrom(
          '*',
          '.amazonaws.com',
          'amazonaws.com',
          '169.254.169.254',
          '169.254.170.23',
          '169.254.0.0/16',
          '169.254.170.23/33',
          '10.0.0.0/-1',
          '256.1.1.1',
          'fd00:ec2::23',
          '[fd00:ec2::23]',
          'fd00:ec2::/64',
          'fd00:zz::/64',
          '::/0',
          ':::',
          '1:2:3:4:5:6:7:8:9',
          'localhost:99999',
          '',
          ' ',
        ),
        hostileText,
      ),
      { maxLength: 6 },
    )
    .chain((parts) => fc.constantFrom(',', ', ', ' ', ';').map((sep) => parts.join(sep))),
);

const tokenPath = value(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(IRSA_TOKEN_PATH, POD_IDENTITY_TOKEN_PATH) },
    fc.constantFrom('/', '/var/run', 'token', '../../token', '/var/run/secrets/eks.amazonaws.com/serviceaccount/'),
    spliced(fc.constant(IRSA_TOKEN_PATH)),
  ),
);

/**
 * Secret values start with a marker no other value holds, so any output that shows even the start of one is
 * caught (docs/report.md: never AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or the authorization token).
 */
function secret(rest: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return rest.map((r) => `${SECRET_MARK}${r}`);
}

const env = fc.record(
  {
    AWS_ROLE_ARN: roleArn,
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenPath,
    AWS_ROLE_SESSION_NAME: value(fc.stringMatching(/^[\w+=,.@-]{0,70}$/)),
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_STS_REGIONAL_ENDPOINTS: value(fc.constantFrom('regional', 'legacy', 'REGIONAL', 'Legacy ', '', 'global')),
    AWS_ENDPOINT_URL_STS: url,
    AWS_ENDPOINT_URL: url,
    AWS_ENDPOINT_URL_IAM: url,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: url,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: value(fc.constantFrom('/v2/credentials/x', '', 'v2', '//evil')),
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenPath,
    AWS_CONTAINER_AUTHORIZATION_TOKEN: secret(value(fc.constantFrom('Bearer x', 'x'))),
    AWS_EC2_METADATA_DISABLED: value(fc.constantFrom('true', 'TRUE', 'false', '1', '')),
    AWS_EC2_METADATA_SERVICE_ENDPOINT: url,
    AWS_ACCESS_KEY_ID: value(fc.constantFrom('AKIAIOSFODNN7EXAMPLE', 'ASIA', 'A', '')),
    AWS_SECRET_ACCESS_KEY: secret(value(fc.constant('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'))),
    AWS_SESSION_TOKEN: secret(anyText),
    AWS_PROFILE: value(fc.constantFrom('default', 'dev', '')),
    AWS_SHARED_CREDENTIALS_FILE: tokenPath,
    AWS_CONFIG_FILE: tokenPath,
    AWS_CA_BUNDLE: tokenPath,
    HTTPS_PROXY: url,
    HTTP_PROXY: url,
    https_proxy: url,
    http_proxy: url,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    KUBERNETES_SERVICE_HOST: value(fc.constantFrom('10.100.0.1', 'fd00::1', '')),
    KUBERNETES_SERVICE_PORT: value(fc.constantFrom('443', '0', '99999')),
    POD_NAME: anyText,
    POD_NAMESPACE: anyText,
    HOSTNAME: anyText,
    HOME: tokenPath,
  },
  { requiredKeys: [] },
);

let files: FileView;
beforeAll(async () => {
  files = byteFileView({
    [IRSA_TOKEN_PATH]: await mintToken({ aud: ['sts.amazonaws.com'] }),
    [POD_IDENTITY_TOKEN_PATH]: await mintToken({ aud: ['pods.eks.amazonaws.com'] }),
    '/var/run/secrets/kubernetes.io/serviceaccount/namespace': 'shop',
  });
});

describe('fuzz: env values', () => {
  it(
    `any environment ends in a sound report (${RUNS} cases)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(env, fc.boolean(), async (vars, answering) => {
          const net = answering ? fakeNet(plausibleAws(), true) : fakeNet(refused);
          const rendered = await diagnose(contextOf(vars, files, net), CHECKS);
          expectNotShown(rendered, SECRET_MARK, 'a secret env value');
        }),
        { seed: 0x6_0002, numRuns: RUNS },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});

// Whatever the input, every fix command printed is valid shell.
afterAll(() => {
  expect(expectCommandsParse()).toBeGreaterThan(0);
});
