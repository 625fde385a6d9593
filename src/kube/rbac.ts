/**
 * The least-privilege RBAC the kube checks need, as YAML with the namespace and subject filled in. The same
 * objects ship in examples/rbac.yaml (a test keeps them in step).
 */

/** Who the API server said was refused: a ServiceAccount (in-cluster) or a kubeconfig user. */
export interface RbacSubject {
  readonly kind: 'ServiceAccount' | 'User';
  readonly name: string;
  /** ServiceAccount only. */
  readonly namespace?: string;
}

export const RBAC_NAME = 'irsa-doctor';
export const WEBHOOK_READER_NAME = 'irsa-doctor-webhook-reader';

const SA_USER = /User "system:serviceaccount:([^:"]+):([^:"]+)"/;
const OTHER_USER = /User "([^"]+)"/;

/**
 * The subject from the API server's Forbidden message (`User "system:serviceaccount:ns:sa" cannot get ...`),
 * else the pod's own ServiceAccount.
 */
export function subjectFromForbidden(
  message: string | undefined,
  fallback: { namespace: string | undefined; serviceAccount: string | undefined },
): RbacSubject {
  const sa = message ? SA_USER.exec(message) : null;
  if (sa?.[1] && sa[2]) return { kind: 'ServiceAccount', namespace: sa[1], name: sa[2] };
  const user = message ? OTHER_USER.exec(message) : null;
  if (user?.[1] && user[1] !== 'system:anonymous') return { kind: 'User', name: user[1] };
  return {
    kind: 'ServiceAccount',
    namespace: fallback.namespace ?? '<NAMESPACE>',
    name: fallback.serviceAccount ?? '<SERVICE_ACCOUNT>',
  };
}

function subjectYaml(subject: RbacSubject): string {
  return subject.kind === 'ServiceAccount'
    ? `  - kind: ServiceAccount\n    name: ${subject.name}\n    namespace: ${subject.namespace ?? '<NAMESPACE>'}`
    : `  - kind: User\n    apiGroup: rbac.authorization.k8s.io\n    name: '${subject.name.replace(/'/g, "''")}'`;
}

/** Role + RoleBinding: get on this namespace's pods, serviceaccounts and replicasets (to name the Deployment). */
export function namespaceRbacYaml(namespace: string, subject: RbacSubject): string {
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: ${RBAC_NAME}
  namespace: ${namespace}
rules:
  - apiGroups: ['']
    resources: ['pods', 'serviceaccounts']
    verbs: ['get']
  - apiGroups: ['apps']
    resources: ['replicasets']
    verbs: ['get']
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: ${RBAC_NAME}
  namespace: ${namespace}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: ${RBAC_NAME}
subjects:
${subjectYaml(subject)}`;
}

/**
 * Optional and cluster-wide: read the pod-identity-webhook MutatingWebhookConfiguration. `get` is limited to
 * that one name; `list` (only used to find the webhook under another configuration name) cannot be limited
 * by name, so it is left out.
 */
export function webhookReaderRbacYaml(subject: RbacSubject): string {
  const bindingName =
    subject.kind === 'ServiceAccount'
      ? `${WEBHOOK_READER_NAME}-${subject.namespace}-${subject.name}`
      : WEBHOOK_READER_NAME;
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ${WEBHOOK_READER_NAME}
rules:
  - apiGroups: ['admissionregistration.k8s.io']
    resources: ['mutatingwebhookconfigurations']
    resourceNames: ['pod-identity-webhook']
    verbs: ['get']
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ${bindingName}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: ${WEBHOOK_READER_NAME}
subjects:
${subjectYaml(subject)}`;
}

/** One shell command that applies the YAML: kubectl apply from a quoted heredoc (no shell expansion). */
export function kubectlApply(yaml: string): string {
  return `kubectl apply -f - <<'EOF'\n${yaml}\nEOF`;
}

function subjectFlag(subject: RbacSubject): string {
  return subject.kind === 'ServiceAccount'
    ? `--serviceaccount=${subject.namespace ?? '<NAMESPACE>'}:${subject.name}`
    : `--user=${JSON.stringify(subject.name)}`;
}

/** The same Role and RoleBinding as one-line kubectl commands (what a terminal shows without escapes). */
export function namespaceRbacCommands(namespace: string, subject: RbacSubject): string[] {
  return [
    `kubectl create role ${RBAC_NAME} -n ${namespace} --verb=get --resource=pods,serviceaccounts,replicasets.apps`,
    `kubectl create rolebinding ${RBAC_NAME} -n ${namespace} --role=${RBAC_NAME} ${subjectFlag(subject)}`,
  ];
}

export function webhookReaderRbacCommands(subject: RbacSubject): string[] {
  const bindingName = webhookReaderBindingName(subject);
  return [
    `kubectl create clusterrole ${WEBHOOK_READER_NAME} --verb=get --resource=mutatingwebhookconfigurations.admissionregistration.k8s.io --resource-name=pod-identity-webhook`,
    `kubectl create clusterrolebinding ${bindingName} --clusterrole=${WEBHOOK_READER_NAME} ${subjectFlag(subject)}`,
  ];
}

function webhookReaderBindingName(subject: RbacSubject): string {
  return subject.kind === 'ServiceAccount'
    ? `${WEBHOOK_READER_NAME}-${subject.namespace ?? '<NAMESPACE>'}-${subject.name}`
    : WEBHOOK_READER_NAME;
}
