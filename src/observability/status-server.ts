import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger';
import type { ProxyMetrics } from './metrics';

export interface Readiness {
  ready: boolean;
  /** Why not ready, e.g. "draining", "certificate not loaded". */
  reasons: string[];
}

export interface StatusSources {
  metrics: ProxyMetrics;
  readiness: () => Readiness;
  /** The CA clients should trust (PEM), or undefined when no CA file is configured. */
  caPem: () => Buffer | undefined;
}

/**
 * The status port: /metrics (Prometheus), /healthz (process alive), /readyz (can take traffic),
 * /ca.pem (the CA to download, as TiDB Cloud's "CA cert" button). Loopback by default: metrics
 * reveal traffic patterns and must be exposed on purpose.
 */
export function createStatusServer(sources: StatusSources, logger: Logger): http.Server {
  const server = http.createServer((req, res) => {
    handle(req, res, sources).catch((error: unknown) => {
      logger.error({ event: 'status_error', err: error, path: req.url }, 'status endpoint failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return server;
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  sources: StatusSources,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  const path = new URL(req.url ?? '/', 'http://status').pathname;
  switch (path) {
    case '/metrics': {
      const body = await sources.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': sources.metrics.registry.contentType }).end(body);
      return;
    }
    case '/healthz':
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    case '/readyz': {
      const readiness = sources.readiness();
      const body = readiness.ready ? 'ready\n' : `not ready: ${readiness.reasons.join(', ')}\n`;
      res.writeHead(readiness.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(body);
      return;
    }
    case '/ca.pem': {
      const pem = sources.caPem();
      if (!pem) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no CA file configured (--ca-file)\n');
        return;
      }
      res
        .writeHead(200, {
          'content-type': 'application/x-pem-file',
          'content-disposition': 'attachment; filename="ca.pem"',
        })
        .end(pem);
      return;
    }
    default:
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: try /metrics, /healthz, /readyz, /ca.pem\n');
  }
}

export function listenStatusServer(server: http.Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
