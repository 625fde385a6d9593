import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApiError, classifyKubeError, isUnavailable, kubeClientFor } from '../../../src/kube/client';
import type { KubeApiServer } from '../../../src/sim/kube-api';
import { kubeScenario, startKubeApi } from '../../../src/sim/kube-api';
import { fixtureContext } from '../../helpers/context';
import { TLS_UNAVAILABLE, selfSignedLoopbackCert } from '../../helpers/tls';

const never = new AbortController().signal;

describe('classifyKubeError', () => {
  it('maps HTTP statuses from client-node ApiException (numeric code, Status body as text)', () => {
    const body = JSON.stringify({ kind: 'Status', code: 403, message: 'pods "p" is forbidden: User "u" cannot get' });
    const forbidden = classifyKubeError({ code: 403, body, message: 'HTTP-Code: 403' }, 'pod shop/p');
    expect(forbidden).toMatchObject({ kind: 'forbidden', status: 403 });
    expect(forbidden.message).toBe('pod shop/p: pods "p" is forbidden: User "u" cannot get');
    expect(classifyKubeError({ code: 401, body: 'Unauthorized' }, 'x').kind).toBe('forbidden');
    expect(classifyKubeError({ code: 404, body: '{}' }, 'x').kind).toBe('not-found');
    expect(classifyKubeError({ code: 500, body: 'boom' }, 'x')).toMatchObject({ kind: 'unexpected', status: 500 });
    expect(classifyKubeError({ code: 502, body: 'Bad Gateway\n' }, 'x').message).toBe('x: HTTP 502: Bad Gateway');
  });

  it('maps socket and TLS errors, also when wrapped in a cause, to unreachable', () => {
    expect(classifyKubeError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }), 'x').kind).toBe(
      'unreachable',
    );
    const wrapped = new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ENOTFOUND' }) });
    expect(classifyKubeError(wrapped, 'x').kind).toBe('unreachable');
    expect(classifyKubeError(Object.assign(new Error('tls'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), 'x').kind).toBe(
      'unreachable',
    );
    expect(classifyKubeError(new Error('weird'), 'x').kind).toBe('unexpected');
  });
});

describe('kubeClientFor', () => {
  let api: KubeApiServer | undefined;
  let hanging: http.Server | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
    if (hanging) {
      hanging.closeAllConnections();
      await new Promise((resolve) => hanging?.close(resolve));
      hanging = undefined;
    }
  });

  it('says why there is no API access when nothing is configured', async () => {
    const client = await kubeClientFor(fixtureContext({ env: {} }));
    expect(isUnavailable(client) && client.unavailable).toContain('KUBERNETES_SERVICE_HOST unset');
  });

  it('builds the client once per Context', () => {
    const ctx = fixtureContext({ env: {} });
    expect(kubeClientFor(ctx)).toBe(kubeClientFor(ctx));
  });

  it('reads objects from the API server named by --kubeconfig, with its bearer token', async () => {
    const scenario = kubeScenario('healthy');
    api = await startKubeApi(scenario.state);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'irsa-doctor-kube-'));
    const kubeconfig = await api.writeKubeconfig(dir);
    const client = await kubeClientFor(fixtureContext({ kubeconfig }));
    if (isUnavailable(client)) throw new Error(client.unavailable);
    expect(client.source).toBe('--kubeconfig');
    const pod = await client.readPod('shop', scenario.world.podName, never);
    expect(pod.spec?.serviceAccountName).toBe('checkout');
    const missing = await client.readServiceAccount('shop', 'nope', never).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(KubeApiError);
    expect((missing as KubeApiError).kind).toBe('not-found');
  });

  it('reports a refused read as forbidden with the Status message naming the user', async () => {
    api = await startKubeApi(kubeScenario('rbac-forbidden').state);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'irsa-doctor-kube-'));
    const client = await kubeClientFor(fixtureContext({ kubeconfig: await api.writeKubeconfig(dir) }));
    if (isUnavailable(client)) throw new Error(client.unavailable);
    const error = (await client.readPod('shop', 'p', never).catch((e: unknown) => e)) as KubeApiError;
    expect(error.kind).toBe('forbidden');
    expect(error.message).toContain('User "system:serviceaccount:shop:checkout" cannot get resource "pods"');
  });

  it('finds the in-cluster server from KUBERNETES_SERVICE_HOST/PORT and the token through ctx.files', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'irsa-doctor-root-'));
    const dir = path.join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
    writeFileSync(path.join(dir, 'token'), 'in-cluster-token\n');
    const client = await kubeClientFor(
      fixtureContext({ root, env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' } }),
    );
    if (isUnavailable(client)) throw new Error(client.unavailable);
    expect(client.source).toBe('in-cluster');
    expect(client.server).toBe('https://[fd00::1]:443');
  });

  /** A kubeconfig naming an API server on loopback that answers every request with `answer`. */
  async function serverAnswering(answer: (res: http.ServerResponse) => void): Promise<string> {
    hanging = http.createServer((req, res) => {
      req.resume();
      answer(res);
    });
    await new Promise<void>((resolve) => hanging?.listen(0, '127.0.0.1', resolve));
    const port = (hanging.address() as AddressInfo).port;
    const kubeconfig = path.join(mkdtempSync(path.join(os.tmpdir(), 'irsa-doctor-kube-')), 'kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
    );
    return kubeconfig;
  }

  it.each([
    [
      'an HTML page (200) is not read as an empty pod',
      (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'),
      /^pod shop\/p: HTTP 200 with text\/html, not JSON: something other than the Kubernetes API answers at http:\/\/127\.0\.0\.1:\d+ /,
    ],
    [
      'bytes labelled JSON',
      (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('\u0000\u001b[2J'),
      /^pod shop\/p: the API server's answer is not valid JSON$/,
    ],
    [
      'JSON null for a pod',
      (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('null'),
      /^pod shop\/p: the API server answered an unexpected object: the answer is null, not a Pod$/,
    ],
    [
      'a list for a pod',
      (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('[{"kind":"Pod"}]'),
      /^pod shop\/p: the API server answered an unexpected object: the answer is a list, not a Pod$/,
    ],
    [
      'another kind of object',
      (res: http.ServerResponse) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"kind":"Secret","data":{}}'),
      /^pod shop\/p: the API server answered an unexpected object: kind is "Secret", not Pod$/,
    ],
    [
      'an answer cut short',
      (res: http.ServerResponse) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 });
        res.write('{"kind":"Pod"', () => res.destroy());
      },
      /^pod shop\/p: the API server closed the connection after 13 of 100 bytes: its answer was cut short/,
    ],
  ])('%s: unexpected, saying what answered', async (_, answer, said) => {
    const client = await kubeClientFor(fixtureContext({ kubeconfig: await serverAnswering(answer) }));
    if (isUnavailable(client)) throw new Error(client.unavailable);
    const error = (await client.readPod('shop', 'p', never).catch((e: unknown) => e)) as KubeApiError;
    expect(error).toBeInstanceOf(KubeApiError);
    expect(error.kind).toBe('unexpected');
    expect(error.message).toMatch(said);
  });

  it("gives up when the check's signal aborts, as a timeout", async () => {
    hanging = http.createServer(() => undefined); // accepts and never answers
    await new Promise<void>((resolve) => hanging?.listen(0, '127.0.0.1', resolve));
    const port = (hanging.address() as AddressInfo).port;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'irsa-doctor-kube-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
    );
    const client = await kubeClientFor(fixtureContext({ kubeconfig }));
    if (isUnavailable(client)) throw new Error(client.unavailable);
    const controller = new AbortController();
    const pending = client.readPod('shop', 'p', controller.signal).catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error('check deadline')), 20);
    const error = (await pending) as KubeApiError;
    expect(error).toBeInstanceOf(KubeApiError);
    expect(error.kind).toBe('timeout');
  });

  it("with --target never reads the app's KUBECONFIG: not even opened", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'irsa-doctor-kube-'));
    const fifo = path.join(dir, 'kubeconfig');
    spawnSync('mkfifo', [fifo]);
    const client = await kubeClientFor(fixtureContext({ env: { KUBECONFIG: fifo }, targetPid: 7 }));
    expect(isUnavailable(client) && client.unavailable).toMatch(/the app's KUBECONFIG is never used with --target/);
  });

  describe.skipIf(TLS_UNAVAILABLE)('in-cluster access with --target (HTTPS, the CA from ca.crt)', () => {
    let server: https.Server | undefined;
    const seen: string[] = [];
    afterEach(async () => {
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
      server = undefined;
    });

    /** An API server on 127.0.0.1 that records the bearer token of each request and answers with a Pod. */
    async function recordingServer(): Promise<{ port: string; ca: string }> {
      const { key, cert } = selfSignedLoopbackCert();
      server = https.createServer({ key, cert }, (req, res) => {
        seen.push(req.headers.authorization ?? '');
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"kind":"Pod","apiVersion":"v1"}');
      });
      await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
      return { port: String((server.address() as AddressInfo).port), ca: cert };
    }

    function serviceAccountRoot(token: string, ca: string): string {
      const root = mkdtempSync(path.join(os.tmpdir(), 'irsa-doctor-sa-'));
      const sa = path.join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
      mkdirSync(sa, { recursive: true });
      writeFileSync(path.join(sa, 'token'), `${token}\n`);
      writeFileSync(path.join(sa, 'ca.crt'), ca);
      return root;
    }

    it("uses this process's own ServiceAccount token and the API address of its own env", async () => {
      const { port, ca } = await recordingServer();
      const ctx = {
        ...fixtureContext({
          root: serviceAccountRoot('app-token', ca),
          localRoot: serviceAccountRoot('own-token', ca),
          // The app's env names another server: not the one the tool uses.
          env: { KUBERNETES_SERVICE_HOST: '192.0.2.1', KUBERNETES_SERVICE_PORT: '1' },
          targetPid: 7,
        }),
        toolEnv: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port },
      };
      const client = await kubeClientFor(ctx);
      if (isUnavailable(client)) throw new Error(client.unavailable);
      await client.readPod('shop', 'p', never);
      expect(seen.at(-1)).toBe('Bearer own-token');
    });

    it("falls back to the app's ServiceAccount token, read as a file inside its root", async () => {
      const { port, ca } = await recordingServer();
      const ctx = {
        ...fixtureContext({ root: serviceAccountRoot('app-token', ca), localRoot: os.tmpdir(), targetPid: 7 }),
        toolEnv: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port },
      };
      const client = await kubeClientFor(ctx);
      if (isUnavailable(client)) throw new Error(client.unavailable);
      await client.readPod('shop', 'p', never);
      expect(seen.at(-1)).toBe('Bearer app-token');
    });

    it('reads a KUBECONFIG whose CA and token are files next to it (inlined by the tool)', async () => {
      const { port, ca } = await recordingServer();
      const dir = mkdtempSync(path.join(os.tmpdir(), 'irsa-doctor-kc-'));
      writeFileSync(path.join(dir, 'ca.pem'), ca);
      writeFileSync(path.join(dir, 'token'), 'kubeconfig-token');
      writeFileSync(
        path.join(dir, 'config'),
        `clusters: [{name: k, cluster: {server: "https://127.0.0.1:${port}", certificate-authority: ca.pem}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nusers: [{name: u, user: {token-file: token}}]\n`,
      );
      const client = await kubeClientFor(fixtureContext({ env: { KUBECONFIG: path.join(dir, 'config') }, root: '/' }));
      if (isUnavailable(client)) throw new Error(client.unavailable);
      await client.readPod('shop', 'p', never);
      expect(seen.at(-1)).toBe('Bearer kubeconfig-token');
    });
  });
});
