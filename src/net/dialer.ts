import net from 'node:net';
import type { HostPort } from '../config/host-port';
import type { SocketLike } from './socket-like';

/** TCP keepalive on both legs: dead peers behind NAT or firewalls are noticed within minutes. */
export const KEEPALIVE_MS = 30_000;

export interface DialOptions {
  /** --backend-local-address: the source address towards the database. */
  localAddress?: string;
}

/**
 * Opens the database leg: returns at once a socket that emits 'connect' when it is up (writes
 * before that are queued), or 'error'. Sessions take it injected, so unit tests dial in-memory
 * sockets (as ghostunnel injects its dialer); this file is the one place that knows how the proxy
 * reaches its database.
 */
export type Dialer = (backend: HostPort, options: DialOptions) => SocketLike;

/** The proxy's dialer: TCP with Nagle off (MySQL packets are small and latency-bound) and keepalive. */
export const dialBackend: Dialer = (backend, options) =>
  net.connect({
    host: backend.host,
    port: backend.port,
    localAddress: options.localAddress,
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: KEEPALIVE_MS,
  });
