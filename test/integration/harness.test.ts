/**
 * Checks the throwaway MariaDB helper itself, so that a broken environment
 * fails here with a clear message rather than deep inside a proxy test.
 */
import { execFile } from 'child_process';
import { MariaDbServer, startMariaDb, TEST_USERS } from '../helpers/mariadb';

const mysql = require('mysql2/promise');

jest.setTimeout(60_000);

function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('mariadb', ['--no-defaults', ...args], (err, stdout, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(stdout.trim()),
    );
  });
}

async function queryOverTcp(server: MariaDbServer, user: string, password: string): Promise<unknown> {
  const conn = await mysql.createConnection({
    host: server.host,
    port: server.port,
    user,
    password,
    database: 'test',
  });
  try {
    const [rows] = await conn.query('SELECT 1 AS one');
    return rows;
  } finally {
    await conn.end();
  }
}

describe('throwaway MariaDB server', () => {
  let server: MariaDbServer;

  beforeAll(async () => {
    server = await startMariaDb();
  });

  afterAll(async () => {
    await server?.destroy();
  });

  it('answers SQL over the unix socket as root', async () => {
    expect(await server.sql('select 1')).toBe('1');
    expect(server.pid).toBeGreaterThan(0);
  });

  it('rejects with the client error for bad SQL', async () => {
    await expect(server.sql('select * from no_such_table')).rejects.toThrow(/no_such_table|No database/);
  });

  it('lets the native-password user log in over TCP with mysql2', async () => {
    const { user, password } = TEST_USERS.native;
    expect(await queryOverTcp(server, user, password)).toEqual([{ one: 1 }]);
  });

  it('lets the password-less user log in over TCP with mysql2', async () => {
    const { user, password } = TEST_USERS.nopass;
    expect(await queryOverTcp(server, user, password)).toEqual([{ one: 1 }]);
  });

  it('lets the ed25519 user log in over TCP with the mariadb CLI', async () => {
    const { user, password } = TEST_USERS.ed25519;
    const out = await cli([
      '-h127.0.0.1',
      `-P${server.port}`,
      `-u${user}`,
      `-p${password}`,
      '--skip-ssl',
      '--batch',
      '--skip-column-names',
      '-e',
      'select current_user()',
    ]);
    expect(out).toBe(`${user}@%`);
  });

  it('restarts on the same port and data dir', async () => {
    const { port, dataDir } = server;
    const oldPid = server.pid;
    await server.sql('CREATE TABLE test.survives (id INT); INSERT INTO test.survives VALUES (42)');

    await server.stop();
    await expect(queryOverTcp(server, TEST_USERS.native.user, TEST_USERS.native.password)).rejects.toThrow();

    await server.start();
    expect(server.port).toBe(port);
    expect(server.dataDir).toBe(dataDir);
    expect(server.pid).not.toBe(oldPid);
    expect(await server.sql('select id from test.survives')).toBe('42');
    expect(await queryOverTcp(server, TEST_USERS.native.user, TEST_USERS.native.password)).toEqual([
      { one: 1 },
    ]);
  });

  it('survives kill() and start() (crash recovery)', async () => {
    await server.kill();
    await server.start();
    expect(await server.sql('select id from test.survives')).toBe('42');
  });
});
