/**
 * The Grafana dashboard (deploy/grafana/dashboards/mysql-tls-proxy.json): every panel queries the
 * `datasource` variable, every query is limited to the `instance` variable, and every metric name
 * in its PromQL is one the proxy's registry really exports. The PromQL's syntax is checked by
 * promtool in test/integration/prometheus-rules.test.ts.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import { ProxyMetrics } from '../../../src/observability/metrics';

const ROOT = path.resolve(__dirname, '../../..');
/* eslint-disable @typescript-eslint/no-explicit-any */
const dashboard: any = JSON.parse(
  readFileSync(path.join(ROOT, 'deploy/grafana/dashboards/mysql-tls-proxy.json'), 'utf8'),
);
const panels: any[] = dashboard.panels;
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** Every series name the registry can produce: histograms and summaries expand to their parts. */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await new ProxyMetrics().registry.getMetricsAsJSON()) {
    const type = String(metric.type);
    if (type === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(metric.name + suffix);
    else names.add(metric.name);
  }
  return names;
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'inf',
  'nan',
]);

/**
 * The selectors of a PromQL expression: each metric name with its label matchers. Names are the
 * identifiers left once strings, ranges and grouping label lists are blanked out, that are not
 * functions (followed by "("), keywords or parts of a number or duration.
 */
export function selectors(expr: string): Array<{ name: string; matchers: string }> {
  const blanked = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, (s) => s.replace(/[{}]/g, '_'))
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const found: Array<{ name: string; matchers: string }> = [];
  for (const match of blanked.matchAll(/(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?/g)) {
    const rest = blanked.slice(match.index! + match[0].length);
    if ((!match[2] && /^\s*\(/.test(rest)) || KEYWORDS.has(match[1].toLowerCase())) continue;
    found.push({ name: match[1], matchers: match[2] ?? '' });
  }
  return found;
}

export const metricNames = (expr: string): string[] => selectors(expr).map((s) => s.name);

const targets = panels.flatMap((panel) => panel.targets.map((target: any) => ({ panel, target })));

describe('variables', () => {
  it('has a Prometheus datasource variable', () => {
    const variable = dashboard.templating.list.find((v: any) => v.name === 'datasource');
    expect(variable).toMatchObject({ type: 'datasource', query: 'prometheus' });
  });

  it('has an instance variable listing the proxies, through the datasource variable', () => {
    const variable = dashboard.templating.list.find((v: any) => v.name === 'instance');
    expect(variable).toMatchObject({ type: 'query', datasource: DATASOURCE, multi: true, includeAll: true });
    expect(variable.definition).toBe('label_values(mysql_tls_proxy_build_info, instance)');
    expect(variable.query.query).toBe(variable.definition);
    // no catch-all regex: "All" is the list of proxies, so process_* of other targets never match
    expect(variable.allValue ?? null).toBeNull();
  });
});

describe('panels', () => {
  it('all query the datasource variable, never a fixed uid', () => {
    expect(panels.length).toBeGreaterThanOrEqual(20);
    for (const panel of panels) {
      expect({ panel: panel.title, datasource: panel.datasource }).toEqual({
        panel: panel.title,
        datasource: DATASOURCE,
      });
      expect(panel.targets.length).toBeGreaterThan(0);
    }
    for (const { panel, target } of targets) {
      expect({ panel: panel.title, datasource: target.datasource }).toEqual({
        panel: panel.title,
        datasource: DATASOURCE,
      });
    }
    expect(JSON.stringify(dashboard)).not.toMatch(/"uid":\s*"prometheus"/);
  });

  it('limit every selector to $instance', () => {
    for (const { target } of targets) {
      const found = selectors(target.expr);
      expect(found.length).toBeGreaterThan(0);
      for (const { name, matchers } of found) {
        expect({ expr: target.expr, name, matchers }).toEqual({
          expr: target.expr,
          name,
          matchers: expect.stringContaining('instance=~"$instance"'),
        });
      }
    }
  });

  it("use only metric names the proxy's registry exports", async () => {
    const exported = await exportedNames();
    const used = new Set<string>();
    for (const { target } of targets) {
      const names = metricNames(target.expr);
      expect({ expr: target.expr, names: names.length > 0 }).toEqual({ expr: target.expr, names: true });
      for (const name of names) {
        expect({ expr: target.expr, name, exported: exported.has(name) }).toEqual({
          expr: target.expr,
          name,
          exported: true,
        });
        used.add(name);
      }
    }
    for (const name of [
      'mysql_tls_proxy_tls_handshakes_total',
      'mysql_tls_proxy_connection_duration_seconds_bucket',
      'mysql_tls_proxy_build_info',
      'mysql_tls_proxy_certificate_info',
      'mysql_tls_proxy_certificate_last_reload_timestamp_seconds',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
    ]) {
      expect(used).toContain(name);
    }
  });

  it('has process CPU, memory and uptime panels', () => {
    const byTitle = new Map(panels.map((p) => [p.title, p]));
    expect(byTitle.get('Process CPU')?.targets[0].expr).toContain('rate(process_cpu_seconds_total');
    expect(byTitle.get('Process memory')?.targets[0].expr).toContain('process_resident_memory_bytes');
    expect(byTitle.get('Uptime')?.targets[0].expr).toMatch(/^time\(\) - .*process_start_time_seconds/);
  });

  it('lay out without overlapping, with unique ids', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Map<string, string>();
    for (const panel of panels) {
      const { x, y, w, h } = panel.gridPos;
      expect(x + w).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          const key = `${i},${j}`;
          expect({ cell: key, taken: cells.get(key) }).toEqual({ cell: key, taken: undefined });
          cells.set(key, panel.title);
        }
    }
  });
});

describe('the metric name extraction itself', () => {
  it('finds names and skips functions, keywords, labels and variables', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, version) (rate(a_bucket{instance=~"$instance", x="y{z}"}[$__rate_interval]))) / on (instance) group_left b_total offset 5m + time()',
      ),
    ).toEqual(['a_bucket', 'b_total']);
    expect(selectors('sum(a{instance=~"$instance"}) / b')).toEqual([
      { name: 'a', matchers: '{instance=~"$instance"}' },
      { name: 'b', matchers: '' },
    ]);
  });
});
