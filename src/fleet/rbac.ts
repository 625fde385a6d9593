import type { RbacSubject } from '../kube/rbac';
import { kubectlApply } from '../kube/rbac';
import { WEBHOOK_CONFIGURATION } from '../checks/kube-webhook';
import { LaunchFailure } from '../launch/failure';
import type { Permission } from '../launch/rbac';
import { JOB_PERMISSIONS, permissionName, subjectYaml } from '../launch/rbac';

/*
 * What a user of `irsa-doctor fleet` needs, as one ClusterRole (examples/rbac-fleet.yaml; the unit test keeps
 * the two in step): list namespaces, ServiceAccounts and pods to find what to diagnose, get the
 * pod-identity-webhook configuration, and in each namespace what `irsa-doctor job` needs for its Jobs (plus
 * list Jobs, for the sweep that deletes every Job of the run at the end). Bound cluster-wide for -A, or in one
 * namespace with a RoleBinding to the same ClusterRole.
 */

export const FLEET_ROLE = 'irsa-doctor-fleet';

export const FLEET_READ_PERMISSIONS: readonly Permission[] = [
  { verb: 'list', group: '', resource: 'serviceaccounts', why: 'find the ServiceAccounts to diagnose' },
  { verb: 'list', group: '', resource: 'pods', why: 'find the running pods that use IRSA or Pod Identity' },
];

export const FLEET_CLUSTER_PERMISSIONS: readonly Permission[] = [
  { verb: 'list', group: '', resource: 'namespaces', why: 'list the namespaces of -A' },
];

export const FLEET_JOB_PERMISSIONS: readonly Permission[] = [
  ...JOB_PERMISSIONS,
  { verb: 'list', group: 'batch', resource: 'jobs', why: 'find every Job of the run at the end, to delete it' },
];

export function fleetClusterRoleYaml(): string {
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ${FLEET_ROLE}
rules:
  # Discovery: the ServiceAccounts and running pods to diagnose, and whether the webhook is configured.
  - apiGroups: ['']
    resources: ['namespaces', 'serviceaccounts', 'pods']
    verbs: ['list']
  - apiGroups: ['admissionregistration.k8s.io']
    resources: ['mutatingwebhookconfigurations']
    resourceNames: ['${WEBHOOK_CONFIGURATION}']
    verbs: ['get']
  # The Jobs (not needed with --static): create, list and delete them, follow their pods, read their reports,
  # and see why a pod is not created (quota, LimitRange, admission).
  - apiGroups: ['batch']
    resources: ['jobs']
    verbs: ['create', 'delete', 'list']
  - apiGroups: ['']
    resources: ['pods']
    verbs: ['watch']
  - apiGroups: ['']
    resources: ['pods/log']
    verbs: ['get']
  - apiGroups: ['']
    resources: ['events']
    verbs: ['watch']
`;
}

/** The ClusterRole bound cluster-wide (for -A), for one subject. */
export function fleetRbacYaml(subject: RbacSubject): string {
  return `${fleetClusterRoleYaml()}---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ${FLEET_ROLE}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: ${FLEET_ROLE}
subjects:
${subjectYaml(subject)}`;
}

/** The same ClusterRole granted in one namespace only. */
export function fleetNamespaceBindingYaml(namespace: string, subject: RbacSubject): string {
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: ${FLEET_ROLE}
  namespace: ${namespace}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: ${FLEET_ROLE}
subjects:
${subjectYaml(subject)}`;
}

function who(subject: RbacSubject): string {
  if (subject.kind === 'User' && subject.name === '<YOUR_USER>') return 'you';
  return subject.kind === 'User' ? `user ${subject.name}` : `ServiceAccount ${subject.namespace}/${subject.name}`;
}

/**
 * A refusal, with the RBAC that lifts it: the ClusterRole and its ClusterRoleBinding for the cluster scope, the
 * RoleBinding to it (and the ClusterRole, which may not exist yet) for one namespace.
 */
export function fleetForbidden(
  scope: string,
  subject: RbacSubject,
  missing: readonly Permission[],
  level: 'cluster' | 'namespace',
  serverMessage?: string,
): LaunchFailure {
  const what = missing.map((p) => `${permissionName(p)} (${p.why})`).join(', ');
  const message =
    level === 'cluster'
      ? `${who(subject)} may not ${what} in ${scope}: irsa-doctor fleet needs the ClusterRole ${FLEET_ROLE}`
      : `${who(subject)} may not ${what} in namespace ${scope}${serverMessage ? ` (${serverMessage})` : ''}: irsa-doctor fleet needs the ClusterRole ${FLEET_ROLE} there`;
  const yaml =
    level === 'cluster'
      ? fleetRbacYaml(subject)
      : `${fleetClusterRoleYaml()}---\n${fleetNamespaceBindingYaml(scope, subject)}`;
  return new LaunchFailure('forbidden', message, [
    level === 'cluster'
      ? 'Ask a cluster admin to apply it (examples/rbac-fleet.yaml), or run with -n NS in a namespace you may read:'
      : `Ask a cluster admin to grant it in namespace ${scope} (examples/rbac-fleet.yaml):`,
    kubectlApply(yaml),
  ]);
}
