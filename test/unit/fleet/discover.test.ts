import { randomBytes } from 'node:crypto';
import { loadAllYaml } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { notConsulted } from '../../../src/fleet/associations';
import { discover } from '../../../src/fleet/discover';
import { fleetClusterRoleYaml, fleetNamespaceBindingYaml, fleetRbacYaml } from '../../../src/fleet/rbac';
import { connectWithKubeconfig } from '../../../src/launch/api';
import type { KObject } from '../../../src/sim/cluster';
import { SimCluster } from '../../../src/sim/cluster';
import type { ClusterApiServer } from '../../../src/sim/cluster-api';
import { startClusterApi } from '../../../src/sim/cluster-api';
import { eksWebhookConfiguration } from '../../../src/sim/kube-api';

/*
 * Discovery against the simulated API server (over TLS, as client-node calls it), with pods written straight into
 * its store (no kubelet): which ServiceAccounts a fleet picks, and what it does when the user may not list.
 */

const ARN = 'arn:aws:iam::111122223333:role/a';
let api: ClusterApiServer | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, ...extra }) as KObject['metadata'];

async function cluster(rbac: 'cluster' | 'namespaces' | 'none', forbidden: readonly string[] = []) {
  const c = new SimCluster();
  const token = randomBytes(8).toString('hex');
  api = await startClusterApi(c, { users: { [token]: { name: 'alice' } } });
  for (const ns of ['a', 'b', 'secret'])
    c.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: meta(ns) });
  c.create('mutatingwebhookconfigurations', eksWebhookConfiguration() as unknown as KObject);
  const sa = (ns: string, name: string, annotations?: Record<string, string>, labels?: Record<string, string>) =>
    c.create(
      'serviceaccounts',
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(name, { annotations, labels }) },
      ns,
    );
  sa('a', 'default');
  sa('a', 'irsa', { 'eks.amazonaws.com/role-arn': ARN }, { team: 'x' });
  sa('a', 'plain', undefined, { team: 'x' });
  sa('b', 'pi');
  sa('b', 'gone');
  sa('b', 'pending');
  sa('secret', 'vault', { 'eks.amazonaws.com/role-arn': ARN });
  const pod = (ns: string, name: string, saName: string, env: { name: string; value: string }[], phase = 'Running') => {
    c.create(
      'pods',
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: meta(name),
        spec: { serviceAccountName: saName, containers: [{ name: 'app', image: 'x', env }] },
      },
      ns,
    );
    c.update('pods', ns, name, (p) => {
      p.status = { phase };
    });
  };
  const pi = [
    { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' },
    {
      name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
      value: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
    },
  ];
  pod('b', 'pi-1', 'pi', pi);
  pod('b', 'gone-1', 'gone', pi); // its ServiceAccount was deleted
  pod('a', 'plain-1', 'plain', [{ name: 'X', value: '1' }]); // no AWS env: not a target
  pod('b', 'pending-1', 'pending', pi, 'Pending'); // not running: not looked at
  c.delete('serviceaccounts', 'b', 'gone');
  const apply = (yaml: string) => {
    for (const item of loadAllYaml(yaml) as KObject[])
      c.create(`${item.kind.toLowerCase()}s`, item, item.metadata.namespace);
  };
  const user = { kind: 'User' as const, name: 'alice' };
  if (rbac === 'cluster') apply(fleetRbacYaml(user));
  if (rbac === 'namespaces') {
    apply(fleetClusterRoleYaml());
    for (const ns of ['a', 'b', 'secret'].filter((n) => !forbidden.includes(n)))
      apply(fleetNamespaceBindingYaml(ns, user));
    apply(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ns-list
rules:
  - apiGroups: ['']
    resources: ['namespaces']
    verbs: ['list']
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ns-list
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: ns-list
subjects:
  - kind: User
    apiGroup: rbac.authorization.k8s.io
    name: alice
`);
  }
  return connectWithKubeconfig(api.kubeconfig(token), new AbortController().signal);
}

const names = (d: Awaited<ReturnType<typeof discover>>) =>
  d.targets.map((t) => `${t.namespace}/${t.name} ${t.sources.join('+')}${t.exists ? '' : ' (missing)'}`);

describe('fleet discovery', () => {
  it('-A with cluster-wide list: annotated ServiceAccounts and those of running pods with IRSA/Pod Identity env', async () => {
    const client = await cluster('cluster');
    const d = await discover(client, {
      namespace: undefined,
      selector: undefined,
      signal: new AbortController().signal,
      associations: notConsulted('test'),
    });
    expect(d.listing).toBe('cluster');
    expect(names(d)).toEqual([
      'a/irsa annotation',
      'b/gone pod-env (missing)',
      'b/pi pod-env',
      'secret/vault annotation',
    ]);
    expect(d.webhook).toEqual({ state: 'checked', value: true });
    expect(d.associations).toEqual({ state: 'not-checked', reason: 'test' });
    expect(d.refused).toEqual([]);
  });

  it('a refused cluster-wide list falls back to namespace by namespace; a forbidden namespace is reported, not fatal', async () => {
    const client = await cluster('namespaces', ['secret']);
    const d = await discover(client, {
      namespace: undefined,
      selector: undefined,
      signal: new AbortController().signal,
      associations: notConsulted('test'),
    });
    expect(d.listing).toBe('namespaces');
    expect(names(d)).toEqual(['a/irsa annotation', 'b/gone pod-env (missing)', 'b/pi pod-env']);
    expect(d.refused.map((r) => r.namespace)).toEqual(['secret']);
    expect(d.refused[0]?.failure.kind).toBe('forbidden');
    expect(d.refused[0]?.failure.fix.join('\n')).toContain(
      'kind: RoleBinding\nmetadata:\n  name: irsa-doctor-fleet\n  namespace: secret',
    );
    // The ClusterRole grants no get of the webhook configuration by name to this user here: not checked, said why.
    expect(d.webhook.state).toBe('not-checked');
  });

  it('-l: only ServiceAccounts with the labels, also among those running pods name', async () => {
    const client = await cluster('cluster');
    const d = await discover(client, {
      namespace: undefined,
      selector: 'team=x',
      signal: new AbortController().signal,
      associations: notConsulted('test'),
    });
    expect(names(d)).toEqual(['a/irsa annotation']);
  });

  it('associations add the ServiceAccounts they name, in the namespaces in scope', async () => {
    const client = await cluster('cluster');
    const d = await discover(client, {
      namespace: 'a',
      selector: undefined,
      signal: new AbortController().signal,
      associations: async () => ({
        state: 'checked',
        value: [
          { namespace: 'a', serviceAccount: 'plain', associationId: 'a-1', roleArn: undefined },
          { namespace: 'b', serviceAccount: 'pi', associationId: 'a-2', roleArn: undefined },
        ],
      }),
    });
    expect(names(d)).toEqual(['a/irsa annotation', 'a/plain association']);
    expect(d.associations).toEqual({ state: 'checked', value: 2 });
  });

  it('without any RBAC: -A fails with the ClusterRole to apply; -n NS reports the namespace', async () => {
    const client = await cluster('none');
    const error = await discover(client, {
      namespace: undefined,
      selector: undefined,
      signal: new AbortController().signal,
      associations: notConsulted('t'),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'forbidden' });
    expect(String((error as Error).message)).toContain(
      'user alice may not list namespaces (list the namespaces of -A) in the cluster',
    );
    const one = await discover(client, {
      namespace: 'a',
      selector: undefined,
      signal: new AbortController().signal,
      associations: notConsulted('t'),
    });
    expect(one.refused.map((r) => r.namespace)).toEqual(['a']);
    expect(one.targets).toEqual([]);
  });
});
