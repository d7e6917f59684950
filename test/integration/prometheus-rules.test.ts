/**
 * promtool on what this repository ships for Prometheus: the configuration and alert rules are
 * checked, the alert rules' unit tests (deploy/prometheus/alerts.test.yml) run, and the Grafana
 * dashboard's PromQL is parsed by Prometheus's own parser.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { promtool, ROOT } from '../helpers/prometheus';

const output = (r: { stdout: string; stderr: string }) => (r.stdout + r.stderr).trim();

it('promtool check config: deploy/prometheus/prometheus.yml and the rule files it loads', async () => {
  const result = await promtool(['check', 'config', 'deploy/prometheus/prometheus.yml']);
  expect({ code: result.code, output: output(result) }).toEqual({ code: 0, output: expect.any(String) });
  expect(output(result)).toMatch(/SUCCESS: 1 rule files found/);
  expect(output(result)).toMatch(/alerts\.yml\s+SUCCESS: \d+ rules found/);
});

it('promtool check rules: deploy/prometheus/alerts.yml', async () => {
  const result = await promtool(['check', 'rules', 'deploy/prometheus/alerts.yml']);
  expect({ code: result.code, output: output(result) }).toEqual({
    code: 0,
    output: expect.stringMatching(/SUCCESS: 8 rules found/),
  });
});

it('promtool test rules: deploy/prometheus/alerts.test.yml', async () => {
  const result = await promtool(
    ['test', 'rules', 'alerts.test.yml'],
    undefined,
    path.join(ROOT, 'deploy/prometheus'),
  );
  expect({ code: result.code, output: output(result) }).toEqual({
    code: 0,
    output: expect.stringMatching(/SUCCESS/),
  });
  // every alert has a test that expects it to fire
  const tests = await fs.readFile(path.join(ROOT, 'deploy/prometheus/alerts.test.yml'), 'utf8');
  const rules = await fs.readFile(path.join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8');
  for (const [, name] of rules.matchAll(/- alert: (\w+)/g)) {
    expect(tests).toMatch(new RegExp(`alertname: ${name}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
  }
});

it("the dashboard's PromQL parses (each query as a recording rule through promtool check rules)", async () => {
  const dashboard = JSON.parse(
    await fs.readFile(path.join(ROOT, 'deploy/grafana/dashboards/mysql-tls-proxy.json'), 'utf8'),
  );
  const exprs: string[] = dashboard.panels.flatMap((p: { targets: Array<{ expr: string }> }) =>
    p.targets.map((t) => t.expr),
  );
  // Grafana's variables, as Grafana would substitute them
  const substituted = exprs.map((expr) =>
    expr
      .replace(/\$__rate_interval/g, '20s')
      .replace(/\$__range/g, '30m')
      .replace(/\$instance/g, '(proxy:9400|other:9400)'),
  );
  for (const expr of substituted) expect(expr).not.toContain('$');
  const rules = {
    groups: [
      {
        name: 'dashboard',
        rules: substituted.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })),
      },
    ],
  };
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-dashboard-promql-'));
  try {
    const file = path.join(dir, 'dashboard-rules.yml');
    await fs.writeFile(file, stringify(rules));
    const result = await promtool(['check', 'rules', file]);
    expect({ code: result.code, output: output(result) }).toEqual({
      code: 0,
      output: expect.stringContaining(`SUCCESS: ${exprs.length} rules found`),
    });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
