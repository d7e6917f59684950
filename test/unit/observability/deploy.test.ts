/**
 * The local stack without a Docker engine: docker-compose.yml, the Dockerfile, Prometheus and
 * Grafana provisioning are checked for structure and for references that must line up (files,
 * service names, ports, flags, datasource uid). The dashboard's PromQL is checked against the
 * real /metrics in test/integration/observability.test.ts.
 */
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { SERVE_DEFAULTS } from '../../../src/config/defaults';
import { parseCidrList } from '../../../src/policy/cidr';
import { composeValidator } from '../../helpers/compose-schema';

const ROOT = path.resolve(__dirname, '../../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/* eslint-disable @typescript-eslint/no-explicit-any */
const compose: any = parse(read('docker-compose.yml'));
const services: Record<string, any> = compose.services;

/** host:container, either side may carry an address. */
function published(service: any): Array<{ host: string; hostPort: number; containerPort: number }> {
  return (service.ports ?? []).map((spec: string) => {
    const parts = String(spec).split(':');
    const containerPort = Number(parts.pop());
    const hostPort = Number(parts.pop());
    return { host: parts.join(':'), hostPort, containerPort };
  });
}

describe('docker-compose.yml', () => {
  it('has TiDB, the proxy, Prometheus, Grafana and a MySQL 8 profile', () => {
    expect(Object.keys(services).sort()).toEqual(['grafana', 'mysql', 'prometheus', 'proxy', 'tidb']);
    expect(services.tidb.image).toMatch(/^pingcap\/tidb:v\d+\.\d+\.\d+$/);
    expect(services.mysql.image).toMatch(/^mysql:8(\.\d+)*$/);
    expect(services.mysql.profiles).toEqual(['mysql']);
    for (const name of ['tidb', 'proxy', 'prometheus', 'grafana'])
      expect(services[name].profiles).toBeUndefined();
    expect(services.prometheus.image).toMatch(/^prom\/prometheus:v\d/);
    expect(services.grafana.image).toMatch(/^grafana\/grafana(-oss)?:\d/);
  });

  it('gives the databases and the proxy healthchecks', () => {
    for (const name of ['tidb', 'mysql', 'proxy']) {
      const check = services[name].healthcheck;
      expect(check?.test?.[0]).toMatch(/^CMD(-SHELL)?$/);
      expect(check.interval).toBeDefined();
    }
    expect(services.tidb.healthcheck.test.join(' ')).toContain(':10080/status');
    expect(services.proxy.healthcheck.test.join(' ')).toContain('http://127.0.0.1:9400/readyz');
  });

  it('builds the proxy from the Dockerfile and points it at TiDB on 0.0.0.0:4000', () => {
    const proxy = services.proxy;
    expect(proxy.build).toBe('.');
    const env = proxy.environment as Record<string, string>;
    expect(env.MTP_LISTEN).toBe('0.0.0.0:4000');
    expect(env.MTP_STATUS).toBe('0.0.0.0:9400');
    expect(env.MTP_BACKEND).toBe('${MTP_BACKEND:-tidb:4000}');
    expect(services.tidb.command).toEqual(expect.arrayContaining(['--store=unistore']));
    expect(proxy.depends_on.tidb.condition).toBe('service_started');
    // every MTP_ variable is a real serve flag (the CLI refuses unknown ones)
    const flags = Object.keys(SERVE_DEFAULTS).map(
      (key) => 'MTP_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase(),
    );
    for (const name of Object.keys(env)) expect(flags).toContain(name);
  });

  it('allows loopback and the Docker networks, with valid CIDRs', () => {
    const allow = services.proxy.environment.MTP_ALLOW.split(',');
    expect(() => parseCidrList(allow, 'MTP_ALLOW')).not.toThrow();
    expect(allow).toEqual(
      expect.arrayContaining(['127.0.0.1/32', '::1/128', '172.16.0.0/12', '192.168.0.0/16']),
    );
  });

  it('publishes 4000 and the status port, on 127.0.0.1 by default', () => {
    expect(published(services.proxy)).toEqual([
      { host: '${PROXY_BIND:-127.0.0.1}', hostPort: 4000, containerPort: 4000 },
      { host: '127.0.0.1', hostPort: 9400, containerPort: 9400 },
    ]);
    expect(published(services.prometheus)).toEqual([
      { host: '127.0.0.1', hostPort: 9090, containerPort: 9090 },
    ]);
    expect(published(services.grafana)).toEqual([{ host: '127.0.0.1', hostPort: 3000, containerPort: 3000 }]);
    expect(services.tidb.ports).toBeUndefined(); // only reachable through the proxy
  });

  it('keeps certificates in a named volume where the proxy generates them', () => {
    expect(services.proxy.volumes).toContain('certs:/app/certs');
    expect(SERVE_DEFAULTS.cert.startsWith('certs/')).toBe(true); // relative to WORKDIR /app
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(['certs']));
  });

  it('mounts only files that exist, and declares every named volume', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const spec of (service.volumes ?? []) as string[]) {
        const source = spec.split(':')[0];
        if (source.startsWith('.')) {
          expect({ service: name, source, exists: existsSync(path.join(ROOT, source)) }).toEqual({
            service: name,
            source,
            exists: true,
          });
        } else {
          expect(Object.keys(compose.volumes)).toContain(source);
        }
      }
    }
  });
});

describe('docker-compose.yml against the Compose Specification schema', () => {
  const validate = composeValidator();
  const errors = (doc: unknown) =>
    validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);

  it('is valid', () => {
    expect(errors(compose)).toEqual([]);
  });

  it('would catch a misspelled key, a bad duration or a wrong type (the check is not vacuous)', () => {
    const copy = () => JSON.parse(JSON.stringify(compose));
    const misspelled = copy();
    misspelled.services.proxy.healthchek = misspelled.services.proxy.healthcheck;
    expect(errors(misspelled)).toContain('/services/proxy must NOT have additional properties');
    const duration = copy();
    duration.services.proxy.stop_grace_period = '40 seconds';
    expect(errors(duration)).toContain('/services/proxy/stop_grace_period must match format "duration"');
    const type = copy();
    type.services.proxy.depends_on.tidb.required = 'no';
    expect(errors(type)).toContain('/services/proxy/depends_on/tidb/required must be boolean');
  });
});

describe('Prometheus and Grafana provisioning', () => {
  it('scrapes the proxy service on its status port', () => {
    const config: any = parse(read('deploy/prometheus/prometheus.yml'));
    const job = config.scrape_configs.find((j: any) => j.job_name === 'mysql-tls-proxy');
    expect(job.static_configs[0].targets).toEqual(['proxy:9400']);
    expect(services.proxy.environment.MTP_STATUS.endsWith(':9400')).toBe(true);
  });

  it('loads the alert rules: mounted next to the configuration that references them', () => {
    const config: any = parse(read('deploy/prometheus/prometheus.yml'));
    const volumes: string[] = services.prometheus.volumes;
    const configMount = volumes.find((v) => v.startsWith('./deploy/prometheus/prometheus.yml:'))!;
    const configDir = path.posix.dirname(configMount.split(':')[1]);
    expect(services.prometheus.command).toContain(`--config.file=${configMount.split(':')[1]}`);
    expect(config.rule_files.length).toBeGreaterThan(0);
    for (const file of config.rule_files as string[]) {
      const inContainer = path.posix.resolve(configDir, file);
      expect(volumes).toContain(`./deploy/prometheus/${file}:${inContainer}:ro`);
      expect(existsSync(path.join(ROOT, 'deploy/prometheus', file))).toBe(true);
    }
  });

  it('points Grafana at Prometheus as the default datasource, and loads the dashboard', () => {
    const datasources: any = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml'));
    expect(datasources.datasources[0]).toMatchObject({
      type: 'prometheus',
      url: 'http://prometheus:9090',
      isDefault: true, // what the dashboard's datasource variable selects first
    });
    const providers: any = parse(read('deploy/grafana/provisioning/dashboards/mysql-tls-proxy.yml'));
    const dashboardsPath = providers.providers[0].options.path;
    expect(services.grafana.volumes).toContain('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro');
    expect(services.grafana.volumes).toContain(`./deploy/grafana/dashboards:${dashboardsPath}:ro`);
    expect(services.grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(
      `${dashboardsPath}/mysql-tls-proxy.json`,
    );
    // every panel on the datasource variable: test/unit/observability/dashboard.test.ts
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/mysql-tls-proxy.json'));
    expect(dashboard.templating.list.map((v: any) => v.name)).toEqual(['datasource', 'instance']);
  });

  it('has the panels the issue lists', () => {
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/mysql-tls-proxy.json'));
    const titles = dashboard.panels.map((p: any) => p.title);
    for (const title of [
      'Handshakes / s by TLS version',
      'TLS version share',
      'Cipher share',
      'Handshake latency p50 / p99',
      'Active connections by transport',
      'Rejections / s by reason',
      'Bytes / s',
      'Days to certificate expiry',
    ]) {
      expect(titles).toContain(title);
    }
    const ids = dashboard.panels.map((p: any) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const froms = lines.filter((l) => /^FROM /.test(l));
  const ignored = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('is multi-stage on a slim Node LTS image', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const version = Number(/^ARG NODE_VERSION=(\d+)$/m.exec(dockerfile)?.[1]);
    expect(version % 2).toBe(0); // even majors become LTS
    expect(version).toBeGreaterThanOrEqual(22);
    for (const from of froms) expect(from).toMatch(/^FROM node:\$\{NODE_VERSION\}-[a-z]+-slim( AS \w+)?$/);
  });

  it('runs as a non-root user, the CLI the package declares', () => {
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(finalStage).toMatch(/^USER node$/m);
    const pkg = JSON.parse(read('package.json'));
    expect(finalStage).toContain(`"/app/${pkg.bin['mysql-tls-proxy']}"`);
    expect(finalStage).toMatch(/^EXPOSE 4000$/m);
  });

  it('keeps the status port on loopback unless the deployment says otherwise (SECURITY.md)', () => {
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(finalStage).toMatch(/^\s*MTP_STATUS=127\.0\.0\.1:9400\b/m);
    expect(finalStage).not.toMatch(/^EXPOSE .*9400/m);
  });

  it('copies only files that exist and that .dockerignore lets through', () => {
    const copies = lines.filter((l) => /^COPY /.test(l) && !l.includes('--from='));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const sources = copy
        .replace(/^COPY\s+(--\S+\s+)*/, '')
        .split(/\s+/)
        .slice(0, -1);
      for (const source of sources) {
        expect({ source, exists: existsSync(path.join(ROOT, source)) }).toEqual({ source, exists: true });
        expect(ignored).not.toContain(source);
      }
    }
    const pkg = JSON.parse(read('package.json'));
    expect(pkg.scripts.build).toContain('tsconfig.build.json');
    expect(dockerfile).toMatch(/npm ci/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
  });

  it('keeps secrets and bulk out of the build context', () => {
    for (const entry of ['.git', 'node_modules', 'dist', 'certs']) expect(ignored).toContain(entry);
  });
});
