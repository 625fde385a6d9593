import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectWithKubeconfig } from '../../../src/launch/api';
import { apiErrorInfo } from '../../../src/launch/failure';
import { TokenBucket, retryDelayMs } from '../../../src/launch/rate-limit';
import { kubeconfigYaml } from '../../../src/sim/cluster-api';
import { SIM_TLS } from '../../../src/sim/tls';

/*
 * The fleet's client: a token bucket in front of every request, and a retry budget for 429 (API Priority and
 * Fairness answers it with Retry-After) and 5xx, shared by the whole client, after which the answer is passed on.
 */

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** An API server that answers the first `failures` requests with `status`, then lists no namespaces. */
async function flaky(failures: number, status: number) {
  let seen = 0;
  const server = https.createServer({ key: SIM_TLS.key, cert: SIM_TLS.cert }, (_req, res) => {
    seen += 1;
    if (seen <= failures) {
      res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '0' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: 'slow down',
          reason: 'TooManyRequests',
          code: status,
        }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', metadata: {}, items: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () => new Promise((resolve) => server.close(() => resolve()));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seen: () => seen };
}

describe('the rate-limited client', () => {
  it('retries 429 and 503 within its budget and counts every request', async () => {
    const server = await flaky(2, 429);
    const api = await connectWithKubeconfig(
      kubeconfigYaml(server.url, 't', 'default', 'c'),
      new AbortController().signal,
      {
        qps: 1000,
        burst: 1000,
        retryBudget: 5,
      },
    );
    await expect(api.core.listNamespace()).resolves.toMatchObject({ items: [] });
    expect(server.seen()).toBe(3);
    expect(api.requestCount()).toBe(3);
    expect(api.retryCount()).toBe(2);
  });

  it('passes the answer on once the budget is spent, so an overloaded server is not hammered', async () => {
    const server = await flaky(10, 503);
    const api = await connectWithKubeconfig(
      kubeconfigYaml(server.url, 't', 'default', 'c'),
      new AbortController().signal,
      {
        qps: 1000,
        burst: 1000,
        retryBudget: 2,
      },
    );
    const error = await api.core.listNamespace().catch((e: unknown) => e);
    expect(apiErrorInfo(error).status).toBe(503);
    expect(server.seen()).toBe(3);
    await api.core.listNamespace().catch(() => undefined);
    expect(server.seen()).toBe(4); // the budget is the client's, not the call's
  });

  it('without limits (pod, job) a 429 is not retried', async () => {
    const server = await flaky(1, 429);
    const api = await connectWithKubeconfig(
      kubeconfigYaml(server.url, 't', 'default', 'c'),
      new AbortController().signal,
    );
    expect(apiErrorInfo(await api.core.listNamespace().catch((e: unknown) => e)).status).toBe(429);
    expect(server.seen()).toBe(1);
  });

  it('the bucket lets a burst through, then spaces requests at the rate', async () => {
    const bucket = new TokenBucket({ qps: 50, burst: 3 });
    const signal = new AbortController().signal;
    for (let i = 0; i < 3; i++) await bucket.take(signal);
    expect(bucket.waitedMs).toBe(0);
    for (let i = 0; i < 3; i++) await bucket.take(signal);
    // Three more at 50/s: about 20 ms each, less whatever time passed meanwhile.
    expect(bucket.waitedMs).toBeGreaterThan(0);
    expect(bucket.waitedMs).toBeLessThanOrEqual(60);
  });

  it("honours the server's Retry-After (capped at 10 s), else backs off exponentially", () => {
    expect(retryDelayMs(1, '3')).toBe(3000);
    expect(retryDelayMs(1, '120')).toBe(10_000);
    expect(retryDelayMs(1, 'soon')).toBeLessThanOrEqual(200);
    expect(retryDelayMs(6, undefined)).toBeGreaterThanOrEqual(2500);
    expect(retryDelayMs(20, undefined)).toBeLessThanOrEqual(5000);
  });
});
