import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { envPrecedence, parseIni, profileKindOf } from '../../../src/checks/env-precedence';
import type { Env } from '../../../src/context/context';
import { severityOf } from '../../../src/run/findings';
import { fixtureContext } from '../../helpers/context';
import { upstreamOf } from '../../helpers/upstream';

const IRSA: Env = {
  AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/cart',
  AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
};
const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

/** A fixture root with /home/app/.aws/{credentials,config} as given. */
function rootWith(files: { credentials?: string; config?: string } = {}): string {
  const root = mkdtempSync(`${tmpdir()}/irsa-prec-`);
  mkdirSync(`${root}/home/app/.aws`, { recursive: true });
  if (files.credentials) writeFileSync(`${root}/home/app/.aws/credentials`, files.credentials);
  if (files.config) writeFileSync(`${root}/home/app/.aws/config`, files.config);
  return root;
}

async function run(env: Env, root = rootWith()) {
  const outcome = await envPrecedence.run(
    fixtureContext({ env: { HOME: '/home/app', ...env }, root }),
    upstreamOf({}),
    new AbortController().signal,
  );
  const source = (sdk: string) => outcome.output?.choices.find((c) => c.sdk === sdk)?.source;
  return { outcome, source };
}

describe('env.precedence', () => {
  it('passes when every family uses web identity', async () => {
    const { outcome, source } = await run(IRSA);
    expect(outcome.status).toBe('pass');
    expect(['js-v3', 'boto3', 'go-v2'].map(source)).toEqual(['irsa', 'irsa', 'irsa']);
    expect(outcome.details?.['js-v3']).toContain('web identity');
    expect(outcome.facts).toBeUndefined();
  });

  it('STATIC_CREDENTIALS_OVERRIDE: env keys beside IRSA win in every family, key masked, secret never shown', async () => {
    const { outcome, source } = await run({ ...IRSA, AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET });
    expect(outcome.status).toBe('fail');
    expect(['js-v3', 'boto3', 'go-v2'].map(source)).toEqual(['static-keys', 'static-keys', 'static-keys']);
    const [finding] = outcome.findings ?? [];
    expect(finding?.code).toBe('STATIC_CREDENTIALS_OVERRIDE');
    expect(finding?.summary).toContain('AKIA****MPLE');
    expect(finding?.remedy.commands.join('\n')).toContain('AWS_ACCESS_KEY_ID- AWS_SECRET_ACCESS_KEY-');
    const all = JSON.stringify(outcome);
    expect(all).not.toContain(KEY_ID);
    expect(all).not.toContain(SECRET);
  });

  it('a ~/.aws/credentials profile beats IRSA in JS only (docs/mechanics.md 4.4)', async () => {
    const root = rootWith({
      credentials: `[default]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET}\n`,
    });
    const { outcome, source } = await run(IRSA, root);
    expect(['js-v3', 'boto3', 'go-v2'].map(source)).toEqual(['profile', 'irsa', 'irsa']);
    const [finding] = outcome.findings ?? [];
    expect(finding?.code).toBe('STATIC_CREDENTIALS_OVERRIDE');
    expect(finding?.summary).toContain('JS SDK v3');
    expect(finding?.summary).toContain('/home/app/.aws/credentials');
    expect(finding?.summary).not.toContain('boto3 uses');
    expect(JSON.stringify(outcome)).not.toContain(SECRET);
  });

  it('AWS_PROFILE with env keys: JS uses the profile, boto3 and Go the env keys', async () => {
    const root = rootWith({ config: '[profile dev]\ncredential_process = /bin/creds\n' });
    const { outcome, source } = await run(
      { ...IRSA, AWS_PROFILE: 'dev', AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET },
      root,
    );
    expect(['js-v3', 'boto3', 'go-v2'].map(source)).toEqual(['profile', 'static-keys', 'static-keys']);
    expect(outcome.findings?.[0]?.code).toBe('STATIC_CREDENTIALS_OVERRIDE');
  });

  it('reads AWS_SHARED_CREDENTIALS_FILE instead of HOME', async () => {
    const root = rootWith();
    writeFileSync(`${root}/creds`, `[default]\naws_access_key_id=${KEY_ID}\naws_secret_access_key=${SECRET}\n`);
    const { source } = await run({ ...IRSA, AWS_SHARED_CREDENTIALS_FILE: '/creds' }, root);
    expect(source('js-v3')).toBe('profile');
  });

  it('SDK_CHAINS_DISAGREE for a lone token file: JS falls to IMDS, boto3 and Go error', async () => {
    const { outcome, source } = await run({ AWS_WEB_IDENTITY_TOKEN_FILE: IRSA.AWS_WEB_IDENTITY_TOKEN_FILE });
    expect(source('js-v3')).toBe('node-role');
    expect(outcome.findings?.map((f) => f.code)).toEqual(['SDK_CHAINS_DISAGREE']);
    expect(outcome.details?.boto3).toContain('InvalidConfigError');
    expect(outcome.details?.['go-v2']).toContain('role ARN is not set');
    expect(outcome.status).toBe('warn');
  });

  it('Pod Identity: container credentials everywhere; JS with IMDS off still uses the container', async () => {
    const { outcome, source } = await run({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials',
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: '/t',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    expect(['js-v3', 'boto3', 'go-v2'].map(source)).toEqual(['pod-identity', 'pod-identity', 'pod-identity']);
    expect(outcome.status).toBe('pass');
  });

  it('nothing configured: IMDS, unless AWS_EC2_METADATA_DISABLED (JS: any value but "false")', async () => {
    expect((await run({})).source('boto3')).toBe('node-role');
    const odd = await run({ AWS_EC2_METADATA_DISABLED: 'yes' });
    expect(odd.source('js-v3')).toBe('none');
    expect(odd.source('boto3')).toBe('node-role');
    expect(odd.outcome.findings?.[0]?.code).toBe('SDK_CHAINS_DISAGREE');
  });

  it('a missing AWS_PROFILE is an error in boto3 and Go', async () => {
    const { outcome } = await run({ ...IRSA, AWS_PROFILE: 'ghost' });
    expect(outcome.details?.boto3).toContain('ProfileNotFound');
    expect(outcome.details?.['go-v2']).toContain('failed to get shared config profile');
    expect(outcome.details?.['js-v3']).toContain('web identity');
  });

  it('AWS_PROFILE_NOT_FOUND: an error finding (not a disagreement warning), the check fails', async () => {
    const { outcome } = await run({ ...IRSA, AWS_PROFILE: 'ghost' });
    expect(outcome.status).toBe('fail');
    expect(outcome.findings?.map((f) => f.code)).toEqual(['AWS_PROFILE_NOT_FOUND']);
    expect(severityOf('AWS_PROFILE_NOT_FOUND')).toBe('error');
    expect(outcome.findings?.[0]?.summary).toContain('/home/app/.aws/config (absent)');
    // "default" named explicitly must exist too (botocore: "even if it's the default profile").
    const named = await run({ ...IRSA, AWS_PROFILE: 'default' });
    expect(named.outcome.findings?.map((f) => f.code)).toEqual(['AWS_PROFILE_NOT_FOUND']);
  });

  it('no AWS_PROFILE_NOT_FOUND when the profile exists in either file, or a file could not be read', async () => {
    const inConfig = rootWith({ config: '[profile dev]\nregion = us-west-2\n' });
    const found = await run({ ...IRSA, AWS_PROFILE: 'dev' }, inConfig);
    expect(found.outcome.findings?.map((f) => f.code) ?? []).not.toContain('AWS_PROFILE_NOT_FOUND');
    const unreadable = rootWith();
    mkdirSync(`${unreadable}/home/app/.aws/config`);
    const unknown = await run({ ...IRSA, AWS_PROFILE: 'ghost' }, unreadable);
    expect(unknown.outcome.findings?.map((f) => f.code) ?? []).not.toContain('AWS_PROFILE_NOT_FOUND');
  });
});

describe('shared config parsing', () => {
  it('reads [default] and [profile x] from config, [x] from credentials, skips comments and nested blocks', () => {
    const config = parseIni(
      '# c\n[default]\nregion = us-west-2\n[profile dev]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = default\ns3 =\n  max_concurrent_requests = 2\n[sso-session corp]\nsso_start_url = https://x\n[bare]\naws_access_key_id = A\n',
      'config',
    );
    expect([...config.keys()]).toEqual(['default', 'dev']);
    expect(profileKindOf(config.get('dev'))).toBe('assume-role');
    expect(config.get('dev')?.max_concurrent_requests).toBeUndefined();
    expect(profileKindOf(config.get('default'))).toBe('none');
    const creds = parseIni('[bare]\r\naws_access_key_id = A\r\naws_secret_access_key = B\r\n', 'credentials');
    expect(profileKindOf(creds.get('bare'))).toBe('static');
  });
});
