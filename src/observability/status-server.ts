import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger';
import type { ClientReport } from './client-audit';
import { LIVE_PAGE_CSP, LIVE_PAGE_CSS, LIVE_PAGE_HTML, LIVE_PAGE_JS } from './live-page';
import { LIVE_AUDIT_CSS, LIVE_AUDIT_JS } from './live-audit-page';
import type { Registry } from 'prom-client';
import type { ProxyMetrics } from './metrics';
import type { Readiness } from './readiness';

export type { Readiness } from './readiness';

export interface StatusSources {
  metrics: ProxyMetrics;
  /** What /metrics shows when it is not `metrics.registry` alone (--workers: every worker summed). */
  registry?: () => Promise<Registry>;
  readiness: () => Readiness;
  /** What /clients shows when it is not `metrics.clients` alone (--workers: every worker merged). */
  clients?: (limit: number) => Promise<ClientReport | undefined>;
  /** The CA clients should trust (PEM), or undefined when no CA file is configured. */
  caPem: () => Buffer | undefined;
}

/** /clients?limit=N: at most this many rows (the audit keeps more per bucket; see client-audit.ts). */
const CLIENTS_LIMIT = { default: 50, max: 200 };

/**
 * The status port: /metrics (Prometheus), /clients (who logs in how, JSON; docs/tls-adoption-audit.md),
 * /healthz (process alive), /readyz (can take traffic),
 * /ca.pem (the CA to download, as TiDB Cloud's "CA cert" button) and / (a live page that reads
 * /metrics in the browser). Loopback by default: metrics reveal traffic patterns and must be
 * exposed on purpose.
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
  const url = new URL(req.url ?? '/', 'http://status');
  switch (url.pathname) {
    case '/clients':
      return sendClients(res, sources, url.searchParams.get('limit'));
    case '/metrics': {
      const registry = sources.registry ? await sources.registry() : sources.metrics.registry;
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType }).end(body);
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
    case '/':
      sendAsset(res, 'text/html; charset=utf-8', LIVE_PAGE_HTML);
      return;
    case '/favicon.ico':
      res.writeHead(204).end(); // browsers ask; an error in the console would be noise
      return;
    case '/live.css':
      sendAsset(res, 'text/css; charset=utf-8', LIVE_PAGE_CSS);
      return;
    case '/live.js':
      sendAsset(res, 'text/javascript; charset=utf-8', LIVE_PAGE_JS);
      return;
    case '/live-audit.css':
      sendAsset(res, 'text/css; charset=utf-8', LIVE_AUDIT_CSS);
      return;
    case '/live-audit.js':
      sendAsset(res, 'text/javascript; charset=utf-8', LIVE_AUDIT_JS);
      return;
    default:
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: try /, /metrics, /clients, /healthz, /readyz, /ca.pem\n');
  }
}

/** The audit's top-k as JSON. User names and client addresses: loopback by default, like /metrics. */
async function sendClients(
  res: http.ServerResponse,
  sources: StatusSources,
  limitParam: string | null,
): Promise<void> {
  const asked = limitParam === null ? CLIENTS_LIMIT.default : Number(limitParam);
  if (!Number.isInteger(asked) || asked < 1 || asked > CLIENTS_LIMIT.max) {
    res
      .writeHead(400, { 'content-type': 'text/plain' })
      .end(`limit must be an integer from 1 to ${CLIENTS_LIMIT.max}\n`);
    return;
  }
  const report = sources.clients
    ? await sources.clients(asked)
    : sources.metrics.clients.report(Date.now(), asked);
  if (!report) {
    res.writeHead(503, { 'content-type': 'text/plain' }).end('no worker answered\n');
    return;
  }
  res
    .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(`${JSON.stringify(report, null, 2)}\n`);
}

/** The live page's files: same-origin only, no inline code, nothing cached across versions. */
function sendAsset(res: http.ServerResponse, contentType: string, body: string): void {
  res
    .writeHead(200, {
      'content-type': contentType,
      'content-security-policy': LIVE_PAGE_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    })
    .end(body);
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
