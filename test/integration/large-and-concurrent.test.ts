/**
 * After the login the proxy relays bytes untouched: packets over 16 MiB (split by the protocol into
 * several) and many concurrent sessions pass; compression is not offered in front of a plain leg.
 */
import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { startProxy, type ProxyProcess } from '../helpers/proxy';
import { mysql } from '../helpers/clients';

const { user, password } = TEST_USERS.native;
const SEVENTEEN_MIB = 17 * 1024 * 1024;
let db: MariaDbServer;
let proxy: ProxyProcess;
let ca: Buffer;

beforeAll(async () => {
  db = await startMariaDb();
  proxy = await startProxy({ backendPort: db.port });
  ca = await fs.readFile(proxy.caFile);
});
afterAll(async () => {
  await proxy?.stop();
  await db?.destroy();
});

const connect = (extra: object = {}) =>
  mysql.createConnection({
    host: '127.0.0.1',
    port: proxy.port,
    user,
    password,
    database: 'test',
    ssl: { ca },
    ...extra,
  });

it('carries a result and an insert of more than 16 MiB over TLS', async () => {
  const conn = await connect();
  try {
    const [[row]] = await conn.query(`SELECT REPEAT('ab', ${SEVENTEEN_MIB / 2}) AS big`);
    expect(row.big.length).toBe(SEVENTEEN_MIB);
    expect(row.big.slice(0, 4)).toBe('abab');

    const blob = Buffer.alloc(SEVENTEEN_MIB);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 31 + 7) & 0xff;
    await conn.query('CREATE TABLE IF NOT EXISTS blobs (id INT PRIMARY KEY, body LONGBLOB)');
    await conn.query('REPLACE INTO blobs VALUES (1, ?)', [blob]);
    const [[stored]] = await conn.query(
      'SELECT LENGTH(body) AS len, MD5(body) AS md5 FROM blobs WHERE id = 1',
    );
    expect(Number(stored.len)).toBe(SEVENTEEN_MIB);
    expect(stored.md5).toBe(createHash('md5').update(blob).digest('hex'));
    const [[back]] = await conn.query('SELECT body FROM blobs WHERE id = 1');
    expect(Buffer.compare(back.body, blob)).toBe(0);
  } finally {
    await conn.end();
  }
});

it('does not offer compression in front of a plain leg: a client asking for it runs uncompressed', async () => {
  // Compressed frames would hide the command headers the COM_CHANGE_USER watch follows; with
  // --backend-tls the compressed protocol is relayed untouched (test/integration/backend-leg).
  const conn = await connect({ compress: true });
  try {
    const [[row]] = await conn.query(`SELECT REPEAT('z', 100000) AS text, @@version AS version`);
    expect(row.text.length).toBe(100000);
    const [[status]] = await conn.query("SHOW SESSION STATUS LIKE 'Compression'");
    expect(status.Value).toBe('OFF');
  } finally {
    await conn.end();
  }
});

it('serves 200 concurrent TLS connections running queries, each on its own backend session', async () => {
  const before = await proxy.metric('connections_total', { transport: 'tls' });
  const results = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const conn = await connect();
      try {
        const [[row]] = await conn.query('SELECT CONNECTION_ID() AS id, ? AS n, SLEEP(0.2) AS s', [i]);
        return { id: row.id, n: row.n };
      } finally {
        await conn.end();
      }
    }),
  );
  expect(results.map((r) => r.n)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  expect(new Set(results.map((r) => r.id)).size).toBe(200);
  expect((await proxy.metric('connections_total', { transport: 'tls' })) - before).toBe(200);
  expect(await proxy.metric('auth_total', { result: 'ok' })).toBeGreaterThanOrEqual(200);
});
