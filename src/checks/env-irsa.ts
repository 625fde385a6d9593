import type { RoleArn } from '../aws/arn';
import { parseRoleArn } from '../aws/arn';
import { AWS_ROLE_ARN, AWS_ROLE_SESSION_NAME, AWS_WEB_IDENTITY_TOKEN_FILE, IRSA_TOKEN_PATH } from '../aws/env-names';
import type { Partition } from '../aws/partitions';
import { readPodSelf } from '../context/pod-self';
import type { Check, CheckOutcome, FindingInput } from '../run/types';
import type { IrsaEnvOutput } from './outputs';
import { LINKS, podRemedy, recreateWorkload, remedy, setEnvCommands } from './remedies';
import { namespaceArg, placeholder, podArg, serviceAccountArg, sh } from './shell';

const KNOWN_PARTITIONS: readonly Partition[] = [
  'aws',
  'aws-cn',
  'aws-us-gov',
  'aws-iso',
  'aws-iso-b',
  'aws-iso-e',
  'aws-iso-f',
  'aws-eusc',
];

/** STS RoleSessionName: 2-64 of [\w+=,.@-] (docs/mechanics.md 3.2). */
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

/**
 * env.irsa: the IRSA pair and its shape. The webhook injects AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE as a
 * pair and skips both when either is already in the container spec (docs/mechanics.md 1.3), so a lone variable means
 * one was set by hand; the SDKs then disagree about what to do (docs/mechanics.md 4.4).
 */
export const envIrsa: Check<'env.irsa'> = {
  id: 'env.irsa',
  title: 'IRSA variables',
  stage: 'env',
  dependsOn: ['env.mechanism'],
  async run(ctx, upstream): Promise<CheckOutcome<IrsaEnvOutput>> {
    const mechanism = upstream.output('env.mechanism');
    if (mechanism?.mechanism !== 'irsa') {
      return {
        status: 'skip',
        skipReason: 'not-applicable',
        summary: `skipped: this container is not set up for IRSA (mechanism: ${mechanism?.mechanism ?? 'unknown'})`,
      };
    }
    const roleValue = ctx.env[AWS_ROLE_ARN] || undefined;
    const tokenFile = ctx.env[AWS_WEB_IDENTITY_TOKEN_FILE] || undefined;
    const sessionName = ctx.env[AWS_ROLE_SESSION_NAME] || undefined;
    const self = await readPodSelf(ctx);
    const findings: FindingInput[] = [];

    if (roleValue === undefined || tokenFile === undefined) {
      findings.push(partialFinding(roleValue !== undefined, self.namespace, self.podName));
    }
    // parseRoleArn's optional "/" after "role" would accept "...:roleNAME"; a role ARN always has "role/".
    const roleArn = roleValue !== undefined && roleValue.includes(':role/') ? parseRoleArn(roleValue) : undefined;
    if (roleValue !== undefined && roleArn === undefined) {
      findings.push(invalidArnFinding(roleValue, self.namespace, self.podName, self.serviceAccount));
    }
    if (sessionName !== undefined && !SESSION_NAME.test(sessionName)) {
      findings.push(sessionNameFinding(sessionName, self.namespace, self.podName));
    }

    const details: Record<string, string> = {};
    if (roleArn) {
      details.role = `${roleArn.path === '/' ? '' : roleArn.path.slice(1)}${roleArn.name}`;
      details.account = roleArn.account;
      details.partition = roleArn.partition;
    } else if (roleValue !== undefined) {
      details.role = roleValue.slice(0, 200);
    }
    details.tokenFile = tokenFile ?? '(not set)';
    if (sessionName !== undefined) details.sessionName = sessionName.slice(0, 100);

    if (findings.length > 0) {
      return {
        status: 'fail',
        summary: findings.map((f) => shortOf(f.code)).join('; '),
        details,
        findings,
      };
    }
    // Both are set and the ARN parses: roleArn and tokenFile are defined here.
    const output: IrsaEnvOutput = { roleArn: roleArn as RoleArn, tokenFile: tokenFile as string, sessionName };
    const notes: string[] = [];
    if (!(tokenFile as string).startsWith('/')) {
      notes.push(
        `${AWS_WEB_IDENTITY_TOKEN_FILE} is a relative path, resolved against the app's working directory: the webhook always sets ${IRSA_TOKEN_PATH}`,
      );
    }
    if (notes.length > 0) {
      return { status: 'warn', summary: notes.join('; '), details, output };
    }
    return {
      status: 'pass',
      summary: `role ${roleArn?.name} in account ${roleArn?.account}, token file ${tokenFile}`,
      details,
      output,
    };
  },
};

function shortOf(code: FindingInput['code']): string {
  switch (code) {
    case 'IRSA_ENV_PARTIAL':
      return 'only one of AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE is set';
    case 'ROLE_ARN_INVALID':
      return 'AWS_ROLE_ARN is not a valid IAM role ARN';
    case 'ROLE_SESSION_NAME_INVALID':
      return 'AWS_ROLE_SESSION_NAME is not a valid STS session name';
    default:
      return code;
  }
}

function partialFinding(hasRole: boolean, namespace: string | undefined, pod: string | undefined): FindingInput {
  const present = hasRole ? AWS_ROLE_ARN : AWS_WEB_IDENTITY_TOKEN_FILE;
  const missing = hasRole ? AWS_WEB_IDENTITY_TOKEN_FILE : AWS_ROLE_ARN;
  // Without a token file, botocore and Go never enter their web-identity step; with a token file and no
  // role, they stop with an error while JS moves on (docs/mechanics.md 4.1, 4.2, 4.3 and the 4.4 table).
  const sdkEffect = hasRole
    ? 'No SDK uses web identity without the token file: the JS SDK v3, boto3 and the Go SDK v2 all move on to the container endpoint or IMDS, so the app silently gets the node role (or no credentials where IMDS is blocked).'
    : 'The JS SDK v3 skips web identity without a role and silently falls through to the container endpoint or IMDS (the node role); boto3 stops with InvalidConfigError ("assume role with web identity but has no role ARN configured") and the Go SDK v2 with "role ARN is not set".';
  return {
    code: 'IRSA_ENV_PARTIAL',
    summary: `${present} is set but ${missing} is not. The pod-identity webhook injects the two as a pair and skips both when either one is already in the container spec, so ${present} was most likely set by hand (in the Deployment, a Helm value or an env file) and the webhook then added nothing. ${sdkEffect}`,
    evidence: { present, missing },
    ...podRemedy({ namespace, podName: pod }, (ref) =>
      remedy(
        `Remove the hand-set ${present} from the container spec so the webhook injects both variables and the token volume into the new pods.`,
        [
          sh`kubectl get pod ${podArg(pod)} -n ${namespaceArg(namespace)} -o jsonpath='{range .spec.containers[*]}{.name}{": "}{range .env[*]}{.name}{" "}{end}{"\\n"}{end}'`,
          ...setEnvCommands(ref, [`${present}-`]),
        ],
        [LINKS.irsa, LINKS.irsaTroubleshoot],
      ),
    ),
  };
}

/** Which part of a would-be role ARN is wrong, in the user's terms. */
export function describeRoleArnProblem(value: string): string {
  if (value !== value.trim()) return 'it has leading or trailing whitespace';
  if (/^["']|["']$/.test(value)) return 'it is wrapped in quotes, which become part of the value';
  if (!value.startsWith('arn:')) {
    if (/^[\w+=,.@-]{1,64}$/.test(value)) {
      return `it is a role name, not an ARN: the webhook may accept a bare name (with --compose-role-arn) but the SDKs pass it to STS as it is; write arn:aws:iam::<ACCOUNT_ID>:role/${value}`;
    }
    return 'it does not start with "arn:"';
  }
  const parts = value.split(':');
  if (parts.length !== 6) {
    return `it has ${parts.length - 1} colons where an IAM role ARN has 5 (arn:PARTITION:iam::ACCOUNT_ID:role/NAME)`;
  }
  const [, partition = '', service = '', region = '', account = '', resource = ''] = parts;
  if (!KNOWN_PARTITIONS.includes(partition as Partition)) {
    return `the partition "${partition}" is not an AWS partition (aws, aws-cn, aws-us-gov, ...)`;
  }
  if (service === 'sts' && resource.startsWith('assumed-role/')) {
    return 'it is an STS assumed-role ARN (a session), not the role: use arn:PARTITION:iam::ACCOUNT_ID:role/NAME';
  }
  if (service !== 'iam') return `the service is "${service}" where a role ARN has "iam"`;
  if (region !== '') return `it names the region "${region}"; IAM ARNs have an empty region field (iam::)`;
  if (!/^\d{12}$/.test(account)) return `the account "${account}" is not a 12-digit account ID`;
  if (!resource.startsWith('role/')) {
    const kind = resource.split('/')[0] ?? resource;
    return `the resource is "${kind}" where a role ARN has "role/" (e.g. an instance-profile or user ARN was used)`;
  }
  const name = resource.slice(resource.lastIndexOf('/') + 1);
  if (name.length === 0) return 'the role name after "role/" is empty';
  if (name.length > 64) return `the role name is ${name.length} characters long; IAM allows at most 64`;
  if (!/^[\w+=,.@-]+$/.test(name)) {
    return 'the role name has characters IAM does not allow (only letters, digits and +=,.@_-)';
  }
  return 'the role path has characters IAM does not allow';
}

function invalidArnFinding(
  value: string,
  namespace: string | undefined,
  pod: string | undefined,
  serviceAccount: string | undefined,
): FindingInput {
  // A role name or path/name: what the webhook injects verbatim unless it composes ARNs (cache.go addSA).
  const bareName = !value.includes('arn:') && /^[\w+=,.@/-]{1,512}$/.test(value) && !value.startsWith('/');
  const sa = serviceAccountArg(serviceAccount);
  const nsWord = namespaceArg(namespace);
  return {
    code: 'ROLE_ARN_INVALID',
    summary: `AWS_ROLE_ARN "${value.slice(0, 200)}" is not a valid IAM role ARN: ${describeRoleArnProblem(value)}. STS rejects the web identity call with "ValidationError: Request ARN is invalid". The webhook copies the ServiceAccount annotation eks.amazonaws.com/role-arn verbatim (it only logs a warning for a bad value).`,
    evidence: { value: value.slice(0, 300), expected: 'arn:PARTITION:iam::ACCOUNT_ID:role/[PATH/]NAME' },
    ...podRemedy({ namespace, podName: pod }, (ref) =>
      remedy(
        bareName
          ? `Write the full ARN in the eks.amazonaws.com/role-arn annotation: this webhook injects the annotation verbatim (it composes an ARN from a role name only when it runs with --compose-role-arn), then recreate the pod.`
          : 'Fix the eks.amazonaws.com/role-arn annotation of the ServiceAccount (or the hand-set AWS_ROLE_ARN), then recreate the pod.',
        [
          sh`kubectl get serviceaccount ${sa} -n ${nsWord} -o jsonpath='{.metadata.annotations.eks\\.amazonaws\\.com/role-arn}'`,
          sh`kubectl annotate serviceaccount ${sa} -n ${nsWord} --overwrite eks.amazonaws.com/role-arn=arn:aws:iam::${placeholder('ACCOUNT_ID')}:role/${bareName ? value : placeholder('ROLE_NAME')}`,
          ...recreateWorkload(ref),
        ],
        [LINKS.irsaTroubleshoot],
      ),
    ),
  };
}

function sessionNameFinding(value: string, namespace: string | undefined, pod: string | undefined): FindingInput {
  const why =
    value.length < 2
      ? 'it is shorter than 2 characters'
      : value.length > 64
        ? `it is ${value.length} characters long (at most 64; a long pod name used as the session name does this)`
        : 'it has characters outside letters, digits and +=,.@_-';
  return {
    code: 'ROLE_SESSION_NAME_INVALID',
    summary: `AWS_ROLE_SESSION_NAME "${value.slice(0, 100)}" breaks the STS RoleSessionName rule ([\\w+=,.@-], 2-64 characters): ${why}. Every SDK sends it as is, and STS answers ValidationError.`,
    evidence: { length: value.length, value: value.slice(0, 100) },
    ...podRemedy({ namespace, podName: pod }, (ref) =>
      remedy(
        'Set AWS_ROLE_SESSION_NAME to 2-64 characters of letters, digits and +=,.@_- (or remove it: each SDK then makes its own).',
        setEnvCommands(ref, ['AWS_ROLE_SESSION_NAME-']),
      ),
    ),
  };
}
