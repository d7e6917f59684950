import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { ProxyMetrics } from '../../../src/observability/metrics';
import type { Logger } from '../../../src/observability/logger';
import { loadCredentials, type LoadedCredentials, type TlsPolicy } from '../../../src/tls/credentials';
import {
  generateDevCertificates,
  issueServerCertificate,
  type GeneratedPem,
} from '../../../src/tls/dev-certs';
import { CertificateReloader, DAY_MS, reportExpiry } from '../../../src/tls/reloader';
import { SERVE_DEFAULTS } from '../../../src/config/defaults';

const policy: TlsPolicy = {
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.3',
  ciphers: SERVE_DEFAULTS.ciphers,
  ecdhCurves: SERVE_DEFAULTS.ecdhCurves,
};

interface Line {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

function fakeLogger(lines: Line[]): Logger {
  const at = (level: string) => (fields: Record<string, unknown>, message: string) =>
    lines.push({ level, fields, message });
  return { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') } as unknown as Logger;
}

let dir: string;
let pem: GeneratedPem;
let files: { cert: string; key: string; caFile: string };

beforeAll(async () => {
  pem = await generateDevCertificates({ hosts: ['localhost'], keyType: 'ecdsa', rsaBits: 2048, days: 30 });
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reloader-test-'));
  files = {
    cert: path.join(dir, 'server.pem'),
    key: path.join(dir, 'server-key.pem'),
    caFile: path.join(dir, 'ca.pem'),
  };
  fs.writeFileSync(files.cert, pem.serverCert);
  fs.writeFileSync(files.key, pem.serverKey);
  fs.writeFileSync(files.caFile, pem.caCert);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function setup(): {
  reloader: CertificateReloader;
  lines: Line[];
  applied: LoadedCredentials[];
  metrics: ProxyMetrics;
} {
  const lines: Line[] = [];
  const applied: LoadedCredentials[] = [];
  const metrics = new ProxyMetrics({ processMetrics: false });
  const reloader = new CertificateReloader(
    { paths: files, policy, logger: fakeLogger(lines), metrics, apply: (next) => applied.push(next) },
    loadCredentials(files, policy),
  );
  return { reloader, lines, applied, metrics };
}

async function counter(metrics: ProxyMetrics, result: string): Promise<number> {
  const data = await metrics.certificateReloads.get();
  return data.values.find((v) => v.labels.result === result)?.value ?? 0;
}

async function gauge(metrics: ProxyMetrics): Promise<number> {
  return (await metrics.certificateExpiry.get()).values[0].value;
}

it('swaps in a renewed certificate, counts ok and moves the expiry gauge', async () => {
  const { reloader, lines, applied, metrics } = setup();
  expect(await gauge(metrics)).toBe(new Date(new X509Certificate(pem.serverCert).validTo).getTime() / 1000);
  const next = await issueServerCertificate(
    { cert: pem.caCert, key: pem.caKey },
    { hosts: ['localhost'], keyType: 'ecdsa', rsaBits: 2048, days: 60 },
  );
  fs.writeFileSync(files.key, next.serverKey);
  fs.writeFileSync(files.cert, next.serverCert);
  expect(await reloader.reload('sighup')).toBe('reloaded');
  const serial = new X509Certificate(next.serverCert).serialNumber;
  expect(applied.map((c) => c.serialNumber)).toEqual([serial]);
  expect(reloader.current.serialNumber).toBe(serial);
  expect(await counter(metrics, 'ok')).toBe(1);
  expect(await gauge(metrics)).toBe(new Date(new X509Certificate(next.serverCert).validTo).getTime() / 1000);
  expect(lines.find((l) => l.fields.event === 'certificate_reloaded')?.fields).toMatchObject({
    trigger: 'sighup',
    serial,
    ca_changed: false,
  });
});

it('shows the served certificate in certificate_info, replacing the series on reload', async () => {
  const { reloader, metrics } = setup();
  const info = async () => (await metrics.certificateInfo.get()).values;
  const lastReload = async () => (await metrics.certificateLastReload.get()).values[0].value;
  const first = new X509Certificate(pem.serverCert);
  expect(await info()).toEqual([
    {
      value: 1,
      labels: {
        serial: first.serialNumber,
        issuer: first.issuer.replace(/\n/g, ', '),
        subject: first.subject.replace(/\n/g, ', '),
        not_after: new Date(first.validTo).toISOString(),
      },
    },
  ]);
  expect((await info())[0].labels.issuer).toMatch(/CN=/);
  const loadedAt = await lastReload();
  expect(Math.abs(loadedAt - Date.now() / 1000)).toBeLessThan(60);

  // an unchanged or failed reload keeps both
  expect(await reloader.reload('sighup')).toBe('unchanged');
  fs.writeFileSync(files.key, 'garbage');
  expect(await reloader.reload('sighup')).toBe('error');
  expect((await info()).map((v) => v.labels.serial)).toEqual([first.serialNumber]);
  expect(await lastReload()).toBe(loadedAt);

  await new Promise((resolve) => setTimeout(resolve, 20));
  const next = await issueServerCertificate(
    { cert: pem.caCert, key: pem.caKey },
    { hosts: ['localhost'], keyType: 'ecdsa', rsaBits: 2048, days: 60 },
  );
  fs.writeFileSync(files.key, next.serverKey);
  fs.writeFileSync(files.cert, next.serverCert);
  expect(await reloader.reload('sighup')).toBe('reloaded');
  const second = new X509Certificate(next.serverCert);
  const values = await info();
  expect(values).toHaveLength(1); // the old series is gone
  expect(values[0]).toMatchObject({
    value: 1,
    labels: { serial: second.serialNumber, not_after: new Date(second.validTo).toISOString() },
  });
  expect(await lastReload()).toBeGreaterThan(loadedAt);
});

it('does nothing, at debug level and uncounted, when the files are unchanged', async () => {
  const { reloader, lines, applied, metrics } = setup();
  expect(await reloader.reload('file_change')).toBe('unchanged');
  expect(applied).toEqual([]);
  expect(await counter(metrics, 'ok')).toBe(0);
  expect(await counter(metrics, 'error')).toBe(0);
  expect(lines.map((l) => [l.level, l.fields.event])).toEqual([['debug', 'certificate_unchanged']]);
});

it.each([
  ['garbage certificate', (f: typeof files) => fs.writeFileSync(f.cert, 'not a certificate')],
  ['truncated certificate', (f: typeof files) => fs.writeFileSync(f.cert, pem.serverCert.slice(0, 200))],
  ['mismatched key', (f: typeof files) => fs.writeFileSync(f.key, pem.caKey)],
  ['missing key', (f: typeof files) => fs.rmSync(f.key)],
  ['garbage CA', (f: typeof files) => fs.writeFileSync(f.caFile, 'garbage')],
])('keeps the previous certificate on a %s, logs why and counts an error', async (_name, breakIt) => {
  const { reloader, lines, applied, metrics } = setup();
  const before = reloader.current;
  breakIt(files);
  expect(await reloader.reload('file_change')).toBe('error');
  expect(applied).toEqual([]);
  expect(reloader.current).toBe(before);
  expect(await counter(metrics, 'error')).toBe(1);
  const failure = lines.find((l) => l.fields.event === 'certificate_reload_failed');
  expect(failure?.level).toBe('error');
  expect(String(failure?.fields.error)).not.toBe('');
  expect(failure?.fields.serial).toBe(before.serialNumber);
});

it('serializes reloads and coalesces requests that arrive while one is waiting', async () => {
  const { reloader, lines } = setup();
  const first = reloader.reload('sighup');
  const second = reloader.reload('file_change');
  expect(second).toBe(first); // not started yet: one attempt reads the files for both
  await first;
  const third = reloader.reload('file_change');
  expect(third).not.toBe(first);
  await third;
  expect(lines.filter((l) => l.fields.event === 'certificate_unchanged')).toHaveLength(2);
});

it('warns when the certificate is not issued by the CA clients are told to trust', async () => {
  const other = await generateDevCertificates({
    hosts: ['localhost'],
    keyType: 'ecdsa',
    rsaBits: 2048,
    days: 30,
  });
  const { reloader, lines } = setup();
  fs.writeFileSync(files.caFile, other.caCert);
  expect(await reloader.reload('sighup')).toBe('reloaded');
  expect(lines.find((l) => l.fields.event === 'certificate_reloaded')?.fields.ca_changed).toBe(true);
  const warning = lines.find((l) => l.fields.event === 'certificate_warning');
  expect(warning?.level).toBe('warn');
  expect(warning?.message).toMatch(/not issued by the CA/);
});

describe('expiry report', () => {
  const credentials = (notAfter: Date) => ({ notAfter, serialNumber: '01' }) as LoadedCredentials;
  const now = Date.UTC(2030, 0, 1);

  it('says nothing with 14 days or more left', () => {
    const lines: Line[] = [];
    reportExpiry(credentials(new Date(now + 14 * DAY_MS)), fakeLogger(lines), false, now);
    expect(lines).toEqual([]);
  });

  it('warns with fewer than 14 days left', () => {
    const lines: Line[] = [];
    reportExpiry(credentials(new Date(now + 3 * DAY_MS)), fakeLogger(lines), false, now);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', fields: { event: 'certificate_expiry', days_left: 3 } });
    expect(lines[0].message).toMatch(/expires in 3 days/);
  });

  it('reports an expired certificate as an error, and on stderr at startup', () => {
    const lines: Line[] = [];
    const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      reportExpiry(credentials(new Date(now - DAY_MS)), fakeLogger(lines), true, now);
      expect(write).toHaveBeenCalledWith(expect.stringMatching(/WARNING: the server certificate EXPIRED/));
    } finally {
      write.mockRestore();
    }
    expect(lines[0]).toMatchObject({ level: 'error', fields: { days_left: -1 } });
  });

  it('checks again on the timer, without keeping the process alive', () => {
    jest.useFakeTimers();
    try {
      const { reloader, lines } = setup();
      const check = jest.spyOn(reloader, 'reportExpiry');
      reloader.start({ watch: false, expiryCheckMs: DAY_MS });
      expect(check).toHaveBeenCalledTimes(1); // startup
      jest.advanceTimersByTime(2 * DAY_MS);
      expect(check).toHaveBeenCalledTimes(3);
      reloader.close();
      jest.advanceTimersByTime(DAY_MS);
      expect(check).toHaveBeenCalledTimes(3);
      expect(lines.filter((l) => l.level !== 'debug')).toEqual([]); // 30 days left: quiet
    } finally {
      jest.useRealTimers();
    }
  });
});
