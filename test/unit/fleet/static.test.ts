import { describe, expect, it } from 'vitest';
import type { Checked, TargetFacts, WorkloadFacts } from '../../../src/fleet/discover';
import { ownerOf } from '../../../src/fleet/discover';
import { staticFindings, staticVerdict } from '../../../src/fleet/static';

/*
 * The static findings, decided from the webhook's semantics (aws/amazon-eks-pod-identity-webhook at
 * 3bf80a348116483b2162190e43232e4d243f76c4: pkg/cache/cache.go addSA composes a value without "arn:" into
 * arn:PARTITION:iam::ACCOUNT:role/VALUE when --compose-role-arn is on, and only logs "arn is invalid" for a value
 * that fails ^arn:aws[a-z0-9-]*:iam::\d{12}:role\/[\w-\/.@+=,]+$; pkg/handler/handler.go mutates at pod CREATE
 * only, Pod Identity first), not from what the code returns today.
 */

const ARN = 'arn:aws:iam::111122223333:role/shop-checkout';
const present: Checked<boolean> = { state: 'checked', value: true };

function workload(over: Partial<WorkloadFacts> = {}): WorkloadFacts {
  return {
    owner: { kind: 'Deployment', name: 'checkout' },
    pod: 'checkout-7d9f8b6c5-x2k4q',
    podCreated: '2026-01-01T00:00:00Z',
    pods: 2,
    mutation: { mechanism: 'irsa', skipLabel: false, notInjected: [] },
    roleArns: [ARN],
    staticKeys: [],
    ...over,
  };
}

function target(over: Partial<TargetFacts> = {}): TargetFacts {
  return {
    namespace: 'shop',
    name: 'checkout',
    sources: ['annotation'],
    exists: true,
    roleArnAnnotation: ARN,
    annotatedAt: undefined,
    workloads: [workload()],
    associations: [],
    ...over,
  };
}

const codes = (t: TargetFacts, webhook: Checked<boolean> = present, associationsConsulted = false) =>
  staticFindings(t, { webhook, associationsConsulted }).map((f) => f.code);

describe('fleet --static', () => {
  it('a ServiceAccount whose pods have its role: nothing found, and that is "not verified", never healthy', () => {
    const findings = staticFindings(target(), { webhook: present, associationsConsulted: false });
    expect(findings).toEqual([]);
    expect(staticVerdict(findings)).toBe('not-verified');
  });

  it('role names and path/names that the webhook composed are valid; the same left verbatim are not', () => {
    const composed = (name: string) =>
      target({
        roleArnAnnotation: name,
        workloads: [workload({ roleArns: [`arn:aws:iam::111122223333:role/${name}`] })],
      });
    expect(codes(composed('shop-checkout'))).toEqual([]);
    expect(codes(composed('team/shop-checkout'))).toEqual([]);
    // No pod yet: a role name is what a composing webhook accepts; nothing to say.
    expect(codes(target({ roleArnAnnotation: 'shop-checkout', workloads: [] }))).toEqual([]);
    // The pods got it verbatim: this webhook does not compose, STS gets "shop-checkout".
    expect(
      codes(target({ roleArnAnnotation: 'shop-checkout', workloads: [workload({ roleArns: ['shop-checkout'] })] })),
    ).toEqual(['ROLE_ARN_INVALID']);
  });

  it('an annotation that fails the webhook pattern is ROLE_ARN_INVALID (it is injected anyway)', () => {
    for (const bad of [
      'arn:aws:iam::1111222233:role/x',
      'arn:aws:iam::111122223333:user/x',
      'arn:aws:iam::111122223333:role/',
      '',
      'role name with spaces',
    ]) {
      expect(codes(target({ roleArnAnnotation: bad, workloads: [] })), bad).toEqual(['ROLE_ARN_INVALID']);
    }
    for (const good of [
      'arn:aws-cn:iam::111122223333:role/x',
      'arn:aws-us-gov:iam::111122223333:role/team/a.b@c+d=e,f',
    ]) {
      expect(codes(target({ roleArnAnnotation: good, workloads: [] })), good).toEqual([]);
    }
  });

  it('a pod without the role its ServiceAccount names needs a restart, one rollout per owner, quoted', () => {
    const findings = staticFindings(
      target({
        annotatedAt: '2026-02-01T00:00:00Z',
        workloads: [
          workload({ roleArns: [], mutation: { mechanism: 'none', skipLabel: false, notInjected: [] } }),
          workload({
            owner: { kind: 'StatefulSet', name: 'db' },
            pod: 'db-0',
            roleArns: ['arn:aws:iam::111122223333:role/old'],
          }),
        ],
      }),
      { webhook: present, associationsConsulted: false },
    );
    expect(findings.map((f) => f.code)).toEqual(['SA_ROLE_CHANGED_RESTART_NEEDED', 'SA_ROLE_CHANGED_RESTART_NEEDED']);
    expect(findings[0]?.summary).toContain(
      'created before the annotation (annotation written 2026-02-01T00:00:00Z, pod created 2026-01-01T00:00:00Z)',
    );
    expect(findings[0]?.remedy.commands).toEqual(['kubectl rollout restart deployment/checkout -n shop']);
    expect(findings[1]?.summary).toContain('has AWS_ROLE_ARN=arn:aws:iam::111122223333:role/old');
    expect(findings[1]?.remedy.commands).toEqual(['kubectl rollout restart statefulset/db -n shop']);
  });

  it('the webhook missing explains unmutated pods (no restart advice); the skip label is its own finding', () => {
    const bare = workload({ roleArns: [], mutation: { mechanism: 'none', skipLabel: false, notInjected: [] } });
    expect(codes(target({ workloads: [bare] }), { state: 'checked', value: false })).toEqual(['WEBHOOK_MISSING']);
    expect(codes(target({ workloads: [{ ...bare, mutation: { ...bare.mutation, skipLabel: true } }] }))).toEqual([
      'WEBHOOK_SKIP_LABEL',
    ]);
    // Not permitted to read the configuration: nothing claimed about it.
    expect(codes(target({ workloads: [bare] }), { state: 'not-checked', reason: 'forbidden' })).toEqual([
      'SA_ROLE_CHANGED_RESTART_NEEDED',
    ]);
  });

  it('IRSA and Pod Identity both: a warning, and the IRSA role is not expected in the pods (Pod Identity wins)', () => {
    const pi = workload({ roleArns: [], mutation: { mechanism: 'pod-identity', skipLabel: false, notInjected: [] } });
    expect(codes(target({ workloads: [pi] }))).toEqual(['BOTH_MECHANISMS_CONFIGURED']);
    expect(codes(target({ workloads: [], associations: [{ id: 'a-1', roleArn: undefined }] }))).toEqual([
      'BOTH_MECHANISMS_CONFIGURED',
    ]);
    expect(
      staticVerdict(staticFindings(target({ workloads: [pi] }), { webhook: present, associationsConsulted: false })),
    ).toBe('degraded');
  });

  it('Pod Identity pods without an association, only when the EKS API was consulted', () => {
    const pi = target({
      roleArnAnnotation: undefined,
      sources: ['pod-env'],
      workloads: [
        workload({ roleArns: [], mutation: { mechanism: 'pod-identity', skipLabel: false, notInjected: [] } }),
      ],
    });
    expect(codes(pi, present, false)).toEqual([]);
    expect(codes(pi, present, true)).toEqual(['POD_IDENTITY_NO_ASSOCIATION']);
  });

  it('skipped containers and hand-set keys', () => {
    const w = workload({
      mutation: {
        mechanism: 'irsa',
        skipLabel: false,
        notInjected: [{ name: 'sidecar', why: 'listed in the pod annotation', skip: 'skip-containers' }],
      },
      staticKeys: ['app'],
    });
    expect(codes(target({ workloads: [w] }))).toEqual(['CONTAINER_NOT_INJECTED', 'STATIC_CREDENTIALS_OVERRIDE']);
  });

  it("a ReplicaSet's pod belongs to the Deployment its name and pod-template-hash give; other owners stay", () => {
    const pod = (kind: string, name: string, hash?: string) => ({
      metadata: {
        ownerReferences: [{ apiVersion: 'apps/v1', kind, name, uid: 'u', controller: true }],
        labels: hash ? { 'pod-template-hash': hash } : {},
      },
    });
    expect(ownerOf(pod('ReplicaSet', 'checkout-7d9f8b6c5', '7d9f8b6c5') as never)).toEqual({
      kind: 'Deployment',
      name: 'checkout',
    });
    expect(ownerOf(pod('ReplicaSet', 'standalone', 'abc') as never)).toEqual({
      kind: 'ReplicaSet',
      name: 'standalone',
    });
    expect(ownerOf(pod('StatefulSet', 'db') as never)).toEqual({ kind: 'StatefulSet', name: 'db' });
    expect(ownerOf({ metadata: {} } as never)).toBeNull();
  });
});

describe('when the annotation was written', () => {
  it('is the latest managedFields entry that set eks.amazonaws.com/role-arn (kubectl get -o yaml --show-managed-fields)', async () => {
    const { annotationTime } = await import('../../../src/fleet/discover');
    // The shape the API server stores: one entry per manager and operation, fieldsV1 as nested f: keys.
    const entries = [
      {
        manager: 'kubectl-create',
        operation: 'Update',
        apiVersion: 'v1',
        time: new Date('2026-01-01T00:00:00Z'),
        fieldsType: 'FieldsV1',
        fieldsV1: {},
      },
      {
        manager: 'kubectl-annotate',
        operation: 'Update',
        apiVersion: 'v1',
        time: new Date('2026-02-01T10:00:00Z'),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:annotations': { '.': {}, 'f:eks.amazonaws.com/role-arn': {} } } },
      },
      {
        manager: 'helm',
        operation: 'Update',
        apiVersion: 'v1',
        time: new Date('2026-03-01T00:00:00Z'),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:labels': { 'f:team': {} } } },
      },
    ];
    expect(annotationTime(entries)).toBe('2026-02-01T10:00:00.000Z');
    expect(annotationTime(entries.filter((e) => e.manager !== 'kubectl-annotate'))).toBeUndefined();
    expect(annotationTime(undefined)).toBeUndefined();
  });
});
