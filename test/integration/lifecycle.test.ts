/**
 * The process as operators run it: configuration from flags, MTP_* variables and a JSON file,
 * one-line errors with exit code 2, draining on SIGTERM.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { CLI, startProxy } from '../helpers/proxy';
import { mysql, run } from '../helpers/clients';

const { user, password } = TEST_USERS.native;
let db: MariaDbServer;

beforeAll(async () => {
  db = await startMariaDb();
});
afterAll(async () => {
  await db?.destroy();
});

describe('configuration errors exit 2 with one line', () => {
  it.each([
    [['--tls-min-version', 'TLSv1.1'], /--tls-min-version.*TLSv1\.1/],
    [['--listen', 'nonsense'], /--listen: expected HOST:PORT/],
    [['--allow', '10.0.0.0/33'], /--allow: '10\.0\.0\.0\/33' is not a valid CIDR/],
    [['--ciphers', 'NOT-A-CIPHER'], /--ciphers/],
    [['--cert', '/nonexistent/server.pem', '--key', '/nonexistent/key.pem'], /cannot read certificate/],
    [['--no-such-flag'], /Unknown argument/],
  ])('%j', async (args, message) => {
    const result = await run(process.execPath, [CLI, 'serve', '--status', 'off', ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });

  it('explains itself in --help', async () => {
    const result = await run(process.execPath, [CLI, 'serve', '--help']);
    expect(result.code).toBe(0);
    for (const flag of [
      '--listen',
      '--backend',
      '--cert',
      '--tls-min-version',
      '--allow',
      '--status',
      '--drain-timeout',
    ]) {
      expect(result.stdout).toContain(flag);
    }
  });
});

describe('configuration sources', () => {
  it('takes flags over MTP_* variables over the config file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-config-'));
    const file = path.join(dir, 'proxy.json');
    await fs.writeFile(
      file,
      JSON.stringify({ backend: '127.0.0.1:1', 'handshake-timeout': 1234, 'max-connections': 7 }),
    );
    const proxy = await startProxy({
      backendPort: db.port, // --backend flag beats the file's 127.0.0.1:1
      cwd: dir,
      args: ['--config', file],
      env: { MTP_MAX_CONNECTIONS: '1' }, // env beats the file's 7
    });
    try {
      const ca = await fs.readFile(proxy.caFile);
      const first = await mysql.createConnection({
        host: '127.0.0.1',
        port: proxy.port,
        user,
        password,
        ssl: { ca },
      });
      await expect(
        mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user, password, ssl: { ca } }),
      ).rejects.toMatchObject({ errno: 1040 });
      await first.end();
    } finally {
      await proxy.stop();
    }
  });

  it("ignores other subcommands' MTP_* variables but not unknown flags on the command line", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-certs-env-'));
    const env = { ...process.env, MTP_BACKEND: '127.0.0.1:1', MTP_HANDSHAKE_TIMEOUT: '5' };
    const ok = await new Promise<number | null>((resolve) => {
      const child = require('child_process').spawn(process.execPath, [CLI, 'certs', '--out', dir], {
        env,
        stdio: 'ignore',
      });
      child.on('exit', resolve);
    });
    expect(ok).toBe(0);
    const typo = await run(process.execPath, [CLI, 'certs', '--out', dir, '--forse']);
    expect(typo.code).toBe(2);
    expect(typo.stderr.trim()).toBe('mysql-tls-proxy: Unknown argument: forse');
  });

  it('reads repeatable flags from the environment as a comma list', async () => {
    const proxy = await startProxy({ backendPort: db.port, env: { MTP_ALLOW: '127.0.0.1/32, 10.0.0.0/8' } });
    try {
      const line = await proxy.waitForLog((l) => l.event === 'listening');
      expect(line.allow).toEqual(['127.0.0.1/32', '10.0.0.0/8']);
    } finally {
      await proxy.stop();
    }
  });
});

describe('SIGTERM', () => {
  it('stops accepting, lets open sessions finish, then exits 0', async () => {
    const proxy = await startProxy({ backendPort: db.port, args: ['--drain-timeout', '10000'] });
    const ca = await fs.readFile(proxy.caFile);
    const conn = await mysql.createConnection({
      host: '127.0.0.1',
      port: proxy.port,
      user,
      password,
      ssl: { ca },
    });
    const stopped = proxy.stop('SIGTERM');
    await proxy.waitForLog((l) => l.event === 'draining');
    const ready = await fetch(`http://127.0.0.1:${proxy.statusPort}/readyz`);
    expect(ready.status).toBe(503);
    const [rows] = await conn.query('SELECT 1 AS still_here');
    expect(rows).toEqual([{ still_here: 1 }]);
    await expect(
      mysql.createConnection({
        host: '127.0.0.1',
        port: proxy.port,
        user,
        password,
        ssl: { ca },
        connectTimeout: 2000,
      }),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await conn.end();
    expect(await stopped).toEqual({ code: 0, signal: null });
  });

  it('closes sessions still open at --drain-timeout and exits 0', async () => {
    const proxy = await startProxy({ backendPort: db.port, args: ['--drain-timeout', '300'] });
    const ca = await fs.readFile(proxy.caFile);
    const conn = await mysql.createConnection({
      host: '127.0.0.1',
      port: proxy.port,
      user,
      password,
      ssl: { ca },
    });
    conn.on('error', () => undefined);
    const started = Date.now();
    expect(await proxy.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(5_000);
    const line = proxy.logs().find((l) => l.event === 'connection_closed');
    expect(line?.reason).toBe('shutdown');
    conn.destroy();
  });
});
