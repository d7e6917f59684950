/**
 * The proxy's registry: lint-clean names (promtool's rules, checked for real on a scrape in
 * test/integration/promtool.test.ts), build_info, the certificate series and how --workers
 * aggregation treats them.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import { AggregatorRegistry } from 'prom-client';
import {
  BUILD_INFO,
  DROPPED_DEFAULT_METRICS,
  ProxyMetrics,
  TLS_FAILURE_REASONS,
} from '../../../src/observability/metrics';
import { REJECTION_REASONS } from '../../../src/core/labels';

const pkg = require('../../../package.json') as { version: string };

describe('default process metrics', () => {
  const metrics = new ProxyMetrics();

  it('drops the gauges named like counters and keeps the per-type gauges', async () => {
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    for (const name of DROPPED_DEFAULT_METRICS) expect(names).not.toContain(name);
    for (const name of ['nodejs_active_handles', 'nodejs_active_requests', 'nodejs_active_resources'])
      expect(names).toContain(name);
    const handles = (await metrics.registry.getSingleMetric('nodejs_active_handles')!.get()).values;
    expect(handles.every((v) => typeof v.labels.type === 'string')).toBe(true);
  });

  it('follows the naming rules promtool lints: counters end in _total, nothing else does', async () => {
    for (const metric of await metrics.registry.getMetricsAsJSON()) {
      const name = metric.name;
      expect({ name, ok: /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name) }).toEqual({ name, ok: true });
      if (String(metric.type) === 'counter') expect(name).toMatch(/_total$/);
      else expect(name).not.toMatch(/_total$/);
      if (String(metric.type) !== 'histogram') expect(name).not.toMatch(/_(bucket|count|sum)$/);
      expect(metric.help.length).toBeGreaterThan(0);
    }
  });

  it('exports the CPU, memory and start time the dashboard uses', async () => {
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'process_start_time_seconds',
        'nodejs_heap_size_used_bytes',
      ]),
    );
  });
});

describe('build_info', () => {
  it('says which proxy, Node.js and OpenSSL run, value 1', async () => {
    const { values } = await new ProxyMetrics({ processMetrics: false }).buildInfo.get();
    expect(values).toEqual([
      {
        value: 1,
        labels: { version: pkg.version, node: process.versions.node, openssl: process.versions.openssl },
      },
    ]);
    expect(BUILD_INFO.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('connection_duration_seconds', () => {
  it('observes one lifetime per ended connection, by transport', async () => {
    const metrics = new ProxyMetrics({ processMetrics: false });
    metrics.connectionEnded('tls', 1_000, 3_500);
    metrics.connectionEnded('pending', 1_000, 1_000.5);
    const { values } = await metrics.connectionDuration.get();
    const sample = (name: string, transport: string, le?: number) =>
      values.find(
        (v) =>
          v.metricName === `mysql_tls_proxy_connection_duration_seconds_${name}` &&
          v.labels.transport === transport &&
          (le === undefined || (v.labels as Record<string, unknown>).le === le),
      )?.value;
    expect(sample('count', 'tls')).toBe(1);
    expect(sample('sum', 'tls')).toBeCloseTo(2.5);
    expect(sample('bucket', 'tls', 1)).toBe(0);
    expect(sample('bucket', 'tls', 5)).toBe(1);
    expect(sample('bucket', 'pending', 0.001)).toBe(1);
  });
});

describe('--workers aggregation', () => {
  const served = (serial: string) => ({
    serialNumber: serial,
    issuer: 'O=mysql-tls-proxy, CN=mysql-tls-proxy development CA',
    subject: 'O=mysql-tls-proxy, CN=localhost',
    notAfter: new Date('2030-01-01T00:00:00Z'),
  });

  it('shows build_info and certificate_info once (value 1), the oldest load and the earliest start', async () => {
    const workers = [new ProxyMetrics(), new ProxyMetrics()];
    workers[0].certificateServed(served('01AB'), 1_700_000_000_000);
    workers[1].certificateServed(served('01AB'), 1_700_000_100_000);
    const parts = await Promise.all(workers.map((w) => w.registry.getMetricsAsJSON()));
    const registry = AggregatorRegistry.aggregate(parts);
    const values = async (name: string) => (await registry.getSingleMetric(name)!.get()).values;
    expect(await values('mysql_tls_proxy_build_info')).toEqual([{ value: 1, labels: BUILD_INFO }]);
    expect(await values('mysql_tls_proxy_certificate_info')).toEqual([
      expect.objectContaining({ value: 1, labels: expect.objectContaining({ serial: '01AB' }) }),
    ]);
    expect((await values('mysql_tls_proxy_certificate_last_reload_timestamp_seconds'))[0].value).toBe(
      1_700_000_000,
    );
    expect((await values('mysql_tls_proxy_certificate_expiry_timestamp_seconds'))[0].value).toBe(
      Date.parse('2030-01-01T00:00:00Z') / 1000,
    );
    // prom-client omits process_start_time_seconds from aggregates by default: the uptime panel needs it
    const start = await values('process_start_time_seconds');
    expect(start).toHaveLength(1);
    expect(start[0].value).toBeGreaterThan(0);
    expect(registry.getSingleMetric('nodejs_active_handles_total')).toBeUndefined();
  });

  it('shows both certificates while workers disagree mid-reload', async () => {
    const workers = [
      new ProxyMetrics({ processMetrics: false }),
      new ProxyMetrics({ processMetrics: false }),
    ];
    workers[0].certificateServed(served('01'));
    workers[1].certificateServed(served('02'));
    const registry = AggregatorRegistry.aggregate(
      await Promise.all(workers.map((w) => w.registry.getMetricsAsJSON())),
    );
    const { values } = await registry.getSingleMetric('mysql_tls_proxy_certificate_info')!.get();
    expect(values.map((v) => [v.labels.serial, v.value]).sort()).toEqual([
      ['01', 1],
      ['02', 1],
    ]);
  });
});

describe('docs/metrics.md', () => {
  const doc = readFileSync(path.resolve(__dirname, '../../../docs/metrics.md'), 'utf8');
  /** Rows of the reference tables: name -> [type, labels]. */
  const rows = new Map<string, [string, string[]]>();
  for (const match of doc.matchAll(
    /^\| `([a-z0-9_:]+)` \| (counter|gauge|histogram|summary) \| ([^|]+) \|/gm,
  )) {
    const labels = match[3].trim() === '—' ? [] : [...match[3].matchAll(/`(\w+)`/g)].map((m) => m[1]);
    rows.set(match[1], [match[2], labels]);
  }

  it('documents every exported metric with its type and labels, and nothing else', async () => {
    const metrics = new ProxyMetrics();
    const exported = await metrics.registry.getMetricsAsJSON();
    for (const metric of exported) {
      const labelNames = (
        metrics.registry.getSingleMetric(metric.name) as unknown as { labelNames: string[] }
      ).labelNames;
      expect({ name: metric.name, row: rows.get(metric.name) }).toEqual({
        name: metric.name,
        row: [String(metric.type), [...labelNames]],
      });
    }
    expect([...rows.keys()].sort()).toEqual(exported.map((m) => m.name).sort());
  });

  it('lists the closed label sets', () => {
    const line = (label: string) => doc.split('\n').find((l) => l.startsWith(label))!;
    for (const reason of TLS_FAILURE_REASONS)
      expect(line('| `reason` (`tls_handshake_failures_total`)')).toContain(`\`${reason}\``);
    for (const reason of REJECTION_REASONS)
      expect(line('| `reason` (`connections_rejected_total`)')).toContain(`\`${reason}\``);
  });
});
