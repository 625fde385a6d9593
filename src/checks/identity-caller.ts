import { parseAssumedRoleArn, parseRoleArn } from '../aws/arn';
import type { RoleArn } from '../aws/arn';
import { deadlineSignal } from '../aws/http';
import { imdsEndpoint, reachImds } from '../aws/imds';
import { Secret, maskAccessKeyId } from '../aws/secrets';
import type { SessionCredentials, StsTarget } from '../aws/sts-client';
import { assumeRole, assumeRoleWithWebIdentity, getCallerIdentity, jsStsTarget } from '../aws/sts-client';
import { classifyStsError } from '../aws/sts-errors';
import type { ProfileBase, RoleHop } from '../aws/profiles';
import { resolveProfile } from '../aws/profiles';
import type { Context } from '../context/context';
import type { Check, CheckOutcome, CredentialSource, FindingInput } from '../run/types';
import { assertNever } from '../run/types';
import { errnoCode } from '../context/files';
import type { CallerOutput } from './outputs';
import { readPodSelf } from '../context/pod-self';
import { LINKS, remedy } from './remedies';
import { INSTANCE_ID, matching, namespaceArg, serviceAccountArg, sh } from './shell';
import { stsFinding } from './sts-findings';
import { readChainInputs } from './env-precedence';
import { MAX_TOKEN_BYTES } from './token-file';

/**
 * A profile, the way the JS SDK's fromIni resolves it (src/aws/profiles.ts), executed with the doctor's own
 * clients: static keys, role chains (sts:AssumeRole per hop), a web_identity_token_file read through the file
 * view. The SDK's own fromIni is never used: it reads the shared files itself (whole, from this process's root,
 * FIFOs included) and runs credential_process.
 */
async function resolveProfileCredentials(ctx: Context, target: StsTarget, signal: AbortSignal): Promise<Resolved> {
  const inputs = await readChainInputs(ctx);
  const profile = inputs.profileName;
  const resolution = resolveProfile(inputs.profiles, profile);
  switch (resolution.kind) {
    case 'process':
      return {
        kind: 'skip',
        why: `the JS SDK chain would run credential_process of profile ${resolution.profile}, which irsa-doctor does not run (see env.precedence)`,
      };
    case 'unsupported':
      return { kind: 'skip', why: resolution.why };
    case 'error':
      return { kind: 'none', why: `profile ${profile} gives no credentials: ${resolution.why.slice(0, 200)}` };
    case 'plan':
      break;
    default:
      return assertNever(resolution);
  }
  const base = await baseCredentials(ctx, resolution.base, target, signal);
  if (base.kind !== 'credentials') return base;
  let credentials = base.credentials;
  const via = [base.label];
  for (const hop of resolution.hops) {
    const operation = `AssumeRole ${hop.roleArn} (profile ${hop.profile})`;
    try {
      credentials = (await assumeRole(ctx.net, target, credentials, hopParams(hop, ctx), signal)).credentials;
    } catch (error) {
      return { kind: 'sts-failed', error, operation };
    }
    via.push(`role ${hop.roleArn}`);
  }
  return { kind: 'credentials', label: `profile ${profile} (${via.join(' -> ')})`, credentials };
}

function hopParams(hop: RoleHop, ctx: Context) {
  return {
    roleArn: hop.roleArn,
    // The JS SDK's default session name for a role chain (resolveAssumeRoleCredentials).
    sessionName: hop.sessionName ?? `aws-sdk-js-${ctx.clock.now()}`,
    externalId: hop.externalId,
    durationSeconds: hop.durationSeconds,
  };
}

async function baseCredentials(
  ctx: Context,
  base: ProfileBase,
  target: StsTarget,
  signal: AbortSignal,
): Promise<Resolved> {
  switch (base.kind) {
    case 'static': {
      const { accessKeyId, secretAccessKey, sessionToken } = base.keys;
      return {
        kind: 'credentials',
        label: `static keys ${maskAccessKeyId(accessKeyId)} of profile ${base.profile}`,
        credentials: {
          accessKeyId,
          secretAccessKey: new Secret(secretAccessKey),
          sessionToken: sessionToken ? new Secret(sessionToken) : undefined,
        },
      };
    }
    case 'environment':
      return envKeys(ctx, `profile ${base.profile} has credential_source Environment, but the env has no keys`);
    case 'imds': {
      const reach = await reachImds(ctx.net, imdsEndpoint(ctx.env), signal);
      if (reach.kind === 'credentials') {
        return { kind: 'credentials', label: `IMDS${reach.version}`, credentials: reach.credentials };
      }
      return {
        kind: 'none',
        why: `profile ${base.profile} has credential_source Ec2InstanceMetadata, and IMDS gives no credentials (${'why' in reach ? reach.why : 'no instance role'})`,
      };
    }
    case 'web-identity': {
      let token: Secret;
      try {
        // The app's file, read inside its root like the token of AWS_WEB_IDENTITY_TOKEN_FILE.
        const { bytes, truncated } = await ctx.files.readHead(base.tokenFile, MAX_TOKEN_BYTES);
        if (truncated) throw new Error(`larger than ${MAX_TOKEN_BYTES} bytes`);
        token = new Secret(bytes.toString('latin1').trim());
      } catch (error) {
        const why = errnoCode(error) ?? (error instanceof Error ? error.message : 'unreadable');
        return {
          kind: 'none',
          why: `profile ${base.profile}: web_identity_token_file ${base.tokenFile} cannot be read (${why})`,
        };
      }
      const operation = `AssumeRoleWithWebIdentity ${base.roleArn} (profile ${base.profile})`;
      try {
        const assumed = await assumeRoleWithWebIdentity(
          ctx.net,
          target,
          {
            roleArn: base.roleArn,
            // fromTokenFile's default (aws-sdk-js-v3 credential-provider-web-identity).
            sessionName: base.sessionName ?? `aws-sdk-js-session-${ctx.clock.now()}`,
            token,
          },
          signal,
        );
        return {
          kind: 'credentials',
          label: `web identity of profile ${base.profile}`,
          credentials: assumed.credentials,
        };
      } catch (error) {
        return { kind: 'sts-failed', error, operation };
      }
    }
    default:
      return assertNever(base);
  }
}

/** The keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or `missing` as the reason. */
function envKeys(ctx: Context, missing: string): Resolved {
  const id = ctx.env.AWS_ACCESS_KEY_ID;
  const secret = ctx.env.AWS_SECRET_ACCESS_KEY;
  if (!id || !secret) return { kind: 'none', why: missing };
  const session = ctx.env.AWS_SESSION_TOKEN;
  return {
    kind: 'credentials',
    label: `AWS_ACCESS_KEY_ID ${maskAccessKeyId(id)}`,
    credentials: {
      accessKeyId: id,
      secretAccessKey: new Secret(secret),
      sessionToken: session ? new Secret(session) : undefined,
    },
  };
}

type Resolved =
  | { readonly kind: 'arn'; readonly callerArn: string }
  /** A call of the profile's role chain failed the way it fails for the app. */
  | { readonly kind: 'sts-failed'; readonly error: unknown; readonly operation: string }
  | { readonly kind: 'credentials'; readonly credentials: SessionCredentials; readonly label: string }
  | { readonly kind: 'skip'; readonly why: string }
  | { readonly kind: 'none'; readonly why: string };

const SOURCE_WORDS: Record<CredentialSource, string> = {
  irsa: 'IRSA (web identity)',
  'pod-identity': 'EKS Pod Identity',
  'static-keys': 'static keys in the environment',
  profile: 'a shared config/credentials profile',
  'node-role': "the node's instance role (IMDS)",
  none: 'nothing',
  unknown: 'an unknown source',
};

/**
 * Credentials from the one source the JS SDK's default chain would pick (env.precedence decides, reference
 * 4.1). The web-identity and Pod Identity links reuse the calls sts.assume-role and pod-identity.agent already
 * made with the same parameters. The SDK's own fromInstanceMetadata reads its endpoint from process.env only,
 * so the node role is read with our IMDS client, which follows the same v2-then-v1 protocol.
 */
async function resolveCredentials(
  ctx: Context,
  upstream: Parameters<Check['run']>[1],
  source: CredentialSource,
  target: StsTarget,
  signal: AbortSignal,
): Promise<Resolved> {
  switch (source) {
    case 'irsa': {
      const assumed = upstream.output('sts.assume-role');
      if (assumed) return { kind: 'arn', callerArn: assumed.assumedRoleArn };
      if (upstream.status('sts.assume-role') === 'skip') return { kind: 'skip', why: 'sts.assume-role did not run' };
      return { kind: 'skip', why: 'the web identity call failed (see sts.assume-role); an app here gets that error' };
    }
    case 'pod-identity': {
      const agent = upstream.output('pod-identity.agent');
      if (agent?.callerArn) return { kind: 'arn', callerArn: agent.callerArn };
      if (upstream.status('pod-identity.agent') === 'skip') {
        return { kind: 'skip', why: 'pod-identity.agent did not run' };
      }
      return {
        kind: 'skip',
        why: agent
          ? 'the agent issued credentials but whose could not be confirmed (see pod-identity.agent)'
          : 'the Pod Identity agent gave no credentials (see pod-identity.agent); an app here gets that error',
      };
    }
    case 'static-keys':
      return envKeys(ctx, 'AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is empty');
    case 'profile':
      return resolveProfileCredentials(ctx, target, signal);
    case 'node-role': {
      const reach = await reachImds(ctx.net, imdsEndpoint(ctx.env), signal);
      if (reach.kind === 'credentials') {
        return { kind: 'credentials', label: `IMDS${reach.version}`, credentials: reach.credentials };
      }
      return {
        kind: 'none',
        why: `the chain ends at IMDS, which gives no credentials (${'why' in reach ? reach.why : 'no instance role'})`,
      };
    }
    case 'none':
      return { kind: 'none', why: 'no link of the SDK chain has anything to use' };
    case 'unknown':
      return {
        kind: 'skip',
        why: 'which credential source the SDK would use could not be decided (see env.precedence)',
      };
    default:
      return assertNever(source);
  }
}

/** How the caller relates to the expected role: assumed-role ARNs drop the role path (docs/mechanics.md 7). */
export function compareCaller(
  callerArn: string,
  expected: RoleArn | undefined,
  nodeRoleArn: string | undefined,
): 'match' | 'case-only' | 'node-role' | 'other' | 'no-expectation' {
  const assumed = parseAssumedRoleArn(callerArn);
  const node = nodeRoleArn ? parseRoleArn(nodeRoleArn) : undefined;
  const isNode =
    assumed !== undefined &&
    ((node !== undefined && assumed.account === node.account && assumed.roleName === node.name) ||
      /^i-[0-9a-f]{8,17}$/.test(assumed.sessionName));
  if (expected === undefined) return isNode ? 'node-role' : 'no-expectation';
  if (
    assumed &&
    assumed.partition === expected.partition &&
    assumed.account === expected.account &&
    assumed.roleName === expected.name
  ) {
    return 'match';
  }
  if (
    assumed &&
    assumed.partition === expected.partition &&
    assumed.account === expected.account &&
    assumed.roleName.toLowerCase() === expected.name.toLowerCase()
  ) {
    return 'case-only';
  }
  return isNode ? 'node-role' : 'other';
}

/** An STS call on the way to the caller's identity failed: the finding for its error, named by the operation. */
function stsFailed(
  error: unknown,
  operation: string,
  target: StsTarget,
  details: { readonly source: CredentialSource; readonly via: string },
  source: CredentialSource,
  nowMs?: number,
): CheckOutcome<CallerOutput> {
  const failure = classifyStsError(error, target.endpoint);
  return {
    status: 'fail',
    summary: `${operation} failed: ${failure.network ? failure.explanation : failure.wireCode}`,
    details,
    facts: { identity: { source } },
    findings: [
      stsFinding(failure, {
        endpoint: target.endpoint,
        region: target.region,
        roleArn: undefined,
        claims: undefined,
        operation,
        ...(nowMs !== undefined ? { nowMs } : {}),
      }),
    ],
  };
}

/**
 * identity.caller: who an app in this pod really is. The source comes from env.precedence's decision for the
 * JS SDK (the SDK this tool is built on); GetCallerIdentity proves the ARN, which is compared with AWS_ROLE_ARN.
 */
export const identityCaller: Check<'identity.caller'> = {
  id: 'identity.caller',
  title: 'Caller identity of an app in this pod',
  stage: 'identity',
  dependsOn: [],
  uses: [
    'env.mechanism',
    'env.irsa',
    'env.region',
    'env.precedence',
    'sts.assume-role',
    'pod-identity.agent',
    'identity.imds',
  ],
  needs: 'network',
  timeoutMs: 8_000,
  async run(ctx, upstream, signal): Promise<CheckOutcome<CallerOutput>> {
    const choice = upstream.output('env.precedence')?.choices.find((c) => c.sdk === 'js-v3');
    if (!choice)
      return { status: 'skip', summary: 'skipped: the SDK credential chain was not evaluated (env.precedence)' };
    const source = choice.source;
    const target = jsStsTarget(ctx.env, upstream.output('env.region'));
    const resolved = await resolveCredentials(ctx, upstream, source, target, deadlineSignal(signal, 7_000));
    const details = { source, via: choice.detail.slice(0, 200) };
    const self = await readPodSelf(ctx);
    const serviceAccount = serviceAccountArg(self.serviceAccount);
    const namespace = namespaceArg(self.namespace);

    let callerArn: string;
    switch (resolved.kind) {
      case 'skip':
        return { status: 'skip', summary: `skipped: ${resolved.why}`, details };
      case 'sts-failed':
        return stsFailed(resolved.error, resolved.operation, target, details, source);
      case 'none': {
        const finding: FindingInput = {
          code: 'NO_CREDENTIALS',
          summary: `An app in this pod gets no AWS credentials at all: ${resolved.why}. SDKs fail with "Could not load credentials from any providers" / "Unable to locate credentials".`,
          evidence: { source, detail: choice.detail.slice(0, 300) },
          remedy: remedy(
            'Give the pod an identity: annotate its ServiceAccount with eks.amazonaws.com/role-arn (IRSA) or create a Pod Identity association, then recreate the pod.',
            [
              sh`kubectl annotate serviceaccount ${serviceAccount} -n ${namespace} eks.amazonaws.com/role-arn=arn:aws:iam::<ACCOUNT_ID>:role/<ROLE_NAME>`,
            ],
            [LINKS.sdkChain, LINKS.irsa],
          ),
        };
        return {
          status: 'fail',
          summary: `no credentials: ${resolved.why}`,
          details,
          facts: { identity: { source: 'none' } },
          findings: [finding],
        };
      }
      case 'arn':
        callerArn = resolved.callerArn;
        break;
      case 'credentials':
        try {
          callerArn = (await getCallerIdentity(ctx.net, target, resolved.credentials, signal)).arn;
        } catch (error) {
          return stsFailed(error, `GetCallerIdentity with ${resolved.label}`, target, details, source, ctx.clock.now());
        }
        break;
      default:
        return assertNever(resolved);
    }

    const expected = upstream.output('env.irsa')?.roleArn ?? parseRoleArn(ctx.env.AWS_ROLE_ARN ?? '');
    const nodeRoleArn = upstream.output('identity.imds')?.nodeRoleArn;
    const relation = compareCaller(callerArn, expected, nodeRoleArn);
    const nothingConfigured = upstream.output('env.mechanism')?.mechanism === 'none';
    const identityFacts = { callerArn, source: relation === 'node-role' ? ('node-role' as const) : source };
    const facts = {
      identity: identityFacts,
      ...(relation === 'node-role' && nothingConfigured ? { mechanism: 'node-role' as const } : {}),
    };
    const output: CallerOutput = { callerArn, source: identityFacts.source };
    const withDetails = { ...details, callerArn };
    switch (relation) {
      case 'match':
        return {
          status: 'pass',
          summary: `${callerArn} via ${SOURCE_WORDS[source]}, as expected`,
          details: withDetails,
          facts,
          output,
        };
      case 'no-expectation':
        return {
          status: 'pass',
          summary: `${callerArn} via ${SOURCE_WORDS[source]}`,
          details: withDetails,
          facts,
          output,
        };
      case 'case-only':
        return {
          status: 'warn',
          summary: `${callerArn} differs from AWS_ROLE_ARN ${expected?.arn ?? ''} only in case (IAM role names are unique case-insensitively)`,
          details: withDetails,
          facts,
          output,
        };
      case 'node-role':
        return {
          status: 'fail',
          summary: `an app here runs as the node role ${callerArn}`,
          details: withDetails,
          facts,
          output,
          findings: [
            {
              code: 'NODE_ROLE_FALLBACK',
              summary: `An app in this pod gets the node's instance role (${callerArn}) instead of ${expected ? `its own role ${expected.arn}` : 'a role of its own'}: the SDK chain reached IMDS. It then fails with "is not authorized to perform" on anything the node role lacks, or silently works with the node's rights.`,
              evidence: {
                callerArn,
                expectedRoleArn: expected?.arn ?? null,
                nodeRoleArn: nodeRoleArn ?? null,
                source: choice.detail.slice(0, 300),
              },
              remedy: remedy(
                'Make the pod use its own role (fix the findings above: ServiceAccount annotation, then recreate the pod), and block IMDS for pods with a hop limit of 1 so a miss fails loudly instead of falling back.',
                [
                  sh`kubectl get serviceaccount ${serviceAccount} -n ${namespace} -o jsonpath='{.metadata.annotations}'`,
                  sh`aws ec2 modify-instance-metadata-options --instance-id ${matching(upstream.output('identity.imds')?.instanceId, INSTANCE_ID, 'INSTANCE_ID')} --http-put-response-hop-limit 1 --http-tokens required`,
                ],
                [LINKS.irsaTroubleshoot, LINKS.imds],
              ),
            },
          ],
        };
      case 'other':
        return {
          status: 'fail',
          summary: `an app here runs as ${callerArn}, not ${expected?.arn ?? 'the expected role'}`,
          details: withDetails,
          facts,
          output,
          findings: [
            {
              code: 'IDENTITY_MISMATCH',
              summary: `An app in this pod runs as ${callerArn} (via ${SOURCE_WORDS[source]}), not as AWS_ROLE_ARN ${expected?.arn ?? ''}. ${source === 'irsa' ? '' : `The SDK chain picks ${SOURCE_WORDS[source]} before web identity. `}Compare partition, account and role name (assumed-role ARNs drop the role path).`,
              evidence: {
                callerArn,
                expectedRoleArn: expected?.arn ?? null,
                source,
                detail: choice.detail.slice(0, 300),
              },
              remedy: remedy(
                'Remove the credential source that wins over web identity (static keys, AWS_PROFILE, a mounted ~/.aws), or point AWS_ROLE_ARN at the role you mean.',
                [sh`env | grep -E "^AWS_" | sed -E "s/(SECRET_ACCESS_KEY|SESSION_TOKEN)=.*/\\1=<hidden>/"`],
                [LINKS.sdkChain],
              ),
            },
          ],
        };
      default:
        return assertNever(relation);
    }
  },
};
