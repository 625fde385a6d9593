import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileView } from '../../../src/context/files';
import { KubeconfigError, loadKubeconfig } from '../../../src/kube/kubeconfig';

/**
 * The kubeconfig as the doctor uses it: only the current context, every referenced file inlined through the file
 * view, every program dropped and reported. Nothing of it reaches client-node that client-node could read or run.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'irsa-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const files = createFileView('/');
const load = (text: string, file = path.join(dir, 'config')) => loadKubeconfig(text, file, files);
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => 'loaded',
    (e: unknown) => (e instanceof KubeconfigError ? e.message : `unexpected: ${String(e)}`),
  );

/**
 * The kubeconfig `aws eks update-kubeconfig` writes (docs.aws.amazon.com/eks/latest/userguide/create-kubeconfig.html,
 * "Create kubeconfig file manually"): the user authenticates only through the `aws eks get-token` exec plugin.
 */
const EKS_KUBECONFIG = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0Q2c9PQ==
    server: https://EXAMPLE0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com
  name: arn:aws:eks:us-west-2:111122223333:cluster/my-cluster
contexts:
- context:
    cluster: arn:aws:eks:us-west-2:111122223333:cluster/my-cluster
    user: arn:aws:eks:us-west-2:111122223333:cluster/my-cluster
  name: arn:aws:eks:us-west-2:111122223333:cluster/my-cluster
current-context: arn:aws:eks:us-west-2:111122223333:cluster/my-cluster
kind: Config
preferences: {}
users:
- name: arn:aws:eks:us-west-2:111122223333:cluster/my-cluster
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args:
        - --region
        - us-west-2
        - eks
        - get-token
        - --cluster-name
        - my-cluster
        - --output
        - json
`;

describe(loadKubeconfig, () => {
  it('an EKS kubeconfig: the exec plugin is dropped and reported with every word quoted', async () => {
    const config = await load(EKS_KUBECONFIG);
    expect(config.cluster.server).toBe('https://EXAMPLE0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com');
    expect(config.cluster.caData).toBe('TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0Q2c9PQ==');
    expect(config.user).toEqual({ name: 'arn:aws:eks:us-west-2:111122223333:cluster/my-cluster' });
    expect(config.notRun).toEqual([
      {
        user: 'arn:aws:eks:us-west-2:111122223333:cluster/my-cluster',
        kind: 'exec',
        wouldRun: "aws '--region' us-west-2 eks get-token '--cluster-name' my-cluster '--output' json",
      },
    ]);
    expect(config.onlyCommands).toBe(true);
  });

  it('inlines certificate-authority, client certificate and key, and token-file, relative to the kubeconfig', async () => {
    const base = path.join(dir, 'inline');
    mkdirSync(path.join(base, 'certs'), { recursive: true });
    writeFileSync(path.join(base, 'certs/ca.pem'), 'CA PEM');
    writeFileSync(path.join(base, 'certs/client.pem'), 'CLIENT PEM');
    writeFileSync(path.join(base, 'certs/client.key'), 'CLIENT KEY');
    writeFileSync(path.join(base, 'token'), 'file-token\n');
    const config = await load(
      `clusters: [{name: k, cluster: {server: "https://10.0.0.1/", certificate-authority: certs/ca.pem, tls-server-name: kubernetes}}]
contexts: [{name: c, context: {cluster: k, user: u, namespace: shop}}]
current-context: c
users: [{name: u, user: {token-file: token, client-certificate: certs/client.pem, client-key: ${path.join(base, 'certs/client.key')}}}]`,
      path.join(base, 'config'),
    );
    expect(config.cluster).toEqual({
      name: 'k',
      server: 'https://10.0.0.1',
      skipTLSVerify: false,
      caData: Buffer.from('CA PEM').toString('base64'),
      tlsServerName: 'kubernetes',
    });
    expect(config.user).toEqual({
      name: 'u',
      token: 'file-token',
      certData: Buffer.from('CLIENT PEM').toString('base64'),
      keyData: Buffer.from('CLIENT KEY').toString('base64'),
    });
    expect(config.namespace).toBe('shop');
    expect(config.notRun).toEqual([]);
  });

  it('azure/gcp auth-provider: the cached access-token is used as it is, cmd-path (a shell line) reported', async () => {
    const config = await load(`clusters: [{name: k, cluster: {server: "https://k"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {auth-provider: {name: azure, config: {access-token: cached, expiry: "2000-01-01T00:00:00Z", cmd-path: "/usr/bin/az", cmd-args: "account get-access-token; touch /tmp/x"}}}}]`);
    expect(config.user.token).toBe('cached');
    expect(config.notRun[0]?.wouldRun).toBe(`sh -c '"/usr/bin/az" account get-access-token; touch /tmp/x'`);
    expect(config.onlyCommands).toBe(false);
  });

  it('oidc: the id-token is used, and nothing is refreshed against the idp-issuer-url it names', async () => {
    const config = await load(`clusters: [{name: k, cluster: {server: "https://k"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {auth-provider: {name: oidc, config: {id-token: eyJ.id.token, refresh-token: r, idp-issuer-url: "http://169.254.169.254/"}}}}]`);
    expect(config.user).toEqual({ name: 'u', token: 'eyJ.id.token' });
    expect(config.notRun).toEqual([]);
  });

  it('reads only the current context: a FIFO in another user is never touched', async () => {
    const fifo = path.join(dir, 'other.fifo');
    spawnSync('mkfifo', [fifo]);
    const config = await load(`clusters: [{name: k, cluster: {server: "https://k"}}]
contexts: [{name: c, context: {cluster: k, user: u}}, {name: d, context: {cluster: k, user: v}}]
current-context: c
users: [{name: u, user: {token: t}}, {name: v, user: {token-file: ${fifo}, exec: {command: evil}}}]`);
    expect(config.user.token).toBe('t');
    expect(config.notRun).toEqual([]);
  });

  it.for([
    ['a FIFO', 'fifo'],
    ['/dev/zero', '/dev/zero'],
    ['a directory', '.'],
    ['a missing file', 'missing.pem'],
    ['a loop of links', 'loop'],
  ] as const)('a referenced file that is %s makes the kubeconfig unusable, saying which', async ([, ref]) => {
    const base = mkdtempSync(path.join(dir, 'ref-'));
    spawnSync('mkfifo', [path.join(base, 'fifo')]);
    symlinkSync('loop', path.join(base, 'loop'));
    for (const field of ['certificate-authority', 'client-certificate', 'client-key', 'token-file', 'tokenFile']) {
      const user =
        field === 'tokenFile'
          ? `{auth-provider: {name: x, config: {tokenFile: ${ref}}}}`
          : field === 'certificate-authority'
            ? '{token: t}'
            : `{${field}: ${ref}}`;
      const cluster = field === 'certificate-authority' ? `, certificate-authority: ${ref}` : '';
      const message = await failure(
        loadKubeconfig(
          `clusters: [{name: k, cluster: {server: "https://k"${cluster}}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: ${user}}]`,
          path.join(base, 'config'),
          files,
        ),
      );
      const name = field === 'tokenFile' ? 'auth-provider tokenFile' : field;
      expect(message, field).toMatch(
        new RegExp(`^${name} ${ref.replace(/[.*/]/g, '\\$&')} (cannot be read|is larger)`),
      );
    }
  });

  it.for([
    ['not YAML', 'clusters: [', /^not YAML: /],
    ['a YAML list', '- a\n- b', /^not a kubeconfig/],
    ['a JS function tag', 'x: !!js/function "function(){}"', /^not YAML: /],
    ['no context', 'clusters: []', /^it has no context$/],
    [
      'an unknown current-context',
      'contexts: [{name: a, context: {}}]\ncurrent-context: b',
      /is not among its contexts$/,
    ],
    [
      'a context without its cluster',
      'contexts: [{name: a, context: {cluster: k}}]',
      /names no cluster that the file defines$/,
    ],
    [
      'a cluster without a server',
      'clusters: [{name: k, cluster: {}}]\ncontexts: [{name: a, context: {cluster: k}}]',
      /has no server$/,
    ],
  ] as const)('%s: a clear reason, never a crash', async ([, text, reason]) => {
    expect(await failure(load(text))).toMatch(reason);
  });
});
