import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { targetOwnerFromMessage, accessDeniedMessage } from '../../../src/context/target';
import { LaunchFailure } from '../../../src/launch/failure';
import {
  appUserFromSpec,
  chooseContainer,
  ephemeralContainerSpec,
  ephemeralName,
} from '../../../src/launch/pod-launch';

const pod = (spec: V1Pod['spec'], annotations?: Record<string, string>): V1Pod => ({
  metadata: { name: 'web-1', namespace: 'shop', ...(annotations ? { annotations } : {}) },
  spec,
});

describe(chooseContainer, () => {
  it('takes -c, else the only container, else the default-container annotation (as kubectl does)', () => {
    expect(chooseContainer(pod({ containers: [{ name: 'app' }] }), undefined)).toBe('app');
    const two = { containers: [{ name: 'app' }, { name: 'envoy' }] };
    expect(chooseContainer(pod(two), 'envoy')).toBe('envoy');
    expect(chooseContainer(pod(two, { 'kubectl.kubernetes.io/default-container': 'envoy' }), undefined)).toBe('envoy');
    // A native sidecar is a container one may diagnose too.
    expect(
      chooseContainer(
        pod({ containers: [{ name: 'app' }], initContainers: [{ name: 'shipper', restartPolicy: 'Always' }] }),
        'shipper',
      ),
    ).toBe('shipper');
  });

  it('says which containers there are when it cannot choose, or the choice is not there', () => {
    const two = { containers: [{ name: 'app' }, { name: 'envoy' }] };
    expect(() => chooseContainer(pod(two), undefined)).toThrow(
      "pod shop/web-1 has 2 containers (app, envoy): choose the app's with -c NAME",
    );
    expect(() => chooseContainer(pod(two, { 'kubectl.kubernetes.io/default-container': 'gone' }), undefined)).toThrow(
      LaunchFailure,
    );
    expect(() => chooseContainer(pod(two), 'db')).toThrow(
      'container "db" is not in pod shop/web-1 (its containers: app, envoy)',
    );
    // A plain init container has ended by the time the pod runs.
    expect(() =>
      chooseContainer(pod({ containers: [{ name: 'app' }], initContainers: [{ name: 'migrate' }] }), 'migrate'),
    ).toThrow(LaunchFailure);
  });
});

describe(appUserFromSpec, () => {
  it("takes the container's securityContext over the pod's, field by field", () => {
    const spec = {
      securityContext: { runAsUser: 1000, runAsGroup: 2000 },
      containers: [{ name: 'app', securityContext: { runAsUser: 3000 } }],
    };
    expect(appUserFromSpec(pod(spec), 'app')).toEqual({
      uid: 3000,
      gid: 2000,
      source: "the container's securityContext and the pod's securityContext",
    });
    expect(appUserFromSpec(pod({ containers: [{ name: 'app' }] }), 'app')).toEqual({
      uid: undefined,
      gid: undefined,
      source: 'nowhere in the spec (the image decides)',
    });
  });
});

describe(ephemeralContainerSpec, () => {
  it('runs as the app, with no capability, no privilege escalation, a read-only root and seccomp RuntimeDefault', () => {
    const spec = ephemeralContainerSpec(
      'irsa-doctor-abcde',
      'app',
      'registry/irsa-doctor:1',
      { uid: 1000, gid: 2000 },
      ['--only', 'token.file'],
    );
    expect(spec).toMatchObject({
      name: 'irsa-doctor-abcde',
      targetContainerName: 'app',
      command: ['/irsa-doctor'],
      args: ['--target', 'auto', '--output', 'json', '--only', 'token.file'],
      stdin: false,
      tty: false,
    });
    expect(spec.securityContext).toEqual({
      runAsUser: 1000,
      runAsGroup: 2000,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    // Unknown uid/gid: the image's USER (65532) runs it, and the doctor reports the app's.
    expect(
      ephemeralContainerSpec('n', 'app', 'i', { uid: undefined, gid: undefined }, []).securityContext,
    ).not.toHaveProperty('runAsUser');
    // Ephemeral containers may not set resources or ports.
    expect(spec).not.toHaveProperty('resources');
    expect(spec).not.toHaveProperty('ports');
  });

  it('names it after the tool with a short suffix', () => {
    expect(ephemeralName()).toMatch(/^irsa-doctor-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });
});

describe(targetOwnerFromMessage, () => {
  it('reads back the uid and gid the doctor reports for --target PID and --target auto, and nothing else', () => {
    const self = { uid: 65532, gid: 65532, groups: [] };
    expect(
      targetOwnerFromMessage(accessDeniedMessage(7, '/proc/7', { uid: 1000, gid: 3000, groups: [] }, self, false)),
    ).toEqual({ uid: 1000, gid: 3000 });
    expect(
      targetOwnerFromMessage(
        accessDeniedMessage(
          1,
          '/proc/1',
          { uid: 0, gid: 0, groups: [] },
          self,
          true,
          '--target auto (process 1, of the other container)',
        ),
      ),
    ).toEqual({ uid: 0, gid: 0 });
    expect(targetOwnerFromMessage(accessDeniedMessage(7, '/proc/7', undefined, self, undefined))).toBeUndefined();
    expect(targetOwnerFromMessage('it runs as uid 5 gid 5,')).toBeUndefined();
  });
});
