/**
 * MySQL and MariaDB block a client host after max_connect_errors aborted handshakes, and every
 * client of the proxy shares its address. Here the backend counts errors from the proxy's address
 * (127.0.0.2: only 127.0.0.1 is exempt from the host cache) and blocks after 10; 300 clients that
 * give up at every stage of the handshake must not get the proxy blocked.
 */
import { promises as fs } from 'fs';
import * as tls from 'tls';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { startProxy, type ProxyProcess } from '../helpers/proxy';
import { closed, connectRaw, mysql, readPacket, SSL_REQUEST } from '../helpers/clients';

const MAX_CONNECT_ERRORS = 10;
const { user, password } = TEST_USERS.native;
let db: MariaDbServer;
let proxy: ProxyProcess;
let ca: Buffer;

beforeAll(async () => {
  db = await startMariaDb({ extraArgs: [`--max-connect-errors=${MAX_CONNECT_ERRORS}`] });
  proxy = await startProxy({ backendPort: db.port, args: ['--backend-local-address', '127.0.0.2'] });
  ca = await fs.readFile(proxy.caFile);
});
afterAll(async () => {
  await proxy?.stop();
  await db?.destroy();
});

/** One client that gives up at `stage`. */
async function abortAt(stage: number, port: number): Promise<void> {
  const socket = await connectRaw(port);
  socket.on('error', () => undefined);
  if (stage === 0) return void socket.destroy(); // before the greeting
  await readPacket(socket);
  if (stage === 1) return void socket.destroy(); // after the greeting, before the SSLRequest
  socket.write(SSL_REQUEST);
  if (stage === 2) return void socket.destroy(); // SSLRequest sent, TLS not started
  const secure = tls.connect({ socket, ca, servername: 'localhost' });
  secure.on('error', () => undefined);
  await new Promise<void>((resolve) =>
    secure.once('secureConnect', () => resolve()).once('error', () => resolve()),
  );
  secure.destroy(); // TLS up, no HandshakeResponse
}

it('the backend really blocks an address that aborts handshakes (control)', async () => {
  for (let i = 0; i < MAX_CONNECT_ERRORS + 1; i++) {
    const socket = await connectRaw(db.port, '127.0.0.2');
    await readPacket(socket);
    socket.destroy();
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const socket = await connectRaw(db.port, '127.0.0.2');
  const packet = await readPacket(socket);
  expect(packet.payload[0]).toBe(0xff);
  expect(packet.payload.readUInt16LE(1)).toBe(1129); // ER_HOST_IS_BLOCKED
  await closed(socket);
  await db.sql('FLUSH HOSTS');
});

const preauthAborts = async () =>
  Number((await db.sql("SHOW GLOBAL STATUS LIKE 'Aborted_connects_preauth'")).split('\t')[1]);

it('300 clients aborting at every handshake stage do not get the proxy blocked', async () => {
  const before = await preauthAborts();
  for (let i = 0; i < 300; i++) await abortAt(i % 4, proxy.port);
  // Let the proxy finish releasing the last backend connections.
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (let i = 0; i < 5; i++) {
    const conn = await mysql.createConnection({
      host: '127.0.0.1',
      port: proxy.port,
      user,
      password,
      ssl: { ca },
    });
    const [rows] = await conn.query('SELECT 1 AS ok');
    expect(rows).toEqual([{ ok: 1 }]);
    await conn.end();
  }
  // The proxy completed every abandoned handshake itself: the server saw no pre-auth aborts at all.
  expect((await preauthAborts()) - before).toBe(0);
});
