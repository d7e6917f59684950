/**
 * The live page's script, run outside a browser (it only defines its functions when there is no
 * document): its Prometheus parsing and histogram_quantile must agree with prom-client's output.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import vm from 'node:vm';
import pino from 'pino';
import { LIVE_PAGE_CSP, LIVE_PAGE_HTML, LIVE_PAGE_JS } from '../../../src/observability/live-page';
import { ProxyMetrics } from '../../../src/observability/metrics';
import { createStatusServer, listenStatusServer } from '../../../src/observability/status-server';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface MtpLive {
  parsePrometheus(text: string): Sample[];
  histogramQuantile(q: number, buckets: Array<{ le: number; count: number }>): number;
  summarize(samples: Sample[]): Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  perSecond(older: unknown, newer: unknown, pick: (s: unknown) => number): number;
}

function loadScript(): MtpLive {
  const sandbox: Record<string, unknown> = {};
  sandbox.globalThis = sandbox;
  vm.runInNewContext(LIVE_PAGE_JS, sandbox);
  return sandbox.MtpLive as MtpLive;
}

const live = loadScript();

describe('the page script', () => {
  it('parses labels with escapes, +Inf and NaN', () => {
    const samples = live.parsePrometheus(
      [
        '# HELP x_total help',
        '# TYPE x_total counter',
        'x_total{a="b\\"c",d="e\\\\f"} 3',
        'h_bucket{le="+Inf"} 7',
        'g NaN',
        '',
      ].join('\n'),
    );
    expect(samples).toHaveLength(3);
    expect(samples[0]).toEqual({ name: 'x_total', labels: { a: 'b"c', d: 'e\\f' }, value: 3 });
    expect(samples[1].labels.le).toBe('+Inf');
    expect(samples[2].value).toBeNaN();
  });

  it('estimates quantiles as PromQL histogram_quantile does', () => {
    const buckets = [
      { le: 0.001, count: 2 },
      { le: 0.01, count: 6 },
      { le: 0.1, count: 10 },
      { le: Infinity, count: 10 },
    ];
    expect(live.histogramQuantile(0.5, buckets)).toBeCloseTo(0.001 + 0.009 * (3 / 4), 12);
    expect(live.histogramQuantile(0.1, buckets)).toBeCloseTo(0.0005, 12);
    expect(live.histogramQuantile(0.99, buckets)).toBeCloseTo(0.01 + 0.09 * (3.9 / 4), 12);
    // rank in the +Inf bucket: the highest finite bound
    expect(live.histogramQuantile(0.99, [...buckets.slice(0, 3), { le: Infinity, count: 20 }])).toBe(0.1);
    expect(live.histogramQuantile(0.5, [{ le: Infinity, count: 0 }])).toBeNaN();
  });

  it("summarizes a real registry's text exactly", async () => {
    const metrics = new ProxyMetrics({ processMetrics: false });
    metrics.tlsHandshakes.inc({ version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, 7);
    metrics.tlsHandshakes.inc({ version: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' }, 4);
    metrics.tlsHandshakes.inc({ version: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES256-GCM-SHA384' }, 1);
    for (const seconds of [0.0003, 0.0004, 0.002, 0.002, 0.003, 1.5]) {
      metrics.tlsHandshakeDuration.observe({ version: 'TLSv1.3' }, seconds);
    }
    metrics.tlsHandshakeDuration.observe({ version: 'TLSv1.2' }, 0.02);
    metrics.connectionsActive.inc({ transport: 'tls' }, 2);
    metrics.reject('ip_not_allowed');
    metrics.tlsHandshakeFailures.inc({ reason: 'unsupported_protocol' }, 3);
    metrics.certificateExpiry.set(1_900_000_000);
    const summary = live.summarize(live.parsePrometheus(await metrics.registry.metrics()));
    expect(summary.handshakesTotal).toBe(12);
    expect(summary.versions).toEqual({ 'TLSv1.3': 7, 'TLSv1.2': 5 });
    expect(summary.ciphers).toHaveLength(3);
    expect(summary.latency.count).toBe(7);
    expect(summary.latencyByVersion['TLSv1.3'].count).toBe(6);
    expect(summary.latencyByVersion['TLSv1.3'].mean).toBeCloseTo(
      (0.0003 + 0.0004 + 0.002 * 2 + 0.003 + 1.5) / 6,
      9,
    );
    // 6 observations: rank 3 falls in (0.001, 0.0025] which holds 2 of them, after 2 below
    expect(summary.latencyByVersion['TLSv1.3'].p50).toBeCloseTo(0.001 + 0.0015 * 0.5, 12);
    expect(summary.active).toMatchObject({ tls: 2, plain: 0, pending: 0 });
    expect(summary.activeTotal).toBe(2);
    expect(summary.rejected.ip_not_allowed).toBe(1);
    expect(summary.rejectedTotal).toBe(1);
    expect(summary.tlsFailures.unsupported_protocol).toBe(3);
    expect(summary.certExpiry).toBe(1_900_000_000);
    expect(summary.backendUp).toBe(1);
  });

  it('computes per-second rates and survives counter resets', () => {
    const pick = (s: unknown) => (s as { n: number }).n;
    expect(live.perSecond({ t: 0, s: { n: 10 } }, { t: 4, s: { n: 30 } }, pick)).toBe(5);
    expect(live.perSecond({ t: 0, s: { n: 10 } }, { t: 2, s: { n: 4 } }, pick)).toBe(2);
    expect(live.perSecond(undefined, { t: 2, s: { n: 4 } }, pick)).toBeNaN();
  });
});

describe('the status server', () => {
  let server: http.Server;
  let port: number;
  let ready = { ready: true, reasons: [] as string[] };
  let ca: Buffer | undefined = Buffer.from('-----BEGIN CERTIFICATE-----\n');

  beforeAll(async () => {
    server = createStatusServer(
      { metrics: new ProxyMetrics({ processMetrics: false }), readiness: () => ready, caPem: () => ca },
      pino({ level: 'silent' }),
    );
    port = ((await listenStatusServer(server, '127.0.0.1', 0)) as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const get = async (path: string, method = 'GET') => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
    return { status: response.status, headers: response.headers, body: await response.text() };
  };

  it('serves the page, its stylesheet and script with a strict CSP', async () => {
    for (const [path, type] of [
      ['/', 'text/html'],
      ['/live.css', 'text/css'],
      ['/live.js', 'text/javascript'],
    ]) {
      const response = await get(path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain(type);
      expect(response.headers.get('content-security-policy')).toBe(LIVE_PAGE_CSP);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect((await get('/')).body).toBe(LIVE_PAGE_HTML);
    expect((await get('/favicon.ico')).status).toBe(204);
  });

  it('answers /readyz with 503 and the reasons', async () => {
    expect(await get('/readyz')).toMatchObject({ status: 200, body: 'ready\n' });
    ready = { ready: false, reasons: ['draining', 'backend unreachable (ECONNREFUSED)'] };
    expect(await get('/readyz')).toMatchObject({
      status: 503,
      body: 'not ready: draining, backend unreachable (ECONNREFUSED)\n',
    });
    ready = { ready: true, reasons: [] };
  });

  it('serves /ca.pem, or 404 without a CA', async () => {
    expect(await get('/ca.pem')).toMatchObject({ status: 200, body: '-----BEGIN CERTIFICATE-----\n' });
    ca = undefined;
    expect((await get('/ca.pem')).status).toBe(404);
  });

  it('serves /metrics with backend_up and refuses other methods', async () => {
    const metrics = await get('/metrics');
    expect(metrics.body).toMatch(/^mysql_tls_proxy_backend_up 1$/m);
    expect((await get('/metrics', 'POST')).status).toBe(405);
    expect((await get('/', 'HEAD')).body).toBe('');
  });
});
