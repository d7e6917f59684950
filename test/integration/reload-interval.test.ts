/**
 * --cert-reload-interval with --no-cert-watch: no file event reaches the proxy, and the periodic
 * content check alone picks up a renewal. Files rewritten with the same bytes (and a SIGHUP)
 * change nothing: no reload counted, certificate_last_reload_timestamp_seconds stays.
 */
import { X509Certificate } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import { startMariaDb, type MariaDbServer } from '../helpers/mariadb';
import { startProxy, type ProxyProcess } from '../helpers/proxy';
import { connectRaw, readPacket, tlsWithCoalescedSslRequest } from '../helpers/clients';
import { issueServerCertificate } from '../../src/tls/dev-certs';

let db: MariaDbServer;
let proxy: ProxyProcess;

beforeAll(async () => {
  db = await startMariaDb();
  proxy = await startProxy({
    backendPort: db.port,
    args: ['--no-cert-watch', '--cert-reload-interval', '1', '--log-level', 'debug'],
  });
});
afterAll(async () => {
  await proxy?.stop();
  await db?.destroy();
  if (proxy) await fs.rm(proxy.cwd, { recursive: true, force: true });
});

const certs = () => path.join(proxy.cwd, 'certs');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function servedSerial(): Promise<string> {
  const socket = await connectRaw(proxy.port);
  try {
    await readPacket(socket);
    const secure = await tlsWithCoalescedSslRequest(socket, await fs.readFile(path.join(certs(), 'ca.pem')));
    const serial = secure.getPeerCertificate().serialNumber;
    secure.destroy();
    return serial;
  } finally {
    socket.destroy();
  }
}

it('leaves everything as it is while the bytes are the same (rewrites, SIGHUP)', async () => {
  const lastReload = await proxy.metric('certificate_last_reload_timestamp_seconds');
  expect(lastReload).toBeGreaterThan(0);
  const serial = await servedSerial();
  for (const name of ['server.pem', 'server-key.pem', 'ca.pem']) {
    const file = path.join(certs(), name);
    await fs.writeFile(file, await fs.readFile(file)); // same bytes, new mtime
  }
  proxy.child.kill('SIGHUP');
  await proxy.waitForLog((l) => l.event === 'certificate_unchanged' && l.trigger === 'sighup');
  await sleep(2_500); // two and more content checks
  expect(await proxy.metric('certificate_last_reload_timestamp_seconds')).toBe(lastReload);
  expect(await proxy.metric('certificate_reloads_total', { result: 'ok' })).toBe(0);
  expect(proxy.logs().filter((l) => l.event === 'certificate_reloaded')).toEqual([]);
  // the periodic check does not even log at debug while nothing changed
  expect(proxy.logs().filter((l) => l.trigger === 'interval')).toEqual([]);
  expect(await servedSerial()).toBe(serial);
});

it('serves a renewal found by the content check alone (no file watch)', async () => {
  const ca = { cert: await fs.readFile(path.join(certs(), 'ca.pem'), 'utf8') };
  const next = await issueServerCertificate(
    { ...ca, key: await fs.readFile(path.join(certs(), 'ca-key.pem'), 'utf8') },
    { hosts: ['localhost', '127.0.0.1'], keyType: 'ecdsa', rsaBits: 2048, days: 20 },
  );
  const before = await proxy.metric('certificate_last_reload_timestamp_seconds');
  await fs.writeFile(path.join(certs(), 'key.tmp'), next.serverKey);
  await fs.writeFile(path.join(certs(), 'cert.tmp'), next.serverCert);
  await fs.rename(path.join(certs(), 'key.tmp'), path.join(certs(), 'server-key.pem'));
  await fs.rename(path.join(certs(), 'cert.tmp'), path.join(certs(), 'server.pem'));
  const serial = new X509Certificate(next.serverCert).serialNumber;
  const reloaded = await proxy.waitForLog((l) => l.event === 'certificate_reloaded', 10_000);
  expect(reloaded).toMatchObject({ trigger: 'interval', serial });
  expect(await servedSerial()).toBe(serial);
  expect(await proxy.metric('certificate_reloads_total', { result: 'ok' })).toBe(1);
  expect(await proxy.metric('certificate_last_reload_timestamp_seconds')).toBeGreaterThan(before);
  expect(proxy.logs().filter((l) => l.trigger === 'file_change')).toEqual([]);
});
