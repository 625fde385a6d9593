import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { CheckId, CheckOutputs } from '../../../src/checks/outputs';
import type { Status, Upstream } from '../../../src/run/types';

/** Tiny protocol peers for the AWS-chain tests: 127.0.0.1, port 0, closed after each test. */
export class TestServers {
  readonly #closers: (() => Promise<void>)[] = [];

  async http(handler: http.RequestListener): Promise<string> {
    const server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Accepts connections and never answers. */
  async blackHole(): Promise<string> {
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#closers.push(async () => {
      sockets.forEach((s) => s.destroy());
      server.close();
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** A URL on a port where nothing listens. */
  async refused(): Promise<string> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return `http://127.0.0.1:${port}`;
  }

  async closeAll(): Promise<void> {
    while (this.#closers.length > 0) await this.#closers.pop()?.();
  }
}

/** An Upstream over given outputs: a check under test reads exactly what a real run would hand it. */
export function upstreamOf(outputs: Partial<CheckOutputs>, statuses: Partial<Record<CheckId, Status>> = {}): Upstream {
  return {
    output: <K extends CheckId>(id: K) => outputs[id] as CheckOutputs[K] | undefined,
    status: (id) => statuses[id] ?? (outputs[id] !== undefined ? 'pass' : undefined),
  };
}

export const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

export function stsError(code: string, message: string): string {
  return `<ErrorResponse xmlns="${STS_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`;
}

export function assumeRoleAnswer(arn: string, secret = 'SECRET-FROM-STS'): string {
  return `<AssumeRoleWithWebIdentityResponse xmlns="${STS_NS}"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAASSUMEDKEY000001</AccessKeyId><SecretAccessKey>${secret}</SecretAccessKey><SessionToken>SESSION-FROM-STS</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>${arn}</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`;
}

export function callerAnswer(arn: string): string {
  const account = arn.split(':')[4] ?? '';
  return `<GetCallerIdentityResponse xmlns="${STS_NS}"><GetCallerIdentityResult><Arn>${arn}</Arn><UserId>AROA:x</UserId><Account>${account}</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`;
}

/** Reads a request body as a form (the STS Query protocol). */
export function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => resolve(new URLSearchParams(body)));
  });
}
