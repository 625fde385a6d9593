import { describe, expect, it } from 'vitest';
import type { CorrectedTrustInput, PodIdentityRequest, WebIdentityRequest } from '../../../src/aws/trust-policy';
import {
  amendedPodIdentityPolicy,
  amendedTrustPolicy,
  evaluatePodIdentityTrust,
  evaluateTrustPolicy,
  issuerHostOf,
  parseTrustPolicy,
  providerArnFor,
} from '../../../src/aws/trust-policy';
import { issuerHostPath } from '../../../src/checks/issuer-discovery';
import {
  ACCOUNT,
  CDK_IRSA,
  CDK_POD_IDENTITY,
  EKSCTL_IRSA,
  EKSCTL_IRSA_WILDCARD,
  EKSCTL_POD_IDENTITY,
  HAND_MERGED_TWO_CLUSTERS,
  HOST_A,
  HOST_B,
  ISSUER_A,
  ISSUER_B,
  POD_IDENTITY_SOURCE_ACCOUNT,
  PROVIDER_A,
  PROVIDER_B,
  SUBJECT,
  TERRAFORM_TWO_CLUSTERS,
} from '../../fixtures/upstream/trust-policies';

const requestFor = (iss: string): WebIdentityRequest => ({
  providerArn: providerArnFor(iss, { partition: 'aws', account: ACCOUNT }),
  issuerHost: issuerHostOf(iss),
  claims: { sub: SUBJECT, aud: ['sts.amazonaws.com'] },
});
const inputFor = (iss: string): CorrectedTrustInput => ({
  providerArn: providerArnFor(iss, { partition: 'aws', account: ACCOUNT }),
  issuerHost: issuerHostOf(iss),
  namespace: 'shop',
  serviceAccount: 'cart',
  audience: 'sts.amazonaws.com',
});
const pod: PodIdentityRequest = {
  namespace: 'shop',
  serviceAccount: 'cart',
  podName: 'cart-7d9f8b6c5d-x2x9q',
  podUid: '5b0f3a52-7f6e-4c1d-9a57-3f1f7c2b8e11',
};

describe('IRSA trust policies as terraform-aws-iam, eksctl and aws-cdk write them', () => {
  it.each([
    ['terraform-aws-iam, cluster A', TERRAFORM_TWO_CLUSTERS.policy, ISSUER_A],
    ['terraform-aws-iam, cluster B', TERRAFORM_TWO_CLUSTERS.policy, ISSUER_B],
    ['eksctl', EKSCTL_IRSA.policy, ISSUER_A],
    ['eksctl wildcard', EKSCTL_IRSA_WILDCARD.policy, ISSUER_A],
    ['aws-cdk', CDK_IRSA.policy, ISSUER_A],
  ])('%s: allows the ServiceAccount it was written for', (_name, policy, iss) => {
    expect(evaluateTrustPolicy(parseTrustPolicy(policy), requestFor(iss)).decision).toBe('allow');
  });

  it('a hand-merged statement for two clusters allows neither, and is not called a principal mismatch', () => {
    for (const [iss, other] of [
      [ISSUER_A, HOST_B],
      [ISSUER_B, HOST_A],
    ] as const) {
      const evaluation = evaluateTrustPolicy(parseTrustPolicy(HAND_MERGED_TWO_CLUSTERS), requestFor(iss));
      expect(evaluation.decision).toBe('deny');
      // The Principal names this cluster's provider; what fails are the other cluster's conditions.
      expect(evaluation.failure?.code).toBe('TRUST_POLICY_SUB_MISMATCH');
      expect(evaluation.failure?.key).toBe(`${other}:sub`);
      expect(evaluation.failure?.hint).toMatch(/one statement per provider/);
    }
  });

  it('the correction of the hand-merged statement is what terraform-aws-iam generates: one statement per provider', () => {
    const policy = parseTrustPolicy(HAND_MERGED_TWO_CLUSTERS);
    const request = requestFor(ISSUER_A);
    const amended = amendedTrustPolicy(policy, evaluateTrustPolicy(policy, request), request, inputFor(ISSUER_A));
    expect(amended.how).toBe('amended');
    const strip = (document: unknown) =>
      (document as { Statement: Record<string, unknown>[] }).Statement.map(({ Sid: _sid, ...rest }) => rest);
    expect(strip(amended.document)).toEqual(strip(TERRAFORM_TWO_CLUSTERS.policy));
    // Both clusters are allowed by the corrected document, not only this one.
    for (const iss of [ISSUER_A, ISSUER_B]) {
      expect(evaluateTrustPolicy(parseTrustPolicy(amended.document), requestFor(iss)).allowed).toBe(true);
    }
  });

  it("a policy whose Principal is this cluster's provider but whose keys name another issuer: a :sub mismatch, keys renamed", () => {
    // eksctl's document for cluster B with only the Principal changed to A (a role moved to a new cluster).
    const moved = JSON.parse(JSON.stringify(EKSCTL_IRSA.policy).replaceAll(HOST_A, HOST_B)) as {
      Statement: Record<string, unknown>[];
    };
    (moved.Statement[0] as Record<string, unknown>).Principal = { Federated: PROVIDER_A };
    const policy = parseTrustPolicy(moved);
    const request = requestFor(ISSUER_A);
    const evaluation = evaluateTrustPolicy(policy, request);
    expect(evaluation.failure?.code).toBe('TRUST_POLICY_SUB_MISMATCH');
    expect(evaluation.failure?.hint).toMatch(/Principal is already this cluster's provider/);
    const amended = amendedTrustPolicy(policy, evaluation, request, inputFor(ISSUER_A));
    expect(amended.how).toBe('amended');
    expect(amended.document.Statement).toEqual((EKSCTL_IRSA.policy as { Statement: unknown[] }).Statement);
  });

  it('a policy for another cluster only: the other statement is kept and this cluster gets its own', () => {
    const policy = parseTrustPolicy(EKSCTL_IRSA.policy);
    const request = requestFor(ISSUER_B);
    const evaluation = evaluateTrustPolicy(policy, request);
    expect(evaluation.failure?.code).toBe('TRUST_POLICY_PRINCIPAL_MISMATCH');
    const amended = amendedTrustPolicy(policy, evaluation, request, inputFor(ISSUER_B));
    expect(amended.how).toBe('amended');
    expect(amended.document.Statement).toHaveLength(2);
    expect(amended.document.Statement[0]).toEqual((EKSCTL_IRSA.policy as { Statement: unknown[] }).Statement[0]);
    for (const iss of [ISSUER_A, ISSUER_B]) {
      expect(evaluateTrustPolicy(parseTrustPolicy(amended.document), requestFor(iss)).allowed).toBe(true);
    }
  });

  it('derives the provider and the condition keys from iss the same way everywhere, whatever the scheme', () => {
    for (const iss of [ISSUER_A, `${ISSUER_A}/`, ISSUER_A.replace('https://', 'HTTPS://')]) {
      expect(issuerHostOf(iss)).toBe(HOST_A);
      expect(issuerHostPath(iss)).toBe(HOST_A);
    }
    expect(issuerHostOf('http://127.0.0.1:4000/id/X')).toBe('127.0.0.1:4000/id/X');
    expect(providerArnFor(`${ISSUER_A}/`, { partition: 'aws', account: ACCOUNT })).toBe(PROVIDER_A);
    expect(PROVIDER_B).toContain(HOST_B);
  });
});

describe('Pod Identity trust policies', () => {
  it.each([
    ['eksctl', EKSCTL_POD_IDENTITY.policy],
    ['aws-cdk (two statements: each action is evaluated on its own)', CDK_POD_IDENTITY.policy],
  ])('%s: lets EKS Auth assume the role', (_name, policy) => {
    expect(evaluatePodIdentityTrust(parseTrustPolicy(policy), pod).decision).toBe('allow');
  });

  it('sts:AssumeRole alone is not enough: EKS Auth tags the session', () => {
    const policy = parseTrustPolicy({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    });
    const evaluation = evaluatePodIdentityTrust(policy, pod);
    expect(evaluation.decision).toBe('deny');
    expect(evaluation.failure?.code).toBe('POD_IDENTITY_TRUST_POLICY_DENIED');
    expect(evaluation.failure?.reason).toMatch(/not sts:TagSession/);
    const amended = amendedPodIdentityPolicy(policy, evaluation, pod);
    expect(amended.how).toBe('amended');
    expect(amended.document.Statement[0]).toMatchObject({ Action: ['sts:AssumeRole', 'sts:TagSession'] });
  });

  it('judges the session-tag conditions with the namespace and ServiceAccount of this pod', () => {
    const scoped = (namespace: string) => ({
      Version: '2012-10-17',
      Statement: [
        {
          ...(EKSCTL_POD_IDENTITY.policy as { Statement: Record<string, unknown>[] }).Statement[0],
          Condition: {
            StringEquals: {
              'aws:RequestTag/kubernetes-namespace': namespace,
              'aws:RequestTag/kubernetes-service-account': 'cart',
            },
          },
        },
      ],
    });
    expect(evaluatePodIdentityTrust(parseTrustPolicy(scoped('shop')), pod).decision).toBe('allow');
    const other = parseTrustPolicy(scoped('default'));
    const evaluation = evaluatePodIdentityTrust(other, pod);
    expect(evaluation.decision).toBe('deny');
    expect(evaluation.failure?.key).toBe('aws:RequestTag/kubernetes-namespace');
    expect(evaluation.failure?.reason).toContain('"shop"');
    const amended = amendedPodIdentityPolicy(other, evaluation, pod);
    expect(amended.document.Statement[0]).toMatchObject({
      Condition: {
        StringEquals: {
          'aws:RequestTag/kubernetes-namespace': 'shop',
          'aws:RequestTag/kubernetes-service-account': 'cart',
        },
      },
    });
  });

  it('a condition on what only EKS Auth knows (aws:SourceAccount, the cluster name) is undecided, not a guess', () => {
    expect(evaluatePodIdentityTrust(parseTrustPolicy(POD_IDENTITY_SOURCE_ACCOUNT), pod)).toMatchObject({
      decision: 'indeterminate',
      unknownKeys: ['aws:SourceAccount'],
    });
    const byCluster = {
      Version: '2012-10-17',
      Statement: [
        {
          ...(EKSCTL_POD_IDENTITY.policy as { Statement: Record<string, unknown>[] }).Statement[0],
          Condition: { StringEquals: { 'aws:RequestTag/eks-cluster-name': 'prod' } },
        },
      ],
    };
    expect(evaluatePodIdentityTrust(parseTrustPolicy(byCluster), pod).decision).toBe('indeterminate');
    expect(evaluatePodIdentityTrust(parseTrustPolicy(byCluster), { ...pod, clusterName: 'prod' }).decision).toBe(
      'allow',
    );
  });

  it("an IRSA trust policy given for a Pod Identity pod: the principal is named, and eksctl's statement is added", () => {
    const policy = parseTrustPolicy(EKSCTL_IRSA.policy);
    const evaluation = evaluatePodIdentityTrust(policy, pod);
    expect(evaluation.decision).toBe('deny');
    expect(evaluation.failure?.operator).toBe('Principal');
    expect(evaluation.failure?.hint).toMatch(/IRSA trust/);
    const amended = amendedPodIdentityPolicy(policy, evaluation, pod);
    expect(amended.document.Statement).toEqual([
      ...(EKSCTL_IRSA.policy as { Statement: unknown[] }).Statement,
      ...(EKSCTL_POD_IDENTITY.policy as { Statement: unknown[] }).Statement,
    ]);
  });

  it('an explicit Deny of sts:TagSession wins', () => {
    const policy = parseTrustPolicy({
      Version: '2012-10-17',
      Statement: [
        ...(EKSCTL_POD_IDENTITY.policy as { Statement: unknown[] }).Statement,
        { Effect: 'Deny', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: 'sts:TagSession' },
      ],
    });
    expect(evaluatePodIdentityTrust(policy, pod).decision).toBe('explicit-deny');
  });
});
