import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { HttpRequestInit } from '../../src/aws/http';
import type { Env } from '../../src/context/context';
import { createFileView } from '../../src/context/files';
import { fixtureContext } from '../helpers/context';
import { mintToken, segmentsOf } from '../helpers/tokens';
import {
  answer,
  assumeRoleXml,
  CASE_TIMEOUT_MS,
  PROPERTY_TIMEOUT_MS,
  SECRET_MARK,
  diagnose,
  expectNotShown,
  fakeNet,
  hostileText,
  only,
  plausibleAws,
} from './harness';

/**
 * docs/security.md: kubeconfigs, AWS config and credentials files, and --target roots full of hostile symlinks.
 * Every case is written to a real directory (the file view under test opens real files) and diagnosed in-process.
 * Each must give a complete, well-formed report; start no program (every command in these files would create a
 * marker file); read nothing outside the root (the file outside has an old atime that any read would move, and
 * holds a token that the fake STS would receive); and show no secret and no raw control character.
 */
const RUNS = 300;

const base = mkdtempSync(path.join(tmpdir(), 'irsa-fuzz-files-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const outside = path.join(base, 'outside');
mkdirSync(outside);
const canaryFile = path.join(outside, 'secret');
const markers = path.join(base, 'markers');
mkdirSync(markers);
const fifoTemplate = path.join(base, 'fifo-template');
spawnSync('mkfifo', [fifoTemplate]);
let canary = '';
let insideToken = '';
let canaryAtime = 0;

async function setUp(): Promise<void> {
  if (canary) return;
  canary = await mintToken({ namespace: 'outside', serviceAccount: 'canary' });
  insideToken = await mintToken({ namespace: 'shop', serviceAccount: 'cart' });
  writeFileSync(canaryFile, canary);
  utimesSync(canaryFile, new Date(Date.now() - 86_400_000), new Date());
  canaryAtime = statSync(canaryFile).atimeMs;
}

/** What a case must never do, checked after it. */
function expectConfined(report: { text: string; json: string }, tokensPosted: readonly string[]): void {
  expect(existsSync(path.join(markers, 'ran')), 'a program ran').toBe(false);
  expect(statSync(canaryFile).atimeMs, 'the file outside the root was read').toBe(canaryAtime);
  expect(tokensPosted.includes(canary), 'the file outside was POSTed as the token').toBe(false);
  const { payload, signature } = segmentsOf(canary);
  expectNotShown(report, payload, 'the token outside the root');
  expectNotShown(report, signature, 'the token outside the root');
  expectNotShown(report, SECRET_MARK, 'a secret');
}

// --- the app's filesystem --------------------------------------------------------------------------------

/** Paths the app's files and links live at. */
const POOL = [
  '/home/app/.aws/config',
  '/home/app/.aws/credentials',
  '/etc/aws/config',
  '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
  '/var/run/secrets/eks.amazonaws.com/serviceaccount/..data',
  '/var/run/secrets/eks.amazonaws.com',
  '/tok',
  '/kube/config',
  '/kube/ca.pem',
  '/kube/token',
  '/a/b/c',
  '/a/b',
  '/tmp/secret',
] as const;

/** Where a link may point: inside, out of the root every way, at itself, nowhere. */
function linkTarget(): fc.Arbitrary<string> {
  const depth = fc.integer({ min: 1, max: 30 });
  return fc.oneof(
    fc.constantFrom(...POOL),
    fc.constantFrom(...POOL).map((p) => p.slice(1)), // relative
    fc.constant(canaryFile),
    fc.constant(outside),
    depth.map((n) => `${'../'.repeat(n)}${canaryFile.slice(1)}`),
    depth.map((n) => `${'../'.repeat(n)}${outside.slice(1)}`),
    fc.constant(`/proc/self/root${canaryFile}`),
    fc.constant(`/proc/${process.pid}/root${canaryFile}`),
    fc.constant(`/proc/1/root${canaryFile}`),
    fc.constantFrom('.', '..', '/', '', 'missing', '/dev/zero', '/proc/self/fd/0'),
    hostileText.map((t) => t.replace(/\0/g, '')),
  );
}

type Node =
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly content: 'inside-token' | 'config' | 'kubeconfig' | 'text';
    }
  | { readonly kind: 'dir'; readonly path: string }
  | { readonly kind: 'link'; readonly path: string; readonly to: string }
  | { readonly kind: 'fifo'; readonly path: string }
  | { readonly kind: 'huge'; readonly path: string };

const node: fc.Arbitrary<Node> = fc.oneof(
  fc.record({
    kind: fc.constant('file' as const),
    path: fc.constantFrom(...POOL),
    content: fc.constantFrom('inside-token' as const, 'config' as const, 'kubeconfig' as const, 'text' as const),
  }),
  fc.record({ kind: fc.constant('dir' as const), path: fc.constantFrom(...POOL) }),
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('link' as const), path: fc.constantFrom(...POOL), to: linkTarget() }),
  },
  fc.record({ kind: fc.constant('fifo' as const), path: fc.constantFrom(...POOL) }),
  fc.record({ kind: fc.constant('huge' as const), path: fc.constantFrom(...POOL) }),
);

/**
 * Makes the directories above `appPath` inside root, without following anything: when an existing component is
 * not a directory (a link the case made, a file, a FIFO), the node is dropped. Building a case must never write
 * through one of its own links, out of the root or into its FIFO.
 */
function parentInside(root: string, appPath: string): boolean {
  let at = root;
  for (const part of path.dirname(appPath).split('/').filter(Boolean)) {
    at = path.join(at, part);
    let stat;
    try {
      stat = lstatSync(at);
    } catch {
      mkdirSync(at);
      continue;
    }
    if (!stat.isDirectory()) return false;
  }
  return true;
}

/** Writes the nodes into a fresh root; a node whose place is taken (or whose parent is not a directory) is dropped. */
function buildRoot(nodes: readonly Node[], contents: { config: string; kubeconfig: string; text: string }): string {
  const root = mkdtempSync(path.join(base, 'root-'));
  for (const n of nodes) {
    const at = path.join(root, n.path);
    if (!parentInside(root, n.path)) continue;
    try {
      switch (n.kind) {
        case 'file':
          // wx: O_CREAT|O_EXCL, which never follows a link and fails on anything already there.
          writeFileSync(at, n.content === 'inside-token' ? insideToken : contents[n.content], { flag: 'wx' });
          break;
        case 'dir':
          mkdirSync(at);
          break;
        case 'link':
          symlinkSync(n.to, at);
          break;
        case 'fifo':
          linkSync(fifoTemplate, at); // another name of the one FIFO: nobody ever writes to it
          break;
        case 'huge': {
          const fd = openSync(at, 'wx');
          ftruncateSync(fd, 64 * 1024 * 1024); // sparse: 64 MiB to read, nothing on disk
          closeSync(fd);
          break;
        }
      }
    } catch {
      // EEXIST, an invalid link name...: the root is what could be built
    }
  }
  return root;
}

// --- AWS shared config and credentials files ---------------------------------------------------------------

const PROFILE_NAMES = ['default', 'dev', 'chained', 'source', 'web', 'proc'] as const;
const run = `touch ${path.join(markers, 'ran')}`;
const iniValue: Record<string, fc.Arbitrary<string>> = {
  aws_access_key_id: fc.constantFrom('AKIAIOSFODNN7EXAMPLE', 'ASIAFUZZKEY000000001', ''),
  aws_secret_access_key: fc.nat(999).map((n) => `${SECRET_MARK}${n}`),
  aws_session_token: fc.nat(999).map((n) => `${SECRET_MARK}session-${n}`),
  role_arn: fc.constantFrom(
    'arn:aws:iam::111122223333:role/fuzz',
    'arn:aws:iam::111122223333:role/other',
    'not-an-arn',
  ),
  source_profile: fc.constantFrom(...PROFILE_NAMES, 'missing'),
  credential_source: fc.constantFrom('Environment', 'Ec2InstanceMetadata', 'EcsContainer', 'Bogus'),
  credential_process: fc.constantFrom(run, `sh -c '${run}'`, `/bin/sh -c "${run}"; echo {}`, `$(${run})`),
  web_identity_token_file: fc.oneof(fc.constantFrom(...POOL), linkTarget()),
  sso_session: fc.constant('corp'),
  mfa_serial: fc.constant('arn:aws:iam::111122223333:mfa/me'),
  duration_seconds: fc.constantFrom('900', '3600', 'x', '-1'),
  region: fc.constantFrom('us-west-2', 'eu-west-1', ''),
};

const noiseIni: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...PROFILE_NAMES), hostileText),
      fc.boolean(),
      fc.array(
        fc.oneof(
          {
            weight: 6,
            arbitrary: fc
              .constantFrom(...Object.keys(iniValue))
              .chain((k) => (iniValue[k] as fc.Arbitrary<string>).map((v) => `${k} = ${v}`)),
          },
          hostileText,
          fc.constantFrom('  nested = 1', '= x', '[', '#c', ';c'),
        ),
        { maxLength: 6 },
      ),
    ),
    { maxLength: 5 },
  )
  .map((sections) =>
    sections
      .map(([name, asProfile, lines]) =>
        [asProfile && name !== 'default' ? `[profile ${name}]` : `[${name}]`, ...lines].join('\n'),
      )
      .join('\n'),
  );

/** One profile section of a given kind, as people write them (plus noise): what the chain resolves. */
function section(name: string, kind: string, source: string): fc.Arbitrary<string> {
  const header = name === 'default' ? '[default]' : `[profile ${name}]`;
  const lines: Record<string, fc.Arbitrary<string[]>> = {
    static: fc
      .tuple(iniValue.aws_secret_access_key as fc.Arbitrary<string>)
      .map(([secret]) => ['aws_access_key_id = AKIAIOSFODNN7EXAMPLE', `aws_secret_access_key = ${secret}`]),
    chain: fc.constant([`role_arn = arn:aws:iam::111122223333:role/${name}`, `source_profile = ${source}`]),
    process: (iniValue.credential_process as fc.Arbitrary<string>).map((c) => [`credential_process = ${c}`]),
    web: (iniValue.web_identity_token_file as fc.Arbitrary<string>).map((f) => [
      'role_arn = arn:aws:iam::111122223333:role/web',
      `web_identity_token_file = ${f}`,
    ]),
    'credential-source': (iniValue.credential_source as fc.Arbitrary<string>).map((c) => [
      'role_arn = arn:aws:iam::111122223333:role/cs',
      `credential_source = ${c}`,
    ]),
  };
  return fc
    .tuple(lines[kind] as fc.Arbitrary<string[]>, fc.array(hostileText, { maxLength: 2 }))
    .map(([own, noise]) => [header, ...own, ...noise].join('\n'));
}

const KINDS = ['static', 'chain', 'process', 'web', 'credential-source'] as const;

/** The profile AWS_PROFILE names (undefined: default), and config text in which it, and what it chains to, exist. */
const profileAndConfig: fc.Arbitrary<{ profile: string | undefined; config: string }> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.option(fc.constantFrom('dev', 'chained', 'web'), { nil: undefined }),
        fc.constantFrom(...KINDS),
        fc.constantFrom(...KINDS),
        noiseIni,
      )
      .chain(([profile, kind, sourceKind, noise]) =>
        fc
          .tuple(section(profile ?? 'default', kind, 'source'), section('source', sourceKind, 'default'))
          .map(([own, source]) => ({ profile, config: [own, source, noise].join('\n') })),
      ),
  },
  fc
    .tuple(fc.option(fc.constantFrom(...PROFILE_NAMES, 'missing'), { nil: undefined }), noiseIni)
    .map(([profile, config]) => ({ profile, config })),
);

const iniText = noiseIni;

// --- kubeconfigs --------------------------------------------------------------------------------------------

/** API servers that answer at once, without DNS: a refused loopback port or not a URL at all. */
const server = fc.oneof(
  fc.constantFrom('https://127.0.0.1:1', 'http://127.0.0.1:1', 'https://[::1]:1', '', 'not a url', 'ftp://127.0.0.1:1'),
  hostileText.map((t) => `https://127.0.0.1:1/${t}`),
);
const fileRef = fc.oneof(fc.constantFrom(...POOL), linkTarget());
const kubeName = fc.oneof(fc.constantFrom('k', 'u', 'c'), hostileText);

const kubeUserFields = fc.record({
  token: fc.nat(999).map((n) => `${SECRET_MARK}kube-${n}`),
  'token-file': fileRef,
  'client-certificate': fileRef,
  'client-key': fileRef,
  'client-certificate-data': fc.constantFrom('eA==', '!!not base64'),
  'client-key-data': fc.nat(999).map((n) => Buffer.from(`${SECRET_MARK}key-${n}`).toString('base64')),
  username: fc.constant('admin'),
  password: fc.nat(999).map((n) => `${SECRET_MARK}password-${n}`),
  exec: fc.record({
    apiVersion: fc.constant('client.authentication.k8s.io/v1beta1'),
    command: fc.constantFrom('/bin/sh', 'aws', 'touch'),
    args: fc.constantFrom(['-c', run], [path.join(markers, 'ran')], ['eks', 'get-token', '--cluster-name', 'x']),
  }),
  'auth-provider': fc.record({
    name: fc.constantFrom('gcp', 'azure', 'oidc', 'other'),
    config: fc.record(
      {
        'cmd-path': fc.constantFrom('/bin/sh', 'touch'),
        'cmd-args': fc.constantFrom(`-c '${run}'`, path.join(markers, 'ran')),
        tokenFile: fileRef,
        'access-token': fc.nat(999).map((n) => `${SECRET_MARK}access-${n}`),
        'id-token': fc.nat(999).map((n) => `${SECRET_MARK}id-${n}`),
        'idp-issuer-url': fc.constant('http://169.254.169.254/'),
        'refresh-token': fc.nat(999).map((n) => `${SECRET_MARK}refresh-${n}`),
      },
      { requiredKeys: [] },
    ),
  }),
});

/** A user the way kubeconfigs are written: one way to authenticate (sometimes two), now and then more fields. */
const kubeUser = fc
  .tuple(
    fc.constantFrom(
      ['token'],
      ['token-file'],
      ['client-certificate', 'client-key'],
      ['client-certificate-data', 'client-key-data'],
      ['username', 'password'],
      ['exec'],
      ['auth-provider'],
      ['exec', 'token'],
      ['auth-provider', 'client-certificate-data', 'client-key-data'],
    ),
    kubeUserFields,
    fc.boolean(),
  )
  .map(([style, fields, more]) =>
    Object.fromEntries(
      Object.entries(fields).filter(
        ([key]) => (style as readonly string[]).includes(key) || (more && key === 'password'),
      ),
    ),
  );

/** A kubeconfig whose current context resolves: its user's exec, auth-provider and files are what it uses. */
const consistentKubeconfig: fc.Arbitrary<string> = fc
  .record({
    server: fc.oneof({ weight: 4, arbitrary: fc.constant('https://127.0.0.1:1') }, server),
    // Mostly no certificate-authority file: one that cannot be read makes the whole kubeconfig unusable.
    ca: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, fileRef),
    user: kubeUser,
    current: fc.boolean(),
  })
  .map(({ server: url, ca, user, current }) =>
    JSON.stringify({
      clusters: [{ name: 'k', cluster: { server: url, ...(ca ? { 'certificate-authority': ca } : {}) } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
      ...(current ? { 'current-context': 'c' } : {}),
    }),
  );

const kubeconfigText: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: consistentKubeconfig },
  {
    weight: 2,
    arbitrary: fc
      .record({
        clusters: fc.array(
          fc.record({
            name: kubeName,
            cluster: fc.record(
              {
                server,
                'certificate-authority': fileRef,
                'certificate-authority-data': fc.constantFrom('eA==', '???'),
                'insecure-skip-tls-verify': fc.boolean(),
                'tls-server-name': hostileText,
              },
              { requiredKeys: ['server'] },
            ),
          }),
          { maxLength: 2 },
        ),
        users: fc.array(fc.record({ name: kubeName, user: kubeUser }), { maxLength: 2 }),
        contexts: fc.array(
          fc.record({
            name: kubeName,
            context: fc.record({ cluster: kubeName, user: kubeName, namespace: hostileText }),
          }),
          { maxLength: 2 },
        ),
        'current-context': fc.option(kubeName, { nil: undefined }),
      })
      .map((config) => JSON.stringify(config)),
  },
  fc.constantFrom('', '[', '- a', 'x: !!js/function "function(){}"', '&a [*a, *a]', 'clusters: *undefined_alias'),
  hostileText,
);

// --- the properties -----------------------------------------------------------------------------------------

/** The fake network: every AWS endpoint answers as healthy; the tokens POSTed to STS are kept. */
function recordingNet(posted: string[]) {
  const healthy = plausibleAws();
  return fakeNet((url, init: HttpRequestInit) => {
    const form = new URLSearchParams(init.body === undefined ? '' : Buffer.from(init.body).toString('utf8'));
    const token = form.get('WebIdentityToken');
    if (token !== null) posted.push(token);
    // A role chain's signed AssumeRole: STS's answer (the harness's fakes know the unsigned web identity call).
    if (form.get('Action') === 'AssumeRole')
      return answer(200, assumeRoleXml().replaceAll('WithWebIdentity', ''), 'text/xml');
    return healthy(url, init);
  });
}

const contents = fc.record({ config: iniText, kubeconfig: kubeconfigText, text: hostileText });

describe('fuzz: hostile files (real directories, the real file view)', () => {
  it(
    'AWS config and credentials files: a complete report, no program run, nothing outside the root read, no secret',
    async () => {
      await setUp();
      let processes = 0;
      let called = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(node, { maxLength: 8 }),
          contents,
          profileAndConfig,
          // Now and then AWS_CONFIG_FILE names another file of the root (which may be anything).
          fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, fc.constantFrom(...POOL)),
          async (nodes, files, { profile, config }, configFile) => {
            const root = buildRoot(
              [
                { kind: 'file', path: '/home/app/.aws/config', content: 'config' },
                { kind: 'file', path: '/home/app/.aws/credentials', content: 'text' },
                ...nodes,
              ],
              { ...files, config },
            );
            const posted: string[] = [];
            const env: Env = {
              HOME: '/home/app',
              AWS_REGION: 'us-west-2',
              ...(profile ? { AWS_PROFILE: profile } : {}),
              ...(configFile ? { AWS_CONFIG_FILE: configFile } : {}),
            };
            const ctx = fixtureContext({
              env,
              root,
              net: recordingNet(posted),
              noKube: true,
              timeoutMs: CASE_TIMEOUT_MS,
            });
            try {
              const report = await diagnose(ctx, only('env.precedence', 'identity.caller'));
              expectConfined(report, posted);
              if (report.report.findings.some((f) => f.code === 'CREDENTIAL_PROCESS_NOT_RUN')) processes++;
              if (
                report.report.checks.some(
                  (c) => c.id === 'identity.caller' && /GetCallerIdentity|AssumeRole|as expected|via /.test(c.summary),
                )
              )
                called++;
            } finally {
              rmSync(root, { recursive: true, force: true });
            }
          },
        ),
        { numRuns: RUNS, seed: 0x5afe_f11e, endOnFailure: true },
      );
      // The cases reach what they are about: commands that are not run, and profiles that do resolve.
      expect(processes).toBeGreaterThan(RUNS / 20);
      expect(called).toBeGreaterThan(RUNS / 20);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'kubeconfigs: a complete report, no exec plugin or auth-provider command run, no file outside read, no secret',
    async () => {
      await setUp();
      let commands = 0;
      let connected = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(node, { maxLength: 6 }), contents, async (nodes, files) => {
          const root = buildRoot([{ kind: 'file', path: '/kube/config', content: 'kubeconfig' }, ...nodes], files);
          const posted: string[] = [];
          const env: Env = { KUBECONFIG: '/kube/config:/kube/other', POD_NAME: 'app-0', POD_NAMESPACE: 'shop' };
          const ctx = fixtureContext({
            env,
            root,
            net: recordingNet(posted),
            noKube: false,
            timeoutMs: CASE_TIMEOUT_MS,
          });
          try {
            const report = await diagnose(ctx, only('kube.pod', 'kube.webhook', 'kube.serviceaccount'));
            expectConfined(report, posted);
            if (report.report.findings.some((f) => f.code === 'KUBECONFIG_COMMAND_NOT_RUN')) commands++;
            if (report.report.checks.some((c) => /cannot reach the API server/.test(c.summary))) connected++;
          } finally {
            rmSync(root, { recursive: true, force: true });
          }
        }),
        { numRuns: RUNS, seed: 0x6b75_6265, endOnFailure: true },
      );
      expect(commands).toBeGreaterThan(RUNS / 20);
      expect(connected).toBeGreaterThan(RUNS / 20);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    '--target roots with hostile symlinks: every path resolved inside the root, the file outside never read or POSTed',
    async () => {
      await setUp();
      let read = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(node, { minLength: 1, maxLength: 10 }),
          contents,
          fc.constantFrom(...POOL),
          // Sometimes the app's token really is there, behind a link or two: what STS may then receive.
          fc.option(fc.tuple(fc.constantFrom(...POOL), fc.constantFrom(...POOL)), { nil: undefined }),
          fc.option(fc.constantFrom(...POOL), { nil: undefined }),
          fc.option(fc.constantFrom(...POOL), { nil: undefined }),
          async (nodes, files, envTokenFile, real, configFile, home) => {
            const anchor: Node[] = real
              ? [
                  { kind: 'file', path: real[0], content: 'inside-token' },
                  { kind: 'link', path: real[1], to: real[0] },
                ]
              : [];
            const root = buildRoot([...anchor, ...nodes], files);
            const tokenFile = real ? real[1] : envTokenFile;
            const posted: string[] = [];
            const env: Env = {
              AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/app',
              AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
              AWS_REGION: 'us-west-2',
              ...(configFile ? { AWS_CONFIG_FILE: configFile, AWS_SHARED_CREDENTIALS_FILE: configFile } : {}),
              ...(home ? { HOME: home } : {}),
              // Never read with --target.
              KUBECONFIG: '/kube/config',
            };
            const ctx = {
              ...fixtureContext({
                env,
                root,
                net: recordingNet(posted),
                noKube: true,
                timeoutMs: CASE_TIMEOUT_MS,
                targetPid: 4242,
              }),
              files: createFileView(root),
            };
            try {
              const report = await diagnose(
                ctx,
                only('token.file', 'sts.assume-role', 'env.precedence', 'identity.caller'),
              );
              expectConfined(report, posted);
              // The control: a token the app really has inside its root is what STS gets.
              for (const token of posted) expect(token).toBe(insideToken);
              if (posted.length > 0) read++;
            } finally {
              rmSync(root, { recursive: true, force: true });
            }
          },
        ),
        { numRuns: RUNS, seed: 0x7a67_e700, endOnFailure: true },
      );
      expect(read, 'cases whose token, found inside the root, reached STS').toBeGreaterThan(RUNS / 50);
    },
    PROPERTY_TIMEOUT_MS,
  );
});
