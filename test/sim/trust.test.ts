import { describe, expect, it } from 'vitest';
import { evaluateTrust, glob } from '../../src/sim/trust';

const HOST = 'oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${HOST}`;
const request = (sub: string, aud = 'sts.amazonaws.com') => ({
  federatedPrincipal: PROVIDER,
  action: 'sts:AssumeRoleWithWebIdentity',
  context: { [`${HOST}:sub`]: sub, [`${HOST}:aud`]: aud },
});
const policy = (condition: unknown, extra: Record<string, unknown> = {}) => ({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Federated: PROVIDER },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: condition,
      ...extra,
    },
  ],
});

describe("the sim's own trust-policy evaluation", () => {
  it('StringEquals on :sub and :aud: both must match (keys ANDed)', () => {
    const p = policy({
      StringEquals: { [`${HOST}:sub`]: 'system:serviceaccount:shop:api', [`${HOST}:aud`]: 'sts.amazonaws.com' },
    });
    expect(evaluateTrust(p, request('system:serviceaccount:shop:api'))).toBe('allow');
    expect(evaluateTrust(p, request('system:serviceaccount:shop:web'))).toBe('implicit-deny');
    expect(evaluateTrust(p, request('system:serviceaccount:shop:api', 'other'))).toBe('implicit-deny');
  });

  it('several values of one key are ORed', () => {
    const p = policy({
      StringEquals: { [`${HOST}:sub`]: ['system:serviceaccount:shop:api', 'system:serviceaccount:shop:web'] },
    });
    expect(evaluateTrust(p, request('system:serviceaccount:shop:web'))).toBe('allow');
    expect(evaluateTrust(p, request('system:serviceaccount:shop:db'))).toBe('implicit-deny');
  });

  it('StringLike has * and ?; StringEquals takes them literally', () => {
    const like = policy({ StringLike: { [`${HOST}:sub`]: 'system:serviceaccount:shop:api-?' } });
    expect(evaluateTrust(like, request('system:serviceaccount:shop:api-1'))).toBe('allow');
    expect(evaluateTrust(like, request('system:serviceaccount:shop:api-12'))).toBe('implicit-deny');
    const star = policy({ StringLike: { [`${HOST}:sub`]: 'system:serviceaccount:shop:*' } });
    expect(evaluateTrust(star, request('system:serviceaccount:shop:anything'))).toBe('allow');
    expect(evaluateTrust(star, request('system:serviceaccount:shopping:api'))).toBe('implicit-deny');
    const literal = policy({ StringEquals: { [`${HOST}:sub`]: 'system:serviceaccount:shop:*' } });
    expect(evaluateTrust(literal, request('system:serviceaccount:shop:api'))).toBe('implicit-deny');
    expect(evaluateTrust(literal, request('system:serviceaccount:shop:*'))).toBe('allow');
  });

  it('condition-key names are case-insensitive, values are not', () => {
    const p = policy({ StringEquals: { [`${HOST.toUpperCase()}:SUB`]: 'system:serviceaccount:shop:api' } });
    expect(evaluateTrust(p, request('system:serviceaccount:shop:api'))).toBe('allow');
    expect(evaluateTrust(p, request('system:serviceaccount:shop:API'))).toBe('implicit-deny');
  });

  it('a key the request lacks fails, unless IfExists', () => {
    const missing = policy({ StringEquals: { [`${HOST}:amr`]: 'authenticated' } });
    expect(evaluateTrust(missing, request('system:serviceaccount:shop:api'))).toBe('implicit-deny');
    const ifExists = policy({ StringEqualsIfExists: { [`${HOST}:amr`]: 'authenticated' } });
    expect(evaluateTrust(ifExists, request('system:serviceaccount:shop:api'))).toBe('allow');
  });

  it("the Federated principal must be this issuer's provider in the role account (the host-order typo fails)", () => {
    const typo = policy(undefined, {
      Principal: {
        Federated:
          'arn:aws:iam::111122223333:oidc-provider/oidc.us-west-2.eks.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE',
      },
    });
    expect(evaluateTrust(typo, request('system:serviceaccount:shop:api'))).toBe('implicit-deny');
    expect(evaluateTrust(policy(undefined), request('system:serviceaccount:shop:api'))).toBe('allow');
  });

  it('the action must cover sts:AssumeRoleWithWebIdentity (sts:AssumeRole does not; sts:* does)', () => {
    const assumeRole = policy(undefined, { Action: 'sts:AssumeRole' });
    expect(evaluateTrust(assumeRole, request('x'))).toBe('implicit-deny');
    const wildcard = policy(undefined, { Action: ['sts:TagSession', 'sts:*'] });
    expect(evaluateTrust(wildcard, request('x'))).toBe('allow');
  });

  it('an explicit Deny wins over an Allow; statements are ORed', () => {
    const p = {
      Statement: [
        { Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: 'sts:AssumeRoleWithWebIdentity' },
        {
          Effect: 'Deny',
          Principal: { Federated: PROVIDER },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { StringLike: { [`${HOST}:sub`]: 'system:serviceaccount:kube-system:*' } },
        },
      ],
    };
    expect(evaluateTrust(p, request('system:serviceaccount:shop:api'))).toBe('allow');
    expect(evaluateTrust(p, request('system:serviceaccount:kube-system:coredns'))).toBe('explicit-deny');
  });

  it('unknown operators and malformed documents never grant', () => {
    expect(evaluateTrust(policy({ NumericEquals: { [`${HOST}:sub`]: '1' } }), request('1'))).toBe('implicit-deny');
    expect(evaluateTrust('not a policy', request('x'))).toBe('implicit-deny');
    expect(evaluateTrust({ Statement: 'x' }, request('x'))).toBe('implicit-deny');
  });

  it('glob escapes regex characters in the pattern', () => {
    expect(glob('a.b', 'axb', false)).toBe(false);
    expect(glob('a.b', 'a.b', false)).toBe(true);
    expect(glob('(x)+*', '(x)+yz', false)).toBe(true);
  });
});
