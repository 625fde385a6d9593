import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { KObject, ObjectMeta } from '../../src/sim/cluster';
import { ApiError, SimCluster } from '../../src/sim/cluster';
import type { ClusterApiServer } from '../../src/sim/cluster-api';
import {
  applyPatch,
  isAllowed,
  matchesFieldSelector,
  matchesLabelSelector,
  startClusterApi,
} from '../../src/sim/cluster-api';

/** The simulated cluster's own semantics, against upstream behaviour, and read by client-node's own clients. */

const meta = (name: string, extra: Partial<ObjectMeta> = {}) => ({ name, ...extra }) as ObjectMeta;

function cluster(): SimCluster {
  const c = new SimCluster();
  c.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: meta('shop') });
  c.create('serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('default') }, 'shop');
  return c;
}

const job = (name: string): KObject => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: meta(name),
  spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'i' }] } } },
});

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('SimCluster', () => {
  it('defaults a Job as the API server does: selector, template labels, and its pod created by the Job controller', async () => {
    const c = cluster();
    const created = c.create('jobs', job('j'), 'shop');
    expect(created.spec.selector).toEqual({
      matchLabels: { 'batch.kubernetes.io/controller-uid': created.metadata.uid },
    });
    expect(created.spec.template.metadata.labels['job-name']).toBe('j');
    await tick();
    const [pod] = c.list('pods', 'shop');
    expect(pod?.metadata.name).toMatch(/^j-[a-z0-9]{5}$/);
    expect(pod?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Job', name: 'j', controller: true });
    c.close();
  });

  it('deleting a Job: Orphan by default (batch/v1), Background removes its pod, Foreground keeps the Job until the pod is gone', async () => {
    for (const [policy, podsLeft] of [
      [undefined, 1],
      ['Background', 0],
      ['Foreground', 0],
    ] as const) {
      const c = cluster();
      c.create('jobs', job('j'), 'shop');
      await tick();
      c.delete('jobs', 'shop', 'j', policy ? { propagationPolicy: policy } : {});
      expect(c.list('pods', 'shop')).toHaveLength(podsLeft);
      expect(c.get('jobs', 'shop', 'j')).toBeUndefined();
      c.close();
    }
  });

  it('refuses a changed or removed ephemeral container (they cannot be removed)', () => {
    const c = cluster();
    c.create(
      'pods',
      { apiVersion: 'v1', kind: 'Pod', metadata: meta('p'), spec: { containers: [{ name: 'app', image: 'a' }] } },
      'shop',
    );
    c.setEphemeralContainers('shop', 'p', [{ name: 'dbg', image: 'd', targetContainerName: 'app' }]);
    expect(() => c.setEphemeralContainers('shop', 'p', [])).toThrow(/may not be removed/);
    expect(() => c.setEphemeralContainers('shop', 'p', [{ name: 'dbg', image: 'other' }])).toThrow(
      /may not be changed/,
    );
    expect(() =>
      c.setEphemeralContainers('shop', 'p', [
        { name: 'dbg', image: 'd', targetContainerName: 'app' },
        { name: 'app', image: 'x' },
      ]),
    ).toThrow(/Duplicate value/);
    expect(() =>
      c.setEphemeralContainers('shop', 'p', [
        { name: 'dbg', image: 'd', targetContainerName: 'app' },
        { name: 'x', image: 'x', resources: { limits: { cpu: '1' } } },
      ]),
    ).toThrow(ApiError);
    c.close();
  });

  it('names generated objects with 5 characters of the upstream alphabet', () => {
    const c = cluster();
    const pod = c.create(
      'pods',
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: meta('', { generateName: 'web-' }),
        spec: { containers: [{ name: 'a', image: 'a' }] },
      },
      'shop',
    );
    expect(pod.metadata.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    c.close();
  });
});

describe('selectors, patches and RBAC of the API server', () => {
  it('label and field selectors in their equality, inequality, set and existence forms', () => {
    const labels = { app: 'web', tier: 'front' };
    expect(matchesLabelSelector(labels, 'app=web,tier!=back')).toBe(true);
    expect(matchesLabelSelector(labels, 'app in (web,api),!canary')).toBe(true);
    expect(matchesLabelSelector(labels, 'app notin (web)')).toBe(false);
    expect(matchesLabelSelector(labels, 'missing')).toBe(false);
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: meta('e'),
      involvedObject: { kind: 'Job', name: 'j' },
    } as KObject;
    expect(matchesFieldSelector(event, 'involvedObject.kind=Job,involvedObject.name==j')).toBe(true);
    expect(matchesFieldSelector(event, 'involvedObject.kind!=Job')).toBe(false);
  });

  it('a strategic merge patch merges ephemeralContainers by name, as kubectl debug sends it', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: meta('p'),
      spec: { ephemeralContainers: [{ name: 'a', image: '1' }] },
    } as KObject;
    const patched = applyPatch(
      pod,
      { spec: { $setElementOrder: [], ephemeralContainers: [{ name: 'b', image: '2' }] } },
      'application/strategic-merge-patch+json',
    );
    expect(patched.spec.ephemeralContainers.map((c: { name: string }) => c.name)).toEqual(['a', 'b']);
    const merged = applyPatch(
      pod,
      { spec: { ephemeralContainers: [{ name: 'b', image: '2' }] } },
      'application/merge-patch+json',
    );
    expect(merged.spec.ephemeralContainers.map((c: { name: string }) => c.name)).toEqual(['b']);
  });

  it('RBAC: subresources are their own resources; resourceNames limit to a name; Groups and ServiceAccounts bind', () => {
    const c = cluster();
    c.create(
      'roles',
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: meta('r'),
        rules: [
          { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
          { apiGroups: [''], resources: ['configmaps'], resourceNames: ['one'], verbs: ['get'] },
        ],
      },
      'shop',
    );
    c.create(
      'rolebindings',
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: meta('rb'),
        roleRef: { kind: 'Role', name: 'r' },
        subjects: [
          { kind: 'Group', name: 'devs' },
          { kind: 'ServiceAccount', name: 'ci', namespace: 'shop' },
        ],
      },
      'shop',
    );
    const dev = { name: 'bob', groups: ['devs'] };
    expect(isAllowed(c, dev, { verb: 'get', group: '', resource: 'pods', subresource: 'log', namespace: 'shop' })).toBe(
      true,
    );
    expect(isAllowed(c, dev, { verb: 'get', group: '', resource: 'pods', namespace: 'shop' })).toBe(false);
    expect(
      isAllowed(c, dev, { verb: 'get', group: '', resource: 'pods', subresource: 'log', namespace: 'default' }),
    ).toBe(false);
    expect(isAllowed(c, dev, { verb: 'get', group: '', resource: 'configmaps', name: 'one', namespace: 'shop' })).toBe(
      true,
    );
    expect(isAllowed(c, dev, { verb: 'get', group: '', resource: 'configmaps', name: 'two', namespace: 'shop' })).toBe(
      false,
    );
    expect(
      isAllowed(
        c,
        { name: 'system:serviceaccount:shop:ci' },
        { verb: 'get', group: '', resource: 'pods', subresource: 'log', namespace: 'shop' },
      ),
    ).toBe(true);
    expect(
      isAllowed(
        c,
        { name: 'root', groups: ['system:masters'] },
        { verb: 'delete', group: 'batch', resource: 'jobs', namespace: 'x' },
      ),
    ).toBe(true);
    c.close();
  });
});

describe("client-node's own Watch and Log against the simulated API server (under Node, where they keep the CA)", () => {
  let api: ClusterApiServer | undefined;
  afterEach(async () => {
    await api?.close();
    api?.cluster.close();
  });

  it('watch: initial ADDED, then MODIFIED and DELETED; log: bytes as the LogProvider gives them', async () => {
    const c = cluster();
    api = await startClusterApi(c, { users: { t: { name: 'admin', groups: ['system:masters'] } } });
    api.setLogProvider({
      async *open() {
        yield Buffer.from('line 1\n');
        yield Buffer.from('line 2\n');
      },
    });
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    kc.loadFromString(api.kubeconfig('t'));
    c.create(
      'pods',
      { apiVersion: 'v1', kind: 'Pod', metadata: meta('p'), spec: { containers: [{ name: 'app', image: 'a' }] } },
      'shop',
    );
    const events: string[] = [];
    const done = new Promise<void>((resolve) => {
      void new k8s.Watch(kc).watch(
        '/api/v1/namespaces/shop/pods',
        { fieldSelector: 'metadata.name=p', timeoutSeconds: 1 },
        (type, object: { metadata: { name: string } }) => {
          events.push(`${type} ${object.metadata.name}`);
          if (events.length === 1) {
            c.update('pods', 'shop', 'p', (p) => {
              p.metadata.labels = { changed: 'yes' };
            });
            c.delete('pods', 'shop', 'p');
          }
        },
        () => resolve(),
      );
    });
    await done;
    expect(events).toEqual(['ADDED p', 'MODIFIED p', 'DELETED p']);
    c.create(
      'pods',
      { apiVersion: 'v1', kind: 'Pod', metadata: meta('q'), spec: { containers: [{ name: 'app', image: 'a' }] } },
      'shop',
    );
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString()));
    await new k8s.Log(kc).log('shop', 'q', 'app', out, { follow: true });
    await new Promise((r) => out.on('end', r));
    expect(text).toBe('line 1\nline 2\n');
  });
});
