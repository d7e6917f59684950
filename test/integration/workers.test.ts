/**
 * --workers: several processes accept on one listener; the primary's status port sums their
 * metrics exactly and drains them all on SIGTERM.
 */
import { X509Certificate } from 'crypto';
import { promises as fs } from 'fs';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { startProxy } from '../helpers/proxy';
import { connectRaw, mysql } from '../helpers/clients';

const { user, password } = TEST_USERS.native;
let db: MariaDbServer;

beforeAll(async () => {
  db = await startMariaDb();
});
afterAll(async () => {
  await db?.destroy();
});

it('serves with two workers, sums their metrics exactly, and drains both on SIGTERM', async () => {
  const proxy = await startProxy({ backendPort: db.port, args: ['--workers', '2'] });
  const ca = await fs.readFile(proxy.caFile);
  await proxy.waitForLog(() => proxy.logs().filter((l) => l.event === 'worker_listening').length === 2);
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      const conn = await mysql.createConnection({
        host: '127.0.0.1',
        port: proxy.port,
        user,
        password,
        ssl: { ca },
      });
      await conn.query('SELECT 1');
      await conn.end();
    }),
  );
  await proxy.waitForLog(() => proxy.logs().filter((l) => l.event === 'connection_closed').length === 20);
  expect(await proxy.metric('connections_total', { transport: 'tls' })).toBe(20);
  expect(await proxy.metric('auth_total', { result: 'ok' })).toBe(20);
  expect(await proxy.metric('connections_active', { transport: 'tls' })).toBe(0);
  const served = new X509Certificate(await fs.readFile(`${proxy.cwd}/certs/server.pem`));
  expect(await proxy.metric('certificate_expiry_timestamp_seconds')).toBe(
    new Date(served.validTo).getTime() / 1000,
  );
  expect(await proxy.metric('backend_up')).toBe(1);
  expect((await fetch(`http://127.0.0.1:${proxy.statusPort}/readyz`)).status).toBe(200);
  expect(await fs.readFile(proxy.caFile, 'utf8')).toBe(
    await (await fetch(`http://127.0.0.1:${proxy.statusPort}/ca.pem`)).text(),
  );

  const open = await mysql.createConnection({
    host: '127.0.0.1',
    port: proxy.port,
    user,
    password,
    ssl: { ca },
  });
  const stopped = proxy.stop('SIGTERM');
  await proxy.waitForLog((l) => l.event === 'draining' && l.worker === undefined);
  const [rows] = await open.query('SELECT 2 AS during_drain');
  expect(rows).toEqual([{ during_drain: 2 }]);
  await open.end();
  expect(await stopped).toEqual({ code: 0, signal: null });
  await expect(connectRaw(proxy.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
});
