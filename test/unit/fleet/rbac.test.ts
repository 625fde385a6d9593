import { readFileSync } from 'node:fs';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  FLEET_CLUSTER_PERMISSIONS,
  FLEET_JOB_PERMISSIONS,
  FLEET_READ_PERMISSIONS,
  fleetRbacYaml,
} from '../../../src/fleet/rbac';

const example = readFileSync(new URL('../../../examples/rbac-fleet.yaml', import.meta.url), 'utf8');

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

describe('the fleet RBAC', () => {
  it('examples/rbac-fleet.yaml is exactly what fleet prints, for its placeholder user', () => {
    const yaml = example
      .split('\n')
      .filter((line) => !line.startsWith('#'))
      .join('\n')
      .trim();
    expect(yaml).toBe(fleetRbacYaml({ kind: 'User', name: 'jane@example.com' }).trim());
  });

  it('grants every permission fleet checks or uses, and nothing else but the webhook configuration get', () => {
    const [role] = loadAllYaml(fleetRbacYaml({ kind: 'User', name: 'x' })) as [{ kind: string; rules: Rule[] }];
    expect(role.kind).toBe('ClusterRole');
    const granted = role.rules
      .filter((r) => !r.resourceNames)
      .flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${g}/${res}`))))
      .sort();
    const needed = [
      ...new Set(
        [...FLEET_CLUSTER_PERMISSIONS, ...FLEET_READ_PERMISSIONS, ...FLEET_JOB_PERMISSIONS].map(
          (p) => `${p.verb} ${p.group}/${p.subresource ? `${p.resource}/${p.subresource}` : p.resource}`,
        ),
      ),
    ].sort();
    expect(granted).toEqual(needed);
    expect(role.rules.filter((r) => r.resourceNames)).toEqual([
      {
        apiGroups: ['admissionregistration.k8s.io'],
        resources: ['mutatingwebhookconfigurations'],
        resourceNames: ['pod-identity-webhook'],
        verbs: ['get'],
      },
    ]);
  });
});
