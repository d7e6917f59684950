/**
 * Where the database listens: HOST:PORT over TCP, or unix:/path for a local socket (a server
 * started with skip-networking has only that door, and the proxy becomes its one TCP entrance).
 */
import path from 'node:path';
import { ConfigError } from './errors';
import { formatHostPort, parseHostPort, type HostPort } from './host-port';

export interface UnixSocketAddress {
  /** Absolute or relative path of the server's socket file (mysqld --socket). */
  socketPath: string;
}

export type BackendAddress = HostPort | UnixSocketAddress;

const UNIX_PREFIX = 'unix:';

export function isUnixSocket(address: BackendAddress): address is UnixSocketAddress {
  return 'socketPath' in address;
}

/** HOST:PORT, [IPv6]:PORT or unix:/path/to/mysqld.sock. */
export function parseBackendAddress(value: string, flag: string): BackendAddress {
  const text = value.trim();
  if (!text.startsWith(UNIX_PREFIX)) return parseHostPort(text, flag);
  const socketPath = text.slice(UNIX_PREFIX.length);
  if (socketPath === '')
    throw new ConfigError(`${flag}: unix: needs a socket path, e.g. unix:/run/mysqld/mysqld.sock`);
  if (socketPath.includes('\0')) throw new ConfigError(`${flag}: the socket path contains a NUL byte`);
  return { socketPath: path.normalize(socketPath) };
}

export function formatBackendAddress(address: BackendAddress): string {
  return isUnixSocket(address) ? `${UNIX_PREFIX}${address.socketPath}` : formatHostPort(address);
}
