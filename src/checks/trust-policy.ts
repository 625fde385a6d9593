import { IRSA_AUDIENCE } from '../aws/env-names';
import type { CorrectedTrustInput, TrustDecision, TrustEvaluation, TrustPolicyJson } from '../aws/trust-policy';
import {
  TrustPolicyError,
  correctedTrustPolicy,
  evaluateTrustPolicy,
  issuerHostOf,
  parseTrustPolicyText,
  providerArnFor,
  renderTrustPolicyEksctl,
  renderTrustPolicyTerraform,
  updateAssumeRolePolicyCommand,
} from '../aws/trust-policy';
import { errnoCode } from '../context/files';
import type { Check, CheckOutcome, FindingInput } from '../run/types';
import { assertNever } from '../run/types';
import type { IrsaEnvOutput, TokenClaimsOutput } from './outputs';
import { LINKS, remedy } from './remedies';

/** trust.policy: what the role's trust policy decides for this token, and the policy this pod needs. */
export interface TrustPolicyOutput {
  readonly decision: TrustDecision;
  readonly providerArn: string;
  /** The minimal trust policy for this pod's ServiceAccount (also what to print when STS says AccessDenied). */
  readonly correctedPolicy: TrustPolicyJson;
}

/** A policy document is at most a few KiB (IAM caps trust policies at 2048-4096 characters). */
const MAX_POLICY_BYTES = 1024 * 1024;

export const SKIP_NO_TRUST_POLICY =
  'no --trust-policy FILE given (iam:GetRole from inside the pod is usually not permitted)';

/**
 * Evaluates the role's trust policy from --trust-policy FILE against the token's claims, offline
 * (docs/cli.md, "--trust-policy": the provider ARN is derived from `iss` and the role's partition and account,
 * docs/mechanics.md 3.2). It explains an STS AccessDenied before STS is even called.
 */
export const trustPolicyCheck: Check<'trust.policy'> = {
  id: 'trust.policy',
  title: 'Role trust policy against this token',
  stage: 'sts',
  dependsOn: ['token.claims', 'env.irsa'],
  async run(ctx, upstream) {
    const file = ctx.options.trustPolicyFile;
    // Without a file there is nothing to evaluate here: STS evaluates the policy itself (sts.assume-role), and a
    // run that does not call STS says so.
    if (file === undefined || file === '') {
      return { status: 'skip', summary: SKIP_NO_TRUST_POLICY, skipReason: 'not-applicable' };
    }
    const claims = upstream.output('token.claims');
    const irsa = upstream.output('env.irsa');
    if (!claims || !irsa) return { status: 'skip', summary: 'skipped: no token claims or IRSA role to evaluate' };

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
    let evaluation: TrustEvaluation;
    const target = trustTarget(claims, irsa);
    try {
      evaluation = evaluateTrustPolicy(parseTrustPolicyText(text), {
        providerArn: target.providerArn,
        issuerHost: target.issuerHost,
        claims: { sub: claims.sub, aud: claims.aud },
        sessionName: irsa.sessionName,
      });
    } catch (error) {
      if (error instanceof TrustPolicyError) {
        return { status: 'error', summary: `--trust-policy ${file} is not a usable trust policy: ${error.message}` };
      }
      throw error;
    }
    return outcomeOf(evaluation, target, irsa, file);
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

function outcomeOf(
  evaluation: TrustEvaluation,
  target: ReturnType<typeof trustTarget>,
  irsa: IrsaEnvOutput,
  file: string,
): CheckOutcome<TrustPolicyOutput> {
  const output: TrustPolicyOutput = {
    decision: evaluation.decision,
    providerArn: target.providerArn,
    correctedPolicy: target.correctedPolicy,
  };
  const details = { file, provider: target.providerArn, decision: evaluation.decision };
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
        summary: `cannot decide offline: the policy also depends on ${evaluation.unknownKeys.join(', ') || 'operators this tool does not evaluate'}, which only STS knows`,
        output,
        details,
      };
    case 'deny':
    case 'explicit-deny': {
      const failure = evaluation.failure;
      const code = failure?.code ?? 'TRUST_POLICY_DENIED';
      const reason = failure?.reason ?? 'no statement allows this request';
      const finding: FindingInput = {
        code,
        summary: `The trust policy of role ${irsa.roleArn.name} (${file}) does not let this pod assume it: ${reason}.${failure?.hint ? ` Likely cause: ${failure.hint}.` : ''} STS will answer AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity.`,
        evidence: {
          statement: failure?.statement ?? null,
          sid: failure?.sid ?? null,
          operator: failure?.operator ?? null,
          key: failure?.key ?? null,
          expected: failure?.expected ?? [],
          actual: failure?.actual ?? [],
          providerArn: target.providerArn,
          otherFailures: evaluation.failures.slice(1).map((f) => f.reason),
          correctedPolicy: target.correctedPolicy,
        },
        remedy: remedy(
          `Replace the trust policy of ${irsa.roleArn.name} with one that trusts ${target.providerArn} for ${subject} (the command below; the Terraform and eksctl equivalents follow it). update-assume-role-policy replaces the whole document: add back any other statement the role still needs.`,
          [
            ...(code === 'TRUST_POLICY_PRINCIPAL_MISMATCH'
              ? [
                  `aws iam get-open-id-connect-provider --open-id-connect-provider-arn ${target.providerArn}   # must exist in account ${irsa.roleArn.account}`,
                ]
              : []),
            updateAssumeRolePolicyCommand(irsa.roleArn.name, target.correctedPolicy),
            `${renderTrustPolicyEksctl(target, irsa.roleArn.name).command}   # or let eksctl create the role with this trust`,
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
              text: renderTrustPolicyEksctl(target, irsa.roleArn.name).config.trimEnd(),
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
