import type http from 'node:http';
import { blackHole, listenLoopback, refusedUrl } from '../../src/sim/loopback';

/**
 * One endpoint gone wrong, on 127.0.0.1, for the fault matrix: whatever is asked of it, it answers
 * with its fault. The healthy peers come from the simulated EKS; this stands in for one of them.
 */
export const FAULTS = [
  'refused',
  'blackhole',
  'slow',
  'http-500',
  'wrong-content-type',
  'truncated',
  'garbage',
] as const;
export type Fault = (typeof FAULTS)[number];

export interface FaultServer {
  /** http://127.0.0.1:PORT, no trailing slash; for `refused` a port where nothing listens. */
  readonly url: string;
  /** Requests received (`refused` never gets any). */
  readonly hits: number;
  close(): Promise<void>;
}

export interface FaultOptions {
  /** The content type the real endpoint sends (application/json, text/xml, text/plain). */
  readonly contentType: string;
  /** A plausible start of the real answer: what `truncated` and `slow` send. */
  readonly sample: string;
  /** How long `slow` takes to finish its answer: longer than the client's call timeout. */
  readonly slowMs: number;
  /**
   * Paths answered healthily, given this server's origin (e.g. an issuer's discovery document, when only its
   * JWKS on the same origin is to go wrong); every other path gets the fault.
   */
  readonly healthy?: (
    origin: string,
  ) => Readonly<Record<string, { readonly contentType: string; readonly body: string }>>;
}

/** An HTML page where JSON or XML was expected: a proxy, captive portal or default web server answering. */
export const HTML_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>\n';

/** Bytes no parser accepts, control characters included (they must come out escaped, never raw). */
export const GARBAGE = Buffer.concat([
  Buffer.from([0x00, 0x1b, 0x5b, 0x32, 0x4a, 0xff, 0xfe, 0x07]),
  Buffer.from('\u001b[31m<<not json, not xml>>\r\n'),
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
]);

export async function startFaultServer(fault: Fault, options: FaultOptions): Promise<FaultServer> {
  if (fault === 'refused') return { url: await refusedUrl(), hits: 0, close: async () => undefined };
  let hits = 0;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let origin = '';
  const server = await listenLoopback((req, res) => {
    hits++;
    const page = options.healthy?.(origin)[new URL(req.url ?? '/', 'http://fault').pathname];
    if (page) {
      req.resume();
      res.writeHead(200, { 'content-type': page.contentType }).end(page.body);
      return;
    }
    answer(fault, options, req, res, timers);
  });
  origin = server.url;
  return {
    url: server.url,
    get hits() {
      return hits;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      await server.close();
    },
  };
}

function answer(
  fault: Exclude<Fault, 'refused'>,
  options: FaultOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  timers: Set<ReturnType<typeof setTimeout>>,
): void {
  req.resume();
  switch (fault) {
    case 'blackhole':
      return blackHole(req);
    case 'slow': {
      // Headers at once, then the body a piece at a time, complete only after slowMs.
      const body = Buffer.from(options.sample);
      res.writeHead(200, { 'content-type': options.contentType, 'content-length': body.length });
      const pieces = 10;
      for (let i = 0; i < pieces; i++) {
        const timer = setTimeout(
          () => {
            timers.delete(timer);
            const from = Math.floor((body.length * i) / pieces);
            const to = Math.floor((body.length * (i + 1)) / pieces);
            if (i === pieces - 1) res.end(body.subarray(from));
            else res.write(body.subarray(from, to));
          },
          (options.slowMs * (i + 1)) / pieces,
        );
        timers.add(timer);
      }
      return;
    }
    case 'http-500':
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Internal Server Error\n');
      return;
    case 'wrong-content-type':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(HTML_PAGE);
      return;
    case 'truncated': {
      // Content-Length promises twice what is sent, then the connection closes.
      const half = Buffer.from(options.sample);
      res.writeHead(200, { 'content-type': options.contentType, 'content-length': half.length * 2 });
      res.write(half, () => res.destroy());
      return;
    }
    case 'garbage':
      res.writeHead(200, { 'content-type': options.contentType, 'content-length': GARBAGE.length });
      res.end(GARBAGE);
      return;
  }
}
