/**
 * One probe connection: TCP, the server's greeting, an SSLRequest, then a TLS handshake with the
 * options the probe wants (MySQL in-band upgrade, see
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html).
 * No credentials are ever sent: the connection is closed right after the TLS handshake.
 */
import net from 'node:net';
import tls from 'node:tls';
import {
  Capability,
  encodePacket,
  encodeSslRequest,
  isErrPacket,
  PacketReader,
  parseErrPacket,
  parseGreeting,
  type Greeting,
} from '../protocol';
import { classifyError } from '../client/errors';

/** A greeting (or ERR) is a few hundred bytes; a longer announced packet is not MySQL talking. */
const GREETING_MAX_PAYLOAD = 64 * 1024;
const SSL_REQUEST_CAPABILITIES =
  Capability.LONG_PASSWORD |
  Capability.PROTOCOL_41 |
  Capability.SSL |
  Capability.TRANSACTIONS |
  Capability.SECURE_CONNECTION |
  Capability.PLUGIN_AUTH;
const UTF8MB4_GENERAL_CI = 45;

export interface ProbeTarget {
  host: string;
  port: number;
  /** SNI and the name the certificate must match. */
  serverName: string;
  timeoutMs: number;
}

/** Why a probe could not complete; `kind` tells a refusal (tls_alert) from a transport failure. */
export interface ProbeFailure {
  kind: 'refused' | 'timeout' | 'tls_alert' | 'mysql_err' | 'closed' | 'other' | 'no_tls';
  reason: string;
}

export class ProbeError extends Error {
  constructor(readonly failure: ProbeFailure) {
    super(failure.reason);
  }
}

export interface GreetingResult {
  socket: net.Socket;
  greeting: Greeting;
}

function failureOf(error: unknown): ProbeFailure {
  if (error instanceof ProbeError) return error.failure;
  const info = classifyError(error, 'tls');
  if (info.kind === 'tls_alert') return { kind: 'tls_alert', reason: info.reason ?? 'tls error' };
  const errno = info.errno ? ` (${info.errno})` : '';
  return { kind: info.kind, reason: `${info.kind}${errno}: ${info.message}` };
}

/** Connects and reads the greeting; rejects with a ProbeError (ERR instead of greeting, timeout...). */
export function openGreeting(target: ProbeTarget): Promise<GreetingResult> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const reader = new PacketReader(GREETING_MAX_PAYLOAD);
    const timer = setTimeout(
      () => fail(new ProbeError({ kind: 'timeout', reason: `no greeting within ${target.timeoutMs} ms` })),
      target.timeoutMs,
    );
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.removeAllListeners('data').removeAllListeners('end');
      socket.removeListener('error', fail);
    };
    const fail = (error: unknown): void => {
      cleanup();
      socket.destroy();
      reject(error instanceof ProbeError ? error : new ProbeError(failureOf(error)));
    };
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      try {
        const packet = reader.read();
        if (!packet) return;
        if (isErrPacket(packet.payload)) {
          const err = parseErrPacket(packet.payload);
          return fail(new ProbeError({ kind: 'mysql_err', reason: `ERR ${err.code}: ${err.message}` }));
        }
        const greeting = parseGreeting(Buffer.from(packet.payload));
        cleanup();
        socket.pause();
        resolve({ socket, greeting });
      } catch (error) {
        fail(new ProbeError({ kind: 'other', reason: `not a MySQL greeting: ${(error as Error).message}` }));
      }
    });
    socket.on('error', fail);
    socket.on('end', () =>
      fail(new ProbeError({ kind: 'closed', reason: 'the server closed the connection before greeting' })),
    );
  });
}

/** The 32-byte SSLRequest (sequence id 1) that switches the connection to TLS. */
export function sslRequestPacket(): Buffer {
  const payload = encodeSslRequest({
    capabilities: SSL_REQUEST_CAPABILITIES,
    maxPacketSize: 16 * 1024 * 1024,
    characterSet: UTF8MB4_GENERAL_CI,
    filler: Buffer.alloc(23),
  });
  return encodePacket(payload, 1);
}

/** Greeting + SSLRequest: the socket is ready for a ClientHello. Rejects if TLS is not advertised. */
export async function openForTls(target: ProbeTarget): Promise<GreetingResult> {
  const opened = await openGreeting(target);
  if ((opened.greeting.capabilities & Capability.SSL) === 0) {
    opened.socket.destroy();
    throw new ProbeError({ kind: 'no_tls', reason: 'the server does not advertise TLS (CLIENT_SSL)' });
  }
  opened.socket.write(sslRequestPacket());
  return opened;
}

export type TlsOptions = Omit<tls.ConnectionOptions, 'socket' | 'host' | 'port' | 'servername'>;

/**
 * A TLS handshake with `options` over a fresh MySQL connection. The caller owns the returned socket
 * (destroy it). Verification is reported, never enforced (rejectUnauthorized false).
 */
export async function handshake(target: ProbeTarget, options: TlsOptions): Promise<tls.TLSSocket> {
  const { socket } = await openForTls(target);
  let tlsSocket: tls.TLSSocket;
  try {
    tlsSocket = tls.connect({
      minDHSize: 1, // report weak DH parameters rather than refusing them
      rejectUnauthorized: false,
      ...options,
      socket,
      servername: net.isIP(target.serverName) ? undefined : target.serverName,
    });
  } catch (error) {
    socket.destroy(); // options OpenSSL rejects locally (e.g. no cipher of a family for this version)
    throw error;
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      tlsSocket.destroy();
      reject(new ProbeError({ kind: 'timeout', reason: `no TLS handshake within ${target.timeoutMs} ms` }));
    }, target.timeoutMs);
    const fail = (error: unknown): void => {
      clearTimeout(timer);
      tlsSocket.destroy();
      reject(new ProbeError(failureOf(error)));
    };
    tlsSocket.once('error', fail);
    tlsSocket.once('close', () =>
      fail(new ProbeError({ kind: 'closed', reason: 'closed during TLS handshake' })),
    );
    tlsSocket.once('secureConnect', () => {
      clearTimeout(timer);
      tlsSocket.removeAllListeners('close');
      tlsSocket.removeListener('error', fail);
      tlsSocket.on('error', () => undefined); // late errors after the verdict are irrelevant
      resolve(tlsSocket);
    });
  });
}

/** Runs `use` on a handshaken socket and always closes it; a failed handshake yields the failure. */
export async function withHandshake<T>(
  target: ProbeTarget,
  options: TlsOptions,
  use: (socket: tls.TLSSocket) => T | Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; failure: ProbeFailure }> {
  let socket: tls.TLSSocket | undefined;
  try {
    socket = await handshake(target, options);
    return { ok: true, value: await use(socket) };
  } catch (error) {
    return { ok: false, failure: failureOf(error) };
  } finally {
    socket?.destroy();
  }
}
