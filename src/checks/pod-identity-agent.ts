import type { AgentAnswer, AgentAttempt } from '../aws/agent-client';
import { AGENT_TIMEOUT_MS, callAgent } from '../aws/agent-client';
import { NetError, describeNetFailure } from '../aws/http';
import { getCallerIdentity, jsStsTarget } from '../aws/sts-client';
import { classifyStsError } from '../aws/sts-errors';
import type { Check, CheckOutcome, FindingInput, Remedy } from '../run/types';
import type { PodIdentityAgentOutput, TokenClaimsOutput } from './outputs';
import { LINKS, deletePodCommand, ns, remedy } from './remedies';

const SDK_MASK =
  'The JS SDK hides this behind "169.254.170.23 is not a valid container metadata service hostname" (its fallback provider only accepts loopback), so apps log that instead of the real cause.';

/** The trust policy a Pod Identity role needs (docs/mechanics.md 3.4, 5). */
export const POD_IDENTITY_TRUST_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Service: 'pods.eks.amazonaws.com' },
      Action: ['sts:AssumeRole', 'sts:TagSession'],
    },
  ],
};

function who(claims: TokenClaimsOutput | undefined): { namespace: string; serviceAccount: string } {
  return { namespace: ns(claims?.namespace), serviceAccount: claims?.serviceAccount ?? '<SERVICE_ACCOUNT>' };
}

function listAssociations(claims: TokenClaimsOutput | undefined): string {
  const { namespace, serviceAccount } = who(claims);
  return `aws eks list-pod-identity-associations --cluster-name <CLUSTER> --namespace ${namespace} --service-account ${serviceAccount}`;
}

function remedyFor(answer: Extract<AgentAnswer, { kind: 'refused' }>, claims: TokenClaimsOutput | undefined): Remedy {
  const { namespace, serviceAccount } = who(claims);
  switch (answer.code) {
    case 'POD_IDENTITY_ACCESS_DENIED':
      return remedy(
        'Let EKS assume the associated role: its trust policy needs Principal Service pods.eks.amazonaws.com with both sts:AssumeRole and sts:TagSession. update-assume-role-policy replaces the whole document: merge with the statements you keep.',
        [
          listAssociations(claims),
          'aws iam get-role --role-name <ROLE_NAME> --query Role.AssumeRolePolicyDocument',
          `aws iam update-assume-role-policy --role-name <ROLE_NAME> --policy-document '${JSON.stringify(POD_IDENTITY_TRUST_POLICY)}'`,
        ],
        [LINKS.podIdentity],
      );
    case 'POD_IDENTITY_NO_ASSOCIATION':
      return remedy(
        `Create a Pod Identity association for namespace ${namespace} and ServiceAccount ${serviceAccount} (and check the role it names still exists).`,
        [
          listAssociations(claims),
          `aws eks create-pod-identity-association --cluster-name <CLUSTER> --namespace ${namespace} --service-account ${serviceAccount} --role-arn arn:aws:iam::<ACCOUNT_ID>:role/<ROLE_NAME>`,
        ],
        [LINKS.podIdentity],
      );
    case 'POD_IDENTITY_TOKEN_REJECTED':
      return remedy(
        'Recreate the pod so the kubelet projects a fresh Pod Identity token, and check that AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE points at it.',
        [deletePodCommand(claims?.namespace, claims?.podName, 'its controller recreates it')],
        [LINKS.podIdentity],
      );
    default:
      return agentUnreachableRemedy(claims);
  }
}

function agentUnreachableRemedy(claims: TokenClaimsOutput | undefined): Remedy {
  return remedy(
    'Make the agent reachable: the eks-pod-identity-agent DaemonSet must run on this node; the pod must not use hostNetwork; NO_PROXY must include 169.254.170.23 and fd00:ec2::23 when a proxy is set; no iptables/NetworkPolicy may drop 169.254.170.23:80; the node needs IPv6 enabled unless the agent runs IPv4-only.',
    [
      'kubectl get daemonset eks-pod-identity-agent -n kube-system',
      `kubectl get pod ${claims?.podName ?? '<POD>'} -n ${ns(claims?.namespace)} -o jsonpath={.spec.hostNetwork}`,
      'aws eks create-addon --cluster-name <CLUSTER> --addon-name eks-pod-identity-agent',
    ],
    [LINKS.podIdentity],
  );
}

function describeAttempt(a: AgentAttempt): string {
  return a.outcome instanceof NetError
    ? describeNetFailure(a.outcome)
    : a.outcome.kind === 'credentials'
      ? 'credentials issued'
      : `HTTP ${a.outcome.status}: ${a.outcome.body}`;
}

/**
 * pod-identity.agent: asks the EKS Pod Identity agent for credentials exactly as an SDK would, and maps its
 * answer (docs/mechanics.md 5). The credentials prove themselves with one GetCallerIdentity and are dropped.
 */
export const podIdentityAgent: Check<'pod-identity.agent'> = {
  id: 'pod-identity.agent',
  title: 'EKS Pod Identity agent',
  stage: 'sts',
  dependsOn: ['env.pod-identity', 'token.file'],
  uses: ['env.region', 'token.claims'],
  needs: 'network',
  timeoutMs: 2 * AGENT_TIMEOUT_MS + 5_500,
  async run(ctx, upstream, signal): Promise<CheckOutcome<PodIdentityAgentOutput>> {
    const env = upstream.output('env.pod-identity');
    const tokenFile = upstream.output('token.file');
    if (!env || !tokenFile) return { status: 'skip', summary: 'skipped: no Pod Identity URI or token' };
    const claims = upstream.output('token.claims');
    const attempts = await callAgent(ctx.net, env.fullUri, tokenFile.token, signal);
    const tried = Object.fromEntries(attempts.map((a) => [a.url, describeAttempt(a)]));
    const details: Record<string, string> = { uri: env.fullUri };
    attempts.forEach((a, i) => (details[`attempt${i + 1}`] = `${a.url}: ${describeAttempt(a)}`));
    const [first, second] = attempts;
    // The app calls the URI as given: an answer on the IPv6 address alone does not help it.
    if (!first || first.outcome instanceof NetError) {
      const v6Alive = second !== undefined && !(second.outcome instanceof NetError);
      // Something accepted the connection but its answer never arrived whole: not a missing agent.
      const partial =
        first?.outcome instanceof NetError && ['read-timeout', 'truncated', 'reset'].includes(first.outcome.kind);
      const finding: FindingInput = {
        code: 'POD_IDENTITY_AGENT_UNREACHABLE',
        summary: `No answer from the Pod Identity agent at ${env.fullUri} (${first ? describeAttempt(first) : 'not tried'}).${
          v6Alive
            ? ` It does answer on [fd00:ec2::23] (${describeAttempt(second)}), so the agent runs and only the IPv4 path is blocked (iptables, a NetworkPolicy, a proxy).`
            : partial
              ? ' The connection was accepted, so something listens there: a hung or overloaded agent (see its pod on this node: kubectl logs -n kube-system -l app.kubernetes.io/name=eks-pod-identity-agent), or a proxy in between when 169.254.170.23 is missing from NO_PROXY.'
              : ` Usual causes: the eks-pod-identity-agent add-on is not installed or not running on this node, the pod uses hostNetwork, a proxy without 169.254.170.23 in NO_PROXY, iptables or a NetworkPolicy dropping 169.254.170.23:80, or IPv6 disabled on the node.`
        } ${SDK_MASK}`,
        evidence: { tried },
        remedy: agentUnreachableRemedy(upstream.output('token.claims')),
      };
      return {
        status: 'fail',
        summary: `no answer from the Pod Identity agent: ${first ? describeAttempt(first) : 'not tried'}`,
        details,
        findings: [finding],
      };
    }
    const answered = first;
    const outcome = answered.outcome as AgentAnswer;
    if (outcome.kind === 'refused') {
      const finding: FindingInput = {
        code: outcome.code,
        summary: `The Pod Identity agent answered HTTP ${outcome.status} "${outcome.body}". ${outcome.explanation} ${SDK_MASK}`,
        evidence: { tried, status: outcome.status, body: outcome.body },
        remedy: remedyFor(outcome, claims),
      };
      return {
        status: outcome.code === 'STS_THROTTLED' ? 'warn' : 'fail',
        summary:
          outcome.status === 200
            ? 'the agent answered HTTP 200 without credentials'
            : `the agent refused: HTTP ${outcome.status}`,
        details,
        findings: [finding],
      };
    }

    const target = jsStsTarget(ctx.env, upstream.output('env.region'));
    try {
      const caller = await getCallerIdentity(ctx.net, target, outcome.credentials, signal);
      return {
        status: 'pass',
        summary: `the agent issued credentials for ${caller.arn}`,
        details: { ...details, callerArn: caller.arn },
        output: { callerArn: caller.arn },
      };
    } catch (error) {
      // The agent works; only the proof failed. An app does not need STS to use these credentials.
      const failure = classifyStsError(error, target.endpoint);
      return {
        status: 'warn',
        summary: `the agent issued credentials${outcome.accountId ? ` in account ${outcome.accountId}` : ''}, but GetCallerIdentity at ${target.endpoint} failed (${failure.network ? failure.explanation : failure.wireCode}), so the role is not confirmed`,
        details,
        output: { callerArn: undefined },
      };
    }
  },
};
