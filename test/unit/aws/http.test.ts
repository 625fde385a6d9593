import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NetError, classifySocketError, describeNetFailure, httpRequest, probeEndpoint } from '../../../src/aws/http';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) (server as http.Server).closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** Accepts connections and never answers: the worst case of every endpoint. */
async function blackHole(): Promise<number> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => sockets.push(s));
  const port = await listen(server);
  closers.push(async () => sockets.forEach((s) => s.destroy()));
  return port;
}

async function refusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function failureOf(promise: Promise<unknown>): Promise<NetError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NetError);
  return error as NetError;
}

describe(httpRequest, () => {
  it('returns status, headers and body, and sends the Host header as given', async () => {
    let seenHost: string | undefined;
    const port = await listen(
      http.createServer((req, res) => {
        seenHost = req.headers.host;
        res.setHeader('x-test', 'yes');
        res.end('hello');
      }),
    );
    const answer = await httpRequest(`http://127.0.0.1:${port}/v1/credentials`, {
      headers: { Host: '169.254.170.23' },
      timeoutMs: 1000,
    });
    expect(answer).toMatchObject({ status: 200, truncated: false });
    expect(answer.body.toString()).toBe('hello');
    expect(answer.headers['x-test']).toBe('yes');
    expect(seenHost).toBe('169.254.170.23');
  });

  it('classifies a closed port as refused', async () => {
    const port = await refusedPort();
    const error = await failureOf(httpRequest(`http://127.0.0.1:${port}/`, { timeoutMs: 1000 }));
    expect(error.kind).toBe('refused');
    expect(error.code).toBe('ECONNREFUSED');
  });

  it('gives up on a black hole at its deadline and calls it a read timeout', async () => {
    const port = await blackHole();
    const started = Date.now();
    const error = await failureOf(httpRequest(`http://127.0.0.1:${port}/`, { timeoutMs: 200 }));
    const elapsed = Date.now() - started;
    expect(error.kind).toBe('read-timeout');
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1000);
  });

  it('stops at the abort signal', async () => {
    const port = await blackHole();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await failureOf(
      httpRequest(`http://127.0.0.1:${port}/`, { timeoutMs: 5000, signal: controller.signal }),
    );
    expect(error.kind).toBe('aborted');
  });

  it('reports a body cut short (less than its Content-Length, then close) as truncated, with the byte counts', async () => {
    const port = await listen(
      net.createServer((socket) => {
        socket.once('data', () => {
          socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part');
          socket.destroy();
        });
      }),
    );
    const error = await failureOf(httpRequest(`http://127.0.0.1:${port}/`, { timeoutMs: 1000 }));
    expect(error.kind).toBe('truncated');
    expect(error.message).toBe('got 9 of 100 bytes');
    expect(describeNetFailure(error)).toMatch(/^127\.0\.0\.1:\d+ closed the connection before its answer was complete/);
  });

  it('caps a huge body at maxBytes and says it was truncated', async () => {
    const port = await listen(
      http.createServer((_req, res) => {
        const chunk = Buffer.alloc(64 * 1024, 'a');
        let sent = 0;
        const pump = () => {
          while (sent < 50 * 1024 * 1024) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('error', () => {});
        pump();
      }),
    );
    const answer = await httpRequest(`http://127.0.0.1:${port}/`, { timeoutMs: 2000, maxBytes: 1000 });
    expect(answer.truncated).toBe(true);
    expect(answer.body.length).toBe(1000);
  });

  it('rejects a URL it cannot use without a network call', async () => {
    expect((await failureOf(httpRequest('file:///etc/passwd', { timeoutMs: 100 }))).kind).toBe('invalid-url');
    expect((await failureOf(httpRequest('not a url', { timeoutMs: 100 }))).kind).toBe('invalid-url');
  });
});

describe(probeEndpoint, () => {
  it('connects to a listening port and fails on a closed one', async () => {
    const open = await blackHole();
    expect(await probeEndpoint(`http://127.0.0.1:${open}/`, { timeoutMs: 500 })).toMatchObject({
      ok: true,
      address: '127.0.0.1',
    });
    const closed = await refusedPort();
    const refused = await probeEndpoint(`http://127.0.0.1:${closed}/`, { timeoutMs: 500 });
    expect(refused.ok).toBe(false);
    expect(refused.failure?.kind).toBe('refused');
  });

  it('times out a TLS handshake with a server that never speaks', async () => {
    const port = await blackHole();
    const result = await probeEndpoint(`https://127.0.0.1:${port}/`, { timeoutMs: 200 });
    expect(result.ok).toBe(false);
    expect(result.failure?.kind).toBe('tls');
    expect(result.elapsedMs).toBeLessThan(1000);
  });
});

describe(classifySocketError, () => {
  it.each([
    ['ENOTFOUND', false, 'dns'],
    ['EAI_AGAIN', false, 'dns'],
    ['ECONNREFUSED', false, 'refused'],
    ['ETIMEDOUT', false, 'connect-timeout'],
    ['ETIMEDOUT', true, 'read-timeout'],
    ['EHOSTUNREACH', false, 'unreachable'],
    ['ECONNRESET', true, 'reset'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', true, 'tls'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', true, 'tls'],
  ] as const)('%s (connected: %s) is %s', (code, connected, kind) => {
    const error = Object.assign(new Error(code), { code });
    expect(classifySocketError(error, connected).kind).toBe(kind);
  });
});
