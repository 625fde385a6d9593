import {
  AWS_CONTAINER_AUTHORIZATION_TOKEN,
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
  AWS_CONTAINER_CREDENTIALS_FULL_URI,
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
  POD_IDENTITY_TOKEN_PATH,
  POD_IDENTITY_URI,
} from '../aws/env-names';
import { maskSecretValue } from '../aws/secrets';
import { readPodSelf } from '../context/pod-self';
import type { Check, CheckOutcome, FindingInput } from '../run/types';
import type { PodIdentityEnvOutput } from './outputs';
import { LINKS, podRemedy, recreateWorkload, remedy, setEnvCommands } from './remedies';
import { namespaceArg, placeholder, podArg, sh } from './shell';

/** The addresses the EKS Pod Identity agent binds, and the only Host values it answers (docs/mechanics.md 5). */
const AGENT_HOSTS: ReadonlySet<string> = new Set(['169.254.170.23', '[fd00:ec2::23]']);
/** The ECS task credentials address: allowed over http by every SDK, but not the EKS agent. */
const ECS_HOST = '169.254.170.2';

/**
 * Whether the SDKs accept this host over plain http. JS v3, botocore and Go v2 agree on the set (reference
 * 4.1-4.3): 169.254.170.2, 169.254.170.23, fd00:ec2::23 and loopback (127.0.0.0/8, ::1, localhost; Go resolves
 * names and checks the addresses, so `localhost` passes there too). Anything else must be https.
 */
export function httpHostAllowed(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (AGENT_HOSTS.has(host) || host === ECS_HOST) return true;
  if (host === 'localhost' || host === '[::1]') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Why a container-credentials URI is unusable by every SDK, or undefined when it is usable. */
export function containerUriProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'it is not a URL';
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol !== 'http:') return `its scheme is "${url.protocol.slice(0, -1)}"; only http and https work`;
  if (!httpHostAllowed(url.hostname)) {
    return `plain http is allowed only to 169.254.170.23, [fd00:ec2::23], 169.254.170.2 or loopback, and the host is ${url.hostname}: the JS SDK rejects it ("is not a valid container metadata service hostname"), boto3 and the Go SDK with "only loopback hosts are allowed"-style errors`;
  }
  return undefined;
}

/**
 * env.pod-identity: the Pod Identity pair the webhook injects (docs/mechanics.md 1.3, 1.4): the agent URI and the
 * token file the SDK sends as Authorization. Runs whenever Pod Identity variables are present, also beside
 * IRSA ones (BOTH_MECHANISMS_CONFIGURED is env.mechanism's).
 */
export const envPodIdentity: Check<'env.pod-identity'> = {
  id: 'env.pod-identity',
  title: 'Pod Identity variables',
  stage: 'env',
  dependsOn: ['env.mechanism'],
  async run(ctx, upstream): Promise<CheckOutcome<PodIdentityEnvOutput>> {
    const mechanism = upstream.output('env.mechanism');
    if (!mechanism?.podIdentity) {
      return {
        status: 'skip',
        skipReason: 'not-applicable',
        summary: `skipped: no Pod Identity variables (mechanism: ${mechanism?.mechanism ?? 'unknown'})`,
      };
    }
    const fullUri = ctx.env[AWS_CONTAINER_CREDENTIALS_FULL_URI] || undefined;
    const tokenFile = ctx.env[AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE] || undefined;
    const inlineToken = ctx.env[AWS_CONTAINER_AUTHORIZATION_TOKEN] || undefined;
    const relativeUri = ctx.env[AWS_CONTAINER_CREDENTIALS_RELATIVE_URI] || undefined;
    const self = await readPodSelf(ctx);
    const findings: FindingInput[] = [];
    const notes: string[] = [];

    const details: Record<string, string> = {
      uri: fullUri ?? '(not set)',
      tokenFile: tokenFile ?? '(not set)',
    };
    if (inlineToken !== undefined) details.inlineToken = maskSecretValue(inlineToken);
    if (relativeUri !== undefined) details.relativeUri = relativeUri.slice(0, 200);

    if (fullUri === undefined || (tokenFile === undefined && inlineToken === undefined)) {
      findings.push(partialFinding(fullUri !== undefined, self.namespace, self.podName));
    }
    const uriProblem = fullUri !== undefined ? containerUriProblem(fullUri) : undefined;
    if (fullUri !== undefined && uriProblem !== undefined) {
      findings.push({
        code: 'POD_IDENTITY_URI_INVALID',
        summary: `AWS_CONTAINER_CREDENTIALS_FULL_URI "${fullUri.slice(0, 200)}" cannot be used: ${uriProblem}. The webhook sets ${POD_IDENTITY_URI}; a different value was set by hand.`,
        evidence: { value: fullUri.slice(0, 300), expected: POD_IDENTITY_URI },
        ...podRemedy({ namespace: self.namespace, podName: self.podName }, (pod) =>
          remedy(
            `Remove the hand-set AWS_CONTAINER_CREDENTIALS_FULL_URI (the webhook injects ${POD_IDENTITY_URI}) or set it to that value; the new pods get the webhook's.`,
            setEnvCommands(pod, ['AWS_CONTAINER_CREDENTIALS_FULL_URI-']),
            [LINKS.podIdentity],
          ),
        ),
      });
    }

    if (fullUri !== undefined && uriProblem === undefined) {
      const url = new URL(fullUri);
      if (url.hostname === ECS_HOST) {
        notes.push(`${ECS_HOST} is the ECS task credentials address, not the EKS Pod Identity agent (169.254.170.23)`);
      } else if (!AGENT_HOSTS.has(url.hostname.toLowerCase()) && url.protocol === 'http:') {
        // A loopback credentials server (a sidecar, a test agent) is legitimate: shown, not flagged.
        details.uriNote = `${url.hostname} is a local credentials server, not the EKS Pod Identity agent (169.254.170.23)`;
      } else if (url.protocol === 'https:' && AGENT_HOSTS.has(url.hostname.toLowerCase())) {
        notes.push('the EKS Pod Identity agent serves plain http on port 80; https to it fails');
      } else if (url.protocol === 'https:') {
        notes.push(
          `the URI points at ${url.hostname}: the EKS Pod Identity agent answers only on 169.254.170.23 / [fd00:ec2::23]`,
        );
      }
    }
    if (relativeUri !== undefined) {
      // docs/mechanics.md 4.1: fromHttp prefers the RELATIVE_URI (prefixed with http://169.254.170.2) with a warning.
      notes.push(
        `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is also set: the JS SDK v3 uses it (http://${ECS_HOST}${relativeUri.slice(0, 100)}) instead of the FULL_URI`,
      );
    }
    if (tokenFile !== undefined && inlineToken !== undefined) {
      notes.push('both AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE and the inline token are set: the SDKs use the file');
    } else if (tokenFile === undefined && inlineToken !== undefined) {
      notes.push(
        'the token is given inline (AWS_CONTAINER_AUTHORIZATION_TOKEN): unlike the projected file it is never refreshed, so it stops working when it expires',
      );
    } else if (tokenFile !== undefined && tokenFile !== POD_IDENTITY_TOKEN_PATH) {
      details.tokenNote = `the webhook sets ${POD_IDENTITY_TOKEN_PATH}`;
    }

    if (findings.length > 0) {
      return {
        status: 'fail',
        summary: findings
          .map((f) =>
            f.code === 'POD_IDENTITY_ENV_PARTIAL'
              ? 'the Pod Identity variables are incomplete'
              : 'AWS_CONTAINER_CREDENTIALS_FULL_URI is not usable',
          )
          .join('; '),
        details,
        findings,
      };
    }
    const output: PodIdentityEnvOutput = { fullUri: fullUri as string, tokenFile };
    if (notes.length > 0) {
      const handSet = [
        ...(inlineToken !== undefined ? [AWS_CONTAINER_AUTHORIZATION_TOKEN] : []),
        ...(relativeUri !== undefined ? [AWS_CONTAINER_CREDENTIALS_RELATIVE_URI] : []),
      ];
      const finding: FindingInput = {
        code: 'POD_IDENTITY_ENV_UNUSUAL',
        summary: `The Pod Identity variables are not the ones the webhook injects: ${notes.join('; ')}.`,
        evidence: { variables: handSet },
        ...podRemedy({ namespace: self.namespace, podName: self.podName }, (pod) =>
          remedy(
            `Remove ${handSet.join(' and ')} from the container spec so that only the webhook's AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE remain in the new pods.`,
            setEnvCommands(
              pod,
              handSet.map((v) => `${v}-`),
            ),
            [LINKS.podIdentity],
          ),
        ),
      };
      return { status: 'warn', summary: notes.join('; '), details, output, findings: [finding] };
    }
    return {
      status: 'pass',
      summary: `agent ${fullUri}, token ${tokenFile ?? 'inline'}`,
      details,
      output,
    };
  },
};

function partialFinding(hasUri: boolean, namespace: string | undefined, pod: string | undefined): FindingInput {
  const summary = hasUri
    ? `AWS_CONTAINER_CREDENTIALS_FULL_URI is set but neither AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE nor AWS_CONTAINER_AUTHORIZATION_TOKEN is: the SDK calls the agent without an Authorization header and the agent answers 400 "Service account token cannot be empty". The webhook injects the two as a pair and skips both when either is already in the container spec, so one was set by hand.`
    : `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is set but AWS_CONTAINER_CREDENTIALS_FULL_URI is not: no SDK calls the Pod Identity agent, and the chain moves on to IMDS (the node role). The webhook injects the two as a pair and skips both when either is already in the container spec, so one was set by hand.`;
  return {
    code: 'POD_IDENTITY_ENV_PARTIAL',
    summary,
    evidence: {
      [AWS_CONTAINER_CREDENTIALS_FULL_URI]: hasUri ? 'set' : 'missing',
      [AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE]: hasUri ? 'missing' : 'set',
    },
    ...podRemedy({ namespace, podName: pod }, (ref) =>
      remedy(
        'Remove the hand-set AWS_CONTAINER_* variable from the container spec so the webhook injects the pair and the token volume, then recreate the pod.',
        [
          sh`kubectl get pod ${podArg(pod)} -n ${namespaceArg(namespace)} -o jsonpath='{range .spec.containers[*]}{.name}{": "}{range .env[*]}{.name}{" "}{end}{"\\n"}{end}'`,
          sh`aws eks list-pod-identity-associations --cluster-name ${placeholder('CLUSTER')} --namespace ${namespaceArg(namespace)}`,
          ...recreateWorkload(ref),
        ],
        [LINKS.podIdentity],
      ),
    ),
  };
}
