import type { FindingCode } from '../run/findings';

/**
 * What one record (a normalised log message, src/explain/records.ts) says, decided from its meaning rather
 * than its wording: which mechanism produced it (web identity, the Pod Identity agent, a metadata proxy,
 * static keys, IMDS), which operation failed (AssumeRoleWithWebIdentity, AssumeRole, a service call), who
 * signed the request (from the `User: ...` principal, even redacted), and whether the failure happened before
 * AWS answered (transport). The rules are ordered from the earliest link of the credential chain; the first
 * that holds names the record's cause. docs/mechanics.md 3.3 and 5 list the STS and agent answers;
 * docs/failure-modes.md section 2 what users see.
 *
 * Every expression is linear: literal alternations and bounded character classes only, applied to a record
 * that is at most RECORD_WINDOW characters.
 */

/** Who signed a denied request, as far as the text tells. */
export type PrincipalKind = 'node' | 'role' | 'user' | 'unknown' | 'none';

export interface Principal {
  readonly kind: PrincipalKind;
  /** The principal as written (possibly redacted), when there is one. */
  readonly text?: string;
  /** The role name of an assumed-role or role principal, when readable. */
  readonly roleName?: string;
}

// ---- what the record is about ----------------------------------------------------------------------------
const WEB_IDENTITY_OP = /AssumeRoleWithWebIdentity|WebIdentityErr|WebIdentityToken|web identity|webidentity/i;
const WEB_IDENTITY_DENIED =
  /not authorized to perform:? ?sts:AssumeRoleWithWebIdentity|AssumeRoleWithWebIdentity, (?:exceeded maximum number of attempts, \d{1,3}, )?https response error StatusCode: 403/i;
const ASSUME_ROLE_DENIED = /not authorized to perform:? ?sts:AssumeRole(?![\w])/i;
/** A tool reporting that the credentials it has could not assume a role it names (the CDK's bootstrap roles). */
const ASSUME_NAMED_ROLE_FAILED =
  /(?:could not be used to|could not|cannot|unable to|failed to) assume (?:role )?['"]?arn:aws[a-z-]{0,12}:iam::/i;
/**
 * The STS actions a chained AssumeRole needs besides itself (session tags, a source identity), and the
 * operation named by the SDK: denying any of them is a denied chain, whoever the caller is. (EKS Pod
 * Identity's own assume is refused by EKS Auth in other words: "EKS does not have permissions ...".)
 */
const CHAIN_ACTION_DENIED = /not authorized to perform:? ?sts:(?:TagSession|SetSourceIdentity)\b/i;
const ASSUME_ROLE_OPERATION = /when calling the AssumeRole operation|operation error STS: AssumeRole,/i;
const NOT_AUTHORIZED = /is not authorized to perform|not authorized to perform/i;
const NO_IDENTITY_POLICY = /because no identity-based policy allows/i;

// ---- the pod's own setup ---------------------------------------------------------------------------------
const ROLE_ARN_ENV = /\bAWS_ROLE_ARN\s{0,4}[=:]\s{0,4}["']?([^\s"',]{1,400})/;
// Only the structure is checked: pasted account ids are often redacted or shortened (123456789, XXXX, <ID>).
const VALID_ROLE_ARN =
  /^arn:aws(?:-cn|-us-gov|-iso(?:-[a-z])?)?:iam::[^:/\s]{1,40}:role\/(?:[\w+=,.@-]{1,64}\/){0,8}[\w+=,.@{}<>*-]{1,64}$/;
const ENV_NOT_INJECTED =
  /Not initializing EKS provider because AWS_ROLE_ARN was not set|AWS_ROLE_ARN (?:is )?(?:not set|missing) and AWS_CONTAINER_CREDENTIALS_FULL_URI/i;
const ENV_PARTIAL =
  /role ARN is not set|configured to assume role with web identity but has no role ARN|web_identity_token_file (?:is set )?(?:but )?(?:no|without) role_arn|You must specify a value for roleArn/i;
const STS_MODULE =
  /'sts' service module must be on the class ?path|aws-java-sdk-sts module must be on the class ?path|ClassNotFoundException:? ?(?:software\.amazon\.awssdk\.services\.sts\.internal\.StsWebIdentityCredentialsProviderFactory|com\.amazonaws\.services\.securitytoken\.internal\.STSProfileCredentialsService)/i;
/**
 * Any SDK's STS package, and a runtime saying it cannot load a package: web identity and assume-role
 * credentials need it (Java's sts module, .NET's AWSSDK.SecurityToken assembly, JS v3's @aws-sdk/client-sts).
 */
const STS_PACKAGE =
  /AWSSDK\.SecurityToken|aws-java-sdk-sts|software\.amazon\.awssdk[.:/]sts\b|awssdk\.services\.sts\b|com\.amazonaws\.services\.securitytoken|@aws-sdk\/client-sts/i;
const PACKAGE_MISSING =
  /could not be (?:found|loaded)|Could not load (?:file or )?assembly|cannot find (?:module|package)|ClassNotFound|NoClassDefFound|must be (?:on the class ?path|available at runtime)|is not installed/i;
const AGENT_HOST = /169\.254\.170\.23|fd00:ec2::23/i;
const SDK_REFUSES_AGENT =
  /only loopback hosts are allowed|URI did not refer to the loopback interface|Unsupported host|not a valid container metadata service host(?:name)?|invalid endpoint host/i;
const ROLE_SESSION_NAME = /RoleSessionName|roleSessionName/;
const VALIDATION =
  /ValidationError|ValidationException|failed to satisfy constraint|Member must satisfy regular expression pattern/i;

// ---- clock and region ------------------------------------------------------------------------------------
const CLOCK =
  /Signature expired: ?\d{8}T\d{6}Z is now earlier than|Signature not yet current|Request signature is too far in the past|RequestTimeTooSkewed|RequestExpired\b|request time and the current time is too large|clock skew|InvalidSignatureException: Signature expired/i;
const REGION_REQUIRED =
  /Missing Region|MissingRegion|an AWS region is required|region is required|Unable to find a region|Could not determine region|could not find region configuration|You must specify a region|region: ""|https?:\/\/sts\.\.amazonaws|Invalid endpoint: https?:\/\/[a-z0-9-]{0,40}\.\.amazonaws/i;

// ---- token files ----------------------------------------------------------------------------------------
/** The AWS token files and the variables naming them; kubernetes.io/serviceaccount/token is the API server's own. */
const TOKEN_PATH =
  /(?<!kubernetes\.io\/)serviceaccount\/token|eks-pod-identity-token|WebIdentityTokenFile|web[_ ]?identity[_ ]?token[_ ]?file|AWS_WEB_IDENTITY_TOKEN_FILE|AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE/i;
const FILE_DENIED =
  /permission denied|EACCES|UnauthorizedAccessException|Errno 13|AccessDeniedException: \/|is denied/i;
const FILE_MISSING =
  /no such file or directory|ENOENT|NoSuchFileException|FileNotFoundException|Errno 2\b|could not find file/i;
const FILE_NOT_REGULAR = /IsADirectoryError|EISDIR|is a directory|Errno 21/i;
/** The SDK says it could not read the token file but not why (cert-manager prints only that line). */
const FILE_UNREAD =
  /unable to read (?:the )?file|failed fetching WebIdentity token|could not read (?:the )?(?:web identity )?token/i;
/** The path opened is empty: the variable that names it is unset, so the pod was not mutated. */
const EMPTY_PATH = /\bopen (?:''|"")?: no such file|No such file or directory: ''|no such file or directory, open ''/i;
const PHP_TOKEN_FALSE =
  /\[WebIdentityToken\] must be a string|A token could not be loaded from the WebIdentityTokenFile/i;

// ---- Pod Identity -----------------------------------------------------------------------------------------
const EKS_AUTH = /EKS Auth|eks-auth|AssumeRoleForPodIdentity/i;
const POD_IDENTITY =
  /container-role|container metadata|pod identity|pod-identity|eks-pod-identity|AWS_CONTAINER_CREDENTIALS_FULL_URI/i;
const POD_IDENTITY_DENIED = /EKS does not have permissions to assume the associated role/i;
/** The agent's own words for a token it will not send on (eks-pod-identity-agent errors.go): nothing else says them. */
const AGENT_TOKEN_ERROR =
  /Service account token cannot be (?:empty|parsed)|Service account token failed basic claim validations/i;
const POD_TOKEN_REJECTED = /token is expired|The token included in the request is expired/i;
/**
 * The container-credentials provider (EKS Pod Identity in a pod; the ECS names are the SDKs' own) and the HTTP
 * status its endpoint answered. The agent answers 400 for a token it or EKS Auth rejects (and for EKS Auth's
 * AccessDenied), 404 when EKS Auth finds no association (docs/mechanics.md 5).
 */
const CONTAINER_PROVIDER =
  /EcsContainer|ContainerCredentialsProvider|container-role|container metadata|HTTP credential provider|fromContainerMetadata|fromHttp|AWS_CONTAINER_CREDENTIALS_FULL_URI/i;
const CONTAINER_STATUS = /(?:StatusCode\(|status(?: code)?:? ?|non 200 response \(?|responded with |HTTP )(40[04])\b/i;
/**
 * A container-credentials endpoint that is not the Pod Identity agent: ECS's (169.254.170.2, a relative URI
 * /v2/credentials/<id>, the ECS agent's own error names) or a local one on a port (Greengrass's token exchange
 * service, a test server). The same providers serve them all, so only the endpoint says which mechanism failed.
 */
const ECS_TASK_ENDPOINT =
  /169\.254\.170\.2(?!3)\b|AWS_CONTAINER_CREDENTIALS_RELATIVE_URI|\/v2\/credentials\/|CredentialsV2Request|InvalidIdInRequest|credentialprovider\/|\/\/(?:localhost|127\.0\.0\.1):\d{2,5}\//i;
const NO_ASSOCIATION =
  /ResourceNotFoundException|no association|association (?:was )?not found|could not find (?:a )?pod identity association/i;

// ---- metadata proxies ---------------------------------------------------------------------------------------
const PROXY_SELF =
  /pod with specificed IP not found|pod with specified IP not found|(?:find|finding|get|getting) role for (?:IP|pod)|no role (?:annotation )?found for pod|error checking assume role permissions|Error assuming role|error (?:requesting|warming) credentials|pod\.iam\.role|iam\.amazonaws\.com\/role|kube2iam|\bkiam\b/i;
const IMDS_CREDENTIALS_PATH = /meta-data\/iam\/security-credentials/i;

// ---- transport --------------------------------------------------------------------------------------------
const TRANSPORT =
  /timed? ?out|timeout|connection refused|ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|no such host|no route to host|network is unreachable|connection reset|reset by peer|broken pipe|getaddrinfo|Name or service not known|nodename nor servname|UnknownHostException|SocketError|dial tcp|send request failed|Unable to execute HTTP request|Could not connect to the endpoint URL|Inaccessible host|connection initialization error|DispatchFailure|dispatch failure|context deadline exceeded|context canceled|broken connection|(?:StatusCode|HTTP Status|status code):? 0\b|error code 1048|socket operation timed out|ConnectTimeoutError|EndpointConnectionError|SSL ?(?:routines|error|handshake)|certificate verify failed/i;
/** A packet filter's verdict on the flow (Cilium/Hubble "Policy denied DROPPED", iptables): no answer can come. */
const NETWORK_DROP = /\bPolicy denied\b|\bDROPPED\b|packets? dropped/;
const STS_HOST =
  /\bsts(?:[.-][a-z0-9-]{1,30}){0,3}\.amazonaws\.com(?:\.cn)?|\bsts\.[a-z0-9-]{1,30}\.api\.aws|AuthCredentialsProvider|sts assume role request|STS: Assume|AssumeRoleWithWebIdentity|WebIdentityErr/i;
const EMPTY_HOST = /getaddrinfo\(host=''\)|failed to: :443/;
const PROXY_REFUSED =
  /Unexpected response code for CONNECT|Proxy CONNECT aborted|proxy(?:connect)?(?:ion)? (?:refused|error|authentication required)|ProxyError|407 Proxy Authentication/i;
const IMDS_HOST = /169\.254\.169\.254|ec2imds|EC2Metadata|instance metadata|IMDS/i;

// ---- what AWS said about the keys ---------------------------------------------------------------------------
const KEYS_REJECTED =
  /\bInvalidToken\b|provided token is malformed|\bInvalidSecurity\b|provided security credentials are not valid|InvalidClientTokenId|UnrecognizedClientException|security token included in the request is invalid|InvalidAccessKeyId|AWS Access Key Id you provided does not exist|SignatureDoesNotMatch|request signature we calculated does not match|AuthFailure|IncompleteSignature/i;
const SESSION_EXPIRED =
  /TokenRefreshRequired|provided token must be refreshed|\bExpiredToken(?:Exception)?\b|The provided token has expired|security token included in the request is expired|RequestExpired|token has expired/i;
const STS_TOKEN_EXPIRED =
  /Token expired: current date\/time|Token too old|web identity token that was passed is expired/i;
const THROTTLED = /Rate exceeded|\bThrottling(?:Exception)?\b|TooManyRequestsException|SlowDown|ThrottledException/i;
const CREDENTIAL_CONTEXT = /\bsts\b|AssumeRole|WebIdentity|EKS Auth|pod identity|credential/i;
/** A throttle that names another service than STS or EKS Auth (CloudFormation, SSM, ...) is not about credentials. */
const OTHER_SERVICE =
  /from [a-z0-9-]{2,30}\/[A-Z]\w{2,60}|operation error (?!STS\b|EKS Auth)[A-Z][\w ]{1,30}:|when calling the (?!Assume|GetCallerIdentity|GetSessionToken)\w{2,60} operation/;
const REGION_DISABLED = /RegionDisabledException|STS is not activated in this region/i;
const ARN_INVALID = /Request ARN is invalid|Invalid ARN|is not a valid ARN|invalid role arn/i;

// ---- STS's web identity answers -----------------------------------------------------------------------------
const NO_PROVIDER = /No OpenIDConnect provider found|OpenIDConnect provider (?:was )?not found/i;
const AUDIENCE = /Incorrect token audience/i;
const KEYS_UNRETRIEVABLE =
  /Couldn.t retrieve verification key from your identity provider|IDPCommunicationError|certificate doesn.t match configured thumbprint|thumbprint/i;
const NOT_YET_VALID = /Token used before issued|token is not valid yet|nbf \(not before\)|used before the 'nbf'/i;
const INVALID_TOKEN = /InvalidIdentityToken|IDPRejectedClaim|Invalid Identity token/i;

// ---- wrappers: the chain gave up, the cause may be elsewhere -------------------------------------------------
const NO_CREDENTIALS =
  /Unable to locate credentials|MissingCredentials|missing credentials|sign (?:an? )?(?:http )?request without credentials|NoCredentialProviders|no valid providers in chain|Could not load credentials from any providers|Unable to load (?:AWS )?credentials from any (?:of the )?providers? in the chain|No credentials could be loaded from the chain|Missing credentials in config|CredentialsProviderError|no EC2 IMDS role found|EC2RoleRequestError|Provider returned no credentials|sign an http request without credentials|MissingAuthenticationToken|Request is missing Authentication Token|failed to refresh cached credentials|Unable to load credentials|NoCredentialsError|CredentialsNotLoaded|no credentials (?:found|provider)|could not find credentials/i;
/**
 * The chain's last link, the node's instance metadata, gave nothing: no credentials came from anywhere. (A
 * metadata proxy's own failures and the Pod Identity agent are matched before this.)
 */
const IMDS_PROVIDER_FAILED =
  /Unable to get IAM security credentials from EC2 Instance Metadata|Error response received from instance metadata service|Error when retrieving credentials from iam-role|Failed to load credentials from IMDS|Unable to load credentials from service endpoint/i;
/** The CRT's (aws-c-auth, mountpoint) words for a chain that produced nothing. */
const CRT_NO_CREDENTIALS = /No signing credentials available|failed to source credentials/i;
/** An app that accepts only static keys and never asks the SDK chain. */
const STATIC_KEYS_REQUIRED =
  /Required AWS_ACCESS_KEY_ID|AWS_ACCESS_KEY_ID (?:environment variable )?(?:is )?(?:missing|required|not set|must be set)/i;
/** STS answered the chained or web identity call with an error the line does not name (the CRT's debug line). */
const STS_ANSWERED_ERROR = /AssumeRole(?:WithWebIdentity)? call completed with http status [45]\d\d/i;
/** STS's own modelled errors that have no code of their own here (docs/mechanics.md 3.3). */
const STS_MODELLED_ERROR = /PackedPolicyTooLarge|MalformedPolicyDocument/i;
/** A signature for another region or service than the endpoint's (SigV4 credential scope). */
const SIGNING_SCOPE =
  /Credential should be scoped to (?:a valid region|correct service)|credential must be scoped to a valid region|AuthorizationHeaderMalformed|the region '[a-z0-9-]{1,30}' is wrong; expecting/i;
const STS_CALL =
  /\bsts(?:[.-][a-z0-9-]{1,30}){0,3}\.amazonaws\.com|\bSTS\b|AssumeRole|GetCallerIdentity|GetSessionToken|xmlns="?https:\/\/sts\./i;
const WRAPPER_STS =
  /WebIdentityErr|WebIdentityError|STS assume role request failed|Error calling AssumeRole|failed to retrieve credentials/i;
const BARE_DENIAL =
  /\bAccessDenied(?:Exception)?\b|Access Denied|PermissionDenied|(?:status(?: ?code)?|StatusCode|HTTP Status)[:=(]? ?403\b|403 Forbidden|\bForbidden\b/i;
/** Kubernetes RBAC ("configmaps is forbidden: User \"system:serviceaccount:...\" cannot get ..."): not AWS. */
const KUBE_RBAC =
  /is forbidden: User \\?"|User \\?"system:(?:serviceaccount|anonymous|node)|cannot (?:get|list|watch|create|update|patch|delete) resource/i;
const AWS_CONTEXT =
  /\bAccessDenied|Access Denied|UnauthorizedOperation|Encoded authorization failure message|AuthorizationError|\bS3\b|s3a?:\/\/|amazonaws|AmazonS3|\baws\b|\bAWS\b|RequestI[dD]|request id|HostId|backup store|artifact|bucket/i;

// ---- the last resort ----------------------------------------------------------------------------------------
/**
 * Marks of AWS itself: its SDKs' names and classes, hosts, ARNs, variables and config files, its CLI, the
 * services whose permissions pods use, the credential providers' names (the SDKs' ...CredentialsProvider
 * classes, botocore's container-role and iam-role). Another platform's are excluded below.
 */
const AWS_SOURCE =
  /\bAWS\b|\bAWS_[A-Z_]{3,40}|amazonaws\.com|\.api\.aws\b|arn:aws|com\.amazonaws|software\.amazon\.awssdk|botocore|boto3|aws-sdk|@aws-sdk|aws_config|aws-config|awscrt|aws-c-auth|Aws::|Amazon\.Runtime|AWSSDK|\.aws\/(?:config|credentials)|\b(?:S3|STS|IAM|KMS|ECR|SQS|SNS|DynamoDB|CloudWatch|Route ?53|Secrets ?Manager|SSM|Kinesis)\b|\w{0,40}CredentialsProvider|container-role|iam-role|assume-role|169\.254\.(?:169\.254|170\.23?)\b|fd00:ec2::/;
/** Another platform's identity and metadata errors, Kubernetes' own: never AWS's, whatever words they share. */
const OTHER_PLATFORM =
  /AADSTS|microsoftonline|\bAzure\b|azure\.com|\bEntra\b|googleapis?\b|gserviceaccount|iam\.serviceAccounts|metadata\.google|Metadata-Flavor|\bGCP\b|\bGCE\b|\bGKE\b|\bgoogle\b|kubernetes\.io\/serviceaccount|system:serviceaccount|system:anonymous|\bRBAC\b|(?<!aws-)\bVault\b|\bOpenStack\b|Keystone/i;
/**
 * No credentials came out of the attempt to get them: a failed obtaining verb with "credentials" after it, or
 * "credentials" with a word of absence, in any SDK's order of words.
 */
const CREDENTIALS_SOUGHT =
  /(?:retriev|load|fetch|obtain|acquir|resolv|refresh|provid|sourc|locat|find|get|read)(?:e|es|ed|ing|s)? (?:\S{1,40} ){0,3}credentials/i;
const CREDENTIALS_ABSENT =
  /credentials? (?:\S{1,40} ){0,3}(?:not (?:found|available|set|loaded|provided)|missing|unavailable)|\bno (?:\S{1,40} ){0,2}credentials|\bbad (?:\S{1,40} ){0,2}credentials|without credentials/i;
/** What the failure is about: credentials, keys, tokens, signatures, authentication or authorisation. */
const CREDENTIAL_SUBJECT =
  /credential|access ?key|secret ?key|security token|session token|signature|\bsign(?:ed|ing)?\b|authenticat|authori[sz]|assume|\bidentity\b|permission|\b40[13]\b/i;
const FAILED =
  /error|fail|unable|cannot|can't|could not|couldn't|denied|invalid|expired|missing|not found|rejected|forbidden|exception|unauthori[sz]ed/i;

// ---- the principal of "User: ... is not authorized" ---------------------------------------------------------
/**
 * The signer's ARN after "User:" (or OpenSearch's "User [name=..."), read as one token: users redact account
 * ids and names with placeholders that contain spaces (`<source account>`, `<node role>`, `{accountId}`), so a
 * placeholder in angle or curly brackets is part of the token. Each alternative starts with a different
 * character class, so the scan is linear.
 */
const USER_ARN = /\bUser:? {0,4}(arn:aws(?:[^\s<{"',)\]]|<[^<>\n]{0,40}>|\{[^{}\n]{0,40}\}){1,400})/;
/** A principal that is not an ARN ("User: anonymous is not authorized"): only its presence is used. */
const USER_OTHER = /\bUser:? ?(\S{1,400}) ?(?:is )?not authorized/i;
const OPENSEARCH_USER = /User \[name=(arn:aws[a-z-]*:(?:iam|sts)::[^\s,\]]{1,300})/i;
/** "arn:aws:sts::80xxxxx assumed-role/...": a redaction that ate the colon before the resource. */
const ACCOUNT_ONLY = /^arn:aws[a-z-]*:(?:sts|iam)::[^\s:]{1,40}$/;
const RESOURCE_AFTER_SPACE = /^ ((?:assumed-role|role|user)\/\S{1,300})/;
const ASSUMED_ROLE = /assumed-role\/((?:[^/\s<]|<[^<>]{0,40}>){1,128})(?:\/([^\s]{1,128}))?/;
const IAM_ROLE = /:role\/(?:[^\s/]{1,64}\/){0,8}([^\s/]{1,128})/;
const IAM_USER = /:user\//;
/** A principal the user cut short ("assumed-role/site-k20210915..."): its role and session cannot be read. */
const TRUNCATED = /(?:\.{3}|\u2026)$/;
/** EC2 instance ids as sessions, real or redacted: i-0abc..., i-XXXXXXXX, i-{instanceId}, <INSTANCE_ID>. */
const INSTANCE_SESSION =
  /^(?:i-[0-9a-zA-Z*{}<>_-]{4,40}|<INSTANCE_ID>|\{instanceId\}|\$INSTANCE_ID|INSTANCE_ID|<instance-id>)$/i;
/**
 * Role names of node groups, however they are spelled: eksctl's NodeInstanceRole, managed and Terraform node
 * group roles (eks-node-group-..., eks_node_groups, prd-node-role-...), a user's "<node role>" placeholder,
 * kops nodes.*, *-worker, Karpenter's node role.
 */
const NODE_ROLE_NAME =
  /node[\s_-]?(?:instance[\s_-]?)?(?:role|group)|eks-node|eks-worker|worker-node|WorkerNode|-worker$|^nodes\.|^nodes$|karpenter-node/i;

export function principalOf(text: string): Principal {
  const os = OPENSEARCH_USER.exec(text);
  const match = USER_ARN.exec(text);
  const raw = os?.[1] ?? match?.[1];
  if (raw === undefined) {
    const other = USER_OTHER.exec(text)?.[1];
    return other === undefined ? { kind: 'none' } : { kind: 'unknown', text: other };
  }
  const end = match && !os ? match.index + match[0].length : 0;
  const rest = ACCOUNT_ONLY.test(raw) ? RESOURCE_AFTER_SPACE.exec(text.slice(end, end + 320)) : null;
  const value = (rest ? `${raw}:${rest[1]}` : raw).replace(/[.,;:'"\]]+$/, '');
  if (TRUNCATED.test(raw)) {
    const name = ASSUMED_ROLE.exec(value)?.[1] ?? '';
    return NODE_ROLE_NAME.test(name) ? { kind: 'node', text: value, roleName: name } : { kind: 'unknown', text: value };
  }
  const assumed = ASSUMED_ROLE.exec(value);
  if (assumed) {
    const roleName = assumed[1] ?? '';
    const session = (assumed[2] ?? '').replace(/[.,;:'"\]]+$/, '');
    if (INSTANCE_SESSION.test(session) || NODE_ROLE_NAME.test(roleName)) return { kind: 'node', text: value, roleName };
    return { kind: 'role', text: value, roleName };
  }
  if (IAM_USER.test(value)) return { kind: 'user', text: value };
  const role = IAM_ROLE.exec(value);
  if (role) {
    const roleName = role[1] ?? '';
    return { kind: NODE_ROLE_NAME.test(roleName) ? 'node' : 'role', text: value, roleName };
  }
  return { kind: 'unknown', text: value };
}

function roleArnEnvInvalid(text: string): boolean {
  const value = ROLE_ARN_ENV.exec(text)?.[1];
  if (value === undefined || value === '' || /^\$\{?[A-Z_]+\}?$/.test(value)) return false;
  return !VALID_ROLE_ARN.test(value);
}

/** The cause one record names, or undefined when it is not an AWS credential message at all. */
export function classify(text: string): FindingCode | undefined {
  const t = text;
  const webIdentity = WEB_IDENTITY_OP.test(t);
  const agent = AGENT_HOST.test(t);
  const transport = TRANSPORT.test(t) || NETWORK_DROP.test(t);
  // Kubernetes' own RBAC answers mention users and "forbidden", never an AWS principal.
  if (KUBE_RBAC.test(t) && !/arn:aws/.test(t)) return undefined;

  // The pod's environment and the SDK, before any request.
  if (roleArnEnvInvalid(t)) return 'ROLE_ARN_INVALID';
  if (ENV_NOT_INJECTED.test(t)) return 'IRSA_ENV_MISSING';
  if (STS_MODULE.test(t) || (STS_PACKAGE.test(t) && PACKAGE_MISSING.test(t))) return 'SDK_MISSING_STS_MODULE';
  if (agent && SDK_REFUSES_AGENT.test(t)) return 'SDK_TOO_OLD';
  if (ENV_PARTIAL.test(t)) return 'IRSA_ENV_PARTIAL';
  if (REGION_REQUIRED.test(t)) return 'REGION_REQUIRED';
  if (CLOCK.test(t)) return 'CLOCK_SKEW';

  // The token file the SDK reads.
  if (PHP_TOKEN_FALSE.test(t)) return FILE_MISSING.test(t) ? 'TOKEN_FILE_MISSING' : 'TOKEN_FILE_UNREADABLE';
  if (TOKEN_PATH.test(t) && !NOT_AUTHORIZED.test(t)) {
    if (EMPTY_PATH.test(t)) return 'IRSA_ENV_MISSING';
    if (FILE_NOT_REGULAR.test(t)) return 'TOKEN_FILE_NOT_REGULAR';
    if (FILE_DENIED.test(t)) return 'TOKEN_FILE_UNREADABLE';
    if (FILE_MISSING.test(t)) return 'TOKEN_FILE_MISSING';
    if (FILE_UNREAD.test(t)) return 'TOKEN_FILE_UNREADABLE';
  }

  // EKS Pod Identity: the agent and, behind it, EKS Auth. The container-credentials provider also serves ECS
  // and local endpoints: an endpoint that is not the agent's is not Pod Identity, whatever the provider says.
  if (POD_IDENTITY_DENIED.test(t)) return 'POD_IDENTITY_ACCESS_DENIED';
  if (EKS_AUTH.test(t) && transport && !agent) return 'EKS_AUTH_UNREACHABLE';
  if (AGENT_TOKEN_ERROR.test(t)) return 'POD_IDENTITY_TOKEN_REJECTED';
  const otherContainerEndpoint = ECS_TASK_ENDPOINT.test(t) && !agent && !EKS_AUTH.test(t);
  const podIdentity = (POD_IDENTITY.test(t) || agent || EKS_AUTH.test(t)) && !otherContainerEndpoint;
  if (podIdentity && POD_TOKEN_REJECTED.test(t)) return 'POD_IDENTITY_TOKEN_REJECTED';
  if (podIdentity && NO_ASSOCIATION.test(t)) return 'POD_IDENTITY_NO_ASSOCIATION';
  if ((CONTAINER_PROVIDER.test(t) || agent) && !otherContainerEndpoint) {
    const status = CONTAINER_STATUS.exec(t)?.[1];
    if (status === '400') return 'POD_IDENTITY_TOKEN_REJECTED';
    if (status === '404') return 'POD_IDENTITY_NO_ASSOCIATION';
  }
  if (agent && (transport || /Called agent through invalid address/i.test(t))) return 'POD_IDENTITY_AGENT_UNREACHABLE';

  // A metadata proxy (kube2iam, kiam) answering for IMDS: its own failures, unless they are plainly STS's
  // network.
  if (PROXY_SELF.test(t) || (IMDS_CREDENTIALS_PATH.test(t) && (NOT_AUTHORIZED.test(t) || BARE_DENIAL.test(t)))) {
    if (transport && STS_HOST.test(t)) return 'STS_UNREACHABLE';
    const p = principalOf(t);
    if (!NOT_AUTHORIZED.test(t) || ASSUME_ROLE_DENIED.test(t) || IMDS_CREDENTIALS_PATH.test(t)) {
      if (!(p.kind === 'node' && !ASSUME_ROLE_DENIED.test(t))) return 'METADATA_PROXY_ERROR';
    }
  }

  // STS's answers to the web identity call.
  if (NO_PROVIDER.test(t)) return 'OIDC_PROVIDER_NOT_REGISTERED';
  if (AUDIENCE.test(t)) return 'OIDC_AUDIENCE_NOT_ALLOWED';
  if (KEYS_UNRETRIEVABLE.test(t) && (webIdentity || INVALID_TOKEN.test(t) || /identity provider/i.test(t))) {
    return 'OIDC_KEYS_UNRETRIEVABLE';
  }
  if (NOT_YET_VALID.test(t)) return 'TOKEN_NOT_YET_VALID';
  if (STS_TOKEN_EXPIRED.test(t) || (SESSION_EXPIRED.test(t) && /AssumeRoleWithWebIdentity/i.test(t))) {
    return 'STS_TOKEN_EXPIRED';
  }
  if (WEB_IDENTITY_DENIED.test(t)) return 'TRUST_POLICY_DENIED';
  if (REGION_DISABLED.test(t)) return 'STS_REGION_DISABLED';
  if (ARN_INVALID.test(t) || (VALIDATION.test(t) && /roleArn|RoleArn/.test(t) && !ROLE_SESSION_NAME.test(t))) {
    return 'ROLE_ARN_INVALID';
  }
  if (VALIDATION.test(t) && ROLE_SESSION_NAME.test(t)) return 'ROLE_SESSION_NAME_INVALID';

  // The network between the SDK and STS.
  if (PROXY_REFUSED.test(t)) return 'PROXY_INTERCEPTS_METADATA';
  if (EMPTY_HOST.test(t)) return 'STS_UNREACHABLE';
  if (transport && STS_HOST.test(t) && !IMDS_HOST.test(t)) return 'STS_UNREACHABLE';
  if (transport && /AuthCredentialsProvider|Credentials Provider failed to source/i.test(t)) return 'STS_UNREACHABLE';

  // AWS's verdict on the keys the request was signed with. A signature scoped to another region than the
  // endpoint's is no verdict on the keys: at STS it is the global endpoint (us-east-1 only) met with a regional
  // signature, or the reverse.
  if (SIGNING_SCOPE.test(t)) return STS_CALL.test(t) ? 'STS_GLOBAL_ENDPOINT' : 'CREDENTIAL_CAUSE_UNKNOWN';
  if (KEYS_REJECTED.test(t)) return 'CREDENTIALS_INVALID';
  if (SESSION_EXPIRED.test(t) && !webIdentity) return 'SESSION_CREDENTIALS_EXPIRED';
  if (THROTTLED.test(t) && (CREDENTIAL_CONTEXT.test(t) || !OTHER_SERVICE.test(t))) return 'STS_THROTTLED';

  // Denied requests: who signed them decides the mechanism. A bare denial ("AccessDeniedException: User:
  // arn:...") that still names its principal counts, even when the line was cut before "is not authorized".
  if (ASSUME_NAMED_ROLE_FAILED.test(t) && !webIdentity && !transport) return 'ROLE_CHAINING_DENIED';
  const named = BARE_DENIAL.test(t) && AWS_CONTEXT.test(t) && principalOf(t).kind !== 'none';
  if (NOT_AUTHORIZED.test(t) || OPENSEARCH_USER.test(t) || named) {
    const p = principalOf(t);
    if (CHAIN_ACTION_DENIED.test(t) || ASSUME_ROLE_DENIED.test(t) || ASSUME_ROLE_OPERATION.test(t)) {
      // A node group's role as the caller is the pod on the node's credentials: that link comes first.
      return p.kind === 'node' && NODE_ROLE_NAME.test(p.roleName ?? '') ? 'NODE_ROLE_FALLBACK' : 'ROLE_CHAINING_DENIED';
    }
    if (p.kind === 'node') return 'NODE_ROLE_FALLBACK';
    if (p.kind === 'role' || p.kind === 'user') return 'ROLE_LACKS_PERMISSION';
    if (p.kind === 'unknown' || (p.kind === 'none' && (NO_IDENTITY_POLICY.test(t) || AWS_CONTEXT.test(t)))) {
      return 'DENIED_PRINCIPAL_UNKNOWN';
    }
  }

  // Wrappers and bare denials: what cannot be told from the line.
  if (STS_ANSWERED_ERROR.test(t) || STS_MODELLED_ERROR.test(t)) return 'STS_ERROR';
  if (NO_CREDENTIALS.test(t) || IMDS_PROVIDER_FAILED.test(t) || CRT_NO_CREDENTIALS.test(t)) return 'NO_CREDENTIALS';
  if (STATIC_KEYS_REQUIRED.test(t)) return 'NO_CREDENTIALS';
  if (WRAPPER_STS.test(t) || INVALID_TOKEN.test(t) || (webIdentity && /failed|error|exception/i.test(t))) {
    return 'STS_ERROR';
  }
  if (BARE_DENIAL.test(t) && AWS_CONTEXT.test(t) && !/security_exception|requestedTenant/i.test(t)) {
    return 'DENIED_PRINCIPAL_UNKNOWN';
  }

  // The last resort: an AWS message about credentials, signing or authorisation that failed, which no rule
  // above names. It gets a generic answer (ranked below every specific one) rather than none; another
  // platform's identity errors and Kubernetes' own tokens are not AWS's.
  if (!AWS_SOURCE.test(t) || (OTHER_PLATFORM.test(t) && !/arn:aws|amazonaws\.com/i.test(t))) return undefined;
  if (CREDENTIALS_ABSENT.test(t) || (CREDENTIALS_SOUGHT.test(t) && FAILED.test(t))) return 'NO_CREDENTIALS';
  if (CREDENTIAL_SUBJECT.test(t) && FAILED.test(t)) return 'CREDENTIAL_CAUSE_UNKNOWN';
  return undefined;
}

/**
 * The credential chain in order (docs/mechanics.md 1): a whole log's distinct problems are reported earliest
 * link first, since fixing an earlier link changes or removes what the later ones say.
 */
export const CHAIN_ORDER: readonly FindingCode[] = [
  'ROLE_ARN_INVALID',
  'IRSA_ENV_MISSING',
  'IRSA_ENV_PARTIAL',
  'ROLE_SESSION_NAME_INVALID',
  'REGION_REQUIRED',
  'STS_GLOBAL_ENDPOINT',
  'SDK_MISSING_STS_MODULE',
  'SDK_TOO_OLD',
  'CLOCK_SKEW',
  'TOKEN_FILE_MISSING',
  'TOKEN_FILE_NOT_REGULAR',
  'TOKEN_FILE_UNREADABLE',
  'TOKEN_NOT_YET_VALID',
  'METADATA_PROXY_ERROR',
  'PROXY_INTERCEPTS_METADATA',
  'STS_UNREACHABLE',
  // The agent answered (it logged the EKS Auth failure), so the link behind it is the one that broke.
  'EKS_AUTH_UNREACHABLE',
  'POD_IDENTITY_AGENT_UNREACHABLE',
  'OIDC_PROVIDER_NOT_REGISTERED',
  'OIDC_AUDIENCE_NOT_ALLOWED',
  'OIDC_KEYS_UNRETRIEVABLE',
  'STS_TOKEN_EXPIRED',
  'TRUST_POLICY_DENIED',
  'STS_REGION_DISABLED',
  'POD_IDENTITY_TOKEN_REJECTED',
  'POD_IDENTITY_NO_ASSOCIATION',
  'POD_IDENTITY_ACCESS_DENIED',
  'STS_THROTTLED',
  'CREDENTIALS_INVALID',
  'SESSION_CREDENTIALS_EXPIRED',
  'NODE_ROLE_FALLBACK',
  'ROLE_CHAINING_DENIED',
  'ROLE_LACKS_PERMISSION',
  'STS_ERROR',
  'NO_CREDENTIALS',
  'DENIED_PRINCIPAL_UNKNOWN',
  'CREDENTIAL_CAUSE_UNKNOWN',
];

/** Codes that say what cannot be told from the text: dropped when a specific cause was found too. */
export const GENERIC_CODES: ReadonlySet<FindingCode> = new Set([
  'NO_CREDENTIALS',
  'STS_ERROR',
  'DENIED_PRINCIPAL_UNKNOWN',
  'CREDENTIAL_CAUSE_UNKNOWN',
]);

/**
 * A cheap first look: a record without any of these words cannot be a credential message, so the rules do
 * not run on it (a 100 MB log is mostly such lines).
 */
export const PREFILTER =
  /denied|session|role for pod|credential|token|sts|assum|signature|expired|region|authoriz|authent|permission|identity|169\.254|fd00:ec2|timeout|timed out|refused|forbidden|403|metadata|kiam|kube2iam|specifi?c?ed IP|role for IP|class ?path|throttl|rate exceeded|provider|invalid|AWS_|security|clock|skew|getaddrinfo|CONNECT|unreachable|no such host|dial tcp|send request failed|http request|endpoint/i;
