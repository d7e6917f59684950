/**
 * Whole sessions without sockets or a database: the client and the database are in-memory socket
 * pairs (test/helpers/memory-socket.ts), the database leg comes from an injected Dialer, and the
 * database's side is scripted here byte by byte. TLS runs for real (tls.TLSSocket over the
 * in-memory stream). Each test checks what both peers received, the one log line, and the metrics.
 */
import tls from 'node:tls';
import { CLOSE_REASONS } from '../../../src/core/labels';
import { ABORTED_LOGIN_USER } from '../../../src/handshake/placeholder-login';
import { DEFAULT_HANDSHAKE_OPTIONS } from '../../../src/handshake/machine';
import type { TlsUpgradeHandlers, TlsUpgrader } from '../../../src/net/client-leg';
import type { Dialer } from '../../../src/net/dialer';
import { Session, type SessionSettings } from '../../../src/net/session';
import type { SocketLike } from '../../../src/net/socket-like';
import { createLogger } from '../../../src/observability/logger';
import { LogLimiter } from '../../../src/observability/log-limiter';
import { ProxyMetrics } from '../../../src/observability/metrics';
import { Capability } from '../../../src/protocol/capabilities';
import { encodeErrPacket, parseErrPacket } from '../../../src/protocol/err-packet';
import { errReplies } from '../../../src/protocol/err-replies';
import { encodeGreeting, parseGreeting } from '../../../src/protocol/greeting';
import { encodeHandshakeResponse, parseHandshakeResponse } from '../../../src/protocol/handshake-response';
import { encodePacket, PacketReader } from '../../../src/protocol/packet';
import { encodeSslRequest } from '../../../src/protocol/ssl-request';
import { generateDevCertificates } from '../../../src/tls/dev-certs';
import { MemorySocket } from '../../helpers/memory-socket';

const SERVER_CAPS =
  Capability.LONG_FLAG |
  Capability.CONNECT_WITH_DB |
  Capability.PROTOCOL_41 |
  Capability.TRANSACTIONS |
  Capability.SECURE_CONNECTION |
  Capability.MULTI_RESULTS |
  Capability.PLUGIN_AUTH |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA;
const CLIENT_CAPS = SERVER_CAPS | Capability.LONG_PASSWORD;

const GREETING = encodeGreeting({
  protocolVersion: 10,
  serverVersion: '5.5.5-10.11.19-MariaDB',
  connectionId: 42,
  authPluginData: Buffer.from('abcdefghijklmnopqrst'),
  capabilities: SERVER_CAPS,
  characterSet: 45,
  statusFlags: 2,
  reserved: Buffer.alloc(10),
  authPluginName: 'mysql_native_password',
});
const login = (caps = CLIENT_CAPS, user = 'app') =>
  encodeHandshakeResponse({
    capabilities: caps,
    maxPacketSize: 1 << 24,
    characterSet: 45,
    filler: Buffer.alloc(23),
    username: Buffer.from(user),
    authResponse: Buffer.alloc(20, 7),
    database: Buffer.from('test'),
    authPluginName: 'mysql_native_password',
  });
const SSL_REQUEST = encodeSslRequest({
  capabilities: CLIENT_CAPS | Capability.SSL,
  maxPacketSize: 1 << 24,
  characterSet: 45,
  filler: Buffer.alloc(23),
});
const OK = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
const query = (sql: string) => encodePacket(Buffer.from(`\x03${sql}`), 0);
const COM_QUIT = encodePacket(Buffer.from([0x01]), 0);

/** Everything one end of a pair received, as bytes and as MySQL packets. */
class Tap {
  private chunks: Buffer[] = [];
  ended = false;
  constructor(readonly socket: SocketLike) {
    socket.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    socket.on('end', () => (this.ended = true));
    socket.on('error', () => undefined);
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  packets(): Array<{ seq: number; payload: Buffer }> {
    const reader = new PacketReader(1 << 24);
    reader.push(this.bytes);
    const out = [];
    for (let p = reader.read(); p; p = reader.read()) out.push({ seq: p.sequenceId, payload: p.payload });
    return out;
  }
  async packet(index: number): Promise<{ seq: number; payload: Buffer }> {
    await until(() => this.packets().length > index, `packet ${index}`);
    return this.packets()[index];
  }
  clear(): void {
    this.chunks = [];
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

interface Harness {
  session: Session;
  client: MemorySocket;
  fromProxy: Tap;
  /** The database's end of the dialled pair (undefined until dialled). */
  db?: MemorySocket;
  fromClient?: Tap;
  dials: number;
  finished: Promise<void>;
  logs: Array<Record<string, unknown>>;
  metrics: ProxyMetrics;
}

const CLIENT = { address: '::ffff:203.0.113.7', port: 50123 };
const PROXY = { address: '::ffff:10.0.0.1', port: 3307 };
const DATABASE = { address: '10.0.0.2', port: 3306 };

const SETTINGS: SessionSettings = {
  backend: { host: 'db.internal', port: 3306 },
  // Generous: the machine may be loaded; the timeout test sets its own.
  handshakeTimeoutMs: 10_000,
  backendConnectTimeoutMs: 5_000,
  tcpKeepaliveMs: 0,
  handshake: { ...DEFAULT_HANDSHAKE_OPTIONS },
  backendProxyProtocol: 'off',
  proxyProtocolWaitMs: 100,
  backendTls: { mode: 'off' },
};

const NO_TLS: TlsUpgrader = {
  upgrade: () => {
    throw new Error('no TLS in this test');
  },
};

function harness(
  options: {
    settings?: Partial<SessionSettings>;
    dial?: 'connect' | 'refuse' | 'hang';
    tls?: TlsUpgrader;
    highWaterMark?: number;
  } = {},
): Harness {
  const [client, proxySide] = MemorySocket.pair(CLIENT, PROXY, options.highWaterMark);
  const logs: Array<Record<string, unknown>> = [];
  const destination = { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) };
  const metrics = new ProxyMetrics({ processMetrics: false });
  let resolveFinished: () => void = () => undefined;
  const h: Harness = {
    client,
    fromProxy: new Tap(client),
    dials: 0,
    finished: new Promise<void>((resolve) => (resolveFinished = resolve)),
    logs,
    metrics,
  } as Harness;
  const dial: Dialer = () => {
    h.dials++;
    const [backendSide, db] = MemorySocket.pair(PROXY, DATABASE, options.highWaterMark);
    h.db = db;
    h.fromClient = new Tap(db);
    if ((options.dial ?? 'connect') === 'connect') backendSide.connectSoon();
    else if (options.dial === 'refuse') {
      process.nextTick(() =>
        backendSide.destroy(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })),
      );
    }
    return backendSide;
  };
  h.session = new Session(
    proxySide,
    {
      settings: { ...SETTINGS, ...options.settings },
      tls: options.tls ?? NO_TLS,
      metrics,
      logger: createLogger('info', destination),
      allows: () => true,
      refusalLog: new LogLimiter(),
      dial,
    },
    () => resolveFinished(),
  );
  return h;
}

async function counter(metrics: ProxyMetrics, name: 'auth' | 'connectionsRejected' | 'connections') {
  const values = (await metrics[name].get()).values;
  return Object.fromEntries(values.map((v) => [Object.values(v.labels).join(','), v.value]));
}

async function activeConnections(metrics: ProxyMetrics): Promise<number> {
  return (await metrics.connectionsActive.get()).values.reduce((sum, v) => sum + v.value, 0);
}

/** Greeting, plaintext login, OK: the session is relaying. */
async function plainLogin(h: Harness): Promise<void> {
  h.session.start();
  await until(() => h.db !== undefined, 'dial');
  h.db!.write(encodePacket(GREETING, 0));
  const greeting = await h.fromProxy.packet(0);
  expect(greeting.seq).toBe(0);
  h.client.write(encodePacket(login(), 1));
  const forwarded = await h.fromClient!.packet(0);
  expect(parseHandshakeResponse(forwarded.payload).username.toString()).toBe('app');
  h.db!.write(encodePacket(OK, 2));
  expect(await h.fromProxy.packet(1)).toEqual({ seq: 2, payload: OK });
  await until(() => h.session.isEstablished, 'established');
  h.fromProxy.clear();
  h.fromClient!.clear();
}

describe('Session over in-memory sockets', () => {
  it('logs in in plaintext, relays commands unchanged both ways, and ends as client_quit after COM_QUIT', async () => {
    const h = harness();
    await plainLogin(h);
    const command = query('SELECT 1');
    h.client.write(command);
    await until(() => h.fromClient!.bytes.length === command.length, 'relayed command');
    expect(h.fromClient!.bytes).toEqual(command);
    const answer = Buffer.concat([encodePacket(Buffer.from([1]), 1), encodePacket(OK, 2)]);
    h.db!.write(answer);
    await until(() => h.fromProxy.bytes.length === answer.length, 'relayed answer');
    expect(h.fromProxy.bytes).toEqual(answer);

    h.client.write(COM_QUIT);
    await until(() => h.fromClient!.bytes.length === command.length + COM_QUIT.length, 'COM_QUIT');
    h.db!.end(); // the database closes after COM_QUIT
    await h.finished;
    expect(h.logs).toHaveLength(1);
    expect(h.logs[0]).toMatchObject({
      event: 'connection_closed',
      reason: 'client_quit',
      transport: 'plain',
      user: 'app',
      database: 'test',
      backend_connection_id: 42,
      client: { address: '203.0.113.7', port: 50123 },
    });
    await until(() => h.fromProxy.ended, 'the client sees the end');
    expect(await counter(h.metrics, 'auth')).toEqual({ ok: 1, error: 0 });
    expect(await counter(h.metrics, 'connections')).toEqual({ tls: 0, plain: 1 });
    expect(await activeConnections(h.metrics)).toBe(0);
  });

  it('counts the relayed bytes from the database socket into the log line', async () => {
    const h = harness();
    await plainLogin(h);
    h.client.write(query('SELECT 2'));
    await until(() => h.fromClient!.bytes.length > 0, 'relayed command');
    h.client.end();
    await h.finished;
    const { bytes, reason } = h.logs[0] as { bytes: Record<string, number>; reason: string };
    expect(reason).toBe('client_closed');
    // greeting in, login and the query out (with --backend-proxy-protocol off, nothing else).
    expect(bytes.client_to_backend).toBe(4 + login().length + query('SELECT 2').length);
    expect(bytes.backend_to_client).toBe(4 + GREETING.length + 4 + OK.length);
  });

  it('ends as backend_closed when the database hangs up, and closes the client', async () => {
    const h = harness();
    await plainLogin(h);
    h.db!.end();
    await h.finished;
    expect(h.logs[0]).toMatchObject({ reason: 'backend_closed' });
    await until(() => h.fromProxy.ended, 'the client sees the end');
  });

  it('keeps backpressure: a client that stops reading stalls the database, and nothing is lost', async () => {
    const h = harness({ highWaterMark: 4096 });
    await plainLogin(h);
    h.client.pause();
    h.fromProxy.socket.removeAllListeners('data');
    // The database writes 1 KiB chunks as fast as the proxy takes them, waiting for 'drain' when
    // told to; without backpressure the proxy would take all 1 MiB into its buffers.
    const sent: Buffer[] = [];
    let stalled = false;
    for (let i = 0; !stalled && i < 1024; i++) {
      sent.push(Buffer.alloc(1024, i & 0xff));
      if (h.db!.write(sent[i])) continue;
      const drained = new Promise<boolean>((resolve) => h.db!.once('drain', () => resolve(true)));
      stalled = !(await Promise.race([drained, sleep(100).then(() => false)]));
    }
    expect(stalled).toBe(true);
    // Bounded by the high-water marks along the way (4 KiB each), not by what the database sends.
    expect(sent.length).toBeLessThan(64);
    await sleep(200);
    expect(h.db!.writableLength).toBeGreaterThan(0); // still held back: the proxy stopped reading
    const received: Buffer[] = [];
    h.client.on('data', (data: Buffer) => received.push(data));
    h.client.resume();
    await until(() => Buffer.concat(received).length === sent.length * 1024, 'all bytes');
    expect(Buffer.concat(received)).toEqual(Buffer.concat(sent));
    h.client.end();
    await h.finished;
  });

  it('refuses on accept with a pre-greeting ERR, never dialling, as ip_not_allowed', async () => {
    const h = harness();
    h.session.refuse('ip_not_allowed', errReplies.hostNotAllowed('10.9.9.9'));
    await h.finished;
    expect(h.dials).toBe(0);
    const [err] = h.fromProxy.packets();
    expect(err.seq).toBe(0);
    expect(parseErrPacket(err.payload).message).toContain("Host '10.9.9.9' is not allowed");
    expect(h.logs[0]).toMatchObject({ reason: 'ip_not_allowed', transport: 'pending' });
    expect((await counter(h.metrics, 'connectionsRejected')).ip_not_allowed).toBe(1);
    expect(await activeConnections(h.metrics)).toBe(0);
  });

  it('tells the client when the database refuses the connection (backend_unavailable, a warning)', async () => {
    const h = harness({ dial: 'refuse' });
    h.session.start();
    await h.finished;
    const [err] = h.fromProxy.packets();
    expect(parseErrPacket(err.payload).message).toContain("Can't connect to MySQL server");
    expect(h.logs[0]).toMatchObject({ reason: 'backend_unavailable', detail: 'ECONNREFUSED', level: 'warn' });
    expect((await counter(h.metrics, 'connectionsRejected')).backend_unavailable).toBe(1);
  });

  it('gives up on a database that does not answer within --backend-connect-timeout', async () => {
    const h = harness({ dial: 'hang', settings: { backendConnectTimeoutMs: 30 } });
    h.session.start();
    await h.finished;
    expect(h.logs[0]).toMatchObject({ reason: 'backend_unavailable', detail: 'no connection within 30 ms' });
  });

  it('times out a silent client, tells it why, and logs the database out cleanly (handshake_timeout)', async () => {
    const h = harness({ settings: { handshakeTimeoutMs: 400 } });
    h.session.start();
    await until(() => h.db !== undefined, 'dial');
    h.db!.write(encodePacket(GREETING, 0));
    await h.fromProxy.packet(0); // greeted; then the client says nothing
    const abortedLogin = await h.fromClient!.packet(0);
    expect(parseHandshakeResponse(abortedLogin.payload).username.toString()).toBe(ABORTED_LOGIN_USER);
    const err = await h.fromProxy.packet(1);
    expect(parseErrPacket(err.payload).message).toContain('did not complete within 400 ms');
    h.db!.write(
      encodePacket(encodeErrPacket({ code: 1045, sqlState: '28000', message: 'Access denied' }), 2),
    );
    await h.finished;
    expect(h.logs[0]).toMatchObject({ reason: 'handshake_timeout' });
    expect((await counter(h.metrics, 'connectionsRejected')).handshake_timeout).toBe(1);
  });

  it('relays a denied login as auth_failed', async () => {
    const h = harness();
    h.session.start();
    await until(() => h.db !== undefined, 'dial');
    h.db!.write(encodePacket(GREETING, 0));
    await h.fromProxy.packet(0);
    h.client.write(encodePacket(login(CLIENT_CAPS, 'mallory'), 1));
    await h.fromClient!.packet(0);
    const denied = encodeErrPacket({ code: 1045, sqlState: '28000', message: 'Access denied' });
    h.db!.write(encodePacket(denied, 2));
    expect((await h.fromProxy.packet(1)).payload).toEqual(denied);
    await h.finished;
    expect(h.logs[0]).toMatchObject({ reason: 'auth_failed', user: 'mallory' });
    expect(await counter(h.metrics, 'auth')).toEqual({ ok: 0, error: 1 });
  });

  it('writes exactly one log line per session, with a reason from the closed list', async () => {
    const sessions = [harness(), harness({ dial: 'refuse' })];
    sessions[0].session.start();
    sessions[1].session.start();
    await until(() => sessions[0].db !== undefined, 'dial');
    sessions[0].client.destroy();
    sessions[0].db!.destroy();
    await Promise.all(sessions.map((s) => s.finished));
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const s of sessions) {
      expect(s.logs).toHaveLength(1);
      expect(CLOSE_REASONS).toContain(s.logs[0].reason);
    }
  });
});

describe('Session with TLS on the client leg (real TLS over in-memory sockets)', () => {
  let context: tls.SecureContext;
  beforeAll(async () => {
    const pem = await generateDevCertificates({
      hosts: ['localhost'],
      keyType: 'ecdsa',
      rsaBits: 2048,
      days: 30,
    });
    context = tls.createSecureContext({ cert: pem.serverCert, key: pem.serverKey, minVersion: 'TLSv1.2' });
  });

  /** As TlsTerminator does, minus the listening server: TLS over the accepted (here: in-memory) socket. */
  const upgrader = (): TlsUpgrader => ({
    upgrade(raw: SocketLike, pending: Buffer, handlers: TlsUpgradeHandlers) {
      if (pending.length > 0) raw.unshift(pending);
      const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
      socket.once('secure', () => handlers.secure(socket));
      socket.once('error', (error: Error) => handlers.failed(error, 'other'));
    },
  });

  async function tlsLogin(h: Harness): Promise<{ secure: tls.TLSSocket; fromProxy: Tap }> {
    h.session.start();
    await until(() => h.db !== undefined, 'dial');
    h.db!.write(encodePacket(GREETING, 0));
    const greeting = parseGreeting((await h.fromProxy.packet(0)).payload);
    expect(greeting.capabilities & Capability.SSL).toBeTruthy();
    h.client.write(encodePacket(SSL_REQUEST, 1));
    h.fromProxy.socket.removeAllListeners('data');
    const secure = tls.connect({ socket: h.client, rejectUnauthorized: false, servername: 'localhost' });
    const fromProxy = new Tap(secure);
    await new Promise<void>((resolve) => secure.once('secureConnect', () => resolve()));
    secure.write(encodePacket(login(CLIENT_CAPS | Capability.SSL), 2));
    const forwarded = await h.fromClient!.packet(0);
    expect(forwarded.seq).toBe(1); // the database leg never saw the SSLRequest
    h.db!.write(encodePacket(OK, 2));
    expect(await fromProxy.packet(0)).toEqual({ seq: 3, payload: OK });
    await until(() => h.session.isEstablished, 'established');
    h.fromClient!.clear();
    return { secure, fromProxy };
  }

  it('upgrades, shifts sequence ids, logs the TLS version and counts the handshake', async () => {
    const h = harness({ tls: upgrader() });
    const { secure } = await tlsLogin(h);
    secure.write(COM_QUIT);
    await until(() => h.fromClient!.bytes.equals(COM_QUIT), 'COM_QUIT');
    h.db!.end();
    await h.finished;
    expect(h.logs[0]).toMatchObject({
      reason: 'client_quit',
      transport: 'tls',
      tls_version: secure.getProtocol(),
    });
    expect(await counter(h.metrics, 'connections')).toEqual({ tls: 1, plain: 0 });
  });

  it('watches the commands of a TLS client in front of a plain database and hands COM_CHANGE_USER to a machine', async () => {
    const h = harness({ tls: upgrader() });
    const { secure, fromProxy } = await tlsLogin(h);
    const ping = encodePacket(Buffer.from([0x0e]), 0);
    secure.write(ping);
    await until(() => h.fromClient!.bytes.equals(ping), 'COM_PING relayed');
    h.db!.write(encodePacket(OK, 1));
    await fromProxy.packet(1);
    h.fromClient!.clear();
    const changeUser = encodePacket(
      Buffer.concat([
        Buffer.from('\x11bob\0'),
        Buffer.from([20]),
        Buffer.alloc(20, 5),
        Buffer.from('test\0'),
        Buffer.from([45, 0]),
        Buffer.from('mysql_native_password\0'),
      ]),
      0,
    );
    secure.write(changeUser);
    const relayed = await h.fromClient!.packet(0);
    expect(relayed.payload.subarray(0, 5).toString('latin1')).toBe('\x11bob\0');
    h.db!.write(encodePacket(OK, 1));
    expect((await fromProxy.packet(2)).payload).toEqual(OK);
    // Relaying again afterwards.
    h.fromClient!.clear();
    secure.write(ping);
    await until(() => h.fromClient!.bytes.equals(ping), 'COM_PING after COM_CHANGE_USER');
    secure.end();
    await h.finished;
    expect(h.logs[0]).toMatchObject({ reason: 'client_closed', transport: 'tls' });
  });
});
