import type { RoleArn } from '../aws/arn';
import {
  CLOCK_SKEW_THRESHOLD_S,
  awsNowFromMessage,
  describeSkew,
  expirationFromMessage,
  skewSeconds,
} from '../aws/clock';
import { IRSA_AUDIENCE } from '../aws/env-names';
import { stsEndpointProblem } from '../aws/sts-client';
import type { StsFailure } from '../aws/sts-errors';
import type { FindingInput, Remedy } from '../run/types';
import { issuerHostPath } from './issuer-discovery';
import type { TokenClaimsOutput } from './outputs';
import { LINKS, clockRemedy, ns, podRemedy, remedy, replacePod } from './remedies';
import {
  arnArg,
  hostArg,
  namespaceArg,
  placeholder,
  Placeholder,
  roleNameArg,
  serviceAccountArg,
  sh,
  urlArg,
} from './shell';

/** What the STS checks know when they turn an StsFailure into a finding. */
export interface StsCallFacts {
  readonly endpoint: string;
  readonly region: string;
  readonly roleArn: RoleArn | undefined;
  readonly claims: TokenClaimsOutput | undefined;
  /** Which call failed, in the user's words, e.g. "AssumeRoleWithWebIdentity". */
  readonly operation: string;
  /** This machine's clock when the answer came, to hold against the time STS states in its message. */
  readonly nowMs?: number;
}

/**
 * The trust-policy statement this token needs (docs/mechanics.md 3.2, 3.4): Federated = the provider ARN in the role's
 * account, and StringEquals on the issuer's :sub and :aud keys.
 */
export function irsaTrustStatement(
  role: RoleArn,
  iss: string,
  namespace: string,
  serviceAccount: string,
  audience: string = IRSA_AUDIENCE,
): object {
  const host = issuerHostPath(iss);
  return {
    Effect: 'Allow',
    Principal: { Federated: `arn:${role.partition}:iam::${role.account}:oidc-provider/${host}` },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: {
      StringEquals: {
        [`${host}:sub`]: `system:serviceaccount:${namespace}:${serviceAccount}`,
        [`${host}:aud`]: audience,
      },
    },
  };
}

/** The token's audience as the trust policy and the provider must name it: the SA's annotation, or the default. */
function audienceOf(claims: TokenClaimsOutput | undefined): string {
  if (!claims || claims.aud.includes(IRSA_AUDIENCE)) return IRSA_AUDIENCE;
  return claims.aud[0] ?? IRSA_AUDIENCE;
}

function trustPolicyRemedy(facts: StsCallFacts): Remedy {
  const role = facts.roleArn;
  const claims = facts.claims;
  const roleName = roleNameArg(role?.name);
  const getRole = sh`aws iam get-role --role-name ${roleName} --query Role.AssumeRolePolicyDocument`;
  if (!role || !claims) {
    return remedy(
      "Make the role trust this cluster's OIDC provider with conditions on this ServiceAccount: Federated arn:aws:iam::<ACCOUNT>:oidc-provider/<ISSUER_HOST_PATH>, Action sts:AssumeRoleWithWebIdentity, StringEquals <ISSUER>:sub = system:serviceaccount:<NS>:<SA> and <ISSUER>:aud = sts.amazonaws.com.",
      [getRole],
      [LINKS.irsaTroubleshoot],
    );
  }
  const statement = irsaTrustStatement(
    role,
    claims.iss,
    ns(claims.namespace),
    claims.serviceAccount ?? '<SERVICE_ACCOUNT>',
    audienceOf(claims),
  );
  const document = JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
  return remedy(
    `Compare the role's trust policy with the statement this token needs (issuer ${issuerHostPath(claims.iss)}, sub ${claims.sub}). Watch for a :aud key where :sub is meant, the host typo oidc.<region>.eks, a * under StringEquals (use StringLike), and a provider in another account. update-assume-role-policy replaces the whole document: merge with the statements you keep.`,
    [getRole, sh`aws iam update-assume-role-policy --role-name ${roleName} --policy-document ${document}`],
    [LINKS.irsaTroubleshoot, LINKS.irsa],
  );
}

/** The IAM OIDC provider ARN of this issuer in the role's account, or its pattern with placeholders. */
function providerArn(facts: StsCallFacts): string | Placeholder {
  const pattern = new Placeholder('OIDC_PROVIDER_ARN', 'arn:aws:iam::<ACCOUNT>:oidc-provider/<ISSUER_HOST_PATH>');
  if (!facts.claims || !facts.roleArn) return pattern;
  const arn = `arn:${facts.roleArn.partition}:iam::${facts.roleArn.account}:oidc-provider/${issuerHostPath(facts.claims.iss)}`;
  const checked = arnArg(arn, 'OIDC_PROVIDER_ARN');
  return typeof checked === 'string' ? checked : pattern;
}

/** The finding for one classified STS failure, with the remedy filled in from what the check knows. */
export function stsFinding(failure: StsFailure, facts: StsCallFacts): FindingInput {
  const evidence = {
    operation: facts.operation,
    endpoint: facts.endpoint,
    region: facts.region,
    wireCode: failure.wireCode,
    httpStatus: failure.httpStatus ?? null,
    message: failure.message,
  };
  const said =
    failure.network || failure.local
      ? failure.explanation
      : `STS said ${failure.wireCode}: "${failure.message}". ${failure.explanation}`;
  const iss = facts.claims?.iss ?? '<ISSUER_URL>';
  const account = facts.roleArn?.account ?? '<ACCOUNT>';
  const code = failure.code;
  const base = { code, evidence };
  if (failure.foreign) {
    return {
      ...base,
      summary: `${facts.endpoint} answered ${facts.operation} with ${failure.message}. ${failure.explanation}`,
      remedy: remedy(
        'Find out what answers at this address: the endpoint variables (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL), a proxy (the STS host belongs in NO_PROXY), or the STS VPC endpoint and its private DNS.',
        [
          sh`curl -sS -i --max-time 5 ${urlArg(facts.endpoint, 'STS_ENDPOINT')}`,
          sh`env | grep -i -E "^AWS_ENDPOINT_URL|_proxy="`,
        ],
        [LINKS.stsEndpoint],
      ),
    };
  }
  switch (code) {
    case 'STS_ENDPOINT_INVALID':
      return {
        ...base,
        summary: `The STS endpoint ${facts.endpoint} ${stsEndpointProblem(facts.endpoint) ?? 'is not a URL the SDKs can call'}. ${failure.explanation}`,
        remedy: remedy(
          'Fix or remove the endpoint override (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL) in the container spec, or fix AWS_REGION, so the SDKs get a regional STS URL such as https://sts.us-west-2.amazonaws.com.',
          [
            sh`env | grep -E "^AWS_(ENDPOINT_URL|REGION|DEFAULT_REGION)"`,
            sh`kubectl set env deployment/<DEPLOYMENT> -n ${namespaceArg(facts.claims?.namespace)} AWS_ENDPOINT_URL_STS-`,
          ],
          [LINKS.stsEndpoint],
        ),
      };
    case 'TRUST_POLICY_DENIED':
      return {
        ...base,
        summary: `${facts.operation} for ${facts.roleArn?.arn ?? 'the role'} was denied. ${said}`,
        remedy: trustPolicyRemedy(facts),
      };
    case 'OIDC_PROVIDER_NOT_REGISTERED':
      return {
        ...base,
        summary: `${said} The IAM OIDC provider for ${iss} must exist in account ${account}, the account that owns the role (also for cross-account IRSA).`,
        remedy: remedy(
          `Register the cluster's issuer as an IAM OIDC provider in account ${account} with client ID sts.amazonaws.com.`,
          [
            sh`eksctl utils associate-iam-oidc-provider --cluster ${placeholder('CLUSTER')} --approve`,
            sh`aws iam create-open-id-connect-provider --url ${urlArg(facts.claims?.iss, 'ISSUER_URL')} --client-id-list ${IRSA_AUDIENCE}`,
            sh`aws iam list-open-id-connect-providers`,
          ],
          [LINKS.associateOidc],
        ),
      };
    case 'OIDC_AUDIENCE_NOT_ALLOWED': {
      const audience = audienceOf(facts.claims);
      const custom = audience !== IRSA_AUDIENCE;
      return {
        ...base,
        summary: `${said} The token's aud is ${JSON.stringify(facts.claims?.aud ?? [])}${custom ? ` (the ServiceAccount's eks.amazonaws.com/audience): the provider must list "${audience}" as a client ID, and the trust policy's :aud must name it` : ''}.`,
        evidence: { ...evidence, tokenAud: facts.claims?.aud ?? [] },
        remedy: remedy(
          custom
            ? `Add "${audience}" to the provider's client-ID list if that audience is intended; otherwise remove (or fix) the ServiceAccount's eks.amazonaws.com/audience annotation so new pods get sts.amazonaws.com.`
            : "Add sts.amazonaws.com to the provider's client-ID list.",
          [
            sh`aws iam get-open-id-connect-provider --open-id-connect-provider-arn ${providerArn(facts)} --query ClientIDList`,
            sh`aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn ${providerArn(facts)} --client-id ${audienceArg(audience)}`,
          ],
          [LINKS.oidcTroubleshoot],
        ),
      };
    }
    case 'CLOCK_SKEW':
      return {
        ...base,
        summary: `${said}${clockWords(failure.message, facts.nowMs)}`,
        remedy: clockRemedy(),
      };
    case 'OIDC_KEYS_UNRETRIEVABLE':
      return {
        ...base,
        summary: said,
        remedy: remedy(
          "For EKS this is usually transient: retry. For a self-hosted issuer, serve discovery and JWKS publicly over https with a certificate from a public CA, and keep the token's kid in the JWKS.",
          [
            sh`curl -sS ${urlArg(facts.claims ? `${facts.claims.iss.replace(/\/+$/, '')}/.well-known/openid-configuration` : undefined, 'DISCOVERY_URL')}`,
          ],
          [LINKS.oidcTroubleshoot],
        ),
      };
    case 'STS_TOKEN_EXPIRED': {
      const awsNow = awsNowFromMessage(failure.message);
      const skew = awsNow !== undefined && facts.nowMs !== undefined ? skewSeconds(awsNow, facts.nowMs) : undefined;
      const exp = facts.claims?.exp ?? expirationFromMessage(failure.message);
      const expWords = exp !== undefined ? ` The token's exp is ${new Date(exp * 1000).toISOString()}.` : '';
      if (skew !== undefined && Math.abs(skew) >= CLOCK_SKEW_THRESHOLD_S) {
        return {
          ...base,
          summary: `${said}${expWords}${clockWords(failure.message, facts.nowMs)} By this pod's clock the token is ${exp !== undefined && facts.nowMs !== undefined && exp * 1000 > facts.nowMs ? 'still valid' : 'expired too'}: the clocks disagree, the token file is not stale.`,
          evidence: { ...evidence, skewSeconds: skew },
          remedy: clockRemedy(),
        };
      }
      return {
        ...base,
        summary: `${said}${expWords}${awsNow !== undefined ? " STS's clock and this pod's agree: the token really is past its exp." : ''}`,
        ...podRemedy({ namespace: facts.claims?.namespace, podName: facts.claims?.podName }, (pod) =>
          remedy(
            'The token file is not being refreshed: mount the projected volume directly (no subPath, no copy) and replace the pod so the kubelet writes a fresh token; an app that read the token once must read the file again on every refresh (the current SDKs do).',
            replacePod(pod),
            [LINKS.irsaTroubleshoot],
          ),
        ),
      };
    }
    case 'STS_REGION_DISABLED':
      return {
        ...base,
        summary: `${said} The call went to ${facts.endpoint} (region ${facts.region}).`,
        remedy: remedy(
          `Activate STS in ${facts.region} (IAM console > Account settings > Security Token Service endpoints), or set AWS_REGION to a region where it is active.`,
          [],
          ['https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_enable-regions.html'],
        ),
      };
    case 'STS_THROTTLED':
      return {
        ...base,
        summary: `${said} Apps that create a new SDK session per call hit this at scale; it can end in a fallback to the node role.`,
        remedy: remedy(
          'Reuse one SDK client / credential provider per process so credentials are cached, or move to Pod Identity.',
        ),
      };
    case 'ROLE_ARN_INVALID':
      return {
        ...base,
        summary: said,
        remedy: remedy(
          'Fix the eks.amazonaws.com/role-arn annotation of the ServiceAccount (arn:aws:iam::<ACCOUNT_ID>:role/<ROLE_NAME>), then recreate the pod.',
          [
            sh`kubectl get serviceaccount ${serviceAccountArg(facts.claims?.serviceAccount)} -n ${namespaceArg(facts.claims?.namespace)} -o jsonpath='{.metadata.annotations}'`,
          ],
          [LINKS.irsa],
        ),
      };
    case 'STS_UNREACHABLE': {
      const host = hostOf(facts.endpoint);
      const region = regionWord(facts.region);
      const service = `com.amazonaws.${region}.sts`;
      return {
        ...base,
        summary: `STS at ${facts.endpoint} did not answer ${facts.operation}: ${failure.explanation}. Every SDK in this pod that uses this endpoint fails the same way.`,
        remedy: remedy(
          `Let the pod reach the regional STS endpoint: an STS interface VPC endpoint (${service}) with private DNS in private subnets, security groups and NetworkPolicies that allow 443 to it, and the STS host in NO_PROXY when a proxy is set.`,
          [
            sh`getent hosts ${hostArg(host, 'STS_HOST')}`,
            sh`curl -sS -o /dev/null -w '%{http_code}\\n' --max-time 5 ${urlArg(facts.endpoint, 'STS_ENDPOINT')}`,
            sh`aws ec2 describe-vpc-endpoints --region ${region} --filters Name=service-name,Values=com.amazonaws.${region}.sts --query 'VpcEndpoints[].[VpcEndpointId,State,PrivateDnsEnabled]'`,
          ],
          [LINKS.stsEndpoint],
        ),
      };
    }
    default:
      return {
        ...base,
        // Any code the classifier adds later and this switch does not know is reported as STS_ERROR.
        code: 'STS_ERROR',
        summary: said,
        remedy: remedy(
          `Look up ${failure.wireCode} for ${facts.operation} in the STS documentation.`,
          [],
          ['https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html'],
        ),
      };
  }
}

/** An OIDC client ID as an argument: IAM allows up to 255 characters; a space, a control or a leading - is not offered. */
function audienceArg(audience: string): string | Placeholder {
  return audience.length <= 255 && /^[\x21-\x7e]+$/.test(audience) && !audience.startsWith('-')
    ? audience
    : placeholder('AUDIENCE');
}

/** A region as it may appear inside a service name; anything that is not one becomes the placeholder. */
function regionWord(region: string): string | Placeholder {
  return /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(region) ? region : placeholder('REGION');
}

/** What STS's own message says of its clock against this one. */
function clockWords(message: string, nowMs: number | undefined): string {
  const awsNow = awsNowFromMessage(message);
  if (awsNow === undefined || nowMs === undefined) return '';
  const skew = skewSeconds(awsNow, nowMs);
  return ` STS's clock said ${new Date(awsNow).toISOString()}, this pod's ${new Date(nowMs).toISOString()}: this clock is ${describeSkew(skew)} STS's.`;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}
