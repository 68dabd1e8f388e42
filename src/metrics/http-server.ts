/**
 * The exporter's HTTP endpoint: GET (or HEAD) /metrics answers with the body `collect` builds; `/`
 * links to it; everything else is 404/405. Built on node:http because the surface is one route.
 *
 * Bounds, since anyone who can reach the port can call it: at most MAX_CONNECTIONS sockets, request
 * headers within Node's default limit and HEADERS_TIMEOUT_MS, no request body read, and one scrape
 * at a time — concurrent requests share the collection in flight instead of starting their own.
 */
import { createServer, type Server } from 'node:http';

export const MAX_CONNECTIONS = 64;
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

export interface MetricsServerOptions {
  host: string;
  port: number;
  contentType: string;
  /** Builds the metrics body; a rejection answers 500 with the error's message. */
  collect: () => Promise<string>;
  /** Reports a failed collection (one line, no newline). */
  onError: (message: string) => void;
}

/** Starts listening; resolves with the server once bound (rejects with the listen error). */
export function startMetricsServer(opts: MetricsServerOptions): Promise<Server> {
  let inFlight: Promise<string> | undefined;
  const scrape = (): Promise<string> =>
    (inFlight ??= opts.collect().finally(() => {
      inFlight = undefined;
    }));

  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Method Not Allowed\n');
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><a href="/metrics">Metrics</a></body></html>\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n');
      return;
    }
    scrape().then(
      (body) => {
        res.writeHead(200, { 'content-type': opts.contentType, 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (e: unknown) => {
        const message = e instanceof Error ? e.message : String(e);
        opts.onError(message);
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${message}\n`);
      },
    );
  });
  server.maxConnections = MAX_CONNECTIONS;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
