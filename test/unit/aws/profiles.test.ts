import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { describeProcessCommand, resolveProfile } from '../../../src/aws/profiles';
import { identityCaller } from '../../../src/checks/identity-caller';
import type { PrecedenceOutput } from '../../../src/checks/outputs';
import { fixtureContext } from '../../helpers/context';
import { STS_NS, TestServers, callerAnswer, readForm, upstreamOf } from './servers';

/**
 * Profile resolution as the JS SDK v3's fromIni does it (aws-sdk-js-v3
 * packages/credential-provider-ini/src/resolveProfileData.ts, resolveAssumeRoleCredentials.ts,
 * resolveCredentialSource.ts), without running or fetching anything.
 */
const profiles = (entries: Record<string, Record<string, string>>) => new Map(Object.entries(entries));
const KEYS = { aws_access_key_id: 'AKIABASEKEY000000001', aws_secret_access_key: 'BASE-SECRET' };

describe(resolveProfile, () => {
  it('static keys', () => {
    expect(resolveProfile(profiles({ default: KEYS }), 'default')).toEqual({
      kind: 'plan',
      base: {
        kind: 'static',
        profile: 'default',
        keys: { accessKeyId: 'AKIABASEKEY000000001', secretAccessKey: 'BASE-SECRET', sessionToken: undefined },
      },
      hops: [],
    });
  });

  it('a role chain through source_profile: the deepest role is assumed first', () => {
    const resolved = resolveProfile(
      profiles({
        second: { role_arn: 'arn:aws:iam::1:role/second', source_profile: 'first', role_session_name: 's2' },
        first: {
          role_arn: 'arn:aws:iam::1:role/first',
          source_profile: 'base',
          external_id: 'x',
          duration_seconds: '900',
        },
        base: KEYS,
      }),
      'second',
    );
    expect(resolved.kind === 'plan' && resolved.base.kind).toBe('static');
    expect(resolved.kind === 'plan' && resolved.hops).toEqual([
      {
        profile: 'first',
        roleArn: 'arn:aws:iam::1:role/first',
        sessionName: undefined,
        externalId: 'x',
        durationSeconds: 900,
      },
      {
        profile: 'second',
        roleArn: 'arn:aws:iam::1:role/second',
        sessionName: 's2',
        externalId: undefined,
        durationSeconds: 3600,
      },
    ]);
  });

  it('static keys of a source profile win over its own role_arn (the SDK checks them first)', () => {
    const resolved = resolveProfile(
      profiles({
        top: { role_arn: 'arn:aws:iam::1:role/top', source_profile: 'mid' },
        mid: { ...KEYS, role_arn: 'arn:aws:iam::1:role/ignored', source_profile: 'nowhere' },
      }),
      'top',
    );
    expect(resolved.kind === 'plan' && resolved.hops.map((h) => h.profile)).toEqual(['top']);
  });

  it('credential_source: Environment and Ec2InstanceMetadata; EcsContainer is not emulated', () => {
    const env = resolveProfile(
      profiles({ p: { role_arn: 'arn:aws:iam::1:role/r', credential_source: 'Environment' } }),
      'p',
    );
    expect(env.kind === 'plan' && env.base).toEqual({ kind: 'environment', profile: 'p' });
    const imds = resolveProfile(
      profiles({
        p: { role_arn: 'arn:aws:iam::1:role/r', source_profile: 'node' },
        node: { credential_source: 'Ec2InstanceMetadata' },
      }),
      'p',
    );
    expect(imds.kind === 'plan' && imds.base).toEqual({ kind: 'imds', profile: 'node' });
    expect(imds.kind === 'plan' && imds.hops.map((h) => h.profile)).toEqual(['p']);
    expect(resolveProfile(profiles({ p: { role_arn: 'r', credential_source: 'EcsContainer' } }), 'p').kind).toBe(
      'unsupported',
    );
    expect(resolveProfile(profiles({ p: { role_arn: 'r', credential_source: 'Bogus' } }), 'p')).toMatchObject({
      kind: 'error',
      why: expect.stringMatching(/^Unsupported credential source in profile p\. Got Bogus/),
    });
  });

  it('credential_process, directly or in a source profile: the command it would run, never a plan', () => {
    expect(resolveProfile(profiles({ default: { credential_process: '/opt/bin/creds --json' } }), 'default')).toEqual({
      kind: 'process',
      profile: 'default',
      command: '/opt/bin/creds --json',
    });
    expect(
      resolveProfile(
        profiles({ p: { role_arn: 'arn:aws:iam::1:role/r', source_profile: 's' }, s: { credential_process: 'evil' } }),
        'p',
      ),
    ).toEqual({ kind: 'process', profile: 's', command: 'evil' });
    expect(describeProcessCommand("a'b; $(id)")).toBe(`sh -c 'a'\\''b; $(id)'`);
  });

  it('web_identity_token_file with role_arn; SSO and MFA are not emulated; cycles and missing profiles fail', () => {
    expect(
      resolveProfile(profiles({ w: { role_arn: 'arn:aws:iam::1:role/w', web_identity_token_file: '/t' } }), 'w'),
    ).toMatchObject({ kind: 'plan', base: { kind: 'web-identity', tokenFile: '/t' } });
    expect(resolveProfile(profiles({ s: { sso_session: 'x' } }), 's').kind).toBe('unsupported');
    expect(
      resolveProfile(profiles({ m: { role_arn: 'r', source_profile: 'b', mfa_serial: 'arn' }, b: KEYS }), 'm').kind,
    ).toBe('unsupported');
    expect(
      resolveProfile(
        profiles({ a: { role_arn: 'r', source_profile: 'b' }, b: { role_arn: 'r', source_profile: 'a' } }),
        'a',
      ),
    ).toMatchObject({ kind: 'error', why: expect.stringMatching(/cycle/) });
    expect(resolveProfile(profiles({}), 'nope')).toMatchObject({
      kind: 'error',
      why: 'Could not resolve credentials using profile: [nope] in configuration/credentials file(s)',
    });
  });
});

describe('identity.caller with a profile, resolved by the doctor itself', () => {
  const servers = new TestServers();
  afterEach(() => servers.closeAll());
  const root = mkdtempSync(path.join(tmpdir(), 'irsa-profiles-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const precedence: PrecedenceOutput = { choices: [{ sdk: 'js-v3', source: 'profile', detail: 'fixture' }] };
  const keyOf = (auth: string) => /Credential=([A-Z0-9]+)\//.exec(auth)?.[1] ?? 'unsigned';

  /** STS for role chains: AssumeRole issues a key per role; GetCallerIdentity names the role of the key. */
  async function chainingSts(calls: string[]): Promise<string> {
    return servers.http(async (req, res) => {
      const form = await readForm(req);
      const action = form.get('Action') ?? '';
      calls.push([action, form.get('RoleArn'), 'by', keyOf(req.headers.authorization ?? '')].filter(Boolean).join(' '));
      if (action === 'AssumeRole' || action === 'AssumeRoleWithWebIdentity') {
        const role = (form.get('RoleArn') ?? '').split('/').pop() ?? '';
        const key = `ASIA${role.toUpperCase().padEnd(16, 'X')}`;
        return void res
          .writeHead(200, { 'content-type': 'text/xml' })
          .end(
            `<${action}Response xmlns="${STS_NS}"><${action}Result><Credentials><AccessKeyId>${key}</AccessKeyId><SecretAccessKey>SECRET-${role}</SecretAccessKey><SessionToken>SESSION-${role}</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/${role}/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></${action}Result></${action}Response>`,
          );
      }
      const key = keyOf(req.headers.authorization ?? '');
      const role = key.startsWith('ASIA') ? key.slice(4).replace(/X+$/, '').toLowerCase() : 'base';
      res
        .writeHead(200, { 'content-type': 'text/xml' })
        .end(callerAnswer(`arn:aws:sts::111122223333:assumed-role/${role}/s`));
    });
  }

  it('follows source_profile: AssumeRole per hop, each signed with the previous credentials', async () => {
    mkdirSync(path.join(root, 'home/.aws'), { recursive: true });
    writeFileSync(
      path.join(root, 'home/.aws/config'),
      '[profile second]\nrole_arn = arn:aws:iam::111122223333:role/second\nsource_profile = first\n[profile first]\nrole_arn = arn:aws:iam::111122223333:role/first\nsource_profile = base\n',
    );
    writeFileSync(
      path.join(root, 'home/.aws/credentials'),
      '[base]\naws_access_key_id = AKIABASEKEY000000001\naws_secret_access_key = BASE-SECRET\n',
    );
    const calls: string[] = [];
    const sts = await chainingSts(calls);
    const outcome = await identityCaller.run(
      fixtureContext({ root, env: { HOME: '/home', AWS_PROFILE: 'second', AWS_ENDPOINT_URL_STS: sts } }),
      upstreamOf({ 'env.precedence': precedence }),
      new AbortController().signal,
    );
    expect(calls).toEqual([
      'AssumeRole arn:aws:iam::111122223333:role/first by AKIABASEKEY000000001',
      'AssumeRole arn:aws:iam::111122223333:role/second by ASIAFIRSTXXXXXXXXXXX',
      'GetCallerIdentity by ASIASECONDXXXXXXXXXX',
    ]);
    expect(outcome).toMatchObject({
      status: 'pass',
      output: { callerArn: 'arn:aws:sts::111122223333:assumed-role/second/s' },
    });
    expect(JSON.stringify(outcome)).not.toMatch(/SECRET|SESSION-/);
  });

  it("reads a profile's web_identity_token_file inside the root, never outside it", async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'irsa-profiles-web-'));
    const app = path.join(base, 'root');
    mkdirSync(path.join(app, 'home/.aws'), { recursive: true });
    mkdirSync(path.join(app, 'tokens'));
    writeFileSync(path.join(app, 'tokens/t'), 'eyJ.inside.token');
    writeFileSync(path.join(base, 'outside-token'), 'eyJ.outside.token');
    symlinkSync(path.join(base, 'outside-token'), path.join(app, 'tokens/escape'));
    const calls: string[] = [];
    const tokens: string[] = [];
    const sts = await servers.http(async (req, res) => {
      const form = await readForm(req);
      tokens.push(form.get('WebIdentityToken') ?? '');
      calls.push(form.get('Action') ?? '');
      res
        .writeHead(400, { 'content-type': 'text/xml' })
        .end(
          `<ErrorResponse xmlns="${STS_NS}"><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>`,
        );
    });
    const run = (tokenFile: string) => {
      writeFileSync(
        path.join(app, 'home/.aws/config'),
        `[profile web]\nrole_arn = arn:aws:iam::111122223333:role/web\nweb_identity_token_file = ${tokenFile}\n`,
      );
      return identityCaller.run(
        fixtureContext({ root: app, env: { HOME: '/home', AWS_PROFILE: 'web', AWS_ENDPOINT_URL_STS: sts } }),
        upstreamOf({ 'env.precedence': precedence }),
        new AbortController().signal,
      );
    };
    const inside = await run('/tokens/t');
    expect(inside.summary).toMatch(
      /^AssumeRoleWithWebIdentity arn:aws:iam::111122223333:role\/web \(profile web\) failed: AccessDenied/,
    );
    const escape = await run('/tokens/escape');
    expect(escape.summary).toMatch(/web_identity_token_file \/tokens\/escape cannot be read \(ENOENT\)/);
    expect(tokens).toEqual(['eyJ.inside.token']);
    rmSync(base, { recursive: true, force: true });
  });
});
