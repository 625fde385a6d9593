import { LINKS, remedy } from '../checks/remedies';
import type { ShellCommand } from '../checks/shell';
import { Placeholder, arnArg, fragment, matching, placeholder, roleNameArg, sh, urlArg } from '../checks/shell';
import type { FindingCode } from '../run/findings';
import type { Remedy } from '../run/types';

/**
 * The AWS and SDK error messages users paste from their apps' logs, with what each means for a pod using
 * IRSA or EKS Pod Identity. Wording from docs/failure-modes.md (section 2) and
 * docs/mechanics.md (3.3 STS errors, 5 the Pod Identity agent).
 */

/** The irsa-doctor check ids a match can point to (`irsa-doctor --only ...`). */
export const CONFIRMING_CHECKS = [
  'env.mechanism',
  'env.irsa',
  'env.pod-identity',
  'env.region',
  'env.precedence',
  'env.proxy',
  'token.file',
  'token.claims',
  'issuer.discovery',
  'sts.assume-role',
  'pod-identity.agent',
  'identity.imds',
  'identity.caller',
  'sts.endpoints',
  'trust.policy',
  'kube.serviceaccount',
  'kube.pod',
] as const;
export type ConfirmingCheck = (typeof CONFIRMING_CHECKS)[number];

/** What the text itself says: the identifiers a remedy can be filled in with. */
export interface Extracted {
  readonly roleArns: readonly string[];
  readonly assumedRoleArns: readonly string[];
  readonly providerArns: readonly string[];
  readonly issuerUrls: readonly string[];
  /** The STS or agent URL named in a network error. */
  readonly endpointUrl: string | undefined;
  /** The IAM action a permission error names. */
  readonly action: string | undefined;
  /** The principal of a denial (`User: ...`), as written, when the text names one. */
  readonly principal: string | undefined;
  /** The resource ARN of a denied sts:AssumeRole / sts:TagSession: the role being chained into. */
  readonly targetArn: string | undefined;
}

/** What a code means for a pasted message, and what to do: the body of one `explain` match. */
export interface Explanation {
  readonly code: FindingCode;
  meaning(x: Extracted): string;
  causes(x: Extracted): readonly string[];
  readonly confirmWith: readonly ConfirmingCheck[];
  remedy(x: Extracted): Remedy;
}

const NODE_SESSION = /assumed-role\/[\w+=,.@-]+\/i-[0-9a-f]{8,17}\b/;

function roleName(x: Extracted): string {
  const arn = x.roleArns[0];
  if (arn) return arn.slice(arn.lastIndexOf('/') + 1);
  const assumed = x.assumedRoleArns.find((a) => !NODE_SESSION.test(a));
  if (assumed) return assumed.split('/')[1] ?? '<ROLE_NAME>';
  return '<ROLE_NAME>';
}

function issuerRegion(x: Extracted): string | Placeholder {
  const url = x.issuerUrls[0] ?? x.providerArns[0] ?? '';
  return /oidc\.eks\.([a-z0-9-]+)\.amazonaws/.exec(url)?.[1] ?? placeholder('REGION');
}

/** An IAM action as a permission error names it (service:Action, wildcards allowed). */
const IAM_ACTION = /^[a-z0-9-]+:[A-Za-z0-9*]+$/;

/**
 * Role names and ARNs from the pasted text go into commands only when they are valid ones (they may be
 * redacted as <ROLE> or {x}, or hostile), else as placeholders (src/checks/shell.ts).
 */
function roleNameValue(x: Extracted) {
  return roleNameArg(roleName(x));
}
function roleArnValue(x: Extracted) {
  const name = roleNameArg(roleName(x));
  if (x.roleArns[0] !== undefined) return arnArg(x.roleArns[0], 'ROLE_ARN');
  return typeof name === 'string'
    ? new Placeholder('ROLE_ARN', `arn:aws:iam::<ACCOUNT_ID>:role/${name}`)
    : placeholder('ROLE_ARN');
}
function callerRoleValue(x: Extracted) {
  return roleNameArg(/assumed-role\/([^/\s]{1,128})\//.exec(x.principal ?? '')?.[1]);
}
/** The caller of a chain is an IAM user ("User: arn:aws:iam::...:user/deployer"), whose policy is a user policy. */
function callerUser(x: Extracted): string | undefined {
  return /:user\/(?:[^\s/]{1,64}\/){0,8}([^\s/]{1,64})$/.exec(x.principal ?? '')?.[1];
}
function callerPolicyCommand(x: Extracted, document: string): ShellCommand {
  const user = callerUser(x);
  return user
    ? sh`aws iam put-user-policy --user-name ${roleNameArg(user)} --policy-name assume-target --policy-document ${document}`
    : sh`aws iam put-role-policy --role-name ${callerRoleValue(x)} --policy-name assume-target --policy-document ${document}`;
}
function targetRoleValue(x: Extracted) {
  const name = /:role\/(?:[^\s/]{1,64}\/){0,8}([^\s/]{1,128})$/.exec(x.targetArn ?? '')?.[1];
  return name === undefined ? placeholder('TARGET_ROLE_NAME') : roleNameArg(name);
}

/** What a chained AssumeRole also asked for, when the denial names it (session tags, a source identity). */
const CHAIN_EXTRA: Readonly<Record<string, string>> = {
  'sts:TagSession': ' (with session tags)',
  'sts:SetSourceIdentity': ' (setting a source identity)',
};
/** The actions both halves of a chain must allow: AssumeRole, plus the extra one the denial names. */
function chainActions(x: Extracted, withTags = false): string[] {
  const actions = ['sts:AssumeRole'];
  if (withTags || x.action === 'sts:TagSession') actions.push('sts:TagSession');
  if (x.action === 'sts:SetSourceIdentity') actions.push('sts:SetSourceIdentity');
  return actions;
}

const DIAGNOSE = sh`kubectl exec -it <POD> -n <NAMESPACE> -- irsa-doctor`;
/** With stdin a pipe: `-t` would make kubectl read the terminal instead (and refuse without one). */
const DIAGNOSE_STDIN = sh`kubectl exec -i <POD> -n <NAMESPACE> -- irsa-doctor`;
const RESTART = sh`kubectl rollout restart deployment/<DEPLOYMENT> -n <NAMESPACE>   # new pods get the webhook env; old ones never do`;

const ENTRIES: readonly Explanation[] = [
  {
    code: 'SDK_MISSING_STS_MODULE',
    meaning: () =>
      "the SDK found the IRSA (or assume-role) settings but cannot use them: web identity needs the SDK's STS package at run time, so the chain skipped to the next provider",
    causes: () => [
      "the application's build lacks the STS package: software.amazon.awssdk:sts (Java SDK v2), com.amazonaws:aws-java-sdk-sts (Java SDK v1), AWSSDK.SecurityToken (.NET), @aws-sdk/client-sts (JS v3)",
      'the dependency is declared but shaded out, trimmed from the published app, or marked provided/test scope',
    ],
    confirmWith: ['env.irsa', 'sts.assume-role'],
    remedy: () =>
      remedy(
        "Add the STS module to the application's runtime dependencies and redeploy; IRSA itself is fine if irsa-doctor's sts.assume-role passes.",
        [
          sh`# Maven: <dependency><groupId>software.amazon.awssdk</groupId><artifactId>sts</artifactId></dependency>`,
          sh`# Gradle: implementation 'software.amazon.awssdk:sts'`,
          sh`# .NET: dotnet add package AWSSDK.SecurityToken`,
          sh`${fragment(DIAGNOSE)} --only sts.assume-role`,
        ],
        [LINKS.irsa],
      ),
  },
  {
    code: 'NODE_ROLE_FALLBACK',
    meaning: (x) =>
      `this request was signed by the node's instance role${x.assumedRoleArns[0] ? ` (${x.assumedRoleArns[0]})` : ''}, so the pod is not using IRSA or Pod Identity: its SDK fell through to the node's IMDS credentials`,
    causes: () => [
      'the pod was created before its ServiceAccount got the eks.amazonaws.com/role-arn annotation (or the Pod Identity association), so the webhook never injected the variables: recreate the pod',
      'the ServiceAccount has no role annotation, or the pod uses another ServiceAccount',
      "the app's SDK is too old to read AWS_WEB_IDENTITY_TOKEN_FILE / AWS_CONTAINER_CREDENTIALS_FULL_URI and goes to IMDS",
      'the container is skipped by the webhook (skip-containers) or the webhook failed open (failurePolicy: Ignore)',
      'the IRSA role could not be assumed (throttling or AccessDenied) and the SDK fell back to IMDS',
      "when the node's role is then denied sts:AssumeRole into another role (a datasource's or a tool's 'assume role' setting), that is the same fallback: give the pod its own credentials first",
    ],
    confirmWith: ['env.mechanism', 'kube.serviceaccount', 'kube.pod', 'identity.caller', 'identity.imds'],
    remedy: () =>
      remedy(
        'Make the pod use its own role: check the ServiceAccount annotation, then recreate the pod so the webhook injects AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE; block IMDS from pods (hop limit 1) so this cannot happen silently.',
        [
          sh`kubectl get serviceaccount <SERVICE_ACCOUNT> -n <NAMESPACE> -o jsonpath='{.metadata.annotations.eks\\.amazonaws\\.com/role-arn}'`,
          sh`kubectl get pod <POD> -n <NAMESPACE> -o jsonpath='{.spec.containers[*].env[*].name}'`,
          RESTART,
          sh`${fragment(DIAGNOSE)} --only env.mechanism,identity.caller,identity.imds`,
        ],
        [LINKS.irsaTroubleshoot, LINKS.imds],
      ),
  },
  {
    code: 'POD_IDENTITY_ACCESS_DENIED',
    meaning: () =>
      'EKS Pod Identity could not assume the associated role: the role trust policy does not allow the service pods.eks.amazonaws.com both sts:AssumeRole and sts:TagSession',
    causes: () => [
      'the role trust policy lacks Principal {"Service": "pods.eks.amazonaws.com"} (it may still be an IRSA trust with a Federated principal)',
      'the trust allows sts:AssumeRole but not sts:TagSession (Pod Identity always tags the session)',
      'a condition on aws:RequestTag/... or aws:SourceAccount does not match the cluster',
      'the pod runs with hostNetwork: true (reported with this same message, eks-pod-identity-agent#139)',
    ],
    confirmWith: ['pod-identity.agent', 'env.pod-identity'],
    remedy: (x) =>
      remedy(
        'Let EKS Pod Identity assume the role: trust pods.eks.amazonaws.com with both actions.',
        [
          sh`aws iam update-assume-role-policy --role-name ${roleNameValue(x)} --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}'`,
          sh`${fragment(DIAGNOSE)} --only pod-identity.agent`,
        ],
        [LINKS.podIdentity],
      ),
  },
  {
    code: 'TRUST_POLICY_DENIED',
    meaning: (x) =>
      `STS refused AssumeRoleWithWebIdentity${x.roleArns[0] ? ` for ${x.roleArns[0]}` : ''}: the token is valid, but the role's trust policy does not allow this token (or the role does not exist)`,
    causes: () => [
      "the :sub condition names another namespace or ServiceAccount than the pod's (renamed namespace, copied role, typo)",
      "the Federated principal is not this cluster's provider: host typo oidc.REGION.eks instead of oidc.eks.REGION, another cluster's ID, or another account",
      'a wildcard under StringEquals (it is literal there; StringLike is needed), or the :aud key given the sub value',
      'the role ARN in AWS_ROLE_ARN names a role that does not exist or was recreated',
    ],
    confirmWith: ['trust.policy', 'token.claims', 'sts.assume-role'],
    remedy: (x) =>
      remedy(
        "Compare the role's trust policy with the token: pipe the role into irsa-doctor in the pod (kubectl exec -i, no -t, so stdin is the pipe), which names the failing statement and prints the corrected policy.",
        [
          sh`aws iam get-role --role-name ${roleNameValue(x)} --output json | ${fragment(DIAGNOSE_STDIN)} --trust-policy -`,
        ],
        [LINKS.irsaTroubleshoot, LINKS.oidcTroubleshoot],
      ),
  },
  {
    code: 'OIDC_PROVIDER_NOT_REGISTERED',
    meaning: (x) =>
      `the role's account has no IAM OIDC provider for the cluster's issuer${x.issuerUrls[0] ? ` ${x.issuerUrls[0]}` : ''}, so STS cannot trust the pod's token`,
    causes: () => [
      'IAM OIDC provider was never created for this cluster (eksctl utils associate-iam-oidc-provider was not run)',
      'the role lives in another account than the cluster: the provider must exist in the role account too (cross-account IRSA)',
      'the cluster was recreated and has a new issuer ID; the provider is for the old one',
      'China/GovCloud: the provider was created in the wrong partition',
    ],
    confirmWith: ['token.claims', 'sts.assume-role'],
    remedy: (x) =>
      remedy(
        "Register the cluster's issuer as an IAM OIDC provider in the role's account.",
        [
          sh`eksctl utils associate-iam-oidc-provider --cluster <CLUSTER> --region ${issuerRegion(x)} --approve`,
          sh`aws iam create-open-id-connect-provider --url ${urlArg(x.issuerUrls[0], 'ISSUER_URL')} --client-id-list sts.amazonaws.com   # in the role's account, for cross-account roles`,
          sh`aws iam list-open-id-connect-providers`,
        ],
        [LINKS.associateOidc, LINKS.oidcTroubleshoot],
      ),
  },
  {
    code: 'OIDC_AUDIENCE_NOT_ALLOWED',
    meaning: () =>
      "STS rejected the token's aud: it is not in the IAM OIDC provider's client-ID list (for IRSA it should be sts.amazonaws.com)",
    causes: () => [
      'the ServiceAccount has an eks.amazonaws.com/audience annotation with a typo (e.g. sts.amazon.com)',
      'the IAM OIDC provider was created without sts.amazonaws.com in its audiences',
      'the app sends a token minted for another audience (e.g. the Pod Identity token, aud pods.eks.amazonaws.com, or the Kubernetes API token)',
    ],
    confirmWith: ['token.claims', 'kube.serviceaccount', 'sts.assume-role'],
    remedy: (x) =>
      remedy(
        "Make the token's audience and the provider's client IDs agree.",
        [
          sh`aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn ${arnArg(x.providerArns[0], 'OIDC_PROVIDER_ARN')} --client-id sts.amazonaws.com`,
          sh`kubectl get serviceaccount <SERVICE_ACCOUNT> -n <NAMESPACE> -o jsonpath='{.metadata.annotations}'`,
          sh`${fragment(DIAGNOSE)} --only token.claims`,
        ],
        [LINKS.oidcTroubleshoot],
      ),
  },
  {
    code: 'OIDC_KEYS_UNRETRIEVABLE',
    meaning: () =>
      "STS could not fetch or trust the issuer's signing keys (JWKS), so it could not verify the token's signature",
    causes: () => [
      'a self-hosted issuer (kops, kubeadm, k3s) whose discovery document or JWKS is not publicly reachable over HTTPS',
      "the token's kid is not in the JWKS (keys rotated, or the issuer's bucket is stale)",
      'a legacy thumbprint on the IAM provider that no longer matches the issuer certificate (self-hosted issuers only)',
      'a transient STS-side failure: the SDK retries InvalidIdentityToken; persistent errors are configuration',
    ],
    confirmWith: ['issuer.discovery', 'token.claims', 'sts.assume-role'],
    remedy: (x) =>
      remedy(
        "Make the issuer's /.well-known/openid-configuration and JWKS publicly fetchable and containing the token's kid; update the provider thumbprint for self-hosted issuers.",
        [
          sh`curl -fsS ${urlArg(x.issuerUrls[0], 'ISSUER_URL')}/.well-known/openid-configuration`,
          sh`curl -fsS ${urlArg(x.issuerUrls[0], 'ISSUER_URL')}/keys`,
          sh`${fragment(DIAGNOSE)} --only issuer.discovery,token.claims`,
        ],
        [LINKS.oidcTroubleshoot],
      ),
  },
  {
    code: 'STS_TOKEN_EXPIRED',
    meaning: () => 'STS rejected the web identity token as expired: the app sent an old copy of the projected token',
    causes: () => [
      'the app read the token file once and caches its contents; the kubelet rewrites the file (about every 19 h for 24 h tokens) and the app must re-read it',
      'an old SDK that caches the token (upgrade it)',
      'the kubelet stopped refreshing the token (pod terminating, node problems) or a subPath mount, which never receives updates',
      'the node clock is wrong',
    ],
    confirmWith: ['token.file', 'token.claims', 'sts.assume-role'],
    remedy: () =>
      remedy(
        'Let the SDK re-read AWS_WEB_IDENTITY_TOKEN_FILE on every refresh (default SDK chains do), do not mount the token with subPath, and upgrade old SDKs.',
        [sh`${fragment(DIAGNOSE)} --only token.file,token.claims`],
        [LINKS.tokenPermissions],
      ),
  },
  {
    code: 'SESSION_CREDENTIALS_EXPIRED',
    meaning: () =>
      'an AWS service (not STS) rejected the session credentials as expired: the client kept using them past their expiry instead of fetching new ones; IRSA and Pod Identity credentials last about an hour and must be refreshed by the SDK',
    causes: () => [
      "the app copied the credentials out of the SDK (or built a client from fixed keys) instead of letting the SDK's provider refresh them",
      'a library or sidecar with its own credential code that fetches once at start (long jobs fail after about an hour)',
      'long-lived process with a hand-rolled AssumeRole that never renews',
      'the node clock is wrong',
    ],
    confirmWith: ['identity.caller', 'env.precedence'],
    remedy: () =>
      remedy(
        'Build clients with the default credential provider chain so credentials refresh before expiry; do not export session credentials into env or files.',
        [sh`${fragment(DIAGNOSE)} --only env.precedence,identity.caller`],
        [LINKS.sdkChain],
      ),
  },
  {
    code: 'TOKEN_NOT_YET_VALID',
    meaning: () => "the token's issue time is in the future for the verifier: a clock is wrong",
    causes: () => ["the node's clock is skewed (NTP not running)", 'a hand-made token with a wrong iat/nbf'],
    confirmWith: ['token.claims'],
    remedy: () => remedy('Fix the node clock (chrony/NTP).', [sh`${fragment(DIAGNOSE)} --only token.claims`]),
  },
  {
    code: 'STS_REGION_DISABLED',
    meaning: () =>
      'the regional STS endpoint the SDK called belongs to a region where STS is deactivated for this account',
    causes: () => [
      'STS is deactivated for the region in IAM account settings',
      'AWS_REGION names an opt-in region the account has not enabled',
    ],
    confirmWith: ['env.region', 'sts.endpoints', 'sts.assume-role'],
    remedy: () =>
      remedy('Activate STS for the region (IAM > Account settings), or point AWS_REGION at an enabled region.', [
        sh`aws iam get-account-summary`,
        sh`${fragment(DIAGNOSE)} --only env.region,sts.endpoints`,
      ]),
  },
  {
    code: 'ROLE_ARN_INVALID',
    meaning: () => 'the role ARN the SDK sent to STS is malformed',
    causes: () => [
      'AWS_ROLE_ARN (from the eks.amazonaws.com/role-arn annotation) has a typo: extra colon, missing account, spaces, or a role name instead of an ARN for apps that need the ARN',
      'a role path written incorrectly',
    ],
    confirmWith: ['env.irsa', 'kube.serviceaccount'],
    remedy: () =>
      remedy('Fix the annotation to arn:aws:iam::<ACCOUNT_ID>:role/<ROLE_NAME>, then recreate the pod.', [
        sh`kubectl annotate serviceaccount <SERVICE_ACCOUNT> -n <NAMESPACE> --overwrite eks.amazonaws.com/role-arn=arn:aws:iam::<ACCOUNT_ID>:role/<ROLE_NAME>`,
        RESTART,
      ]),
  },
  {
    code: 'POD_IDENTITY_TOKEN_REJECTED',
    meaning: () => 'the Pod Identity agent rejected the token the SDK sent from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
    causes: () => [
      'the token file is empty or unreadable for the app (the SDK then sends an empty Authorization header)',
      'an old SDK that does not read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (e.g. some PHP/.NET versions)',
      'the token is expired or not yet valid (node clock)',
      "the app sends something else than the raw token (e.g. 'Bearer <token>' in the Authorization header)",
      "a bare HTTP 400 from the agent (an SDK that prints only the status) is also how EKS Auth's AccessDenied (the role's trust) reaches the app: the agent's log on that node names which",
    ],
    confirmWith: ['env.pod-identity', 'token.file', 'token.claims', 'pod-identity.agent'],
    remedy: () =>
      remedy('Check that the app can read the Pod Identity token file and that its SDK supports Pod Identity.', [
        sh`${fragment(DIAGNOSE)} --only token.file,token.claims,pod-identity.agent`,
      ]),
  },
  {
    code: 'POD_IDENTITY_NO_ASSOCIATION',
    meaning: () => "EKS Pod Identity has no association for this pod's namespace and ServiceAccount",
    causes: () => [
      'no pod identity association exists for this namespace/ServiceAccount (or it names another cluster)',
      'the association was created for a different ServiceAccount name',
      'the association was deleted while the pod kept running',
    ],
    confirmWith: ['pod-identity.agent', 'kube.pod'],
    remedy: () =>
      remedy(
        'Create the association for this namespace and ServiceAccount.',
        [
          sh`aws eks list-pod-identity-associations --cluster-name <CLUSTER> --namespace <NAMESPACE>`,
          sh`aws eks create-pod-identity-association --cluster-name <CLUSTER> --namespace <NAMESPACE> --service-account <SERVICE_ACCOUNT> --role-arn arn:aws:iam::<ACCOUNT_ID>:role/<ROLE_NAME>`,
        ],
        [LINKS.podIdentity],
      ),
  },
  {
    code: 'SDK_TOO_OLD',
    meaning: () =>
      "the app's AWS SDK (or the credential provider the app wires up) predates EKS Pod Identity: it refuses the agent address 169.254.170.23 because it only allows loopback or ECS container-credential URIs",
    causes: () => [
      'Go SDK (v1 before 1.47.11, v2 before the Pod Identity release) or botocore before 1.33 in the app',
      "JS v3: a release whose default chain reached only the ECS provider (fromContainerMetadata) instead of fromHttp, or an app that calls fromContainerMetadata itself; 'not a valid container metadata service hostname' is that provider's message",
      'an app or controller image that vendors an old SDK (check its image, not the base image)',
    ],
    confirmWith: ['env.pod-identity', 'pod-identity.agent'],
    remedy: () =>
      remedy(
        "Upgrade the app's AWS SDK to a version that supports EKS Pod Identity (see the AWS list of minimum SDK versions) and let its default chain pick the credentials, or use IRSA for this app.",
        [sh`${fragment(DIAGNOSE)} --only pod-identity.agent   # confirms the agent works for a current SDK`],
        ['https://docs.aws.amazon.com/eks/latest/userguide/pod-id-minimum-sdk.html'],
      ),
  },
  {
    code: 'POD_IDENTITY_AGENT_UNREACHABLE',
    meaning: () => 'the app could not get an answer from the EKS Pod Identity agent at 169.254.170.23',
    causes: () => [
      'the eks-pod-identity-agent add-on is not installed, or its pod on this node is not ready',
      'HTTP(S)_PROXY is set and NO_PROXY does not list 169.254.170.23 (and fd00:ec2::23)',
      'NetworkPolicy, iptables or a service mesh blocks the link-local address',
      'hostNetwork pod, or IPv6 disabled on the node, or the request went through another address (Called agent through invalid address)',
    ],
    confirmWith: ['pod-identity.agent', 'env.proxy', 'env.pod-identity'],
    remedy: () =>
      remedy(
        'Make the agent reachable from the pod.',
        [
          sh`kubectl get daemonset eks-pod-identity-agent -n kube-system`,
          sh`${fragment(DIAGNOSE)} --only pod-identity.agent,env.proxy`,
        ],
        [LINKS.podIdentity],
      ),
  },
  {
    code: 'TOKEN_FILE_UNREADABLE',
    meaning: () => "the app's user cannot read the projected token file",
    causes: () => [
      "the container runs as a non-root uid that is neither the file's owner nor in its group: set securityContext.fsGroup (e.g. 65534) on the pod",
      'the process drops its supplemental groups (su/gosu, some sidecars), losing the fsGroup',
      'containers run as different uids while the token was chowned 0600 to one of them',
    ],
    confirmWith: ['token.file'],
    remedy: () =>
      remedy(
        "Give the pod an fsGroup so the token is group-readable for the app's uid, then recreate the pod.",
        [
          sh`kubectl patch deployment <DEPLOYMENT> -n <NAMESPACE> -p '{"spec":{"template":{"spec":{"securityContext":{"fsGroup":65534}}}}}'`,
          sh`${fragment(DIAGNOSE)} --only token.file`,
        ],
        [LINKS.tokenPermissions],
      ),
  },
  {
    code: 'TOKEN_FILE_MISSING',
    meaning: () => 'the token file named by AWS_WEB_IDENTITY_TOKEN_FILE does not exist in the app container',
    causes: () => [
      "the variables were set by hand (or copied) without the webhook's projected volume",
      'the container is excluded from injection, or the volume mount was removed by another mutating webhook/policy',
      'the app runs in a different container or chroot than the one with the mount',
    ],
    confirmWith: ['token.file', 'env.irsa', 'kube.pod'],
    remedy: () =>
      remedy(
        'Let the webhook inject both the env and the aws-iam-token volume: remove hand-set AWS_* variables and recreate the pod.',
        [sh`kubectl get pod <POD> -n <NAMESPACE> -o jsonpath='{.spec.volumes[*].name}'`, RESTART],
        [LINKS.irsa],
      ),
  },
  {
    code: 'STS_UNREACHABLE',
    meaning: (x) =>
      x.endpointUrl && /\/\/sts\.amazonaws\.com/.test(x.endpointUrl)
        ? 'the SDK called the global STS endpoint sts.amazonaws.com, which the pod cannot reach (typical of private subnets with only a regional STS VPC endpoint)'
        : `the SDK could not reach STS${x.endpointUrl ? ` at ${x.endpointUrl}` : ''}`,
    causes: (x) => [
      ...(x.endpointUrl && /\/\/sts\.amazonaws\.com/.test(x.endpointUrl)
        ? [
            'the SDK uses the global endpoint: set AWS_STS_REGIONAL_ENDPOINTS=regional and AWS_REGION (or annotate the SA eks.amazonaws.com/sts-regional-endpoints: "true")',
          ]
        : []),
      'no route to STS: private subnet without NAT and without an sts interface VPC endpoint',
      'DNS does not resolve the STS host, or a proxy without the STS host in NO_PROXY',
      'an outage of the region the SDK defaults to (us-east-1 for the global endpoint)',
    ],
    confirmWith: ['sts.endpoints', 'env.region', 'env.proxy'],
    remedy: () =>
      remedy(
        'Use the regional STS endpoint and make it reachable (VPC endpoint com.amazonaws.<REGION>.sts or NAT).',
        [
          sh`kubectl annotate serviceaccount <SERVICE_ACCOUNT> -n <NAMESPACE> eks.amazonaws.com/sts-regional-endpoints=true`,
          RESTART,
          sh`${fragment(DIAGNOSE)} --only sts.endpoints,env.region,env.proxy`,
        ],
        [LINKS.stsEndpoint],
      ),
  },
  {
    code: 'STS_THROTTLED',
    meaning: () => 'STS (or the Pod Identity agent) throttled the credential requests',
    causes: () => [
      'the app creates a new SDK client/session per request, so every call does a fresh AssumeRoleWithWebIdentity',
      'many pods starting at once on the same role',
      'after throttling, some SDKs fall back to the node role (check for assumed-role/.../i-... afterwards)',
    ],
    confirmWith: ['sts.assume-role', 'identity.caller'],
    remedy: () =>
      remedy(
        'Reuse one SDK client (and its credential cache) per process; consider EKS Pod Identity, whose agent caches credentials.',
        [sh`${fragment(DIAGNOSE)} --only sts.assume-role,identity.caller`],
      ),
  },
  {
    code: 'IRSA_ENV_PARTIAL',
    meaning: () =>
      'the SDK sees a web identity token file but no role ARN: only one of AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE reaches the app',
    causes: () => [
      'AWS_ROLE_ARN was set to an empty value or removed by hand, or set by hand on one container only',
      'a profile in AWS_CONFIG_FILE with web_identity_token_file but no role_arn',
      'a process wrapper that passes only part of the environment to the app',
    ],
    confirmWith: ['env.irsa', 'env.mechanism'],
    remedy: () =>
      remedy(
        'Let the webhook set both variables: remove hand-set AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE and recreate the pod.',
        [sh`${fragment(DIAGNOSE)} --only env.mechanism,env.irsa`, RESTART],
      ),
  },
  {
    code: 'CREDENTIALS_INVALID',
    meaning: () =>
      'AWS does not accept the access key (or session token) the request was signed with: these are not the credentials IRSA or Pod Identity hand out, or they are used where they are not valid',
    causes: () => [
      "static AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (env, a Secret, ~/.aws/credentials, the app's config) win over web identity in the SDK chain, and those keys are deleted, rotated or mistyped",
      'temporary keys (ASIA...) used without their session token, or with a token from another session',
      'session credentials from the global STS endpoint used in an opt-in region, or credentials of one partition (aws-cn, aws-us-gov) sent to another: use the regional STS endpoint and the right region',
    ],
    confirmWith: ['env.precedence', 'identity.caller', 'env.mechanism'],
    remedy: () =>
      remedy(
        'Find which credentials the app signs with and remove the static ones so the SDK uses the role; check that the region matches the credentials.',
        [
          sh`kubectl get pod <POD> -n <NAMESPACE> -o jsonpath='{.spec.containers[*].env[*].name}'`,
          sh`${fragment(DIAGNOSE)} --only env.precedence,identity.caller`,
        ],
        [LINKS.sdkChain],
      ),
  },
  {
    code: 'ROLE_LACKS_PERMISSION',
    meaning: (x) =>
      `the credentials work: the request was signed by ${x.principal ? `${x.principal}` : `the role ${roleName(x)}`}${x.assumedRoleArns[0]?.includes('/eks-') ? ' (through EKS Pod Identity)' : ''}, but its permissions do not allow ${x.action ?? 'this action'}`,
    causes: (x) => [
      `the role's permissions policies lack ${x.action ?? 'the action'} on this resource`,
      "a resource policy (bucket, key, secret), permissions boundary, SCP, session policy, or the service's own role mapping (OpenSearch fine-grained access control) denies it",
      'the role is the right one but for another environment (check the role name)',
    ],
    confirmWith: ['identity.caller'],
    remedy: (x) =>
      remedy(`Grant ${x.action ?? 'the action'} to the role ${roleName(x)} (IRSA/Pod Identity itself works).`, [
        sh`aws iam list-attached-role-policies --role-name ${roleNameValue(x)}`,
        sh`aws iam simulate-principal-policy --policy-source-arn ${roleArnValue(x)} --action-names ${matching(x.action, IAM_ACTION, 'ACTION')}`,
      ]),
  },
  {
    code: 'IRSA_ENV_MISSING',
    meaning: () =>
      'the app has no IRSA variables (AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE): the webhook did not mutate this pod, so the SDK skips web identity',
    causes: () => [
      'the ServiceAccount has no eks.amazonaws.com/role-arn annotation, or the pod uses another ServiceAccount',
      'the pod was created before the annotation (pods are only mutated at creation): recreate it',
      'the pod-identity-webhook is not running or failed open (failurePolicy: Ignore)',
    ],
    confirmWith: ['env.mechanism', 'kube.serviceaccount', 'kube.pod'],
    remedy: () =>
      remedy('Annotate the ServiceAccount with the role and recreate the pod.', [
        sh`kubectl annotate serviceaccount <SERVICE_ACCOUNT> -n <NAMESPACE> eks.amazonaws.com/role-arn=arn:aws:iam::<ACCOUNT_ID>:role/<ROLE_NAME>`,
        RESTART,
        sh`${fragment(DIAGNOSE)} --only env.mechanism,kube.serviceaccount`,
      ]),
  },
  {
    code: 'REGION_REQUIRED',
    meaning: () =>
      'the SDK refuses to start without a region: it cannot build the STS (or service) endpoint, so no credentials are fetched at all',
    causes: () => [
      'neither AWS_REGION nor AWS_DEFAULT_REGION is set in the container (the webhook sets them only for IRSA pods, and not on every cluster), nor in the config file',
      'the SDK tried to read the region from IMDS, which pods usually cannot reach (hop limit 1)',
      'the variable is set to an empty value',
    ],
    confirmWith: ['env.region'],
    remedy: () =>
      remedy(
        "Set AWS_REGION in the pod spec (or the app's client configuration).",
        [
          sh`kubectl set env deployment/<DEPLOYMENT> -n <NAMESPACE> AWS_REGION=<REGION>`,
          sh`${fragment(DIAGNOSE)} --only env.region`,
        ],
        [LINKS.stsEndpoint],
      ),
  },
  {
    code: 'CLOCK_SKEW',
    meaning: () =>
      "AWS rejected the request's signature time: the clock where the request was signed is minutes away from AWS's, so every signed call fails whatever the credentials",
    causes: () => [
      "the node's clock drifted (chrony/NTP not running or blocked), or the container runs with a faked time",
      'a VM that was suspended or restored from a snapshot',
      'a request signed, queued, then sent minutes later (rare; retries re-sign)',
    ],
    confirmWith: ['token.claims', 'identity.caller'],
    remedy: () =>
      remedy(
        'Fix the clock of the node (chrony with the Amazon Time Sync Service at 169.254.169.123); the credentials themselves are fine.',
        [sh`date -u   # in the pod, compare with an accurate clock`, sh`chronyc tracking   # on the node`],
        ['https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/set-time.html'],
      ),
  },
  {
    code: 'TOKEN_FILE_NOT_REGULAR',
    meaning: () =>
      'the SDK opened the web identity token path and found a directory or another non-file: the token is not mounted where AWS_WEB_IDENTITY_TOKEN_FILE points',
    causes: () => [
      'a volume or subPath mounted over the token path (a directory with the same name)',
      'AWS_WEB_IDENTITY_TOKEN_FILE set by hand to the directory instead of the file',
    ],
    confirmWith: ['token.file', 'env.irsa'],
    remedy: () =>
      remedy(
        'Let the webhook inject the env and the aws-iam-token volume; remove hand-set mounts or variables at that path.',
        [sh`${fragment(DIAGNOSE)} --only token.file`, RESTART],
      ),
  },
  {
    code: 'METADATA_PROXY_ERROR',
    meaning: () =>
      'a metadata proxy (kube2iam or kiam) answers for IMDS and failed: the pod did not get the role the proxy should have assumed for it',
    causes: () => [
      "the proxy cannot map the pod's IP to a pod or its iam.amazonaws.com/role annotation (pod cache stale, hostNetwork pod, pod not yet known)",
      "the proxy's own credentials (the node role, or keys it was given) may not sts:AssumeRole the pod's role: the pod role's trust must name the proxy's role, and the proxy's role needs sts:AssumeRole on it",
      'the proxy itself has no credentials or cannot reach STS',
      'kube2iam and kiam are unmaintained: IRSA or EKS Pod Identity replace them',
    ],
    confirmWith: ['env.mechanism', 'identity.imds', 'identity.caller'],
    remedy: () =>
      remedy(
        "Check the proxy's logs for the pod, and the role's trust for the proxy's role; better, move the workload to IRSA or EKS Pod Identity.",
        [
          sh`kubectl logs -n kube-system -l app=kube2iam --tail=200   # or -l app=kiam-server`,
          sh`kubectl get pod <POD> -n <NAMESPACE> -o jsonpath='{.metadata.annotations.iam\\.amazonaws\\.com/role}'`,
        ],
        [LINKS.irsa, LINKS.podIdentity],
      ),
  },
  {
    code: 'PROXY_INTERCEPTS_METADATA',
    meaning: () =>
      "an HTTP(S) proxy answered instead of AWS: the SDK sent the credential request through a proxy that refused or failed it (the proxy's answer, not STS's)",
    causes: () => [
      'HTTPS_PROXY is set and NO_PROXY does not list the STS host (sts.<REGION>.amazonaws.com), 169.254.169.254 and 169.254.170.23',
      'the proxy does not allow CONNECT to the STS host (an allow-list without sts)',
    ],
    confirmWith: ['env.proxy', 'sts.endpoints'],
    remedy: () =>
      remedy('Exempt the STS host and the metadata addresses from the proxy, or allow them on it.', [
        sh`kubectl set env deployment/<DEPLOYMENT> -n <NAMESPACE> NO_PROXY=169.254.169.254,169.254.170.23,.amazonaws.com`,
        sh`${fragment(DIAGNOSE)} --only env.proxy,sts.endpoints`,
      ]),
  },
  {
    code: 'EKS_AUTH_UNREACHABLE',
    meaning: () =>
      "the EKS Pod Identity agent cannot get an answer from the EKS Auth API (AssumeRoleForPodIdentity): the agent is up, but its call behind it never completes, so the app's request to the agent times out",
    causes: () => [
      'the node has no route to eks-auth.<REGION>.api.aws: private subnets need NAT or an EKS Auth interface VPC endpoint (com.amazonaws.<REGION>.eks-auth)',
      "a proxy or egress firewall on the node's network blocks it",
      'the agent is throttled at a burst of pod starts (the same message, transient)',
    ],
    confirmWith: ['pod-identity.agent'],
    remedy: () =>
      remedy('Give the nodes a route to the EKS Auth API (VPC endpoint or NAT), then watch the agent log.', [
        sh`kubectl logs -n kube-system daemonset/eks-pod-identity-agent --tail=100`,
        sh`aws ec2 describe-vpc-endpoints --filters Name=service-name,Values=com.amazonaws.<REGION>.eks-auth`,
      ]),
  },
  {
    code: 'ROLE_CHAINING_DENIED',
    meaning: (x) =>
      `the pod's credentials work, but its next step, sts:AssumeRole${CHAIN_EXTRA[x.action ?? ''] ?? ''} from ${x.principal ?? 'the caller'} into ${x.targetArn ?? 'another role'}, was denied`,
    causes: (x) => [
      `the caller's permissions: ${x.principal ? `${callerUser(x) ? 'the user' : 'the role of'} ${x.principal}` : 'the calling role'} needs an identity policy allowing ${chainActions(x).join(' and ')} on ${x.targetArn ?? 'the target role'}`,
      `the target's trust: ${x.targetArn ?? 'the target role'} must trust the caller's ${callerUser(x) ? 'user' : 'role'} ARN (not the IRSA OIDC provider) for ${chainActions(x).join(' and ')}; across accounts both halves are needed`,
      'EKS Pod Identity marks its session tags transitive: a chained AssumeRole from a Pod Identity session also needs sts:TagSession in both halves',
      'the app (or a library option such as role_arn) assumes a role it already has: drop the extra AssumeRole',
    ],
    confirmWith: ['identity.caller'],
    remedy: (x) =>
      remedy('Allow both halves: the caller may call AssumeRole on the target, and the target trusts the caller.', [
        callerPolicyCommand(
          x,
          JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: chainActions(x, true), Resource: x.targetArn ?? '<TARGET_ROLE_ARN>' },
            ],
          }),
        ),
        sh`aws iam get-role --role-name ${targetRoleValue(x)} --query Role.AssumeRolePolicyDocument   # must allow ${chainActions(x, true).join(', ')} for the caller's ${callerUser(x) ? 'user' : 'role'} ARN`,
      ]),
  },
  {
    code: 'DENIED_PRINCIPAL_UNKNOWN',
    meaning: () =>
      "AWS denied the request, but the message does not say who signed it: it may be the pod's role lacking the permission, the node's role (the pod fell back to IMDS), other credentials, or a resource policy",
    causes: () => [
      'which principal signed cannot be told from this line (S3 and many services answer a bare "Access Denied")',
      'if it is the node role, the pod is not using IRSA/Pod Identity (not mutated, or its SDK falls back to IMDS)',
      'if it is the pod role: a missing permission, a bucket/key policy, a permissions boundary or an SCP',
    ],
    confirmWith: ['identity.caller'],
    remedy: () =>
      remedy(
        "Find out who the app is: run the doctor in the pod (identity.caller), or get-caller-identity in the app's environment, then read the denial again with that principal in mind.",
        [
          sh`${fragment(DIAGNOSE)} --only identity.caller`,
          sh`kubectl exec <POD> -n <NAMESPACE> -- aws sts get-caller-identity`,
        ],
      ),
  },
  {
    code: 'ROLE_SESSION_NAME_INVALID',
    meaning: () =>
      'STS rejected the role session name: AWS_ROLE_SESSION_NAME (or the name the app passes) breaks the RoleSessionName rule',
    causes: () => ['longer than 64 characters, or characters outside [\\w+=,.@-] (spaces, slashes, colons)'],
    confirmWith: ['env.irsa'],
    remedy: () =>
      remedy('Use a session name of at most 64 characters from [A-Za-z0-9+=,.@_-].', [
        sh`${fragment(DIAGNOSE)} --only env.irsa`,
      ]),
  },
  {
    code: 'STS_GLOBAL_ENDPOINT',
    meaning: () =>
      "STS refused the request's signature scope: it was signed for one region and sent to an STS endpoint of another (the global sts.amazonaws.com accepts only us-east-1; a regional endpoint only its own region); the keys themselves are not in question",
    causes: () => [
      'the SDK signs for AWS_REGION but sends to the global endpoint (AWS_STS_REGIONAL_ENDPOINTS=legacy, an old SDK, or a tool that hard-codes sts.amazonaws.com)',
      'an endpoint override (AWS_ENDPOINT_URL_STS, a client option) names another region than the one the SDK signs for',
      "a tool's own STS client that does not follow the SDK's endpoint rules",
    ],
    confirmWith: ['env.region', 'sts.endpoints'],
    remedy: () =>
      remedy(
        'Make the STS endpoint and the signing region agree: use the regional endpoint of AWS_REGION, and remove endpoint overrides that name another region.',
        [
          sh`kubectl set env deployment/<DEPLOYMENT> -n <NAMESPACE> AWS_STS_REGIONAL_ENDPOINTS=regional AWS_REGION=<REGION>`,
          sh`${fragment(DIAGNOSE)} --only env.region,sts.endpoints`,
        ],
        [LINKS.stsEndpoint],
      ),
  },
  {
    code: 'CREDENTIAL_CAUSE_UNKNOWN',
    meaning: () =>
      'this is an AWS credential, signing or authorisation failure, but the message does not say which link broke: which credentials the app has, where they came from, and what AWS said about them cannot be told from it',
    causes: () => [
      'which mechanism the app uses (IRSA, Pod Identity, a metadata proxy, the node role, static keys) cannot be told from this line',
      'the message may be a wrapper: the specific error is often on the lines before or after it (caused by: ...); paste them too',
      'the pod may not get the credentials it is set up for (not mutated, another ServiceAccount, an SDK that skips the mechanism), so the app signs with others',
    ],
    confirmWith: ['env.mechanism', 'identity.caller'],
    remedy: () =>
      remedy(
        "Find out which credentials the app gets and whose they are: run the doctor in the pod, or get-caller-identity in the app's environment, then read the error again with that in mind.",
        [DIAGNOSE, sh`kubectl exec <POD> -n <NAMESPACE> -- aws sts get-caller-identity`],
      ),
  },
  {
    code: 'NO_CREDENTIALS',
    meaning: () =>
      'the SDK tried every credential source and none worked: no IRSA/Pod Identity variables reached it, or each provider failed (its own error may be further up the log)',
    causes: () => [
      'the pod was not mutated (no AWS_ROLE_ARN / AWS_CONTAINER_CREDENTIALS_FULL_URI): ServiceAccount not annotated, pod older than the annotation, or a debug container',
      'IMDS is blocked (hop limit 1), so there is no node-role fallback either; that part is good',
      'the web identity or container provider failed first: look for AccessDenied, InvalidIdentityToken or a file error earlier in the log',
      "the app (or its image's start script) accepts only static keys (AWS_ACCESS_KEY_ID) and never asks the SDK chain, so it cannot use IRSA or Pod Identity",
      "the container-credentials endpoint that failed is not EKS Pod Identity's agent (ECS's 169.254.170.2, a relative URI, a local service on a port): that service gave nothing",
    ],
    confirmWith: ['env.mechanism', 'kube.serviceaccount', 'env.irsa', 'env.pod-identity', 'identity.caller'],
    remedy: () =>
      remedy(
        'Run the diagnosis in the pod: it says which link of the chain is missing.',
        [
          DIAGNOSE,
          sh`kubectl get serviceaccount <SERVICE_ACCOUNT> -n <NAMESPACE> -o jsonpath='{.metadata.annotations}'`,
        ],
        [LINKS.irsaTroubleshoot],
      ),
  },
  {
    code: 'STS_ERROR',
    meaning: () =>
      'the web identity credential provider failed; the underlying STS error is usually on this line or the next (caused by: ...)',
    causes: () => [
      'the trust policy, the OIDC provider or the token (paste the "caused by" part for a precise answer)',
      'the token file could not be read',
    ],
    confirmWith: ['token.file', 'token.claims', 'sts.assume-role'],
    remedy: () =>
      remedy('Run the diagnosis in the pod, which calls STS the same way.', [
        sh`${fragment(DIAGNOSE)} --only sts.assume-role`,
      ]),
  },
];

/** The explanation of each code `explain` can name. */
export const EXPLANATIONS: ReadonlyMap<FindingCode, Explanation> = new Map(ENTRIES.map((e) => [e.code, e]));
