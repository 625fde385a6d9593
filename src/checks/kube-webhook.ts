import type { V1MutatingWebhook, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { readPodSelf } from '../context/pod-self';
import type { Context } from '../context/context';
import type { KubeClient, KubeUnavailable, Wire } from '../kube/client';
import { KubeApiError, isUnavailable, kubeClientFor } from '../kube/client';
import type { Check, CheckOutcome } from '../run/types';
import { knownDetails, kubeconfigCommandFindings, outcomeOfKubeFailure } from './kube-remedies';
import { LINKS, SKIP_WEBHOOK_LABEL_KEY, remedy } from './remedies';
import { sh } from './shell';

export const WEBHOOK_CONFIGURATION = 'pod-identity-webhook';
/** The webhook entry's name on EKS, and in the self-hosted manifest (docs/mechanics.md 1.6). */
const WEBHOOK_ENTRY_NAMES: readonly string[] = ['iam-for-pods.amazonaws.com', 'pod-identity-webhook.amazonaws.com'];

export interface KubeWebhookOutput {
  readonly configurationName: string;
  readonly failurePolicy: string | undefined;
  /** The webhook's objectSelector excludes pods with the eks.amazonaws.com/skip-pod-identity-webhook label. */
  readonly skipLabelSelector: boolean;
}

/**
 * The pod-identity-webhook MutatingWebhookConfiguration. It is cluster-scoped, and a workload's
 * ServiceAccount usually may not read it: then this check is `skip`, never `fail`.
 */
export const kubeWebhook: Check<'kube.webhook'> = {
  id: 'kube.webhook',
  title: 'The pod-identity-webhook configuration (Kubernetes API)',
  stage: 'kube',
  dependsOn: [],
  needs: 'kube',
  timeoutMs: 6_000,
  async run(ctx, _upstream, signal) {
    const client = await kubeClientFor(ctx);
    // The kube check that always builds the client reports what its kubeconfig would have run: once per run.
    const notRun = kubeconfigCommandFindings(client, await readPodSelf(ctx));
    const outcome = await webhookOutcome(ctx, client, signal);
    return notRun.length > 0 ? { ...outcome, findings: [...(outcome.findings ?? []), ...notRun] } : outcome;
  },
};

async function webhookOutcome(
  ctx: Context,
  client: KubeClient | KubeUnavailable,
  signal: AbortSignal,
): Promise<CheckOutcome<KubeWebhookOutput>> {
  if (isUnavailable(client)) return { status: 'skip', summary: `skipped: ${client.unavailable}` };

  let configuration: Wire<V1MutatingWebhookConfiguration> | undefined;
  let note = '';
  try {
    configuration = await client.readMutatingWebhookConfiguration(WEBHOOK_CONFIGURATION, signal);
  } catch (error) {
    if (!(error instanceof KubeApiError && error.kind === 'not-found')) {
      const self = await readPodSelf(ctx);
      return outcomeOfKubeFailure(error, 'webhook', self);
    }
    // Not under its usual name: a renamed copy still counts if it carries the webhook's entry.
    try {
      const list = await client.listMutatingWebhookConfigurations(signal);
      configuration = list.items.find((c) => (c.webhooks ?? []).some((w) => WEBHOOK_ENTRY_NAMES.includes(w.name)));
      if (configuration) note = ` (found under the name ${configuration.metadata?.name ?? '?'})`;
    } catch (listError) {
      if (!(listError instanceof KubeApiError)) throw listError;
      note = ` (could not list the others: ${listError.kind})`;
    }
  }

  if (!configuration) {
    return {
      status: 'fail',
      summary: `no MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION}${note}: nothing injects IRSA or Pod Identity variables into new pods`,
      findings: [
        {
          code: 'WEBHOOK_MISSING',
          summary: `The cluster has no ${WEBHOOK_CONFIGURATION} MutatingWebhookConfiguration${note}, so no new pod gets AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE or the Pod Identity variables, whatever the ServiceAccount says. On EKS the control plane manages this object; it was deleted or replaced.`,
          evidence: { configuration: WEBHOOK_CONFIGURATION },
          remedy: remedy(
            'On EKS, restore the managed webhook configuration (AWS support or the re:Post article below describe it); on a self-managed cluster, deploy amazon-eks-pod-identity-webhook. Then recreate the pods.',
            [
              sh`kubectl get mutatingwebhookconfigurations`,
              sh`kubectl get mutatingwebhookconfiguration ${WEBHOOK_CONFIGURATION} -o yaml`,
            ],
            [LINKS.irsaTroubleshoot, 'https://github.com/aws/amazon-eks-pod-identity-webhook'],
          ),
        },
      ],
    };
  }

  const name = configuration.metadata?.name ?? WEBHOOK_CONFIGURATION;
  const entry =
    (configuration.webhooks ?? []).find((w) => WEBHOOK_ENTRY_NAMES.includes(w.name)) ?? configuration.webhooks?.[0];
  const failurePolicy = entry?.failurePolicy;
  const output: KubeWebhookOutput = {
    configurationName: name,
    failurePolicy,
    skipLabelSelector: honoursSkipLabel(configuration),
  };
  // failurePolicy Ignore (the EKS default) lets pods through unmutated when the webhook times out or fails,
  // with nothing in the pod's events (docs/mechanics.md 1.6).
  const ignoreNote =
    failurePolicy === 'Ignore' ? '; failurePolicy Ignore: a webhook failure lets pods start unmutated, silently' : '';
  return {
    status: 'pass',
    summary: `${name}${note} is present (webhook ${entry?.name ?? '?'})${ignoreNote}`,
    output,
    details: knownDetails({
      configuration: name,
      webhook: entry?.name ?? null,
      failurePolicy: failurePolicy ?? null,
      rules: entry ? rulesWords(entry) : null,
      objectSelector: entry?.objectSelector ? JSON.stringify(entry.objectSelector) : null,
      namespaceSelector: entry?.namespaceSelector ? JSON.stringify(entry.namespaceSelector) : null,
      clientConfig:
        entry?.clientConfig.url ??
        (entry?.clientConfig.service
          ? `service ${entry.clientConfig.service.namespace}/${entry.clientConfig.service.name}`
          : null),
      timeoutSeconds: entry?.timeoutSeconds ?? null,
      reinvocationPolicy: entry?.reinvocationPolicy ?? null,
    }),
  };
}

/**
 * Whether the webhook's objectSelector excludes pods with the skip label (deploy/mutatingwebhook.yaml:
 * DoesNotExist). The label means nothing without it; some EKS clusters show an empty selector
 * (docs/mechanics.md 1.6).
 */
export function honoursSkipLabel(configuration: Wire<V1MutatingWebhookConfiguration>): boolean {
  const entry =
    (configuration.webhooks ?? []).find((w) => WEBHOOK_ENTRY_NAMES.includes(w.name)) ?? configuration.webhooks?.[0];
  return (entry?.objectSelector?.matchExpressions ?? []).some(
    (e) => e.key === SKIP_WEBHOOK_LABEL_KEY && e.operator === 'DoesNotExist',
  );
}

function rulesWords(entry: Wire<V1MutatingWebhook>): string {
  return (entry.rules ?? [])
    .map((r) =>
      `${(r.operations ?? []).join('/')} ${(r.resources ?? []).join(',')} ${(r.apiVersions ?? []).join(',')}`.trim(),
    )
    .join('; ');
}
