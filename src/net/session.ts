import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { rejectionFor, type CloseReason } from '../handshake/close-reason';
import { HandshakeMachine, type HandshakeOptions } from '../handshake/machine';
import type { ChangeUserContext, HandshakeAction, HandshakeEvent } from '../handshake/types';
import { Capability, hasCapability } from '../protocol/capabilities';
import { CommandScanner } from '../protocol/command-scanner';
import { encodeProxyError, proxyErrors, type ProxyError } from '../protocol/errors';
import { encodePacket } from '../protocol/packet';
import { encodeProxyV2, encodeProxyV2Local, type ProxyAddress } from '../protocol/proxy-protocol';
import type { HostPort } from '../config/host-port';
import type { Logger } from '../observability/logger';
import type { ProxyMetrics, TlsFailureReason, TransportLabel } from '../observability/metrics';
import type { LogLimiter } from '../observability/log-limiter';
import { closeFinished, endSocket } from './end-socket';
import { ProxyHeaderGate } from './proxy-header-gate';
import type { TlsTerminator } from './tls-terminator';

export interface SessionSettings {
  backend: HostPort;
  backendLocalAddress?: string;
  handshakeTimeoutMs: number;
  backendConnectTimeoutMs: number;
  handshake: HandshakeOptions;
  /** Send a PROXY v2 header with the client's address to the database. */
  backendProxyProtocol: 'off' | 'v2';
  /** How long to wait for a load balancer's PROXY header before greeting anyway. */
  proxyProtocolWaitMs: number;
  /** TLS towards the database (--backend-tls): 'on' encrypts, 'verify' also checks its certificate. */
  backendTls: { mode: 'off' | 'on' | 'verify'; ca?: Buffer; serverName?: string };
  /** TCP keepalive idle time for the database socket (--tcp-keepalive); 0: off (four setsockopt(2) saved). */
  tcpKeepaliveMs: number;
}

export interface SessionDeps {
  settings: SessionSettings;
  tls: TlsTerminator;
  metrics: ProxyMetrics;
  logger: Logger;
  /** The access list, consulted for addresses carried in PROXY headers. */
  allows: (address: string) => boolean;
  /** Budget for log lines about refusals (a scan must not flood the log). */
  refusalLog: LogLimiter;
}

/** How long the proxy may spend finishing the database's handshake after the client left. */
const RELEASE_TIMEOUT_MS = 5_000;
const WARN_REASONS: ReadonlySet<CloseReason> = new Set([
  'backend_error',
  'backend_unavailable',
  'backend_protocol_error',
  'backend_refused',
]);

/** COM_QUIT: length 1, sequence id 0, command 0x01. */
const COM_QUIT_PACKET = Buffer.from([1, 0, 0, 0, 1]);

let nextSessionId = 1;

/**
 * One client connection and its database connection. The handshake machine decides, this class
 * does the I/O. Every ending goes through recordEnd() (first reason wins) and finish() (runs once,
 * when both sockets are closed), which write the log line and the metrics.
 */
export class Session {
  readonly id = nextSessionId++;
  private readonly startedAt = performance.now();
  /** Dropped once established: an idle relayed session keeps no handshake state. */
  private machine?: HandshakeMachine;
  private clientStream: net.Socket | tls.TLSSocket;
  private backend?: net.Socket;
  /** The database leg as the relay sees it: the socket, or TLS over it with --backend-tls. */
  private backendStream?: net.Socket | tls.TLSSocket;
  private backendConnected = false;
  private established = false;
  private reason?: CloseReason;
  private detail?: string;
  private clientClosed = false;
  private backendClosed = true; // until a backend socket exists
  private finished = false;
  private transport: TransportLabel = 'pending';
  private clientQuit = false;
  private counted = false;
  private tlsStartedAt = 0;
  private tlsOutcomeCounted = false;
  private handshakeTimer?: NodeJS.Timeout;
  private connectTimer?: NodeJS.Timeout;
  private releaseTimer?: NodeJS.Timeout;
  private readonly log: {
    user?: string;
    database?: string;
    tlsVersion?: string;
    tlsCipher?: string;
    tlsResumed?: boolean;
    backendConnectionId?: number;
  } = {};
  private reportedClientToBackend = 0;
  private reportedBackendToClient = 0;
  /** Set while a trusted load balancer's PROXY header is still being read. */
  private proxyGate?: ProxyHeaderGate;
  private proxyWaitTimer?: NodeJS.Timeout;
  /** The client as the load balancer reported it, when it did. */
  private carriedSource?: ProxyAddress;
  private carriedDestination?: ProxyAddress;
  /**
   * Set when a COM_CHANGE_USER may need RSA help (see ChangeUserContext): the client's commands are
   * then relayed through a header scanner instead of pipe(), the database's answers are followed
   * too (to know when it is idle), and that one command goes through a machine.
   */
  private changeUser?: ChangeUserContext;
  private commandScanner?: CommandScanner;
  /** Client bytes the scanner cannot pass yet: an incomplete header, or a COM_CHANGE_USER waiting for idle. */
  private heldClientBytes?: Buffer;
  /** A COM_CHANGE_USER waits for the database to finish answering earlier commands. */
  private changeUserWaiting = false;

  constructor(
    private readonly client: net.Socket,
    private readonly deps: SessionDeps,
    private readonly onFinished: (session: Session) => void,
  ) {
    this.clientStream = client;
    this.machine = new HandshakeMachine(deps.settings.handshake, () => ({
      ip: this.clientAddress,
      port: this.clientPort ?? 0,
    }));
    client.on('error', this.onClientError);
    client.on('close', this.onClientClose);
  }

  /** The real client: the PROXY header's source when a trusted balancer sent one, else the peer. */
  get clientAddress(): string {
    return displayAddress(this.carriedSource?.address ?? this.client.remoteAddress);
  }

  private get clientPort(): number | undefined {
    return this.carriedSource?.port ?? this.client.remotePort;
  }

  get isEstablished(): boolean {
    return this.established;
  }

  /** Refuses the client before any backend or TLS work: a pre-greeting ERR, then close. */
  refuse(reason: CloseReason, error: ProxyError): void {
    this.recordEnd(reason, error.message);
    endSocket(this.client, encodePacket(encodeProxyError(error, false), 0));
  }

  /**
   * `expectProxyHeader`: the peer is a trusted load balancer. Its header usually arrives at once;
   * then the access list sees the real client before the database is dialled. Balancers that send
   * it only with the client's first bytes (MySQL clients wait for the greeting) get the greeting
   * after --proxy-protocol-wait, and the header is checked when it comes.
   */
  start(options: { expectProxyHeader?: boolean } = {}): void {
    const { settings, metrics } = this.deps;
    this.counted = true;
    metrics.connectionsActive.inc({ transport: 'pending' });
    // Nagle off (and TCP keepalive, if asked) come with the accepted socket (ProxyServer's listener options).
    this.client.on('data', this.onClientData);
    this.handshakeTimer = setTimeout(this.onHandshakeTimeout, settings.handshakeTimeoutMs);
    if (options.expectProxyHeader) {
      this.proxyGate = new ProxyHeaderGate();
      this.proxyWaitTimer = setTimeout(() => this.dialBackend(), settings.proxyProtocolWaitMs);
    } else {
      this.dialBackend();
    }
  }

  /** Drain ran out: close both sides now. */
  shutdown(): void {
    this.recordEnd('shutdown', 'the proxy is shutting down');
    this.clientStream.destroy();
    this.backend?.destroy();
  }

  /** Bytes relayed since the last call, read from the database socket's counters. */
  takeByteDeltas(): { clientToBackend: number; backendToClient: number } {
    // With --backend-tls the socket counts the bytes before the upgrade, the TLS stream those after.
    const upgraded = this.backendStream !== this.backend ? this.backendStream : undefined;
    const written = (this.backend?.bytesWritten ?? 0) + (upgraded?.bytesWritten ?? 0);
    const read = (this.backend?.bytesRead ?? 0) + (upgraded?.bytesRead ?? 0);
    const delta = {
      clientToBackend: written - this.reportedClientToBackend,
      backendToClient: read - this.reportedBackendToClient,
    };
    this.reportedClientToBackend = written;
    this.reportedBackendToClient = read;
    return delta;
  }

  // ---- database leg ---------------------------------------------------------------------------

  private dialBackend(): void {
    clearTimeout(this.proxyWaitTimer);
    if (this.backend || this.reason) return;
    const { backend: target, backendLocalAddress, backendConnectTimeoutMs } = this.deps.settings;
    const dialStarted = performance.now();
    const backend = net.connect({
      host: target.host,
      port: target.port,
      localAddress: backendLocalAddress,
      noDelay: true,
      keepAlive: this.deps.settings.tcpKeepaliveMs > 0,
      keepAliveInitialDelay: this.deps.settings.tcpKeepaliveMs,
    });
    this.backend = backend;
    this.backendStream = backend;
    this.backendClosed = false;
    // Queued until connected, so it is the first thing the database reads.
    if (this.deps.settings.backendProxyProtocol === 'v2') backend.write(this.backendProxyHeader());
    this.connectTimer = setTimeout(() => {
      this.feed({
        type: 'backendClosed',
        reason: 'backend_unavailable',
        detail: `no connection within ${backendConnectTimeoutMs} ms`,
      });
      backend.destroy();
    }, backendConnectTimeoutMs);
    backend.once('connect', () => {
      clearTimeout(this.connectTimer);
      this.backendConnected = true;
      this.deps.metrics.backendConnectDuration.observe((performance.now() - dialStarted) / 1000);
    });
    backend.on('data', this.onBackendData);
    backend.on('error', this.onBackendError);
    backend.on('close', this.onBackendClose);
  }

  private readonly onBackendData = (data: Buffer): void => {
    this.feed({ type: 'backendData', data });
  };

  private readonly onBackendError = (error: NodeJS.ErrnoException): void => {
    if (!this.backendConnected) {
      clearTimeout(this.connectTimer);
      this.feed({
        type: 'backendClosed',
        reason: 'backend_unavailable',
        detail: error.code ?? error.message,
      });
      return;
    }
    if (this.established) {
      this.recordEnd('backend_error', error.code ?? error.message);
      this.clientStream.destroy();
      return;
    }
    this.feed({ type: 'backendClosed', reason: 'backend_error', detail: error.code ?? error.message });
  };

  private readonly onBackendClose = (): void => {
    clearTimeout(this.connectTimer);
    clearTimeout(this.releaseTimer);
    this.backendClosed = true;
    if (this.established) {
      if (this.clientQuit) this.recordEnd('client_quit', 'the client sent COM_QUIT');
      else this.recordEnd('backend_closed', 'the database closed the connection');
      endSocket(this.clientStream as net.Socket);
    } else if (this.backendConnected) {
      this.feed({
        type: 'backendClosed',
        reason: 'backend_closed',
        detail: 'the database closed the connection during the handshake',
      });
    }
    this.maybeFinish();
  };

  // ---- client leg -----------------------------------------------------------------------------

  private readonly onClientData = (data: Buffer): void => {
    if (this.proxyGate) {
      const result = this.proxyGate.push(data);
      if (result.status === 'incomplete') return;
      this.proxyGate = undefined;
      if (result.status === 'invalid') {
        this.refuseAfterStart(
          'proxy_protocol',
          proxyErrors.badHandshake(`invalid PROXY protocol header: ${result.reason}`),
        );
        return;
      }
      this.carriedSource = result.source;
      this.carriedDestination = result.destination;
      if (!this.deps.allows(this.carriedSource?.address ?? this.client.remoteAddress ?? '')) {
        this.refuseAfterStart('ip_not_allowed', proxyErrors.hostNotAllowed(this.clientAddress));
        return;
      }
      this.dialBackend();
      if (result.rest.length === 0) return;
      data = result.rest;
    }
    this.feed({ type: 'clientData', data });
  };

  /** A refusal once the session runs: before the greeting, as on accept; after it, through the machine. */
  private refuseAfterStart(reason: CloseReason, error: ProxyError): void {
    if (!this.backend) {
      clearTimeout(this.proxyWaitTimer);
      clearTimeout(this.handshakeTimer);
      this.refuse(reason, error);
      return;
    }
    this.feed({ type: 'abort', reason, error, detail: error.message });
  }

  /**
   * The PROXY v2 header for the database: the client as seen by the proxy (or as carried by a
   * balancer). When a lazy balancer has not sent its header yet, the database gets LOCAL, i.e. the
   * proxy's own address, because the header must precede the greeting.
   */
  private backendProxyHeader(): Buffer {
    if (this.proxyGate) return encodeProxyV2Local();
    const source = this.carriedSource ?? {
      address: this.client.remoteAddress ?? '',
      port: this.client.remotePort ?? 0,
    };
    const destination = this.carriedDestination ?? {
      address: this.client.localAddress ?? '',
      port: this.client.localPort ?? 0,
    };
    try {
      return encodeProxyV2(sameFamily(source, destination), sameFamily(destination, source));
    } catch {
      return encodeProxyV2Local();
    }
  }

  private readonly onClientError = (error: NodeJS.ErrnoException): void => {
    if (this.established) {
      this.recordEnd('client_error', error.code ?? error.message);
      this.backend?.destroy();
      return;
    }
    this.feed({ type: 'abort', reason: 'client_error', detail: error.code ?? error.message });
  };

  private readonly onClientClose = (): void => {
    if (this.clientClosed) return;
    this.clientClosed = true;
    if (this.established) {
      this.recordEnd('client_closed', 'the client closed the connection');
      if (this.backendStream) endSocket(this.backendStream);
    } else if (this.machine?.phase !== 'tlsHandshake') {
      // During TLS the tls.Server reports the closed socket as a handshake failure (onTlsFailed).
      this.feed({
        type: 'abort',
        reason: 'client_closed',
        detail: 'the client closed the connection during the handshake',
      });
    }
    this.maybeFinish();
  };

  private readonly onHandshakeTimeout = (): void => {
    if (this.established) return;
    if (this.machine?.phase === 'tlsHandshake') this.countTlsFailure('timeout');
    const ms = this.deps.settings.handshakeTimeoutMs;
    this.feed({
      type: 'abort',
      reason: 'handshake_timeout',
      error: proxyErrors.handshakeTimeout(ms),
      detail: `no login within ${ms} ms`,
    });
  };

  // ---- TLS ------------------------------------------------------------------------------------

  private startTls(pending: Buffer): void {
    this.client.off('data', this.onClientData);
    this.tlsStartedAt = performance.now();
    this.deps.tls.upgrade(this.client, pending, {
      secure: (socket) => this.onTlsSecure(socket),
      failed: (error, reason) => this.onTlsFailed(error, reason),
    });
  }

  /**
   * --backend-tls: TLS over the database socket, right after the SSLRequest the machine sent.
   * 'verify' checks the certificate against --backend-ca (or the system store) and the name.
   */
  private startBackendTls(): void {
    const raw = this.backend as net.Socket;
    const { backend: target, backendTls } = this.deps.settings;
    raw.off('data', this.onBackendData);
    const name = backendTls.serverName ?? target.host;
    const secure = tls.connect({
      socket: raw,
      host: target.host,
      servername: net.isIP(name) ? undefined : name,
      ca: backendTls.ca,
      minVersion: 'TLSv1.2',
      rejectUnauthorized: backendTls.mode === 'verify',
      checkServerIdentity: (_host, cert) =>
        backendTls.mode === 'verify' ? tls.checkServerIdentity(name, cert) : undefined,
    });
    let up = false;
    secure.once('secureConnect', () => {
      up = true;
      this.backendStream = secure;
      secure.on('data', this.onBackendData);
      this.feed({ type: 'backendTlsEstablished' });
    });
    secure.on('error', (error: NodeJS.ErrnoException) => {
      if (up) return this.onBackendError(error);
      this.feed({
        type: 'backendClosed',
        reason: 'backend_tls_failed',
        detail: `TLS to the database failed: ${error.message}`,
      });
      raw.destroy();
    });
  }

  private onTlsSecure(socket: tls.TLSSocket): void {
    this.clientStream = socket;
    socket.on('error', this.onClientError);
    socket.on('close', this.onClientClose);
    if (this.reason) {
      socket.destroy();
      return;
    }
    const version = socket.getProtocol() ?? 'unknown';
    const cipher = socket.getCipher()?.name ?? 'unknown';
    this.log.tlsVersion = version;
    this.log.tlsCipher = cipher;
    this.tlsOutcomeCounted = true;
    const { metrics } = this.deps;
    metrics.tlsHandshakes.inc({ version, cipher });
    if (socket.isSessionReused()) {
      this.log.tlsResumed = true;
      metrics.tlsSessionsResumed.inc({ version });
    }
    metrics.tlsHandshakeDuration.observe({ version }, (performance.now() - this.tlsStartedAt) / 1000);
    this.setTransport('tls');
    socket.on('data', this.onClientData);
    // Two-way TLS: the login policy refuses an unverified client after its login, so it reads a
    // MySQL error instead of a bare alert.
    const clientCertificate = socket.authorized
      ? { verified: true as const }
      : { verified: false as const, why: String(socket.authorizationError ?? 'no certificate') };
    this.feed({ type: 'tlsEstablished', clientCertificate, tls: { version, cipher } });
  }

  private onTlsFailed(error: Error, reason: TlsFailureReason): void {
    this.countTlsFailure(reason);
    const why = (error as Error & { reason?: string }).reason ?? error.message;
    this.feed({ type: 'abort', reason: 'tls_handshake_failed', detail: `${reason}: ${why}` });
    this.clientClosed = this.clientClosed || this.client.destroyed;
    this.maybeFinish();
  }

  private countTlsFailure(reason: TlsFailureReason): void {
    if (this.tlsOutcomeCounted) return;
    this.tlsOutcomeCounted = true;
    this.deps.metrics.tlsHandshakeFailures.inc({ reason });
  }

  // ---- the machine's actions ------------------------------------------------------------------

  private feed(event: HandshakeEvent): void {
    if (!this.machine) return; // established: bytes are piped, no more events
    this.apply(this.machine.handle(event));
  }

  private apply(actions: HandshakeAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case 'sendToClient':
          this.clientStream.write(action.data);
          break;
        case 'sendToBackend':
          this.backendStream?.write(action.data);
          break;
        case 'greeting':
          this.log.backendConnectionId = action.connectionId;
          break;
        case 'startTls':
          this.startTls(action.pending);
          break;
        case 'startBackendTls':
          this.startBackendTls();
          break;
        case 'login':
          this.log.user = action.user;
          this.log.database = action.database;
          if (action.transport === 'plain') this.setTransport('plain');
          break;
        case 'established':
          if (this.established) this.resumeRelay(action.toBackend, action.toClient, action.changeUser);
          else this.establish(action.toBackend, action.toClient, action.changeUser);
          break;
        case 'closeClient':
          this.closeClient(action.reason, action.detail, action.packet);
          break;
        case 'closeBackend':
          clearTimeout(this.releaseTimer);
          if (this.backendStream) endSocket(this.backendStream);
          break;
      }
    }
  }

  private closeClient(reason: CloseReason, detail: string, packet?: Buffer): void {
    clearTimeout(this.handshakeTimer);
    if (reason === 'auth_failed') this.deps.metrics.auth.inc({ result: 'error' });
    this.recordEnd(reason, detail);
    if (packet) endSocket(this.clientStream as net.Socket, packet);
    else if (reason === 'auth_failed' || reason === 'backend_refused')
      endSocket(this.clientStream as net.Socket);
    else this.clientStream.destroy();
    if (this.backend && !this.backendClosed) {
      // The machine is finishing the database's handshake; don't let that take long.
      this.releaseTimer = setTimeout(() => this.backend?.destroy(), RELEASE_TIMEOUT_MS);
    }
  }

  /** The connection phase succeeded: from here on, bytes are piped without parsing. */
  private establish(toBackend: Buffer, toClient: Buffer, changeUser?: ChangeUserContext): void {
    clearTimeout(this.handshakeTimer);
    this.established = true;
    this.deps.metrics.auth.inc({ result: 'ok' });
    const client = this.clientStream;
    const backend = this.backendStream as net.Socket;
    this.resumeRelay(toBackend, toClient, changeUser);
    // Not parsing, only a length check per chunk: a lone COM_QUIT packet means the database's
    // close that follows is the client's doing, which the log should say.
    client.on('data', (chunk: Buffer) => {
      if (chunk.length === COM_QUIT_PACKET.length && chunk.equals(COM_QUIT_PACKET)) this.clientQuit = true;
    });
    client.on('end', () => {
      if (this.clientQuit) this.recordEnd('client_quit', 'the client sent COM_QUIT');
      else this.recordEnd('client_closed', 'the client closed the connection');
      // The client's side is finished (its COM_QUIT, if any, was just relayed): close both
      // sockets at once, without shutdown(2) or a close_notify it will not read (end-socket.ts).
      closeFinished(backend);
      closeFinished(client as net.Socket);
    });
    backend.on('end', () => {
      if (this.clientQuit) this.recordEnd('client_quit', 'the client sent COM_QUIT');
      else this.recordEnd('backend_closed', 'the database closed the connection');
      endSocket(client as net.Socket);
    });
  }

  /**
   * Starts (or, after a COM_CHANGE_USER, restarts) the relay. pipe() honours backpressure both ways:
   * a slow reader pauses the other side's socket.
   */
  private resumeRelay(toBackend: Buffer, toClient: Buffer, changeUser?: ChangeUserContext): void {
    this.machine = undefined;
    const client = this.clientStream;
    const backend = this.backendStream as net.Socket;
    client.off('data', this.onClientData);
    backend.off('data', this.onBackendData);
    this.changeUser = changeUser;
    if (!changeUser) {
      if (toClient.length > 0) client.write(toClient);
      backend.pipe(client, { end: false });
      if (toBackend.length > 0) backend.write(toBackend);
      client.pipe(backend, { end: false });
      return;
    }
    const deprecateEof = hasCapability(changeUser.capabilities, Capability.DEPRECATE_EOF);
    this.commandScanner ??= new CommandScanner({ deprecateEof });
    this.commandScanner.reset();
    this.heldClientBytes = undefined;
    this.changeUserWaiting = false;
    if (toClient.length > 0) this.commandScanner.observeServer(toClient);
    if (toClient.length > 0) client.write(toClient);
    // After pipe's own listener, so a chunk is relayed before a COM_CHANGE_USER can take over.
    backend.pipe(client, { end: false });
    backend.on('data', this.onServerData);
    client.on('data', this.onCommandData);
    if (toBackend.length > 0) this.onCommandData(toBackend);
  }

  /** The client's commands when a COM_CHANGE_USER may need help: headers scanned, bytes forwarded. */
  private readonly onCommandData = (chunk: Buffer): void => {
    const data = this.heldClientBytes ? Buffer.concat([this.heldClientBytes, chunk]) : chunk;
    this.heldClientBytes = undefined;
    const { until, status } = (this.commandScanner as CommandScanner).scan(data);
    const backend = this.backendStream as net.Socket;
    if (until > 0 && !backend.write(until === data.length ? data : data.subarray(0, until))) {
      this.clientStream.pause();
      backend.once('drain', () => {
        if (!this.changeUserWaiting) this.clientStream.resume();
      });
    }
    if (status === 'found') return this.startChangeUser(data.subarray(until));
    if (until < data.length) this.heldClientBytes = Buffer.from(data.subarray(until));
    if (status === 'wait') {
      // Pipelined behind unanswered commands: hold it (and the client) until the database is idle.
      this.changeUserWaiting = true;
      this.clientStream.pause();
    }
  };

  /** The database's answers in a watched session: followed to know when it is idle, relayed by pipe(). */
  private readonly onServerData = (chunk: Buffer): void => {
    const scanner = this.commandScanner as CommandScanner;
    scanner.observeServer(chunk);
    if (!this.changeUserWaiting || !(scanner.idle || scanner.isLost)) return;
    this.changeUserWaiting = false;
    this.clientStream.resume();
    this.onCommandData(Buffer.alloc(0));
  };

  /** COM_CHANGE_USER: its exchange runs through a machine, like the login's, until OK or ERR. */
  private startChangeUser(rest: Buffer): void {
    const client = this.clientStream;
    const backend = this.backendStream as net.Socket;
    client.off('data', this.onCommandData);
    backend.off('data', this.onServerData);
    backend.unpipe(client);
    this.machine = HandshakeMachine.forChangeUser(
      this.deps.settings.handshake,
      this.changeUser as ChangeUserContext,
    );
    client.on('data', this.onClientData);
    backend.on('data', this.onBackendData);
    backend.resume();
    client.resume();
    this.feed({ type: 'clientData', data: rest });
  }

  private setTransport(transport: 'tls' | 'plain'): void {
    if (this.transport !== 'pending') return;
    const { metrics } = this.deps;
    metrics.connectionsActive.dec({ transport: 'pending' });
    metrics.connectionsActive.inc({ transport });
    metrics.connections.inc({ transport });
    this.transport = transport;
  }

  // ---- the end --------------------------------------------------------------------------------

  /** The one place a session's reason is decided: the first one wins. */
  private recordEnd(reason: CloseReason, detail: string): void {
    if (this.reason) return;
    this.reason = reason;
    this.detail = detail;
    clearTimeout(this.handshakeTimer);
    // Counted at the decision, so the metric already shows a refusal when the client sees it.
    const rejection = rejectionFor(reason);
    if (rejection) this.deps.metrics.reject(rejection);
  }

  private maybeFinish(): void {
    if (this.finished || !this.clientClosed || !this.backendClosed) return;
    this.finished = true;
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.connectTimer);
    clearTimeout(this.releaseTimer);
    clearTimeout(this.proxyWaitTimer);
    const reason = this.reason ?? 'client_closed';
    const { metrics, logger } = this.deps;
    const bytes = this.takeByteDeltas();
    metrics.addBytes(bytes.clientToBackend, bytes.backendToClient);
    metrics.connectionEnded(this.transport, this.startedAt);
    if (this.counted) metrics.connectionsActive.dec({ transport: this.transport });
    const rejection = rejectionFor(reason);
    const suppressed = rejection || reason === 'tls_handshake_failed' ? this.deps.refusalLog.take() : 0;
    this.onFinished(this);
    if (suppressed === undefined) return; // over the refusal log budget; metrics still counted it
    const entry = {
      event: 'connection_closed',
      session: this.id,
      client: { address: this.clientAddress, port: this.clientPort },
      proxied_by: this.carriedSource ? displayAddress(this.client.remoteAddress) : undefined,
      suppressed_before: suppressed > 0 ? suppressed : undefined,
      transport: this.transport,
      tls_version: this.log.tlsVersion,
      tls_cipher: this.log.tlsCipher,
      tls_resumed: this.log.tlsResumed,
      user: this.log.user,
      database: this.log.database,
      backend_connection_id: this.log.backendConnectionId,
      duration_ms: Math.round((performance.now() - this.startedAt) * 1000) / 1000,
      bytes: {
        client_to_backend: this.reportedClientToBackend,
        backend_to_client: this.reportedBackendToClient,
      },
      reason,
      detail: this.detail,
    };
    if (WARN_REASONS.has(reason)) logger.warn(entry, `connection closed: ${reason}`);
    else logger.info(entry, `connection closed: ${reason}`);
  }
}

/** PROXY v2 carries one address family: an IPv4 address next to an IPv6 one is written mapped. */
function sameFamily(address: ProxyAddress, other: ProxyAddress): ProxyAddress {
  if (net.isIPv4(address.address) && net.isIPv6(other.address))
    return { ...address, address: `::ffff:${address.address}` };
  return address;
}

/** IPv4-mapped IPv6 peers (::ffff:10.1.2.3) are shown as the IPv4 address users know. */
export function displayAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}
