import { readFileSync } from 'node:fs';
import { loadYaml } from '@kubernetes/client-node';
import type { PodLike } from '../../src/kube/mutation';

/*
 * The webhook's own test pods (test/fixtures/upstream/webhook, from aws/amazon-eks-pod-identity-webhook
 * pkg/handler/testdata @3bf80a34), turned into the pods an API server stores: the submitted pod with the
 * webhook's expected JSON patch applied.
 */

export const WEBHOOK_SOURCE = {
  repo: 'aws/amazon-eks-pod-identity-webhook',
  commit: '3bf80a348116483b2162190e43232e4d243f76c4',
  dir: 'pkg/handler/testdata',
} as const;

const EXPECTED_PATCH = 'testing.eks.amazonaws.com/expectedPatch';

export interface WebhookFixture {
  /** The pod as submitted (the harness's testing.* annotations removed). */
  readonly submitted: PodLike & Record<string, unknown>;
  /** The pod after the webhook's patch. */
  readonly mutated: PodLike & Record<string, unknown>;
  /** The harness settings the webhook ran with (ServiceAccount role and audience, handler region...). */
  readonly harness: Readonly<Record<string, string>>;
}

/**
 * Loads a fixture. `substitute` rewrites values in the whole file, patch included, before it is parsed: the
 * harness feeds the ServiceAccount's role and audience and the container-credentials settings into the patch
 * verbatim (buildFakeCacheFromPod / buildFakeConfigFromPod in handler_pod_test.go; cache.go addSA), so
 * substituting a setting everywhere gives the patch the webhook returns for that setting.
 */
export function webhookFixture(name: string, substitute: Readonly<Record<string, string>> = {}): WebhookFixture {
  let text = readFileSync(new URL(`../fixtures/upstream/webhook/${name}.pod.yaml`, import.meta.url), 'utf8');
  for (const [from, to] of Object.entries(substitute)) text = text.split(from).join(to);
  // json: duplicate keys are allowed, the last one wins, as the Go YAML reader of the harness reads them.
  const pod = loadYaml(text, { json: true }) as Record<string, unknown> & {
    metadata: { annotations?: Record<string, string> };
  };
  const annotations = pod.metadata.annotations ?? {};
  const harness = Object.fromEntries(Object.entries(annotations).filter(([k]) => k.startsWith('testing.')));
  const kept = Object.fromEntries(Object.entries(annotations).filter(([k]) => !k.startsWith('testing.')));
  // The harness runs every pod as default/default (TestUpdatePodSpec).
  const submitted = {
    ...pod,
    metadata: { ...pod.metadata, namespace: 'default', ...(Object.keys(kept).length > 0 ? { annotations: kept } : {}) },
  } as Record<string, unknown> & PodLike;
  if (Object.keys(kept).length === 0) delete (submitted.metadata as { annotations?: unknown }).annotations;
  const patch = harness[EXPECTED_PATCH];
  const mutated = patch ? applyJsonPatch(submitted, JSON.parse(patch) as PatchOperation[]) : submitted;
  return { submitted, mutated: mutated as typeof submitted, harness };
}

interface PatchOperation {
  readonly op: string;
  readonly path: string;
  readonly value?: unknown;
}

/** RFC 6902 `add` (all the webhook emits): a new member, or an element inserted before the index. */
export function applyJsonPatch(document: unknown, operations: readonly PatchOperation[]): unknown {
  let result = structuredClone(document);
  for (const operation of operations) {
    if (operation.op !== 'add') throw new Error(`unsupported patch op ${operation.op}`);
    const segments = operation.path
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (segments.length === 0) {
      result = structuredClone(operation.value);
      continue;
    }
    let parent = result as Record<string, unknown> | unknown[];
    for (const segment of segments.slice(0, -1)) {
      parent = (parent as Record<string, unknown>)[segment] as Record<string, unknown> | unknown[];
    }
    const last = segments[segments.length - 1] as string;
    if (Array.isArray(parent)) {
      parent.splice(last === '-' ? parent.length : Number(last), 0, structuredClone(operation.value));
    } else {
      parent[last] = structuredClone(operation.value);
    }
  }
  return result;
}
