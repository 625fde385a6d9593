import { IRSA_AUDIENCE } from '../aws/env-names';
import { GLOB_STEPS, GlobBudget } from '../aws/glob';
import type {
  AmendedTrustPolicy,
  CorrectedTrustInput,
  PodIdentityRequest,
  TrustDecision,
  TrustDocumentJson,
  TrustEvaluation,
  TrustPolicyDocument,
  TrustPolicyJson,
} from '../aws/trust-policy';
import {
  POD_IDENTITY_ACTIONS,
  POD_IDENTITY_PRINCIPAL,
  TrustPolicyError,
  amendedPodIdentityPolicy,
  amendedTrustPolicy,
  correctedTrustPolicy,
  evaluatePodIdentityTrust,
  evaluateTrustPolicy,
  issuerHostOf,
  parseTrustPolicyText,
  providerArnFor,
  renderTrustPolicyEksctl,
  renderTrustPolicyTerraform,
} from '../aws/trust-policy';
import { errnoCode } from '../context/files';
import type { Check, CheckOutcome, FindingInput } from '../run/types';
import { assertNever } from '../run/types';
import type { IrsaEnvOutput, TokenClaimsOutput } from './outputs';
import { LINKS, remedy } from './remedies';
import type { ShellCommand } from './shell';
import { arnArg, fragment, namespaceArg, placeholder, roleNameArg, serviceAccountArg, sh } from './shell';

/** trust.policy: what the role's trust policy decides for this token, and the policy this pod needs. */
export interface TrustPolicyOutput {
  readonly decision: TrustDecision;
  readonly mechanism: 'irsa' | 'pod-identity';
  /** The OIDC provider the policy must trust (IRSA only). */
  readonly providerArn: string | undefined;
  /** The given policy amended (or replaced) so that it allows this pod. */
  readonly correctedPolicy: TrustDocumentJson;
}

/** A policy document is at most a few KiB (IAM caps trust policies at 2048-4096 characters). */
const MAX_POLICY_BYTES = 1024 * 1024;

export const SKIP_NO_TRUST_POLICY =
  'no --trust-policy FILE given (iam:GetRole from inside the pod is usually not permitted)';

/**
 * Evaluates the role's trust policy from --trust-policy FILE against the token's claims, offline
 * (docs/cli.md, "--trust-policy"). For IRSA the provider ARN is derived from `iss` and the role's partition and
 * account (docs/mechanics.md 3.2); for Pod Identity the request is EKS Auth's: the service principal
 * pods.eks.amazonaws.com with sts:AssumeRole and sts:TagSession and the session tags of this pod
 * (docs/mechanics.md 3.4, 5). It explains an STS AccessDenied, or the agent's AccessDeniedException, before
 * either is asked.
 */
export const trustPolicyCheck: Check<'trust.policy'> = {
  id: 'trust.policy',
  title: 'Role trust policy against this token',
  stage: 'sts',
  dependsOn: ['token.claims'],
  // The mechanism comes with the token file; IRSA also needs the role's account and partition.
  uses: ['token.file', 'env.irsa'],
  async run(ctx, upstream) {
    const file = ctx.options.trustPolicyFile;
    // Without a file there is nothing to evaluate here: STS evaluates the policy itself (sts.assume-role), and a
    // run that does not call STS says so.
    if (file === undefined || file === '') {
      return { status: 'skip', summary: SKIP_NO_TRUST_POLICY, skipReason: 'not-applicable' };
    }
    const claims = upstream.output('token.claims');
    const mechanism = upstream.output('token.file')?.mechanism;
    const irsa = upstream.output('env.irsa');
    if (!claims || !mechanism) return { status: 'skip', summary: 'skipped: no token claims to evaluate' };
    if (mechanism === 'irsa' && !irsa) {
      return { status: 'skip', summary: 'skipped: no usable IRSA role ARN to evaluate against (see env.irsa)' };
    }

    // The CLI reads and validates the file (or stdin) before the run: a bad one is a usage error there.
    let text: string;
    if (ctx.options.trustPolicyText !== undefined) {
      text = ctx.options.trustPolicyText;
    } else {
      try {
        const { bytes, truncated } = await ctx.localFiles.readHead(file, MAX_POLICY_BYTES);
        if (truncated) return { status: 'error', summary: `--trust-policy ${file} is larger than 1 MiB: not a policy` };
        text = bytes.toString('utf8');
      } catch (error) {
        return { status: 'error', summary: `cannot read --trust-policy ${file}: ${readFailure(error)}` };
      }
    }
    let policy: TrustPolicyDocument;
    try {
      policy = parseTrustPolicyText(text);
    } catch (error) {
      if (error instanceof TrustPolicyError) {
        return { status: 'error', summary: `--trust-policy ${file} is not a usable trust policy: ${error.message}` };
      }
      throw error;
    }
    if (mechanism === 'pod-identity') return podIdentityOutcome(policy, claims, file);
    const role = irsa as IrsaEnvOutput;
    const target = trustTarget(claims, role);
    const request = {
      providerArn: target.providerArn,
      issuerHost: target.issuerHost,
      claims: { sub: claims.sub, aud: claims.aud },
      sessionName: role.sessionName,
    };
    // One matching budget for the evaluation and the amendment (src/aws/glob.ts): together they stay bounded.
    const budget = new GlobBudget();
    const evaluation = evaluateTrustPolicy(policy, request, budget);
    const amended = amendedTrustPolicy(policy, evaluation, request, target, budget);
    return outcomeOf(evaluation, target, amended, role, policy, file);
  },
};

/** The provider, host and corrected policy for this pod's identity. */
export function trustTarget(
  claims: TokenClaimsOutput,
  irsa: IrsaEnvOutput,
): CorrectedTrustInput & { readonly correctedPolicy: TrustPolicyJson } {
  const input: CorrectedTrustInput = {
    providerArn: providerArnFor(claims.iss, irsa.roleArn),
    issuerHost: issuerHostOf(claims.iss),
    namespace: claims.namespace ?? '<NAMESPACE>',
    serviceAccount: claims.serviceAccount ?? '<SERVICE_ACCOUNT>',
    // The token's audience is the SA's eks.amazonaws.com/audience annotation, or sts.amazonaws.com.
    audience: claims.aud.includes(IRSA_AUDIENCE) ? IRSA_AUDIENCE : (claims.aud[0] ?? IRSA_AUDIENCE),
  };
  return { ...input, correctedPolicy: correctedTrustPolicy(input) };
}

/** Why an evaluation whose wildcard matching ran out of budget decides nothing. */
const exhaustedSummary = `cannot decide offline: matching the policy's wildcard patterns against this token needs more work than the tool allows itself (${GLOB_STEPS.toLocaleString('en-US')} steps); IAM caps the length of a trust policy far below what this takes`;

/** `aws iam update-assume-role-policy` with the document inline, quoted as one word. */
function updateCommand(roleName: string | undefined, document: TrustDocumentJson): ShellCommand {
  return sh`aws iam update-assume-role-policy --role-name ${roleNameArg(roleName)} --policy-document ${JSON.stringify(document)}`;
}

function amendedWords(amended: AmendedTrustPolicy): string {
  switch (amended.how) {
    case 'unchanged':
      return 'The policy below is the file as given.';
    case 'amended':
      return 'The policy below is the file with that statement fixed and every other statement kept as it is.';
    case 'replaced':
      return 'No change of that statement lets this pod in, so the policy below is only what this pod needs: update-assume-role-policy replaces the whole document, add back any statement the role still needs.';
    default:
      return assertNever(amended.how);
  }
}

function outcomeOf(
  evaluation: TrustEvaluation,
  target: ReturnType<typeof trustTarget>,
  amended: AmendedTrustPolicy,
  irsa: IrsaEnvOutput,
  policy: TrustPolicyDocument,
  file: string,
): CheckOutcome<TrustPolicyOutput> {
  const output: TrustPolicyOutput = {
    decision: evaluation.decision,
    mechanism: 'irsa',
    providerArn: target.providerArn,
    correctedPolicy: amended.document,
  };
  const details = {
    file,
    provider: target.providerArn,
    decision: evaluation.decision,
    ...roleNote(policy, irsa.roleArn.arn),
  };
  const subject = `system:serviceaccount:${target.namespace}:${target.serviceAccount}`;
  switch (evaluation.decision) {
    case 'allow': {
      const by = evaluation.allowedBy;
      const where = by ? `statement ${by.statement}${by.sid ? ` (Sid "${by.sid}")` : ''}` : 'a statement';
      const broad = evaluation.warnings.filter((w) => w.kind === 'no-sub-condition' || w.kind === 'principal-wildcard');
      const notes = evaluation.warnings.map((w) => w.message);
      return {
        status: broad.length > 0 ? 'warn' : 'pass',
        summary:
          broad.length > 0
            ? `${where} allows this token, but too broadly: ${broad.map((w) => w.message).join('; ')}`
            : `${where} allows ${subject} through ${target.providerArn}`,
        output,
        details: { ...details, ...(notes.length > 0 ? { notes: notes.join('; ') } : {}) },
      };
    }
    case 'indeterminate':
      return {
        status: 'warn',
        summary: evaluation.matchingExhausted
          ? exhaustedSummary
          : `cannot decide offline: the policy also depends on ${evaluation.unknownKeys.join(', ') || 'operators this tool does not evaluate'}, which only STS knows`,
        output,
        details,
      };
    case 'deny':
    case 'explicit-deny': {
      const failure = evaluation.failure;
      const code = failure?.code ?? 'TRUST_POLICY_DENIED';
      const reason = failure?.reason ?? 'no statement allows this request';
      const roleName = irsa.roleArn.name;
      const finding: FindingInput = {
        code,
        summary: `The trust policy of role ${roleName} (${file}) does not let this pod assume it: ${reason}.${failure?.hint ? ` Likely cause: ${failure.hint}.` : ''} STS will answer AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity.`,
        evidence: {
          statement: failure?.statement ?? null,
          sid: failure?.sid ?? null,
          operator: failure?.operator ?? null,
          key: failure?.key ?? null,
          expected: failure?.expected ?? [],
          actual: failure?.actual ?? [],
          providerArn: target.providerArn,
          otherFailures: evaluation.failures.slice(1).map((f) => f.reason),
          correctedPolicy: amended.document,
          correction: amended.how,
        },
        remedy: remedy(
          `Let ${target.providerArn} in for ${subject} in the trust policy of ${roleName} (the command below; the Terraform and eksctl equivalents of this pod's statement follow it). ${amendedWords(amended)}`,
          [
            ...(code === 'TRUST_POLICY_PRINCIPAL_MISMATCH'
              ? [
                  sh`aws iam get-open-id-connect-provider --open-id-connect-provider-arn ${arnArg(target.providerArn, 'OIDC_PROVIDER_ARN')}   # must exist in account ${irsa.roleArn.account}`,
                ]
              : []),
            updateCommand(roleName, amended.document),
            sh`${fragment(renderTrustPolicyEksctl(target, roleName).command)}   # or let eksctl create the role with this trust`,
          ],
          [LINKS.irsa, LINKS.irsaTroubleshoot],
          [
            {
              title: 'Terraform: the same trust as an aws_iam_policy_document (assume_role_policy of the role)',
              language: 'hcl',
              text: renderTrustPolicyTerraform(target).trimEnd(),
            },
            {
              title:
                'eksctl: the ClusterConfig entry that creates the role with this trust (eksctl create iamserviceaccount -f FILE)',
              language: 'yaml',
              text: renderTrustPolicyEksctl(target, roleName).config.trimEnd(),
            },
          ],
        ),
      };
      return {
        status: 'fail',
        summary:
          evaluation.decision === 'explicit-deny'
            ? `an explicit Deny blocks this token: ${reason}`
            : `the trust policy denies this token: ${reason}`,
        output,
        details,
        findings: [finding],
      };
    }
    default:
      return assertNever(evaluation.decision);
  }
}

/** When the file is `aws iam get-role` output for another role than the one this pod uses, say so. */
function roleNote(policy: TrustPolicyDocument, expectedArn: string | undefined): Record<string, string> {
  const arn = policy.role?.arn;
  if (arn === undefined || expectedArn === undefined || arn === expectedArn) return {};
  return { role: `the file is the trust policy of ${arn}, but this pod's role is ${expectedArn}` };
}

function podIdentityOutcome(
  policy: TrustPolicyDocument,
  claims: TokenClaimsOutput,
  file: string,
): CheckOutcome<TrustPolicyOutput> {
  const request: PodIdentityRequest = {
    namespace: claims.namespace ?? '',
    serviceAccount: claims.serviceAccount ?? '',
    podName: claims.podName,
    podUid: claims.podUid,
  };
  const budget = new GlobBudget();
  const evaluation = evaluatePodIdentityTrust(policy, request, budget);
  const amended = amendedPodIdentityPolicy(policy, evaluation, request, budget);
  const output: TrustPolicyOutput = {
    decision: evaluation.decision,
    mechanism: 'pod-identity',
    providerArn: undefined,
    correctedPolicy: amended.document,
  };
  const who = `${request.namespace}/${request.serviceAccount}`;
  const details = { file, principal: `Service ${POD_IDENTITY_PRINCIPAL}`, decision: evaluation.decision };
  const roleName = policy.role?.name;
  switch (evaluation.decision) {
    case 'allow': {
      const by = evaluation.allowedBy;
      return {
        status: 'pass',
        summary: `${by ? `statement ${by.statement}${by.sid ? ` (Sid "${by.sid}")` : ''}` : 'the policy'} lets EKS Pod Identity (${POD_IDENTITY_PRINCIPAL}) assume the role for ${who} with ${POD_IDENTITY_ACTIONS.join(' and ')}`,
        output,
        details,
      };
    }
    case 'indeterminate':
      return {
        status: 'warn',
        summary: evaluation.matchingExhausted
          ? exhaustedSummary
          : `cannot decide offline: the policy also depends on ${evaluation.unknownKeys.join(', ') || 'operators this tool does not evaluate'}, which only EKS Auth knows (the cluster's account and ARN, the association)`,
        output,
        details,
      };
    case 'deny':
    case 'explicit-deny': {
      const failure = evaluation.failure;
      const reason = failure?.reason ?? 'no statement allows this request';
      const finding: FindingInput = {
        code: 'POD_IDENTITY_TRUST_POLICY_DENIED',
        summary: `The trust policy in ${file}${roleName ? ` (role ${roleName})` : ''} does not let EKS Pod Identity assume the role for this pod: ${reason}.${failure?.hint ? ` Likely cause: ${failure.hint}.` : ''} The agent will answer AccessDeniedException ("EKS does not have permissions to assume the associated role").`,
        evidence: {
          statement: failure?.statement ?? null,
          sid: failure?.sid ?? null,
          operator: failure?.operator ?? null,
          key: failure?.key ?? null,
          expected: failure?.expected ?? [],
          actual: failure?.actual ?? [],
          otherFailures: evaluation.failures.slice(1).map((f) => f.reason),
          correctedPolicy: amended.document,
          correction: amended.how,
        },
        remedy: remedy(
          `Let ${POD_IDENTITY_PRINCIPAL} assume the role with ${POD_IDENTITY_ACTIONS.join(' and ')} for ${who}. ${amendedWords(amended)}`,
          [
            sh`aws eks list-pod-identity-associations --cluster-name ${placeholder('CLUSTER')} --namespace ${namespaceArg(request.namespace || undefined)} --service-account ${serviceAccountArg(request.serviceAccount || undefined)}   # the role of the association`,
            updateCommand(roleName, amended.document),
          ],
          [LINKS.podIdentity],
        ),
      };
      return {
        status: 'fail',
        summary:
          evaluation.decision === 'explicit-deny'
            ? `an explicit Deny blocks EKS Pod Identity: ${reason}`
            : `the trust policy does not let EKS Pod Identity in: ${reason}`,
        output,
        details,
        findings: [finding],
      };
    }
    default:
      return assertNever(evaluation.decision);
  }
}

function readFailure(error: unknown): string {
  switch (errnoCode(error)) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
