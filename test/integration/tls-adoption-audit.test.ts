/**
 * The TLS adoption audit through the built proxy and a real MariaDB (docs/tls-adoption-audit.md):
 * --require-secure-transport=warn relays plaintext logins (mysql2 and the mariadb CLI) but logs
 * them with user and client address and counts them; on and off behave as before; /clients shows
 * who logged in how, merged across --workers.
 */
import { promises as fs } from 'fs';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { startProxy, type ProxyProcess } from '../helpers/proxy';
import { mariadbCli, mysql } from '../helpers/clients';

const { user, password } = TEST_USERS.native;
const { user: cliUser } = TEST_USERS.nopass;
const WOULD_REJECT = 'connections_would_be_rejected_total';
let db: MariaDbServer;

beforeAll(async () => {
  db = await startMariaDb();
});
afterAll(async () => {
  await db?.destroy();
});

interface ClientRow {
  user: string;
  address: string;
  transport: string;
  tls_version: string | null;
  logins: number;
  logins_min: number;
}

interface ClientReport {
  exact: boolean;
  logins: number;
  by_transport: Record<string, number>;
  clients: ClientRow[];
}

async function clients(proxy: ProxyProcess): Promise<ClientReport> {
  const response = await fetch(`http://127.0.0.1:${proxy.statusPort}/clients`);
  expect(response.status).toBe(200);
  return (await response.json()) as ClientReport;
}

async function login(proxy: ProxyProcess, ssl?: object): Promise<number> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user, password, ssl });
  const [rows] = await conn.query('SELECT 7 AS n');
  await conn.end();
  return (rows as Array<{ n: number }>)[0].n;
}

function plainCli(proxy: ProxyProcess) {
  const args = [
    '-h',
    '127.0.0.1',
    '-P',
    String(proxy.port),
    `-u${cliUser}`,
    '--skip-ssl',
    '-N',
    '-e',
    'select 8',
  ];
  return mariadbCli(args);
}

async function closedCount(proxy: ProxyProcess, n: number): Promise<void> {
  await proxy.waitForLog(() => proxy.logs().filter((l) => l.event === 'connection_closed').length >= n);
}

const warnings = (proxy: ProxyProcess) => proxy.logs().filter((l) => l.event === 'insecure_login_allowed');

describe('--require-secure-transport=warn', () => {
  it('relays plaintext logins, logs user and client address, counts them; TLS logins are not warned', async () => {
    const proxy = await startProxy({ backendPort: db.port, args: ['--require-secure-transport=warn'] });
    try {
      const ca = await fs.readFile(proxy.caFile);
      expect(await proxy.metric(WOULD_REJECT, { reason: 'insecure_transport' })).toBe(0);
      expect(await login(proxy)).toBe(7); // mysql2, no TLS
      const cli = await plainCli(proxy);
      expect(cli.stderr).toBe('');
      expect(cli.stdout.trim()).toBe('8');
      expect(await login(proxy, { ca, maxVersion: 'TLSv1.2' })).toBe(7);
      expect(await login(proxy, { ca, minVersion: 'TLSv1.3' })).toBe(7);
      await closedCount(proxy, 4);

      expect(await proxy.metric(WOULD_REJECT, { reason: 'insecure_transport' })).toBe(2);
      expect(await proxy.metric('connections_total', { transport: 'plain' })).toBe(2);
      expect(await proxy.metric('connections_rejected_total', { reason: 'insecure_transport' })).toBe(0);
      const lines = warnings(proxy);
      expect(lines.map((l) => l.user).sort()).toEqual([user, cliUser].sort());
      for (const line of lines) {
        expect(line).toMatchObject({ level: 'warn', transport: 'plain', reason: 'insecure_transport' });
        expect(line.client).toMatchObject({ address: '127.0.0.1', port: expect.any(Number) });
      }
      expect(JSON.stringify(proxy.logs())).not.toContain(password);

      const report = await clients(proxy);
      expect(report).toMatchObject({ exact: true, logins: 4 });
      expect(report.by_transport).toEqual({ plain: 2, 'TLSv1.2': 1, 'TLSv1.3': 1 });
      const rows = report.clients.map((r) => [r.user, r.address, r.transport, r.tls_version, r.logins]);
      expect(rows).toEqual(
        expect.arrayContaining([
          [user, '127.0.0.1', 'plain', null, 1],
          [cliUser, '127.0.0.1', 'plain', null, 1],
          [user, '127.0.0.1', 'tls', 'TLSv1.2', 1],
          [user, '127.0.0.1', 'tls', 'TLSv1.3', 1],
        ]),
      );
      expect(rows).toHaveLength(4);
    } finally {
      await proxy.stop();
    }
  });

  it('is also taken from MTP_REQUIRE_SECURE_TRANSPORT', async () => {
    const proxy = await startProxy({ backendPort: db.port, env: { MTP_REQUIRE_SECURE_TRANSPORT: 'warn' } });
    try {
      expect(await login(proxy)).toBe(7);
      await proxy.waitForLog((l) => l.event === 'insecure_login_allowed' && l.user === user);
      expect(await proxy.metric(WOULD_REJECT, { reason: 'insecure_transport' })).toBe(1);
    } finally {
      await proxy.stop();
    }
  });
});

describe('--require-secure-transport on and off are unchanged', () => {
  it.each([['--require-secure-transport'], ['--require-secure-transport=on']])(
    '%s refuses plaintext with ERR 3159 and warns nothing',
    async (flag) => {
      const proxy = await startProxy({ backendPort: db.port, args: [flag] });
      try {
        const refused = await plainCli(proxy);
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toContain('ERROR 3159');
        await closedCount(proxy, 1);
        expect(await proxy.metric('connections_rejected_total', { reason: 'insecure_transport' })).toBe(1);
        expect(await proxy.metric(WOULD_REJECT, { reason: 'insecure_transport' })).toBe(0);
        expect(warnings(proxy)).toEqual([]);
        // The refused attempt is still in the audit: who keeps trying plaintext.
        expect((await clients(proxy)).clients).toEqual([
          expect.objectContaining({ user: cliUser, transport: 'plain', logins: 1 }),
        ]);
      } finally {
        await proxy.stop();
      }
    },
  );

  it('off (the default) relays plaintext without a warning', async () => {
    const proxy = await startProxy({ backendPort: db.port });
    try {
      expect(await login(proxy)).toBe(7);
      await closedCount(proxy, 1);
      expect(await proxy.metric(WOULD_REJECT, { reason: 'insecure_transport' })).toBe(0);
      expect(await proxy.metric('connections_total', { transport: 'plain' })).toBe(1);
      expect(warnings(proxy)).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses a value it does not know, naming the flag', async () => {
    const proxy = startProxy({ backendPort: db.port, args: ['--require-secure-transport=maybe'] });
    await expect(proxy).rejects.toThrow(/--require-secure-transport must be on, off or warn, got 'maybe'/);
  });
});

it('--workers 2: /clients and the warn counter cover every worker', async () => {
  const proxy = await startProxy({
    backendPort: db.port,
    args: ['--workers', '2', '--require-secure-transport=warn'],
  });
  try {
    await proxy.waitForLog(() => proxy.logs().filter((l) => l.event === 'worker_listening').length === 2);
    const ca = await fs.readFile(proxy.caFile);
    const logins = Array.from({ length: 12 }, (_, i) => login(proxy, i % 3 === 0 ? undefined : { ca }));
    expect(await Promise.all(logins)).toEqual(Array(12).fill(7));
    await closedCount(proxy, 12);
    expect(await proxy.metric(WOULD_REJECT, { reason: 'insecure_transport' })).toBe(4);
    const report = await clients(proxy);
    expect(report.logins).toBe(12);
    expect(report.by_transport.plain).toBe(4);
    const plain = report.clients.find((r) => r.transport === 'plain');
    expect(plain).toMatchObject({ user, address: '127.0.0.1', logins: 4, logins_min: 4 });
    expect(report.clients.reduce((sum, r) => sum + r.logins, 0)).toBe(12);
  } finally {
    await proxy.stop();
  }
});
