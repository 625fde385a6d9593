import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'vitest';
import type { KubeApiServer, KubeObject } from '../../src/sim/kube-api';
import { kubeScenario, startKubeApi } from '../../src/sim/kube-api';
import { BINARY, runBinary } from '../helpers/binary';

/**
 * Malformed Kubernetes objects through the built binary: the API server's answer is outside input, so an
 * object of the wrong shape must end as the kube check's `error` saying what was unexpected (the field path
 * and what it held), never as a JS error surfacing from client-node or the mutation analysis.
 */

interface Report {
  verdict: string;
  checks: { id: string; status: string; summary: string }[];
}

let api: KubeApiServer | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

type Patch = (objects: KubeObject[]) => KubeObject[];

/** The healthy scenario's objects with `patch` applied to the one of `kind`. */
function patchKind(kind: string, patch: (o: Record<string, unknown>) => unknown): Patch {
  return (objects) => objects.map((o) => (o.kind === kind ? (patch(structuredClone(o) as never) as KubeObject) : o));
}

const spec = (o: Record<string, unknown>) => o.spec as Record<string, unknown>;
const firstContainer = (o: Record<string, unknown>) => (spec(o).containers as Record<string, unknown>[])[0]!;

const CASES: readonly { name: string; check: string; patch: Patch; problem: RegExp }[] = [
  {
    name: 'env is a string',
    check: 'kube.pod',
    patch: patchKind('Pod', (o) => ((firstContainer(o).env = 'AWS_ROLE_ARN=x'), o)),
    problem: /spec\.containers\[0\]\.env is a string \("AWS_ROLE_ARN=x"\), not a list/,
  },
  {
    name: 'env is a number',
    check: 'kube.pod',
    patch: patchKind('Pod', (o) => ((firstContainer(o).env = 42), o)),
    problem: /spec\.containers\[0\]\.env is a number \(42\), not a list/,
  },
  {
    name: 'containers is an object',
    check: 'kube.pod',
    patch: patchKind('Pod', (o) => ((spec(o).containers = { app: {} }), o)),
    problem: /spec\.containers is an object, not a list/,
  },
  {
    name: 'a container is null',
    check: 'kube.pod',
    patch: patchKind('Pod', (o) => ((spec(o).containers = [null]), o)),
    problem: /spec\.containers\[0\] is null/,
  },
  {
    name: 'a container has no name',
    check: 'kube.pod',
    patch: patchKind('Pod', (o) => (delete firstContainer(o).name, o)),
    problem: /spec\.containers\[0\]\.name is missing/,
  },
  {
    name: 'spec without containers',
    check: 'kube.pod',
    patch: patchKind('Pod', (o) => (delete spec(o).containers, o)),
    problem: /spec\.containers is missing/,
  },
  {
    name: 'annotations is a list',
    check: 'kube.pod',
    patch: patchKind('Pod', (o) => (((o.metadata as Record<string, unknown>).annotations = ['a']), o)),
    problem: /metadata\.annotations is a list, not an object/,
  },
  {
    name: 'an annotation value is a number',
    check: 'kube.pod',
    patch: patchKind('Pod', (o) => (((o.metadata as Record<string, unknown>).annotations = { a: 1 }), o)),
    problem: /metadata\.annotations\["a"\] is a number \(1\), not a string/,
  },
  {
    name: 'creationTimestamp is no date',
    check: 'kube.pod',
    patch: patchKind('Pod', (o) => (((o.metadata as Record<string, unknown>).creationTimestamp = 'yesterday'), o)),
    problem: /metadata\.creationTimestamp is a string \("yesterday"\), not a date string/,
  },
  {
    name: 'ownerReferences is an object',
    check: 'kube.pod',
    patch: patchKind('Pod', (o) => (((o.metadata as Record<string, unknown>).ownerReferences = { kind: 'x' }), o)),
    problem: /metadata\.ownerReferences is an object, not a list/,
  },
  {
    name: 'spec is a number',
    check: 'kube.pod',
    patch: patchKind('Pod', (o) => Object.assign(o, { spec: 7 })),
    problem: /spec is a number \(7\), not an object/,
  },
  {
    name: 'the ServiceAccount metadata is a string',
    check: 'kube.serviceaccount',
    patch: patchKind('ServiceAccount', (o) =>
      Object.assign(o, { metadata: { name: 'checkout', namespace: 'shop', labels: 'x' } }),
    ),
    problem: /metadata\.labels is a string \("x"\), not an object/,
  },
  {
    name: 'the webhook configuration lists no webhooks but an object',
    check: 'kube.webhook',
    patch: patchKind('MutatingWebhookConfiguration', (o) => Object.assign(o, { webhooks: { a: 1 } })),
    problem: /webhooks is an object, not a list/,
  },
  {
    name: 'a webhook rule operations is a string',
    check: 'kube.webhook',
    patch: patchKind('MutatingWebhookConfiguration', (o) => {
      const webhooks = o.webhooks as Record<string, unknown>[];
      (webhooks[0]!.rules as Record<string, unknown>[])[0]!.operations = 'CREATE';
      return o;
    }),
    problem: /webhooks\[0\]\.rules\[0\]\.operations is a string \("CREATE"\), not a list/,
  },
];

/** What a JS error from deep inside looks like; none may reach the report. */
const JS_ERROR =
  /is not iterable|is not a function|Cannot read propert|undefined is not an object|null is not an object|Invalid (?:Date|time value)|TypeError|RangeError/;

describe.skipIf(!existsSync(BINARY))('malformed Kubernetes objects through the built binary', () => {
  it.for(CASES)('$name: $check says what was unexpected', async ({ check, patch, problem }, { expect }) => {
    const scenario = kubeScenario('healthy');
    api = await startKubeApi({ ...scenario.state, objects: patch([...scenario.state.objects]) });
    const home = mkdtempSync(path.join(os.tmpdir(), 'irsa-doctor-hostile-kube-'));
    const kubeconfig = await api.writeKubeconfig(home);
    const env = {
      PATH: '/usr/bin:/bin',
      HOME: home,
      POD_NAMESPACE: scenario.world.namespace,
      POD_NAME: scenario.world.podName,
      ...scenario.processEnv,
    };
    for (const mode of ['json', 'text'] as const) {
      const args = ['--kubeconfig', kubeconfig, '--only', 'kube.pod,kube.serviceaccount,kube.webhook'];
      const run = await runBinary([...args, '--output', mode], env);
      expect([0, 1], run.stderr).toContain(run.code);
      expect(run.stderr).toBe('');
      expect(run.stdout).not.toMatch(JS_ERROR);
      if (mode === 'json') {
        const report = JSON.parse(run.stdout) as Report;
        const result = report.checks.find((c) => c.id === check);
        expect(result?.status).toBe('error');
        expect(result?.summary).toContain('the API server answered an unexpected object: ');
        expect(result?.summary).toMatch(problem);
      }
    }
  });
});
