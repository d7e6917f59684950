/**
 * The command-phase watch against a real MariaDB: a TLS client in front of a plain database leg has
 * its commands followed (headers only) so that a COM_CHANGE_USER's re-authentication can get RSA
 * help. The watch follows both directions to know when the server is idle; this drives it through
 * the responses a real server sends (result sets whose sequence ids wrap, rows over 16 MiB,
 * multi-statements, procedures with several result sets, prepared statements, LOAD DATA LOCAL) and
 * checks that the session and a later COM_CHANGE_USER still work.
 */
import { promises as fs } from 'fs';
import { Readable } from 'stream';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { startProxy, type ProxyProcess } from '../helpers/proxy';
import { mysql } from '../helpers/clients';

const { user, password } = TEST_USERS.native;
const other = { user: 'other', password: 'other-secret' };
let db: MariaDbServer;
let proxy: ProxyProcess;
let ca: Buffer;

beforeAll(async () => {
  db = await startMariaDb();
  await db.sql("INSTALL SONAME 'ha_blackhole'").catch((error: Error) => {
    if (!/already installed|exists/i.test(error.message)) throw error;
  });
  await db.sql(
    `CREATE OR REPLACE USER other@'%' IDENTIFIED BY 'other-secret'; GRANT ALL ON *.* TO other@'%'`,
  );
  await db.sql('CREATE TABLE IF NOT EXISTS test.sink (line LONGBLOB) ENGINE=BLACKHOLE');
  await db.sql(
    'DELIMITER //\nCREATE OR REPLACE PROCEDURE test.two_results() BEGIN SELECT 1 AS a; SELECT 2 AS b, 3 AS c; END//',
  );
  proxy = await startProxy({ backendPort: db.port });
  ca = await fs.readFile(proxy.caFile);
});

afterAll(async () => {
  await proxy?.stop();
  await db?.destroy();
});

const connect = () =>
  mysql.createConnection({
    host: '127.0.0.1',
    port: proxy.port,
    user,
    password,
    database: 'test',
    ssl: { ca },
    multipleStatements: true,
  });

it('LOAD DATA LOCAL of >16 MiB whose packets all start with 0x11, then COM_CHANGE_USER', async () => {
  const conn = await connect();
  try {
    // 300 lines of 136 KiB, one per packet: sequence ids wrap to 0 on a packet starting with 0x11
    const chunk = Buffer.alloc(136 * 1024, 0x61);
    chunk[0] = 0x11;
    chunk[chunk.length - 1] = 0x0a;
    const [result] = await conn.query({
      sql: "LOAD DATA LOCAL INFILE 'upload.txt' INTO TABLE sink FIELDS ESCAPED BY ''",
      infileStreamFactory: () => Readable.from(Array.from({ length: 300 }, () => chunk)),
    });
    expect(result.affectedRows).toBe(300);
    await conn.changeUser(other);
    const [[row]] = await conn.query('SELECT CURRENT_USER() AS who');
    expect(row.who).toBe('other@%');
  } finally {
    await conn.end();
  }
});

it('result sets, multi-statements, procedures and prepared statements leave the server idle for COM_CHANGE_USER', async () => {
  const conn = await connect();
  try {
    // 70,000 rows: the server's sequence ids wrap many times
    const [many] = await conn.query('SELECT seq FROM seq_1_to_70000');
    expect(many).toHaveLength(70000);
    // one row of 17 MiB: continued in a second packet
    const [[big]] = await conn.query("SELECT REPEAT('x', 17 * 1024 * 1024) AS big");
    expect(big.big).toHaveLength(17 * 1024 * 1024);
    const [multi] = await conn.query('SELECT 1 AS one; DO 2; SELECT 3 AS three');
    expect(multi).toHaveLength(3);
    const [procedure] = await conn.query('CALL two_results()');
    expect(procedure).toHaveLength(3); // two result sets and the CALL's OK
    const [executed] = await conn.execute('SELECT ? AS x, ? AS y', [41, 'y']);
    expect(executed).toEqual([{ x: 41, y: 'y' }]);
    const [none] = await conn.execute('SELECT seq FROM seq_1_to_5 WHERE seq > ?', [10]);
    expect(none).toEqual([]);
    await expect(conn.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ errno: 1146 });
    await conn.changeUser(other);
    await conn.changeUser({ user, password });
    const [[row]] = await conn.query('SELECT CURRENT_USER() AS who');
    expect(row.who).toBe(`${user}@%`);
  } finally {
    await conn.end();
  }
  expect(JSON.stringify(proxy.logs())).not.toMatch(/bad_packet|backend_protocol_error/);
});
