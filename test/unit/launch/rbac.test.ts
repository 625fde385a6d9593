import { readFileSync } from 'node:fs';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { JOB_PERMISSIONS, POD_PERMISSIONS, launcherRbacYaml } from '../../../src/launch/rbac';

const example = readFileSync(new URL('../../../examples/rbac-launcher.yaml', import.meta.url), 'utf8');

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

describe('the launcher RBAC', () => {
  it('examples/rbac-launcher.yaml is exactly what the launchers print, for its placeholder namespace and user', () => {
    const yaml = example
      .split('\n')
      .filter((line) => !line.startsWith('#'))
      .join('\n')
      .trim();
    expect(yaml).toBe(launcherRbacYaml('my-namespace', { kind: 'User', name: 'jane@example.com' }));
  });

  it('grants every permission both launchers check, and nothing else', () => {
    const [role, binding] = loadAllYaml(launcherRbacYaml('shop', { kind: 'User', name: "o'brien" })) as [
      { kind: string; rules: Rule[] },
      { kind: string; subjects: unknown[] },
    ];
    expect(role.kind).toBe('Role');
    const granted = role.rules
      .flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${g}/${res}`))))
      .sort();
    const needed = [
      ...new Set(
        [...POD_PERMISSIONS, ...JOB_PERMISSIONS].map(
          (p) => `${p.verb} ${p.group}/${p.subresource ? `${p.resource}/${p.subresource}` : p.resource}`,
        ),
      ),
    ].sort();
    expect(granted).toEqual(needed);
    expect(binding.subjects).toEqual([{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: "o'brien" }]);
  });
});
