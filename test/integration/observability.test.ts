/**
 * The status port against a real proxy and MariaDB: counters that are exact (N handshakes show as
 * exactly N), /readyz during a backend outage and during drain, /ca.pem, and the Grafana
 * dashboard's queries against the metric names the proxy really exports.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { startProxy, type ProxyProcess } from '../helpers/proxy';
import { closed, connectRaw, mysql, readPacket, sClient } from '../helpers/clients';
import { probeBackend } from '../../src/net/backend-probe';

const { user, password } = TEST_USERS.native;
const ROOT = path.resolve(__dirname, '../..');
let db: MariaDbServer;

beforeAll(async () => {
  db = await startMariaDb();
});
afterAll(async () => {
  await db?.destroy();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum over every series of `name` whose labels include `labels` (the helper's metric() takes the first). */
function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === `mysql_tls_proxy_${name}`)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((acc, s) => acc + s.value, 0);
}

async function get(port: number, pathname: string): Promise<{ status: number; body: string; type: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${pathname}`);
  return {
    status: response.status,
    body: await response.text(),
    type: response.headers.get('content-type') ?? '',
  };
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const closedLines = (proxy: ProxyProcess) => proxy.logs().filter((l) => l.event === 'connection_closed');

describe('exact counters', () => {
  let proxy: ProxyProcess;
  let text: string;
  const TLS13 = 7;
  const TLS12 = 5;
  const PLAIN = 3;
  const OLD_TLS = 2;
  const REFUSED_IP = 2;

  beforeAll(async () => {
    // 0.0.0.0 so that a client bound to 127.0.0.2 reaches the listener (and is refused by --allow).
    proxy = await startProxy({ backendPort: db.port, args: ['--listen', '0.0.0.0:0'] });
    const ca = await fs.readFile(proxy.caFile);
    const login = async (ssl?: object) => {
      const conn = await mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user, password, ssl });
      await conn.query('SELECT 1');
      await conn.end();
    };
    for (let i = 0; i < TLS13; i++) await login({ ca, minVersion: 'TLSv1.3' });
    for (let i = 0; i < TLS12; i++) await login({ ca, maxVersion: 'TLSv1.2' });
    for (let i = 0; i < PLAIN; i++) await login(undefined);
    for (let i = 0; i < OLD_TLS; i++) {
      const result = await sClient(proxy.port, '-tls1_1', proxy.caFile);
      expect(result.stdout).toMatch(/Cipher is \(NONE\)/);
    }
    for (let i = 0; i < REFUSED_IP; i++) {
      const socket = await connectRaw(proxy.port, '127.0.0.2');
      const packet = await readPacket(socket);
      expect(packet.payload.readUInt16LE(1)).toBe(1130);
      await closed(socket);
    }
    const total = TLS13 + TLS12 + PLAIN + OLD_TLS + REFUSED_IP;
    await waitFor(
      'every connection_closed line',
      async () => closedLines(proxy).length >= total || undefined,
      10_000,
    );
    text = await proxy.metricsText();
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('logs one connection_closed line per connection, no more', () => {
    expect(closedLines(proxy)).toHaveLength(TLS13 + TLS12 + PLAIN + OLD_TLS + REFUSED_IP);
  });

  it('counts TLS handshakes by version exactly, with every cipher labelled', () => {
    const samples = parseSamples(text);
    expect(sum(samples, 'tls_handshakes_total', { version: 'TLSv1.3' })).toBe(TLS13);
    expect(sum(samples, 'tls_handshakes_total', { version: 'TLSv1.2' })).toBe(TLS12);
    expect(sum(samples, 'tls_handshakes_total')).toBe(TLS13 + TLS12);
    const series = samples.filter((s) => s.name === 'mysql_tls_proxy_tls_handshakes_total');
    for (const s of series) {
      expect(s.labels.version).toMatch(/^TLSv1\.[23]$/);
      expect(s.labels.cipher).toMatch(/^(TLS_AES_|TLS_CHACHA20_|ECDHE-)[A-Z0-9_-]+$/);
    }
    // the log line and the metric agree on the cipher
    const logged = closedLines(proxy).filter((l) => l.transport === 'tls');
    for (const s of series) {
      expect(
        logged.filter((l) => l.tls_version === s.labels.version && l.tls_cipher === s.labels.cipher),
      ).toHaveLength(s.value);
    }
  });

  it('observes one handshake duration per handshake', () => {
    const samples = parseSamples(text);
    expect(sum(samples, 'tls_handshake_duration_seconds_count', { version: 'TLSv1.3' })).toBe(TLS13);
    expect(sum(samples, 'tls_handshake_duration_seconds_count', { version: 'TLSv1.2' })).toBe(TLS12);
    expect(sum(samples, 'tls_handshake_duration_seconds_bucket', { version: 'TLSv1.3', le: '+Inf' })).toBe(
      TLS13,
    );
    const seconds = sum(samples, 'tls_handshake_duration_seconds_sum');
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(TLS13 + TLS12); // under a second each on loopback
    // buckets resolve sub-millisecond handshakes and multi-second ones
    const les = samples
      .filter((s) => s.name === 'mysql_tls_proxy_tls_handshake_duration_seconds_bucket')
      .map((s) => (s.labels.le === '+Inf' ? Infinity : Number(s.labels.le)));
    expect(Math.min(...les)).toBeLessThanOrEqual(0.0005);
    expect(Math.max(...les.filter(Number.isFinite))).toBeGreaterThanOrEqual(5);
  });

  it('counts connections, logins, refusals and TLS failures exactly', () => {
    const samples = parseSamples(text);
    expect(sum(samples, 'connections_total', { transport: 'tls' })).toBe(TLS13 + TLS12);
    expect(sum(samples, 'connections_total', { transport: 'plain' })).toBe(PLAIN);
    expect(sum(samples, 'auth_total', { result: 'ok' })).toBe(TLS13 + TLS12 + PLAIN);
    expect(sum(samples, 'auth_total', { result: 'error' })).toBe(0);
    expect(sum(samples, 'tls_handshake_failures_total', { reason: 'unsupported_protocol' })).toBe(OLD_TLS);
    expect(sum(samples, 'tls_handshake_failures_total')).toBe(OLD_TLS);
    expect(sum(samples, 'connections_rejected_total', { reason: 'ip_not_allowed' })).toBe(REFUSED_IP);
    expect(sum(samples, 'connections_rejected_total')).toBe(REFUSED_IP);
    for (const transport of ['tls', 'plain', 'pending']) {
      expect(sum(samples, 'connections_active', { transport })).toBe(0);
    }
    expect(sum(samples, 'bytes_total', { direction: 'client_to_backend' })).toBeGreaterThan(0);
    expect(sum(samples, 'bytes_total', { direction: 'backend_to_client' })).toBeGreaterThan(0);
    expect(sum(samples, 'backend_up')).toBe(1);
  });

  it('uses label values from closed sets only (never addresses or user names)', () => {
    const closedSets: Record<string, RegExp> = {
      version: /^(TLSv1\.[23]|unknown)$/,
      cipher: /^[A-Z0-9_-]+$/,
      reason: /^[a-z_]+$/,
      transport: /^(tls|plain|pending)$/,
      result: /^(ok|error)$/,
      direction: /^(client_to_backend|backend_to_client)$/,
      le: /^([0-9.e-]+|\+Inf)$/,
    };
    // build_info and certificate_info describe the proxy itself: fixed values, never per-client
    const described = new Set(['mysql_tls_proxy_build_info', 'mysql_tls_proxy_certificate_info']);
    for (const s of parseSamples(text).filter(
      (s) => s.name.startsWith('mysql_tls_proxy_') && !described.has(s.name),
    )) {
      for (const [label, value] of Object.entries(s.labels)) {
        expect(closedSets[label]).toBeDefined();
        expect(value).toMatch(closedSets[label]);
      }
    }
    const info = parseSamples(text).filter((s) => described.has(s.name));
    const shapes = info.map((s) => [s.name, Object.keys(s.labels).sort(), s.value]);
    expect(shapes.sort()).toEqual([
      ['mysql_tls_proxy_build_info', ['node', 'openssl', 'version'], 1],
      ['mysql_tls_proxy_certificate_info', ['issuer', 'not_after', 'serial', 'subject'], 1],
    ]);
    expect(text).not.toContain('127.0.0.2');
    expect(text).not.toContain(user);
  });

  it('includes the default process metrics', () => {
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it('serves the dashboard only metric names that /metrics really has', async () => {
    const names = exportedNames(text);
    const dashboard = JSON.parse(
      await fs.readFile(path.join(ROOT, 'deploy/grafana/dashboards/mysql-tls-proxy.json'), 'utf8'),
    );
    const exprs = collectExprs(dashboard);
    expect(exprs.length).toBeGreaterThanOrEqual(8);
    const used = new Set<string>();
    for (const expr of exprs) {
      for (const name of expr.match(/\b(mysql_tls_proxy_[a-z0-9_]+|process_[a-z0-9_]+|nodejs_[a-z0-9_]+)/g) ??
        []) {
        expect({ expr, name, exists: names.has(name) }).toEqual({ expr, name, exists: true });
        used.add(name);
      }
    }
    // the panels the issue asks for
    for (const name of [
      'mysql_tls_proxy_tls_handshakes_total',
      'mysql_tls_proxy_tls_handshake_duration_seconds_bucket',
      'mysql_tls_proxy_connections_active',
      'mysql_tls_proxy_connections_rejected_total',
      'mysql_tls_proxy_bytes_total',
      'mysql_tls_proxy_certificate_expiry_timestamp_seconds',
    ]) {
      expect(used).toContain(name);
    }
  });
});

/** Every sample name /metrics can have, from its # TYPE lines (histograms expand to three). */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match;
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}

function collectExprs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((child) => collectExprs(child, out));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'expr' && typeof value === 'string') out.push(value);
      else collectExprs(value, out);
    }
  }
  return out;
}

describe('backend probe', () => {
  it('logs in cleanly, so probes never get the proxy host-blocked (max_connect_errors=10)', async () => {
    // A bare connect-and-close would be a handshake error counted against 127.0.0.2; after 10 of
    // them MariaDB answers ERR 1129 "Host is blocked". The probe finishes a login instead.
    for (let i = 0; i < 15; i++) {
      const result = await probeBackend({
        backend: { host: '127.0.0.1', port: db.port },
        localAddress: '127.0.0.2',
        timeoutMs: 5_000,
      });
      expect(result).toMatchObject({
        ok: true,
        detail: expect.stringMatching(/^login answered with ERR 1045/),
      });
    }
    const socket = await connectRaw(db.port, '127.0.0.2');
    const greeting = await readPacket(socket);
    expect(greeting.payload[0]).toBe(10); // a greeting, not ERR 1129
    socket.destroy();
  });

  it('fails fast on a closed port and names the error', async () => {
    const result = await probeBackend({ backend: { host: '127.0.0.1', port: 1 }, timeoutMs: 5_000 });
    expect(result).toMatchObject({ ok: false, detail: 'ECONNREFUSED' });
  });
});

describe('status endpoints', () => {
  let proxy: ProxyProcess;

  beforeAll(async () => {
    proxy = await startProxy({
      backendPort: db.port,
      args: ['--drain-timeout', '20000', '--backend-probe-interval', '500', '--backend-probe-failures', '3'],
    });
  });
  afterAll(async () => {
    await proxy?.stop('SIGKILL');
  });

  it('serves the CA file byte for byte at /ca.pem', async () => {
    const response = await fetch(`http://127.0.0.1:${proxy.statusPort}/ca.pem`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-pem-file');
    expect(Buffer.from(await response.arrayBuffer())).toEqual(await fs.readFile(proxy.caFile));
  });

  it('answers /healthz and /readyz, and serves the live page at /', async () => {
    expect(await get(proxy.statusPort, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(proxy.statusPort, '/readyz')).toMatchObject({ status: 200, body: 'ready\n' });
    const page = await get(proxy.statusPort, '/');
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect((await get(proxy.statusPort, '/nope')).status).toBe(404);
  });

  it('listens on loopback only by default', async () => {
    // the helper passes --status 127.0.0.1:0; the default is checked in the unit tests
    const listening = proxy.logs().find((l) => l.event === 'listening');
    expect(String(listening?.status)).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('reports not ready after the backend failed three probes, and ready after one success', async () => {
    await db.stop();
    try {
      const started = Date.now();
      const notReady = await waitFor(
        '/readyz 503',
        async () => {
          const r = await get(proxy.statusPort, '/readyz');
          return r.status === 503 ? r : undefined;
        },
        30_000,
      );
      expect(notReady.body).toMatch(/^not ready: backend unreachable \(ECONNREFUSED\)/);
      // three probes 500 ms apart: not after the first failed one
      expect(Date.now() - started).toBeGreaterThan(700);
      expect(await proxy.metric('backend_up')).toBe(0);
      await proxy.waitForLog((l) => l.event === 'backend_unreachable');
      expect((await get(proxy.statusPort, '/healthz')).status).toBe(200); // alive, just not ready
    } finally {
      await db.start();
    }
    await waitFor(
      '/readyz 200',
      async () => ((await get(proxy.statusPort, '/readyz')).status === 200 ? true : undefined),
      15_000,
    );
    expect(await proxy.metric('backend_up')).toBe(1);
    await proxy.waitForLog((l) => l.event === 'backend_reachable');
  });

  it('reports not ready while draining, with the reason', async () => {
    const ca = await fs.readFile(proxy.caFile);
    const conn = await mysql.createConnection({
      host: '127.0.0.1',
      port: proxy.port,
      user,
      password,
      ssl: { ca },
    });
    proxy.child.kill('SIGTERM');
    await proxy.waitForLog((l) => l.event === 'draining');
    const during = await get(proxy.statusPort, '/readyz');
    expect(during.status).toBe(503);
    expect(during.body).toBe('not ready: draining\n');
    expect((await get(proxy.statusPort, '/healthz')).status).toBe(200);
    await conn.end();
    expect(await proxy.stop()).toEqual({ code: 0, signal: null });
  });
});
