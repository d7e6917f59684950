/**
 * Certificate rotation without a restart: the built proxy watches its certificate files and
 * reloads on SIGHUP. New connections get the new certificate, open sessions keep working, broken
 * files keep the previous certificate, and the expiry gauge follows the served certificate.
 */
import { X509Certificate } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { CLI, startProxy, type ProxyProcess } from '../helpers/proxy';
import { connectRaw, mysql, readPacket, run, tlsWithCoalescedSslRequest } from '../helpers/clients';
import { issueServerCertificate } from '../../src/tls/dev-certs';

const { user, password } = TEST_USERS.native;
let db: MariaDbServer;

beforeAll(async () => {
  db = await startMariaDb();
});
afterAll(async () => {
  await db?.destroy();
});

interface Files {
  dir: string;
  cert: string;
  key: string;
  ca: string;
  caKey: string;
}

let proxy: ProxyProcess;
let files: Files;
let ca: Buffer;

beforeEach(async () => {
  proxy = await startProxy({ backendPort: db.port });
  const dir = path.join(proxy.cwd, 'certs');
  files = {
    dir,
    cert: path.join(dir, 'server.pem'),
    key: path.join(dir, 'server-key.pem'),
    ca: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca-key.pem'),
  };
  ca = await fs.readFile(files.ca);
});
afterEach(async () => {
  await proxy?.stop('SIGKILL');
  await fs.rm(proxy.cwd, { recursive: true, force: true });
});

/** The serial number of the certificate a brand-new TLS connection gets (full handshake). */
async function servedSerial(trust: Buffer = ca): Promise<string> {
  const socket = await connectRaw(proxy.port);
  try {
    await readPacket(socket); // greeting
    const secure = await tlsWithCoalescedSslRequest(socket, trust);
    const serial = secure.getPeerCertificate().serialNumber;
    secure.destroy();
    return serial;
  } finally {
    socket.destroy();
  }
}

function serialOf(pem: string | Buffer): string {
  return new X509Certificate(pem).serialNumber;
}

function notAfterSeconds(pem: string | Buffer): number {
  return new Date(new X509Certificate(pem).validTo).getTime() / 1000;
}

async function issue(hosts = ['localhost', '127.0.0.1']): Promise<{ serverCert: string; serverKey: string }> {
  return issueServerCertificate(
    { cert: await fs.readFile(files.ca, 'utf8'), key: await fs.readFile(files.caKey, 'utf8') },
    { hosts, keyType: 'ecdsa', rsaBits: 2048, days: 20 },
  );
}

/** Waits for a log line written after `from` (an index into proxy.logs()). */
function waitForNewLog(
  from: number,
  predicate: (line: Record<string, unknown>) => boolean,
  timeoutMs = 10_000,
) {
  return proxy.waitForLog((line) => proxy.logs().indexOf(line) >= from && predicate(line), timeoutMs);
}

async function openSession() {
  const conn = await mysql.createConnection({
    host: 'localhost',
    port: proxy.port,
    user,
    password,
    ssl: { ca },
  });
  const [rows] = await conn.query('SELECT CONNECTION_ID() AS id');
  return { conn, id: (rows as Array<{ id: number }>)[0].id };
}

async function stillQueries(session: { conn: { query(sql: string): Promise<unknown> }; id: number }) {
  const [rows] = (await session.conn.query('SELECT CONNECTION_ID() AS id')) as [Array<{ id: number }>];
  expect(rows[0].id).toBe(session.id);
}

it('serves the certificate it started with, and the expiry gauge is its notAfter', async () => {
  const pem = await fs.readFile(files.cert);
  expect(await servedSerial()).toBe(serialOf(pem));
  expect(await proxy.metric('certificate_expiry_timestamp_seconds')).toBe(notAfterSeconds(pem));
  const served = await fetch(`http://127.0.0.1:${proxy.statusPort}/ca.pem`);
  expect(Buffer.from(await served.arrayBuffer()).equals(ca)).toBe(true);
});

it('picks up a renewal written by atomic rename: open sessions go on, new ones get the new serial', async () => {
  const session = await openSession();
  const oldSerial = serialOf(await fs.readFile(files.cert));
  const next = await issue();
  const newSerial = serialOf(next.serverCert);
  const from = proxy.logs().length;

  // What certbot, cert-manager and `certs --keep-ca` do: write elsewhere, rename over the target.
  await fs.writeFile(path.join(files.dir, '.new-key.tmp'), next.serverKey, { mode: 0o600 });
  await fs.writeFile(path.join(files.dir, '.new-cert.tmp'), next.serverCert);
  await fs.rename(path.join(files.dir, '.new-key.tmp'), files.key);
  await fs.rename(path.join(files.dir, '.new-cert.tmp'), files.cert);

  const reloaded = await waitForNewLog(from, (l) => l.event === 'certificate_reloaded');
  expect(reloaded).toMatchObject({ trigger: 'file_change', serial: newSerial, previous_serial: oldSerial });
  expect(await servedSerial()).toBe(newSerial);
  await stillQueries(session);
  // A new verified session (same CA) works too.
  const fresh = await openSession();
  await stillQueries(fresh);
  await fresh.conn.end();
  await session.conn.end();

  expect(await proxy.metric('certificate_reloads_total', { result: 'ok' })).toBe(1);
  expect(await proxy.metric('certificate_reloads_total', { result: 'error' })).toBe(0);
  expect(await proxy.metric('certificate_expiry_timestamp_seconds')).toBe(notAfterSeconds(next.serverCert));
  // 20 days left: no warning yet; the reload re-checked.
  expect(proxy.logs().some((l) => l.event === 'certificate_expiry' && proxy.logs().indexOf(l) >= from)).toBe(
    false,
  );
});

it('picks up a renewal written in place', async () => {
  const session = await openSession();
  const next = await issue();
  const from = proxy.logs().length;
  await fs.writeFile(files.key, next.serverKey);
  await fs.writeFile(files.cert, next.serverCert);
  await waitForNewLog(
    from,
    (l) => l.event === 'certificate_reloaded' && l.serial === serialOf(next.serverCert),
  );
  expect(await servedSerial()).toBe(serialOf(next.serverCert));
  await stillQueries(session);
  await session.conn.end();
  expect(await proxy.metric('certificate_expiry_timestamp_seconds')).toBe(notAfterSeconds(next.serverCert));
});

it('keeps serving the previous certificate when the new files are broken, and says why', async () => {
  const original = { cert: await fs.readFile(files.cert), key: await fs.readFile(files.key) };
  const serial = serialOf(original.cert);
  const gauge = notAfterSeconds(original.cert);
  const session = await openSession();
  const other = await issue();

  const breakages: Array<[string, () => Promise<unknown>, RegExp]> = [
    [
      'garbage certificate',
      () => fs.writeFile(files.cert, 'this is not a certificate\n'),
      /not a PEM certificate/,
    ],
    [
      'key of another certificate',
      () => fs.writeFile(files.key, other.serverKey),
      /server-key\.pem is not the key of the certificate in .*server\.pem/,
    ],
    ['missing certificate', () => fs.rm(files.cert), /cannot read certificate .*ENOENT/],
  ];
  for (const [name, breakIt, why] of breakages) {
    await fs.writeFile(files.cert, original.cert);
    await fs.writeFile(files.key, original.key);
    const errorsBefore = await proxy.metric('certificate_reloads_total', { result: 'error' });
    const from = proxy.logs().length;
    await breakIt();
    const failed = await waitForNewLog(from, (l) => l.event === 'certificate_reload_failed');
    expect({ name, error: failed.error }).toEqual({ name, error: expect.stringMatching(why) });
    expect(failed).toMatchObject({ level: 'error', trigger: 'file_change', serial });
    expect(await proxy.metric('certificate_reloads_total', { result: 'error' })).toBeGreaterThan(
      errorsBefore,
    );
    expect(await servedSerial()).toBe(serial);
    expect(await proxy.metric('certificate_expiry_timestamp_seconds')).toBe(gauge);
    await stillQueries(session);
  }

  // SIGHUP on a broken file: exactly one more error, still the old certificate.
  await new Promise((r) => setTimeout(r, 700)); // let the watcher's debounce run out
  const errorsBefore = await proxy.metric('certificate_reloads_total', { result: 'error' });
  const from = proxy.logs().length;
  proxy.child.kill('SIGHUP');
  await waitForNewLog(from, (l) => l.event === 'certificate_reload_failed' && l.trigger === 'sighup');
  expect(await proxy.metric('certificate_reloads_total', { result: 'error' })).toBe(errorsBefore + 1);
  expect(await servedSerial()).toBe(serial);

  // Fixing the files recovers without a restart.
  const fixed = proxy.logs().length;
  await fs.writeFile(files.key, other.serverKey);
  await fs.writeFile(files.cert, other.serverCert);
  await waitForNewLog(fixed, (l) => l.event === 'certificate_reloaded');
  expect(await servedSerial()).toBe(serialOf(other.serverCert));
  await stillQueries(session);
  await session.conn.end();
  expect(await proxy.metric('certificate_reloads_total', { result: 'ok' })).toBe(1);
});

it('SIGHUP with unchanged files changes nothing and counts nothing', async () => {
  const serial = serialOf(await fs.readFile(files.cert));
  proxy.child.kill('SIGHUP');
  await proxy.waitForLog((l) => l.event === 'sighup');
  await new Promise((r) => setTimeout(r, 300));
  expect(await proxy.metric('certificate_reloads_total', { result: 'ok' })).toBe(0);
  expect(await proxy.metric('certificate_reloads_total', { result: 'error' })).toBe(0);
  expect(proxy.logs().some((l) => l.event === 'certificate_reloaded')).toBe(false);
  expect(await servedSerial()).toBe(serial);
});

it('a new CA is served at /ca.pem after the reload, and new clients verify with it', async () => {
  const oldCa = ca;
  const from = proxy.logs().length;
  const result = await run(process.execPath, [CLI, 'certs', '--out', files.dir, '--force']);
  expect(result.code).toBe(0);
  const newCa = await fs.readFile(files.ca);
  const newSerial = serialOf(await fs.readFile(files.cert));
  const reloaded = await waitForNewLog(
    from,
    (l) => l.event === 'certificate_reloaded' && l.serial === newSerial,
  );
  expect(reloaded.ca_changed).toBe(true);
  const served = await fetch(`http://127.0.0.1:${proxy.statusPort}/ca.pem`);
  expect(Buffer.from(await served.arrayBuffer()).equals(newCa)).toBe(true);
  expect(await servedSerial(newCa)).toBe(newSerial);
  await expect(servedSerial(oldCa)).rejects.toThrow(/certificate/);
});

it('warns about a certificate that expires within 14 days, and the gauge shows it', async () => {
  const next = await issueServerCertificate(
    { cert: await fs.readFile(files.ca, 'utf8'), key: await fs.readFile(files.caKey, 'utf8') },
    { hosts: ['localhost'], keyType: 'ecdsa', rsaBits: 2048, days: 3 },
  );
  const from = proxy.logs().length;
  await fs.writeFile(files.key, next.serverKey);
  await fs.writeFile(files.cert, next.serverCert);
  const warning = await waitForNewLog(from, (l) => l.event === 'certificate_expiry');
  expect(warning).toMatchObject({ level: 'warn', days_left: 2, serial: serialOf(next.serverCert) });
  expect(await proxy.metric('certificate_expiry_timestamp_seconds')).toBe(notAfterSeconds(next.serverCert));
});
