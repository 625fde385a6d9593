import { afterEach, describe, expect, it } from 'vitest';
import { callAgent, mapAgentAnswer } from '../../../src/aws/agent-client';
import { NetError, createNetClient } from '../../../src/aws/http';
import { reachImds } from '../../../src/aws/imds';
import { Secret } from '../../../src/aws/secrets';
import { identityImds } from '../../../src/checks/identity-imds';
import { podIdentityAgent } from '../../../src/checks/pod-identity-agent';
import { fixtureContext } from '../../helpers/context';
import { TestServers, callerAnswer, upstreamOf } from './servers';

const servers = new TestServers();
afterEach(() => servers.closeAll());
const signal = () => new AbortController().signal;

describe(mapAgentAnswer, () => {
  // Bodies as the agent sends them, each from aws/eks-pod-identity-agent @d4dc0f3: its own messages
  // (internal/validation/request.go, internal/middleware/rate_limiter/rate_limiter.go), and EKS Auth's errors
  // as pkg/errors/errors.go HandleCredentialFetchingError relays them ("[id]: (Code): msg, fault: f" with
  // EKS Auth's status; "[]" with 500 when EKS Auth never answered, errors_test.go "operational with response,
  // no reply" with the empty RequestID of eks-pod-identity-agent#50), status codes from the eks-auth model.
  it.each([
    // request.go validateToken / request_test.go
    [400, 'Service account token cannot be empty\n', 'POD_IDENTITY_TOKEN_REJECTED', 'token-empty'],
    [
      400,
      'Service account token cannot be parsed: token is malformed: token contains an invalid number of segments\n',
      'POD_IDENTITY_TOKEN_REJECTED',
      'token-unparsable',
    ],
    [
      400,
      'Service account token failed basic claim validations: token is expired\n',
      'POD_IDENTITY_TOKEN_REJECTED',
      'token-expired',
    ],
    [
      400,
      'Service account token failed basic claim validations: token is not valid yet\n',
      'CLOCK_SKEW',
      'token-not-yet-valid',
    ],
    // request.go validateRequestTargetHost / request_test.go
    [
      403,
      'Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23] address not 10.0.0.1\n',
      'POD_IDENTITY_URI_REFUSED',
      'address-refused',
    ],
    // rate_limiter.go RateLimitMiddleware
    [429, 'Too Many Requests\n', 'POD_IDENTITY_AGENT_RATE_LIMITED', 'rate-limited'],
    // errors.go, no reply from EKS Auth
    [500, '[]\n', 'EKS_AUTH_UNREACHABLE', 'eks-auth-unreachable'],
    // errors.go relaying the eks-auth modelled errors
    [
      400,
      '[r-1]: (AccessDeniedException): Unauthorized Exception! EKS does not have permissions to assume the associated role., fault: client\n',
      'POD_IDENTITY_ACCESS_DENIED',
      'trust-denied',
    ],
    [
      400,
      '[r-6]: (AccessDeniedException): User: arn:aws:sts::111122223333:assumed-role/node-role/i-0a1b is not authorized to perform: eks-auth:AssumeRoleForPodIdentity on resource: arn:aws:eks:us-west-2:111122223333:cluster/demo, fault: client\n',
      'POD_IDENTITY_ACCESS_DENIED',
      'node-role-denied',
    ],
    [403, 'EKS does not have permissions to assume the associated role', 'POD_IDENTITY_ACCESS_DENIED', 'trust-denied'],
    [
      404,
      '[r-2]: (ResourceNotFoundException): No association found, fault: client\n',
      'POD_IDENTITY_NO_ASSOCIATION',
      'no-association',
    ],
    [
      400,
      '[r-3]: (InvalidTokenException): bad, fault: client\n',
      'POD_IDENTITY_TOKEN_REJECTED',
      'eks-auth-token-invalid',
    ],
    [
      400,
      '[r-7]: (ExpiredTokenException): Token is expired, fault: client\n',
      'POD_IDENTITY_TOKEN_REJECTED',
      'eks-auth-token-expired',
    ],
    [
      429,
      '[r-4]: (ThrottlingException): Rate exceeded, fault: client\n',
      'POD_IDENTITY_THROTTLED',
      'eks-auth-throttled',
    ],
    [
      500,
      '[r-5]: (InternalServerException): boom, fault: server\n',
      'POD_IDENTITY_EKS_AUTH_UNAVAILABLE',
      'eks-auth-unavailable',
    ],
    [
      503,
      '[r-8]: (ServiceUnavailableException): try later, fault: server\n',
      'POD_IDENTITY_EKS_AUTH_UNAVAILABLE',
      'eks-auth-unavailable',
    ],
    [
      400,
      '[r-9]: (InvalidParameterException): The cluster name is invalid, fault: client\n',
      'POD_IDENTITY_REQUEST_INVALID',
      'eks-auth-request-invalid',
    ],
    [
      400,
      '[r-10]: (InvalidRequestException): bad request, fault: client\n',
      'POD_IDENTITY_REQUEST_INVALID',
      'eks-auth-request-invalid',
    ],
    [200, 'not json', 'STS_ERROR', 'no-credentials'],
  ] as const)('HTTP %i "%s" is %s', (status, body, code, refusal) => {
    const answer = mapAgentAnswer(status, body);
    expect(answer.kind).toBe('refused');
    expect(answer.kind === 'refused' && [answer.code, answer.refusal]).toEqual([code, refusal]);
  });

  it("tells the agent's own 429 from EKS Auth's throttling, and a missing EKS Auth from a bare error page", () => {
    const own = mapAgentAnswer(429, 'Too Many Requests\n');
    const eksAuth = mapAgentAnswer(429, '[r-4]: (ThrottlingException): Rate exceeded, fault: client\n');
    expect(own.kind === 'refused' && own.explanation).toMatch(/agent's own rate limiter/);
    expect(eksAuth.kind === 'refused' && eksAuth.explanation).toMatch(/EKS Auth throttled the agent/);
    const bare = mapAgentAnswer(500, 'Internal Server Error\n');
    expect(bare).toMatchObject({ kind: 'refused', code: 'STS_ERROR', refusal: 'not-the-agent' });
    expect(bare.kind === 'refused' && bare.explanation).toMatch(/^HTTP 500 without the agent's error format/);
  });

  it('never shows the credentials of a body sent with another status than 200', () => {
    // Found by test/fuzz: a 503 carrying the credentials JSON was echoed into the finding.
    const credentials = JSON.stringify({
      AccessKeyId: 'ASIAAGENTKEY00000001',
      SecretAccessKey: 'AGENT-SECRET',
      Token: 'AGENT-TOKEN',
    });
    for (const body of [credentials, credentials.slice(0, credentials.indexOf('AGENT-TOKEN') + 5)]) {
      const answer = mapAgentAnswer(503, body);
      expect(answer.kind === 'refused' && answer.body).toContain('"AccessKeyId":"ASIAAGENTKEY00000001"');
      expect(answer.kind === 'refused' && answer.body).toContain('"SecretAccessKey":"<redacted>"');
      expect(JSON.stringify(answer)).not.toContain('AGENT-SECRET');
      expect(JSON.stringify(answer)).not.toContain('AGENT-TO');
    }
  });

  it('reads 200 credentials into secrets', () => {
    const answer = mapAgentAnswer(
      200,
      JSON.stringify({
        AccessKeyId: 'ASIAAGENTKEY00000001',
        SecretAccessKey: 'AGENT-SECRET',
        Token: 'AGENT-TOKEN',
        AccountId: '111122223333',
        Expiration: '2030-01-01T00:00:00Z',
      }),
    );
    expect(answer.kind).toBe('credentials');
    expect(JSON.stringify(answer)).not.toContain('AGENT-SECRET');
    expect(JSON.stringify(answer)).not.toContain('AGENT-TOKEN');
  });
});

describe(callAgent, () => {
  it('sends the raw token as Authorization and the URI host as Host', async () => {
    let seen: { auth?: string; host?: string } = {};
    const url = await servers.http((req, res) => {
      seen = { auth: req.headers.authorization, host: req.headers.host };
      res.writeHead(404).end('[r]: (ResourceNotFoundException): none, fault: client');
    });
    const attempts = await callAgent(createNetClient(), `${url}/v1/credentials`, new Secret('eyJ.raw.jwt'), signal());
    expect(seen.auth).toBe('eyJ.raw.jwt');
    expect(seen.host).toBe(new URL(url).host);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.outcome).toMatchObject({ kind: 'refused', code: 'POD_IDENTITY_NO_ASSOCIATION' });
  });

  it('gives up on a black-holed agent within its 2 s timeout', async () => {
    const url = await servers.blackHole();
    const started = Date.now();
    const attempts = await callAgent(createNetClient(), `${url}/v1/credentials`, new Secret('t'), signal());
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(attempts[0]?.outcome).toBeInstanceOf(NetError);
    expect((attempts[0]?.outcome as NetError).kind).toBe('read-timeout');
  });
});

describe('pod-identity.agent', () => {
  const tokenFile = {
    path: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
    mechanism: 'pod-identity' as const,
    token: new Secret('eyJ.pod.jwt'),
    mtimeMs: 0,
  };
  /** pod-identity.agent against the agent at `agent`, with this token file. */
  const runAgentCheck = (agent: string, init: Parameters<typeof fixtureContext>[0] = {}) =>
    podIdentityAgent.run(
      fixtureContext(init),
      upstreamOf({
        'env.pod-identity': { fullUri: `${agent}/v1/credentials`, tokenFile: tokenFile.path },
        'token.file': tokenFile,
      }),
      signal(),
    );

  it('proves the agent credentials with GetCallerIdentity and never shows them', async () => {
    const arn = 'arn:aws:sts::111122223333:assumed-role/app/eks-c-p-uuid';
    const sts = await servers.http((_req, res) => res.writeHead(200).end(callerAnswer(arn)));
    const agent = await servers.http((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          AccessKeyId: 'ASIAAGENTKEY00000001',
          SecretAccessKey: 'AGENT-SECRET',
          Token: 'AGENT-TOKEN',
          AccountId: '111122223333',
          Expiration: '2030-01-01T00:00:00Z',
        }),
      ),
    );
    const outcome = await runAgentCheck(agent, { env: { AWS_ENDPOINT_URL_STS: sts } });
    expect(outcome).toMatchObject({ status: 'pass', output: { callerArn: arn } });
    expect(JSON.stringify(outcome)).not.toMatch(/AGENT-SECRET|AGENT-TOKEN|eyJ\.pod\.jwt/);
  });

  it('maps access denied to POD_IDENTITY_ACCESS_DENIED with the trust policy in the remedy', async () => {
    const agent = await servers.http((_req, res) =>
      res
        .writeHead(400)
        .end(
          '[r]: (AccessDeniedException): Unauthorized Exception! EKS does not have permissions to assume the associated role., fault: client',
        ),
    );
    const outcome = await runAgentCheck(agent);
    expect(outcome.status).toBe('fail');
    const finding = outcome.findings?.[0];
    expect(finding?.code).toBe('POD_IDENTITY_ACCESS_DENIED');
    expect(finding?.remedy.commands.join('\n')).toContain('"Service":"pods.eks.amazonaws.com"');
    expect(finding?.remedy.commands.join('\n')).toContain('sts:TagSession');
    expect(finding?.summary).toContain('not a valid container metadata service hostname');
  });

  const answering = (status: number, body: string) =>
    servers.http((_req, res) => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body));
  const podClaims = (exp: number) => ({
    alg: 'RS256',
    kid: 'k',
    iss: 'https://oidc.eks.eu-west-1.amazonaws.com/id/ABC',
    sub: 'system:serviceaccount:shop:cart',
    aud: ['pods.eks.amazonaws.com'],
    exp,
    iat: exp - 80_000,
    nbf: exp - 80_000,
    namespace: 'shop',
    serviceAccount: 'cart',
    podName: 'cart-7d9f8b6c5d-x2x9q',
  });
  const runWithClaims = (agent: string, exp: number, init: Parameters<typeof fixtureContext>[0] = {}) =>
    podIdentityAgent.run(
      fixtureContext(init),
      upstreamOf({
        'env.pod-identity': { fullUri: `${agent}/v1/credentials`, tokenFile: tokenFile.path },
        'token.file': tokenFile,
        'token.claims': podClaims(exp),
      }),
      signal(),
    );

  it('500 "[]": EKS Auth out of reach, with the eks-auth VPC endpoint of this region in the commands', async () => {
    const outcome = await runWithClaims(await answering(500, '[]\n'), Math.floor(Date.now() / 1000) + 3600);
    const finding = outcome.findings?.[0];
    expect(finding?.code).toBe('EKS_AUTH_UNREACHABLE');
    // No AWS_REGION here: the region comes from the cluster's issuer.
    expect(finding?.remedy.commands.join('\n')).toContain('Values=com.amazonaws.eu-west-1.eks-auth');
    expect(finding?.remedy.commands.join('\n')).not.toContain('<REGION>');
    expect(finding?.remedy.summary).toContain('eks-auth.eu-west-1.api.aws');
  });

  it('ExpiredTokenException from EKS Auth for a token this clock still takes: the clock, not the token', async () => {
    const body = '[r-7]: (ExpiredTokenException): Token is expired, fault: client\n';
    const valid = await runWithClaims(await answering(400, body), Math.floor(Date.now() / 1000) + 3600);
    expect(valid.findings?.[0]?.code).toBe('POD_IDENTITY_TOKEN_REJECTED');
    expect(valid.findings?.[0]?.summary).toContain("the node's clock is behind AWS's");
    expect(valid.findings?.[0]?.remedy.commands).toContain('date -u');
    expect(valid.findings?.[0]?.remedy.summary).not.toMatch(/STS|upgrade/i);
    const expired = await runWithClaims(await answering(400, body), Math.floor(Date.now() / 1000) - 600);
    expect(expired.findings?.[0]?.summary).toContain('the kubelet stopped rotating this file');
    expect(expired.findings?.[0]?.remedy.commands).toEqual([
      'kubectl delete pod cart-7d9f8b6c5d-x2x9q -n shop   # its controller creates a new one',
    ]);
  });

  it('403 for the address: a URI problem, fixed by the webhook\'s URI, not "install the agent"', async () => {
    const outcome = await runWithClaims(
      await answering(
        403,
        'Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23] address not localhost\n',
      ),
      Math.floor(Date.now() / 1000) + 3600,
    );
    const finding = outcome.findings?.[0];
    expect(finding?.code).toBe('POD_IDENTITY_URI_REFUSED');
    expect(finding?.remedy.commands.join('\n')).toContain('AWS_CONTAINER_CREDENTIALS_FULL_URI-');
    expect(finding?.remedy.commands.join('\n')).not.toContain('create-addon');
    const known = finding?.remedyFor?.({
      namespace: 'shop',
      podName: 'cart-7d9f8b6c5d-x2x9q',
      owner: { kind: 'Deployment', name: 'cart' },
      skipLabel: false,
    });
    expect(known?.commands).toEqual([
      'kubectl set env deployment/cart -n shop AWS_CONTAINER_CREDENTIALS_FULL_URI-   # rolls out new pods',
    ]);
  });

  it('429 from the agent itself and throttling by EKS Auth are warnings with their own codes', async () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const own = await runWithClaims(await answering(429, 'Too Many Requests\n'), exp);
    const eksAuth = await runWithClaims(
      await answering(429, '[r]: (ThrottlingException): Rate exceeded, fault: client\n'),
      exp,
    );
    expect([own.status, own.findings?.[0]?.code]).toEqual(['warn', 'POD_IDENTITY_AGENT_RATE_LIMITED']);
    expect([eksAuth.status, eksAuth.findings?.[0]?.code]).toEqual(['warn', 'POD_IDENTITY_THROTTLED']);
  });

  it('reports a refused agent as POD_IDENTITY_AGENT_UNREACHABLE', async () => {
    const agent = await servers.refused();
    const outcome = await runAgentCheck(agent);
    expect(outcome.findings?.[0]?.code).toBe('POD_IDENTITY_AGENT_UNREACHABLE');
    expect(outcome.findings?.[0]?.summary).toContain('connection refused');
    expect(outcome.findings?.[0]?.summary).toContain('Usual causes: the eks-pod-identity-agent add-on');
    expect(outcome.summary).toMatch(/^no answer from the Pod Identity agent: connection refused by /);
  });

  it('an answer cut short is not a missing agent: it points at a hung agent or a proxy', async () => {
    const agent = await servers.http((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 });
      res.write('{"AccessKeyId":', () => res.destroy());
    });
    const outcome = await runAgentCheck(agent);
    expect(outcome.findings?.[0]?.code).toBe('POD_IDENTITY_AGENT_UNREACHABLE');
    expect(outcome.summary).toMatch(/closed the connection before its answer was complete \(got 15 of 100 bytes\)/);
    expect(outcome.findings?.[0]?.summary).toContain('a hung or overloaded agent');
    expect(outcome.findings?.[0]?.summary).not.toContain('Usual causes');
  });
});

/** An IMDS that answers like EC2: v2 token, role name, identity document, credentials. */
function imds(options: {
  v2: boolean | 'blackhole';
  role?: string;
  v1?: boolean;
  putDelayMs?: number;
  getDelayMs?: number;
}) {
  return servers.http(async (req, res) => {
    const delay = req.method === 'PUT' ? options.putDelayMs : options.getDelayMs;
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
    const tokenOk = req.headers['x-aws-ec2-metadata-token'] === 'IMDS-TOKEN';
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (options.v2 === 'blackhole') return; // never answers: what hop limit 1 looks like from a pod
      if (!options.v2) return void res.writeHead(403).end();
      return void res.writeHead(200).end('IMDS-TOKEN');
    }
    if (!tokenOk && !options.v1) return void res.writeHead(401).end();
    if (req.url === '/latest/meta-data/iam/security-credentials/') {
      return void (options.role ? res.writeHead(200).end(options.role) : res.writeHead(404).end());
    }
    if (req.url === `/latest/meta-data/iam/security-credentials/${options.role}`) {
      return void res.writeHead(200).end(
        JSON.stringify({
          Code: 'Success',
          AccessKeyId: 'ASIANODEKEY000000001',
          SecretAccessKey: 'NODE-SECRET',
          Token: 'NODE-TOKEN',
        }),
      );
    }
    if (req.url === '/latest/dynamic/instance-identity/document') {
      return void res
        .writeHead(200)
        .end(JSON.stringify({ accountId: '111122223333', region: 'us-west-2', instanceId: 'i-0123456789abcdef0' }));
    }
    res.writeHead(404).end();
  });
}

describe(reachImds, () => {
  it('IMDSv2: reads the node role and its credentials', async () => {
    const endpoint = await imds({ v2: true, role: 'node-role' });
    const reach = await reachImds(createNetClient(), endpoint, signal());
    expect(reach).toMatchObject({
      kind: 'credentials',
      version: 'v2',
      nodeRoleArn: 'arn:aws:iam::111122223333:role/node-role',
      instanceId: 'i-0123456789abcdef0',
    });
  });

  it('hop limit 1 with IMDSv2 required: the PUT times out, v1 is refused with 401, so blocked', async () => {
    const endpoint = await imds({ v2: 'blackhole', role: 'node-role', v1: false });
    const started = Date.now();
    const reach = await reachImds(createNetClient(), endpoint, signal());
    expect(reach.kind).toBe('blocked');
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('hop limit 1 with IMDSv1 allowed: the SDK falls back to v1 and gets credentials', async () => {
    const endpoint = await imds({ v2: 'blackhole', role: 'node-role', v1: true });
    expect(await reachImds(createNetClient(), endpoint, signal())).toMatchObject({
      kind: 'credentials',
      version: 'v1',
    });
  });

  it('a loaded IMDS (GETs in 60 ms, the token in 450 ms) still gives its token: the PUT waits 10 round trips', async () => {
    const endpoint = await imds({ v2: true, role: 'node-role', putDelayMs: 450, getDelayMs: 60 });
    expect(await reachImds(createNetClient(), endpoint, signal())).toMatchObject({
      kind: 'credentials',
      version: 'v2',
    });
  });

  it('a token slower than 10 GET round trips counts as dropped by the hop limit, and v1 decides', async () => {
    const endpoint = await imds({ v2: true, role: 'node-role', v1: false, putDelayMs: 900 });
    const reach = await reachImds(createNetClient(), endpoint, signal());
    expect(reach).toMatchObject({ kind: 'blocked' });
  });

  it('an HTML page answering the token PUT is not IMDS: unreachable, saying so, instead of a refused header', async () => {
    const endpoint = await servers.http((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html><body>proxy login</body></html>\n');
    });
    const reach = await reachImds(createNetClient(), endpoint, signal());
    expect(reach).toEqual({
      kind: 'unreachable',
      why: `the IMDSv2 token request got HTTP 200 (text/html) with a body that is not a token: something other than IMDS answers at ${endpoint}`,
    });
  });

  it('no instance profile, and nothing listening', async () => {
    expect((await reachImds(createNetClient(), await imds({ v2: true }), signal())).kind).toBe('no-role');
    expect((await reachImds(createNetClient(), await servers.refused(), signal())).kind).toBe('unreachable');
  });
});

describe('identity.imds', () => {
  it('warns IMDS_REACHABLE with the hop-limit command, without the node credentials', async () => {
    const endpoint = await imds({ v2: true, role: 'node-role' });
    const outcome = await identityImds.run(
      fixtureContext({ env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: `${endpoint}/` } }),
      upstreamOf({}),
      signal(),
    );
    expect(outcome).toMatchObject({
      status: 'warn',
      output: { nodeRoleArn: 'arn:aws:iam::111122223333:role/node-role', reachable: true },
      facts: { identity: { nodeRoleArn: 'arn:aws:iam::111122223333:role/node-role' } },
    });
    expect(outcome.findings?.[0]?.code).toBe('IMDS_REACHABLE');
    expect(outcome.findings?.[0]?.remedy.commands[0]).toContain(
      '--instance-id i-0123456789abcdef0 --http-put-response-hop-limit 1 --http-tokens required',
    );
    expect(JSON.stringify(outcome)).not.toMatch(/NODE-SECRET|NODE-TOKEN|IMDS-TOKEN/);
  });

  it('says a blocked IMDS is good', async () => {
    const endpoint = await imds({ v2: 'blackhole', role: 'node-role' });
    const outcome = await identityImds.run(
      fixtureContext({ env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint } }),
      upstreamOf({}),
      signal(),
    );
    expect(outcome.status).toBe('pass');
    expect(outcome.summary).toContain('IMDS blocked for pods (hop limit 1 or no route): good');
  });

  it('skips when AWS_EC2_METADATA_DISABLED=true', async () => {
    const outcome = await identityImds.run(
      fixtureContext({ env: { AWS_EC2_METADATA_DISABLED: 'TRUE' } }),
      upstreamOf({}),
      signal(),
    );
    expect(outcome.status).toBe('skip');
    expect(outcome.summary).toContain('AWS_EC2_METADATA_DISABLED');
  });
});
