/**
 * A small, cheap MySQL client for load tools: TCP connect, greeting, SSLRequest, TLS on the same
 * socket, HandshakeResponse with mysql_native_password or caching_sha2_password (AuthSwitchRequest
 * and AuthMoreData handled), optional text queries, COM_QUIT.
 *
 * Built on the protocol codecs rather than a driver because a driver's per-connection setup
 * (option parsing, a SecureContext per connection, connection attributes, session variables) would
 * dominate a handshake benchmark. Callers pass one shared tls.SecureContext.
 *
 * Failures are thrown as MysqlClientError, classified into a closed set of kinds (see errors.ts).
 *
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import {
  Capability,
  classifyServerAuthPacket,
  COM_QUIT_PACKET,
  encodeComQuery,
  encodeHandshakeResponse,
  encodePacket,
  encodeSslRequest,
  hasCapability,
  isErrPacket,
  parseErrPacket,
  parseGreeting,
  parseOkPacket,
  PacketReader,
  PayloadReader,
  SERVER_MORE_RESULTS_EXISTS,
  type Greeting,
  type Packet,
} from '../protocol';
import { classifyError, MysqlClientError, type Stage } from './errors';

export interface MysqlConnectOptions {
  host: string;
  port: number;
  user: string;
  password?: string;
  database?: string;
  /**
   * true (default): SSLRequest and TLS, fail when the server does not advertise CLIENT_SSL;
   * false: plaintext.
   */
  tls?: boolean;
  /** Shared across connections: the cheap path. Created from `tlsOptions` per connection otherwise. */
  secureContext?: tls.SecureContext;
  tlsOptions?: tls.SecureContextOptions;
  /** SNI and the name the certificate is checked against; defaults to `host`. */
  serverName?: string;
  /** Verify the server certificate chain and name (default false). */
  rejectUnauthorized?: boolean;
  /** A TLS session to resume (from a previous connection's `session`). */
  session?: Buffer;
  /** Called with every TLS session (ticket) the server issues. Only listened for when given. */
  onSession?: (session: Buffer) => void;
  /** Each step (connect phase, a query, quit) must finish within this many ms (default 10000). */
  timeoutMs?: number;
  /** Resolve right after the TLS handshake, without logging in (bench --mode tls-only). */
  stopAfterTls?: boolean;
  localAddress?: string;
}

/**
 * performance.now() when each step of the connection phase completed; 0 for a step not reached
 * (tls without TLS, auth with stopAfterTls). Load tools turn these into per-phase latencies.
 */
export interface ConnectMarks {
  /** The TCP connect was started. */
  start: number;
  /** TCP established. */
  connected: number;
  /** The greeting was read. */
  greeting: number;
  /** The TLS handshake finished. */
  tls: number;
  /** The login's OK was read. */
  auth: number;
}

export interface QueryResult {
  /** Column names, empty for statements without a result set. */
  columns: string[];
  /** Text-protocol rows; NULL is null. */
  rows: Array<Array<string | null>>;
  affectedRows: number;
}

/** Plugins the client can answer (initially or after an AuthSwitchRequest). */
export const SUPPORTED_AUTH_PLUGINS = [
  'mysql_native_password',
  'caching_sha2_password',
  'sha256_password',
  'mysql_clear_password',
] as const;

const CLIENT_CAPABILITIES =
  Capability.LONG_PASSWORD |
  Capability.LONG_FLAG |
  Capability.PROTOCOL_41 |
  Capability.TRANSACTIONS |
  Capability.SECURE_CONNECTION |
  Capability.MULTI_RESULTS |
  Capability.PLUGIN_AUTH |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  Capability.DEPRECATE_EOF;

const UTF8MB4_GENERAL_CI = 45;
const MAX_PACKET_SIZE = 16 * 1024 * 1024;
/** Connection-phase packets are small; a bigger announced length is a protocol error. */
const HANDSHAKE_MAX_PAYLOAD = 64 * 1024;
const QUERY_MAX_PAYLOAD = 0xffffff;
const EMPTY = Buffer.alloc(0);
const ZERO_FILLER = Buffer.alloc(23);

// ---------------------------------------------------------------------------
// Scrambles (pure, exported for tests)

function sha1(...parts: Buffer[]): Buffer {
  const hash = createHash('sha1');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

function sha256(...parts: Buffer[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i % b.length];
  return out;
}

/** mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))); empty for no password. */
export function nativePasswordScramble(password: string, nonce: Buffer): Buffer {
  if (password === '') return EMPTY;
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  return xor(stage1, sha1(nonce.subarray(0, 20), sha1(stage1)));
}

/** caching_sha2_password: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble); empty for no password. */
export function cachingSha2Scramble(password: string, nonce: Buffer): Buffer {
  if (password === '') return EMPTY;
  const stage1 = sha256(Buffer.from(password, 'utf8'));
  return xor(stage1, sha256(sha256(stage1), nonce.subarray(0, 20)));
}

function authResponse(plugin: string, password: string, nonce: Buffer, secure: boolean): Buffer {
  switch (plugin) {
    case 'mysql_native_password':
      return nativePasswordScramble(password, nonce);
    case 'caching_sha2_password':
      return cachingSha2Scramble(password, nonce);
    case 'sha256_password':
    case 'mysql_clear_password':
      if (!secure) {
        throw new MysqlClientError({
          kind: 'other',
          stage: 'auth',
          message: `${plugin} without TLS needs RSA key exchange, which this client does not do`,
        });
      }
      return Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0])]);
    default:
      throw new MysqlClientError({
        kind: 'other',
        stage: 'auth',
        message: `unsupported authentication plugin ${plugin}`,
      });
  }
}

/** Parses an AuthSwitchRequest (0xfe, plugin name NUL, plugin data). */
export function parseAuthSwitch(payload: Buffer): { plugin: string; data: Buffer } {
  const r = new PayloadReader(payload, 1);
  if (r.remaining === 0) return { plugin: 'mysql_old_password', data: EMPTY };
  const plugin = r.nulTerminated('plugin name').toString('latin1');
  let data = r.rest();
  if (data.length > 0 && data[data.length - 1] === 0) data = data.subarray(0, -1);
  return { plugin, data };
}

// ---------------------------------------------------------------------------
// Certificate check without the detailed chain

type PeerCertificateMethod = (detailed?: boolean) => tls.PeerCertificate | tls.DetailedPeerCertificate;
const prototypePeerCertificate = tls.TLSSocket.prototype.getPeerCertificate as PeerCertificateMethod;

/**
 * Once OpenSSL has verified the chain, Node's client (onConnectSecure in lib/_tls_wrap.js) checks
 * the name with `checkServerIdentity(host, this.getPeerCertificate(true))`. The detailed form turns
 * every certificate of the chain into a JS object and looks the issuer up in the CA store: about
 * 0.4 ms, a quarter of a bench connection's client CPU, of which tls.checkServerIdentity reads two
 * fields of the leaf only (`subject`, `subjectaltname`; see lib/tls.js). Until the handshake is
 * done the socket answers with the leaf alone (same fields, same check, same verdict; the chain is
 * still verified by OpenSSL before that); from secureConnect on it is the prototype's method again.
 */
function leafCertificateDuringHandshake(secure: tls.TLSSocket): void {
  (secure as { getPeerCertificate: PeerCertificateMethod }).getPeerCertificate = () =>
    prototypePeerCertificate.call(secure, false);
}

/** Assigned rather than deleted: a delete could turn the socket into a slow dictionary object. */
function restoreCertificateMethod(secure: tls.TLSSocket): void {
  (secure as { getPeerCertificate: PeerCertificateMethod }).getPeerCertificate = prototypePeerCertificate;
}

// ---------------------------------------------------------------------------
// Connection

export class MysqlConnection {
  greeting!: Greeting;
  /** Negotiated TLS version ('TLSv1.3', ...) and OpenSSL cipher name; undefined on plaintext. */
  tlsVersion?: string;
  cipher?: string;
  /** True when the TLS session was resumed. */
  resumed = false;
  /** The latest TLS session the server issued. */
  session?: Buffer;
  /** The plugin that completed the login. */
  authPlugin = '';
  /** True once the server sent OK for the login. */
  authenticated = false;
  /** When each step of the connection phase completed. */
  readonly marks: ConnectMarks = { start: performance.now(), connected: 0, greeting: 0, tls: 0, auth: 0 };

  private socket: net.Socket;
  private stream: net.Socket | tls.TLSSocket;
  private reader = new PacketReader(HANDSHAKE_MAX_PAYLOAD);
  private waiter: ((packet: Packet | undefined, error?: Error) => void) | undefined;
  private failure: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stage: Stage = 'connect';
  private capabilities = 0;
  private closing = false;

  private constructor(private readonly options: MysqlConnectOptions) {
    this.socket = net.connect({
      host: options.host,
      port: options.port,
      localAddress: options.localAddress,
      noDelay: true, // the SSLRequest and the ClientHello are separate small writes
    });
    this.stream = this.socket;
    this.socket.on('data', this.onData);
    this.socket.on('error', this.onError);
    this.socket.on('end', this.onEnd);
    this.socket.once('connect', () => {
      this.marks.connected = performance.now();
      if (this.stage === 'connect') this.stage = 'greeting';
    });
  }

  /** Opens a connection and logs in (or stops after TLS with `stopAfterTls`). */
  static async connect(options: MysqlConnectOptions): Promise<MysqlConnection> {
    const connection = new MysqlConnection(options);
    try {
      await connection.handshake();
      return connection;
    } catch (error) {
      connection.destroy();
      throw connection.classify(error);
    }
  }

  /** The TLS socket once TLS is up (certificate, cipher, session details). */
  get tlsSocket(): tls.TLSSocket | undefined {
    return this.stream instanceof tls.TLSSocket ? this.stream : undefined;
  }

  /** Runs a text query and reads its whole result (all result sets). */
  async query(sql: string): Promise<QueryResult> {
    this.stage = 'query';
    this.armTimer();
    try {
      this.reader = new PacketReader(QUERY_MAX_PAYLOAD);
      this.write(encodePacket(encodeComQuery(sql), 0));
      const result: QueryResult = { columns: [], rows: [], affectedRows: 0 };
      for (;;) {
        const status = await this.readResult(result);
        if ((status & SERVER_MORE_RESULTS_EXISTS) === 0) break;
      }
      this.disarmTimer();
      return result;
    } catch (error) {
      this.destroy();
      throw this.classify(error);
    }
  }

  /**
   * COM_QUIT, close_notify and FIN, then closes without waiting for the server's side, as
   * libmysqlclient and libmariadb do: the server acts on COM_QUIT alone, and waiting for its
   * close costs a wake-up, a read and a TLS record per connection. Never throws.
   */
  async quit(): Promise<void> {
    const stream = this.stream;
    if (stream.destroyed || !stream.writable) return this.close();
    this.stage = 'quit';
    this.closing = true;
    this.armTimer();
    await new Promise<void>((resolve) => {
      stream.once('close', resolve);
      stream.end(COM_QUIT_PACKET, () => stream.destroy());
    });
    this.disarmTimer();
  }

  /** Ends the connection (TLS close_notify, FIN) and waits for it to close; never throws. */
  async close(): Promise<void> {
    this.closing = true;
    this.armTimer();
    const stream = this.stream;
    if (!stream.closed) {
      const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
      if (!stream.destroyed) stream.end();
      await closed;
    }
    this.disarmTimer();
  }

  destroy(): void {
    this.disarmTimer();
    this.stream.destroy();
    this.socket.destroy();
  }

  // -------------------------------------------------------------------------

  private async handshake(): Promise<void> {
    const options = this.options;
    this.armTimer();
    const first = await this.next();
    this.marks.greeting = performance.now();
    if (isErrPacket(first.payload)) throw this.mysqlError(first.payload);
    const greeting = parseGreeting(first.payload);
    this.greeting = greeting;
    const useTls = options.tls !== false;
    let caps =
      (CLIENT_CAPABILITIES & greeting.capabilities) | Capability.LONG_PASSWORD | Capability.PROTOCOL_41;
    if (options.database) caps |= Capability.CONNECT_WITH_DB;
    let seq = first.sequenceId + 1;
    if (useTls) {
      await this.requestTls(greeting, caps, seq++);
      if (options.stopAfterTls) {
        this.disarmTimer();
        return;
      }
    } else {
      this.capabilities = caps >>> 0;
    }
    await this.authenticate(greeting, seq, useTls);
  }

  /** SSLRequest, then the TLS handshake on the same socket. */
  private async requestTls(greeting: Greeting, caps: number, seq: number): Promise<void> {
    if (!hasCapability(greeting.capabilities, Capability.SSL)) {
      throw new MysqlClientError({
        kind: 'other',
        stage: 'greeting',
        message: 'the server does not offer TLS (CLIENT_SSL not in the greeting)',
      });
    }
    this.capabilities = (caps | Capability.SSL) >>> 0;
    this.stage = 'tls';
    const request = encodeSslRequest({
      capabilities: this.capabilities,
      maxPacketSize: MAX_PACKET_SIZE,
      characterSet: UTF8MB4_GENERAL_CI,
      filler: ZERO_FILLER,
    });
    this.socket.write(encodePacket(request, seq));
    await this.startTls();
  }

  /** HandshakeResponse, then auth switches and more-data rounds until OK (or ERR, thrown). */
  private async authenticate(greeting: Greeting, firstSeq: number, useTls: boolean): Promise<void> {
    const options = this.options;
    this.stage = 'auth';
    const password = options.password ?? '';
    let plugin = (SUPPORTED_AUTH_PLUGINS as readonly string[]).includes(greeting.authPluginName)
      ? greeting.authPluginName
      : 'mysql_native_password';
    const response = encodeHandshakeResponse({
      capabilities: this.capabilities,
      maxPacketSize: MAX_PACKET_SIZE,
      characterSet: UTF8MB4_GENERAL_CI,
      filler: ZERO_FILLER,
      username: Buffer.from(options.user, 'utf8'),
      authResponse: authResponse(plugin, password, greeting.authPluginData, useTls),
      database: options.database ? Buffer.from(options.database, 'utf8') : undefined,
      authPluginName: plugin,
    });
    this.write(encodePacket(response, firstSeq));
    for (;;) {
      const packet = await this.next();
      const seq = packet.sequenceId + 1;
      const payload = packet.payload;
      switch (classifyServerAuthPacket(payload)) {
        case 'ok':
          this.marks.auth = performance.now();
          this.authPlugin = plugin;
          this.authenticated = true;
          this.disarmTimer();
          return;
        case 'err':
          throw this.mysqlError(payload);
        case 'auth-switch': {
          const request = parseAuthSwitch(payload);
          plugin = request.plugin;
          this.write(encodePacket(authResponse(plugin, password, request.data, useTls), seq));
          break;
        }
        case 'auth-more-data':
          this.answerMoreData(plugin, payload, password, useTls, seq);
          break;
        default:
          throw new MysqlClientError({
            kind: 'other',
            stage: 'auth',
            message: `unexpected packet 0x${payload[0]?.toString(16) ?? '??'} during authentication`,
          });
      }
    }
  }

  /** caching_sha2_password's AuthMoreData: fast auth done (0x03), or the password is due (0x04). */
  private answerMoreData(
    plugin: string,
    payload: Buffer,
    password: string,
    useTls: boolean,
    seq: number,
  ): void {
    const sha2 = plugin === 'caching_sha2_password' && payload.length === 2;
    if (sha2 && payload[1] === 0x03) return; // fast auth succeeded; OK follows
    if (sha2 && payload[1] === 0x04) {
      // full authentication: the password in clear, which is fine inside TLS only
      if (!useTls) {
        throw new MysqlClientError({
          kind: 'other',
          stage: 'auth',
          message: 'caching_sha2_password full authentication without TLS needs RSA, not supported',
        });
      }
      this.write(encodePacket(Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0])]), seq));
      return;
    }
    throw new MysqlClientError({
      kind: 'other',
      stage: 'auth',
      message: `unexpected AuthMoreData for ${plugin}`,
    });
  }

  private startTls(): Promise<void> {
    const options = this.options;
    const serverName = options.serverName ?? options.host;
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    const secure = tls.connect({
      socket: this.socket,
      secureContext: options.secureContext ?? tls.createSecureContext(options.tlsOptions),
      servername: net.isIP(serverName) ? undefined : serverName,
      host: serverName, // what the certificate is checked against (SNI is never an IP address)
      rejectUnauthorized: options.rejectUnauthorized ?? false,
      session: options.session,
    });
    this.stream = secure;
    leafCertificateDuringHandshake(secure);
    if (options.onSession) {
      const onSession = options.onSession;
      secure.on('session', (session: Buffer) => {
        this.session = session;
        onSession(session);
      });
    }
    secure.on('error', this.onError);
    secure.on('end', this.onEnd);
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => reject(error);
      this.waiter = (_packet, error) => fail(error ?? new Error('unexpected data before the TLS handshake'));
      secure.once('secureConnect', () => {
        this.marks.tls = performance.now();
        restoreCertificateMethod(secure);
        this.waiter = undefined;
        this.tlsVersion = secure.getProtocol() ?? undefined;
        this.cipher = secure.getCipher()?.name;
        this.resumed = secure.isSessionReused();
        secure.on('data', this.onData);
        resolve();
      });
    });
  }

  private async readResult(result: QueryResult): Promise<number> {
    const first = await this.next();
    const head = first.payload[0];
    if (head === 0xff) throw this.mysqlError(first.payload);
    if (head === 0x00) return this.readOk(first.payload, result);
    if (head === 0xfb) {
      throw new MysqlClientError({
        kind: 'other',
        stage: 'query',
        message: 'LOAD DATA LOCAL is not supported',
      });
    }
    const columnCount = new PayloadReader(first.payload).lenencInt('column count');
    const columns: string[] = [];
    for (let i = 0; i < columnCount; i++) {
      const def = new PayloadReader((await this.next()).payload);
      for (let field = 0; field < 4; field++) def.lenencBytes(); // catalog, schema, table, org_table
      columns.push(def.lenencBytes('column name').toString('utf8'));
    }
    const deprecateEof = hasCapability(this.capabilities, Capability.DEPRECATE_EOF);
    if (!deprecateEof) await this.next(); // EOF after the column definitions
    result.columns = columns;
    for (;;) {
      const packet = await this.next();
      const payload = packet.payload;
      if (payload[0] === 0xff) throw this.mysqlError(payload);
      if (payload[0] === 0xfe && payload.length < 0xffffff && (deprecateEof || payload.length < 9)) {
        // EOF, or OK with the 0xfe header (CLIENT_DEPRECATE_EOF): status flags tell about more results
        if (deprecateEof) return this.readOk(payload, result);
        return payload.length >= 5 ? payload.readUInt16LE(3) : 0;
      }
      const r = new PayloadReader(payload);
      const row: Array<string | null> = [];
      for (let i = 0; i < columnCount; i++) {
        if (payload[r.offset] === 0xfb) {
          r.offset += 1;
          row.push(null);
        } else {
          row.push(r.lenencBytes('column value').toString('utf8'));
        }
      }
      result.rows.push(row);
    }
  }

  /** OK packet (0x00 or 0xfe header): affected rows, last insert id, status flags. */
  private readOk(payload: Buffer, result: QueryResult): number {
    const ok = parseOkPacket(payload);
    result.affectedRows += ok.affectedRows;
    return ok.statusFlags;
  }

  private mysqlError(payload: Buffer): MysqlClientError {
    const err = parseErrPacket(payload);
    return new MysqlClientError({
      kind: 'mysql_err',
      stage: this.stage,
      code: err.code,
      sqlState: err.sqlState,
      message: `ERROR ${err.code}${err.sqlState ? ` (${err.sqlState})` : ''}: ${err.message}`,
    });
  }

  private classify(error: unknown): MysqlClientError {
    if (error instanceof MysqlClientError) return error;
    return new MysqlClientError(classifyError(error, this.stage));
  }

  private write(data: Buffer): void {
    this.stream.write(data);
  }

  private next(): Promise<Packet> {
    const packet = this.failure ? undefined : this.reader.read();
    if (packet) return Promise.resolve(packet);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = (p, error) => (p ? resolve(p) : reject(error));
    });
  }

  private onData = (chunk: Buffer): void => {
    this.reader.push(chunk);
    const waiter = this.waiter;
    if (!waiter) return;
    let packet: Packet | undefined;
    try {
      packet = this.reader.read();
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    if (packet) {
      this.waiter = undefined;
      waiter(packet);
    }
  };

  private onError = (error: Error): void => this.fail(error);

  private onEnd = (): void => {
    // The normal end after COM_QUIT or close(): no waiter, nothing to report (and no Error to build).
    if (!this.waiter && (this.stage === 'quit' || this.closing)) return;
    const err = new Error('the server closed the connection') as Error & { code: string };
    err.code = 'ECONNRESET';
    this.fail(err);
  };

  private fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(undefined, this.failure);
  }

  private armTimer(): void {
    this.disarmTimer();
    const ms = this.options.timeoutMs ?? 10_000;
    this.timer = setTimeout(() => {
      const err = new Error(`no answer within ${ms} ms (${this.stage})`) as Error & { code: string };
      err.code = 'ETIMEDOUT';
      this.fail(err);
      this.stream.destroy();
      this.socket.destroy();
    }, ms);
  }

  private disarmTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Convenience: MysqlConnection.connect. */
export function connectMysql(options: MysqlConnectOptions): Promise<MysqlConnection> {
  return MysqlConnection.connect(options);
}
