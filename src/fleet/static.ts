import { ROLE_ARN_ANNOTATION, injectedRoleArn } from '../checks/kube-serviceaccount';
import { WEBHOOK_CONFIGURATION } from '../checks/kube-webhook';
import { describeOwner, recreateCommands } from '../checks/kube-remedies';
import { LINKS, remedy } from '../checks/remedies';
import { namespaceArg, placeholder, podArg, serviceAccountArg, sh } from '../checks/shell';
import { SKIP_CONTAINERS_ANNOTATION, SKIP_WEBHOOK_LABEL } from '../kube/mutation';
import type { FindingCode } from '../run/findings';
import { FINDING_CODES } from '../run/findings';
import type { Finding, Verdict } from '../run/types';
import type { Checked, TargetFacts, WorkloadFacts } from './discover';

/*
 * `fleet --static`: what the API alone shows about each ServiceAccount, with no Job and no AWS call. The same
 * rules as the in-pod Kubernetes checks (src/checks/kube-serviceaccount.ts, src/kube/mutation.ts), applied to
 * every workload of the ServiceAccount at once:
 *   - a running pod without the role its ServiceAccount now names (created before the annotation, or before it
 *     changed): the webhook only mutates pod creation (docs/mechanics.md 1.5), so it needs a restart, one
 *     command per owning workload;
 *   - an annotation the webhook injects but STS cannot take (docs/mechanics.md 1.1: the webhook only logs
 *     "arn is invalid" and injects it anyway); a bare role name or path/name is valid: a webhook run with
 *     --compose-role-arn composes the ARN, which the pods' own AWS_ROLE_ARN then shows;
 *   - containers the webhook skipped (skip-containers, the skip label, the pair rule) or that hold hand-set keys;
 *   - the webhook configuration missing; IRSA and Pod Identity both configured (Pod Identity wins: 1.3).
 * Without a Job nothing is proven to work: a ServiceAccount with none of these is "not verified", never healthy.
 */

export type StaticFinding = Omit<Finding, 'checkId'>;

/** The verdict of a static row: broken and degraded as in a report, else what was not verified. */
export type StaticVerdict = Exclude<Verdict, 'healthy'> | 'not-verified';

/** The upstream webhook's pattern (cache.go addSA), which logs but does not block a value that fails it. */
const WEBHOOK_ARN = /^arn:aws[a-z0-9-]*:iam::\d{12}:role\/[\w\-/.@+=,]+$/;
/** What --compose-role-arn appends after role/: a role name or path/name, in the same characters. */
const ROLE_NAME_OR_PATH = /^[\w\-/.@+=,]+$/;

function finding(
  code: FindingCode,
  summary: string,
  evidence: Record<string, unknown>,
  fix: StaticFinding['remedy'],
): StaticFinding {
  return {
    code,
    severity: FINDING_CODES[code].severity,
    summary,
    evidence: evidence as StaticFinding['evidence'],
    remedy: fix,
  };
}

export interface StaticContext {
  readonly webhook: Checked<boolean>;
  readonly associationsConsulted: boolean;
}

export function staticFindings(target: TargetFacts, context: StaticContext): StaticFinding[] {
  const out: StaticFinding[] = [];
  const { namespace: ns, name } = target;
  const sa = `${ns}/${name}`;
  const annotation = target.roleArnAnnotation;
  const podIdentityPods = target.workloads.filter(
    (w) => w.mutation.mechanism === 'pod-identity' || w.mutation.mechanism === 'both',
  );
  const podIdentity = target.associations.length > 0 || podIdentityPods.length > 0;

  if (context.webhook.state === 'checked' && !context.webhook.value) {
    out.push(
      finding(
        'WEBHOOK_MISSING',
        `The cluster has no ${WEBHOOK_CONFIGURATION} MutatingWebhookConfiguration: no new pod of ${sa} gets the IRSA or Pod Identity variables, whatever the ServiceAccount says.`,
        { configuration: WEBHOOK_CONFIGURATION },
        remedy(
          'On EKS, restore the managed webhook configuration; on a self-managed cluster, deploy amazon-eks-pod-identity-webhook. Then recreate the pods.',
          [sh`kubectl get mutatingwebhookconfigurations`],
          [LINKS.irsaTroubleshoot, 'https://github.com/aws/amazon-eks-pod-identity-webhook'],
        ),
      ),
    );
  }

  // The role the webhook injects for the annotation, as the pods show it (a composed role name included).
  const podArns = target.workloads.flatMap((w) => w.roleArns);
  let roleArn: string | undefined;
  if (annotation !== undefined) {
    roleArn = injectedRoleArn(annotation, podArns.find((a) => a.endsWith(`:role/${annotation}`)) ?? podArns[0]);
    const composedByPods = !annotation.includes('arn:') && roleArn !== annotation;
    const invalid = annotation.includes('arn:')
      ? !WEBHOOK_ARN.test(annotation)
      : !ROLE_NAME_OR_PATH.test(annotation) || (podArns.includes(annotation) && !composedByPods);
    if (invalid) {
      out.push(
        finding(
          'ROLE_ARN_INVALID',
          annotation.includes('arn:') || annotation === ''
            ? `ServiceAccount ${sa} has ${ROLE_ARN_ANNOTATION}="${annotation}", which is not an IAM role ARN (arn:PARTITION:iam::ACCOUNT:role/NAME): the webhook injects it anyway and STS rejects it.`
            : podArns.includes(annotation)
              ? `ServiceAccount ${sa} names the role "${annotation}" without an ARN, and its pods got AWS_ROLE_ARN=${annotation} verbatim: this webhook does not compose ARNs (--compose-role-arn), so STS rejects it.`
              : `ServiceAccount ${sa} has ${ROLE_ARN_ANNOTATION}="${annotation}", which is neither an IAM role ARN nor a role name or path/name.`,
          { serviceAccount: sa, annotation },
          remedy(
            "Annotate the ServiceAccount with the role's full ARN, then restart its workloads.",
            [
              sh`kubectl annotate serviceaccount ${serviceAccountArg(name)} -n ${namespaceArg(ns)} --overwrite ${ROLE_ARN_ANNOTATION}=arn:aws:iam::${placeholder('ACCOUNT_ID')}:role/${placeholder('ROLE_NAME')}`,
              ...target.workloads.flatMap((w) => recreateCommands(w.owner ?? undefined, ns, w.pod)),
            ],
            [LINKS.irsa],
          ),
        ),
      );
    }
  }

  if (annotation !== undefined && podIdentity) {
    out.push(
      finding(
        'BOTH_MECHANISMS_CONFIGURED',
        `ServiceAccount ${sa} has the IRSA annotation ${ROLE_ARN_ANNOTATION}=${annotation} and ${target.associations.length > 0 ? `an EKS Pod Identity association (${target.associations.map((a) => a.id).join(', ')})` : 'pods with EKS Pod Identity'}: the webhook injects only Pod Identity then, so the annotated role is not used.`,
        { serviceAccount: sa, annotatedRoleArn: annotation, associations: target.associations.map((a) => a.id) },
        remedy(
          'Keep one mechanism: remove the annotation (Pod Identity stays), or delete the association (IRSA takes over) and restart the workloads.',
          [
            sh`kubectl annotate serviceaccount ${serviceAccountArg(name)} -n ${namespaceArg(ns)} ${ROLE_ARN_ANNOTATION}-`,
            sh`aws eks list-pod-identity-associations --cluster-name ${placeholder('CLUSTER')} --namespace ${namespaceArg(ns)} --service-account ${serviceAccountArg(name)}`,
          ],
          [LINKS.podIdentity],
        ),
      ),
    );
  }

  if (
    context.associationsConsulted &&
    target.associations.length === 0 &&
    podIdentityPods.length > 0 &&
    annotation === undefined
  ) {
    out.push(
      finding(
        'POD_IDENTITY_NO_ASSOCIATION',
        `Pods of ${sa} (${podIdentityPods.map(describe).join(', ')}) run with EKS Pod Identity, but the EKS API lists no association for the ServiceAccount any more: the agent refuses their credentials, and new pods are not mutated at all.`,
        { serviceAccount: sa, workloads: podIdentityPods.map(describe) },
        remedy(
          'Create the association again (or annotate the ServiceAccount for IRSA), then restart the workloads.',
          [
            sh`aws eks create-pod-identity-association --cluster-name ${placeholder('CLUSTER')} --namespace ${namespaceArg(ns)} --service-account ${serviceAccountArg(name)} --role-arn ${placeholder('ROLE_ARN')}`,
            ...podIdentityPods.flatMap((w) => recreateCommands(w.owner ?? undefined, ns, w.pod)),
          ],
          [LINKS.podIdentity],
        ),
      ),
    );
  }

  const webhookOk = !(context.webhook.state === 'checked' && !context.webhook.value);
  for (const w of target.workloads) {
    const label = describe(w);
    if (w.mutation.skipLabel) {
      out.push(
        finding(
          'WEBHOOK_SKIP_LABEL',
          `Pod ${w.pod} of ${label} carries the label ${SKIP_WEBHOOK_LABEL}: the webhook leaves its pods alone, so they get no credentials from ${sa}.`,
          { pod: w.pod, workload: label },
          remedy(
            `Remove the label from the pod template of ${label}; the rollout that follows gives new pods the variables.`,
            [sh`kubectl get pod ${podArg(w.pod)} -n ${namespaceArg(ns)} --show-labels`],
          ),
        ),
      );
      continue;
    }
    // A pod without the role its ServiceAccount names now: created before the annotation, or before it changed.
    if (roleArn !== undefined && !podIdentity && webhookOk && !w.roleArns.includes(roleArn)) {
      const had = w.roleArns[0];
      const when = [
        ...(target.annotatedAt ? [`annotation written ${target.annotatedAt}`] : []),
        ...(w.podCreated ? [`pod created ${w.podCreated}`] : []),
      ].join(', ');
      out.push(
        finding(
          'SA_ROLE_CHANGED_RESTART_NEEDED',
          had
            ? `${label}: pod ${w.pod} has AWS_ROLE_ARN=${had}, but ServiceAccount ${sa} now names ${roleArn}: the annotation changed after the pod was created${when ? ` (${when})` : ''}; the webhook only sets the variables at pod creation. Restart it.`
            : `${label}: pod ${w.pod} has no IRSA variables, but ServiceAccount ${sa} names ${roleArn}: the pod was created before the annotation${when ? ` (${when})` : ''}; the webhook only acts at pod creation. Restart it.`,
          {
            serviceAccount: sa,
            workload: label,
            pod: w.pod,
            pods: w.pods,
            podCreated: w.podCreated ?? null,
            annotatedAt: target.annotatedAt ?? null,
            podRoleArn: had ?? null,
            annotatedRoleArn: roleArn,
          },
          remedy(
            `Recreate the pods of ${label} so the webhook injects the current role.`,
            recreateCommands(w.owner ?? undefined, ns, w.pod),
            [LINKS.irsaTroubleshoot],
          ),
        ),
      );
    }
    for (const c of w.mutation.notInjected) {
      out.push(
        finding(
          'CONTAINER_NOT_INJECTED',
          `${label}: container ${c.name} of pod ${w.pod} has no credentials from the webhook: ${c.why ?? 'skipped'}.`,
          { workload: label, pod: w.pod, container: c.name, reason: c.skip ?? null },
          remedy(
            c.skip === 'skip-containers'
              ? `Remove ${c.name} from the pod annotation ${SKIP_CONTAINERS_ANNOTATION} in the template of ${label} if it needs AWS access.`
              : `Remove the hand-set AWS variables from container ${c.name} in the template of ${label}, so the webhook injects the pair and the token mount.`,
            [sh`kubectl get pod ${podArg(w.pod)} -n ${namespaceArg(ns)} -o yaml`],
          ),
        ),
      );
    }
    if (w.staticKeys.length > 0 && w.mutation.mechanism !== 'none') {
      out.push(
        finding(
          'STATIC_CREDENTIALS_OVERRIDE',
          `${label}: container${w.staticKeys.length > 1 ? 's' : ''} ${w.staticKeys.join(', ')} of pod ${w.pod} set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the spec: static keys come first in every SDK's chain, so the role of ${sa} is never used.`,
          { workload: label, pod: w.pod, containers: w.staticKeys },
          remedy(`Remove the keys from the template of ${label} (and deactivate them in IAM).`, [
            sh`kubectl set env ${placeholder('WORKLOAD')} -n ${namespaceArg(ns)} AWS_ACCESS_KEY_ID- AWS_SECRET_ACCESS_KEY-`,
          ]),
        ),
      );
    }
  }
  return out;
}

function describe(w: WorkloadFacts): string {
  return w.owner ? describeOwner(w.owner) : `pod/${w.pod}`;
}

export function staticVerdict(findings: readonly StaticFinding[]): StaticVerdict {
  if (findings.some((f) => f.severity === 'error')) return 'broken';
  if (findings.some((f) => f.severity === 'warning')) return 'degraded';
  return 'not-verified';
}

/** The mechanism a ServiceAccount is set up for, as the API shows it. */
export function staticMechanism(target: TargetFacts): 'irsa' | 'pod-identity' | 'both' | 'none' {
  const irsa = target.roleArnAnnotation !== undefined || target.workloads.some((w) => w.mutation.mechanism === 'irsa');
  const pi =
    target.associations.length > 0 ||
    target.workloads.some((w) => w.mutation.mechanism === 'pod-identity' || w.mutation.mechanism === 'both');
  return irsa && pi ? 'both' : irsa ? 'irsa' : pi ? 'pod-identity' : 'none';
}

/** How to get new pods for every workload of the ServiceAccount: one rollout (or delete) per owner. */
export function restartCommands(target: TargetFacts) {
  return target.workloads.flatMap((w) => recreateCommands(w.owner ?? undefined, target.namespace, w.pod));
}
