import type { KubeClient, KubeUnavailable } from '../kube/client';
import { KubeApiError } from '../kube/client';
import type { RbacSubject } from '../kube/rbac';
import {
  namespaceRbacCommands,
  namespaceRbacYaml,
  subjectFromForbidden,
  webhookReaderRbacCommands,
  webhookReaderRbacYaml,
} from '../kube/rbac';
import type { CheckOutcome, FindingInput } from '../run/types';
import { assertNever } from '../run/types';
import type { KubeOwner } from './remedies';
import { ns, recreateWorkload, remedy } from './remedies';
import type { ShellCommand } from './shell';
import { namespaceArg, placeholder, sh } from './shell';

export const RBAC_LINK = 'https://kubernetes.io/docs/reference/access-authn-authz/rbac/';
/** The RBAC objects are a document to save and apply, not a command: no `$` prompt in front of them. */
export const RBAC_YAML_TITLE = 'The same objects as YAML: save as rbac.yaml, then kubectl apply -f rbac.yaml';

export type { KubeOwner } from './remedies';

/**
 * How to get a pod the webhook mutates with the current ServiceAccount: only pod creation is mutated
 * (docs/mechanics.md 1.5), so the pod must be recreated, and how depends on what owns it.
 */
export function recreateCommands(owner: KubeOwner | undefined, namespace: string, podName: string): ShellCommand[] {
  return recreateWorkload({ namespace, podName, owner: owner ?? null });
}

export function describeOwner(owner: KubeOwner | undefined): string {
  return owner ? `${owner.kind.toLowerCase()}/${owner.name}` : 'no owner (a bare pod)';
}

/** Which permission a refused call needed: decides the RBAC in the remedy. */
export type KubePermission = 'namespace' | 'webhook';

export function forbiddenFinding(
  error: KubeApiError,
  permission: KubePermission,
  self: { namespace: string | undefined; serviceAccount: string | undefined },
): FindingInput {
  const subject: RbacSubject = subjectFromForbidden(error.message, self);
  const who =
    subject.kind === 'ServiceAccount'
      ? `ServiceAccount ${subject.namespace}/${subject.name}`
      : `user "${subject.name}"`;
  switch (permission) {
    case 'namespace':
      return {
        code: 'K8S_API_FORBIDDEN',
        summary: `The Kubernetes API refused the read (HTTP ${error.status ?? 403}): ${who} may not get pods/serviceaccounts in namespace ${ns(self.namespace)}, so the Kubernetes checks were skipped. The rest of the diagnosis does not need it.`,
        evidence: { status: error.status ?? null, message: error.message, subject: who },
        remedy: remedy(
          `Allow ${who} to read pods, serviceaccounts and replicasets in ${ns(self.namespace)} (read-only): either the two kubectl create commands, or the same objects as YAML (also in examples/rbac.yaml); then re-run.`,
          namespaceRbacCommands(self.namespace, subject),
          [RBAC_LINK],
          [{ title: RBAC_YAML_TITLE, language: 'yaml', text: namespaceRbacYaml(self.namespace, subject) }],
        ),
      };
    case 'webhook':
      return {
        code: 'K8S_API_FORBIDDEN',
        summary: `The Kubernetes API refused the read of the cluster-scoped pod-identity-webhook MutatingWebhookConfiguration (HTTP ${error.status ?? 403}) for ${who}. This is normal for a workload's ServiceAccount; the webhook check was skipped.`,
        evidence: { status: error.status ?? null, message: error.message, subject: who },
        remedy: remedy(
          `Optional: allow ${who} to get that one MutatingWebhookConfiguration (cluster-wide read of a single object): the kubectl create commands, or the same as YAML (also in examples/rbac.yaml).`,
          webhookReaderRbacCommands(subject),
          [RBAC_LINK],
          [{ title: RBAC_YAML_TITLE, language: 'yaml', text: webhookReaderRbacYaml(subject) }],
        ),
      };
    default:
      return assertNever(permission);
  }
}

/**
 * A failed call as a check outcome: refused -> `skip` with K8S_API_FORBIDDEN; the API server unreachable,
 * slow or answering nonsense -> `error` (the check could not run). Not-found is the caller's business.
 */
export function outcomeOfKubeFailure<Out>(
  error: unknown,
  permission: KubePermission,
  self: { namespace: string | undefined; serviceAccount: string | undefined },
): CheckOutcome<Out> {
  if (!(error instanceof KubeApiError)) throw error;
  switch (error.kind) {
    case 'forbidden':
      return {
        status: 'skip',
        summary: `skipped: not permitted (HTTP ${error.status ?? 403}): ${error.message}`,
        findings: [forbiddenFinding(error, permission, self)],
      };
    case 'unreachable':
    case 'timeout':
    case 'unexpected':
    case 'not-found':
      return { status: 'error', summary: `Kubernetes API: ${error.message}` };
    default:
      return assertNever(error.kind);
  }
}

type DetailValue = string | number | boolean | null;

/** Details without the lines that would only say "null": what is absent is not worth a line. */
export function knownDetails(details: Readonly<Record<string, DetailValue>>): Record<string, DetailValue> {
  return Object.fromEntries(Object.entries(details).filter(([, value]) => value !== null));
}

/**
 * KUBECONFIG_COMMAND_NOT_RUN: the kubeconfig's user would run an exec plugin or an auth-provider command to get
 * credentials. irsa-doctor runs no program named in configuration it reads; it says what would have run (every
 * word quoted) and whether it could authenticate without it.
 */
export function kubeconfigCommandFindings(
  client: KubeClient | KubeUnavailable,
  self: { readonly namespace: string | undefined },
): FindingInput[] {
  const notRun = client.notRun ?? [];
  if (notRun.length === 0) return [];
  const file = client.kubeconfig ?? 'the kubeconfig';
  const unusable = 'unavailable' in client;
  return notRun.map((command) => ({
    code: 'KUBECONFIG_COMMAND_NOT_RUN',
    summary: `The kubeconfig ${file} has user "${command.user}" run ${command.kind === 'exec' ? 'an exec plugin' : 'an auth-provider command'} to get credentials: ${command.wouldRun}. irsa-doctor did not run it (it runs no program named in configuration it reads)${unusable ? ', so it had no credentials for the API server and the Kubernetes checks were skipped' : '; it used the token or certificate the kubeconfig also holds'}.`,
    evidence: { kubeconfig: file, user: command.user, kind: command.kind, wouldRun: command.wouldRun, run: false },
    remedy: remedy(
      'Give irsa-doctor credentials that need no program: a kubeconfig with a token (kubectl create token) passed with --kubeconfig, or run it in the pod, where it uses the ServiceAccount token.',
      [sh`kubectl create token ${placeholder('SERVICE_ACCOUNT')} -n ${namespaceArg(self.namespace)} --duration=10m`],
      ['https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins'],
    ),
  }));
}
