import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeApiServer, KubeApiState, KubeObject } from '../../src/sim/kube-api';
import { kubeScenario, startKubeApi } from '../../src/sim/kube-api';
import { fixtureContext } from '../helpers/context';
import {
  CASE_TIMEOUT_MS,
  PROPERTY_TIMEOUT_MS,
  RUNS,
  byteFileView,
  diagnose,
  expectCommandsParse,
  hostileJson,
  hostileText,
  only,
} from './harness';

/**
 * Kubernetes API bodies: the pod, its ServiceAccount, ReplicaSet and the webhook configuration as the
 * simulated API server (src/sim/kube-api.ts, the one the e2e tests and the demo use) serves them, with values
 * anywhere in them replaced by any JSON (a string where a list belongs, an object for `containers`, `null`,
 * numbers, hostile text) or keys deleted. Every case goes through the real
 * client (client-node over node:http) and the kube checks: a sound report, and no JS error surfacing as a
 * check's summary; a wrong shape is "the API server answered an unexpected object: <path> ...".
 */

const scenario = kubeScenario('ephemeral-container');
const state: { -readonly [K in keyof KubeApiState]: KubeApiState[K] } = { ...scenario.state };
let api: KubeApiServer;
let kubeconfig: string;

beforeAll(async () => {
  api = await startKubeApi(state);
  kubeconfig = await api.writeKubeconfig(mkdtempSync(path.join(tmpdir(), 'irsa-fuzz-kube-')));
});
afterAll(async () => {
  await api.close();
  expect(expectCommandsParse()).toBeGreaterThan(0);
});

/**
 * Every path of a JSON value, as key lists, up to `depth`, except the ones the simulated server finds an
 * object by (kind, metadata.name and namespace): what it serves is whatever the rest became.
 */
function pathsOf(value: unknown, depth = 8, at: (string | number)[] = []): (string | number)[][] {
  const lookup = ['', 'kind', 'metadata', 'metadata.name', 'metadata.namespace'].includes(at.join('.'));
  const paths = lookup ? [] : [at];
  if (depth === 0 || value === null || typeof value !== 'object') return paths;
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  for (const [key, v] of entries) paths.push(...pathsOf(v, depth - 1, [...at, key]));
  return paths;
}

type Edit = { kind: 'set'; value: unknown } | { kind: 'delete' };

function applyEdit(object: unknown, where: readonly (string | number)[], edit: Edit): unknown {
  if (where.length === 0) return edit.kind === 'set' ? edit.value : {};
  const copy = structuredClone(object) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of where.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = where[where.length - 1]!;
  if (edit.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else parent[last] = edit.value;
  return copy;
}

const wrongShapes = fc.oneof(
  fc.constantFrom(null, 0, -1, 1e308, true, '', 'x', [], {}, [null], [1, 'a'], { a: 1 }),
  hostileText,
  hostileJson,
);

const edits = fc.array(
  fc.record({
    object: fc.nat(),
    path: fc.nat(),
    edit: fc.oneof(
      { weight: 5, arbitrary: wrongShapes.map((value): Edit => ({ kind: 'set', value })) },
      { weight: 1, arbitrary: fc.constant<Edit>({ kind: 'delete' }) },
    ),
  }),
  { minLength: 1, maxLength: 3 },
);

/** What a JS error from deep inside looks like in a summary; none may get there. */
const JS_ERROR =
  /is not iterable|is not a function|Cannot read propert|undefined is not an object|null is not an object|Invalid (?:Date|time value)|Maximum call stack/;

describe('fuzz: Kubernetes API bodies', () => {
  it(
    `any object the API server answers ends in a sound report (${RUNS} cases)`,
    async () => {
      const checks = only('kube.pod', 'kube.serviceaccount', 'kube.webhook');
      const files = byteFileView({});
      await fc.assert(
        fc.asyncProperty(edits, async (changes) => {
          let objects: unknown[] = [...scenario.state.objects];
          for (const { object, path: p, edit } of changes) {
            const index = object % objects.length;
            const paths = pathsOf(objects[index]);
            if (paths.length > 0) objects[index] = applyEdit(objects[index], paths[p % paths.length]!, edit);
          }
          // The server finds objects by kind and name: what lost them is simply not found (also a path).
          state.objects = objects as KubeObject[];
          const ctx = {
            ...fixtureContext({
              env: {
                POD_NAMESPACE: scenario.world.namespace,
                POD_NAME: scenario.world.podName,
                ...scenario.processEnv,
              },
              kubeconfig,
              timeoutMs: CASE_TIMEOUT_MS,
            }),
            files,
          };
          const { report } = await diagnose(ctx, checks);
          for (const check of report.checks) expect(check.summary, check.id).not.toMatch(JS_ERROR);
          objects = [];
        }),
        { seed: 0x15_0005, numRuns: RUNS },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});
