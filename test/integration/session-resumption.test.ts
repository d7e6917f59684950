/**
 * TLS session resumption: clients that present a ticket skip the full handshake, also across
 * --workers (one set of ticket keys from the primary) and across a certificate reload; the
 * proxy counts resumptions exactly in tls_sessions_resumed_total and says so in the log line.
 */
import { promises as fs } from 'fs';
import * as tls from 'tls';
import { MysqlConnection } from '../../src/client/mysql-client';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { run } from '../helpers/clients';
import { CLI, startProxy, type ProxyProcess } from '../helpers/proxy';

const { user, password } = TEST_USERS.native;
let db: MariaDbServer;

beforeAll(async () => {
  db = await startMariaDb();
});
afterAll(async () => {
  await db?.destroy();
});

/** One full login + COM_QUIT; returns whether TLS resumed and the session the server issued. */
async function login(
  proxy: ProxyProcess,
  context: tls.SecureContext,
  session?: Buffer,
): Promise<{ resumed: boolean; session?: Buffer }> {
  let issued: Buffer | undefined;
  const conn = await MysqlConnection.connect({
    host: '127.0.0.1',
    port: proxy.port,
    user,
    password,
    secureContext: context,
    serverName: 'localhost',
    rejectUnauthorized: true,
    session,
    onSession: (s) => (issued = s),
  });
  const resumed = conn.resumed;
  await conn.quit();
  return { resumed, session: issued };
}

async function context(proxy: ProxyProcess, version: tls.SecureVersion): Promise<tls.SecureContext> {
  const ca = await fs.readFile(proxy.caFile);
  return tls.createSecureContext({ ca, minVersion: version, maxVersion: version });
}

it.each(['TLSv1.3', 'TLSv1.2'] as const)(
  '%s: a client that presents its session resumes; the proxy counts it and logs it',
  async (version) => {
    const proxy = await startProxy({ backendPort: db.port });
    try {
      const ctx = await context(proxy, version);
      const first = await login(proxy, ctx);
      expect(first.resumed).toBe(false);
      expect(first.session).toBeDefined();
      const again = [];
      for (let i = 0; i < 5; i++) again.push((await login(proxy, ctx, first.session)).resumed);
      expect(again).toEqual([true, true, true, true, true]);
      await proxy.waitForLog(() => proxy.logs().filter((l) => l.event === 'connection_closed').length === 6);
      expect(await proxy.metric('tls_sessions_resumed_total', { version })).toBe(5);
      expect(await proxy.metric('tls_handshakes_total', { version })).toBe(6);
      const closedLines = proxy.logs().filter((l) => l.event === 'connection_closed');
      expect(closedLines.map((l) => l.tls_resumed ?? false)).toEqual([false, true, true, true, true, true]);
    } finally {
      await proxy.stop();
    }
  },
);

it('--workers 2: a ticket from one worker resumes on the other (keys shared by the primary)', async () => {
  const proxy = await startProxy({ backendPort: db.port, args: ['--workers', '2'] });
  try {
    await proxy.waitForLog(() => proxy.logs().filter((l) => l.event === 'worker_listening').length === 2);
    const ctx = await context(proxy, 'TLSv1.3');
    const first = await login(proxy, ctx);
    const results = [];
    for (let i = 0; i < 20; i++) results.push((await login(proxy, ctx, first.session)).resumed);
    await proxy.waitForLog(() => proxy.logs().filter((l) => l.event === 'connection_closed').length === 21);
    // Both workers served some of the 21 connections, and every resumption attempt succeeded.
    const pids = new Set(
      proxy
        .logs()
        .filter((l) => l.event === 'connection_closed')
        .map((l) => l.worker),
    );
    expect(pids.size).toBe(2);
    expect(results.filter(Boolean)).toHaveLength(20);
    expect(await proxy.metric('tls_sessions_resumed_total', { version: 'TLSv1.3' })).toBe(20);
  } finally {
    await proxy.stop();
  }
});

it('a certificate reload keeps the ticket keys: sessions from before the reload still resume', async () => {
  const proxy = await startProxy({ backendPort: db.port });
  try {
    const ctx = await context(proxy, 'TLSv1.3');
    const first = await login(proxy, ctx);
    // A new server certificate from the same CA, then SIGHUP.
    const certs = await run(process.execPath, [
      CLI,
      'certs',
      '--out',
      `${proxy.cwd}/certs`,
      '--keep-ca',
      '--force',
    ]);
    expect(certs.code).toBe(0);
    proxy.child.kill('SIGHUP');
    await proxy.waitForLog((l) => l.event === 'certificate_reloaded');
    expect((await login(proxy, ctx, first.session)).resumed).toBe(true);
    expect((await login(proxy, ctx)).resumed).toBe(false); // and a new client gets the new certificate
  } finally {
    await proxy.stop();
  }
});

it.each([
  [['--tls-session-timeout', '604801'], /--tls-session-timeout must be an integer <= 604800/],
  [['--tls-ticket-key-rotation', '59'], /--tls-ticket-key-rotation must be an integer >= 60/],
])('refuses %p at startup with one line and exit 2', async (args, message) => {
  const result = await run(process.execPath, [
    CLI,
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--status',
    'off',
    '--backend',
    `127.0.0.1:${db.port}`,
    ...args,
  ]);
  expect(result.code).toBe(2);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(message);
});
