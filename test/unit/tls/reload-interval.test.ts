/**
 * --cert-reload-interval: the periodic content check, with fake timers and real files. Unchanged
 * files cause nothing at all; changed ones one reload; a broken set one error, not one a tick.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { ProxyMetrics } from '../../../src/observability/metrics';
import type { Logger } from '../../../src/observability/logger';
import { loadCredentials, type LoadedCredentials, type TlsPolicy } from '../../../src/tls/credentials';
import {
  generateDevCertificates,
  issueServerCertificate,
  type GeneratedPem,
} from '../../../src/tls/dev-certs';
import { CertificateReloader } from '../../../src/tls/reloader';
import { SERVE_DEFAULTS } from '../../../src/config/defaults';

const policy: TlsPolicy = {
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.3',
  ciphers: SERVE_DEFAULTS.ciphers,
  ecdhCurves: SERVE_DEFAULTS.ecdhCurves,
};
const INTERVAL_MS = 60_000;

let pem: GeneratedPem;
let renewed: Pick<GeneratedPem, 'serverCert' | 'serverKey'>;
let dir: string;
let files: { cert: string; key: string; caFile: string };

beforeAll(async () => {
  pem = await generateDevCertificates({ hosts: ['localhost'], keyType: 'ecdsa', rsaBits: 2048, days: 30 });
  renewed = await issueServerCertificate(
    { cert: pem.caCert, key: pem.caKey },
    { hosts: ['localhost'], keyType: 'ecdsa', rsaBits: 2048, days: 60 },
  );
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reload-interval-'));
  files = { cert: path.join(dir, 's.pem'), key: path.join(dir, 'k.pem'), caFile: path.join(dir, 'ca.pem') };
  fs.writeFileSync(files.cert, pem.serverCert);
  fs.writeFileSync(files.key, pem.serverKey);
  fs.writeFileSync(files.caFile, pem.caCert);
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
  fs.rmSync(dir, { recursive: true, force: true });
});

function setup(contentCheckMs: number) {
  const lines: Array<{ level: string; event: unknown; trigger?: unknown }> = [];
  const at = (level: string) => (fields: Record<string, unknown>) =>
    lines.push({ level, event: fields.event, trigger: fields.trigger });
  const logger = {
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
  } as unknown as Logger;
  const applied: LoadedCredentials[] = [];
  const metrics = new ProxyMetrics({ processMetrics: false });
  const reloader = new CertificateReloader(
    { paths: files, policy, logger, metrics, apply: (next) => applied.push(next) },
    loadCredentials(files, policy),
  );
  reloader.start({ watch: false, contentCheckMs });
  const reloads = async (result: string) =>
    (await metrics.certificateReloads.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  const lastReload = async () => (await metrics.certificateLastReload.get()).values[0].value;
  return { reloader, lines, applied, reloads, lastReload };
}

it('changes nothing while the files are the same: no reload, no log line, no metric', async () => {
  const { reloader, lines, applied, reloads, lastReload } = setup(INTERVAL_MS);
  const loadedAt = await lastReload();
  fs.writeFileSync(files.cert, pem.serverCert); // rewritten, same bytes
  await jest.advanceTimersByTimeAsync(INTERVAL_MS * 5);
  expect(applied).toEqual([]);
  expect(lines).toEqual([]);
  expect([await reloads('ok'), await reloads('error')]).toEqual([0, 0]);
  expect(await lastReload()).toBe(loadedAt);
  reloader.close();
});

it('reloads once at the next tick after the bytes changed, without any file event', async () => {
  const { reloader, lines, applied, reloads } = setup(INTERVAL_MS);
  fs.writeFileSync(files.key, renewed.serverKey);
  fs.writeFileSync(files.cert, renewed.serverCert);
  await jest.advanceTimersByTimeAsync(INTERVAL_MS - 1);
  expect(applied).toEqual([]);
  await jest.advanceTimersByTimeAsync(1);
  expect(applied.map((c) => c.serialNumber)).toEqual([new X509Certificate(renewed.serverCert).serialNumber]);
  expect(lines.find((l) => l.event === 'certificate_reloaded')?.trigger).toBe('interval');
  await jest.advanceTimersByTimeAsync(INTERVAL_MS * 3);
  expect(applied).toHaveLength(1);
  expect(await reloads('ok')).toBe(1);
  reloader.close();
});

it('tries a broken set once (one error), and picks up the fix', async () => {
  const { reloader, applied, reloads } = setup(INTERVAL_MS);
  fs.writeFileSync(files.key, 'half written');
  await jest.advanceTimersByTimeAsync(INTERVAL_MS * 4);
  expect(await reloads('error')).toBe(1);
  expect(applied).toEqual([]);
  fs.writeFileSync(files.key, renewed.serverKey);
  fs.writeFileSync(files.cert, renewed.serverCert);
  await jest.advanceTimersByTimeAsync(INTERVAL_MS);
  expect(applied).toHaveLength(1);
  expect(await reloads('error')).toBe(1);
  reloader.close();
});

it('does not check with an interval of 0, nor after close()', async () => {
  const off = setup(0);
  fs.writeFileSync(files.key, renewed.serverKey);
  fs.writeFileSync(files.cert, renewed.serverCert);
  await jest.advanceTimersByTimeAsync(INTERVAL_MS * 10);
  expect(off.applied).toEqual([]);
  off.reloader.close();

  const closed = setup(INTERVAL_MS);
  closed.reloader.close();
  fs.writeFileSync(files.cert, pem.serverCert);
  fs.writeFileSync(files.key, pem.serverKey);
  await jest.advanceTimersByTimeAsync(INTERVAL_MS * 2);
  expect(closed.applied).toEqual([]);
});

it('a SIGHUP reload counts as seen: the next tick does not reload the same files again', async () => {
  const { reloader, applied } = setup(INTERVAL_MS);
  fs.writeFileSync(files.key, renewed.serverKey);
  fs.writeFileSync(files.cert, renewed.serverCert);
  expect(await reloader.reload('sighup')).toBe('reloaded');
  await jest.advanceTimersByTimeAsync(INTERVAL_MS * 2);
  expect(applied).toHaveLength(1);
  expect(await reloader.checkContent()).toBe('unchanged');
  reloader.close();
});

it('a SIGHUP over the very bytes being served builds no secure context (files not even parsed)', async () => {
  const { reloader, lines } = setup(0);
  const build = jest.spyOn(tls, 'createSecureContext');
  try {
    fs.writeFileSync(files.cert, pem.serverCert); // new mtime, same bytes
    expect(await reloader.reload('sighup')).toBe('unchanged');
    expect(build).not.toHaveBeenCalled();
    expect(lines).toEqual([{ level: 'debug', event: 'certificate_unchanged', trigger: 'sighup' }]);
    fs.writeFileSync(files.key, renewed.serverKey);
    fs.writeFileSync(files.cert, renewed.serverCert);
    expect(await reloader.reload('sighup')).toBe('reloaded');
    expect(build).toHaveBeenCalled();
  } finally {
    build.mockRestore();
    reloader.close();
  }
});
