import { describe, expect, it } from 'vitest';
import { failureFixLines, fleetCommands } from '../../../src/fleet/render';
import { recreateCommands } from '../../../src/checks/kube-remedies';
import type { StaticFinding } from '../../../src/fleet/static';
import type { Report } from '../../../src/run/types';

describe("a Job report's fix commands, in a fleet", () => {
  const job = 'irsa-doctor-player-07f47';
  const row = {
    job,
    restart: recreateCommands({ kind: 'Deployment', name: 'player' }, 'media', 'player-7d9f8b6c5-x2k4q'),
    examplePod: 'player-7d9f8b6c5-x2k4q',
  };

  it("recreating the Job's pod becomes the restart of the ServiceAccount's workloads", () => {
    const own = recreateCommands({ kind: 'Job', name: job }, 'media', `${job}-pq5sl`);
    expect(fleetCommands(['kubectl annotate serviceaccount player -n media x=y', ...own], row)).toEqual([
      'kubectl annotate serviceaccount player -n media x=y',
      'kubectl rollout restart deployment/player -n media',
    ]);
  });

  it("a look at the Job's pod looks at a workload's pod; without one it is left out", () => {
    const look = `kubectl get pod ${job}-pq5sl -n media -o jsonpath={.spec.hostNetwork}`;
    expect(fleetCommands([look, 'kubectl get daemonset x'], row)).toEqual([
      'kubectl get pod player-7d9f8b6c5-x2k4q -n media -o jsonpath={.spec.hostNetwork}',
      'kubectl get daemonset x',
    ]);
    expect(fleetCommands([look], { ...row, examplePod: null, restart: [] })).toEqual([]);
    expect(fleetCommands([look], { ...row, job: null })).toEqual([look]);
  });

  it('an RBAC here-document stays copyable: command behind $, body and terminator unindented, escaped', () => {
    const lines = failureFixLines(
      ['Ask an admin:', "kubectl apply -f - <<'EOF'\nkind: Role\nname: '\u001b[2Jx'\nEOF"],
      '  ',
    );
    expect(lines).toEqual([
      '  Ask an admin:',
      "  $ kubectl apply -f - <<'EOF'",
      'kind: Role',
      "name: '\\x1b[2Jx'",
      'EOF',
    ]);
  });
});

describe('rows from a hostile API server', () => {
  it('a pod name that is not a Kubernetes name never reaches a command', async () => {
    const { newRow } = await import('../../../src/fleet/run');
    const target = {
      namespace: 'shop',
      name: 'x',
      sources: ['annotation' as const],
      exists: true,
      roleArnAnnotation: 'arn:aws:iam::111122223333:role/x',
      annotatedAt: undefined,
      associations: [],
      workloads: [
        {
          owner: null,
          pod: 'p; rm -rf ~',
          podCreated: undefined,
          pods: 1,
          mutation: { mechanism: 'irsa' as const, skipLabel: false, notInjected: [] },
          roleArns: ['arn:aws:iam::111122223333:role/x'],
          staticKeys: [],
        },
      ],
    };
    const discovery = {
      targets: [target],
      namespaces: ['shop'],
      refused: [],
      webhook: { state: 'checked' as const, value: true },
      associations: { state: 'not-checked' as const, reason: 'test' },
      listing: 'cluster' as const,
    };
    const row = newRow(target, discovery);
    expect(row.examplePod).toBeNull();
    row.job = 'irsa-doctor-x-abcde';
    expect(fleetCommands(['kubectl get pod irsa-doctor-x-abcde-12345 -n shop'], row)).toEqual([]);
    expect(row.restart.join('\n')).not.toContain('rm -rf ~');
  });
});

describe("a row's root cause: the Job's, unless the API explains it", () => {
  const report = (code: string) => ({ rootCause: { code, summary: code } }) as unknown as Report;
  const noAssociation = {
    code: 'POD_IDENTITY_NO_ASSOCIATION',
    severity: 'error',
    summary: 'the association was deleted',
  } as unknown as StaticFinding;
  const sidecar = { code: 'CONTAINER_NOT_INJECTED', severity: 'warning', summary: 's' } as unknown as StaticFinding;

  it('a fresh Job pod with no mechanism at all is explained by what the API shows about the workloads', async () => {
    const { rootCauseOf } = await import('../../../src/fleet/run');
    for (const code of ['SA_ANNOTATION_MISSING', 'NO_CREDENTIALS', 'NODE_ROLE_FALLBACK']) {
      expect(rootCauseOf(report(code), [noAssociation])?.code).toBe('POD_IDENTITY_NO_ASSOCIATION');
    }
    // Only an error explains it; a warning beside it does not.
    expect(rootCauseOf(report('SA_ANNOTATION_MISSING'), [sidecar])?.code).toBe('SA_ANNOTATION_MISSING');
  });

  it("any other cause the Job found stays the root cause; without a report the API's error, then its warning", async () => {
    const { rootCauseOf } = await import('../../../src/fleet/run');
    expect(rootCauseOf(report('TRUST_POLICY_DENIED'), [noAssociation])?.code).toBe('TRUST_POLICY_DENIED');
    expect(rootCauseOf(null, [sidecar, noAssociation])?.code).toBe('POD_IDENTITY_NO_ASSOCIATION');
    expect(rootCauseOf(null, [sidecar])?.code).toBe('CONTAINER_NOT_INJECTED');
    expect(rootCauseOf(null, [])).toBeNull();
  });
});
