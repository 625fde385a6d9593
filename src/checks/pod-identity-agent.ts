import type { AgentAnswer, AgentAttempt } from '../aws/agent-client';
import { AGENT_TIMEOUT_MS, callAgent } from '../aws/agent-client';
import { NetError, describeNetFailure } from '../aws/http';
import { getCallerIdentity, jsStsTarget } from '../aws/sts-client';
import { classifyStsError } from '../aws/sts-errors';
import type { Check, CheckOutcome, FindingInput, Remedy } from '../run/types';
import type { PodIdentityAgentOutput, TokenClaimsOutput } from './outputs';
import { severityOf } from '../run/findings';
import { assertNever } from '../run/types';
import type { PodRef } from './remedies';
import { LINKS, clockRemedy, podRemedy, remedy, replacePod, setEnvCommands } from './remedies';
import type { ShellCommand, ShellValue } from './shell';
import { namespaceArg, placeholder, podArg, serviceAccountArg, sh } from './shell';

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

function who(claims: TokenClaimsOutput | undefined): { namespace: ShellValue; serviceAccount: ShellValue } {
  return {
    namespace: namespaceArg(claims?.namespace),
    serviceAccount: serviceAccountArg(claims?.serviceAccount),
  };
}

function listAssociations(claims: TokenClaimsOutput | undefined): ShellCommand {
  const { namespace, serviceAccount } = who(claims);
  return sh`aws eks list-pod-identity-associations --cluster-name ${placeholder('CLUSTER')} --namespace ${namespace} --service-account ${serviceAccount}`;
}

const AGENT_LOGS = sh`kubectl logs -n kube-system -l app.kubernetes.io/name=eks-pod-identity-agent --tail=50`;

/** What the check knows beside the answer: the pod, the token's claims, the region, this machine's clock. */
interface AnswerContext {
  readonly claims: TokenClaimsOutput | undefined;
  readonly region: string | undefined;
  readonly nowS: number;
  readonly fullUri: string;
}

/** The explanation, completed with what only this pod knows (the token's exp against this clock). */
function explanationOf(answer: Extract<AgentAnswer, { kind: 'refused' }>, context: AnswerContext): string {
  const exp = context.claims?.exp;
  if (answer.refusal === 'eks-auth-token-expired' && exp !== undefined) {
    return exp > context.nowS + 60
      ? `${answer.explanation} By this node's clock it is still valid until ${new Date(exp * 1000).toISOString()} (the agent checked that too), so the node's clock is behind AWS's: the token is fine, the clock is not.`
      : `${answer.explanation} Its exp ${new Date(exp * 1000).toISOString()} has passed: the kubelet stopped rotating this file.`;
  }
  return answer.explanation;
}

function remedyFor(
  answer: Extract<AgentAnswer, { kind: 'refused' }>,
  context: AnswerContext,
): Pick<FindingInput, 'remedy' | 'remedyFor'> {
  const { claims } = context;
  const { namespace, serviceAccount } = who(claims);
  const pod = { namespace: claims?.namespace, podName: claims?.podName };
  const region = shellSafeRegion(context.region);
  switch (answer.refusal) {
    case 'trust-denied':
      return {
        remedy: remedy(
          "Let EKS assume the associated role: its trust policy needs Principal Service pods.eks.amazonaws.com with both sts:AssumeRole and sts:TagSession (run irsa-doctor --trust-policy with the role's policy to see which condition fails). update-assume-role-policy replaces the whole document: merge with the statements you keep.",
          [
            listAssociations(claims),
            sh`aws iam get-role --role-name ${placeholder('ROLE_NAME')} --query Role.AssumeRolePolicyDocument`,
            sh`aws iam update-assume-role-policy --role-name ${placeholder('ROLE_NAME')} --policy-document ${JSON.stringify(POD_IDENTITY_TRUST_POLICY)}`,
          ],
          [LINKS.podIdentity],
        ),
      };
    case 'node-role-denied':
      return {
        remedy: remedy(
          "Allow the node's IAM role eks-auth:AssumeRoleForPodIdentity: attach AmazonEKSWorkerNodePolicy (or a policy with that action) to the node role.",
          [
            sh`aws iam attach-role-policy --role-name ${placeholder('NODE_ROLE_NAME')} --policy-arn arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy`,
          ],
          [LINKS.podIdentity],
        ),
      };
    case 'no-association':
      return {
        remedy: remedy(
          `Create a Pod Identity association for this pod's namespace and ServiceAccount (and check the role it names still exists).`,
          [
            listAssociations(claims),
            sh`aws eks create-pod-identity-association --cluster-name ${placeholder('CLUSTER')} --namespace ${namespace} --service-account ${serviceAccount} --role-arn arn:aws:iam::${placeholder('ACCOUNT_ID')}:role/${placeholder('ROLE_NAME')}`,
          ],
          [LINKS.podIdentity],
        ),
      };
    case 'token-not-yet-valid':
      return { remedy: clockRemedy() };
    case 'eks-auth-token-expired':
      if (claims?.exp !== undefined && claims.exp > context.nowS + 60) return { remedy: clockRemedy() };
      return tokenRemedy(pod);
    case 'token-empty':
    case 'token-unparsable':
    case 'token-expired':
    case 'eks-auth-token-invalid':
      return tokenRemedy(pod);
    case 'address-refused':
      return podRemedy(pod, (ref) =>
        remedy(
          `Use the agent's own address: remove the hand-set AWS_CONTAINER_CREDENTIALS_FULL_URI (${context.fullUri.slice(0, 120)}) so the webhook's http://169.254.170.23/v1/credentials applies.`,
          setEnvCommands(ref, ['AWS_CONTAINER_CREDENTIALS_FULL_URI-']),
          [LINKS.podIdentity],
        ),
      );
    case 'rate-limited':
      return {
        remedy: remedy(
          'Find the app on this node that asks the agent in a loop and let it keep one SDK client (credential providers cache credentials until shortly before they expire).',
          [AGENT_LOGS],
          [LINKS.podIdentity],
        ),
      };
    case 'eks-auth-throttled':
      return {
        remedy: remedy(
          'Retry (the SDKs do); if it persists, fewer pods should fetch credentials at once (spread rollouts) and apps should keep one SDK client.',
          [AGENT_LOGS],
          ['https://docs.aws.amazon.com/eks/latest/APIReference/API_auth_AssumeRoleForPodIdentity.html'],
        ),
      };
    case 'eks-auth-unavailable':
      return {
        remedy: remedy(
          'A transient failure of EKS Auth: retry in a minute; if it persists, check the AWS Health Dashboard for EKS in this region.',
          [AGENT_LOGS],
          ['https://health.aws.amazon.com/health/status'],
        ),
      };
    case 'eks-auth-request-invalid':
      return {
        remedy: remedy(
          "Check that the eks-pod-identity-agent add-on runs with this cluster's name (the --cluster-name argument of its DaemonSet) and is up to date.",
          [
            sh`kubectl get daemonset eks-pod-identity-agent -n kube-system -o jsonpath='{.spec.template.spec.containers[0].args}{"\\n"}'`,
            sh`aws eks describe-addon --cluster-name ${placeholder('CLUSTER')} --addon-name eks-pod-identity-agent`,
            AGENT_LOGS,
          ],
          [LINKS.podIdentity],
        ),
      };
    case 'eks-auth-unreachable':
      return {
        remedy: remedy(
          `Let the nodes reach EKS Auth (eks-auth.${context.region ?? '<REGION>'}.api.aws, HTTPS): in a private cluster an interface VPC endpoint com.amazonaws.${context.region ?? '<REGION>'}.eks-auth with private DNS whose security group allows 443 from the nodes, otherwise a NAT gateway or proxy (the agent honours HTTPS_PROXY).`,
          [
            sh`aws ec2 describe-vpc-endpoints --region ${region} --filters Name=service-name,Values=com.amazonaws.${region}.eks-auth --query 'VpcEndpoints[].[VpcEndpointId,State,PrivateDnsEnabled]'`,
            sh`aws ec2 create-vpc-endpoint --region ${region} --vpc-id ${placeholder('VPC_ID')} --vpc-endpoint-type Interface --service-name com.amazonaws.${region}.eks-auth --subnet-ids ${placeholder('PRIVATE_SUBNET_IDS')} --security-group-ids ${placeholder('SECURITY_GROUP_ID')} --private-dns-enabled`,
            AGENT_LOGS,
          ],
          ['https://docs.aws.amazon.com/eks/latest/userguide/pod-id-agent-setup.html'],
        ),
      };
    case 'eks-auth-other':
    case 'not-the-agent':
    case 'no-credentials':
      return { remedy: agentUnreachableRemedy(claims) };
    default:
      return assertNever(answer.refusal);
  }
}

/** A region name as it may appear inside a word of a command; anything else becomes the placeholder. */
function shellSafeRegion(region: string | undefined): ShellValue {
  return region !== undefined && /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(region) ? region : placeholder('REGION');
}

/** A new pod, so the kubelet projects a fresh token: the one remedy of every token problem of this pod. */
function tokenRemedy(pod: PodRef): Pick<FindingInput, 'remedy' | 'remedyFor'> {
  return podRemedy(pod, (ref) =>
    remedy(
      'Replace the pod so the kubelet projects a fresh Pod Identity token, and check that AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE points at it (mounted directly, no subPath, no copy).',
      replacePod(ref),
      [LINKS.podIdentity],
    ),
  );
}

function agentUnreachableRemedy(claims: TokenClaimsOutput | undefined): Remedy {
  return remedy(
    'Make the agent reachable: the eks-pod-identity-agent DaemonSet must run on this node; the pod must not use hostNetwork; NO_PROXY must include 169.254.170.23 and fd00:ec2::23 when a proxy is set; no iptables/NetworkPolicy may drop 169.254.170.23:80; the node needs IPv6 enabled unless the agent runs IPv4-only.',
    [
      sh`kubectl get daemonset eks-pod-identity-agent -n kube-system`,
      sh`kubectl get pod ${podArg(claims?.podName)} -n ${namespaceArg(claims?.namespace)} -o jsonpath={.spec.hostNetwork}`,
      sh`aws eks create-addon --cluster-name ${placeholder('CLUSTER')} --addon-name eks-pod-identity-agent`,
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
      const answerContext: AnswerContext = {
        claims,
        region: upstream.output('env.region')?.region ?? regionOfIssuer(claims?.iss),
        nowS: ctx.clock.now() / 1000,
        fullUri: env.fullUri,
      };
      const finding: FindingInput = {
        code: outcome.code,
        summary: `The Pod Identity agent answered HTTP ${outcome.status} "${outcome.body}". ${explanationOf(outcome, answerContext)} ${SDK_MASK}`,
        evidence: {
          tried,
          status: outcome.status,
          body: outcome.body,
          answer: outcome.refusal,
          eksAuthCode: outcome.eksAuthCode ?? null,
        },
        ...remedyFor(outcome, answerContext),
      };
      return {
        status: severityOf(outcome.code) === 'warning' ? 'warn' : 'fail',
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

/** The region of an EKS issuer URL (https://oidc.eks.REGION.amazonaws.com/id/...), when AWS_REGION is not set. */
function regionOfIssuer(iss: string | undefined): string | undefined {
  return iss === undefined ? undefined : /^https:\/\/oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com/.exec(iss)?.[1];
}
