import type net from 'node:net';
import tls from 'node:tls';
import type { TlsFailureReason } from '../observability/metrics';
import { secureContextOptions, type LoadedCredentials, type TlsPolicy } from '../tls/credentials';
import { classifyTlsFailure } from '../tls/failure-reason';

export interface TlsUpgradeHandlers {
  secure(socket: tls.TLSSocket): void;
  failed(error: Error, reason: TlsFailureReason): void;
}

/**
 * Upgrades accepted MySQL sockets to TLS after their SSLRequest. One non-listening tls.Server holds
 * the configuration (context, session tickets); each socket is handed to it with
 * emit('connection'), exactly as if it had accepted the socket itself. Bytes already read past the
 * SSLRequest (a ClientHello in the same TCP segment) are unshifted first: Node's TLSSocket feeds a
 * wrapped socket's buffered data to OpenSSL before reading from the handle.
 */
export class TlsTerminator {
  private readonly server: tls.Server;
  private readonly pending = new WeakMap<net.Socket, TlsUpgradeHandlers>();
  private ticketKeys: Buffer | undefined;

  constructor(
    credentials: LoadedCredentials,
    private readonly policy: TlsPolicy,
    /** Seconds a session (ticket) stays resumable (--tls-session-timeout). */
    private readonly sessionTimeoutS: number,
    /** Two-way TLS (--client-ca): CA certificates that client certificates must chain to. */
    private readonly clientCa?: Buffer,
  ) {
    this.server = tls.createServer({
      ...this.contextOptions(credentials),
      // No per-socket TLS timer: the session's handshake timer (--handshake-timeout, started
      // earlier, same length) already bounds the TLS phase and counts it as a 'timeout' failure.
      // Node's would be an idle timer refreshed on every read and write. 0 means 120 s to Node;
      // a negative value disables it (tls.Server: `handshakeTimeout > 0`).
      handshakeTimeout: -1,
      // One-way TLS (as TiDB Cloud) unless --client-ca. The verdict is not left to OpenSSL
      // (rejectUnauthorized: false): the session refuses unverified clients with a MySQL ERR they can read.
      requestCert: clientCa !== undefined,
      rejectUnauthorized: false,
    });
    this.server.on('secureConnection', (socket: tls.TLSSocket) => {
      const handlers = this.take(socket);
      if (handlers) handlers.secure(socket);
      else socket.destroy();
    });
    this.server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
      this.take(socket)?.failed(error, classifyTlsFailure(error));
    });
  }

  /** New handshakes use these credentials; established sessions keep theirs. */
  update(credentials: LoadedCredentials): void {
    this.server.setSecureContext(this.contextOptions(credentials));
  }

  /**
   * Session ticket keys (src/tls/ticket-keys.ts). Kept across update(): a new SecureContext would
   * otherwise start with random keys and every outstanding ticket would stop resuming.
   */
  setTicketKeys(keys: Buffer): void {
    this.ticketKeys = keys;
    this.server.setTicketKeys(keys);
  }

  upgrade(raw: net.Socket, pending: Buffer, handlers: TlsUpgradeHandlers): void {
    raw.pause();
    if (pending.length > 0) raw.unshift(pending);
    this.pending.set(raw, handlers);
    this.server.emit('connection', raw);
  }

  private take(socket: tls.TLSSocket): TlsUpgradeHandlers | undefined {
    // The TLSSocket keeps the socket it wraps as `_parent` (stable since Node 0.11; covered by tests).
    const raw = (socket as unknown as { _parent?: net.Socket })._parent;
    if (!raw) return undefined;
    const handlers = this.pending.get(raw);
    this.pending.delete(raw);
    return handlers;
  }

  private contextOptions(credentials: LoadedCredentials): tls.SecureContextOptions {
    return {
      ...secureContextOptions(this.policy),
      cert: credentials.cert,
      key: credentials.key,
      sessionTimeout: this.sessionTimeoutS,
      ...(this.ticketKeys ? { ticketKeys: this.ticketKeys } : {}),
      ...(this.clientCa ? { ca: this.clientCa } : {}),
    };
  }
}
