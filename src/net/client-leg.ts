import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type tls from 'node:tls';
import type { CloseReason, TlsFailureReason } from '../core/labels';
import type { ClientCertificate } from '../handshake/login-policy';
import { errReplies, type ErrReply } from '../protocol/err-replies';
import { encodeProxyV2, encodeProxyV2Local, type ProxyAddress } from '../protocol/proxy-protocol';
import { endSocket } from './end-socket';
import { ProxyHeaderGate } from './proxy-header-gate';
import type { SessionRecord } from './session-record';
import type { SocketLike } from './socket-like';

export interface TlsUpgradeHandlers {
  secure(socket: tls.TLSSocket): void;
  failed(error: Error, reason: TlsFailureReason): void;
}

/** Runs the server side of a TLS handshake over an accepted socket (TlsTerminator in the proxy). */
export interface TlsUpgrader {
  upgrade(raw: SocketLike, pending: Buffer, handlers: TlsUpgradeHandlers): void;
}

/** What the client leg tells its session. */
export interface ClientLegListener {
  /** Bytes from the client (decrypted once TLS is up), PROXY header removed. */
  clientData(data: Buffer): void;
  /** A trusted balancer's PROXY header was accepted: the real client is known and allowed. */
  clientIdentified(): void;
  /** The PROXY header was invalid, or names a client the access list refuses. */
  clientRefused(reason: CloseReason, error: ErrReply): void;
  clientError(error: NodeJS.ErrnoException): void;
  /** The client socket (raw or TLS) closed; reported once. */
  clientClosed(): void;
  clientTlsUp(clientCertificate: ClientCertificate, tls: { version: string; cipher: string }): void;
  clientTlsFailed(detail: string): void;
}

/**
 * The client's side of a session: its socket (then the TLS socket over it), the PROXY header of a
 * trusted load balancer, and the in-band TLS upgrade with its metrics.
 */
export class ClientLeg {
  /** The client as the relay sees it: the accepted socket, or TLS over it after the SSLRequest. */
  private current: SocketLike;
  /** Set while a trusted load balancer's PROXY header is still being read. */
  private proxyGate?: ProxyHeaderGate;
  /** The client as the load balancer reported it, when it did. */
  private carriedSource?: ProxyAddress;
  private carriedDestination?: ProxyAddress;
  private tlsStartedAt = 0;
  private closedOnce = false;

  constructor(
    private readonly raw: SocketLike,
    private readonly listener: ClientLegListener,
    private readonly record: SessionRecord,
    /** The access list, consulted for addresses carried in PROXY headers. */
    private readonly allows: (address: string) => boolean,
  ) {
    this.current = raw;
    raw.on('error', this.onError);
    raw.on('close', this.onClose);
  }

  get stream(): SocketLike {
    return this.current;
  }

  get closed(): boolean {
    return this.closedOnce;
  }

  /** Still waiting for a trusted balancer's PROXY header. */
  get awaitingProxyHeader(): boolean {
    return this.proxyGate !== undefined;
  }

  /** The real client: the PROXY header's source when a trusted balancer sent one, else the peer. */
  get address(): string {
    return displayAddress(this.carriedSource?.address ?? this.raw.remoteAddress);
  }

  get port(): number | undefined {
    return this.carriedSource?.port ?? this.raw.remotePort;
  }

  /** The balancer's address, when the client came through one. */
  get proxiedBy(): string | undefined {
    return this.carriedSource ? displayAddress(this.raw.remoteAddress) : undefined;
  }

  /** Starts delivering the client's bytes; with `expectProxyHeader`, a PROXY header comes first. */
  start(expectProxyHeader: boolean): void {
    if (expectProxyHeader) this.proxyGate = new ProxyHeaderGate();
    this.raw.on('data', this.onData);
  }

  /** The relay takes over the stream (established), or the session's machine takes it back. */
  deliverData(on: boolean): void {
    if (on) this.current.on('data', this.onData);
    else this.current.off('data', this.onData);
  }

  write(data: Buffer): void {
    this.current.write(data);
  }

  /** Sends `packet` (if any), then closes; see endSocket. */
  end(packet?: Buffer): void {
    endSocket(this.current, packet);
  }

  destroy(): void {
    this.current.destroy();
  }

  /** Refused before the session ran: a pre-greeting ERR on the raw socket, then close. */
  refuse(packet: Buffer): void {
    endSocket(this.raw, packet);
  }

  /** A destroyed socket may never report 'close' to us (the TLS server took it over). */
  noteDestroyed(): void {
    this.closedOnce = this.closedOnce || this.raw.destroyed;
  }

  /**
   * The PROXY v2 header for the database: the client as seen by the proxy (or as carried by a
   * balancer). When a lazy balancer has not sent its header yet, the database gets LOCAL, i.e. the
   * proxy's own address, because the header must precede the greeting.
   */
  proxyHeaderForBackend(): Buffer {
    if (this.proxyGate) return encodeProxyV2Local();
    const source = this.carriedSource ?? {
      address: this.raw.remoteAddress ?? '',
      port: this.raw.remotePort ?? 0,
    };
    const destination = this.carriedDestination ?? {
      address: this.raw.localAddress ?? '',
      port: this.raw.localPort ?? 0,
    };
    try {
      return encodeProxyV2(sameFamily(source, destination), sameFamily(destination, source));
    } catch {
      return encodeProxyV2Local();
    }
  }

  /** Hands the raw socket to the TLS server; `pending` holds bytes read past the SSLRequest. */
  startTls(upgrader: TlsUpgrader, pending: Buffer): void {
    this.raw.off('data', this.onData);
    this.tlsStartedAt = performance.now();
    upgrader.upgrade(this.raw, pending, {
      secure: (socket) => this.onTlsSecure(socket),
      failed: (error, reason) => this.onTlsFailed(error, reason),
    });
  }

  private onTlsSecure(socket: tls.TLSSocket): void {
    this.current = socket;
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    if (this.record.ended) {
      socket.destroy();
      return;
    }
    const version = socket.getProtocol() ?? 'unknown';
    const cipher = socket.getCipher()?.name ?? 'unknown';
    const seconds = (performance.now() - this.tlsStartedAt) / 1000;
    this.record.tlsEstablished({ version, cipher, resumed: socket.isSessionReused(), seconds });
    socket.on('data', this.onData);
    // Two-way TLS: the login policy refuses an unverified client after its login, so it reads a
    // MySQL error instead of a bare alert.
    const certificate: ClientCertificate = socket.authorized
      ? { verified: true }
      : { verified: false, why: String(socket.authorizationError ?? 'no certificate') };
    this.listener.clientTlsUp(certificate, { version, cipher });
  }

  private onTlsFailed(error: Error, reason: TlsFailureReason): void {
    this.record.tlsFailed(reason);
    const why = (error as Error & { reason?: string }).reason ?? error.message;
    this.listener.clientTlsFailed(`${reason}: ${why}`);
  }

  private readonly onData = (data: Buffer): void => {
    if (this.proxyGate) {
      const rest = this.passProxyHeader(this.proxyGate, data);
      if (!rest || rest.length === 0) return;
      data = rest;
    }
    this.listener.clientData(data);
  };

  /** Reads the PROXY header; returns the client's own bytes after it once it is accepted. */
  private passProxyHeader(gate: ProxyHeaderGate, data: Buffer): Buffer | undefined {
    const result = gate.push(data);
    if (result.status === 'incomplete') return undefined;
    this.proxyGate = undefined;
    if (result.status === 'invalid') {
      const error = errReplies.badHandshake(`invalid PROXY protocol header: ${result.reason}`);
      this.listener.clientRefused('proxy_protocol', error);
      return undefined;
    }
    this.carriedSource = result.source;
    this.carriedDestination = result.destination;
    if (!this.allows(this.carriedSource?.address ?? this.raw.remoteAddress ?? '')) {
      this.listener.clientRefused('ip_not_allowed', errReplies.hostNotAllowed(this.address));
      return undefined;
    }
    this.listener.clientIdentified();
    return result.rest;
  }

  private readonly onError = (error: NodeJS.ErrnoException): void => {
    this.listener.clientError(error);
  };

  private readonly onClose = (): void => {
    if (this.closedOnce) return;
    this.closedOnce = true;
    this.listener.clientClosed();
  };
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
