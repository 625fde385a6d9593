import {
  AWS_ACCESS_KEY_ID,
  AWS_CONFIG_FILE,
  AWS_CONTAINER_CREDENTIALS_FULL_URI,
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
  AWS_EC2_METADATA_DISABLED,
  AWS_PROFILE,
  AWS_ROLE_ARN,
  AWS_SECRET_ACCESS_KEY,
  AWS_SHARED_CREDENTIALS_FILE,
  AWS_WEB_IDENTITY_TOKEN_FILE,
} from '../aws/env-names';
import type { Profiles } from '../aws/profiles';
import { describeProcessCommand, resolveProfile } from '../aws/profiles';
import { maskAccessKeyId } from '../aws/secrets';
import type { Context } from '../context/context';
import { homeDirectory } from '../context/context';
import { NOT_A_REGULAR_FILE, errnoCode } from '../context/files';
import { readPodSelf } from '../context/pod-self';
import type { Check, CheckOutcome, CredentialSource, FindingInput } from '../run/types';
import type { PrecedenceOutput, SdkFamily } from './outputs';
import type { PodRef } from './remedies';
import { LINKS, podRemedy, remedy, setEnvCommands } from './remedies';
import type { ShellCommand } from './shell';
import { namespaceArg, pathArg, placeholder, podArg, sh } from './shell';

/** Shared config files are a few KiB; anything past this is not read (and said so). */
const MAX_PROFILE_FILE_BYTES = 256 * 1024;

/** One profile as the two shared files define it: credentials-file keys win over config-file keys. */
export type ProfileKeys = Readonly<Record<string, string>>;

/** `[name]` sections of a credentials file, or `[default]` / `[profile name]` of a config file, as key maps. */
export function parseIni(text: string, kind: 'credentials' | 'config'): Map<string, Record<string, string>> {
  const sections = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      const name = profileNameOf(header[1] ?? '', kind);
      current = name === undefined ? undefined : (sections.get(name) ?? {});
      if (name !== undefined && current) sections.set(name, current);
      continue;
    }
    // Indented lines continue a nested block (e.g. `s3 =` sub-settings): not credential keys.
    if (/^\s/.test(raw) || !current) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (value !== '') current[key] = value;
  }
  return sections;
}

function profileNameOf(header: string, kind: 'credentials' | 'config'): string | undefined {
  if (kind === 'credentials') return header;
  if (header === 'default') return 'default';
  const match = /^profile\s+(.+)$/.exec(header);
  // [sso-session x], [services x] and bare [x] (ignored by the SDKs in the config file) are not profiles.
  return match ? match[1]?.trim() : undefined;
}

/** What a profile can produce, in the order the SDKs' profile resolvers try (docs/mechanics.md 4.1-4.3). */
export type ProfileKind = 'assume-role' | 'web-identity' | 'sso' | 'process' | 'static' | 'none';

export function profileKindOf(keys: ProfileKeys | undefined): ProfileKind {
  if (!keys) return 'none';
  if (keys.role_arn && (keys.source_profile || keys.credential_source)) return 'assume-role';
  if (keys.role_arn && keys.web_identity_token_file) return 'web-identity';
  if (keys.sso_session || keys.sso_start_url || keys.sso_account_id) return 'sso';
  if (keys.credential_process) return 'process';
  if (keys.aws_access_key_id && keys.aws_secret_access_key) return 'static';
  return 'none';
}

interface SharedFile {
  readonly path: string;
  readonly state: 'absent' | 'read' | 'unreadable' | 'not-regular' | 'too-large';
  readonly sections: Map<string, Record<string, string>>;
}

async function readSharedFile(ctx: Context, path: string, kind: 'credentials' | 'config'): Promise<SharedFile> {
  try {
    const { bytes, truncated } = await ctx.files.readHead(path, MAX_PROFILE_FILE_BYTES);
    if (truncated) return { path, state: 'too-large', sections: new Map() };
    return { path, state: 'read', sections: parseIni(bytes.toString('utf8'), kind) };
  } catch (error) {
    const code = errnoCode(error);
    const state =
      code === 'ENOENT' || code === 'ENOTDIR'
        ? 'absent'
        : code === NOT_A_REGULAR_FILE || code === 'EISDIR'
          ? 'not-regular'
          : 'unreadable';
    return { path, state, sections: new Map() };
  }
}

/** Everything the three chains look at, read once. */
export interface ChainInputs {
  readonly staticKeyId: string | undefined;
  readonly profileSet: string | undefined;
  readonly profileName: string;
  /** Merged keys of the selected profile; undefined when neither file has it. */
  readonly profile: ProfileKeys | undefined;
  /** Where the profile's credentials come from, for messages. */
  readonly profileWhere: string;
  /** The same files as a list (the paths in profileWhere). */
  readonly profileFiles: readonly string[];
  readonly credentialsFileHasProfileKeys: boolean;
  readonly webIdentityFile: string | undefined;
  readonly roleArn: string | undefined;
  readonly fullUri: string | undefined;
  readonly relativeUri: string | undefined;
  readonly imdsDisabledValue: string | undefined;
  /** Every profile of both files, merged (credentials keys win), for following source_profile chains. */
  readonly profiles: Profiles;
}

export async function readChainInputs(ctx: Context): Promise<ChainInputs & { files: SharedFile[] }> {
  const env = ctx.env;
  const home = await homeDirectory(ctx);
  const credentialsPath = env[AWS_SHARED_CREDENTIALS_FILE] || (home ? `${home}/.aws/credentials` : undefined);
  const configPath = env[AWS_CONFIG_FILE] || (home ? `${home}/.aws/config` : undefined);
  const files: SharedFile[] = [];
  const credentials = credentialsPath ? await readSharedFile(ctx, credentialsPath, 'credentials') : undefined;
  const config = configPath ? await readSharedFile(ctx, configPath, 'config') : undefined;
  if (credentials) files.push(credentials);
  if (config) files.push(config);
  const profileSet = env[AWS_PROFILE] || undefined;
  const profileName = profileSet ?? 'default';
  const fromCredentials = credentials?.sections.get(profileName);
  const fromConfig = config?.sections.get(profileName);
  const profile = fromCredentials || fromConfig ? { ...fromConfig, ...fromCredentials } : undefined;
  const profiles = new Map<string, Record<string, string>>();
  for (const file of [config, credentials]) {
    for (const [name, keys] of file?.sections ?? []) profiles.set(name, { ...profiles.get(name), ...keys });
  }
  const profileFiles = [fromCredentials ? credentials?.path : undefined, fromConfig ? config?.path : undefined].filter(
    (p): p is string => p !== undefined,
  );
  const where = profileFiles.join(' and ');
  return {
    files,
    staticKeyId: env[AWS_ACCESS_KEY_ID] && env[AWS_SECRET_ACCESS_KEY] ? env[AWS_ACCESS_KEY_ID] : undefined,
    profileSet,
    profileName,
    profile,
    profileWhere: where,
    profileFiles,
    credentialsFileHasProfileKeys: Boolean(fromCredentials?.aws_access_key_id),
    webIdentityFile: env[AWS_WEB_IDENTITY_TOKEN_FILE] || undefined,
    roleArn: env[AWS_ROLE_ARN] || undefined,
    fullUri: env[AWS_CONTAINER_CREDENTIALS_FULL_URI] || undefined,
    relativeUri: env[AWS_CONTAINER_CREDENTIALS_RELATIVE_URI] || undefined,
    imdsDisabledValue: env[AWS_EC2_METADATA_DISABLED],
    profiles,
  };
}

export interface ChainChoice {
  readonly sdk: SdkFamily;
  readonly source: CredentialSource;
  readonly detail: string;
  /** Set when the SDK stops with an error instead of picking a source. */
  readonly error?: boolean;
}

function profileChoice(sdk: SdkFamily, i: ChainInputs, kind: ProfileKind): ChainChoice {
  const what: Record<ProfileKind, string> = {
    'assume-role': 'role_arn with source_profile/credential_source',
    'web-identity': 'role_arn with web_identity_token_file',
    sso: 'SSO settings',
    process: 'credential_process',
    static: `static keys (aws_access_key_id ${maskAccessKeyId(i.profile?.aws_access_key_id ?? '')})`,
    none: 'nothing usable',
  };
  return { sdk, source: 'profile', detail: `profile "${i.profileName}" in ${i.profileWhere}: ${what[kind]}` };
}

function containerChoice(sdk: SdkFamily, i: ChainInputs): ChainChoice {
  // The JS SDK prefers RELATIVE_URI (the ECS address 169.254.170.2) when both are set (docs/mechanics.md 4.1).
  if (i.relativeUri && (sdk === 'js-v3' || !i.fullUri)) {
    return {
      sdk,
      source: 'unknown',
      detail: `container credentials from http://169.254.170.2${i.relativeUri.slice(0, 100)} (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, the ECS address)`,
    };
  }
  return {
    sdk,
    source: 'pod-identity',
    detail: `container credentials from ${(i.fullUri ?? '').slice(0, 200)} (AWS_CONTAINER_CREDENTIALS_FULL_URI)`,
  };
}

function imdsChoice(sdk: SdkFamily, i: ChainInputs): ChainChoice {
  const value = i.imdsDisabledValue;
  // JS treats any value but "false" as disabled on the credentials path; botocore and Go need "true" (reference
  // 4.1, 4.2, 6).
  const disabled =
    value !== undefined && (sdk === 'js-v3' ? value.toLowerCase() !== 'false' : value.toLowerCase() === 'true');
  if (disabled) {
    return { sdk, source: 'none', detail: `no source: IMDS is disabled (AWS_EC2_METADATA_DISABLED=${value})` };
  }
  return { sdk, source: 'node-role', detail: "IMDS: the node's instance role, when the pod can reach it" };
}

/** JS v3 defaultProvider (docs/mechanics.md 4.1): env (skipped when AWS_PROFILE is set), ini/process, token file, remote. */
export function jsChoice(i: ChainInputs): ChainChoice {
  const sdk = 'js-v3';
  if (i.staticKeyId && !i.profileSet) {
    return { sdk, source: 'static-keys', detail: `AWS_ACCESS_KEY_ID ${maskAccessKeyId(i.staticKeyId)} in the env` };
  }
  const kind = profileKindOf(i.profile);
  if (kind !== 'none') return profileChoice(sdk, i, kind);
  if (i.webIdentityFile && i.roleArn) {
    return { sdk, source: 'irsa', detail: 'web identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE)' };
  }
  if (i.fullUri || i.relativeUri) return containerChoice(sdk, i);
  const imds = imdsChoice(sdk, i);
  if (i.webIdentityFile || i.roleArn) {
    const missing = i.webIdentityFile ? 'AWS_ROLE_ARN' : 'AWS_WEB_IDENTITY_TOKEN_FILE';
    return { ...imds, detail: `${imds.detail} (web identity skipped: ${missing} is not set)` };
  }
  return imds;
}

/**
 * Whether AWS_PROFILE names a profile that neither shared file has. botocore's Session.get_scoped_config raises
 * ProfileNotFound for a profile set explicitly, "default" included, when creating any client
 * (boto/botocore botocore/session.py, commit 0e6e2404b85dc336dd2889814e089bde7d1a4c55); the Go SDK v2's
 * LoadDefaultConfig loads the shared config without ignoring a missing profile once AWS_PROFILE is set
 * (aws/aws-sdk-go-v2 config/config.go resolveConfigLoaders, commit 046abf83f283a02fb42ecb498c8af6c86262a116),
 * which fails with "failed to get shared config profile, NAME" (config/shared_config.go, commit
 * 70bf4107034085068fb6847667657fbb78367be4). The JS SDK v3 goes on: its fromIni link throws a
 * CredentialsProviderError that lets the chain try the next link, web identity included (aws/aws-sdk-js-v3
 * packages/credential-provider-node/src/defaultProvider.ts and packages/credential-provider-ini/src/
 * resolveProfileData.ts, commit aa73203585d4b13367bd482c41fb48053bb9e628). Unknown when a file could not be read.
 */
export function profileMissing(i: ChainInputs & { files: readonly SharedFile[] }): boolean {
  return Boolean(i.profileSet) && !i.profile && i.files.every((f) => f.state === 'read' || f.state === 'absent');
}

/** botocore (docs/mechanics.md 4.2): env, assume-role profile, web identity, SSO, files, process, container, IMDS. */
export function botoChoice(i: ChainInputs): ChainChoice {
  const sdk = 'boto3';
  if (i.profileSet && !i.profile) {
    return {
      sdk,
      source: 'none',
      error: true,
      detail: `error: ProfileNotFound, the config profile (${i.profileSet}) could not be found (AWS_PROFILE)`,
    };
  }
  if (i.staticKeyId) {
    return { sdk, source: 'static-keys', detail: `AWS_ACCESS_KEY_ID ${maskAccessKeyId(i.staticKeyId)} in the env` };
  }
  const kind = profileKindOf(i.profile);
  if (kind === 'assume-role') return profileChoice(sdk, i, kind);
  const tokenFile = i.webIdentityFile ?? i.profile?.web_identity_token_file;
  if (tokenFile) {
    const roleArn = i.roleArn ?? i.profile?.role_arn;
    if (!roleArn) {
      return {
        sdk,
        source: 'none',
        error: true,
        detail: 'error: InvalidConfigError, web identity is configured but has no role ARN (AWS_ROLE_ARN)',
      };
    }
    if (i.webIdentityFile) {
      return { sdk, source: 'irsa', detail: 'web identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE)' };
    }
    return profileChoice(sdk, i, 'web-identity');
  }
  if (kind !== 'none') return profileChoice(sdk, i, kind);
  if (i.fullUri || i.relativeUri) return containerChoice(sdk, i);
  return imdsChoice(sdk, i);
}

/** Go v2 LoadDefaultConfig (docs/mechanics.md 4.3): env keys, env token file, then the profile, container, IMDS. */
export function goChoice(i: ChainInputs): ChainChoice {
  const sdk = 'go-v2';
  if (i.profileSet && !i.profile) {
    return {
      sdk,
      source: 'none',
      error: true,
      detail: `error: failed to get shared config profile, ${i.profileSet} (AWS_PROFILE)`,
    };
  }
  if (i.staticKeyId) {
    return { sdk, source: 'static-keys', detail: `AWS_ACCESS_KEY_ID ${maskAccessKeyId(i.staticKeyId)} in the env` };
  }
  if (i.webIdentityFile) {
    if (!i.roleArn) return { sdk, source: 'none', error: true, detail: 'error: role ARN is not set (AWS_ROLE_ARN)' };
    return { sdk, source: 'irsa', detail: 'web identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE)' };
  }
  const kind = profileKindOf(i.profile);
  if (kind !== 'none') return profileChoice(sdk, i, kind);
  if (i.fullUri || i.relativeUri) return containerChoice(sdk, i);
  return imdsChoice(sdk, i);
}

const FAMILY_NAMES: Record<SdkFamily, string> = { 'js-v3': 'JS SDK v3', boto3: 'boto3', 'go-v2': 'Go SDK v2' };

/**
 * env.precedence: which credential source the default chains of the JS SDK v3, boto3 and the Go SDK v2 would
 * pick from this env and these shared files (docs/mechanics.md 4.1-4.4). They differ: a ~/.aws profile beats IRSA only
 * in JS, static env keys beat it everywhere but JS-with-AWS_PROFILE, a lone token file is an error in boto3/Go.
 */
export const envPrecedence: Check<'env.precedence'> = {
  id: 'env.precedence',
  title: 'Credential source each SDK would pick',
  stage: 'env',
  dependsOn: [],
  uses: ['env.mechanism'],
  async run(ctx): Promise<CheckOutcome<PrecedenceOutput>> {
    const inputs = await readChainInputs(ctx);
    const choices: ChainChoice[] = [jsChoice(inputs), botoChoice(inputs), goChoice(inputs)];
    const output: PrecedenceOutput = {
      choices: choices.map(({ sdk, source, detail }) => ({ sdk, source, detail })),
    };
    const details: Record<string, string> = Object.fromEntries(choices.map((c) => [c.sdk, c.detail]));
    for (const file of inputs.files) {
      if (file.state === 'too-large') details[file.path] = `larger than ${MAX_PROFILE_FILE_BYTES / 1024} KiB: not read`;
      if (file.state === 'unreadable') details[file.path] = 'exists but could not be read by this tool';
      if (file.state === 'not-regular') {
        details[file.path] =
          'not a regular file (a directory, FIFO or device): not read, as no SDK could read it either';
      }
    }

    const irsaConfigured = Boolean(inputs.webIdentityFile && inputs.roleArn);
    const podIdentityConfigured = Boolean(inputs.fullUri);
    const intended: CredentialSource | undefined = irsaConfigured
      ? 'irsa'
      : podIdentityConfigured
        ? 'pod-identity'
        : undefined;
    const findings: FindingInput[] = [];
    const missingProfile = profileMissing(inputs);
    if (missingProfile) findings.push(await profileNotFoundFinding(ctx, inputs, choices));
    const overriding = choices.filter((c) => c.source === 'static-keys' || c.source === 'profile');
    if (intended !== undefined && overriding.length > 0) {
      findings.push(await overrideFinding(ctx, intended, overriding, inputs));
    } else if (!missingProfile && new Set(choices.map((c) => (c.error ? 'error' : c.source))).size > 1) {
      findings.push(disagreeFinding(choices));
    }
    const processFinding = credentialProcessFinding(inputs, choices);
    if (processFinding) findings.push(processFinding);

    const summary =
      findings.length === 0
        ? `every SDK family would use ${describeSource(choices[0] as ChainChoice)}`
        : choices.map((c) => `${FAMILY_NAMES[c.sdk]}: ${c.error ? 'error' : c.source}`).join(', ');
    return {
      status: findings.some((f) => f.code === 'STATIC_CREDENTIALS_OVERRIDE' || f.code === 'AWS_PROFILE_NOT_FOUND')
        ? 'fail'
        : findings.length > 0
          ? 'warn'
          : 'pass',
      summary,
      details,
      output,
      findings,
    };
  },
};

function describeSource(choice: ChainChoice): string {
  switch (choice.source) {
    case 'irsa':
      return 'web identity (IRSA)';
    case 'pod-identity':
      return 'the Pod Identity agent';
    case 'node-role':
      return "IMDS (the node's role)";
    case 'static-keys':
      return 'the static keys in the env';
    case 'profile':
      return `the profile "${choice.detail.split('"')[1] ?? ''}"`;
    case 'none':
      return 'no source';
    case 'unknown':
      return choice.detail;
    default:
      return choice.source;
  }
}

async function overrideFinding(
  ctx: Context,
  intended: CredentialSource,
  overriding: readonly ChainChoice[],
  inputs: ChainInputs,
): Promise<FindingInput> {
  const self = await readPodSelf(ctx);
  const mechanism = intended === 'irsa' ? 'IRSA (web identity)' : 'Pod Identity';
  const parts = overriding.map((c) => `${FAMILY_NAMES[c.sdk]} uses ${c.detail}`);
  const usesEnvKeys = overriding.some((c) => c.source === 'static-keys');
  const usesProfile = overriding.some((c) => c.source === 'profile');
  const commands = (pod: PodRef): ShellCommand[] => [
    ...(usesEnvKeys
      ? [
          sh`kubectl get pod ${podArg(self.podName)} -n ${namespaceArg(self.namespace)} -o jsonpath='{range .spec.containers[*]}{.name}{": env="}{.env[*].name}{" envFrom="}{.envFrom}{"\\n"}{end}'`,
          ...setEnvCommands(pod, ['AWS_ACCESS_KEY_ID-', 'AWS_SECRET_ACCESS_KEY-', 'AWS_SESSION_TOKEN-']),
        ]
      : []),
    ...(usesProfile && inputs.profileSet ? setEnvCommands(pod, ['AWS_PROFILE-']) : []),
    ...(usesProfile
      ? [
          sh`ls -l ${inputs.profileFiles.map((file) => pathArg(file, 'FILE'))}   # remove this file from the image or volume`,
        ]
      : []),
  ];
  return {
    code: 'STATIC_CREDENTIALS_OVERRIDE',
    summary: `This pod is set up for ${mechanism}, but ${parts.join('; ')}, which comes before ${mechanism} in ${overriding.length === 1 ? 'that SDK' : 'those SDKs'}' default credential chain. The app gets those credentials, not the role.${inputs.staticKeyId && inputs.profileSet ? ' (With AWS_PROFILE set, the JS SDK v3 skips the env keys; boto3 and Go still use them.)' : ''}`,
    evidence: {
      intended,
      families: overriding.map((c) => c.sdk),
      ...(inputs.staticKeyId ? { AWS_ACCESS_KEY_ID: maskAccessKeyId(inputs.staticKeyId) } : {}),
      ...(inputs.profileSet ? { AWS_PROFILE: inputs.profileSet } : {}),
      ...(usesProfile ? { profileFiles: inputs.profileWhere } : {}),
    },
    ...podRemedy(self, (pod) =>
      remedy(
        `Remove the ${[usesEnvKeys ? 'static keys (from env and any envFrom Secret)' : '', usesProfile ? 'profile / shared credentials file' : ''].filter(Boolean).join(' and ')} so the SDK chain reaches ${mechanism} in the new pods.`,
        commands(pod),
        [LINKS.sdkChain],
      ),
    ),
  };
}

async function profileNotFoundFinding(
  ctx: Context,
  inputs: ChainInputs & { files: readonly SharedFile[] },
  choices: readonly ChainChoice[],
): Promise<FindingInput> {
  const self = await readPodSelf(ctx);
  const pod = podArg(self.podName);
  const namespace = namespaceArg(self.namespace);
  const profile = inputs.profileSet ?? '';
  const js = choices.find((c) => c.sdk === 'js-v3');
  const looked = inputs.files.map((f) => `${f.path} (${f.state === 'read' ? 'no such profile' : 'absent'})`);
  return {
    code: 'AWS_PROFILE_NOT_FOUND',
    summary: `AWS_PROFILE=${profile}, but no shared config or credentials file defines that profile (looked in ${looked.join(', ') || 'no file: HOME is not set'}). boto3 (botocore) refuses to create any client ("ProfileNotFound: The config profile (${profile}) could not be found") and the Go SDK v2's LoadDefaultConfig fails ("failed to get shared config profile, ${profile}"), before any credential source is tried; the JS SDK v3 skips the profile and goes on (${js?.detail ?? 'to its next source'}).`,
    evidence: {
      AWS_PROFILE: profile,
      files: inputs.files.map((f) => `${f.path}: ${f.state}`),
      ...Object.fromEntries(choices.map((c) => [c.sdk, c.error ? 'error' : c.source])),
    },
    remedy: remedy(
      `Unset AWS_PROFILE on the container (the IRSA / Pod Identity variables need no profile), or mount the shared config that defines the profile "${profile}".`,
      [
        sh`kubectl set env pod/${pod} --list -n ${namespace}`,
        sh`kubectl set env deployment/${placeholder('DEPLOYMENT')} -n ${namespace} AWS_PROFILE-`,
      ],
      [LINKS.sdkChain],
    ),
  };
}

/**
 * The selected profile (or a source_profile it chains to) gets its credentials from credential_process: the SDK
 * would run that command. The doctor runs no program from configuration it reads, so the identity it would give
 * stays unknown; the finding says what would run, as one quoted word.
 */
function credentialProcessFinding(inputs: ChainInputs, choices: readonly ChainChoice[]): FindingInput | undefined {
  if (!choices.some((c) => c.source === 'profile')) return undefined;
  const resolution = resolveProfile(inputs.profiles, inputs.profileName);
  if (resolution.kind !== 'process') return undefined;
  const command = describeProcessCommand(resolution.command);
  return {
    code: 'CREDENTIAL_PROCESS_NOT_RUN',
    summary: `The SDK chain gets its credentials from credential_process of profile "${resolution.profile}" (${inputs.profileWhere}): it would run ${command}. irsa-doctor did not run it (it runs no program named in configuration it reads), so the identity that command gives was not checked.`,
    evidence: {
      profile: resolution.profile,
      selectedProfile: inputs.profileName,
      files: inputs.profileWhere,
      wouldRun: command,
      run: false,
    },
    remedy: remedy(
      `Read the command before anything runs it: the SDK runs it as the app's user, through /bin/sh. If the pod should use its own role, remove the profile (or AWS_PROFILE) so the chain reaches IRSA or Pod Identity.`,
      inputs.profileFiles.map((file) => sh`ls -l ${pathArg(file, 'FILE')}`),
      [LINKS.sdkChain],
    ),
  };
}

function disagreeFinding(choices: readonly ChainChoice[]): FindingInput {
  return {
    code: 'SDK_CHAINS_DISAGREE',
    summary: `The SDK families would not get the same credentials from this env: ${choices.map((c) => `${FAMILY_NAMES[c.sdk]} -> ${c.detail}`).join('; ')}. An app in one language can work while another fails or runs as another identity.`,
    evidence: Object.fromEntries(choices.map((c) => [c.sdk, c.error ? 'error' : c.source])),
    remedy: remedy(
      'Make the environment unambiguous: set the IRSA pair (or Pod Identity pair) completely and remove leftovers (partial variables, profiles).',
      [],
      [LINKS.sdkChain],
    ),
  };
}
