import type { CloseReason } from '../core/labels';
import { HandshakeMachine, type HandshakeOptions } from '../handshake/machine';
import type { ChangeUserContext, HandshakeAction, HandshakeEvent } from '../handshake/types';
import type { ClientCertificate } from '../handshake/login-policy';
import { type ConnectionLogMode } from '../observability/connection-log';
import type { Logger } from '../observability/logger';
import { recordLogin } from '../observability/login-audit';
import type { LogLimiter } from '../observability/log-limiter';
import type { ProxyMetrics } from '../observability/metrics';
import { Capability, hasCapability } from '../protocol/capabilities';
import { encodeErrReply, errReplies, type ErrReply } from '../protocol/err-replies';
import { encodePacket } from '../protocol/packet';
import { BackendLeg, type BackendLegListener, type BackendLegSettings } from './backend-leg';
import { ClientLeg, type ClientLegListener, type TlsUpgrader } from './client-leg';
import { dialBackend, type Dialer } from './dialer';
import { Relay, type RelayListener } from './relay';
import { SessionRecord } from './session-record';
import type { SocketLike } from './socket-like';

export { displayAddress } from './client-leg';

export interface SessionSettings extends BackendLegSettings {
  handshakeTimeoutMs: number;
  handshake: HandshakeOptions;
  /** Send a PROXY v2 header with the client's address to the database. */
  backendProxyProtocol: 'off' | 'v2';
  /** How long to wait for a load balancer's PROXY header before greeting anyway. */
  proxyProtocolWaitMs: number;
  /** --log-connections: which close lines are written (default all). */
  logConnections?: ConnectionLogMode;
}

export interface SessionDeps {
  settings: SessionSettings;
  tls: TlsUpgrader;
  metrics: ProxyMetrics;
  logger: Logger;
  /** The access list, consulted for addresses carried in PROXY headers. */
  allows: (address: string) => boolean;
  /** Budget for log lines about refusals (a scan must not flood the log). */
  refusalLog: LogLimiter;
  /** Opens the database leg; the proxy's TCP dialer unless a test injects another. */
  dial?: Dialer;
}

/** How long the proxy may spend finishing the database's handshake after the client left. */
const RELEASE_TIMEOUT_MS = 5_000;

/**
 * One client connection and its database connection. The handshake machine decides; the legs do
 * the I/O; the relay carries the command phase; the record keeps the reason, metrics and log line.
 * This class only routes: leg events become machine events, machine actions become leg calls.
 */
export class Session implements ClientLegListener, BackendLegListener, RelayListener {
  private readonly record: SessionRecord;
  private readonly client: ClientLeg;
  private readonly backend: BackendLeg;
  /** Set during the connection phase and a COM_CHANGE_USER exchange; dropped while relaying. */
  private machine?: HandshakeMachine;
  private relay?: Relay;
  /** Kept for sessions that watch for COM_CHANGE_USER (see ChangeUserContext). */
  private changeUserContext?: ChangeUserContext;
  private handshakeTimer?: NodeJS.Timeout;
  private proxyWaitTimer?: NodeJS.Timeout;

  constructor(
    socket: SocketLike,
    private readonly deps: SessionDeps,
    private readonly onFinished: (session: Session) => void,
  ) {
    this.record = new SessionRecord(deps.metrics, deps.logger, deps.refusalLog, deps.settings.logConnections);
    this.client = new ClientLeg(socket, this, this.record, deps.allows);
    this.backend = new BackendLeg(deps.settings, deps.dial ?? dialBackend, this, this.record);
    this.machine = new HandshakeMachine(deps.settings.handshake, () => ({
      ip: this.client.address,
      port: this.client.port ?? 0,
    }));
  }

  get id(): number {
    return this.record.id;
  }

  get clientAddress(): string {
    return this.client.address;
  }

  get isEstablished(): boolean {
    return this.relay !== undefined;
  }

  /** Refuses the client before any backend or TLS work: a pre-greeting ERR, then close. */
  refuse(reason: CloseReason, error: ErrReply): void {
    this.end(reason, error.message);
    this.client.refuse(encodePacket(encodeErrReply(error, false), 0));
  }

  /**
   * `expectProxyHeader`: the peer is a trusted load balancer. Its header usually arrives at once;
   * then the access list sees the real client before the database is dialled. Balancers that send
   * it only with the client's first bytes (MySQL clients wait for the greeting) get the greeting
   * after --proxy-protocol-wait, and the header is checked when it comes.
   */
  start(options: { expectProxyHeader?: boolean } = {}): void {
    const { settings } = this.deps;
    this.record.opened();
    // Nagle off and TCP keepalive come with the accepted socket (ProxyServer's listener options).
    this.client.start(options.expectProxyHeader === true);
    this.handshakeTimer = setTimeout(this.onHandshakeTimeout, settings.handshakeTimeoutMs);
    if (options.expectProxyHeader) {
      this.proxyWaitTimer = setTimeout(this.onProxyWaitOver, settings.proxyProtocolWaitMs);
    } else {
      this.dialBackend();
    }
  }

  /** Drain ran out: close both sides now. */
  shutdown(): void {
    this.end('shutdown', 'the proxy is shutting down');
    this.client.destroy();
    this.backend.destroy();
  }

  /** Bytes relayed since the last call, read from the database socket's counters. */
  takeByteDeltas(): { clientToBackend: number; backendToClient: number } {
    return this.backend.takeByteDeltas();
  }

  private dialBackend(): void {
    clearTimeout(this.proxyWaitTimer);
    if (this.backend.dialled || this.record.ended) return;
    const proxyV2 = this.deps.settings.backendProxyProtocol === 'v2';
    this.backend.dial(proxyV2 ? this.client.proxyHeaderForBackend() : undefined);
  }

  private readonly onProxyWaitOver = (): void => this.dialBackend();

  private readonly onHandshakeTimeout = (): void => {
    if (this.relay) return;
    if (this.machine?.phase === 'tlsHandshake') this.record.tlsFailed('timeout');
    const ms = this.deps.settings.handshakeTimeoutMs;
    this.feed({
      type: 'abort',
      reason: 'handshake_timeout',
      error: errReplies.handshakeTimeout(ms),
      detail: `no login within ${ms} ms`,
    });
  };

  // ---- client leg events ----------------------------------------------------------------------

  clientData(data: Buffer): void {
    this.feed({ type: 'clientData', data });
  }

  clientIdentified(): void {
    this.dialBackend();
  }

  /** A refusal once the session runs: before the greeting, as on accept; after it, through the machine. */
  clientRefused(reason: CloseReason, error: ErrReply): void {
    if (!this.backend.dialled) {
      clearTimeout(this.proxyWaitTimer);
      this.refuse(reason, error);
      return;
    }
    this.feed({ type: 'abort', reason, error, detail: error.message });
  }

  clientError(error: NodeJS.ErrnoException): void {
    const detail = error.code ?? error.message;
    if (!this.relay) return this.feed({ type: 'abort', reason: 'client_error', detail });
    this.end('client_error', detail);
    this.backend.destroy();
  }

  clientClosed(): void {
    if (this.relay) {
      this.end('client_closed', 'the client closed the connection');
      if (this.backend.dialled) this.backend.end();
    } else if (this.machine?.phase !== 'tlsHandshake') {
      // During TLS the tls.Server reports the closed socket as a handshake failure (clientTlsFailed).
      const detail = 'the client closed the connection during the handshake';
      this.feed({ type: 'abort', reason: 'client_closed', detail });
    }
    this.maybeFinish();
  }

  clientTlsUp(clientCertificate: ClientCertificate, tls: { version: string; cipher: string }): void {
    this.feed({ type: 'tlsEstablished', clientCertificate, tls });
  }

  clientTlsFailed(detail: string): void {
    this.feed({ type: 'abort', reason: 'tls_handshake_failed', detail });
    this.client.noteDestroyed();
    this.maybeFinish();
  }

  // ---- database leg events --------------------------------------------------------------------

  backendData(data: Buffer): void {
    this.feed({ type: 'backendData', data });
  }

  backendFailed(reason: 'backend_unavailable' | 'backend_tls_failed', detail: string): void {
    this.feed({ type: 'backendClosed', reason, detail });
  }

  backendError(detail: string): void {
    if (!this.relay) return this.feed({ type: 'backendClosed', reason: 'backend_error', detail });
    this.end('backend_error', detail);
    this.client.destroy();
  }

  backendTlsUp(): void {
    this.feed({ type: 'backendTlsEstablished' });
  }

  backendClosed(): void {
    if (this.relay) {
      this.end(...this.relay.backendEndReason());
      this.client.end();
    } else if (this.backend.isConnected) {
      const detail = 'the database closed the connection during the handshake';
      this.feed({ type: 'backendClosed', reason: 'backend_closed', detail });
    }
    this.maybeFinish();
  }

  // ---- relay events ---------------------------------------------------------------------------

  relayEnded(reason: CloseReason, detail: string): void {
    this.end(reason, detail);
  }

  /** COM_CHANGE_USER: its exchange runs through a machine, like the login's, until OK or ERR. */
  changeUser(command: Buffer): void {
    const context = this.changeUserContext as ChangeUserContext;
    this.machine = HandshakeMachine.forChangeUser(this.deps.settings.handshake, context);
    this.client.deliverData(true);
    this.backend.deliverData(true);
    this.backend.stream.resume();
    this.client.stream.resume();
    this.feed({ type: 'clientData', data: command });
  }

  // ---- the machine's actions ------------------------------------------------------------------

  private feed(event: HandshakeEvent): void {
    if (!this.machine) return; // relaying: bytes are piped, no more events
    this.apply(this.machine.handle(event));
  }

  private apply(actions: HandshakeAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case 'sendToClient':
          this.client.write(action.data);
          break;
        case 'sendToBackend':
          this.backend.write(action.data);
          break;
        case 'greeting':
          this.record.log.backendConnectionId = action.connectionId;
          break;
        case 'startTls':
          this.client.startTls(this.deps.tls, action.pending);
          break;
        case 'startBackendTls':
          this.backend.startTls();
          break;
        case 'login':
          this.record.log.user = action.user;
          this.record.log.database = action.database;
          if (action.transport === 'plain') this.record.setTransport('plain');
          recordLogin(this.deps, {
            ...action,
            session: this.record.id,
            address: this.client.address,
            port: this.client.port,
            tlsVersion: this.record.log.tlsVersion,
          });
          break;
        case 'established':
          this.establish(action.toBackend, action.toClient, action.changeUser);
          break;
        case 'closeClient':
          this.closeClient(action.reason, action.detail, action.packet);
          break;
        case 'closeBackend':
          this.backend.end();
          break;
      }
    }
  }

  private closeClient(reason: CloseReason, detail: string, packet?: Buffer): void {
    if (reason === 'auth_failed') this.record.authAnswered('error');
    this.end(reason, detail);
    if (packet || reason === 'auth_failed' || reason === 'backend_refused') this.client.end(packet);
    else this.client.destroy();
    // The machine is finishing the database's handshake; don't let that take long.
    this.backend.releaseWithin(RELEASE_TIMEOUT_MS);
  }

  /**
   * The connection phase (or a COM_CHANGE_USER exchange) succeeded: the machine is dropped (an
   * idle relayed session keeps no handshake state) and the relay takes over.
   */
  private establish(toBackend: Buffer, toClient: Buffer, changeUser?: ChangeUserContext): void {
    this.machine = undefined;
    this.client.deliverData(false);
    this.backend.deliverData(false);
    if (!this.relay) {
      clearTimeout(this.handshakeTimer);
      this.record.authAnswered('ok');
      this.relay = new Relay(this.client.stream, this.backend.stream, this);
    }
    this.changeUserContext = changeUser;
    const watch = changeUser && {
      deprecateEof: hasCapability(changeUser.capabilities, Capability.DEPRECATE_EOF),
    };
    this.relay.start(toBackend, toClient, watch);
  }

  // ---- the end --------------------------------------------------------------------------------

  /** Every reason goes to the record, where the first one wins. */
  private end(reason: CloseReason, detail: string): void {
    clearTimeout(this.handshakeTimer);
    this.record.end(reason, detail);
  }

  private maybeFinish(): void {
    if (!this.client.closed || !this.backend.closed) return;
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.proxyWaitTimer);
    this.backend.stopTimers();
    const unreportedBytes = this.backend.takeByteDeltas();
    const finished = this.record.finish({
      client: { address: this.client.address, port: this.client.port },
      proxiedBy: this.client.proxiedBy,
      unreportedBytes,
      totalBytes: this.backend.reportedBytes(),
    });
    if (finished) this.onFinished(this);
  }
}
