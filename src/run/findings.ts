/**
 * The finding codes of docs/report.md, "Finding codes": stable, never renamed, only added to.
 * The severity of a finding is a property of its code, so no check can report the same code with two
 * severities, and `--list-checks` / the README list them from this one table.
 */
export type Severity = 'error' | 'warning' | 'info';

export const FINDING_CODES = {
  IRSA_ENV_MISSING: { severity: 'error', meaning: 'no IRSA and no Pod Identity variables: the pod was not mutated' },
  IRSA_ENV_PARTIAL: { severity: 'error', meaning: 'only one of AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE' },
  ROLE_ARN_INVALID: { severity: 'error', meaning: 'AWS_ROLE_ARN is not a valid IAM role ARN' },
  POD_IDENTITY_ENV_PARTIAL: {
    severity: 'error',
    meaning: 'container-credentials URI without its token file, or the reverse',
  },
  STATIC_CREDENTIALS_OVERRIDE: {
    severity: 'error',
    meaning: 'static keys, a profile or a shared credentials file win over web identity in the SDK chain',
  },
  REGION_MISSING: { severity: 'warning', meaning: 'no region: SDKs fall back to us-east-1 / the global STS endpoint' },
  PROXY_INTERCEPTS_METADATA: {
    severity: 'error',
    meaning: 'a proxy is set and NO_PROXY does not cover the metadata addresses or the STS host',
  },
  TOKEN_FILE_MISSING: { severity: 'error', meaning: 'the token file does not exist' },
  TOKEN_FILE_UNREADABLE: { severity: 'error', meaning: 'the token file exists but this uid/gid cannot read it' },
  TOKEN_MALFORMED: { severity: 'error', meaning: 'the token is not a JWT, or claims are missing' },
  TOKEN_EXPIRED: { severity: 'error', meaning: 'exp is in the past' },
  TOKEN_NOT_YET_VALID: { severity: 'error', meaning: 'nbf/iat in the future beyond tolerance (clock skew)' },
  TOKEN_STALE: { severity: 'warning', meaning: 'the token file has not been refreshed when the kubelet should have' },
  TOKEN_AUDIENCE_MISMATCH: { severity: 'error', meaning: 'aud lacks the audience the mechanism needs' },
  TOKEN_SUBJECT_MISMATCH: { severity: 'error', meaning: "sub names another namespace/SA than this pod's" },
  OIDC_DISCOVERY_UNREACHABLE: {
    severity: 'warning',
    meaning: "the issuer's discovery document cannot be fetched from the pod",
  },
  OIDC_ISSUER_MISMATCH: { severity: 'error', meaning: "discovery issuer differs from the token's iss" },
  TOKEN_SIGNATURE_INVALID: { severity: 'error', meaning: "the token is not signed by any key in the issuer's JWKS" },
  STS_UNREACHABLE: { severity: 'error', meaning: 'DNS, connect or read timeout towards STS' },
  TRUST_POLICY_DENIED: { severity: 'error', meaning: 'STS AccessDenied on AssumeRoleWithWebIdentity' },
  TRUST_POLICY_SUB_MISMATCH: {
    severity: 'error',
    meaning: "the trust policy's :sub condition does not match this token",
  },
  TRUST_POLICY_AUD_MISMATCH: { severity: 'error', meaning: "the trust policy's :aud condition does not match" },
  TRUST_POLICY_PRINCIPAL_MISMATCH: {
    severity: 'error',
    meaning: "the Federated principal is not this issuer's provider",
  },
  OIDC_PROVIDER_NOT_REGISTERED: {
    severity: 'error',
    meaning: 'no IAM OIDC provider for this issuer in the role account',
  },
  OIDC_AUDIENCE_NOT_ALLOWED: {
    severity: 'error',
    meaning: "the token audience is not in the provider's client-ID list",
  },
  OIDC_KEYS_UNRETRIEVABLE: { severity: 'error', meaning: "STS could not retrieve the issuer's verification keys" },
  STS_TOKEN_EXPIRED: { severity: 'error', meaning: 'STS says ExpiredTokenException' },
  STS_REGION_DISABLED: { severity: 'error', meaning: 'STS is deactivated in the region called' },
  STS_THROTTLED: { severity: 'warning', meaning: 'throttling on STS' },
  STS_ERROR: { severity: 'error', meaning: 'any other STS error' },
  NO_CREDENTIALS: { severity: 'error', meaning: 'the SDK default chain finds no credentials at all' },
  NODE_ROLE_FALLBACK: { severity: 'error', meaning: "the credentials the app would get are the node's instance role" },
  IDENTITY_MISMATCH: { severity: 'error', meaning: 'the caller identity is not the expected role' },
  IMDS_REACHABLE: { severity: 'warning', meaning: 'the pod can obtain node credentials from IMDS' },
  POD_IDENTITY_AGENT_UNREACHABLE: { severity: 'error', meaning: 'no answer from the Pod Identity agent' },
  POD_IDENTITY_ACCESS_DENIED: { severity: 'error', meaning: 'the agent says EKS may not assume the role' },
  POD_IDENTITY_NO_ASSOCIATION: { severity: 'error', meaning: 'the agent finds no association for this SA' },
  POD_IDENTITY_TOKEN_REJECTED: { severity: 'error', meaning: 'the agent rejects the token' },
  BOTH_MECHANISMS_CONFIGURED: { severity: 'warning', meaning: 'IRSA and Pod Identity both present' },
  K8S_API_FORBIDDEN: {
    severity: 'info',
    meaning: 'the SA may not read pods/serviceaccounts; Kubernetes checks skipped',
  },
  SA_ANNOTATION_MISSING: { severity: 'error', meaning: 'the ServiceAccount has no eks.amazonaws.com/role-arn' },
  SA_ROLE_CHANGED_RESTART_NEEDED: {
    severity: 'error',
    meaning: "the SA annotation names another role than the pod's AWS_ROLE_ARN",
  },
  CONTAINER_NOT_INJECTED: { severity: 'warning', meaning: 'some containers of the pod lack the env/volume' },
  EPHEMERAL_CONTAINER: {
    severity: 'warning',
    meaning: 'running in a debug container, which the webhook never mutates',
  },
  WEBHOOK_MISSING: { severity: 'error', meaning: 'no pod-identity-webhook MutatingWebhookConfiguration' },
  // Added by irsa-doctor beyond the first contract table (extend, never rename).
  TOKEN_FILE_TOO_LARGE: {
    severity: 'error',
    meaning: 'the token file is far larger than any JWT; it was not read whole',
  },
  TOKEN_FILE_NOT_REGULAR: { severity: 'error', meaning: 'the token path is a directory or another non-file' },
  ENDPOINT_OVERRIDE: {
    severity: 'warning',
    meaning: 'AWS_ENDPOINT_URL(_STS) sends the STS call of every SDK somewhere else',
  },
  STS_GLOBAL_ENDPOINT: {
    severity: 'warning',
    meaning: 'an SDK family would call the global STS endpoint from this env',
  },
  SDK_CHAINS_DISAGREE: { severity: 'warning', meaning: 'SDK families would pick different credentials from this env' },
  ROLE_SESSION_NAME_INVALID: {
    severity: 'error',
    meaning: 'AWS_ROLE_SESSION_NAME breaks the STS RoleSessionName rule',
  },
  // From `explain`: messages only the app's own SDK produces (docs/failure-modes.md row 4).
  SDK_TOO_OLD: {
    severity: 'error',
    meaning: "the app's AWS SDK predates the mechanism (e.g. rejects the Pod Identity agent address)",
  },
  SDK_MISSING_STS_MODULE: {
    severity: 'error',
    meaning: "the Java SDK cannot use web identity tokens without the 'sts' module on the class path",
  },
  ROLE_LACKS_PERMISSION: {
    severity: 'error',
    meaning: 'the request was signed by the expected role, whose permissions policy does not allow the action',
  },
  POD_IDENTITY_URI_INVALID: {
    severity: 'error',
    meaning: 'AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL the SDKs accept (http only to the agent or loopback)',
  },
  POD_IDENTITY_ENV_UNUSUAL: {
    severity: 'warning',
    meaning:
      'Pod Identity variables the webhook never sets: an inline token (never refreshed) or a RELATIVE_URI that wins over the FULL_URI',
  },
  AWS_PROFILE_NOT_FOUND: {
    severity: 'error',
    meaning: 'AWS_PROFILE names a profile no shared config or credentials file defines: boto3 and the Go SDK v2 fail',
  },
  CLOCK_SKEW: {
    severity: 'error',
    meaning: "this machine's clock and AWS's differ by minutes: signatures and tokens look expired or not yet valid",
  },
  // From `explain`: causes a pasted log names that a check in the pod does not report under another code.
  CREDENTIALS_INVALID: {
    severity: 'error',
    meaning: 'AWS rejects the access key or session token the request was signed with (InvalidClientTokenId)',
  },
  SESSION_CREDENTIALS_EXPIRED: {
    severity: 'error',
    meaning: 'a service rejects session credentials the client kept past their expiry instead of refreshing them',
  },
  ROLE_CHAINING_DENIED: {
    severity: 'error',
    meaning: "a further sts:AssumeRole from the pod's role is denied: the caller's permission or the target's trust",
  },
  METADATA_PROXY_ERROR: {
    severity: 'error',
    meaning: 'a metadata proxy (kube2iam, kiam) answering for IMDS failed to give the pod its role',
  },
  DENIED_PRINCIPAL_UNKNOWN: {
    severity: 'error',
    meaning: 'AWS denied a request without naming who signed it; identity.caller tells which principal it was',
  },
  REGION_REQUIRED: {
    severity: 'error',
    meaning: 'the SDK refuses to start without a region (Missing Region): no endpoint, no credentials',
  },
  EKS_AUTH_UNREACHABLE: {
    severity: 'error',
    meaning: 'the Pod Identity agent gets no answer from the EKS Auth API (no route to eks-auth from the node)',
  },
  CREDENTIAL_CAUSE_UNKNOWN: {
    severity: 'error',
    meaning:
      'an AWS credential, signing or authorisation failure whose cause the message does not tell; the checks in the pod do',
  },
  CREDENTIAL_PROCESS_NOT_RUN: {
    severity: 'warning',
    meaning:
      "the SDK chain would run a profile's credential_process; irsa-doctor never runs it, so that identity is unchecked",
  },
  KUBECONFIG_COMMAND_NOT_RUN: {
    severity: 'info',
    meaning: "the kubeconfig's user runs an exec plugin or an auth-provider command; irsa-doctor never runs it",
  },
  OIDC_URL_NOT_FETCHED: {
    severity: 'warning',
    meaning:
      'the issuer or its jwks_uri names a link-local/metadata address, or jwks_uri another host or port than the issuer: not fetched',
  },
  // The webhook's and the Pod Identity agent's own semantics (docs/mechanics.md 1.1, 1.3, 5).
  WEBHOOK_SKIP_LABEL: {
    severity: 'error',
    meaning: 'the pod carries the eks.amazonaws.com/skip-pod-identity-webhook label: the webhook never mutates it',
  },
  TOKEN_VOLUME_OVERRIDDEN: {
    severity: 'error',
    meaning: "the pod brings its own volume named like the webhook's token volume, so it got no projected token",
  },
  POD_IDENTITY_URI_REFUSED: {
    severity: 'error',
    meaning:
      'the agent refuses requests made through this address (HTTP 403): the URI must name 169.254.170.23 or [fd00:ec2::23]',
  },
  POD_IDENTITY_AGENT_RATE_LIMITED: {
    severity: 'warning',
    meaning: "the agent's own rate limiter on this node answered 429: too many credential requests from this node",
  },
  POD_IDENTITY_THROTTLED: { severity: 'warning', meaning: 'EKS Auth throttled the agent (ThrottlingException)' },
  POD_IDENTITY_EKS_AUTH_UNAVAILABLE: {
    severity: 'warning',
    meaning: 'EKS Auth answered 500/503 (InternalServerException, ServiceUnavailableException): transient, retry',
  },
  POD_IDENTITY_REQUEST_INVALID: {
    severity: 'error',
    meaning: "EKS Auth says the agent's request is invalid (InvalidParameterException, InvalidRequestException)",
  },
  SA_AUDIENCE_CHANGED: {
    severity: 'warning',
    meaning:
      "the ServiceAccount's eks.amazonaws.com/audience is not the audience of this pod's token: pods created from now on get the other one",
  },
  POD_IDENTITY_TRUST_POLICY_DENIED: {
    severity: 'error',
    meaning:
      'with the trust policy known: it does not let pods.eks.amazonaws.com assume the role with sts:AssumeRole and sts:TagSession for this pod',
  },
  STS_ENDPOINT_INVALID: {
    severity: 'error',
    meaning: 'the STS endpoint (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL or the region) is not a URL the SDKs can call',
  },
} as const satisfies Record<string, { severity: Severity; meaning: string }>;

export type FindingCode = keyof typeof FINDING_CODES;

export function severityOf(code: FindingCode): Severity {
  return FINDING_CODES[code].severity;
}
