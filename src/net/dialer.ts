/**
 * Opening the database connection: one place that knows TCP from a unix socket, and the TLS
 * options of --backend-tls. Used by the session's database leg and by the readiness probe, so
 * both always reach the database the same way.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { isUnixSocket, type BackendAddress } from '../config/backend-address';
import type { BackendTlsMode } from '../core/values';
import type { SocketLike } from './socket-like';

/** TCP keepalive on both legs: dead peers behind NAT or firewalls are noticed within minutes. */
export const KEEPALIVE_MS = 30_000;

export interface DialOptions {
  /** TCP source address (--backend-local-address); never set for a unix socket (refused at startup). */
  localAddress?: string;
  /** TCP keepalive after this much idle time (sessions: a silent peer is noticed, NAT entries stay). */
  keepAliveMs?: number;
}

/**
 * Opens the database leg: returns at once a socket that emits 'connect' when it is up (writes
 * before that are queued), or 'error'. Sessions take it injected, so unit tests dial in-memory
 * sockets (as ghostunnel injects its dialer).
 */
export type Dialer = (address: BackendAddress, options: DialOptions) => SocketLike;

/** Starts connecting (the socket emits 'connect' or 'error'); TCP or unix socket by the address. */
export function dialBackend(address: BackendAddress, options: DialOptions = {}): net.Socket {
  if (isUnixSocket(address)) return net.connect({ path: address.socketPath });
  const keepAlive = options.keepAliveMs !== undefined;
  return net.connect({
    host: address.host,
    port: address.port,
    localAddress: options.localAddress,
    noDelay: true,
    keepAlive,
    keepAliveInitialDelay: keepAlive ? options.keepAliveMs : undefined,
  });
}

export interface BackendTlsSettings {
  mode: BackendTlsMode;
  ca?: Buffer;
  serverName?: string;
}

/**
 * tls.connect options for TLS over an open database socket. 'on' encrypts without checking;
 * 'verify-ca' checks the chain against --backend-ca (or the system store) but not the name, for
 * databases reached by an address their certificate does not carry; 'verify' checks both.
 */
export function backendTlsOptions(
  address: BackendAddress,
  settings: BackendTlsSettings,
  socket: Duplex,
): tls.ConnectionOptions {
  const host = isUnixSocket(address) ? 'localhost' : address.host;
  const name = settings.serverName ?? host;
  return {
    socket,
    host,
    servername: net.isIP(name) ? undefined : name,
    ca: settings.ca,
    minVersion: 'TLSv1.2',
    rejectUnauthorized: settings.mode === 'verify' || settings.mode === 'verify-ca',
    checkServerIdentity: (_host, cert) =>
      settings.mode === 'verify' ? tls.checkServerIdentity(name, cert) : undefined,
  };
}
