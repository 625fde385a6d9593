import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * One HTTP server of the simulated EKS on 127.0.0.1 with an OS-chosen port. It keeps every socket so close()
 * can end black-holed requests too (a request that is never answered keeps its socket open forever), and it
 * turns a handler's throw into a 500 instead of a crashed process.
 */
export interface LoopbackServer {
  /** http://127.0.0.1:PORT, no trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, destroys every open socket (black holes included) and resolves when closed. */
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export async function listenLoopback(handler: Handler): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .catch(() => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('internal error in the simulated endpoint\n');
        } else {
          res.destroy();
        }
      });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A client that sends garbage gets a 400 from node; never let it become an unhandled error.
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      });
      return closing;
    },
  };
}

/**
 * A port on 127.0.0.1 where nothing listens (connection refused): a server is bound to learn a free port and
 * closed again. Another process could take the port in between; on loopback in a test run that is unlikely,
 * and the worst case is a different failure, not a hang.
 */
export async function refusedUrl(): Promise<string> {
  const probe = await listenLoopback(() => undefined);
  await probe.close();
  return probe.url;
}

/** Reads a request body up to maxBytes; more than that is a 413 for the caller to send. */
export async function readBody(req: http.IncomingMessage, maxBytes: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Leaves the request unanswered: the socket stays open until the client gives up or the server closes. */
export function blackHole(req: http.IncomingMessage): void {
  req.resume();
}
