import { Capability, hasCapability, withCapability, withoutCapability } from '../protocol/capabilities';
import { isErrPacket, parseErrPacket } from '../protocol/err-packet';
import { encodeProxyError, proxyErrors, type ProxyError } from '../protocol/errors';
import { isGreeting, parseGreeting, withGreetingCapabilities, type Greeting } from '../protocol/greeting';
import { parseChangeUser, spliceChangeUser } from '../protocol/change-user';
import {
  parseHandshakeResponse,
  spliceHandshakeResponse,
  withClientCapabilities,
  type HandshakeResponseChanges,
  type ParsedHandshakeResponse,
} from '../protocol/handshake-response';
import { SSL_REQUEST_LENGTH } from '../protocol/ssl-request';
import {
  authSwitchScramble,
  CACHING_SHA2,
  encryptPassword,
  PERFORM_FULL_AUTHENTICATION,
  REQUEST_PUBLIC_KEY,
} from '../protocol/caching-sha2';
import { encodePacket, type Packet, PacketReader, PacketTooLargeError } from '../protocol/packet';
import {
  isSha256ClearPassword,
  SHA256_PASSWORD,
  SHA256_REQUEST_PUBLIC_KEY,
} from '../protocol/sha256-password';
import { MalformedPacketError } from '../protocol/reader';
import { looksLikeProxyHeader } from '../protocol/proxy-protocol';
import { isSslRequest, parseSslRequest } from '../protocol/ssl-request';
import { AUTH_MORE_DATA_HEADER, classifyServerAuthPacket } from '../protocol/auth-packets';
import { abortedLoginResponse, authSwitchPlugin, dummyAuthData } from './aborted-login';
import { proxyAttributes, withProxyAttributes, type Attributes, type ClientFacts } from './client-attributes';
import type { CloseReason } from './close-reason';
import { decideLogin, type ClientCertificate, type LoginPolicy } from './login-policy';
import type { ChangeUserContext, HandshakeAction, HandshakeEvent, Transport } from './types';

export interface HandshakeOptions extends LoginPolicy {
  /** Largest connection-phase packet accepted from either side (the real ones are a few hundred bytes). */
  maxPacketSize: number;
  /** The proxy itself runs SSLRequest + TLS towards the database (--backend-tls on|verify). */
  backendTls: boolean;
  /**
   * Add _client_ip, _client_port, _client_tls_version and _client_tls_cipher to the login's
   * connection attributes (as MySQL Router does), so the database can tell who connected and how.
   */
  clientAttributes: boolean;
}

export const DEFAULT_HANDSHAKE_OPTIONS: HandshakeOptions = {
  maxPacketSize: 128 * 1024,
  requireSecureTransport: false,
  requireClientCertificate: false,
  backendTls: false,
  clientAttributes: false,
};

/** What the socket layer knows about the client, asked for when the login is forwarded. */
export type { ClientFacts };

type State =
  | 'awaitGreeting' // dialled the database, nothing sent to the client yet
  | 'awaitClientFirst' // greeting relayed; SSLRequest or a plaintext HandshakeResponse is due
  | 'tlsHandshake' // SSLRequest seen; the socket layer runs TLS
  | 'awaitResponse' // TLS is up; the HandshakeResponse (sequence id 2) is due
  | 'authenticating' // HandshakeResponse forwarded; relaying auth packets until OK or ERR
  | 'established' // done: the socket layer pipes bytes
  | 'changeUser' // command phase: a COM_CHANGE_USER is due, whose exchange runs as 'authenticating'
  | 'releasing' // the client is gone; finishing the database's handshake cleanly
  | 'done';

const COM_QUIT = Buffer.from([0x01]);

/**
 * Compression (zlib, zstd) hides the command headers the session layer follows to give a
 * COM_CHANGE_USER RSA help, so it is not offered where the database leg is plain (clients then run
 * uncompressed; over TLS, compression also leaks lengths). --backend-tls on keeps it.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_compression.html
 */
const COMPRESSION = Capability.COMPRESS | Capability.ZSTD_COMPRESSION_ALGORITHM;

/** A PROXY header from a peer that is not a trusted balancer: refused, never believed. */
class UnexpectedProxyHeaderError extends MalformedPacketError {}
/** Auth rounds the proxy answers on its own while releasing before it just hangs up. */
const MAX_RELEASE_ROUNDS = 4;

/**
 * The connection phase as a pure state machine: socket events in, socket actions out. No I/O,
 * timers or logging here, so every byte boundary and failure can be unit-tested without sockets.
 *
 * Sequence ids: with TLS the client leg carries one extra packet (the SSLRequest, id 1) that the
 * plain database leg never sees, so ids are shifted by one in each direction until the OK/ERR.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 */
export class HandshakeMachine {
  private state: State = 'awaitGreeting';
  private readonly client: PacketReader;
  private readonly backend: PacketReader;
  private transport: Transport = 'plain';
  private greeting?: Greeting;
  /** Last sequence id on the client leg. */
  private clientSeq = 0;
  /** Last sequence id on the database leg. */
  private backendSeq = 0;
  /** Client commands (sequence id 0) sent before the database's OK: forwarded after it. */
  private held: Buffer[] = [];
  private holding = false;
  private clientEnded = false;
  private backendEnded = false;
  private responseForwarded = false;
  /** True when the database waits for the client's next packet. */
  private backendAwaitsClient = false;
  /** The auth plugin the database expects data for (greeting, then AuthSwitchRequest). */
  private backendPlugin?: string;
  private releaseRounds = 0;
  private greetingSequenceId = 0;
  /** The scramble the database's current auth plugin works with (greeting or AuthSwitchRequest). */
  private backendScramble: Buffer = Buffer.alloc(0);
  /**
   * caching_sha2_password full authentication or sha256_password with TLS only on the client leg:
   * the client sends its password in clear (it sees TLS), the plain database leg needs it
   * RSA-encrypted.
   */
  private fullAuth: 'none' | 'awaitPassword' | 'awaitKey' = 'none';
  private clearPassword?: Buffer;
  /** Database-leg packets the client never sees (the public-key round trip). */
  private seqDrift = 0;
  /** What TLS established about the client's certificate, for the login policy. */
  private certificate?: ClientCertificate;
  /** Client-leg TLS facts, for the connection attributes. */
  private clientTls?: { version: string; cipher: string };
  /** 1 when the database leg carries an SSLRequest too (--backend-tls). */
  private readonly backendOffset: number;
  private backendTlsUp = false;
  /** The login waiting for the database-leg TLS handshake. */
  private pendingLogin?: Buffer;
  /** A COM_CHANGE_USER exchange: both legs count from 0, no SSLRequest to shift for. */
  private commandPhase = false;
  /** The session's capabilities as the database sees them (the login as relayed, and the greeting's). */
  private sessionCapabilities = 0;
  /** The connection attributes the proxy adds, kept for COM_CHANGE_USER (which carries attributes too). */
  private ownAttributes?: Attributes;

  /**
   * A machine for a COM_CHANGE_USER on an established session: it relays that command and the
   * re-authentication that follows exactly as it relays a login's, RSA help included, until the
   * database's OK or ERR.
   * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_change_user.html
   */
  static forChangeUser(options: HandshakeOptions, context: ChangeUserContext): HandshakeMachine {
    const machine = new HandshakeMachine(options);
    machine.greeting = context.greeting;
    machine.transport = 'tls';
    machine.commandPhase = true;
    machine.state = 'changeUser';
    machine.clientSeq = 0xff; // the command is sequence id 0
    machine.backendPlugin = context.plugin;
    machine.backendScramble = context.scramble;
    machine.sessionCapabilities = context.capabilities;
    machine.ownAttributes = context.attributes;
    return machine;
  }

  constructor(
    private readonly options: HandshakeOptions = DEFAULT_HANDSHAKE_OPTIONS,
    private readonly clientFacts: () => ClientFacts = () => ({ ip: '', port: 0 }),
  ) {
    this.client = new PacketReader(options.maxPacketSize);
    this.backend = new PacketReader(options.maxPacketSize);
    this.backendOffset = options.backendTls ? 1 : 0;
  }

  /** Client-leg and database-leg sequence ids differ by the SSLRequests each leg carries. */
  private toBackendSeq(clientSeq: number): number {
    return (clientSeq - this.clientLegExtra() + this.backendOffset + this.seqDrift) & 0xff;
  }

  private toClientSeq(backendSeq: number): number {
    return (backendSeq - this.backendOffset + this.clientLegExtra() - this.seqDrift) & 0xff;
  }

  /** Packets the client leg carries that the database leg does not: the SSLRequest, in the login. */
  private clientLegExtra(): number {
    return this.transport === 'tls' && !this.commandPhase ? 1 : 0;
  }

  get phase(): State {
    return this.state;
  }

  get clientTransport(): Transport {
    return this.transport;
  }

  handle(event: HandshakeEvent): HandshakeAction[] {
    const out: HandshakeAction[] = [];
    switch (event.type) {
      case 'backendData':
        if (this.backendEnded || this.state === 'established' || this.state === 'done') break;
        this.backend.push(event.data);
        this.guard(out, 'backend', () => this.pumpBackend(out));
        break;
      case 'clientData':
        if (this.clientEnded || this.state === 'established' || this.state === 'tlsHandshake') break;
        this.client.push(event.data);
        this.guard(out, 'client', () => this.pumpClient(out));
        break;
      case 'tlsEstablished':
        if (this.state !== 'tlsHandshake' || this.clientEnded) break;
        this.state = 'awaitResponse';
        this.certificate = event.clientCertificate;
        this.clientTls = event.tls;
        this.guard(out, 'client', () => this.pumpClient(out));
        break;
      case 'backendTlsEstablished':
        this.onBackendTls(out);
        break;
      case 'backendClosed':
        this.onBackendClosed(out, event.reason, event.detail);
        break;
      case 'abort':
        this.endClient(out, event.reason, event.detail ?? event.reason, event.error);
        break;
    }
    return out;
  }

  /** Runs a pump; malformed input ends the connection with a reason instead of escaping. */
  private guard(out: HandshakeAction[], side: 'client' | 'backend', pump: () => void): void {
    try {
      pump();
    } catch (error) {
      if (!(error instanceof MalformedPacketError || error instanceof PacketTooLargeError)) throw error;
      if (error instanceof UnexpectedProxyHeaderError) {
        this.endClient(out, 'proxy_protocol', error.message, proxyErrors.badHandshake(error.message));
      } else if (side === 'client') {
        this.endClient(out, 'bad_packet', error.message, proxyErrors.badHandshake(error.message));
      } else {
        const detail = `invalid data from the database: ${error.message}`;
        this.endBackend(out);
        this.endClient(out, 'backend_protocol_error', detail, proxyErrors.backendUnavailable(detail));
      }
    }
  }

  // ---- database leg ---------------------------------------------------------------------------

  private pumpBackend(out: HandshakeAction[]): void {
    let packet: Packet | undefined;
    while (!this.backendEnded && (packet = this.backend.read())) {
      if (!this.greeting) this.onGreeting(out, packet);
      else if (this.state === 'releasing') this.onReleasePacket(out, packet);
      else if (this.state === 'authenticating') this.onAuthPacket(out, packet);
      else throw new MalformedPacketError(`unexpected packet from the database while ${this.state}`);
      if (this.state === 'established') return;
    }
  }

  private onGreeting(out: HandshakeAction[], packet: Packet): void {
    if (isErrPacket(packet.payload)) {
      // e.g. "Host is blocked" or "Too many connections": the client should see the database's words.
      const err = parseErrPacket(packet.payload);
      this.endBackend(out);
      if (!this.clientEnded) {
        this.clientEnded = true;
        out.push({
          type: 'closeClient',
          reason: 'backend_refused',
          detail: `database refused the connection: ${err.code} ${err.message}`,
          packet: encodePacket(packet.payload, packet.sequenceId),
        });
      }
      this.state = 'done';
      return;
    }
    if (!isGreeting(packet.payload)) {
      throw new MalformedPacketError(
        `expected a greeting, got a packet starting 0x${packet.payload[0]?.toString(16)}`,
      );
    }
    const greeting = parseGreeting(packet.payload);
    if (!hasCapability(greeting.capabilities, Capability.PROTOCOL_41)) {
      throw new MalformedPacketError('the database does not speak protocol 4.1');
    }
    if (this.options.backendTls && !hasCapability(greeting.capabilities, Capability.SSL)) {
      const detail = 'the database does not offer TLS (--backend-tls is on)';
      this.endBackend(out);
      this.endClient(out, 'backend_tls_failed', detail, proxyErrors.backendUnavailable(detail));
      return;
    }
    this.greeting = greeting;
    this.greetingSequenceId = packet.sequenceId;
    this.backendSeq = packet.sequenceId;
    this.backendAwaitsClient = true;
    this.backendPlugin = greeting.authPluginName;
    this.backendScramble = greeting.authPluginData.subarray(0, 20);
    out.push({
      type: 'greeting',
      serverVersion: greeting.serverVersion,
      connectionId: greeting.connectionId,
    });
    if (this.state === 'releasing') {
      this.release(out);
      return;
    }
    // Relay the greeting untouched except for CLIENT_SSL, which the proxy itself provides, and
    // compression where the proxy must be able to read the command headers (see COMPRESSION).
    const clear = this.databaseLegMayNeedRsa() ? COMPRESSION : 0;
    const relayed = withGreetingCapabilities(packet.payload, greeting, Capability.SSL, clear);
    out.push({ type: 'sendToClient', data: encodePacket(relayed, packet.sequenceId) });
    this.clientSeq = packet.sequenceId;
    this.state = 'awaitClientFirst';
    this.pumpClientGuarded(out);
  }

  private pumpClientGuarded(out: HandshakeAction[]): void {
    // Client bytes that arrived before the greeting are handled now, with client-side blame.
    this.guard(out, 'client', () => this.pumpClient(out));
  }

  private onAuthPacket(out: HandshakeAction[], packet: Packet): void {
    if (this.fullAuth === 'awaitKey') {
      if (packet.payload[0] === AUTH_MORE_DATA_HEADER) return this.sendEncryptedPassword(out, packet);
      // No key: the server switched plugins (or ended) instead of taking the key request in the
      // login; the client answers that itself, so the kept password is of no use.
      this.forgetPassword();
    }
    if (this.needsRsaFullAuth(packet.payload)) this.fullAuth = 'awaitPassword';
    this.backendSeq = packet.sequenceId;
    this.clientSeq = this.toClientSeq(packet.sequenceId);
    const relayed = encodePacket(packet.payload, this.clientSeq);
    const kind = classifyServerAuthPacket(packet.payload);
    out.push({ type: 'sendToClient', data: relayed });
    if (kind === 'ok') {
      const toBackend = Buffer.concat([...this.held, this.client.drain()]);
      this.held = [];
      this.state = 'established';
      out.push({
        type: 'established',
        toBackend,
        toClient: this.backend.drain(),
        changeUser: this.changeUserContext(),
      });
      return;
    }
    if (kind === 'err') {
      const err = parseErrPacket(packet.payload);
      this.endBackend(out);
      this.clientEnded = true;
      out.push({ type: 'closeClient', reason: 'auth_failed', detail: `${err.code} ${err.message}` });
      this.state = 'done';
      return;
    }
    if (kind === 'auth-switch' || this.isNextFactor(packet.payload)) {
      this.backendPlugin = authSwitchPlugin(packet.payload);
      this.backendScramble = authSwitchScramble(packet.payload) ?? this.backendScramble;
      // sha256_password's first answer is the password itself: clear from a client that sees TLS.
      if (this.backendPlugin === SHA256_PASSWORD && this.databaseLegNeedsRsa())
        this.fullAuth = 'awaitPassword';
    }
    this.backendAwaitsClient = true;
  }

  /**
   * A client that sees TLS sends its password in clear where MySQL's SHA-256 plugins ask for it; a
   * plain-TCP MySQL refuses that and wants it RSA-encrypted. TiDB accepts the clear password (it
   * always forces full authentication), so it is left alone.
   */
  private databaseLegNeedsRsa(): boolean {
    return this.transport === 'tls' && this.databaseLegMayNeedRsa();
  }

  /** The database leg is plain and the database is not TiDB: a TLS client's clear password must not cross it. */
  private databaseLegMayNeedRsa(): boolean {
    return !this.options.backendTls && !(this.greeting?.serverVersion ?? '').includes('TiDB');
  }

  /**
   * What a later COM_CHANGE_USER needs, for every session whose re-authentication could put a
   * clear password on the plain leg: any greeting can lead there (MySQL 8 switches a change-user to
   * the account's caching_sha2_password or sha256_password whatever the login used, and MariaDB
   * has a caching_sha2_password plugin since 11.4), so the session layer watches them all.
   */
  private changeUserContext(): ChangeUserContext | undefined {
    const greeting = this.greeting;
    if (!greeting || !this.databaseLegNeedsRsa()) return undefined;
    return {
      greeting,
      plugin: this.backendPlugin,
      scramble: Buffer.from(this.backendScramble),
      capabilities: this.sessionCapabilities,
      attributes: this.ownAttributes,
    };
  }

  /**
   * MySQL multi-factor authentication: AuthNextFactor (0x02, plugin NUL, data) starts the next
   * factor's plugin like an AuthSwitchRequest. Only with CLIENT_MULTI_FACTOR_AUTHENTICATION, since
   * other plugins' data may start with 0x02 (MariaDB's dialog prompts do).
   * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_auth_next_factor_request.html
   */
  private isNextFactor(payload: Buffer): boolean {
    return (
      payload[0] === 0x02 && hasCapability(this.sessionCapabilities, Capability.MULTI_FACTOR_AUTHENTICATION)
    );
  }

  /** MySQL asks for caching_sha2_password full authentication: the client's next packet is its password. */
  private needsRsaFullAuth(payload: Buffer): boolean {
    return (
      this.backendPlugin === CACHING_SHA2 &&
      payload.equals(PERFORM_FULL_AUTHENTICATION) &&
      this.databaseLegNeedsRsa()
    );
  }

  /** The client's clear password: keep it in memory only until the public key arrives. */
  private requestPublicKey(out: HandshakeAction[], packet: Packet, request: Buffer): void {
    this.clearPassword = Buffer.from(packet.payload);
    this.wipe(packet.payload);
    this.fullAuth = 'awaitKey';
    this.forwardToBackend(out, request, packet.sequenceId);
  }

  /** Zeroes a client packet holding a clear password, and the received chunks it was copied from. */
  private wipe(payload: Buffer): void {
    payload.fill(0);
    this.client.wipeLastSources();
  }

  private forgetPassword(): void {
    this.fullAuth = 'none';
    this.clearPassword?.fill(0);
    this.clearPassword = undefined;
  }

  private sendEncryptedPassword(out: HandshakeAction[], packet: Packet): void {
    this.fullAuth = 'none';
    const password = this.clearPassword ?? Buffer.alloc(1);
    this.clearPassword = undefined;
    try {
      const encrypted = encryptPassword(password, this.backendScramble, packet.payload.subarray(1));
      this.backendSeq = (packet.sequenceId + 1) & 0xff;
      this.seqDrift = (this.seqDrift + 2) & 0xff;
      out.push({ type: 'sendToBackend', data: encodePacket(encrypted, this.backendSeq) });
    } catch (error) {
      if (error instanceof MalformedPacketError) throw error;
      throw new MalformedPacketError(
        `cannot encrypt the password with the database's public key: ${(error as Error).message}`,
      );
    } finally {
      password.fill(0);
    }
  }

  private onBackendClosed(
    out: HandshakeAction[],
    reason: 'backend_closed' | 'backend_error' | 'backend_unavailable' | 'backend_tls_failed',
    detail: string,
  ): void {
    if (this.backendEnded || this.state === 'established') return;
    this.backendEnded = true;
    out.push({ type: 'closeBackend' });
    this.endClient(out, reason, detail, proxyErrors.backendUnavailable(detail));
    this.state = 'done';
  }

  private endBackend(out: HandshakeAction[]): void {
    if (this.backendEnded) return;
    this.backendEnded = true;
    out.push({ type: 'closeBackend' });
  }

  // ---- client leg -----------------------------------------------------------------------------

  private pumpClient(out: HandshakeAction[]): void {
    for (;;) {
      if (this.clientEnded) return;
      this.refuseUntrustedProxyHeader();
      if (this.state === 'awaitGreeting') {
        if (this.client.bufferedBytes > this.options.maxPacketSize) {
          throw new MalformedPacketError('the client sent data before the server greeting');
        }
        return;
      }
      if (
        this.state !== 'awaitClientFirst' &&
        this.state !== 'awaitResponse' &&
        this.state !== 'authenticating' &&
        this.state !== 'changeUser'
      )
        return;
      if (this.holding) {
        this.held.push(this.client.drain());
        this.checkHeldSize();
        return;
      }
      if (this.state === 'awaitClientFirst' && this.client.bufferedBytes > 0) this.refuseDirectTls();
      const header = this.client.peekHeader();
      if (!header) return;
      if (this.state === 'authenticating' && header.sequenceId === 0) {
        // A command pipelined before the OK: keep it, unparsed, for after the OK.
        this.holding = true;
        continue;
      }
      const packet = this.client.read();
      if (!packet) return;
      const expected = (this.clientSeq + 1) & 0xff;
      if (packet.sequenceId !== expected) {
        throw new MalformedPacketError(
          `packet sequence id ${packet.sequenceId} where ${expected} was expected`,
        );
      }
      this.clientSeq = packet.sequenceId;
      if (this.state === 'awaitClientFirst') this.onClientFirst(out, packet);
      else if (this.state === 'awaitResponse') this.onHandshakeResponse(out, packet);
      else if (this.state === 'changeUser') this.onChangeUser(out, packet);
      else this.forwardAuthPacket(out, packet);
    }
  }

  /** Only the connection's first bytes can be a PROXY header; 3 bytes tell it apart from any MySQL packet. */
  private refuseUntrustedProxyHeader(): void {
    if (this.clientSeq !== 0 || (this.state !== 'awaitGreeting' && this.state !== 'awaitClientFirst')) return;
    if (this.client.bufferedBytes < 3 || !looksLikeProxyHeader(this.client.peek(12))) return;
    throw new UnexpectedProxyHeaderError(
      'PROXY protocol header from a peer not listed in --proxy-protocol-from',
    );
  }

  private refuseDirectTls(): void {
    const first = this.client.peek(2);
    if (first[0] === 0x16 && first.length > 1 && first[1] === 0x03) {
      throw new MalformedPacketError(
        'a TLS ClientHello arrived where the MySQL SSLRequest was due (MySQL upgrades to TLS in-band; use a MySQL client with ssl-mode)',
      );
    }
  }

  private onClientFirst(out: HandshakeAction[], packet: Packet): void {
    if (isSslRequest(packet.payload)) {
      parseSslRequest(packet.payload);
      this.transport = 'tls';
      this.state = 'tlsHandshake';
      out.push({ type: 'startTls', pending: this.client.drain() });
      return;
    }
    if (packet.payload.length >= 4 && hasCapability(packet.payload.readUInt32LE(0), Capability.SSL)) {
      throw new MalformedPacketError(
        `CLIENT_SSL set in a ${packet.payload.length}-byte packet (an SSLRequest is exactly 32 bytes)`,
      );
    }
    this.onHandshakeResponse(out, packet);
  }

  /**
   * The COM_CHANGE_USER goes as it came, except as for a login: the proxy's connection attributes,
   * and a key request in place of a clear sha256_password password (which the server may take, or
   * switch plugins; either way it must not cross the plain leg). Its answers are the login's kind.
   */
  private onChangeUser(out: HandshakeAction[], packet: Packet): void {
    const command = parseChangeUser(packet.payload, this.sessionCapabilities);
    this.state = 'authenticating';
    this.responseForwarded = true;
    const changes: { authResponse?: Buffer; attributes?: Attributes } = {};
    if (this.ownAttributes && command.spans.attributes) {
      changes.attributes = withProxyAttributes(command.attributes, this.ownAttributes);
    }
    if (
      command.authPluginName === SHA256_PASSWORD &&
      isSha256ClearPassword(command.authResponse) &&
      this.databaseLegNeedsRsa()
    ) {
      this.clearPassword = Buffer.from(command.authResponse);
      this.fullAuth = 'awaitKey';
      changes.authResponse = SHA256_REQUEST_PUBLIC_KEY;
    }
    if (!changes.attributes && !changes.authResponse) {
      return this.forwardToBackend(out, packet.payload, packet.sequenceId);
    }
    const relayed = spliceChangeUser(packet.payload, command, this.sessionCapabilities, changes);
    if (changes.authResponse) this.wipe(packet.payload);
    this.forwardToBackend(out, relayed, packet.sequenceId);
  }

  private onHandshakeResponse(out: HandshakeAction[], packet: Packet): void {
    const response = parseHandshakeResponse(packet.payload);
    const decision = decideLogin(this.options, this.transport, this.certificate);
    out.push({
      type: 'login',
      transport: this.transport,
      user: response.username.toString('utf8'),
      database: response.database?.toString('utf8'),
      authPlugin: response.authPluginName,
      warning: decision.allowed ? decision.warning : undefined,
    });
    // The one place the login policy is enforced, for plaintext and TLS logins alike.
    if (!decision.allowed) {
      this.endClient(out, decision.reason, decision.detail, decision.error);
      return;
    }
    if (this.databaseLegNeedsRsa() && (response.capabilities & COMPRESSION) !== 0) {
      // Not offered in the greeting (see COMPRESSION): a client that asks anyway is refused.
      throw new MalformedPacketError(
        'the client asked for compression, which the proxy does not offer between a TLS client and a plain database leg',
      );
    }
    this.state = 'authenticating';
    this.submitLogin(out, this.loginForBackend(packet.payload, response));
  }

  /**
   * The client's HandshakeResponse as the database should see it, spliced at byte level so that
   * logins which would not re-encode (any bytes in attributes) get the same treatment: CLIENT_SSL
   * matching the database leg; the proxy's connection attributes instead of any the client sent
   * under their names; and where a plain leg cannot carry a clear sha256_password password, a
   * public-key request in its place. Every other byte is the client's.
   */
  private loginForBackend(payload: Buffer, response: ParsedHandshakeResponse): Buffer {
    let capabilities = this.options.backendTls
      ? withCapability(response.capabilities, Capability.SSL)
      : withoutCapability(response.capabilities, Capability.SSL);
    const changes: HandshakeResponseChanges = {};
    const attributes = this.proxyAttributes();
    this.ownAttributes = attributes;
    if (attributes && response.spans.attributes) {
      changes.attributes = withProxyAttributes(response.attributes, attributes);
      capabilities = withCapability(capabilities, Capability.CONNECT_ATTRS);
    }
    if (this.sha256LoginNeedsRsa(response)) {
      // Wait for the key: the database answers this login with AuthMoreData(0x01, PEM).
      this.clearPassword = Buffer.from(response.authResponse);
      this.fullAuth = 'awaitKey';
      changes.authResponse = SHA256_REQUEST_PUBLIC_KEY;
    }
    this.sessionCapabilities = (capabilities & (this.greeting?.capabilities ?? 0)) >>> 0;
    if (!changes.attributes && !changes.authResponse) {
      return capabilities === response.capabilities ? payload : withClientCapabilities(payload, capabilities);
    }
    const login = spliceHandshakeResponse(payload, response.spans, { ...changes, capabilities });
    if (changes.authResponse) this.wipe(payload); // the parsed auth response is a view: wiped too
    return login;
  }

  /** The attributes the proxy adds (when on and the database takes attributes), else undefined. */
  private proxyAttributes(): Attributes | undefined {
    const serverCaps = this.greeting?.capabilities ?? 0;
    if (!this.options.clientAttributes || !hasCapability(serverCaps, Capability.CONNECT_ATTRS))
      return undefined;
    return proxyAttributes(this.clientFacts(), this.clientTls);
  }

  /**
   * A sha256_password login carrying the clear password, which must not cross a plain leg whatever
   * the greeting's plugin (a server may take it or switch plugins, but it has crossed by then): the
   * proxy asks for the key in its place and sends the password encrypted if the server takes it.
   */
  private sha256LoginNeedsRsa(response: ParsedHandshakeResponse): boolean {
    return (
      response.authPluginName === SHA256_PASSWORD &&
      isSha256ClearPassword(response.authResponse) &&
      this.databaseLegNeedsRsa()
    );
  }

  /**
   * Sends a login to the database; with --backend-tls, first an SSLRequest (the login's own first
   * 32 bytes) and the TLS handshake, and the login once onBackendTls runs.
   */
  private submitLogin(out: HandshakeAction[], payload: Buffer): void {
    this.responseForwarded = true;
    this.backendAwaitsClient = false;
    if (this.options.backendTls && !this.backendTlsUp) {
      this.pendingLogin = payload;
      this.backendSeq = (this.greetingSeq() + 1) & 0xff;
      out.push({
        type: 'sendToBackend',
        data: encodePacket(payload.subarray(0, SSL_REQUEST_LENGTH), this.backendSeq),
      });
      out.push({ type: 'startBackendTls' });
      return;
    }
    this.backendSeq = (this.greetingSeq() + 1 + this.backendOffset) & 0xff;
    out.push({ type: 'sendToBackend', data: encodePacket(payload, this.backendSeq) });
  }

  private greetingSeq(): number {
    return this.greetingSequenceId;
  }

  private onBackendTls(out: HandshakeAction[]): void {
    if (this.backendTlsUp || this.backendEnded || !this.pendingLogin) return;
    this.backendTlsUp = true;
    const login = this.pendingLogin;
    this.pendingLogin = undefined;
    this.backendSeq = (this.backendSeq + 1) & 0xff;
    out.push({ type: 'sendToBackend', data: encodePacket(login, this.backendSeq) });
  }

  private forwardAuthPacket(out: HandshakeAction[], packet: Packet): void {
    if (this.fullAuth === 'awaitPassword') {
      this.fullAuth = 'none';
      // A client that asks for the key itself (or sends sha256_password's empty password) needs no help.
      if (this.backendPlugin === SHA256_PASSWORD) {
        if (isSha256ClearPassword(packet.payload)) {
          return this.requestPublicKey(out, packet, SHA256_REQUEST_PUBLIC_KEY);
        }
      } else if (!packet.payload.equals(REQUEST_PUBLIC_KEY)) {
        return this.requestPublicKey(out, packet, REQUEST_PUBLIC_KEY);
      }
    }
    this.forwardToBackend(out, packet.payload, packet.sequenceId);
  }

  private forwardToBackend(out: HandshakeAction[], payload: Buffer, clientSeq: number): void {
    this.backendSeq = this.toBackendSeq(clientSeq);
    this.backendAwaitsClient = false;
    out.push({ type: 'sendToBackend', data: encodePacket(payload, this.backendSeq) });
  }

  private checkHeldSize(): void {
    let total = 0;
    for (const chunk of this.held) total += chunk.length;
    if (total > this.options.maxPacketSize) {
      throw new MalformedPacketError('too much data pipelined before the login completed');
    }
  }

  /**
   * Ends the client side: an ERR in the format the client can read at this point (none while the
   * TLS handshake is running, since the client then expects TLS records), then release the database.
   */
  private endClient(out: HandshakeAction[], reason: CloseReason, detail: string, error?: ProxyError): void {
    if (this.clientEnded || this.state === 'established') return;
    this.clientEnded = true;
    let packet: Buffer | undefined;
    if (error && this.state !== 'tlsHandshake' && this.state !== 'releasing' && this.state !== 'done') {
      const negotiated = this.state !== 'awaitGreeting';
      packet = encodePacket(
        encodeProxyError(error, negotiated),
        negotiated ? (this.clientSeq + 1) & 0xff : 0,
      );
    }
    out.push({ type: 'closeClient', reason, detail, packet });
    this.client.drain();
    this.held = [];
    this.forgetPassword();
    if (this.backendEnded) {
      this.state = 'done';
      return;
    }
    this.state = 'releasing';
    this.release(out);
  }

  // ---- releasing the database after the client left -------------------------------------------

  private release(out: HandshakeAction[]): void {
    if (this.backendEnded) return;
    if (!this.greeting) return; // wait for it; onGreeting calls back
    if (this.commandPhase && !this.responseForwarded) {
      // A COM_CHANGE_USER refused before it went out: the session is idle, log it out.
      out.push({ type: 'sendToBackend', data: encodePacket(COM_QUIT, 0) });
      this.endBackend(out);
      this.state = 'done';
      return;
    }
    if (!this.responseForwarded) {
      const login = abortedLoginResponse(this.greeting);
      const capabilities = login.readUInt32LE(0);
      this.submitLogin(
        out,
        this.options.backendTls
          ? withClientCapabilities(login, withCapability(capabilities, Capability.SSL))
          : login,
      );
      return;
    }
    if (this.backendAwaitsClient) this.answerForClient(out);
  }

  private answerForClient(out: HandshakeAction[]): void {
    if (++this.releaseRounds > MAX_RELEASE_ROUNDS) {
      this.endBackend(out);
      this.state = 'done';
      return;
    }
    this.backendSeq = (this.backendSeq + 1) & 0xff;
    this.backendAwaitsClient = false;
    out.push({
      type: 'sendToBackend',
      data: encodePacket(dummyAuthData(this.backendPlugin), this.backendSeq),
    });
  }

  private onReleasePacket(out: HandshakeAction[], packet: Packet): void {
    this.backendSeq = packet.sequenceId;
    const kind = classifyServerAuthPacket(packet.payload);
    if (kind === 'ok') {
      // Someone created the placeholder user without a password: log out politely.
      out.push({ type: 'sendToBackend', data: encodePacket(COM_QUIT, 0) });
    }
    if (kind === 'ok' || kind === 'err') {
      this.endBackend(out);
      this.state = 'done';
      return;
    }
    if (kind === 'auth-switch') this.backendPlugin = authSwitchPlugin(packet.payload);
    this.backendAwaitsClient = true;
    this.answerForClient(out);
  }
}
