import { readFileSync } from 'node:fs';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { recreateCommands } from '../../../src/checks/kube-remedies';
import {
  namespaceRbacCommands,
  namespaceRbacYaml,
  subjectFromForbidden,
  webhookReaderRbacYaml,
} from '../../../src/kube/rbac';

const FALLBACK = { namespace: 'shop', serviceAccount: 'checkout' };

describe('subjectFromForbidden', () => {
  it('takes the ServiceAccount the API server named', () => {
    const message =
      'pods "x" is forbidden: User "system:serviceaccount:payments:api" cannot get resource "pods" in API group "" in the namespace "payments"';
    expect(subjectFromForbidden(message, FALLBACK)).toEqual({
      kind: 'ServiceAccount',
      namespace: 'payments',
      name: 'api',
    });
  });

  it('takes a kubeconfig user as a User subject', () => {
    expect(subjectFromForbidden('pods is forbidden: User "alice@example.com" cannot list', FALLBACK)).toEqual({
      kind: 'User',
      name: 'alice@example.com',
    });
  });

  it("falls back to the pod's own ServiceAccount", () => {
    expect(subjectFromForbidden('Unauthorized', FALLBACK)).toEqual({
      kind: 'ServiceAccount',
      namespace: 'shop',
      name: 'checkout',
    });
  });
});

describe('RBAC remedy', () => {
  it('is valid Kubernetes YAML granting only get on pods, serviceaccounts and replicasets', () => {
    const objects = loadAllYaml(
      namespaceRbacYaml('shop', { kind: 'ServiceAccount', namespace: 'shop', name: 'checkout' }),
    ) as {
      kind: string;
      metadata: { namespace: string };
      rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
      subjects?: unknown[];
    }[];
    expect(objects.map((o) => o.kind)).toEqual(['Role', 'RoleBinding']);
    expect(objects[0]?.rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'serviceaccounts'], verbs: ['get'] },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get'] },
    ]);
    expect(objects[1]?.subjects).toEqual([{ kind: 'ServiceAccount', name: 'checkout', namespace: 'shop' }]);
    expect(namespaceRbacCommands('shop', { kind: 'ServiceAccount', namespace: 'shop', name: 'checkout' })[1]).toBe(
      'kubectl create rolebinding irsa-doctor -n shop --role=irsa-doctor --serviceaccount=shop:checkout',
    );
  });

  it('ships the same objects in examples/rbac.yaml', () => {
    const example = readFileSync(new URL('../../../examples/rbac.yaml', import.meta.url), 'utf8');
    const subject = { kind: 'ServiceAccount' as const, namespace: 'my-namespace', name: 'my-app' };
    expect(example).toContain(namespaceRbacYaml('my-namespace', subject));
    expect(example).toContain(webhookReaderRbacYaml(subject));
    expect(loadAllYaml(example).map((o) => (o as { kind: string }).kind)).toEqual([
      'Role',
      'RoleBinding',
      'ClusterRole',
      'ClusterRoleBinding',
    ]);
  });
});

describe('recreateCommands', () => {
  it('restarts the controller that owns the pod', () => {
    expect(recreateCommands({ kind: 'Deployment', name: 'checkout' }, 'shop', 'p')).toEqual([
      'kubectl rollout restart deployment/checkout -n shop',
    ]);
    expect(recreateCommands({ kind: 'StatefulSet', name: 'db' }, 'shop', 'p')[0]).toBe(
      'kubectl rollout restart statefulset/db -n shop',
    );
    expect(recreateCommands({ kind: 'Job', name: 'nightly' }, 'shop', 'p')[0]).toContain(
      'kubectl delete job nightly -n shop',
    );
    expect(recreateCommands(undefined, 'shop', 'p').join('\n')).toContain('kubectl delete pod p -n shop');
  });
});
