/**
 * The audit's share of the status port: /clients as JSON (and its limit), the audit script's series
 * arithmetic run outside a browser, and its assets under the live page's CSP. The page itself is
 * driven in headless Chromium by test/integration/live-page.test.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import vm from 'node:vm';
import pino from 'pino';
import { LIVE_AUDIT_JS } from '../../../src/observability/live-audit-page';
import { LIVE_PAGE_CSP, LIVE_PAGE_HTML } from '../../../src/observability/live-page';
import { ProxyMetrics } from '../../../src/observability/metrics';
import { createStatusServer, listenStatusServer } from '../../../src/observability/status-server';
import { recordLogin } from '../../../src/observability/login-audit';

type Point = { t: number; counters: Record<string, number> };
interface MtpAudit {
  countersOf(summary: object): Record<string, number>;
  seriesFrom(points: Point[]): Record<string, Array<{ t: number; r: number }>>;
  seriesNames(series: object): string[];
}

function loadScript(): MtpAudit {
  const sandbox: Record<string, unknown> = {};
  sandbox.globalThis = sandbox;
  vm.runInNewContext(LIVE_AUDIT_JS, sandbox);
  return sandbox.MtpAudit as MtpAudit;
}

describe('the audit script', () => {
  const audit = loadScript();

  it('charts handshakes by TLS version and plaintext logins, per second, resets counted from 0', () => {
    const counters = audit.countersOf({
      versions: { 'TLSv1.3': 10, 'TLSv1.2': 4 },
      connections: { tls: 14, plain: 3 },
    });
    expect({ ...counters }).toEqual({ 'TLSv1.3': 10, 'TLSv1.2': 4, plaintext: 3 });
    const series = audit.seriesFrom([
      { t: 0, counters: { 'TLSv1.3': 10, plaintext: 3 } },
      { t: 2, counters: { 'TLSv1.3': 14, 'TLSv1.2': 2, plaintext: 3 } },
      { t: 4, counters: { 'TLSv1.3': 1, 'TLSv1.2': 2, plaintext: 7 } }, // TLSv1.3 counter reset
    ]);
    expect(JSON.parse(JSON.stringify(series))).toEqual({
      'TLSv1.3': [
        { t: 2, r: 2 },
        { t: 4, r: 0.5 },
      ],
      'TLSv1.2': [
        { t: 2, r: 1 },
        { t: 4, r: 0 },
      ],
      plaintext: [
        { t: 2, r: 0 },
        { t: 4, r: 2 },
      ],
    });
    expect([...audit.seriesNames(series)]).toEqual(['TLSv1.2', 'TLSv1.3', 'plaintext']);
  });
});

describe('/clients on the status server', () => {
  let server: http.Server;
  let port: number;
  const metrics = new ProxyMetrics({ processMetrics: false });
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    server = createStatusServer(
      { metrics, readiness: () => ({ ready: true, reasons: [] }), caPem: () => undefined },
      logger,
    );
    port = ((await listenStatusServer(server, '127.0.0.1', 0)) as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: response.status, headers: response.headers, body: await response.text() };
  };

  it('serves the logins recorded for the audit as JSON, most frequent first, within ?limit', async () => {
    const login = {
      session: 1,
      user: 'app',
      address: '10.1.2.3',
      transport: 'tls' as const,
      tlsVersion: 'TLSv1.2',
    };
    recordLogin({ metrics, logger }, login);
    recordLogin({ metrics, logger }, login);
    recordLogin({ metrics, logger }, { ...login, user: 'legacy', transport: 'plain', tlsVersion: undefined });
    const response = await get('/clients');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    const report = JSON.parse(response.body);
    expect(report).toMatchObject({ exact: true, logins: 3, by_transport: { 'TLSv1.2': 2, plain: 1 } });
    expect(report.clients).toEqual([
      expect.objectContaining({
        user: 'app',
        address: '10.1.2.3',
        transport: 'tls',
        tls_version: 'TLSv1.2',
        logins: 2,
      }),
      expect.objectContaining({ user: 'legacy', transport: 'plain', tls_version: null, logins: 1 }),
    ]);
    expect(JSON.parse((await get('/clients?limit=1')).body).clients).toHaveLength(1);
    for (const bad of ['0', '201', 'x', '1.5']) expect((await get(`/clients?limit=${bad}`)).status).toBe(400);
  });

  it('serves the audit script and stylesheet under the live page CSP, linked from the page', async () => {
    for (const path of ['/live-audit.js', '/live-audit.css']) {
      const response = await get(path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-security-policy')).toBe(LIVE_PAGE_CSP);
    }
    expect(LIVE_PAGE_HTML).toContain('<script src="live-audit.js" defer></script>');
    expect(LIVE_PAGE_HTML).toContain('id="version-chart"');
    expect(LIVE_PAGE_HTML).not.toMatch(/https?:\/\//);
  });

  it('counts a warned login as a would-be refusal, with no user or address in the labels', async () => {
    recordLogin(
      { metrics, logger },
      {
        session: 2,
        user: 'legacy',
        address: '10.9.9.9',
        transport: 'plain',
        warning: { reason: 'insecure_transport', detail: 'plaintext login relayed' },
      },
    );
    const text = (await get('/metrics')).body;
    expect(text).toContain(
      'mysql_tls_proxy_connections_would_be_rejected_total{reason="insecure_transport"} 1',
    );
    expect(text).not.toContain('10.9.9.9');
    expect(text).not.toContain('legacy');
  });
});
