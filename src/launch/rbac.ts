import type { RbacSubject } from '../kube/rbac';
import { kubectlApply } from '../kube/rbac';
import type { LauncherApi } from './api';
import { LaunchFailure, apiErrorInfo, unexpectedApiFailure } from './failure';

/*
 * What a user of `irsa-doctor pod` and `irsa-doctor job` may need to do in the namespace, as one Role: the same
 * objects as examples/rbac-launcher.yaml (test/unit/launch/rbac.test.ts keeps them in step). Before it changes
 * anything the launcher asks the API server, with one SelfSubjectAccessReview per permission (what `kubectl
 * auth can-i` does; unlike SelfSubjectRulesReview it is answered by every authorizer, EKS access entries
 * included), so a user without the Role gets it printed instead of an ephemeral container whose log they cannot
 * read, or a Job they cannot delete.
 */

export const LAUNCHER_ROLE = 'irsa-doctor-launcher';

export interface Permission {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  /** Why the launcher needs it, for the message. */
  readonly why: string;
}

export const POD_PERMISSIONS: readonly Permission[] = [
  { verb: 'get', group: '', resource: 'pods', why: 'read the pod and its containers' },
  { verb: 'watch', group: '', resource: 'pods', why: 'follow the ephemeral container as it starts' },
  {
    verb: 'patch',
    group: '',
    resource: 'pods',
    subresource: 'ephemeralcontainers',
    why: 'add the ephemeral container',
  },
  { verb: 'get', group: '', resource: 'pods', subresource: 'log', why: 'read its report' },
];

export const JOB_PERMISSIONS: readonly Permission[] = [
  { verb: 'create', group: 'batch', resource: 'jobs', why: 'create the Job' },
  { verb: 'delete', group: 'batch', resource: 'jobs', why: 'delete it afterwards' },
  { verb: 'watch', group: '', resource: 'pods', why: "follow the Job's pod" },
  { verb: 'get', group: '', resource: 'pods', subresource: 'log', why: 'read its report' },
  { verb: 'watch', group: '', resource: 'events', why: 'see why a pod is not created (quota, LimitRange, admission)' },
];

export function permissionName(p: Permission): string {
  const resource = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
  return `${p.verb} ${p.group ? `${resource}.${p.group}` : resource}`;
}

/** The Role and RoleBinding for the launchers in one namespace, for one subject. */
export function launcherRbacYaml(namespace: string, subject: RbacSubject): string {
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: ${LAUNCHER_ROLE}
  namespace: ${namespace}
rules:
  # irsa-doctor pod: read the pod, add the ephemeral container, follow it and read its log.
  - apiGroups: ['']
    resources: ['pods']
    verbs: ['get', 'watch']
  - apiGroups: ['']
    resources: ['pods/ephemeralcontainers']
    verbs: ['patch']
  - apiGroups: ['']
    resources: ['pods/log']
    verbs: ['get']
  # irsa-doctor job: create and delete its Job, and see why a pod would not be created.
  - apiGroups: ['batch']
    resources: ['jobs']
    verbs: ['create', 'delete']
  - apiGroups: ['']
    resources: ['events']
    verbs: ['watch']
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: ${LAUNCHER_ROLE}
  namespace: ${namespace}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: ${LAUNCHER_ROLE}
subjects:
${subjectYaml(subject)}`;
}

export function subjectYaml(subject: RbacSubject): string {
  return subject.kind === 'ServiceAccount'
    ? `  - kind: ServiceAccount\n    name: ${subject.name}\n    namespace: ${subject.namespace ?? '<NAMESPACE>'}`
    : `  - kind: User\n    apiGroup: rbac.authorization.k8s.io\n    name: '${subject.name.replace(/'/g, "''")}'`;
}

/**
 * Asks the API server whether this user may do each thing; throws a LaunchFailure listing what is missing, with
 * the Role to grant filled in for the namespace and the user (SelfSubjectReview, as `kubectl auth whoami`). An
 * API server that cannot answer the review (an old one, or the review itself refused) is not an error: the calls
 * themselves will say.
 */
export async function checkPermissions(
  api: LauncherApi,
  namespace: string,
  needed: readonly Permission[],
  command: string,
): Promise<void> {
  const missing = await missingPermissions(api, namespace, needed);
  if (missing.length === 0) return;
  const subject = await whoAmI(api);
  throw forbiddenFailure(command, namespace, subject, missing);
}

/** The permissions of `needed` the API server says this user lacks in the namespace (one review each). */
export async function missingPermissions(
  api: LauncherApi,
  namespace: string,
  needed: readonly Permission[],
): Promise<Permission[]> {
  const answers = await Promise.all(
    needed.map(async (p) => {
      try {
        const review = await api.authorization.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: {
              resourceAttributes: {
                namespace,
                verb: p.verb,
                group: p.group,
                resource: p.resource,
                ...(p.subresource ? { subresource: p.subresource } : {}),
              },
            },
          },
        });
        return { permission: p, allowed: review.status?.allowed === true };
      } catch (error) {
        if (error instanceof LaunchFailure) throw error;
        if (apiErrorInfo(error).status === 401)
          throw unexpectedApiFailure('asking the API server what you may do', error);
        return { permission: p, allowed: undefined };
      }
    }),
  );
  return answers.filter((a) => a.allowed === false).map((a) => a.permission);
}

/** The user the API server sees, for the RoleBinding; a placeholder when it does not say. */
export async function whoAmI(api: LauncherApi): Promise<RbacSubject> {
  try {
    const review = await api.authentication.createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    const given = review.status?.userInfo?.username;
    // The name goes into YAML inside a shell heredoc: printable ASCII only, or the placeholder.
    const name =
      given !== undefined && /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/.test(given) ? given : undefined;
    const sa = name ? /^system:serviceaccount:([a-z0-9.-]+):([a-z0-9.-]+)$/.exec(name) : null;
    if (sa?.[1] && sa[2]) return { kind: 'ServiceAccount', namespace: sa[1], name: sa[2] };
    if (name) return { kind: 'User', name };
  } catch {
    // An API server before 1.28, or the review refused: the binding names a placeholder.
  }
  return { kind: 'User', name: '<YOUR_USER>' };
}

export function forbiddenFailure(
  command: string,
  namespace: string,
  subject: RbacSubject,
  missing: readonly Permission[],
): LaunchFailure {
  const who =
    subject.kind === 'User' && subject.name === '<YOUR_USER>'
      ? 'you'
      : `${subject.kind === 'User' ? 'user' : 'ServiceAccount'} ${subject.kind === 'ServiceAccount' ? `${subject.namespace}/${subject.name}` : subject.name}`;
  return new LaunchFailure(
    'forbidden',
    `${who} may not ${missing.map((p) => `${permissionName(p)} (${p.why})`).join(', ')} in namespace ${namespace}: irsa-doctor ${command} needs the Role ${LAUNCHER_ROLE}`,
    [
      `Ask a cluster admin to apply it (examples/rbac-launcher.yaml), here for namespace ${namespace}:`,
      kubectlApply(launcherRbacYaml(namespace, subject)),
    ],
  );
}
