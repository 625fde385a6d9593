import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ROOT_MODELS, reachableModels, referencedModels } from '../../../src/kube/model-closure';
import { MODELS } from '../../../src/kube/models';

const lookup = (name: string) => {
  const model = (k8s as unknown as Record<string, unknown>)[name] as { getAttributeTypeMap?: unknown } | undefined;
  return typeof model?.getAttributeTypeMap === 'function' ? (model as never) : undefined;
};

describe('src/kube/models.ts', () => {
  it('holds exactly the model classes reachable from the objects the checks read (else: bun scripts/kube-models.ts)', () => {
    const closure = reachableModels(ROOT_MODELS, lookup);
    expect(closure).toContain('V1Container');
    expect(closure).toContain('V1MutatingWebhook');
    expect(Object.keys(MODELS).sort()).toEqual(closure);
  });

  it('each is the class client-node itself exports, attribute table included', () => {
    for (const [name, model] of Object.entries(MODELS)) {
      const exported = lookup(name) as { getAttributeTypeMap(): unknown } | undefined;
      expect(exported, name).toBeDefined();
      expect(model.getAttributeTypeMap(), name).toEqual(exported!.getAttributeTypeMap());
    }
  });

  it('follows lists and maps of models, not primitives', () => {
    expect(referencedModels('Array<V1Container>')).toEqual(['Array', 'V1Container']);
    expect(referencedModels('{ [key: string]: V1Volume; }')).toEqual(['key', 'string', 'V1Volume']);
    expect(reachableModels(['V1EnvVar'], lookup)).toEqual(
      [
        'V1ConfigMapKeySelector',
        'V1EnvVar',
        'V1EnvVarSource',
        'V1FileKeySelector',
        'V1ObjectFieldSelector',
        'V1ResourceFieldSelector',
        'V1SecretKeySelector',
      ].sort(),
    );
  });
});
