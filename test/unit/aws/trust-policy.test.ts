import { describe, expect, it } from 'vitest';
import type {
  TrustDecision,
  TrustFailureCode,
  TrustWarningKind,
  WebIdentityRequest,
} from '../../../src/aws/trust-policy';
import {
  TrustPolicyError,
  correctedTrustPolicy,
  evaluateTrustPolicy,
  issuerHostOf,
  parseTrustPolicy,
  parseTrustPolicyText,
  providerArnFor,
  renderTrustPolicyEksctl,
  renderTrustPolicyTerraform,
  updateAssumeRolePolicyCommand,
  wildcardMatch,
} from '../../../src/aws/trust-policy';

const ISS = 'https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const HOST = 'oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${HOST}`;
const SUB = 'system:serviceaccount:shop:cart';
const AUD = 'sts.amazonaws.com';

const request: WebIdentityRequest = { providerArn: PROVIDER, issuerHost: HOST, claims: { sub: SUB, aud: [AUD] } };

type Json = Record<string, unknown>;
const statement = (condition?: Json, extra: Json = {}): Json => ({
  Effect: 'Allow',
  Principal: { Federated: PROVIDER },
  Action: 'sts:AssumeRoleWithWebIdentity',
  ...(condition ? { Condition: condition } : {}),
  ...extra,
});
const policy = (...statements: Json[]): Json => ({ Version: '2012-10-17', Statement: statements });
const exact = (sub: unknown = SUB, aud: unknown = AUD, host = HOST) => ({
  StringEquals: { [`${host}:sub`]: sub, [`${host}:aud`]: aud },
});

interface Case {
  readonly name: string;
  readonly policy: unknown;
  readonly request?: Partial<WebIdentityRequest> & { claims?: WebIdentityRequest['claims'] };
  readonly decision: TrustDecision;
  readonly code?: TrustFailureCode;
  readonly statement?: number | null;
  readonly operator?: string;
  readonly key?: string;
  readonly hint?: RegExp;
  readonly warnings?: readonly TrustWarningKind[];
}

const SWAPPED_HOST = 'oidc.us-west-2.eks.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const OTHER_CLUSTER = 'oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF';

const CASES: readonly Case[] = [
  // Healthy shapes.
  { name: 'exact sub and aud', policy: policy(statement(exact())), decision: 'allow', warnings: [] },
  {
    name: 'statement as a single object',
    policy: { Version: '2012-10-17', Statement: statement(exact()) },
    decision: 'allow',
  },
  { name: 'no Version (2008 default)', policy: { Statement: [statement(exact())] }, decision: 'allow' },
  {
    name: 'sub only, no aud condition',
    policy: policy(statement({ StringEquals: { [`${HOST}:sub`]: SUB } })),
    decision: 'allow',
    warnings: [],
  },
  {
    name: 'StringLike namespace wildcard',
    policy: policy(statement({ StringLike: { [`${HOST}:sub`]: 'system:serviceaccount:shop:*' } })),
    decision: 'allow',
    warnings: ['sub-wildcard'],
  },
  {
    name: 'StringLike ? wildcard',
    policy: policy(statement({ StringLike: { [`${HOST}:sub`]: 'system:serviceaccount:shop:car?' } })),
    decision: 'allow',
    warnings: ['sub-wildcard'],
  },
  {
    name: 'values as an array are ORed',
    policy: policy(statement(exact(['system:serviceaccount:x:y', SUB]))),
    decision: 'allow',
  },
  {
    name: 'key names are case-insensitive',
    policy: policy(statement({ StringEquals: { [`${HOST.toUpperCase()}:SUB`]: SUB } })),
    decision: 'allow',
  },
  {
    name: 'StringEqualsIgnoreCase ignores value case',
    policy: policy(statement({ StringEqualsIgnoreCase: { [`${HOST}:sub`]: SUB.toUpperCase() } })),
    decision: 'allow',
  },
  {
    name: 'ForAnyValue:StringEquals on aud',
    policy: policy(
      statement({ StringEquals: { [`${HOST}:sub`]: SUB }, 'ForAnyValue:StringEquals': { [`${HOST}:aud`]: AUD } }),
    ),
    decision: 'allow',
  },
  {
    name: 'ForAllValues:StringEquals on aud',
    policy: policy(
      statement({
        StringEquals: { [`${HOST}:sub`]: SUB },
        'ForAllValues:StringEquals': { [`${HOST}:aud`]: [AUD, 'other'] },
      }),
    ),
    decision: 'allow',
  },
  {
    name: 'array of Federated principals',
    policy: policy(
      statement(exact(), { Principal: { Federated: ['arn:aws:iam::111122223333:oidc-provider/other', PROVIDER] } }),
    ),
    decision: 'allow',
  },
  {
    name: 'Action as an array',
    policy: policy(statement(exact(), { Action: ['sts:AssumeRole', 'sts:AssumeRoleWithWebIdentity'] })),
    decision: 'allow',
  },
  { name: 'action wildcard sts:*', policy: policy(statement(exact(), { Action: 'sts:*' })), decision: 'allow' },
  {
    name: 'action name case-insensitive',
    policy: policy(statement(exact(), { Action: 'STS:assumerolewithwebidentity' })),
    decision: 'allow',
  },
  {
    name: 'NotAction that excludes something else',
    policy: policy(statement(exact(), { Action: undefined, NotAction: 'sts:AssumeRole' })),
    decision: 'allow',
  },
  {
    name: 'multiple statements are ORed',
    policy: policy(statement(exact('system:serviceaccount:a:b')), statement(exact())),
    decision: 'allow',
  },
  {
    name: 'StringNotEquals on another SA',
    policy: policy(
      statement({ ...exact(), StringNotEquals: { [`${HOST}:sub`]: 'system:serviceaccount:kube-system:default' } }),
    ),
    decision: 'allow',
  },
  {
    name: 'IfExists on a key of another issuer',
    policy: policy(
      statement({ StringEquals: { [`${HOST}:sub`]: SUB }, StringEqualsIfExists: { 'accounts.google.com:aud': 'x' } }),
    ),
    decision: 'allow',
  },
  {
    name: 'Null false on sub (key present)',
    policy: policy(statement({ ...exact(), Null: { [`${HOST}:sub`]: 'false' } })),
    decision: 'allow',
  },
  {
    name: 'unrelated Deny (other SA)',
    policy: policy(statement(exact()), {
      Effect: 'Deny',
      Principal: '*',
      Action: '*',
      Condition: { StringEquals: { [`${HOST}:sub`]: 'system:serviceaccount:x:y' } },
    }),
    decision: 'allow',
  },
  {
    name: 'sts:RoleSessionName known',
    policy: policy(statement({ ...exact(), StringLike: { 'sts:RoleSessionName': 'cart-*' } })),
    request: { sessionName: 'cart-1' },
    decision: 'allow',
  },
  // Broad but allowed: flagged.
  {
    name: 'missing Condition allows every SA',
    policy: policy(statement()),
    decision: 'allow',
    warnings: ['no-sub-condition'],
  },
  {
    name: 'aud-only condition allows every SA',
    policy: policy(statement({ StringEquals: { [`${HOST}:aud`]: AUD } })),
    decision: 'allow',
    warnings: ['no-sub-condition'],
  },
  {
    name: 'Principal "*"',
    policy: policy(statement(exact(), { Principal: '*' })),
    decision: 'allow',
    warnings: ['principal-wildcard'],
  },
  // Sub traps.
  {
    name: 'wrong SA name',
    policy: policy(statement(exact('system:serviceaccount:shop:checkout'))),
    decision: 'deny',
    code: 'TRUST_POLICY_SUB_MISMATCH',
    statement: 0,
    operator: 'StringEquals',
    key: `${HOST}:sub`,
    hint: /ServiceAccount "checkout"/,
  },
  {
    name: 'renamed namespace',
    policy: policy(statement(exact('system:serviceaccount:shop-old:cart'))),
    decision: 'deny',
    code: 'TRUST_POLICY_SUB_MISMATCH',
    hint: /namespace "shop-old".*"shop"/,
  },
  {
    name: '* under StringEquals is literal',
    policy: policy(statement(exact('system:serviceaccount:shop:*'))),
    decision: 'deny',
    code: 'TRUST_POLICY_SUB_MISMATCH',
    hint: /use StringLike/,
  },
  {
    name: 'values are case-sensitive',
    policy: policy(statement(exact('system:serviceaccount:Shop:cart'))),
    decision: 'deny',
    code: 'TRUST_POLICY_SUB_MISMATCH',
    hint: /case/,
  },
  {
    name: 'StringLike wildcard on the wrong namespace',
    policy: policy(statement({ StringLike: { [`${HOST}:sub`]: 'system:serviceaccount:billing:*' } })),
    decision: 'deny',
    code: 'TRUST_POLICY_SUB_MISMATCH',
    operator: 'StringLike',
  },
  {
    name: 'audience value under the sub key',
    policy: policy(statement({ StringEquals: { [`${HOST}:sub`]: AUD } })),
    decision: 'deny',
    code: 'TRUST_POLICY_SUB_MISMATCH',
    hint: /belongs under the :aud key/,
  },
  {
    name: 'StringNotEquals excludes this SA',
    policy: policy(statement({ StringNotEquals: { [`${HOST}:sub`]: SUB } })),
    decision: 'deny',
    code: 'TRUST_POLICY_SUB_MISMATCH',
    operator: 'StringNotEquals',
  },
  {
    name: 'StringNotLike excludes this namespace',
    policy: policy(statement({ StringNotLike: { [`${HOST}:sub`]: 'system:serviceaccount:shop:*' } })),
    decision: 'deny',
    code: 'TRUST_POLICY_SUB_MISMATCH',
  },
  // Aud traps.
  {
    name: 'aud key used for the sub value',
    policy: policy(statement({ StringEquals: { [`${HOST}:aud`]: SUB } })),
    decision: 'deny',
    code: 'TRUST_POLICY_AUD_MISMATCH',
    key: `${HOST}:aud`,
    hint: /belongs under the key .*:sub/,
  },
  {
    name: 'aud typo sts.amazon.com',
    policy: policy(statement(exact(SUB, 'sts.amazon.com'))),
    decision: 'deny',
    code: 'TRUST_POLICY_AUD_MISMATCH',
  },
  {
    name: 'token audience for Pod Identity',
    policy: policy(statement(exact())),
    request: { claims: { sub: SUB, aud: ['pods.eks.amazonaws.com'] } },
    decision: 'deny',
    code: 'TRUST_POLICY_AUD_MISMATCH',
  },
  {
    name: 'ForAllValues fails when one audience is not listed',
    policy: policy(statement({ 'ForAllValues:StringEquals': { [`${HOST}:aud`]: AUD } })),
    request: { claims: { sub: SUB, aud: [AUD, 'vault'] } },
    decision: 'deny',
    code: 'TRUST_POLICY_AUD_MISMATCH',
  },
  {
    name: 'ForAnyValue passes with two audiences, one of them listed',
    policy: policy(
      statement({ StringEquals: { [`${HOST}:sub`]: SUB }, 'ForAnyValue:StringEquals': { [`${HOST}:aud`]: AUD } }),
    ),
    request: { claims: { sub: SUB, aud: ['vault', AUD] } },
    decision: 'allow',
    warnings: ['multiple-audiences'],
  },
  {
    name: 'plain StringEquals on a multi-audience token matches when one audience does',
    policy: policy(statement(exact())),
    request: { claims: { sub: SUB, aud: ['vault', AUD] } },
    decision: 'allow',
    warnings: ['multiple-audiences'],
  },
  // Principal traps.
  {
    name: 'oidc.REGION.eks host typo in the principal',
    policy: policy(
      statement(exact(), { Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/${SWAPPED_HOST}` } }),
    ),
    decision: 'deny',
    code: 'TRUST_POLICY_PRINCIPAL_MISMATCH',
    operator: 'Principal',
    hint: /oidc\.eks\.REGION, not oidc\.REGION\.eks/,
  },
  {
    // The Principal is this cluster's provider: the :sub condition fails, not the principal.
    name: 'oidc.REGION.eks host typo in the condition keys',
    policy: policy(statement(exact(SUB, AUD, SWAPPED_HOST))),
    decision: 'deny',
    code: 'TRUST_POLICY_SUB_MISMATCH',
    key: `${SWAPPED_HOST}:sub`,
    hint: /host typo/,
  },
  {
    name: 'provider from another account',
    policy: policy(statement(exact(), { Principal: { Federated: `arn:aws:iam::444455556666:oidc-provider/${HOST}` } })),
    decision: 'deny',
    code: 'TRUST_POLICY_PRINCIPAL_MISMATCH',
    hint: /account 444455556666.*role's own account/,
  },
  {
    name: "another cluster's issuer",
    policy: policy(
      statement(exact(SUB, AUD, OTHER_CLUSTER), {
        Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/${OTHER_CLUSTER}` },
      }),
    ),
    decision: 'deny',
    code: 'TRUST_POLICY_PRINCIPAL_MISMATCH',
    hint: /another cluster's issuer/,
  },
  {
    name: 'https:// inside the provider ARN',
    policy: policy(
      statement(exact(), { Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/https://${HOST}` } }),
    ),
    decision: 'deny',
    code: 'TRUST_POLICY_PRINCIPAL_MISMATCH',
    hint: /https:\/\//,
  },
  {
    name: 'AWS principal does not match a web identity',
    policy: policy(statement(exact(), { Principal: { AWS: 'arn:aws:iam::111122223333:root' } })),
    decision: 'deny',
    code: 'TRUST_POLICY_PRINCIPAL_MISMATCH',
    hint: /not Federated/,
  },
  {
    name: '{"AWS": "*"} does not match a web identity',
    policy: policy(statement(exact(), { Principal: { AWS: '*' } })),
    decision: 'deny',
    code: 'TRUST_POLICY_PRINCIPAL_MISMATCH',
  },
  {
    name: 'Federated "*" is not a wildcard',
    policy: policy(statement(exact(), { Principal: { Federated: '*' } })),
    decision: 'deny',
    code: 'TRUST_POLICY_PRINCIPAL_MISMATCH',
  },
  // Denied for other reasons.
  {
    name: 'explicit Deny wins',
    policy: policy(statement(exact()), {
      Sid: 'NoCart',
      Effect: 'Deny',
      Principal: { Federated: PROVIDER },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringLike: { [`${HOST}:sub`]: '*:cart' } },
    }),
    decision: 'explicit-deny',
    code: 'TRUST_POLICY_DENIED',
    statement: 1,
  },
  {
    name: 'wrong action sts:AssumeRole',
    policy: policy(statement(exact(), { Action: 'sts:AssumeRole' })),
    decision: 'deny',
    code: 'TRUST_POLICY_DENIED',
    operator: 'Action',
  },
  {
    name: 'NotAction that excludes the web identity action',
    policy: policy(statement(exact(), { Action: undefined, NotAction: 'sts:AssumeRoleWith*' })),
    decision: 'deny',
    code: 'TRUST_POLICY_DENIED',
  },
  {
    name: 'Pod Identity trust used for IRSA',
    policy: policy({
      Effect: 'Allow',
      Principal: { Service: 'pods.eks.amazonaws.com' },
      Action: ['sts:AssumeRole', 'sts:TagSession'],
    }),
    decision: 'deny',
    code: 'TRUST_POLICY_DENIED',
    hint: /Pod Identity/,
  },
  {
    name: 'only Deny statements',
    policy: policy({ Effect: 'Deny', Principal: '*', Action: 'sts:AssumeRole' }),
    decision: 'deny',
    code: 'TRUST_POLICY_DENIED',
  },
  {
    name: 'condition on an absent claim of this issuer',
    policy: policy(statement({ ...exact(), StringEquals: { [`${HOST}:sub`]: SUB, [`${HOST}:amr`]: 'x' } })),
    decision: 'deny',
    code: 'TRUST_POLICY_DENIED',
  },
  {
    name: 'Null true on sub (key present) fails',
    policy: policy(statement({ ...exact(), Null: { [`${HOST}:sub`]: 'true' } })),
    decision: 'deny',
    code: 'TRUST_POLICY_DENIED',
  },
  // Cannot be known offline.
  {
    name: 'aws:SourceIp is unknown offline',
    policy: policy(statement({ ...exact(), IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } })),
    decision: 'indeterminate',
  },
  {
    name: 'sts:RoleSessionName without a session name',
    policy: policy(statement({ ...exact(), StringLike: { 'sts:RoleSessionName': 'cart-*' } })),
    decision: 'indeterminate',
  },
];

describe('evaluateTrustPolicy: the table', () => {
  it('has at least 40 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  for (const c of CASES) {
    it(c.name, () => {
      const doc = parseTrustPolicy(JSON.parse(JSON.stringify(c.policy)));
      const result = evaluateTrustPolicy(doc, { ...request, ...c.request });
      expect(result.decision).toBe(c.decision);
      expect(result.allowed).toBe(c.decision === 'allow');
      if (c.code) expect(result.failure?.code).toBe(c.code);
      else expect(result.failure).toBeNull();
      if (c.statement !== undefined) expect(result.failure?.statement).toBe(c.statement);
      if (c.operator) expect(result.failure?.operator).toBe(c.operator);
      if (c.key) expect(result.failure?.key).toBe(c.key);
      if (c.hint) expect(result.failure?.hint ?? '').toMatch(c.hint);
      if (c.warnings) expect(result.warnings.map((w) => w.kind)).toEqual(c.warnings);
    });
  }
});

describe('evaluateTrustPolicy: details of a failure', () => {
  it('names the statement, Sid, operator, key, expected and actual values, in plain words', () => {
    const doc = parseTrustPolicy(
      policy(statement(exact('system:serviceaccount:default:cart')), {
        ...statement(exact('system:serviceaccount:shop:checkout')),
        Sid: 'ShopCheckout',
      }),
    );
    const result = evaluateTrustPolicy(doc, request);
    // Both statements fail once; the first one in order is reported.
    expect(result.failure).toMatchObject({
      code: 'TRUST_POLICY_SUB_MISMATCH',
      statement: 0,
      sid: null,
      operator: 'StringEquals',
      key: `${HOST}:sub`,
      expected: ['system:serviceaccount:default:cart'],
      actual: [SUB],
    });
    expect(result.failure?.reason).toBe(
      `statement 0: StringEquals requires ${HOST}:sub to be "system:serviceaccount:default:cart", but this token's sub is "${SUB}"`,
    );
  });

  it('reports the statement closest to allowing, not simply the first', () => {
    const doc = parseTrustPolicy(
      policy(
        statement(exact('system:serviceaccount:a:b', 'x'), {
          Principal: { Federated: 'arn:aws:iam::111122223333:oidc-provider/x' },
        }),
        { ...statement(exact(SUB, 'sts.amazon.com')), Sid: 'Close' },
      ),
    );
    const result = evaluateTrustPolicy(doc, request);
    expect(result.failure).toMatchObject({ code: 'TRUST_POLICY_AUD_MISMATCH', statement: 1, sid: 'Close' });
    expect(result.failures).toHaveLength(1);
  });

  it('lists the principal failure before the condition failures of the same statement', () => {
    const doc = parseTrustPolicy(
      policy(
        statement(exact('system:serviceaccount:x:y'), { Principal: { Federated: 'arn:aws:iam::1:oidc-provider/h' } }),
      ),
    );
    const result = evaluateTrustPolicy(doc, request);
    expect(result.failures.map((f) => f.code)).toEqual([
      'TRUST_POLICY_PRINCIPAL_MISMATCH',
      'TRUST_POLICY_SUB_MISMATCH',
    ]);
  });
});

describe('parseTrustPolicy', () => {
  it('accepts aws iam get-role output and the URL-encoded document', () => {
    const document = policy(statement(exact()));
    const getRole = JSON.stringify({ Role: { RoleName: 'cart', AssumeRolePolicyDocument: document } });
    expect(evaluateTrustPolicy(parseTrustPolicyText(getRole), request).allowed).toBe(true);
    const encoded = encodeURIComponent(JSON.stringify(document));
    expect(evaluateTrustPolicy(parseTrustPolicyText(encoded), request).allowed).toBe(true);
  });

  it.each([
    ['', /empty/],
    ['{', /not valid JSON/],
    ['[]', /JSON object/],
    ['{"Version":"2012-10-17"}', /no "Statement"/],
    ['{"Statement":[]}', /empty list/],
    ['{"Version":"2020-01-01","Statement":[]}', /Version/],
    ['{"Statement":[{"Effect":"allow","Principal":"*","Action":"*"}]}', /Effect must be "Allow" or "Deny"/],
    ['{"Statement":[{"Effect":"Allow","Principal":{"Federated":5},"Action":"*"}]}', /Principal.Federated/],
    ['{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":"x"}}]}', /Condition/],
    ['{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","NotAction":"x"}]}', /both Action and NotAction/],
  ])('rejects %j', (text, message) => {
    expect(() => parseTrustPolicyText(text)).toThrow(TrustPolicyError);
    expect(() => parseTrustPolicyText(text)).toThrow(message);
  });
});

describe('wildcardMatch', () => {
  it.each([
    ['*', '', true],
    ['a*c', 'abbbc', true],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['*:cart', 'system:serviceaccount:shop:cart', true],
    ['system:*:x', 'system:serviceaccount:shop:cart', false],
    ['a*b*c', 'aXbYbZc', true],
  ])('%s vs %s', (pattern, value, expected) => {
    expect(wildcardMatch(pattern, value, false)).toBe(expected);
  });
});

describe('the corrected trust policy', () => {
  const input = { providerArn: PROVIDER, issuerHost: HOST, namespace: 'shop', serviceAccount: 'cart', audience: AUD };

  it('derives the provider ARN and host from iss and the role', () => {
    expect(issuerHostOf(`${ISS}/`)).toBe(HOST);
    expect(providerArnFor(ISS, { partition: 'aws', account: '111122223333' })).toBe(PROVIDER);
  });

  it('allows exactly this ServiceAccount, with no warnings', () => {
    const corrected = correctedTrustPolicy(input);
    const result = evaluateTrustPolicy(parseTrustPolicy(corrected), request);
    expect(result).toMatchObject({ allowed: true, warnings: [] });
    const other = evaluateTrustPolicy(parseTrustPolicy(corrected), {
      ...request,
      claims: { sub: 'system:serviceaccount:shop:other', aud: [AUD] },
    });
    expect(other.failure?.code).toBe('TRUST_POLICY_SUB_MISMATCH');
  });

  it('renders as Terraform with Federated principals and both conditions', () => {
    const hcl = renderTrustPolicyTerraform(input);
    expect(hcl).toContain('data "aws_iam_policy_document" "irsa_trust" {');
    expect(hcl).toContain('      type        = "Federated"');
    expect(hcl).toContain(`      identifiers = ["${PROVIDER}"]`);
    expect(hcl).toContain(`      variable = "${HOST}:sub"`);
    expect(hcl).toContain('      values   = ["system:serviceaccount:shop:cart"]');
    expect(hcl).toContain(`      variable = "${HOST}:aud"`);
    expect(hcl.match(/test {5}= "StringEquals"/g)).toHaveLength(2);
  });

  it('renders as eksctl command and ClusterConfig snippet', () => {
    const { command, config } = renderTrustPolicyEksctl(input, 'cart-role');
    expect(command).toBe(
      'eksctl create iamserviceaccount --cluster <CLUSTER> --namespace shop --name cart --role-name cart-role --attach-policy-arn <POLICY_ARN> --approve',
    );
    expect(config).toContain(
      '  serviceAccounts:\n    - metadata:\n        name: cart\n        namespace: shop\n      roleName: cart-role',
    );
  });

  it('puts the document on one shell-quoted line in update-assume-role-policy', () => {
    const command = updateAssumeRolePolicyCommand('cart-role', correctedTrustPolicy(input));
    expect(command).not.toContain('\n');
    const match = /^aws iam update-assume-role-policy --role-name cart-role --policy-document '(.*)'$/.exec(command);
    expect(JSON.parse(match?.[1] ?? 'null')).toEqual(correctedTrustPolicy(input));
  });
});
