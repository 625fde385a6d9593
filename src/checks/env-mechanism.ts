import {
  AWS_ACCESS_KEY_ID,
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
  AWS_CONTAINER_CREDENTIALS_FULL_URI,
  AWS_ROLE_ARN,
  AWS_SECRET_ACCESS_KEY,
  AWS_WEB_IDENTITY_TOKEN_FILE,
} from '../aws/env-names';
import { readPodSelf } from '../context/pod-self';
import type { Check, FindingInput, Mechanism } from '../run/types';
import {
  LINKS,
  SKIP_WEBHOOK_LABEL_KEY,
  podRemedy,
  recreateWorkload,
  remedy,
  removeSkipLabelCommands,
} from './remedies';
import { namespaceArg, placeholder, serviceAccountArg, sh } from './shell';

export interface MechanismOutput {
  readonly mechanism: Mechanism;
  /** Any IRSA variable is present (complete or not). */
  readonly irsa: boolean;
  /** Any Pod Identity variable is present (complete or not). */
  readonly podIdentity: boolean;
  readonly staticKeys: boolean;
  /** This is a debug container and that process of another container has the AWS variables (EPHEMERAL_CONTAINER). */
  readonly injectedPeerPid?: number;
}

/**
 * Which mechanism this container is set up for, from the variables the webhook injects
 * (docs/mechanics.md 1.3). When both sets are present (only possible when hand-set), every SDK
 * uses web identity first, so IRSA is the mechanism in effect.
 */
export const envMechanism: Check<'env.mechanism'> = {
  id: 'env.mechanism',
  title: 'Credential mechanism in the environment',
  stage: 'env',
  dependsOn: [],
  async run(ctx) {
    const irsa = Boolean(ctx.env[AWS_ROLE_ARN] || ctx.env[AWS_WEB_IDENTITY_TOKEN_FILE]);
    const podIdentity = Boolean(
      ctx.env[AWS_CONTAINER_CREDENTIALS_FULL_URI] || ctx.env[AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE],
    );
    const staticKeys = Boolean(ctx.env[AWS_ACCESS_KEY_ID] && ctx.env[AWS_SECRET_ACCESS_KEY]);
    const mechanism: Mechanism = irsa ? 'irsa' : podIdentity ? 'pod-identity' : staticKeys ? 'static-keys' : 'none';
    const output: MechanismOutput = { mechanism, irsa, podIdentity, staticKeys };
    const facts = { mechanism };

    if (irsa && podIdentity) {
      return {
        status: 'warn',
        summary: 'both IRSA and Pod Identity variables are set; every SDK uses IRSA (web identity) first',
        output,
        facts,
        findings: [
          {
            code: 'BOTH_MECHANISMS_CONFIGURED',
            summary:
              'This container has both IRSA (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE) and Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI) variables. The webhook never injects both, so one set was added by hand; SDKs use the IRSA role and ignore the Pod Identity association.',
            remedy: remedy(
              'Keep one mechanism: remove the hand-set variables from the pod spec, then recreate the pod.',
              [
                sh`kubectl get pod ${placeholder('POD')} -o yaml | grep -n -E "AWS_ROLE_ARN|AWS_WEB_IDENTITY_TOKEN_FILE|AWS_CONTAINER_"`,
              ],
              [LINKS.podIdentity],
            ),
          },
        ],
      };
    }
    if (irsa || podIdentity) {
      const which = irsa ? 'IRSA (web identity)' : 'EKS Pod Identity';
      return { status: 'pass', summary: `set up for ${which}`, output, facts };
    }

    const self = await readPodSelf(ctx);
    const saWord = serviceAccountArg(self.serviceAccount);
    const nsWord = namespaceArg(self.namespace);
    // A kubectl debug container shares the app's process namespace but never gets the webhook's env
    // (docs/mechanics.md 1.3): if another container of the pod has the variables, say so.
    const injectedPeers =
      ctx.options.targetPid === undefined
        ? (await ctx.peers()).filter((p) =>
            p.awsEnvNames?.some((n) => n === AWS_ROLE_ARN || n === AWS_CONTAINER_CREDENTIALS_FULL_URI),
          )
        : [];
    if (injectedPeers.length > 0) {
      const peer = injectedPeers[0] as (typeof injectedPeers)[number];
      return {
        status: 'fail',
        summary: `this container has no AWS variables, but process ${peer.pid} of another container does: diagnose it with --target`,
        output: { ...output, injectedPeerPid: peer.pid },
        facts,
        findings: [
          {
            code: 'EPHEMERAL_CONTAINER',
            summary: `This looks like a debug (ephemeral) container: the webhook never mutates those, so it has no IRSA or Pod Identity variables, while process ${peer.pid} (${peer.command.slice(0, 80)}) of another container has them. Diagnose that container instead of this one.`,
            evidence: { pid: peer.pid, command: peer.command.slice(0, 200), variables: peer.awsEnvNames ?? [] },
            remedy: remedy('Re-run irsa-doctor against the app container through /proc.', [
              sh`irsa-doctor --target ${peer.pid}`,
              sh`irsa-doctor --target auto`,
            ]),
          },
        ],
      };
    }
    const finding: FindingInput = {
      code: 'IRSA_ENV_MISSING',
      summary: `Neither IRSA (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE) nor Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI) variables are set${staticKeys ? ' (only static keys are)' : ''}: the webhook did not mutate this container. Usual causes: the ServiceAccount${self.serviceAccount ? ` "${self.serviceAccount}"` : ''} has no eks.amazonaws.com/role-arn annotation, the pod was created before the annotation or association, the container is listed in skip-containers, or this is an ephemeral debug container (use --target).`,
      evidence: {
        namespace: self.namespace ?? null,
        serviceAccount: self.serviceAccount ?? null,
        pod: self.podName ?? null,
      },
      ...podRemedy({ namespace: self.namespace, podName: self.podName }, (pod) =>
        pod.skipLabel
          ? remedy(
              `The pod carries the ${SKIP_WEBHOOK_LABEL_KEY} label, so the webhook skips it: remove the label from the pod template (a recreated pod keeps it).`,
              removeSkipLabelCommands(pod),
              [LINKS.irsa],
            )
          : remedy(
              'Annotate the ServiceAccount with the role (IRSA) or create a Pod Identity association, then recreate the pod so the webhook injects the variables.',
              [
                sh`kubectl get serviceaccount ${saWord} -n ${nsWord} -o jsonpath='{.metadata.annotations}'`,
                sh`kubectl annotate serviceaccount ${saWord} -n ${nsWord} eks.amazonaws.com/role-arn=arn:aws:iam::${placeholder('ACCOUNT_ID')}:role/${placeholder('ROLE_NAME')}`,
                sh`aws eks create-pod-identity-association --cluster-name ${placeholder('CLUSTER')} --namespace ${nsWord} --service-account ${saWord} --role-arn arn:aws:iam::${placeholder('ACCOUNT_ID')}:role/${placeholder('ROLE_NAME')}   # or, for Pod Identity`,
                ...recreateWorkload(pod),
              ],
              [LINKS.irsa, LINKS.irsaTroubleshoot],
            ),
      ),
    };
    return {
      status: 'fail',
      summary: staticKeys ? 'only static keys: no IRSA or Pod Identity variables' : 'no IRSA or Pod Identity variables',
      output,
      facts,
      findings: [finding],
    };
  },
};
