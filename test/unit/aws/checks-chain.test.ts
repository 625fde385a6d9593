import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseRoleArn } from '../../../src/aws/arn';
import { Secret } from '../../../src/aws/secrets';
import { compareCaller, identityCaller } from '../../../src/checks/identity-caller';
import { issuerDiscovery } from '../../../src/checks/issuer-discovery';
import type { PrecedenceOutput, TokenClaimsOutput, TokenFileOutput } from '../../../src/checks/outputs';
import { stsAssumeRole } from '../../../src/checks/sts-assume-role';
import { stsEndpoints } from '../../../src/checks/sts-endpoints';
import { fixtureContext } from '../../helpers/context';
import { TestServers, assumeRoleAnswer, callerAnswer, readForm, stsError, upstreamOf } from './servers';

const servers = new TestServers();
afterEach(() => servers.closeAll());
const signal = () => new AbortController().signal;

const ROLE = parseRoleArn('arn:aws:iam::111122223333:role/team/app-role')!;
const NOW = Math.floor(Date.now() / 1000);

let keys: { privateKey: CryptoKey; jwk: object; otherKey: CryptoKey };
beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  const other = await generateKeyPair('RS256');
  keys = {
    privateKey: pair.privateKey,
    jwk: { ...(await exportJWK(pair.publicKey)), kid: 'kid-1', alg: 'RS256', use: 'sig' },
    otherKey: other.privateKey,
  };
});

async function mint(iss: string, opts: { kid?: string; key?: CryptoKey; exp?: number } = {}): Promise<string> {
  return new SignJWT({ 'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'api' } } })
    .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'kid-1' })
    .setIssuer(iss)
    .setSubject('system:serviceaccount:shop:api')
    .setAudience('sts.amazonaws.com')
    .setIssuedAt(NOW - 7200)
    .setExpirationTime(opts.exp ?? NOW - 3600) // expired: the signature check must not care
    .sign(opts.key ?? keys.privateKey);
}

function claimsOf(iss: string, kid = 'kid-1'): TokenClaimsOutput {
  return {
    alg: 'RS256',
    kid,
    iss,
    sub: 'system:serviceaccount:shop:api',
    aud: ['sts.amazonaws.com'],
    exp: NOW - 3600,
    iat: NOW - 7200,
    nbf: undefined,
    namespace: 'shop',
    serviceAccount: 'api',
    podName: undefined,
  };
}

function tokenFile(token: string): TokenFileOutput {
  return {
    path: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
    mechanism: 'irsa',
    token: new Secret(token),
    mtimeMs: 0,
  };
}

/** An issuer on loopback: discovery + JWKS, with an optional lie in the discovery document. */
async function issuer(opts: { advertise?: (iss: string) => string } = {}): Promise<string> {
  let iss = '';
  iss = await servers.http((req, res) => {
    if (req.url === '/id/ABC/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(
        JSON.stringify({ issuer: opts.advertise ? opts.advertise(iss) : iss, jwks_uri: `${iss}/keys` }),
      );
    }
    if (req.url === '/id/ABC/keys') return void res.writeHead(200).end(JSON.stringify({ keys: [keys.jwk] }));
    res.writeHead(404).end();
  });
  iss = `${iss}/id/ABC`;
  return iss;
}

describe('issuer.discovery', () => {
  it('passes a token signed by a key of the JWKS, even when expired, and shows the condition-key prefix', async () => {
    const iss = await issuer();
    const token = await mint(iss);
    const outcome = await issuerDiscovery.run(
      fixtureContext(),
      upstreamOf({ 'token.claims': claimsOf(iss), 'token.file': tokenFile(token) }),
      signal(),
    );
    expect(outcome.status).toBe('pass');
    expect(outcome.output).toMatchObject({ signatureVerified: true, issuerHost: iss.replace('http://', '') });
    expect(String(outcome.details?.conditionKeys)).toContain(`${iss.replace('http://', '')}:sub`);
  });

  it('fails OIDC_ISSUER_MISMATCH when discovery names another issuer', async () => {
    const iss = await issuer({ advertise: (i) => `${i}/` });
    const outcome = await issuerDiscovery.run(
      fixtureContext(),
      upstreamOf({ 'token.claims': claimsOf(iss), 'token.file': tokenFile(await mint(iss)) }),
      signal(),
    );
    expect(outcome.findings?.[0]?.code).toBe('OIDC_ISSUER_MISMATCH');
  });

  it('says whether the kid is missing or the signature is bad', async () => {
    const iss = await issuer();
    const unknownKid = await issuerDiscovery.run(
      fixtureContext(),
      upstreamOf({
        'token.claims': claimsOf(iss, 'kid-9'),
        'token.file': tokenFile(await mint(iss, { kid: 'kid-9' })),
      }),
      signal(),
    );
    expect(unknownKid.findings?.[0]?.code).toBe('TOKEN_SIGNATURE_INVALID');
    expect(unknownKid.summary).toContain('kid kid-9 is not in');
    const forged = await issuerDiscovery.run(
      fixtureContext(),
      upstreamOf({ 'token.claims': claimsOf(iss), 'token.file': tokenFile(await mint(iss, { key: keys.otherKey })) }),
      signal(),
    );
    expect(forged.findings?.[0]?.code).toBe('TOKEN_SIGNATURE_INVALID');
    expect(forged.summary).toContain('signature does not verify');
  });

  it('only warns when the issuer is unreachable, and never fetches http:// off loopback', async () => {
    const down = `${await servers.refused()}/id/ABC`;
    const outcome = await issuerDiscovery.run(
      fixtureContext(),
      upstreamOf({ 'token.claims': claimsOf(down) }),
      signal(),
    );
    expect(outcome.status).toBe('warn');
    expect(outcome.findings?.[0]?.code).toBe('OIDC_DISCOVERY_UNREACHABLE');
    const plain = await issuerDiscovery.run(
      fixtureContext(),
      upstreamOf({ 'token.claims': claimsOf('http://oidc.example.com/id/ABC') }),
      signal(),
    );
    expect(plain.findings?.[0]?.code).toBe('OIDC_DISCOVERY_UNREACHABLE');
    expect(plain.findings?.[0]?.summary).toContain('https');
  });

  it('says it is the JWKS, not the issuer, when only the keys cannot be fetched', async () => {
    let iss = '';
    iss = await servers.http((req, res) => {
      if (req.url?.endsWith('/keys')) return res.writeHead(500, { 'content-type': 'text/plain' }).end('down');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: iss, jwks_uri: `${iss}/keys` }));
    });
    iss = `${iss}/id/ABC`;
    const outcome = await issuerDiscovery.run(
      fixtureContext(),
      upstreamOf({ 'token.claims': claimsOf(iss) }),
      signal(),
    );
    expect(outcome.status).toBe('warn');
    expect(outcome.summary).toMatch(
      /^the issuer's JWKS not reachable from this pod \(127\.0\.0\.1:\d+ answered HTTP 500/,
    );
    expect(outcome.findings?.[0]?.summary).toMatch(/^The issuer's JWKS could not be fetched from this pod/);
  });

  it.for([
    { name: 'another loopback port', jwks: (other: string) => `${other}/keys`, reason: /another port/ },
    {
      name: 'another host',
      jwks: () => 'https://keys.example.net/jwks',
      reason: /another host \(keys\.example\.net\)/,
    },
    { name: 'the metadata address', jwks: () => 'http://169.254.169.254/latest/meta-data/iam/', reason: /link-local/ },
    { name: 'the EC2 IPv6 metadata address', jwks: () => 'http://[fd00:ec2::254]/latest/', reason: /fd00:ec2::\/32/ },
    { name: 'an IPv6 link-local address', jwks: () => 'http://[fe80::1]/keys', reason: /link-local/ },
    { name: 'an IPv4-mapped metadata address', jwks: () => 'http://[::ffff:169.254.170.2]/v1', reason: /link-local/ },
  ])('reports a jwks_uri on $name, and does not fetch it', async ({ jwks, reason }) => {
    let otherHits = 0;
    const other = await servers.http((_req, res) => {
      otherHits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
    });
    let iss = '';
    iss = await servers.http((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: iss, jwks_uri: jwks(other) }));
    });
    iss = `${iss}/id/ABC`;
    const outcome = await issuerDiscovery.run(
      fixtureContext(),
      upstreamOf({ 'token.claims': claimsOf(iss) }),
      signal(),
    );
    expect(outcome.status).toBe('warn');
    const finding = outcome.findings?.[0];
    expect(finding?.code).toBe('OIDC_URL_NOT_FETCHED');
    expect(String(finding?.evidence?.reason)).toMatch(reason);
    expect(finding?.evidence?.fetched).toBe(false);
    expect(otherHits).toBe(0);
  });

  it.for(['http://169.254.169.254/id/ABC', 'https://169.254.170.23/id/ABC', 'https://[fd00:ec2::254]/id/ABC'])(
    'does not fetch the discovery document of an issuer on a metadata address (%s)',
    async (iss) => {
      const outcome = await issuerDiscovery.run(
        fixtureContext(),
        upstreamOf({ 'token.claims': claimsOf(iss) }),
        signal(),
      );
      // http:// off loopback is refused by scheme already; https:// by address.
      if (iss.startsWith('https')) {
        expect(outcome.findings?.[0]?.code).toBe('OIDC_URL_NOT_FETCHED');
        expect(outcome.summary).toMatch(/^issuer not fetched: /);
      } else {
        expect(outcome.findings?.[0]?.code).toBe('OIDC_DISCOVERY_UNREACHABLE');
      }
    },
  );

  it('names the content type when a page answers instead of the discovery document', async () => {
    const page = await servers.http((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'));
    const outcome = await issuerDiscovery.run(
      fixtureContext(),
      upstreamOf({ 'token.claims': claimsOf(`${page}/id/ABC`) }),
      signal(),
    );
    expect(outcome.status).toBe('warn');
    expect(outcome.findings?.[0]?.code).toBe('OIDC_DISCOVERY_UNREACHABLE');
    expect(outcome.summary).toMatch(/\(127\.0\.0\.1:\d+ answered HTTP 200 with text\/html that is not JSON\)/);
  });
});

const irsaEnv = {
  roleArn: ROLE,
  tokenFile: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
  sessionName: undefined,
};

describe('sts.assume-role', () => {
  it('assumes the role with the JS SDK parameters, proves it, and drops the credentials', async () => {
    const arn = 'arn:aws:sts::111122223333:assumed-role/app-role/irsa-doctor-1';
    const actions: string[] = [];
    const sts = await servers.http(async (req, res) => {
      const form = await readForm(req);
      actions.push(form.get('Action') ?? '');
      res
        .writeHead(200)
        .end(form.get('Action') === 'AssumeRoleWithWebIdentity' ? assumeRoleAnswer(arn) : callerAnswer(arn));
    });
    const outcome = await stsAssumeRole.run(
      fixtureContext({ env: { AWS_ENDPOINT_URL_STS: sts, AWS_REGION: 'us-west-2' } }),
      upstreamOf({ 'env.irsa': irsaEnv, 'token.file': tokenFile('eyJ.irsa.jwt') }),
      signal(),
    );
    expect(outcome).toMatchObject({ status: 'pass', output: { assumedRoleArn: arn } });
    expect(outcome.facts?.identity?.expectedRoleArn).toBe(ROLE.arn);
    expect(actions).toEqual(['AssumeRoleWithWebIdentity', 'GetCallerIdentity']);
    expect(JSON.stringify(outcome)).not.toMatch(/SECRET-FROM-STS|SESSION-FROM-STS|eyJ\.irsa\.jwt/);
  });

  it('turns AccessDenied into TRUST_POLICY_DENIED with the exact statement this token needs', async () => {
    const sts = await servers.http((_req, res) =>
      res.writeHead(403).end(stsError('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity')),
    );
    const iss = 'https://oidc.eks.us-west-2.amazonaws.com/id/ABC';
    const outcome = await stsAssumeRole.run(
      fixtureContext({ env: { AWS_ENDPOINT_URL_STS: sts } }),
      upstreamOf({ 'env.irsa': irsaEnv, 'token.file': tokenFile('t'), 'token.claims': claimsOf(iss) }),
      signal(),
    );
    const finding = outcome.findings?.[0];
    expect(outcome.status).toBe('fail');
    expect(finding?.code).toBe('TRUST_POLICY_DENIED');
    const commands = finding?.remedy.commands.join('\n') ?? '';
    expect(commands).toContain('aws iam get-role --role-name app-role --query Role.AssumeRolePolicyDocument');
    expect(commands).toContain(
      '"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC"',
    );
    expect(commands).toContain('"oidc.eks.us-west-2.amazonaws.com/id/ABC:sub":"system:serviceaccount:shop:api"');
    expect(commands).toContain('"oidc.eks.us-west-2.amazonaws.com/id/ABC:aud":"sts.amazonaws.com"');
  });

  it('names the endpoint when STS is black-holed, within the call deadline', async () => {
    const sts = await servers.blackHole();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300); // the runner's signal at its deadline
    const outcome = await stsAssumeRole.run(
      fixtureContext({ env: { AWS_ENDPOINT_URL_STS: sts } }),
      upstreamOf({ 'env.irsa': irsaEnv, 'token.file': tokenFile('t') }),
      controller.signal,
    );
    expect(outcome.findings?.[0]?.code).toBe('STS_UNREACHABLE');
    expect(outcome.findings?.[0]?.evidence).toMatchObject({ endpoint: sts });
  });
});

function precedence(source: PrecedenceOutput['choices'][number]['source']): PrecedenceOutput {
  return { choices: [{ sdk: 'js-v3', source, detail: `fixture: ${source}` }] };
}

describe(compareCaller, () => {
  it('ignores the role path and session, flags case-only, node role and others', () => {
    expect(compareCaller('arn:aws:sts::111122223333:assumed-role/app-role/s', ROLE, undefined)).toBe('match');
    expect(compareCaller('arn:aws:sts::111122223333:assumed-role/App-Role/s', ROLE, undefined)).toBe('case-only');
    expect(
      compareCaller(
        'arn:aws:sts::111122223333:assumed-role/app-role/s',
        parseRoleArn('arn:aws:iam::444455556666:role/app-role'),
        undefined,
      ),
    ).toBe('other');
    expect(compareCaller('arn:aws:sts::111122223333:assumed-role/nodes/i-0123456789abcdef0', ROLE, undefined)).toBe(
      'node-role',
    );
    expect(
      compareCaller('arn:aws:sts::111122223333:assumed-role/nodes/x', ROLE, 'arn:aws:iam::111122223333:role/nodes'),
    ).toBe('node-role');
  });
});

describe('identity.caller', () => {
  it('with static keys winning over IRSA: IDENTITY_MISMATCH naming the source', async () => {
    const sts = await servers.http((_req, res) =>
      res.writeHead(200).end(callerAnswer('arn:aws:iam::111122223333:user/ci')),
    );
    const outcome = await identityCaller.run(
      fixtureContext({
        env: {
          AWS_ENDPOINT_URL_STS: sts,
          AWS_ACCESS_KEY_ID: 'AKIASTATICKEY0000001',
          AWS_SECRET_ACCESS_KEY: 'STATIC-SECRET',
          AWS_ROLE_ARN: ROLE.arn,
        },
      }),
      upstreamOf({ 'env.precedence': precedence('static-keys'), 'env.irsa': irsaEnv }),
      signal(),
    );
    expect(outcome.findings?.[0]?.code).toBe('IDENTITY_MISMATCH');
    expect(outcome.facts?.identity).toMatchObject({
      callerArn: 'arn:aws:iam::111122223333:user/ci',
      source: 'static-keys',
    });
    expect(JSON.stringify(outcome)).not.toContain('STATIC-SECRET');
  });

  it('with no env and IMDS open: NODE_ROLE_FALLBACK and mechanism node-role', async () => {
    const nodeArn = 'arn:aws:sts::111122223333:assumed-role/nodes/i-0123456789abcdef0';
    const sts = await servers.http((_req, res) => res.writeHead(200).end(callerAnswer(nodeArn)));
    const imds = await servers.http((req, res) => {
      if (req.method === 'PUT') return void res.writeHead(200).end('tok');
      if (req.url === '/latest/meta-data/iam/security-credentials/') return void res.writeHead(200).end('nodes');
      if (req.url === '/latest/meta-data/iam/security-credentials/nodes') {
        return void res
          .writeHead(200)
          .end(JSON.stringify({ AccessKeyId: 'ASIANODE', SecretAccessKey: 'NODE-SECRET', Token: 'NODE-TOKEN' }));
      }
      res.writeHead(404).end();
    });
    const outcome = await identityCaller.run(
      fixtureContext({ env: { AWS_ENDPOINT_URL_STS: sts, AWS_EC2_METADATA_SERVICE_ENDPOINT: imds } }),
      upstreamOf({
        'env.precedence': precedence('node-role'),
        'env.mechanism': { mechanism: 'none', irsa: false, podIdentity: false, staticKeys: false },
      }),
      signal(),
    );
    expect(outcome.findings?.[0]?.code).toBe('NODE_ROLE_FALLBACK');
    expect(outcome.facts).toMatchObject({
      mechanism: 'node-role',
      identity: { callerArn: nodeArn, source: 'node-role' },
    });
    expect(JSON.stringify(outcome)).not.toMatch(/NODE-SECRET|NODE-TOKEN/);
  });

  it('reads a profile through the Context root (with --target, the app container ~/.aws)', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-profile-'));
    mkdirSync(path.join(root, 'home/app/.aws'), { recursive: true });
    writeFileSync(
      path.join(root, 'home/app/.aws/credentials'),
      '[dev]\naws_access_key_id = AKIAPROFILEKEY000001\naws_secret_access_key = PROFILE-SECRET\n',
    );
    let auth = '';
    const sts = await servers.http((req, res) => {
      auth = req.headers.authorization ?? '';
      res.writeHead(200).end(callerAnswer('arn:aws:iam::111122223333:user/dev'));
    });
    try {
      const outcome = await identityCaller.run(
        fixtureContext({
          root,
          env: { HOME: '/home/app', AWS_PROFILE: 'dev', AWS_ENDPOINT_URL_STS: sts, AWS_ROLE_ARN: ROLE.arn },
        }),
        upstreamOf({ 'env.precedence': precedence('profile'), 'env.irsa': irsaEnv }),
        signal(),
      );
      expect(auth).toContain('Credential=AKIAPROFILEKEY000001/');
      expect(outcome.findings?.[0]?.code).toBe('IDENTITY_MISMATCH');
      expect(outcome.facts?.identity).toMatchObject({
        source: 'profile',
        callerArn: 'arn:aws:iam::111122223333:user/dev',
      });
      expect(JSON.stringify(outcome)).not.toContain('PROFILE-SECRET');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('uses the proven web identity result, and reports NO_CREDENTIALS when nothing resolves', async () => {
    const arn = 'arn:aws:sts::111122223333:assumed-role/app-role/s';
    const ok = await identityCaller.run(
      fixtureContext({ env: { AWS_ROLE_ARN: ROLE.arn } }),
      upstreamOf({
        'env.precedence': precedence('irsa'),
        'env.irsa': irsaEnv,
        'sts.assume-role': { assumedRoleArn: arn },
      }),
      signal(),
    );
    expect(ok).toMatchObject({ status: 'pass', output: { callerArn: arn, source: 'irsa' } });
    const none = await identityCaller.run(
      fixtureContext(),
      upstreamOf({ 'env.precedence': precedence('none') }),
      signal(),
    );
    expect(none.findings?.[0]?.code).toBe('NO_CREDENTIALS');
  });
});

describe('sts.endpoints', () => {
  it('reports each endpoint and raises STS_UNREACHABLE only for the JS endpoint when sts.assume-role could not', async () => {
    const up = await servers.blackHole();
    const down = await servers.refused();
    const region = {
      region: 'us-west-2',
      regionSource: 'AWS_REGION' as const,
      stsEndpoints: [
        { sdk: 'js-v3' as const, url: down, why: 'override' },
        { sdk: 'boto3' as const, url: up, why: 'x' },
      ],
      stsEndpoint: down,
    };
    const outcome = await stsEndpoints.run(
      fixtureContext(),
      upstreamOf({ 'env.region': region, 'env.irsa': irsaEnv }, { 'sts.assume-role': 'error' }),
      signal(),
    );
    expect(outcome.output?.endpoints.map((e) => e.reachable)).toEqual([false, true]);
    expect(outcome.findings?.map((f) => f.code)).toEqual(['STS_UNREACHABLE']);
    const after = await stsEndpoints.run(
      fixtureContext(),
      upstreamOf({ 'env.region': region, 'env.irsa': irsaEnv }, { 'sts.assume-role': 'fail' }),
      signal(),
    );
    expect(after.status).toBe('warn');
    expect(after.findings).toEqual([]);
  });

  it('reports an endpoint override that is no URL as unreachable instead of throwing', async () => {
    // Found by test/fuzz: new URL() on the endpoint threw, so the check ended as `error`.
    const bad = 'https://[::1';
    const region = {
      region: 'us-west-2',
      regionSource: 'AWS_REGION' as const,
      stsEndpoints: [{ sdk: 'js-v3' as const, url: bad, why: 'AWS_ENDPOINT_URL_STS' }],
      stsEndpoint: bad,
    };
    const outcome = await stsEndpoints.run(
      fixtureContext(),
      upstreamOf({ 'env.region': region, 'env.irsa': irsaEnv }, { 'sts.assume-role': 'skip' }),
      signal(),
    );
    expect(outcome.status).toBe('fail');
    expect(outcome.findings?.map((f) => f.code)).toEqual(['STS_UNREACHABLE']);
    // Not a host name: the command names the placeholder, and the value stays in the finding's evidence.
    expect(outcome.findings?.[0]?.remedy.commands[0]).toBe('getent hosts <STS_HOST>');
    expect(outcome.findings?.[0]?.evidence?.endpoint).toBe(bad);
  });
});
