import net from 'node:net';
import { ConfigError } from './errors';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses HOST:PORT, [IPv6]:PORT or :PORT (all interfaces). */
export function parseHostPort(value: string, flag: string): HostPort {
  const text = value.trim();
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (bracketed) {
    [, host, portText] = bracketed;
    if (net.isIPv6(host) === false) throw new ConfigError(`${flag}: '${host}' is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new ConfigError(`${flag}: expected HOST:PORT, got '${value}'`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':'))
      throw new ConfigError(`${flag}: write IPv6 addresses in brackets, e.g. [::1]:4000`);
    if (host === '') host = '0.0.0.0';
  }
  if (!/^\d+$/.test(portText)) throw new ConfigError(`${flag}: port '${portText}' is not a number`);
  const port = Number(portText);
  if (port > 65535) throw new ConfigError(`${flag}: port ${port} is out of range`);
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
