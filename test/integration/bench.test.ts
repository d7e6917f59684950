/**
 * `mysql-tls-proxy bench` (the built CLI) against a real MariaDB with native TLS and against the
 * proxy in front of it: counts agree with MariaDB's `Connections` status and the proxy's metrics,
 * the open loop holds its rate, and failures are classified by kind.
 */
import { execFile } from 'child_process';
import { promises as fs } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { certPathsIn, writeCertificates } from '../../src/tls/cert-files';
import { generateDevCertificates } from '../../src/tls/dev-certs';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { CLI, startProxy, type ProxyProcess } from '../helpers/proxy';

const { user, password } = TEST_USERS.native;
let dir: string;
let caFile: string;
let db: MariaDbServer;
let proxy: ProxyProcess;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

function bench(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'bench', ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        let json: unknown;
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr, json });
      },
    );
  });
}

const connectionsStatus = async (): Promise<number> =>
  Number((await db.sql("SHOW GLOBAL STATUS LIKE 'Connections'")).split(/\s+/)[1]);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls the proxy's metric until it reaches `expected` (sessions are counted as they close). */
async function metricReaches(
  name: string,
  labels: Record<string, string>,
  expected: number,
): Promise<number> {
  const deadline = Date.now() + 5000;
  let value = await proxy.metric(name, labels);
  while (value < expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await proxy.metric(name, labels);
  }
  return value;
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-bench-test-'));
  const paths = certPathsIn(dir);
  await writeCertificates(
    paths,
    await generateDevCertificates({
      hosts: ['localhost', '127.0.0.1'],
      keyType: 'ecdsa',
      rsaBits: 2048,
      days: 2,
    }),
    { force: true },
  );
  caFile = paths.caCert;
  db = await startMariaDb({ tls: { cert: paths.serverCert, key: paths.serverKey, ca: paths.caCert } });
  // No readiness probes during the run: each is a login MariaDB would count next to the bench's
  // (the first test compares MariaDB's Connections with the bench's count).
  proxy = await startProxy({ backendPort: db.port, args: ['--backend-probe-interval', '3600000'] });
});

afterAll(async () => {
  await proxy?.stop();
  await db?.destroy();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('against MariaDB with native TLS', () => {
  it('opens exactly the requested connections, verified, and MariaDB counts the same', async () => {
    const before = await connectionsStatus();
    const run = await bench([
      '--target',
      `127.0.0.1:${db.port}`,
      '--user',
      user,
      '--password',
      password,
      '--ca',
      caFile,
      '--connections',
      '200',
      '--concurrency',
      '8',
      '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.json).toMatchObject({ attempts: 200, connections: 200, errors: 0, verified: true });
    expect(run.json.rate).toBeGreaterThan(0);
    expect(run.json.p50_ms).toBeGreaterThan(0);
    expect(run.json.p99_ms).toBeGreaterThanOrEqual(run.json.p50_ms);
    expect(run.json.max_ms).toBeGreaterThanOrEqual(run.json.p99_ms);
    expect(run.json.tls_versions).toEqual({ 'TLSv1.3': 200 });
    // +1: the connection that reads the status counts itself
    expect((await connectionsStatus()) - before).toBe(201);
  });

  it('spreads the load over worker threads, runs a query, pins TLS 1.2', async () => {
    const run = await bench([
      '--target',
      `127.0.0.1:${db.port}`,
      '--user',
      user,
      '--password',
      password,
      '--tls-version',
      'TLSv1.2',
      '--workers',
      '2',
      '--concurrency',
      '4',
      '--connections',
      '100',
      '--query',
      'SELECT 1',
      '--json',
    ]);
    expect(run.code).toBe(0);
    expect(run.json).toMatchObject({ workers: 2, attempts: 100, connections: 100, errors: 0 });
    expect(run.json.tls_versions).toEqual({ 'TLSv1.2': 100 });
  });

  it('holds an open-loop rate the server can sustain', async () => {
    const run = await bench([
      '--target',
      `127.0.0.1:${db.port}`,
      '--user',
      user,
      '--password',
      password,
      '--rate',
      '20',
      '--duration',
      '2',
      '--json',
    ]);
    expect(run.code).toBe(0);
    expect(run.json.loop).toBe('open');
    expect(run.json.attempts).toBe(40);
    expect(run.json.connections).toBe(40);
    // 40 arrivals scheduled over 2 s (a rate a busy shared CI machine sustains); the last one
    // finishes a little after
    expect(run.json.rate).toBeGreaterThan(17);
    expect(run.json.rate).toBeLessThanOrEqual(21);
  });

  it('classifies a wrong password as mysql_err 1045 and exits 1 when nothing succeeded', async () => {
    const run = await bench([
      '--target',
      `127.0.0.1:${db.port}`,
      '--user',
      user,
      '--password',
      'wrong',
      '--connections',
      '5',
      '--json',
    ]);
    expect(run.code).toBe(1);
    expect(run.json).toMatchObject({ connections: 0, errors: 5, errors_by_kind: { mysql_err: 5 } });
    expect(run.json.error_details[0]).toMatchObject({ key: 'mysql_err 1045', code: 1045, count: 5 });
  });
});

describe('against the proxy', () => {
  it("agrees with the proxy's metrics and MariaDB's Connections", async () => {
    const labels = { version: 'TLSv1.3' };
    const handshakes = await proxy.metric('tls_handshakes_total', labels);
    const tlsConnections = await proxy.metric('connections_total', { transport: 'tls' });
    const authOk = await proxy.metric('auth_total', { result: 'ok' });
    const before = await connectionsStatus();
    const run = await bench([
      '--target',
      `127.0.0.1:${proxy.port}`,
      '--user',
      user,
      '--password',
      password,
      '--ca',
      proxy.caFile,
      '--tls-version',
      'TLSv1.3',
      '--connections',
      '40',
      '--concurrency',
      '4',
      '--json',
    ]);
    expect(run.code).toBe(0);
    // A count, not a duration: on a busy shared machine 2 s may hold only a few connections
    const n = run.json.connections;
    expect(n).toBe(40);
    expect(run.json.errors).toBe(0);
    expect(run.json.attempts).toBe(n);
    expect(await metricReaches('tls_handshakes_total', labels, handshakes + n)).toBe(handshakes + n);
    expect(await metricReaches('connections_total', { transport: 'tls' }, tlsConnections + n)).toBe(
      tlsConnections + n,
    );
    expect(await metricReaches('auth_total', { result: 'ok' }, authOk + n)).toBe(authOk + n);
    // +1 for the status query itself; the proxy's own readiness probe may log in now and then too
    const backendConnections = (await connectionsStatus()) - before;
    expect(backendConnections).toBeGreaterThanOrEqual(n + 1);
    expect(backendConnections).toBeLessThanOrEqual(n + 4);
  });

  it('takes every flag from MTP_* environment variables too', async () => {
    const run = await bench([], {
      MTP_TARGET: `127.0.0.1:${proxy.port}`,
      MTP_USER: user,
      MTP_PASSWORD: password,
      MTP_CONNECTIONS: '10',
      MTP_MODE: 'tls-only',
      MTP_JSON: 'true',
    });
    expect(run.code).toBe(0);
    expect(run.json).toMatchObject({ mode: 'tls-only', connections: 10, errors: 0 });
  });

  it('prints a human summary by default', async () => {
    const run = await bench([
      '--target',
      `127.0.0.1:${proxy.port}`,
      '--user',
      user,
      '--password',
      password,
      '--connections',
      '20',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/connections\s+20 ok, 0 failed/);
    expect(run.stdout).toMatch(/latency ms\s+p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+ +p99\.9 [\d.]+ +max [\d.]+/);
    expect(run.stdout).toMatch(/TLS versions\s+TLSv1\.3 20/);
    expect(run.stdout).toMatch(/errors\s+none/);
  });
});

describe('load testers keep it', () => {
  const target = (): string[] => ['--target', `127.0.0.1:${proxy.port}`, '--user', user];

  it('times every phase, takes the password from MYSQL_PWD and reports client CPU per connection', async () => {
    const run = await bench([...target(), '--connections', '40', '--query', 'SELECT 1', '--json'], {
      MYSQL_PWD: password,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.json).toMatchObject({ connections: 40, errors: 0, passed: true });
    for (const phase of ['connect', 'greeting', 'tls', 'auth', 'query', 'total']) {
      expect(run.json.phases[phase].count).toBe(40);
      expect(run.json.phases[phase].p99_ms).toBeGreaterThanOrEqual(run.json.phases[phase].p50_ms);
    }
    expect(run.json.phases.total.p50_ms).toBe(run.json.p50_ms);
    expect(run.json.phases.tls.p50_ms).toBeLessThan(run.json.phases.total.p50_ms);
    expect(run.json.cpu_us_per_connection).toBeGreaterThan(0);
    expect(run.json.cpu_us_per_connection).toBeCloseTo((run.json.cpu_s * 1e6) / 40, -2);
    // without MYSQL_PWD the same login fails: the password really came from the environment
    const denied = await bench([...target(), '--connections', '2', '--json']);
    expect(denied.json.error_details[0].code).toBe(1045);
  });

  it('prints --report-interval lines to a pipe, then the summary with a phase table', async () => {
    const run = await bench(
      [...target(), '--duration', '2.5', '--concurrency', '2', '--report-interval', '1'],
      {
        MYSQL_PWD: password,
      },
    );
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n').filter((l) => /^\[\s*[\d.]+s\]/.test(l));
    // 1 s, 2 s, and the half second after
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(3);
    expect(lines[0]).toMatch(
      /^\[\s+1\.\ds\] [\d.]+\/s ok {2}0 errors {2}p50\/p99 ms {2}connect [\d.]+\/[\d.]+ {2}greeting [\d.]+\/[\d.]+ {2}tls [\d.]+\/[\d.]+ {2}auth [\d.]+\/[\d.]+ {2}total [\d.]+\/[\d.]+$/,
    );
    expect(run.stdout.indexOf(lines[0])).toBeLessThan(run.stdout.indexOf('connections   '));
    expect(run.stdout).toMatch(/^ {2}tls +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +\d+$/m);
    expect(run.stdout).toMatch(/client CPU +[\d.]+ s, [\d.]+ µs per connection/);
  });

  it('--json with --report-interval: one object per interval, then the summary carrying them', async () => {
    const run = await bench(
      [
        ...target(),
        '--duration',
        '2',
        '--workers',
        '2',
        '--concurrency',
        '2',
        '--report-interval',
        '0.5',
        '--json',
      ],
      { MYSQL_PWD: password },
    );
    expect(run.code).toBe(0);
    const objects = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const summary = objects.pop();
    expect(objects.length).toBeGreaterThanOrEqual(3);
    expect(objects.every((o) => o.type === 'interval' && o.phases.tls.count > 0)).toBe(true);
    expect(summary.intervals).toEqual(objects);
    // every measured connection is in exactly one interval, over both workers
    expect(objects.reduce((n, o) => n + o.connections, 0)).toBe(summary.connections);
  });

  it('--warmup connections are not counted', async () => {
    const handshakes = await proxy.metric('tls_handshakes_total', { version: 'TLSv1.3' });
    const run = await bench([...target(), '--warmup', '1', '--connections', '30', '--json'], {
      MYSQL_PWD: password,
    });
    expect(run.code).toBe(0);
    expect(run.json.warmup.connections).toBeGreaterThan(0);
    expect(run.json).toMatchObject({ warmup_s: 1, attempts: 30, connections: 30 });
    expect(run.json.phases.total.count).toBe(30);
    expect(run.json.elapsed_s).toBeLessThan(1.5 + run.json.phases.total.max_ms / 1000);
    // the proxy saw both: the warmup's and the measured connections
    expect(
      await metricReaches(
        'tls_handshakes_total',
        { version: 'TLSv1.3' },
        handshakes + 30 + run.json.warmup.connections,
      ),
    ).toBe(handshakes + 30 + run.json.warmup.connections);
  });

  it('exits 1 with one line naming the threshold and the measured value when a p99 is crossed', async () => {
    const run = await bench([...target(), '--connections', '20', '--max-p99-ms', 'tls=0.001,total=60000'], {
      MYSQL_PWD: password,
    });
    expect(run.code).toBe(1);
    const stderr = run.stderr.trim().split('\n');
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(/^bench: threshold crossed: p99 tls [\d.]+ ms > --max-p99-ms tls=0\.001$/);
    expect(run.stdout).toMatch(/threshold +CROSSED +--max-p99-ms tls=0\.001 \(measured [\d.]+ ms\)/);
    expect(run.stdout).toMatch(/threshold +ok +--max-p99-ms total=60000/);
  });

  it('passes under its thresholds and fails on the error rate', async () => {
    const ok = await bench(
      [
        ...target(),
        '--connections',
        '20',
        '--max-p99-ms',
        'total=60000',
        '--max-p99-ms',
        'auth=60000',
        '--max-error-rate',
        '0',
        '--json',
      ],
      { MYSQL_PWD: password },
    );
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe('');
    expect(ok.json.passed).toBe(true);
    expect(ok.json.thresholds).toHaveLength(3);
    const bad = await bench([...target(), '--connections', '4', '--max-error-rate', '10%', '--json'], {
      MYSQL_PWD: 'wrong',
    });
    expect(bad.code).toBe(1);
    expect(bad.json.passed).toBe(false);
    expect(bad.stderr.trim()).toBe('bench: threshold crossed: error rate 100% > --max-error-rate 10%');
  });
});

describe('error kinds', () => {
  it('backend stopped behind the proxy: mysql_err 2003; nothing listening: refused', async () => {
    const deadPort = await freePort();
    const orphan = await startProxy({ backendPort: deadPort });
    try {
      const viaProxy = await bench([
        '--target',
        `127.0.0.1:${orphan.port}`,
        '--user',
        user,
        '--password',
        password,
        '--connections',
        '3',
        '--json',
      ]);
      expect(viaProxy.json).toMatchObject({ connections: 0, errors: 3, errors_by_kind: { mysql_err: 3 } });
      expect(viaProxy.json.error_details[0].code).toBe(2003);
    } finally {
      await orphan.stop();
    }
    const direct = await bench([
      '--target',
      `127.0.0.1:${deadPort}`,
      '--user',
      user,
      '--connections',
      '3',
      '--json',
    ]);
    expect(direct.code).toBe(1);
    expect(direct.json).toMatchObject({ errors: 3, errors_by_kind: { refused: 3 } });
  });

  it('a TLS version the server refuses: tls_alert protocol_version', async () => {
    const strict = await startProxy({
      backendPort: db.port,
      args: ['--tls-min-version', 'TLSv1.3'],
    });
    try {
      const run = await bench([
        '--target',
        `127.0.0.1:${strict.port}`,
        '--user',
        user,
        '--password',
        password,
        '--tls-version',
        'TLSv1.2',
        '--connections',
        '3',
        '--json',
      ]);
      expect(run.json).toMatchObject({ connections: 0, errors: 3, errors_by_kind: { tls_alert: 3 } });
      expect(run.json.error_details[0]).toMatchObject({ key: 'tls_alert protocol_version', stage: 'tls' });
    } finally {
      await strict.stop();
    }
  });

  it('a server that never answers: timeout; one that hangs up: closed', async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((socket) => held.push(socket));
    const hangup = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => hangup.listen(0, '127.0.0.1', resolve));
    try {
      const [slow, closed] = await Promise.all([
        bench([
          '--target',
          `127.0.0.1:${(silent.address() as net.AddressInfo).port}`,
          '--user',
          user,
          '--connections',
          '2',
          '--timeout',
          '300',
          '--json',
        ]),
        bench([
          '--target',
          `127.0.0.1:${(hangup.address() as net.AddressInfo).port}`,
          '--user',
          user,
          '--connections',
          '2',
          '--json',
        ]),
      ]);
      expect(slow.json).toMatchObject({ errors: 2, errors_by_kind: { timeout: 2 } });
      expect(closed.json).toMatchObject({ errors: 2, errors_by_kind: { closed: 2 } });
    } finally {
      held.forEach((socket) => socket.destroy());
      await new Promise((resolve) => silent.close(resolve));
      await new Promise((resolve) => hangup.close(resolve));
    }
  });
});

describe('usage', () => {
  it.each([
    [['--user', 'x'], /--target/],
    [['--target', '127.0.0.1:1', '--user', 'x', '--duration', '1', '--connections', '2'], /either/],
    [['--target', '127.0.0.1:1', '--user', 'x', '--tls-version', 'TLSv1.1'], /tls-version/],
    [['--target', '127.0.0.1:1', '--user', 'x', '--max-p99-ms', 'query=5'], /does not measure query/],
    [['--target', '127.0.0.1:1', '--user', 'x', '--max-p99-ms', 'tls=fast'], /--max-p99-ms tls/],
  ])('exits 2 with one line for %p', async (args, message) => {
    const run = await bench(args as string[]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(message);
  });
});
