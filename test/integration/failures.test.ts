/**
 * Refusals and faults with a real MariaDB behind the built proxy: every one ends one connection
 * with a clear MySQL error, is counted, and leaves the proxy serving everyone else.
 */
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { startProxy } from '../helpers/proxy';
import { closed, connectRaw, mysql, readPacket } from '../helpers/clients';
import { promises as fs } from 'fs';
import * as net from 'net';

const { user, password } = TEST_USERS.native;
let db: MariaDbServer;

beforeAll(async () => {
  db = await startMariaDb();
});
afterAll(async () => {
  await db?.destroy();
});

function errOf(payload: Buffer): { code: number; message: string } {
  expect(payload[0]).toBe(0xff);
  const code = payload.readUInt16LE(1);
  const text = payload.subarray(3).toString('utf8');
  return { code, message: text.startsWith('#') ? text.slice(6) : text };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('refusals', () => {
  it('answers ERR 2003 promptly when the backend is unreachable, and keeps serving', async () => {
    const proxy = await startProxy({ backendPort: await freePort() });
    try {
      const socket = await connectRaw(proxy.port);
      const started = Date.now();
      const packet = await readPacket(socket);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(packet.seq).toBe(0);
      const err = errOf(packet.payload);
      expect(err.code).toBe(2003);
      expect(err.message).toMatch(/Can't connect to MySQL server.*ECONNREFUSED/);
      await closed(socket);
      expect(await proxy.metric('connections_rejected_total', { reason: 'backend_unavailable' })).toBe(1);
      const line = await proxy.waitForLog((l) => l.event === 'connection_closed');
      expect(line.reason).toBe('backend_unavailable');
    } finally {
      await proxy.stop();
    }
  });

  it('answers ERR 1040 beyond --max-connections without dialling the backend', async () => {
    const proxy = await startProxy({ backendPort: db.port, args: ['--max-connections', '2'] });
    const ca = await fs.readFile(proxy.caFile);
    const open = [];
    try {
      for (let i = 0; i < 2; i++) {
        open.push(
          await mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user, password, ssl: { ca } }),
        );
      }
      const socket = await connectRaw(proxy.port);
      const err = errOf((await readPacket(socket)).payload);
      expect(err).toEqual({ code: 1040, message: 'Too many connections' });
      await closed(socket);
      expect(await proxy.metric('connections_rejected_total', { reason: 'max_connections' })).toBe(1);
      await open.pop().end();
      await proxy.waitForLog((l) => l.event === 'connection_closed' && l.reason === 'client_quit');
      const again = await mysql.createConnection({
        host: '127.0.0.1',
        port: proxy.port,
        user,
        password,
        ssl: { ca },
      });
      open.push(again);
      const [rows] = await again.query('SELECT 1 AS ok');
      expect(rows).toEqual([{ ok: 1 }]);
    } finally {
      await Promise.all(open.map((c) => c.end()));
      await proxy.stop();
    }
  });

  it('ends a connection phase that takes longer than --handshake-timeout with ERR 1043', async () => {
    const proxy = await startProxy({ backendPort: db.port, args: ['--handshake-timeout', '400'] });
    try {
      const socket = await connectRaw(proxy.port);
      const greeting = await readPacket(socket);
      expect(greeting.payload[0]).toBe(10);
      const started = Date.now();
      const packet = await readPacket(socket, 3_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      expect(packet.seq).toBe(1);
      expect(errOf(packet.payload).code).toBe(1043);
      await closed(socket);
      expect(await proxy.metric('connections_rejected_total', { reason: 'handshake_timeout' })).toBe(1);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses a client outside the access list with ERR 1130 before dialling the backend', async () => {
    const proxy = await startProxy({ backendPort: db.port, args: ['--listen', '0.0.0.0:0'] });
    try {
      const before = Number(
        await db.sql("SHOW GLOBAL STATUS LIKE 'Connections'").then((s) => s.split('\t')[1]),
      );
      const socket = await connectRaw(proxy.port, '127.0.0.2');
      const packet = await readPacket(socket);
      expect(packet.seq).toBe(0);
      expect(errOf(packet.payload)).toEqual({
        code: 1130,
        message: "Host '127.0.0.2' is not allowed to connect to this MySQL server",
      });
      await closed(socket);
      const after = Number(
        await db.sql("SHOW GLOBAL STATUS LIKE 'Connections'").then((s) => s.split('\t')[1]),
      );
      expect(after - before).toBe(1); // only our own SHOW STATUS over the socket
      expect(await proxy.metric('connections_rejected_total', { reason: 'ip_not_allowed' })).toBe(1);
    } finally {
      await proxy.stop();
    }
  });

  it('closes a client that starts TLS directly (no SSLRequest) and counts a bad packet', async () => {
    const proxy = await startProxy({ backendPort: db.port });
    try {
      const socket = await connectRaw(proxy.port);
      await readPacket(socket);
      socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
      const err = errOf((await readPacket(socket)).payload);
      expect(err.code).toBe(1043);
      expect(err.message).toMatch(/TLS ClientHello/);
      await closed(socket);
      expect(await proxy.metric('connections_rejected_total', { reason: 'bad_packet' })).toBe(1);
    } finally {
      await proxy.stop();
    }
  });
});

describe('faults', () => {
  it('gives clients a prompt ERR while the backend is down and recovers when it is back', async () => {
    const proxy = await startProxy({ backendPort: db.port });
    const ca = await fs.readFile(proxy.caFile);
    const connect = () =>
      mysql.createConnection({
        host: '127.0.0.1',
        port: proxy.port,
        user,
        password,
        ssl: { ca },
        connectTimeout: 5_000,
      });
    try {
      const live = await connect();
      await db.stop();
      await expect(live.query('SELECT 1')).rejects.toThrow();
      const started = Date.now();
      await expect(connect()).rejects.toMatchObject({ errno: 2003 });
      expect(Date.now() - started).toBeLessThan(2_000);
      await db.start();
      const again = await connect();
      const [rows] = await again.query('SELECT 5 AS five');
      expect(rows).toEqual([{ five: 5 }]);
      await again.end();
      live.destroy();
    } finally {
      await proxy.stop();
    }
  });

  it('ends the backend session when its client is killed mid-query', async () => {
    const proxy = await startProxy({ backendPort: db.port });
    const ca = await fs.readFile(proxy.caFile);
    try {
      const conn = await mysql.createConnection({
        host: '127.0.0.1',
        port: proxy.port,
        user,
        password,
        ssl: { ca },
      });
      const [[{ id }]] = await conn.query('SELECT CONNECTION_ID() AS id');
      const running = conn.query('SELECT SLEEP(60)').catch(() => 'killed');
      await waitFor(
        async () =>
          (await db.sql(
            `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID=${id} AND INFO LIKE 'SELECT SLEEP%'`,
          )) === '1',
      );
      conn.connection.stream.destroy();
      expect(await running).toBe('killed');
      await waitFor(
        async () =>
          (await db.sql(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID=${id}`)) === '0',
        15_000,
      );
      const line = await proxy.waitForLog(
        (l) => l.event === 'connection_closed' && l.backend_connection_id === Number(id),
      );
      expect(['client_closed', 'client_error']).toContain(line.reason);
    } finally {
      await proxy.stop();
    }
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
