import { parseRoleArn } from '../aws/arn';
import { AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_ROLE_ARN, IRSA_AUDIENCE } from '../aws/env-names';
import { readPodSelf } from '../context/pod-self';
import { KubeApiError, isUnavailable, kubeClientFor } from '../kube/client';
import type { Check, FindingInput } from '../run/types';
import type { KubePodOutput } from './kube-pod';
import { describeOwner, knownDetails, outcomeOfKubeFailure, recreateCommands } from './kube-remedies';
import { LINKS, remedy } from './remedies';
import { namespaceArg, placeholder, roleArnArg, serviceAccountArg, sh } from './shell';

export const ROLE_ARN_ANNOTATION = 'eks.amazonaws.com/role-arn';
export const AUDIENCE_ANNOTATION = 'eks.amazonaws.com/audience';
export const STS_REGIONAL_ANNOTATION = 'eks.amazonaws.com/sts-regional-endpoints';
export const TOKEN_EXPIRATION_ANNOTATION = 'eks.amazonaws.com/token-expiration';

export interface KubeServiceAccountOutput {
  readonly name: string;
  readonly roleArn: string | undefined;
  /** The audience new IRSA pods get: the annotation, else the webhook's default. */
  readonly audience: string;
  readonly stsRegionalEndpoints: string | undefined;
  readonly tokenExpiration: string | undefined;
}

/**
 * The pod's ServiceAccount and its eks.amazonaws.com/* annotations, compared with what this pod got.
 * The webhook only acts on pod creation (docs/mechanics.md 1.5): an annotation added or changed later shows up as a
 * difference between the ServiceAccount and the pod's AWS_ROLE_ARN, and only a new pod fixes it.
 */
export const kubeServiceAccount: Check<'kube.serviceaccount'> = {
  id: 'kube.serviceaccount',
  title: "The ServiceAccount's IRSA annotations (Kubernetes API)",
  stage: 'kube',
  dependsOn: [],
  // The pod as kube.pod read it, also when kube.pod found it broken (a skip label, its own token volume):
  // the ServiceAccount still has its own say. A missing webhook explains a pod without variables better
  // than a late annotation does.
  uses: ['kube.pod', 'kube.webhook'],
  needs: 'kube',
  async run(ctx, upstream, signal) {
    const pod = upstream.output('kube.pod');
    if (!pod) return { status: 'skip', summary: 'skipped: kube.pod did not read the pod' };
    const client = await kubeClientFor(ctx);
    if (isUnavailable(client)) return { status: 'skip', summary: `skipped: ${client.unavailable}` };
    const { namespace, podName, serviceAccountName: name, owner, mutation } = pod;

    let sa;
    try {
      sa = await client.readServiceAccount(namespace, name, signal);
    } catch (error) {
      if (error instanceof KubeApiError && error.kind === 'not-found') {
        return {
          status: 'error',
          summary: `ServiceAccount ${namespace}/${name} named by the pod does not exist (deleted after the pod started?)`,
        };
      }
      const self = await readPodSelf(ctx);
      return outcomeOfKubeFailure(error, 'namespace', { namespace, serviceAccount: self.serviceAccount ?? name });
    }

    const annotations = sa.metadata?.annotations ?? {};
    const annotated = annotations[ROLE_ARN_ANNOTATION] || undefined;
    // The role the webhook injects for this annotation: the value itself, or an ARN it composed from a
    // role name (cache.go addSA, --compose-role-arn).
    const podRoleArn = ctx.env[AWS_ROLE_ARN] ?? pod.specRoleArn;
    const roleArn = annotated === undefined ? undefined : injectedRoleArn(annotated, podRoleArn);
    const output: KubeServiceAccountOutput = {
      name,
      roleArn,
      audience: annotations[AUDIENCE_ANNOTATION] || IRSA_AUDIENCE,
      stsRegionalEndpoints: annotations[STS_REGIONAL_ANNOTATION],
      tokenExpiration: annotations[TOKEN_EXPIRATION_ANNOTATION],
    };
    const details = knownDetails({
      serviceAccount: `${namespace}/${name}`,
      roleArn:
        annotated === undefined
          ? null
          : annotated === roleArn
            ? annotated
            : `${annotated} (a role name: the webhook composes ${roleArn} from the cluster's partition and account)`,
      audience: annotations[AUDIENCE_ANNOTATION] ?? `${IRSA_AUDIENCE} (default)`,
      stsRegionalEndpoints: annotations[STS_REGIONAL_ANNOTATION] ?? null,
      tokenExpiration: tokenExpirationWords(annotations[TOKEN_EXPIRATION_ANNOTATION]),
      podRoleArn: ctx.env[AWS_ROLE_ARN] ?? pod.specRoleArn ?? null,
      owner: describeOwner(owner),
    });
    const restart = recreateCommands(owner, namespace, podName);
    const audience = audienceVerdict(mutation, output.audience, annotations[AUDIENCE_ANNOTATION] !== undefined);
    if (audience.note) details.audience = audience.note;
    const podIdentity =
      Boolean(ctx.env[AWS_CONTAINER_CREDENTIALS_FULL_URI]) ||
      mutation.mechanism === 'pod-identity' ||
      mutation.mechanism === 'both';

    if (podIdentity) {
      if (!roleArn) {
        return {
          status: 'pass',
          summary: `ServiceAccount ${name} has no IRSA annotation; the pod uses EKS Pod Identity`,
          output,
          details,
        };
      }
      // The webhook injects only the Pod Identity variables when an association exists (docs/mechanics.md 1.3, 5).
      const finding: FindingInput = {
        code: 'BOTH_MECHANISMS_CONFIGURED',
        summary: `ServiceAccount ${namespace}/${name} has the IRSA annotation ${ROLE_ARN_ANNOTATION}=${roleArn}, but this pod got EKS Pod Identity: when both are configured the webhook injects only Pod Identity, so the annotated role is not used by new pods.`,
        evidence: { serviceAccount: `${namespace}/${name}`, annotatedRoleArn: roleArn },
        remedy: remedy(
          'Keep one mechanism: remove the annotation (Pod Identity stays), or delete the Pod Identity association (IRSA takes over) and recreate the pod.',
          [
            sh`kubectl annotate serviceaccount ${serviceAccountArg(name)} -n ${namespaceArg(namespace)} ${ROLE_ARN_ANNOTATION}-`,
            sh`aws eks list-pod-identity-associations --cluster-name ${placeholder('CLUSTER')} --namespace ${namespaceArg(namespace)} --service-account ${serviceAccountArg(name)}`,
            sh`aws eks delete-pod-identity-association --cluster-name ${placeholder('CLUSTER')} --association-id ${placeholder('ASSOCIATION_ID')}   # only to go back to IRSA`,
            ...restart,
          ],
          [LINKS.podIdentity],
        ),
      };
      return {
        status: 'warn',
        summary: 'both the IRSA annotation and EKS Pod Identity are configured; Pod Identity wins',
        output,
        details,
        findings: [finding],
      };
    }

    // The role this pod actually got: our own env, or (in a debug container) what the webhook wrote into
    // the app containers.
    const podRole = podRoleArn;
    if (!podRole && pod.skippedByLabel) {
      return {
        status: 'pass',
        summary: `ServiceAccount ${name} ${roleArn ? `names ${roleArn}` : 'has no role annotation'}; the pod was not mutated because it carries the skip label (see kube.pod)`,
        output,
        details,
      };
    }
    if (!roleArn) {
      const finding: FindingInput = {
        code: 'SA_ANNOTATION_MISSING',
        summary: podRole
          ? `ServiceAccount ${namespace}/${name} no longer has the ${ROLE_ARN_ANNOTATION} annotation. This pod still has AWS_ROLE_ARN=${podRole} from when it was created, but the next pod of ${describeOwner(owner)} will start without IRSA.`
          : `ServiceAccount ${namespace}/${name} has no ${ROLE_ARN_ANNOTATION} annotation, so the webhook gives its pods no IRSA variables and no token.`,
        evidence: {
          serviceAccount: `${namespace}/${name}`,
          annotations: prefixed(annotations),
          podRoleArn: podRole ?? null,
        },
        remedy: remedy(
          `Annotate the ServiceAccount with the IAM role, then recreate the pod (${describeOwner(owner)}) so the webhook injects the variables.`,
          [
            sh`kubectl annotate serviceaccount ${serviceAccountArg(name)} -n ${namespaceArg(namespace)} ${ROLE_ARN_ANNOTATION}=${roleArnArg(podRole)}`,
            ...restart,
          ],
          [LINKS.irsa, LINKS.irsaTroubleshoot],
        ),
      };
      return {
        status: 'fail',
        summary: `ServiceAccount ${name} has no ${ROLE_ARN_ANNOTATION} annotation`,
        output,
        details,
        findings: [finding],
      };
    }

    if (!podRole && upstream.status('kube.webhook') === 'fail') {
      return {
        status: 'pass',
        summary: `ServiceAccount ${name} names ${roleArn}; the pod has no IRSA variables because the webhook configuration is missing (kube.webhook)`,
        output,
        details,
      };
    }
    if (podRole !== roleArn) {
      const finding: FindingInput = {
        code: 'SA_ROLE_CHANGED_RESTART_NEEDED',
        summary: podRole
          ? `ServiceAccount ${namespace}/${name} now names role ${roleArn}, but this pod has AWS_ROLE_ARN=${podRole}: the annotation changed after the pod was created, and the webhook only sets the variables when a pod is created. Recreate the pod to use the new role (unless AWS_ROLE_ARN is set by hand in the pod spec).`
          : `ServiceAccount ${namespace}/${name} names role ${roleArn}, but this pod has no IRSA variables: the annotation was added after the pod was created (or the webhook did not see it in time), and the webhook only acts on pod creation.`,
        evidence: {
          serviceAccount: `${namespace}/${name}`,
          annotatedRoleArn: roleArn,
          podRoleArn: podRole ?? null,
          owner: describeOwner(owner),
        },
        remedy: remedy(`Recreate the pod (${describeOwner(owner)}) so the webhook injects the current role.`, restart, [
          LINKS.irsaTroubleshoot,
        ]),
      };
      return {
        status: 'fail',
        summary: podRole
          ? `the ServiceAccount names ${roleArn}, the pod has ${podRole}: restart needed`
          : `the ServiceAccount names ${roleArn}, the pod has no IRSA variables: restart needed`,
        output,
        details,
        findings: [finding],
      };
    }
    if (audience.finding) {
      return {
        status: 'warn',
        summary: `the pod's token audience is not the ServiceAccount's ${output.audience}: new pods get that one`,
        output,
        details,
        findings: [
          {
            ...audience.finding,
            remedy: remedy(
              `If the ServiceAccount's audience ${output.audience} is the one you want, recreate the pod (${describeOwner(owner)}) so the webhook projects a token with it (the IAM OIDC provider must list it as a client ID, and the trust policy's :aud must name it); otherwise fix the ${AUDIENCE_ANNOTATION} annotation before the next rollout.`,
              restart,
              [LINKS.irsaTroubleshoot],
            ),
          },
        ],
      };
    }
    return {
      status: 'pass',
      summary: `ServiceAccount ${name} names ${annotated === roleArn ? roleArn : `${annotated} (${roleArn})`}, the role this pod has`,
      output,
      details,
    };
  },
};

/**
 * The AWS_ROLE_ARN the webhook injects for an eks.amazonaws.com/role-arn value. A value without "arn:" is
 * a role name or path/name, which a webhook run with --compose-role-arn turns into
 * arn:PARTITION:iam::ACCOUNT:role/VALUE with the cluster's own partition and account (cache.go addSA); a pod
 * created that way carries that ARN, so its partition and account are the cluster's. Without such an ARN to
 * go by (or a webhook that does not compose, which injects the value verbatim), the value stands as it is.
 */
export function injectedRoleArn(annotation: string, podRoleArn: string | undefined): string {
  if (annotation.includes('arn:')) return annotation;
  const pod = podRoleArn === undefined ? undefined : parseRoleArn(podRoleArn);
  if (pod && podRoleArn === `arn:${pod.partition}:iam::${pod.account}:role/${annotation}`) return podRoleArn;
  return pod ? `arn:${pod.partition}:iam::${pod.account}:role/${annotation}` : annotation;
}

interface AudienceVerdict {
  /** A detail line: what the audience is. */
  readonly note?: string;
  /** The pod's token has another audience than the ServiceAccount now asks for. */
  readonly finding?: Omit<FindingInput, 'remedy'>;
}

/**
 * The audience of the pod's projected IRSA token (the volume the webhook wrote at creation from the
 * eks.amazonaws.com/audience annotation, or sts.amazonaws.com: cache.go addSA, handler.go getPodSpecPatch)
 * against what the ServiceAccount asks for now. Any audience can work: whether this one does is what STS says
 * (sts.assume-role), so a difference is a warning about the pods to come, never a root cause.
 */
function audienceVerdict(mutation: KubePodOutput['mutation'], expected: string, annotated: boolean): AudienceVerdict {
  if (mutation.mechanism !== 'irsa') return {};
  const podAud = mutation.tokenVolumes.find((v) => v.mechanism === 'irsa' && v.projectedToken)?.audience;
  if (podAud === undefined) return {};
  if (podAud === expected) {
    return expected === IRSA_AUDIENCE
      ? {}
      : {
          note: `${expected} (${AUDIENCE_ANNOTATION}): it works when the IAM OIDC provider lists it as a client ID and the trust policy's :aud names it, which sts.assume-role shows`,
        };
  }
  return {
    finding: {
      code: 'SA_AUDIENCE_CHANGED',
      summary: `The pod's token has audience "${podAud}", but its ServiceAccount now asks for "${expected}"${annotated ? ` (${AUDIENCE_ANNOTATION})` : ' (no audience annotation: the default)'}: the annotation changed after the pod was created (the webhook sets the audience only at creation). This pod keeps "${podAud}"; whether STS accepts it, sts.assume-role shows. Pods created from now on get "${expected}".`,
      evidence: { podTokenAudience: podAud, serviceAccountAudience: expected, annotated },
    },
  };
}

function prefixed(annotations: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(annotations).filter(([k]) => k.startsWith('eks.amazonaws.com/')));
}

/** Below 600 s the webhook raises the value to 600; invalid values are ignored (docs/mechanics.md 1.1). */
function tokenExpirationWords(value: string | undefined): string | null {
  if (value === undefined) return null;
  if (!/^\d+$/.test(value)) return `${value} (not an integer: ignored by the webhook, 86400 is used)`;
  return Number(value) < 600 ? `${value} (raised to 600 by the webhook)` : value;
}
