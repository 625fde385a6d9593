import { describe, expect, it } from 'vitest';
import type { ContainerLike, PodLike } from '../../../src/kube/mutation';
import { analysePodMutation, controllerOf, locateOwnContainer, parseSkipContainers } from '../../../src/kube/mutation';

const ROLE = 'arn:aws:iam::111122223333:role/checkout-s3';
const TOKEN = '/var/run/secrets/eks.amazonaws.com/serviceaccount/token';
const IRSA_MOUNT = {
  name: 'aws-iam-token',
  mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount',
  readOnly: true,
};
const IRSA_VOLUME = {
  name: 'aws-iam-token',
  projected: {
    defaultMode: 420,
    sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' } }],
  },
};

/** A container as the EKS webhook leaves it: its own env, then the injected variables in order, then the mount. */
function mutated(name: string, own: ContainerLike['env'] = [], extra: Partial<ContainerLike> = {}): ContainerLike {
  return {
    name,
    env: [
      ...own,
      { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
      { name: 'AWS_DEFAULT_REGION', value: 'eu-west-1' },
      { name: 'AWS_REGION', value: 'eu-west-1' },
      { name: 'AWS_ROLE_ARN', value: ROLE },
      { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN },
    ],
    volumeMounts: [IRSA_MOUNT],
    ...extra,
  };
}

function pod(spec: Partial<NonNullable<PodLike['spec']>>, annotations?: Record<string, string>): PodLike {
  return {
    metadata: { name: 'checkout-abc', namespace: 'shop', ...(annotations ? { annotations } : {}) },
    spec: { serviceAccountName: 'checkout', containers: [], volumes: [IRSA_VOLUME], ...spec },
  };
}

describe('analysePodMutation', () => {
  it('reads a fully mutated IRSA pod: every container injected, the projected token volume described', () => {
    const result = analysePodMutation(pod({ containers: [mutated('app'), mutated('worker')] }));
    expect(result.mechanism).toBe('irsa');
    expect(result.notInjected).toEqual([]);
    expect(result.containers.map((c) => [c.name, c.injected, c.roleArn])).toEqual([
      ['app', true, ROLE],
      ['worker', true, ROLE],
    ]);
    expect(result.tokenVolumes).toEqual([
      {
        name: 'aws-iam-token',
        mechanism: 'irsa',
        audience: 'sts.amazonaws.com',
        expirationSeconds: 86400,
        path: 'token',
        projectedToken: true,
        source: 'projected',
      },
    ]);
  });

  it('names a native sidecar listed in skip-containers as not injected, with that reason', () => {
    const sidecar: ContainerLike = { name: 'log-shipper', restartPolicy: 'Always' };
    const result = analysePodMutation(
      pod(
        { initContainers: [sidecar], containers: [mutated('app')] },
        {
          'eks.amazonaws.com/skip-containers': 'log-shipper',
        },
      ),
    );
    expect(result.notInjected).toHaveLength(1);
    expect(result.notInjected[0]).toMatchObject({
      name: 'log-shipper',
      kind: 'sidecar',
      skipReason: 'skip-containers',
    });
    expect(result.skipContainers).toEqual(['log-shipper']);
  });

  it('counts a mutated native sidecar (restartPolicy Always) as injected like any container', () => {
    const result = analysePodMutation(
      pod({ initContainers: [mutated('proxy', [], { restartPolicy: 'Always' })], containers: [mutated('app')] }),
    );
    expect(result.containers[0]).toMatchObject({ name: 'proxy', kind: 'sidecar', injected: true });
    expect(result.notInjected).toEqual([]);
  });

  it('explains the pair rule: one hand-set AWS_ROLE_ARN means the webhook added neither variable (rawPodHasAll)', () => {
    const handSet: ContainerLike = {
      name: 'legacy',
      env: [
        { name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/by-hand' },
        { name: 'AWS_REGION', value: 'eu-west-1' },
        { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
      ],
    };
    const result = analysePodMutation(pod({ containers: [mutated('app'), handSet] }));
    const legacy = result.notInjected.find((c) => c.name === 'legacy');
    expect(legacy?.skipReason).toBe('pair-rule');
    expect(legacy?.why).toContain('sets AWS_ROLE_ARN by hand');
    expect(legacy?.why).toContain('AWS_WEB_IDENTITY_TOKEN_FILE');
  });

  it('flags a container with the whole pair set by hand but no token mount', () => {
    const result = analysePodMutation(
      pod({ containers: [mutated('app'), { ...mutated('job-runner'), volumeMounts: [] }] }),
    );
    expect(result.notInjected.map((c) => [c.name, c.skipReason])).toEqual([['job-runner', 'no-mount']]);
  });

  it('lists an ephemeral container as never mutated, without counting it as a missed injection', () => {
    const result = analysePodMutation(
      pod({ containers: [mutated('app')], ephemeralContainers: [{ name: 'debugger-x1' }] }),
    );
    expect(result.containers.find((c) => c.name === 'debugger-x1')).toMatchObject({
      kind: 'ephemeral',
      injected: false,
      skipReason: 'ephemeral',
    });
    expect(result.notInjected).toEqual([]);
  });

  it('says mechanism none and reports no missed container when the webhook did not touch the pod', () => {
    const result = analysePodMutation(pod({ containers: [{ name: 'app' }], volumes: [] }));
    expect(result.mechanism).toBe('none');
    expect(result.notInjected).toEqual([]);
    expect(result.containers[0]?.skipReason).toBeUndefined();
  });

  it('reads a Pod Identity pod (its own volume, variables and pair rule)', () => {
    const pi: ContainerLike = {
      name: 'app',
      env: [
        { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' },
        {
          name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
          value: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
        },
      ],
      volumeMounts: [
        { name: 'eks-pod-identity-token', mountPath: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount' },
      ],
    };
    const half: ContainerLike = {
      name: 'exporter',
      env: [{ name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://example.internal/creds' }],
    };
    const result = analysePodMutation(
      pod({
        containers: [pi, half],
        volumes: [
          {
            name: 'eks-pod-identity-token',
            projected: {
              sources: [
                {
                  serviceAccountToken: {
                    audience: 'pods.eks.amazonaws.com',
                    expirationSeconds: 80000,
                    path: 'eks-pod-identity-token',
                  },
                },
              ],
            },
          },
        ],
      }),
    );
    expect(result.mechanism).toBe('pod-identity');
    expect(result.tokenVolumes[0]?.audience).toBe('pods.eks.amazonaws.com');
    expect(result.notInjected.map((c) => [c.name, c.skipReason])).toEqual([['exporter', 'pair-rule']]);
  });

  it('notes hostNetwork and the skip label', () => {
    const result = analysePodMutation({
      metadata: { labels: { 'eks.amazonaws.com/skip-pod-identity-webhook': 'true' } },
      spec: { hostNetwork: true, containers: [{ name: 'app' }] },
    });
    expect(result.hostNetwork).toBe(true);
    expect(result.skipLabel).toBe(true);
  });
});

describe('parseSkipContainers', () => {
  it('splits the CSV record as Go does: quotes around a whole field, no trimming', () => {
    // encoding/csv with TrimLeadingSpace false (amazon-eks-pod-identity-webhook pkg/handler/handler.go
    // getContainersToSkip): " istio-proxy" keeps its space, so the container istio-proxy is mutated.
    expect(parseSkipContainers('log-shipper, istio-proxy')).toEqual(['log-shipper', ' istio-proxy']);
    expect(parseSkipContainers('"a",b')).toEqual(['a', 'b']);
  });

  it('skips nothing when the record does not parse, like the webhook', () => {
    expect(parseSkipContainers('"broken,app')).toEqual([]);
    expect(parseSkipContainers(undefined)).toEqual([]);
  });
});

describe('locateOwnContainer', () => {
  const withDebugger = pod({
    containers: [mutated('app', [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }])],
    ephemeralContainers: [{ name: 'debugger-a' }, { name: 'debugger-b', targetContainerName: 'app' }],
  });

  it('places a process without the injected variables in the newest ephemeral container', () => {
    const located = locateOwnContainer(withDebugger, { POD_NAME: 'checkout-abc', HOSTNAME: 'checkout-abc' });
    expect(located.ephemeral?.name).toBe('debugger-b');
    expect(located.ephemeral?.targetContainerName).toBe('app');
  });

  it('places a process whose env matches the app container in the app container', () => {
    const located = locateOwnContainer(withDebugger, {
      AWS_ROLE_ARN: ROLE,
      AWS_WEB_IDENTITY_TOKEN_FILE: TOKEN,
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_STS_REGIONAL_ENDPOINTS: 'regional',
    });
    expect(located.ephemeral).toBeUndefined();
    expect(located.candidates).toContain('app');
  });

  it('never claims an ephemeral container when the pod has none', () => {
    expect(locateOwnContainer(pod({ containers: [mutated('app')] }), {}).ephemeral).toBeUndefined();
  });
});

describe('controllerOf', () => {
  it('prefers the controller reference', () => {
    expect(
      controllerOf({
        metadata: {
          ownerReferences: [
            { kind: 'ConfigMap', name: 'x' },
            { kind: 'ReplicaSet', name: 'checkout-7d9f', controller: true },
          ],
        },
      }),
    ).toEqual({ kind: 'ReplicaSet', name: 'checkout-7d9f', controller: true });
    expect(controllerOf({ metadata: {} })).toBeUndefined();
  });
});
