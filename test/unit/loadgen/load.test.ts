import {
  LoadRunner,
  mergeResults,
  scheduledArrivals,
  splitEvenly,
  type LoadConfig,
  type LoadResult,
} from '../../../src/loadgen/load';
import { benchJson, benchText, progressLine } from '../../../src/loadgen/report';
import { planShares } from '../../../src/loadgen/run';
import { benchPlan, type BenchArgs } from '../../../src/cli/bench';
import { ConfigError } from '../../../src/config/errors';
import { generateDevCertificates, type GeneratedPem } from '../../../src/tls/dev-certs';
import { startFakeServer, type FakeServer } from '../../helpers/fake-mysql-server';

let pem: GeneratedPem;
let server: FakeServer;

beforeAll(async () => {
  pem = await generateDevCertificates({
    hosts: ['localhost', '127.0.0.1'],
    keyType: 'ecdsa',
    rsaBits: 2048,
    days: 1,
  });
  server = await startFakeServer({
    login: 'sha2-fast',
    password: 'pw',
    tls: { cert: pem.serverCert, key: pem.serverKey },
  });
});
afterAll(() => server.close());

const config = (over: Partial<LoadConfig>): LoadConfig => ({
  host: '127.0.0.1',
  port: server?.port ?? 0,
  user: 'u',
  password: 'pw',
  ca: pem?.caCert,
  mode: 'full',
  resume: false,
  concurrency: 4,
  timeoutMs: 3000,
  ...over,
});

describe('splitEvenly', () => {
  it('splits totals as evenly as possible', () => {
    expect(splitEvenly(10, 3)).toEqual([4, 3, 3]);
    expect(splitEvenly(2, 4)).toEqual([1, 1, 0, 0]);
    expect(splitEvenly(8, 1)).toEqual([8]);
  });
});

describe('planShares', () => {
  const plan = { ...config({}), workers: 3 };
  it('gives each worker a share of the concurrency and the connection budget', () => {
    const shares = planShares({ ...plan, concurrency: 10, connections: 100 });
    expect(shares.map((s) => s.concurrency)).toEqual([4, 3, 3]);
    expect(shares.map((s) => s.connections)).toEqual([34, 33, 33]);
  });
  it('never starts more closed-loop workers than connections in flight', () => {
    expect(planShares({ ...plan, concurrency: 2 })).toHaveLength(2);
  });
  it('interleaves the open-loop schedules', () => {
    const shares = planShares({ ...plan, rate: 300, concurrency: 30 });
    expect(shares.map((s) => s.rate)).toEqual([100, 100, 100]);
    expect(shares.map((s) => s.phaseMs)).toEqual([0, 1000 / 300, 2000 / 300]);
  });
  it('schedules exactly rate x duration arrivals over all workers, whatever the rounding', () => {
    // 19/s for 1 s drifted to 20 when arrivals were found by comparing n * (1000 / rate) with the end
    const wrong: string[] = [];
    for (let rate = 1; rate <= 500; rate++) {
      for (const workers of [1, 2, 3, 7]) {
        for (const seconds of [1, 2, 5]) {
          const shares = planShares({ ...plan, workers, rate, concurrency: 8 });
          const total = shares.reduce(
            (sum, s) => sum + scheduledArrivals(s.rate ?? 0, s.phaseMs ?? 0, seconds * 1000),
            0,
          );
          if (total !== rate * seconds) wrong.push(`${rate}/s x ${seconds} s on ${workers}: ${total}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('LoadRunner', () => {
  it('runs a closed loop to a connection budget', async () => {
    const result = await new LoadRunner(config({ connections: 25, query: 'select 1' })).run();
    expect(result).toMatchObject({
      attempts: 25,
      connections: 25,
      errors: 0,
      tlsVersions: { 'TLSv1.3': 25 },
    });
    expect(result.latencyUs.count).toBe(25);
  });

  it('holds an open-loop rate and measures from the scheduled time', async () => {
    const started = Date.now();
    const result = await new LoadRunner(config({ rate: 50, durationMs: 1000 })).run();
    expect(result.attempts).toBe(50);
    expect(result.connections).toBe(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('counts errors by kind with details', async () => {
    const result = await new LoadRunner(config({ connections: 5, port: 1 })).run();
    expect(result).toMatchObject({ attempts: 5, connections: 0, errors: 5, errorsByKind: { refused: 5 } });
    expect(result.errorDetails.refused.count).toBe(5);
  });

  it('resumes TLS sessions with resume', async () => {
    const result = await new LoadRunner(config({ connections: 10, concurrency: 1, resume: true })).run();
    expect(result.connections).toBe(10);
    expect(result.resumed).toBeGreaterThanOrEqual(8);
  });

  it('tls-only stops after the handshake', async () => {
    const before = server.events.filter((e) => e === 'login-ok').length;
    const result = await new LoadRunner(config({ connections: 5, mode: 'tls-only' })).run();
    expect(result.connections).toBe(5);
    expect(server.events.filter((e) => e === 'login-ok').length).toBe(before);
  });

  it('times every phase of every successful connection', async () => {
    const result = await new LoadRunner(config({ connections: 12, query: 'select 1' })).run();
    const counts = Object.fromEntries(Object.entries(result.phasesUs).map(([p, h]) => [p, h!.count]));
    expect(counts).toEqual({ connect: 12, greeting: 12, tls: 12, auth: 12, query: 12, total: 12 });
    expect(result.phasesUs.total).toEqual(result.latencyUs);
    // The phases happen one after another inside the total.
    const mean = (p: keyof typeof result.phasesUs): number => result.phasesUs[p]!.sum / 12;
    const parts = mean('connect') + mean('greeting') + mean('tls') + mean('auth') + mean('query');
    expect(parts).toBeLessThanOrEqual(mean('total') + 12);
    expect(mean('tls')).toBeGreaterThan(0);
  });

  it('tls-only has no auth or query phase', async () => {
    const result = await new LoadRunner(config({ connections: 3, mode: 'tls-only' })).run();
    expect(Object.keys(result.phasesUs).sort()).toEqual(['connect', 'greeting', 'tls', 'total']);
  });

  it('warms up first and counts nothing of the warmup', async () => {
    const logins = (): number => server.events.filter((e) => e === 'login-ok').length;
    const before = logins();
    const runner = new LoadRunner(config({ connections: 10, warmupMs: 300, concurrency: 2 }));
    let progressAtStart: unknown;
    runner.onMeasuring = () => (progressAtStart = { ...runner.progress });
    const result = await runner.run();
    expect(progressAtStart).toEqual({ attempts: 0, connections: 0, errors: 0 });
    expect(result.warmup.connections).toBeGreaterThan(0);
    expect(result).toMatchObject({ attempts: 10, connections: 10, errors: 0 });
    expect(result.latencyUs.count).toBe(10);
    expect(result.phasesUs.tls!.count).toBe(10);
    expect(logins() - before).toBe(10 + result.warmup.connections);
  });

  it('hands out interval samples that add up to the run', async () => {
    const runner = new LoadRunner(config({ connections: 20, concurrency: 2, intervals: true }));
    const samples: Array<ReturnType<LoadRunner['takeInterval']>> = [];
    const timer = setInterval(() => samples.push(runner.takeInterval()), 20);
    const result = await runner.run();
    clearInterval(timer);
    samples.push(runner.takeInterval());
    expect(samples.reduce((n, s) => n + s.connections, 0)).toBe(20);
    expect(samples.reduce((n, s) => n + (s.phasesUs.total?.count ?? 0), 0)).toBe(20);
    expect(result.connections).toBe(20);
    expect(runner.takeInterval()).toEqual({ attempts: 0, connections: 0, errors: 0, phasesUs: {} });
  });
});

describe('reports', () => {
  const one = (over: Partial<LoadResult>): LoadResult => ({
    attempts: 0,
    connections: 0,
    errors: 0,
    resumed: 0,
    latencyUs: { buckets: [], count: 0, min: 0, max: 0, sum: 0 },
    phasesUs: {},
    warmup: { attempts: 0, connections: 0, errors: 0 },
    tlsVersions: {},
    ciphers: {},
    errorsByKind: {},
    errorDetails: {},
    startedAt: 1000,
    finishedAt: 3000,
    delayedArrivals: 0,
    ...over,
  });

  it('merges worker results and computes rate and percentiles', () => {
    const merged = mergeResults([
      one({
        attempts: 10,
        connections: 9,
        errors: 1,
        phasesUs: { total: { buckets: [[1000, 9]], count: 9, min: 1000, max: 1000, sum: 9000 } },
        tlsVersions: { 'TLSv1.3': 9 },
        errorsByKind: { mysql_err: 1 },
        errorDetails: {
          'mysql_err 1045': { kind: 'mysql_err', stage: 'auth', code: 1045, message: 'denied', count: 1 },
        },
      }),
      one({
        attempts: 11,
        connections: 11,
        phasesUs: { total: { buckets: [[2000, 11]], count: 11, min: 2000, max: 2000, sum: 22000 } },
        tlsVersions: { 'TLSv1.3': 11 },
        startedAt: 1500,
        finishedAt: 5000,
      }),
    ]);
    const json = benchJson(merged, {
      target: 'h:1',
      mode: 'full',
      workers: 2,
      concurrency: 4,
      resume: false,
      verified: true,
      cpuS: 2,
    });
    expect(json).toMatchObject({
      attempts: 21,
      connections: 20,
      errors: 1,
      elapsed_s: 4,
      rate: 5,
      p50_ms: 2,
      max_ms: 2,
      min_ms: 1,
      tls_versions: { 'TLSv1.3': 20 },
      errors_by_kind: { refused: 0, timeout: 0, tls_alert: 0, mysql_err: 1, closed: 0, other: 0 },
      connections_per_cpu_s: 10,
      loop: 'closed',
    });
    expect(json.error_details[0]).toMatchObject({ key: 'mysql_err 1045', count: 1, code: 1045 });
    const text = benchText(json);
    expect(text).toContain('5.0 connections/s');
    expect(text).toContain('mysql_err 1');
    expect(text).toContain('mysql_err 1045: denied');
  });

  it('draws a progress bar', () => {
    expect(progressLine({ attempts: 5, connections: 4, errors: 1 }, 0.5, 123.4, 10)).toBe(
      '[====>     ]  50%  4 ok  1 errors  123/s',
    );
    expect(progressLine({ attempts: 0, connections: 0, errors: 0 }, 0, 0, 4)).toBe(
      '[    ]   0%  0 ok  0 errors  0/s',
    );
  });
});

describe('bench arguments', () => {
  const args = (over: Partial<BenchArgs>): BenchArgs => ({
    target: '127.0.0.1:4000',
    user: 'app',
    password: 'pw',
    mode: 'full',
    resume: false,
    workers: 1,
    timeout: 10000,
    json: false,
    ...over,
  });

  it('defaults to a 10 s closed loop at concurrency 10', () => {
    expect(benchPlan(args({}))).toMatchObject({
      host: '127.0.0.1',
      port: 4000,
      concurrency: 10,
      durationMs: 10000,
      workers: 1,
    });
  });

  it('defaults to 1000 in flight in open loop', () => {
    expect(benchPlan(args({ rate: 100 }))).toMatchObject({ rate: 100, concurrency: 1000 });
  });

  it.each<[Partial<BenchArgs>, RegExp]>([
    [{ target: undefined }, /--target/],
    [{ target: 'nohost' }, /HOST:PORT/],
    [{ user: undefined }, /--user/],
    [{ duration: 1, connections: 5 }, /either/],
    [{ concurrency: 0 }, /--concurrency/],
    [{ concurrency: 1.5 }, /--concurrency/],
    [{ rate: -1 }, /--rate/],
    [{ workers: -1 }, /--workers/],
    [{ ca: '/nonexistent/ca.pem' }, /--ca/],
  ])('refuses %p', (over, message) => {
    expect(() => benchPlan(args(over))).toThrow(ConfigError);
    expect(() => benchPlan(args(over))).toThrow(message);
  });

  it('takes the password from MYSQL_PWD unless --password is given', () => {
    expect(benchPlan(args({ password: undefined }), { MYSQL_PWD: 'from-env' }).password).toBe('from-env');
    expect(benchPlan(args({ password: 'flag' }), { MYSQL_PWD: 'from-env' }).password).toBe('flag');
    expect(benchPlan(args({ password: undefined }), {}).password).toBe('');
  });

  it('parses warmup, report interval and thresholds', () => {
    expect(
      benchPlan(
        args({
          warmup: 2,
          'report-interval': 1,
          'max-error-rate': '1%',
          'max-p99-ms': ['tls=5,total=20', 'auth=3'],
        }),
      ),
    ).toMatchObject({
      warmupMs: 2000,
      intervals: true,
      reportIntervalS: 1,
      thresholds: { maxErrorRate: 0.01, maxP99Ms: { tls: 5, total: 20, auth: 3 } },
    });
  });

  it.each<[Partial<BenchArgs>, RegExp]>([
    [{ warmup: -1 }, /--warmup/],
    [{ 'report-interval': 0 }, /--report-interval/],
    [{ 'max-p99-ms': ['query=5'] }, /does not measure query/],
    [{ 'max-p99-ms': ['auth=5'], mode: 'tls-only' }, /does not measure auth/],
    [{ 'max-p99-ms': ['handshake=5'] }, /unknown phase/],
    [{ 'max-error-rate': '2' }, /--max-error-rate/],
  ])('refuses %p', (over, message) => {
    expect(() => benchPlan(args(over))).toThrow(message);
  });

  it('needs no user for tls-only', () => {
    expect(benchPlan(args({ user: undefined, mode: 'tls-only' })).mode).toBe('tls-only');
  });
});
