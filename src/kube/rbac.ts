import type { Placeholder, ShellCommand } from '../checks/shell';
import { fragment, heredoc, namespaceArg, placeholder, serviceAccountArg, sh, yamlScalar } from '../checks/shell';

/**
 * The least-privilege RBAC the kube checks need, as YAML with the namespace and subject filled in. The same
 * objects ship in examples/rbac.yaml (a test keeps them in step). The subject comes from the API server's
 * Forbidden message, so every name is validated (a ServiceAccount and a namespace are DNS names, or their
 * placeholders) and quoted for YAML and the shell: a name cannot add a line, a key or a document to the YAML.
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
    ? `  - kind: ServiceAccount\n    name: ${yamlScalar(serviceAccountArg(subject.name))}\n    namespace: ${yamlScalar(namespaceArg(subject.namespace))}`
    : `  - kind: User\n    apiGroup: rbac.authorization.k8s.io\n    name: ${yamlScalar(subject.name)}`;
}

/** Role + RoleBinding: get on this namespace's pods, serviceaccounts and replicasets (to name the Deployment). */
export function namespaceRbacYaml(namespaceName: string | undefined, subject: RbacSubject): string {
  const namespace = yamlScalar(namespaceArg(namespaceName));
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
  const bindingName = yamlScalar(webhookReaderBindingName(subject));
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
export function kubectlApply(yaml: string): ShellCommand {
  return heredoc(sh`kubectl apply -f -`, yaml);
}

/** --serviceaccount=NS:NAME or --user=NAME, quoted as one word. */
function subjectFlag(subject: RbacSubject): ShellCommand {
  return subject.kind === 'ServiceAccount'
    ? sh`--serviceaccount=${namespaceArg(subject.namespace)}:${serviceAccountArg(subject.name)}`
    : sh`--user=${subject.name}`;
}

/** The same Role and RoleBinding as one-line kubectl commands (what a terminal shows without escapes). */
export function namespaceRbacCommands(namespaceName: string | undefined, subject: RbacSubject): ShellCommand[] {
  const namespace = namespaceArg(namespaceName);
  return [
    sh`kubectl create role ${RBAC_NAME} -n ${namespace} --verb=get --resource=pods,serviceaccounts,replicasets.apps`,
    sh`kubectl create rolebinding ${RBAC_NAME} -n ${namespace} --role=${RBAC_NAME} ${fragment(subjectFlag(subject))}`,
  ];
}

export function webhookReaderRbacCommands(subject: RbacSubject): ShellCommand[] {
  const bindingName = webhookReaderBindingName(subject);
  return [
    sh`kubectl create clusterrole ${WEBHOOK_READER_NAME} --verb=get --resource=mutatingwebhookconfigurations.admissionregistration.k8s.io --resource-name=pod-identity-webhook`,
    sh`kubectl create clusterrolebinding ${bindingName} --clusterrole=${WEBHOOK_READER_NAME} ${fragment(subjectFlag(subject))}`,
  ];
}

/** irsa-doctor-webhook-reader-NS-NAME for a ServiceAccount: a valid object name, or the placeholder. */
function webhookReaderBindingName(subject: RbacSubject): string | Placeholder {
  if (subject.kind !== 'ServiceAccount') return WEBHOOK_READER_NAME;
  const namespace = namespaceArg(subject.namespace);
  const name = serviceAccountArg(subject.name);
  return typeof namespace === 'string' && typeof name === 'string'
    ? `${WEBHOOK_READER_NAME}-${namespace}-${name}`.slice(0, 253).replace(/[-.]+$/, '')
    : placeholder('BINDING_NAME');
}
