/** The objects the Kubernetes checks read (src/kube/client.ts). */
export const ROOT_MODELS = [
  'V1Pod',
  'V1ServiceAccount',
  'V1ReplicaSet',
  'V1MutatingWebhookConfiguration',
  'V1MutatingWebhookConfigurationList',
] as const;

interface ModelClass {
  getAttributeTypeMap(): readonly { readonly type: string }[];
}

/**
 * The identifiers an attribute type names (`V1PodSpec`, `Array<V1Container>`, `{ [key: string]: string; }`):
 * those that are model classes are followed; the others (string, Date, IntOrString, key, ...) have none.
 */
export function referencedModels(type: string): string[] {
  return type.match(/[A-Za-z_]\w*/g) ?? [];
}

/** Every model reachable from `roots` through attribute types, sorted; `lookup` gives a model's class. */
export function reachableModels(roots: readonly string[], lookup: (name: string) => ModelClass | undefined): string[] {
  const seen = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (seen.has(name)) continue;
    const model = lookup(name);
    if (!model) continue;
    seen.add(name);
    for (const attribute of model.getAttributeTypeMap()) pending.push(...referencedModels(attribute.type));
  }
  return [...seen].sort();
}
