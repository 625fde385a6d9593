import { shellQuote } from '../checks/shell';

/** Every profile of the shared config and credentials files, merged the SDKs' way: credentials keys win. */
export type Profiles = ReadonlyMap<string, Readonly<Record<string, string>>>;

/** Static keys of a profile; held only for the one GetCallerIdentity call. */
export interface ProfileKeysFound {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string | undefined;
}

/** Where the first credentials of a profile chain come from. */
export type ProfileBase =
  | { readonly kind: 'static'; readonly profile: string; readonly keys: ProfileKeysFound }
  /** credential_source = Environment: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of the app. */
  | { readonly kind: 'environment'; readonly profile: string }
  /** credential_source = Ec2InstanceMetadata: the node's role from IMDS. */
  | { readonly kind: 'imds'; readonly profile: string }
  /** role_arn + web_identity_token_file: AssumeRoleWithWebIdentity with that file's token. */
  | {
      readonly kind: 'web-identity';
      readonly profile: string;
      readonly roleArn: string;
      readonly tokenFile: string;
      readonly sessionName: string | undefined;
    };

/** One sts:AssumeRole of a role chain (role_arn with source_profile or credential_source). */
export interface RoleHop {
  readonly profile: string;
  readonly roleArn: string;
  readonly sessionName: string | undefined;
  readonly externalId: string | undefined;
  readonly durationSeconds: number;
}

export type ProfileResolution =
  | { readonly kind: 'plan'; readonly base: ProfileBase; readonly hops: readonly RoleHop[] }
  /** The chain would run a program: never done here (docs/security.md, "Programs"). */
  | { readonly kind: 'process'; readonly profile: string; readonly command: string }
  /** What the SDK would do needs something the doctor does not emulate (SSO cache, MFA, the ECS agent). */
  | { readonly kind: 'unsupported'; readonly why: string }
  /** The SDK itself fails here. */
  | { readonly kind: 'error'; readonly why: string };

/** A chain of source_profile longer than this is not a configuration anybody means; the SDK stops at cycles. */
const MAX_CHAIN = 16;

const isString = (v: unknown): v is string => typeof v === 'string';

function isStatic(p: Readonly<Record<string, string>> | undefined): boolean {
  return p !== undefined && isString(p.aws_access_key_id) && isString(p.aws_secret_access_key);
}

function isAssumeRole(p: Readonly<Record<string, string>> | undefined): boolean {
  if (p === undefined || !isString(p.role_arn)) return false;
  const withSource = isString(p.source_profile) && p.credential_source === undefined;
  const withCredentialSource = isString(p.credential_source) && p.source_profile === undefined;
  return withSource || withCredentialSource;
}

/**
 * The profile resolution of the JS SDK v3's fromIni, step for step (aws-sdk-js-v3
 * packages/credential-provider-ini/src/resolveProfileData.ts and resolveAssumeRoleCredentials.ts): static keys
 * of a source profile win, then role_arn with source_profile/credential_source (a role chain), static keys,
 * web_identity_token_file, credential_process, SSO. Nothing is run or fetched here: the result is a plan for
 * the doctor's own STS client, or what the chain would run, which the caller reports instead of running it.
 */
export function resolveProfile(profiles: Profiles, name: string): ProfileResolution {
  const hops: RoleHop[] = [];
  const visited = new Set<string>();
  let current = name;
  // `assumeRoleCall`: the SDK reaches a source profile that only has credential_source through the role path.
  let assumeRoleCall = false;
  for (let depth = 0; depth <= MAX_CHAIN; depth++) {
    const data = profiles.get(current);
    if (visited.size > 0 && isStatic(data)) return { kind: 'plan', base: staticBase(current, data), hops };
    if (assumeRoleCall || isAssumeRole(data)) {
      const profile = data ?? {};
      const sourceProfile = profile.source_profile;
      if (sourceProfile !== undefined && visited.has(sourceProfile)) {
        return {
          kind: 'error',
          why: `profile ${name}: a cycle of source_profile (${[...visited, sourceProfile].join(' -> ')})`,
        };
      }
      const withoutRole = !profile.role_arn && Boolean(profile.credential_source);
      if (!withoutRole) {
        if (profile.mfa_serial) {
          return {
            kind: 'unsupported',
            why: `profile ${current} needs an MFA code (mfa_serial), which only a person can give`,
          };
        }
        const duration = Number.parseInt(profile.duration_seconds ?? '3600', 10);
        hops.unshift({
          profile: current,
          roleArn: profile.role_arn ?? '',
          sessionName: profile.role_session_name,
          externalId: profile.external_id,
          durationSeconds: Number.isFinite(duration) ? duration : 3600,
        });
      }
      if (sourceProfile !== undefined) {
        visited.add(sourceProfile);
        const next = profiles.get(sourceProfile);
        assumeRoleCall = next !== undefined && !next.role_arn && Boolean(next.credential_source);
        current = sourceProfile;
        continue;
      }
      return credentialSourceBase(current, profile.credential_source ?? '', hops);
    }
    if (isStatic(data)) return { kind: 'plan', base: staticBase(current, data), hops };
    if (data && isString(data.web_identity_token_file) && isString(data.role_arn)) {
      return {
        kind: 'plan',
        base: {
          kind: 'web-identity',
          profile: current,
          roleArn: data.role_arn,
          tokenFile: data.web_identity_token_file,
          sessionName: data.role_session_name,
        },
        hops,
      };
    }
    if (data && isString(data.credential_process)) {
      return { kind: 'process', profile: current, command: data.credential_process };
    }
    if (
      data &&
      ['sso_start_url', 'sso_account_id', 'sso_session', 'sso_region', 'sso_role_name'].some((k) => k in data)
    ) {
      return {
        kind: 'unsupported',
        why: `profile ${current} uses IAM Identity Center (SSO), whose login cache is not read`,
      };
    }
    if (data?.login_session) {
      return { kind: 'unsupported', why: `profile ${current} uses a console login session, which is not read` };
    }
    return {
      kind: 'error',
      why: `Could not resolve credentials using profile: [${current}] in configuration/credentials file(s)`,
    };
  }
  return { kind: 'error', why: `profile ${name}: a source_profile chain longer than ${MAX_CHAIN}` };
}

function staticBase(profile: string, data: Readonly<Record<string, string>> | undefined): ProfileBase {
  return {
    kind: 'static',
    profile,
    keys: {
      accessKeyId: data?.aws_access_key_id ?? '',
      secretAccessKey: data?.aws_secret_access_key ?? '',
      sessionToken: data?.aws_session_token,
    },
  };
}

function credentialSourceBase(profile: string, source: string, hops: readonly RoleHop[]): ProfileResolution {
  switch (source) {
    case 'Environment':
      return { kind: 'plan', base: { kind: 'environment', profile }, hops };
    case 'Ec2InstanceMetadata':
      return { kind: 'plan', base: { kind: 'imds', profile }, hops };
    case 'EcsContainer':
      return {
        kind: 'unsupported',
        why: `profile ${profile}: credential_source EcsContainer (the ECS agent) is not emulated`,
      };
    default:
      return {
        kind: 'error',
        why: `Unsupported credential source in profile ${profile}. Got ${source.slice(0, 100)}, expected EcsContainer or Ec2InstanceMetadata or Environment.`,
      };
  }
}

/**
 * What the JS SDK would run for credential_process: the text through /bin/sh (credential-provider-process uses
 * child_process.exec). Shown as `sh -c '...'` with the text as one quoted word: what would run, never a live
 * command line of its own.
 */
export function describeProcessCommand(command: string): string {
  return `sh -c ${shellQuote(command.slice(0, 1000))}`;
}
