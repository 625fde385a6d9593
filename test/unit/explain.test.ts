import { describe, expect, it } from 'vitest';
import { CONFIRMING_CHECKS, EXPLANATIONS } from '../../src/explain/catalogue';
import { CHAIN_ORDER, principalOf } from '../../src/explain/classify';
import type { ExplainIo } from '../../src/explain/index';
import {
  EXPLAIN_USAGE,
  explainMessage,
  renderExplainJson,
  renderExplainText,
  runExplain,
} from '../../src/explain/index';
import { FINDING_CODES } from '../../src/run/findings';
import type { FindingCode } from '../../src/run/findings';
import { parseExplain } from '../helpers/reports';

const ISSUER = 'https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const ROLE = 'arn:aws:iam::111122223333:role/cart-role';
const NODE =
  'arn:aws:sts::111122223333:assumed-role/eksctl-prod-nodegroup-ng-1-NodeInstanceRole-1X2Y3Z/i-0a1b2c3d4e5f67890';

interface Sample {
  readonly name: string;
  readonly text: string;
  readonly code: FindingCode;
  readonly arns?: readonly string[];
}

// Shapes as users paste them: AWS CLI, botocore, Java v1/v2, Go v1/v2, JS v3, PHP, agent bodies.
const CORPUS: readonly Sample[] = [
  {
    name: 'AWS CLI, node role signs an S3 call',
    text: `An error occurred (AccessDenied) when calling the GetObject operation: User: ${NODE} is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::shop-assets/logo.png" because no identity-based policy allows the s3:GetObject action`,
    code: 'NODE_ROLE_FALLBACK',
    arns: [NODE],
  },
  {
    name: 'Java v2 AccessDeniedException from Secrets Manager via the node role',
    text: `software.amazon.awssdk.services.secretsmanager.model.SecretsManagerException: User: ${NODE} is not authorized to perform: secretsmanager:GetSecretValue on resource: prod/db because no identity-based policy allows the secretsmanager:GetSecretValue action (Service: SecretsManager, Status Code: 400, Request ID: 7c9b0f1e-4d2a-4c4f-9d8e-2f3a4b5c6d7e)`,
    code: 'NODE_ROLE_FALLBACK',
    arns: [NODE],
  },
  {
    name: 'botocore trust policy AccessDenied',
    text: 'botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity',
    code: 'TRUST_POLICY_DENIED',
  },
  {
    name: 'Go v2 trust policy AccessDenied with the role ARN',
    text: `operation error STS: AssumeRoleWithWebIdentity, https response error StatusCode: 403, RequestID: 2f6f5a34-1c8e-4c1b-9a2f-000000000000, api error AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity (role ${ROLE})`,
    code: 'TRUST_POLICY_DENIED',
    arns: [ROLE],
  },
  {
    name: 'JS v3 AccessDenied',
    text: 'AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity\n    at de_AccessDeniedRes (/app/node_modules/@aws-sdk/client-sts/dist-cjs/index.js:1:2345)',
    code: 'TRUST_POLICY_DENIED',
  },
  {
    name: 'Go v1 WebIdentityErr wrapping AccessDenied',
    text: 'WebIdentityErr: failed to retrieve credentials\ncaused by: AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity\n\tstatus code: 403, request id: 8a3f0c2e-9b1d-4e5f-a6b7-c8d9e0f1a2b3',
    code: 'TRUST_POLICY_DENIED',
  },
  {
    name: 'botocore, no OIDC provider',
    text: `botocore.errorfactory.InvalidIdentityTokenException: An error occurred (InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation: No OpenIDConnect provider found in your account for ${ISSUER}`,
    code: 'OIDC_PROVIDER_NOT_REGISTERED',
    arns: [ISSUER],
  },
  {
    name: 'Java v1, no OIDC provider (China)',
    text: 'com.amazonaws.services.securitytoken.model.InvalidIdentityTokenException: No OpenIDConnect provider found in your account for https://oidc.eks.cn-north-1.amazonaws.com.cn/id/A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6 (Service: AWSSecurityTokenService; Status Code: 400; Error Code: InvalidIdentityToken; Request ID: 1f2e3d4c)',
    code: 'OIDC_PROVIDER_NOT_REGISTERED',
    arns: ['https://oidc.eks.cn-north-1.amazonaws.com.cn/id/A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6'],
  },
  {
    name: 'Incorrect token audience',
    text: 'An error occurred (InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation: Incorrect token audience',
    code: 'OIDC_AUDIENCE_NOT_ALLOWED',
  },
  {
    name: "Couldn't retrieve verification key",
    text: "InvalidIdentityTokenException: Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
    code: 'OIDC_KEYS_UNRETRIEVABLE',
  },
  {
    name: 'thumbprint mismatch',
    text: "An error occurred (InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation: OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint",
    code: 'OIDC_KEYS_UNRETRIEVABLE',
  },
  {
    name: 'ExpiredTokenException from STS',
    text: 'software.amazon.awssdk.services.sts.model.ExpiredTokenException: Token expired: current date/time 1732000000 must be before the expiration date/time 1731990000 (Service: Sts, Status Code: 400, Request ID: 0b1c2d3e)',
    code: 'STS_TOKEN_EXPIRED',
  },
  {
    name: 'Token too old',
    text: 'botocore.errorfactory.ExpiredTokenException: An error occurred (ExpiredTokenException) when calling the AssumeRoleWithWebIdentity operation: Token too old: 90061',
    code: 'STS_TOKEN_EXPIRED',
  },
  {
    name: 'expired session credentials on a service call',
    text: 'An error occurred (ExpiredToken) when calling the ListBuckets operation: The security token included in the request is expired',
    // S3, not STS: the session credentials outlived their expiry in the client.
    code: 'SESSION_CREDENTIALS_EXPIRED',
  },
  {
    // The ECS-only provider of JS v3 releases that predate Pod Identity in the default chain.
    name: 'JS v3 too old for the agent address',
    text: 'CredentialsProviderError: 169.254.170.23 is not a valid container metadata service hostname\n    at getCmdsUri (/app/node_modules/@smithy/credential-provider-imds/dist-cjs/index.js:90:11)',
    code: 'SDK_TOO_OLD',
  },
  {
    name: 'Go SDK too old for Pod Identity',
    text: 'failed to refresh cached credentials, invalid endpoint host, "169.254.170.23", only loopback hosts are allowed.',
    code: 'SDK_TOO_OLD',
  },
  {
    name: 'botocore too old for Pod Identity',
    text: "botocore.exceptions.CredentialRetrievalError: Error when retrieving credentials from container-role: Unsupported host '169.254.170.23'.  Can only retrieve metadata from these hosts: localhost, 127.0.0.1; URI did not refer to the loopback interface",
    code: 'SDK_TOO_OLD',
  },
  {
    name: 'Java v2 without the sts module',
    text: "software.amazon.awssdk.core.exception.SdkClientException: Unable to load credentials from any of the providers in the chain AwsCredentialsProviderChain(credentialsProviders=[SystemPropertyCredentialsProvider(), EnvironmentVariableCredentialsProvider(), WebIdentityTokenCredentialsProvider(), ProfileCredentialsProvider(), ContainerCredentialsProvider(), InstanceProfileCredentialsProvider()]) : [SystemPropertyCredentialsProvider(): Unable to load credentials from system settings., WebIdentityTokenCredentialsProvider(): To use web identity tokens, the 'sts' service module must be on the class path., InstanceProfileCredentialsProvider(): Failed to load credentials from IMDS.]",
    code: 'SDK_MISSING_STS_MODULE',
  },
  {
    name: 'AWS CLI no credentials',
    text: 'Unable to locate credentials. You can configure credentials by running "aws configure".',
    code: 'NO_CREDENTIALS',
  },
  {
    name: 'Go v1 NoCredentialProviders',
    text: 'NoCredentialProviders: no valid providers in chain. Deprecated.\n\tFor verbose messaging see aws.Config.CredentialsChainVerboseErrors',
    code: 'NO_CREDENTIALS',
  },
  {
    name: 'JS v3 no providers',
    text: 'CredentialsProviderError: Could not load credentials from any providers\n    at /app/node_modules/@aws-sdk/credential-provider-node/dist-cjs/index.js:100:11',
    code: 'NO_CREDENTIALS',
  },
  {
    name: 'Go v2 no IMDS role',
    text: 'operation error S3: ListObjectsV2, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, request canceled, context deadline exceeded',
    code: 'NO_CREDENTIALS',
  },
  {
    name: 'Go v1 WebIdentityErr alone',
    text: 'WebIdentityErr: failed to retrieve credentials',
    code: 'STS_ERROR',
  },
  {
    name: 'agent: EKS may not assume the role',
    text: '[3d5f7a9b-1c2e-4f6a-8b0c-2d4e6f8a0b1c]: (AccessDeniedException): Unauthorized Exception! EKS does not have permissions to assume the associated role., fault: client',
    code: 'POD_IDENTITY_ACCESS_DENIED',
  },
  {
    // A role (not EKS) calling AssumeRole with tags: chaining; the agent words its own denial differently.
    name: 'TagSession denied to a chained AssumeRole',
    text: `An error occurred (AccessDenied) when calling the AssumeRole operation: User: arn:aws:sts::111122223333:assumed-role/ci-runner/session is not authorized to perform: sts:TagSession on resource: ${ROLE}`,
    code: 'ROLE_CHAINING_DENIED',
    arns: [ROLE, 'arn:aws:sts::111122223333:assumed-role/ci-runner/session'],
  },
  {
    name: 'agent: token cannot be empty',
    text: 'Error retrieving credentials from container metadata: HTTP 400: Service account token cannot be empty',
    code: 'POD_IDENTITY_TOKEN_REJECTED',
  },
  {
    name: 'agent: no association',
    text: 'CredentialsProviderError: Error: [a1b2]: (ResourceNotFoundException): Pod Identity Association not found for cluster prod, namespace shop, service account cart, fault: client from http://169.254.170.23/v1/credentials',
    code: 'POD_IDENTITY_NO_ASSOCIATION',
  },
  {
    name: 'agent connect timeout (botocore)',
    text: 'botocore.exceptions.ConnectTimeoutError: Connect timeout on endpoint URL: "http://169.254.170.23/v1/credentials"',
    code: 'POD_IDENTITY_AGENT_UNREACHABLE',
  },
  {
    name: 'agent: called through invalid address',
    text: 'Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23] address not 10.0.3.7',
    code: 'POD_IDENTITY_AGENT_UNREACHABLE',
  },
  {
    name: 'STS throttling',
    text: 'An error occurred (Throttling) when calling the AssumeRoleWithWebIdentity operation (reached max retries: 4): Rate exceeded',
    code: 'STS_THROTTLED',
  },
  {
    name: 'STS region disabled',
    text: 'RegionDisabledException: STS is not activated in this region for account:111122223333. Your account administrator can activate STS in this region using the IAM Console.',
    code: 'STS_REGION_DISABLED',
  },
  {
    name: 'invalid role ARN',
    text: 'An error occurred (ValidationError) when calling the AssumeRoleWithWebIdentity operation: Request ARN is invalid',
    code: 'ROLE_ARN_INVALID',
  },
  {
    name: 'Go: token file permission denied',
    text: 'WebIdentityErr: failed fetching WebIdentity token: \ncaused by: WebIdentityErr: unable to read file at /var/run/secrets/eks.amazonaws.com/serviceaccount/token\ncaused by: open /var/run/secrets/eks.amazonaws.com/serviceaccount/token: permission denied',
    code: 'TOKEN_FILE_UNREADABLE',
  },
  {
    name: 'Python: token file permission denied',
    text: "PermissionError: [Errno 13] Permission denied: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token'",
    code: 'TOKEN_FILE_UNREADABLE',
  },
  {
    name: 'JS: token file missing',
    text: "Error: ENOENT: no such file or directory, open '/var/run/secrets/eks.amazonaws.com/serviceaccount/token'",
    code: 'TOKEN_FILE_MISSING',
  },
  {
    name: 'global STS endpoint timeout',
    text: 'botocore.exceptions.ConnectTimeoutError: Connect timeout on endpoint URL: "https://sts.amazonaws.com/"',
    code: 'STS_UNREACHABLE',
  },
  {
    name: 'Go: STS DNS failure',
    text: 'operation error STS: AssumeRoleWithWebIdentity, exceeded maximum number of attempts, 3, https response error StatusCode: 0, RequestID: , request send failed, Post "https://sts.eu-west-1.amazonaws.com/": dial tcp: lookup sts.eu-west-1.amazonaws.com on 172.20.0.10:53: no such host',
    code: 'STS_UNREACHABLE',
  },
  {
    name: 'InvalidClientTokenId',
    text: 'An error occurred (InvalidClientTokenId) when calling the GetCallerIdentity operation: The security token included in the request is invalid.',
    code: 'CREDENTIALS_INVALID',
  },
  {
    name: 'Go v2: role ARN not set',
    text: 'failed to retrieve credentials, role ARN is not set',
    code: 'IRSA_ENV_PARTIAL',
  },
  {
    name: 'botocore InvalidConfigError',
    text: 'botocore.exceptions.InvalidConfigError: The provided profile or the current environment is configured to assume role with web identity but has no role ARN configured. Ensure that the profile has the role_arn configuration set.',
    code: 'IRSA_ENV_PARTIAL',
  },
  {
    name: 'the role works but lacks the permission',
    text: 'An error occurred (AccessDenied) when calling the PutObject operation: User: arn:aws:sts::111122223333:assumed-role/cart-role/botocore-session-1732000000 is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::shop-uploads/a.txt"',
    code: 'ROLE_LACKS_PERMISSION',
    arns: ['arn:aws:sts::111122223333:assumed-role/cart-role/botocore-session-1732000000'],
  },
  {
    name: 'clock skew',
    text: 'InvalidIdentityToken: Token used before issued',
    code: 'TOKEN_NOT_YET_VALID',
  },
];

describe('explain: the corpus of real message shapes', () => {
  it('has at least 30 shapes, and every code explain can name is explained', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(30);
    for (const code of CHAIN_ORDER) expect([...EXPLANATIONS.keys()], code).toContain(code);
  });

  for (const sample of CORPUS) {
    it(`${sample.name} -> ${sample.code}`, () => {
      const [best] = explainMessage(sample.text).matches;
      expect(best?.code).toBe(sample.code);
      if (sample.arns) expect([...(best?.arns ?? [])].sort()).toEqual([...sample.arns].sort());
    });
  }
});

describe('explain: behaviour', () => {
  it.each([
    '',
    'Hello world',
    'GET /healthz 200 3ms',
    'INFO Started cart service on :8080 with role configured from env',
    'panic: runtime error: index out of range [3] with length 3',
    'User logged in: arn:aws:iam::111122223333:role/cart-role',
  ])('finds nothing in unrelated text %j', (text) => {
    expect(explainMessage(text).matches).toEqual([]);
  });

  it('reads a multi-line pasted log and puts the specific cause before the wrapper', () => {
    const log = [
      '2026-11-22T10:00:00.000Z INFO starting worker',
      '2026-11-22T10:00:01.100Z WARN retrying credentials',
      'software.amazon.awssdk.core.exception.SdkClientException: Unable to load credentials from any of the providers in the chain',
      '\tat software.amazon.awssdk.auth.credentials.AwsCredentialsProviderChain.resolveCredentials(AwsCredentialsProviderChain.java:130)',
      `Caused by: software.amazon.awssdk.services.sts.model.StsException: Not authorized to perform sts:AssumeRoleWithWebIdentity (Service: Sts, Status Code: 403, Request ID: 1a2b3c4d-0000-4000-8000-000000000000) role ${ROLE}`,
      `2026-11-22T10:00:05.000Z ERROR User: ${NODE} is not authorized to perform: s3:GetObject`,
    ].join('\n');
    const codes = explainMessage(log).matches.map((m) => m.code);
    // Both real causes are reported, the earliest link of the chain first (web identity failed, then the SDK
    // fell back to the node role); the generic wrapper is dropped.
    expect(codes).toEqual(['TRUST_POLICY_DENIED', 'NODE_ROLE_FALLBACK']);
    const trust = explainMessage(log).matches[0];
    expect(trust?.arns).toEqual([ROLE]);
    expect(trust?.remedy.commands[0]).toBe(
      'aws iam get-role --role-name cart-role --output json | kubectl exec -i <POD> -n <NAMESPACE> -- irsa-doctor --trust-policy -',
    );
  });

  it('fills the issuer into the OIDC provider remedy', () => {
    const [match] = explainMessage(`No OpenIDConnect provider found in your account for ${ISSUER}`).matches;
    expect(match?.remedy.commands).toContain(
      'eksctl utils associate-iam-oidc-provider --cluster <CLUSTER> --region us-west-2 --approve',
    );
    expect(match?.remedy.commands.join('\n')).toContain(`--url ${ISSUER} --client-id-list sts.amazonaws.com`);
  });

  it('says the global endpoint is the problem when the URL is sts.amazonaws.com', () => {
    const [match] = explainMessage('Connect timeout on endpoint URL: "https://sts.amazonaws.com/"').matches;
    expect(match?.meaning).toContain('global STS endpoint');
    expect(match?.causes[0]).toContain('AWS_STS_REGIONAL_ENDPOINTS=regional');
  });

  it('names only known check ids and existing finding codes', () => {
    for (const explanation of EXPLANATIONS.values()) {
      expect(Object.keys(FINDING_CODES)).toContain(explanation.code);
      for (const id of explanation.confirmWith) expect(CONFIRMING_CHECKS).toContain(id);
    }
  });

  it('produces the contract JSON shape', () => {
    const json = parseExplain(
      renderExplainJson(explainMessage(`User: ${NODE} is not authorized to perform: s3:GetObject`)),
    );
    expect(Object.keys(json)).toEqual(['schemaVersion', 'matches']);
    expect(json.schemaVersion).toBe(1);
    // docs/cli.md's fields, then the additive ones: how many messages said it and where the first was.
    expect(Object.keys(json.matches[0])).toEqual([
      'code',
      'meaning',
      'causes',
      'arns',
      'confirmWith',
      'remedy',
      'lines',
      'firstLine',
    ]);
    expect(Object.keys(json.matches[0].remedy)).toEqual(['summary', 'commands', 'links']);
    expect(json.matches[0].meaning).toContain("signed by the node's instance role");
    expect(parseExplain(renderExplainJson(explainMessage('nothing here')))).toEqual({ schemaVersion: 1, matches: [] });
  });

  it('escapes control characters from the input in text output', () => {
    const text = renderExplainText(
      explainMessage(
        'User: arn:aws:sts::111122223333:assumed-role/x/i-0a1b2c3d4e5f67890\u001b[2J is not authorized to perform: s3:GetObject',
      ),
    );
    expect(text).not.toContain('\u001b');
    expect(text).toContain('NODE_ROLE_FALLBACK');
  });

  it('says nothing matched and how to run the diagnosis', () => {
    expect(renderExplainText(explainMessage('all good'))).toContain(
      'kubectl exec -it <POD> -n <NAMESPACE> -- irsa-doctor',
    );
  });

  it('finds a message deep inside one long JSON log line', () => {
    const line = `{"level":"error","pad":"${'x'.repeat(50_000)}","msg":"An error occurred (InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation: Incorrect token audience"}`;
    expect(explainMessage(line).matches.map((m) => m.code)).toEqual(['OIDC_AUDIENCE_NOT_ALLOWED']);
  });

  it('handles a megabyte of noise in bounded time', () => {
    const noise = `${'arn:aws:iam::1 sts.amazonaws.com '.repeat(28_000)}\nRate exceeded`;
    const started = performance.now();
    const codes = explainMessage(noise).matches.map((m) => m.code);
    expect(codes).toEqual(['STS_THROTTLED']);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe('explain: who signed a denial, as users paste it', () => {
  it('reads a principal whose redaction placeholders contain spaces', () => {
    const p = principalOf(
      'User: arn:aws:sts::<account-id>:assumed-role/<node role> is not authorized to perform: secretsmanager:GetSecretValue',
    );
    expect(p).toMatchObject({ kind: 'node', roleName: '<node role>' });
    const cfn = principalOf(
      'User: arn:aws-us-gov:sts::<source account>:assumed-role/cdk-hnb659fds-cfn-exec-role-<source account>-us-gov-west-1/AWSCloudFormation is not authorized to perform: s3:GetObject',
    );
    expect(cfn).toMatchObject({ kind: 'role', roleName: 'cdk-hnb659fds-cfn-exec-role-<source account>-us-gov-west-1' });
  });

  it('calls a principal the user cut short unknown, not a role that lacks a permission', () => {
    const text =
      'User: arn:aws:sts::111111111111:assumed-role/site-k20210915... is not authorized to perform: secretsmanager:GetSecretValue on resource: site-k/test';
    expect(principalOf(text).kind).toBe('unknown');
    expect(explainMessage(text).matches.map((m) => m.code)).toEqual(['DENIED_PRINCIPAL_UNKNOWN']);
  });

  it('is not misled by a User-Agent header before the principal', () => {
    const text = `User-Agent: aws-sdk-go/1.44.0 (go1.20; linux; amd64) AccessDenied: User: ${NODE} is not authorized to perform: s3:GetObject`;
    expect(principalOf(text)).toMatchObject({ kind: 'node' });
  });

  it('puts back the colon a redaction ate, and joins a principal broken over lines', () => {
    expect(principalOf('User: arn:aws:sts::80xxxxx assumed-role/cert-manager/1667 is not authorized').text).toBe(
      'arn:aws:sts::80xxxxx:assumed-role/cert-manager/1667',
    );
    const broken = [
      'StorageAccessDenied: [S3] Access denied: ...',
      'User: arn:aws:sts::123456789012:assumed-role/eks_node_groups/i-0xxxxxxxxxxxxxxxx',
      'is not authorized to perform: s3:ListBucket on <BUCKET>',
    ].join('\n');
    expect(explainMessage(broken).matches.map((m) => m.code)).toEqual(['NODE_ROLE_FALLBACK']);
  });

  it('names the node role from a denial cut before "is not authorized" when the principal is there', () => {
    const text =
      'AccessDeniedException: User: arn:aws:sts::822365211807:assumed-role/github-action-eks-node-group-2024/i-0462d11c5e899cd8c is not a';
    expect(explainMessage(text).matches.map((m) => m.code)).toEqual(['NODE_ROLE_FALLBACK']);
  });

  it('leaves Kubernetes RBAC denials alone, even about aws-auth', () => {
    for (const text of [
      'Error: configmaps "aws-auth" is forbidden: User "system:serviceaccount:ci:runner" cannot get resource "configmaps" in API group "" in the namespace "kube-system"',
      '{"kind":"Status","status":"Failure","message":"namespaces is forbidden: User \\"system:anonymous\\" cannot list resource \\"namespaces\\"","code":403}',
    ]) {
      expect(explainMessage(text).matches, text).toEqual([]);
    }
  });
});

describe('explain: what the container-credentials endpoint answered', () => {
  it.each([
    [
      'Non-success status from HTTP credential provider: StatusCode(400) provider=EcsContainer',
      'POD_IDENTITY_TOKEN_REJECTED',
    ],
    [
      'ContainerCredentialsProvider(): Failed to load credentials: status code 404 from http://169.254.170.23/v1/credentials',
      'POD_IDENTITY_NO_ASSOCIATION',
    ],
  ])('%s -> %s', (text, code) => {
    expect(explainMessage(text).matches[0]?.code).toBe(code);
  });

  it('does not call an ECS task endpoint Pod Identity', () => {
    const codes = explainMessage(
      'Non-success status from HTTP credential provider: StatusCode(400) provider=EcsContainer http://169.254.170.2/v2/credentials/abc',
    ).matches.map((m) => m.code);
    expect(codes).not.toContain('POD_IDENTITY_TOKEN_REJECTED');
  });
});

describe('explain: which endpoint, which package, which signer', () => {
  it('calls a container-credentials failure at a non-agent endpoint no credentials, not Pod Identity', () => {
    for (const text of [
      "Error when retrieving credentials from container-role: Received non 200 response (400) from ECS metadata: {'code': 'InvalidIdInRequest', 'message': 'CredentialsV2Request: Credentials not found'}",
      'CredentialsProviderError: Failed to load credentials from http://127.0.0.1:8080/creds: connect ECONNREFUSED 127.0.0.1:8080',
    ]) {
      expect(
        explainMessage(text).matches.map((m) => m.code),
        text,
      ).toEqual(['NO_CREDENTIALS']);
    }
    expect(
      explainMessage(
        'Error when retrieving credentials from container-role: Received non 200 response (400) from container metadata: http://169.254.170.23/v1/credentials',
      ).matches[0]?.code,
    ).toBe('POD_IDENTITY_TOKEN_REJECTED');
  });

  it('knows a missing STS package in the .NET and JS SDKs, not only Java', () => {
    for (const text of [
      'System.InvalidOperationException: Assembly AWSSDK.SecurityToken could not be found or loaded. This assembly must be available at runtime to use Amazon.Runtime.AssumeRoleWithWebIdentityCredentials.',
      "Error: Cannot find module '@aws-sdk/client-sts' Require stack: - /app/node_modules/@aws-sdk/credential-provider-web-identity/dist-cjs/index.js",
    ]) {
      expect(explainMessage(text).matches[0]?.code, text).toBe('SDK_MISSING_STS_MODULE');
    }
  });

  it('reads a signature scoped to another region as the endpoint, not the keys', () => {
    expect(
      explainMessage(
        'An error occurred (SignatureDoesNotMatch) when calling the GetCallerIdentity operation: Credential should be scoped to a valid region.',
      ).matches[0]?.code,
    ).toBe('STS_GLOBAL_ENDPOINT');
    // Outside STS the line says the region is wrong but not which setting: a generic answer, not bad keys.
    expect(
      explainMessage(
        'InvalidSignatureException: Credential should be scoped to a valid region. at de_PutKeyCommandError (@aws-sdk/client-cloudfront-keyvaluestore)',
      ).matches[0]?.code,
    ).toBe('CREDENTIAL_CAUSE_UNKNOWN');
  });

  it("calls a node group's role chaining into another role the node-role fallback; another instance role's chain stays a chain", () => {
    const chain = (principal: string) =>
      `AccessDenied: User: ${principal} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/reporting`;
    expect(explainMessage(chain(NODE)).matches[0]?.code).toBe('NODE_ROLE_FALLBACK');
    expect(
      explainMessage(chain('arn:aws:sts::111122223333:assumed-role/build-host/i-0a1b2c3d4e5f67890')).matches[0]?.code,
    ).toBe('ROLE_CHAINING_DENIED');
  });

  it("reads S3's own names for rejected and stale session tokens", () => {
    expect(
      explainMessage(
        'An error occurred (InvalidToken) when calling the PutObject operation: The provided token is malformed or otherwise invalid.',
      ).matches[0]?.code,
    ).toBe('CREDENTIALS_INVALID');
    expect(
      explainMessage(
        'TokenRefreshRequired: The provided token must be refreshed. (Service: Amazon S3; Status Code: 400)',
      ).matches[0]?.code,
    ).toBe('SESSION_CREDENTIALS_EXPIRED');
  });
});

describe('explain: an AWS credential failure no rule names', () => {
  const UNNAMED = 'Error: aws-signer: the AWS session token has an invalid format';

  it('gets a generic, low-confidence answer that says what cannot be told and the command that tells', () => {
    const [match, ...rest] = explainMessage(UNNAMED).matches;
    expect(rest).toEqual([]);
    expect(match?.code).toBe('CREDENTIAL_CAUSE_UNKNOWN');
    expect(match?.meaning).toContain('cannot be told');
    expect(match?.remedy.commands).toContain('kubectl exec <POD> -n <NAMESPACE> -- aws sts get-caller-identity');
    expect(match?.confirmWith).toContain('identity.caller');
  });

  it('is dropped when a log also names a specific cause, and ranks last among generic answers', () => {
    const log = [
      UNNAMED,
      'An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity',
    ].join('\n');
    expect(explainMessage(log).matches.map((m) => m.code)).toEqual(['TRUST_POLICY_DENIED']);
    expect(CHAIN_ORDER.at(-1)).toBe('CREDENTIAL_CAUSE_UNKNOWN');
  });

  it('names an SDK failing to get credentials in words no rule knows as no credentials', () => {
    for (const text of [
      'Error: failed to resolve AWS credentials for the s3 sink: provider chain exhausted',
      'extension "sigv4auth" has invalid configuration: bad AWS credentials',
      'org.apache.hadoop.fs.s3a.auth.NoAuthWithAWSException: No AWS Credentials provided by TemporaryAWSCredentialsProvider',
      'ContainerCredentialsProvider(): Failed to load credentials from metadata service.',
    ]) {
      expect(
        explainMessage(text).matches.map((m) => m.code),
        text,
      ).toEqual(['NO_CREDENTIALS']);
    }
  });

  it.each([
    'INFO Loaded AWS credentials from the environment',
    'time="2024-05-01T10:00:00Z" level=info msg="Refreshing AWS credentials"',
    'AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID',
    "unable to get credentials: compute: Received 403 `Unable to generate access token; IAM returned 403 Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).`",
    'level=fatal msg="open /var/run/secrets/kubernetes.io/serviceaccount/token: permission denied"',
    'googleapi: Error 403: The caller does not have permission, forbidden',
    'Error reading aws/creds/deploy: Error making API request to Vault. Code: 403. Errors: * permission denied',
    'botocore.errorfactory.NoSuchBucket: An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation: The specified bucket does not exist',
    'Post "https://ec2.us-east-2.amazonaws.com/": x509: certificate signed by unknown authority',
  ])('leaves alone what is no AWS credential failure: %s', (text) => {
    expect(explainMessage(text).matches).toEqual([]);
  });
});

describe('runExplain', () => {
  const io = (stdin: string, stdinIsTTY = false) => {
    const out: string[] = [];
    const err: string[] = [];
    let asked: number | undefined;
    const value: ExplainIo = {
      stdinIsTTY,
      write: async (t) => void out.push(t),
      writeError: async (t) => void err.push(t),
      readStdin: async (max) => {
        asked = max;
        return stdin;
      },
    };
    return { value, out, err, asked: () => asked };
  };

  it('reads stdin for "-" with the 1 MiB cap, and prints JSON', async () => {
    const s = io('Rate exceeded');
    expect(await runExplain({ kind: 'explain', text: '-', output: 'json', stdinIdleMs: 10_000 }, s.value)).toBe(0);
    expect(s.asked()).toBe(1024 * 1024);
    expect(parseExplain(s.out.join('')).matches[0].code).toBe('STS_THROTTLED');
  });

  it('prints a usage hint and exits 2 with no argument on a terminal', async () => {
    const s = io('', true);
    expect(await runExplain({ kind: 'explain', text: undefined, output: 'text', stdinIdleMs: 10_000 }, s.value)).toBe(
      2,
    );
    expect(s.err.join('')).toBe(EXPLAIN_USAGE);
    expect(s.asked()).toBeUndefined();
  });

  it('exits 0 when nothing matches', async () => {
    const s = io('');
    expect(await runExplain({ kind: 'explain', text: 'hello', output: 'text', stdinIdleMs: 10_000 }, s.value)).toBe(0);
    expect(s.out.join('')).toContain('Nothing in this text matches');
  });
});

describe('explain: a whole log', () => {
  it('reports each distinct problem once, earliest link first, with how many messages said it', () => {
    const denial = `User: ${NODE} is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::shop/a"`;
    const log = [
      '10:00:00 INFO start',
      denial,
      '10:00:01 INFO retry',
      denial,
      'An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity',
      denial,
      'NoCredentialProviders: no valid providers in chain. Deprecated.',
    ].join('\n');
    const matches = explainMessage(log).matches;
    expect(matches.map((m) => [m.code, m.lines, m.firstLine])).toEqual([
      ['TRUST_POLICY_DENIED', 1, 5],
      ['NODE_ROLE_FALLBACK', 3, 2],
    ]);
    expect(renderExplainText(explainMessage(log))).toContain('2. NODE_ROLE_FALLBACK   (3 messages, first on line 2)');
  });

  it('names both halves of a denied role chain: the caller may not assume, or the target does not trust', () => {
    const [match] = explainMessage(
      'AccessDenied: User: arn:aws:sts::111122223333:assumed-role/app-role/botocore-session-1 is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444455556666:role/target-role',
    ).matches;
    expect(match?.code).toBe('ROLE_CHAINING_DENIED');
    expect(match?.remedy.commands[0]).toContain('put-role-policy --role-name app-role');
    expect(match?.remedy.commands[0]).toContain('arn:aws:iam::444455556666:role/target-role');
    expect(match?.remedy.commands[1]).toContain('get-role --role-name target-role');
  });

  it('a chain is denied whoever calls it and whichever extra action it needs; a user caller gets a user policy', () => {
    const [user] = explainMessage(
      'User: arn:aws:iam::111122223333:user/deployer is not authorized to perform: sts:TagSession on resource: arn:aws:iam::444455556666:role/devops',
    ).matches;
    expect(user?.code).toBe('ROLE_CHAINING_DENIED');
    expect(user?.remedy.commands[0]).toContain('put-user-policy --user-name deployer');
    expect(user?.remedy.commands[0]).toContain('"sts:TagSession"');
    const [source] = explainMessage(
      "ClientError('An error occurred (AccessDenied) when calling the AssumeRole operation: User: arn:aws:sts::1:assumed-role/hub-caller/s is not authorized to perform: sts:SetSourceIdentity on resource: arn:aws:iam::1:role/Hub')",
    ).matches;
    expect(source?.code).toBe('ROLE_CHAINING_DENIED');
    expect(source?.remedy.commands[0]).toContain('put-role-policy --role-name hub-caller');
    expect(source?.remedy.commands[0]).toContain('"sts:SetSourceIdentity"');
    expect(source?.remedy.commands[1]).toMatch(/get-role --role-name Hub --query Role.AssumeRolePolicyDocument {3}#/);
  });

  it('puts a name from the log into a command only when it is a valid one (a redacted or hostile name is a placeholder)', () => {
    const [match] = explainMessage(
      'User: arn:aws:sts::1:assumed-role/<ROLE>;rm/x is not authorized to perform: s3:GetObject',
    ).matches;
    expect(match?.code).toBe('ROLE_LACKS_PERMISSION');
    expect(match?.remedy.commands[0]).toBe('aws iam list-attached-role-policies --role-name <ROLE_NAME>');
  });
});

describe('redactSecrets', () => {
  it('removes keys, tokens, JWTs, Authorization values and URL passwords, and masks key ids', async () => {
    const { redactSecrets } = await import('../../src/explain/redact');
    const out = redactSecrets(
      'aws_secret_access_key=wJalrXUtnFEMI/K7MDENG "SessionToken": "IQoJb3JpZ2luX2Vj" Authorization: AWS4-HMAC-SHA256 x eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl http://u:pa55@h/ AKIAIOSFODNN7EXAMPLE',
    );
    for (const secret of [
      'wJalrXUtnFEMI',
      'IQoJb3JpZ2luX2Vj',
      'AWS4-HMAC',
      'eyJhbGciOiJIUzI1NiJ9',
      'pa55',
      'IOSFODNN7EXAM',
    ]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('AKIA****MPLE');
  });
});
