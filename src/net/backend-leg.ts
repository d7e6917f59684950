import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import type { BackendAddress } from '../config/backend-address';
import { backendTlsOptions, KEEPALIVE_MS, type BackendTlsSettings, type Dialer } from './dialer';
import { endSocket } from './end-socket';
import type { SessionRecord } from './session-record';
import type { SocketLike } from './socket-like';

export interface BackendLegSettings {
  backend: BackendAddress;
  backendLocalAddress?: string;
  backendConnectTimeoutMs: number;
  /** TLS towards the database (--backend-tls): see backendTlsOptions in ./dialer. */
  backendTls: BackendTlsSettings;
}

/** What the database leg tells its session. */
export interface BackendLegListener {
  /** Bytes from the database (decrypted with --backend-tls). */
  backendData(data: Buffer): void;
  /** The database could not be reached, or its TLS handshake failed: nothing to relay, ever. */
  backendFailed(reason: 'backend_unavailable' | 'backend_tls_failed', detail: string): void;
  /** A socket error once connected. */
  backendError(detail: string): void;
  backendTlsUp(): void;
  /** The database socket closed (after any of the above, or on its own); reported once. */
  backendClosed(): void;
}

/**
 * The database's side of a session: dialled through an injected Dialer, with a connect timeout,
 * an optional PROXY v2 header, an optional TLS upgrade (--backend-tls), and the byte counters the
 * metrics read at scrape time.
 */
export class BackendLeg {
  private raw?: SocketLike;
  /** The database leg as the relay sees it: the socket, or TLS over it with --backend-tls. */
  private current?: SocketLike;
  private connected = false;
  private closedFlag = true; // until a socket exists
  private connectTimer?: NodeJS.Timeout;
  private releaseTimer?: NodeJS.Timeout;
  private dialStartedAt = 0;
  private reportedClientToBackend = 0;
  private reportedBackendToClient = 0;

  constructor(
    private readonly settings: BackendLegSettings,
    private readonly dialer: Dialer,
    private readonly listener: BackendLegListener,
    private readonly record: SessionRecord,
  ) {}

  get dialled(): boolean {
    return this.raw !== undefined;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Only valid once dialled. */
  get stream(): SocketLike {
    return this.current as SocketLike;
  }

  /** `firstBytes` (a PROXY header) are queued until connected, so the database reads them first. */
  dial(firstBytes?: Buffer): void {
    const { backend, backendLocalAddress, backendConnectTimeoutMs } = this.settings;
    this.dialStartedAt = performance.now();
    const socket = this.dialer(backend, { localAddress: backendLocalAddress, keepAliveMs: KEEPALIVE_MS });
    this.raw = socket;
    this.current = socket;
    this.closedFlag = false;
    if (firstBytes) socket.write(firstBytes);
    this.connectTimer = setTimeout(this.onConnectTimeout, backendConnectTimeoutMs);
    socket.once('connect', this.onConnect);
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  write(data: Buffer): void {
    this.current?.write(data);
  }

  /** The session stops reading for the machine (the relay takes over), or starts again. */
  deliverData(on: boolean): void {
    if (on) this.current?.on('data', this.onData);
    else this.current?.off('data', this.onData);
  }

  /** Ends the database leg cleanly now (see endSocket). */
  end(): void {
    clearTimeout(this.releaseTimer);
    if (this.current) endSocket(this.current);
  }

  destroy(): void {
    this.raw?.destroy();
  }

  /** The client is gone while the machine finishes the database's handshake: don't let that take long. */
  releaseWithin(ms: number): void {
    if (!this.raw || this.closedFlag) return;
    this.releaseTimer = setTimeout(() => this.raw?.destroy(), ms);
  }

  /** Clears the timers; the socket's own close does too. */
  stopTimers(): void {
    clearTimeout(this.connectTimer);
    clearTimeout(this.releaseTimer);
  }

  /** Bytes relayed since the last call, read from the database socket's counters. */
  takeByteDeltas(): { clientToBackend: number; backendToClient: number } {
    // With --backend-tls the socket counts the bytes before the upgrade, the TLS stream those after.
    const upgraded = this.current !== this.raw ? this.current : undefined;
    const written = (this.raw?.bytesWritten ?? 0) + (upgraded?.bytesWritten ?? 0);
    const read = (this.raw?.bytesRead ?? 0) + (upgraded?.bytesRead ?? 0);
    const delta = {
      clientToBackend: written - this.reportedClientToBackend,
      backendToClient: read - this.reportedBackendToClient,
    };
    this.reportedClientToBackend = written;
    this.reportedBackendToClient = read;
    return delta;
  }

  /** Totals as of the last takeByteDeltas(). */
  reportedBytes(): { clientToBackend: number; backendToClient: number } {
    return { clientToBackend: this.reportedClientToBackend, backendToClient: this.reportedBackendToClient };
  }

  /**
   * --backend-tls: TLS over the database socket, right after the SSLRequest the machine sent.
   * 'verify-ca' checks the chain against --backend-ca (or the system store); 'verify' also the name.
   */
  startTls(): void {
    const raw = this.raw as SocketLike;
    const { backend: target, backendTls } = this.settings;
    raw.off('data', this.onData);
    const secure = tls.connect(backendTlsOptions(target, backendTls, raw));
    let up = false;
    secure.once('secureConnect', () => {
      up = true;
      this.current = secure;
      secure.on('data', this.onData);
      this.listener.backendTlsUp();
    });
    secure.on('error', (error: NodeJS.ErrnoException) => {
      if (up) return this.onError(error);
      this.listener.backendFailed('backend_tls_failed', `TLS to the database failed: ${error.message}`);
      raw.destroy();
    });
  }

  private readonly onConnect = (): void => {
    clearTimeout(this.connectTimer);
    this.connected = true;
    this.record.backendConnected((performance.now() - this.dialStartedAt) / 1000);
  };

  private readonly onConnectTimeout = (): void => {
    const ms = this.settings.backendConnectTimeoutMs;
    this.listener.backendFailed('backend_unavailable', `no connection within ${ms} ms`);
    this.raw?.destroy();
  };

  private readonly onData = (data: Buffer): void => {
    this.listener.backendData(data);
  };

  private readonly onError = (error: NodeJS.ErrnoException): void => {
    const detail = error.code ?? error.message;
    if (this.connected) return this.listener.backendError(detail);
    clearTimeout(this.connectTimer);
    this.listener.backendFailed('backend_unavailable', detail);
  };

  private readonly onClose = (): void => {
    this.stopTimers();
    this.closedFlag = true;
    this.listener.backendClosed();
  };
}
