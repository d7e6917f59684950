/** Real MySQL clients for integration tests: the mariadb CLI, openssl s_client and mysql2. */
import { execFile } from 'child_process';
import * as net from 'net';
import * as tls from 'tls';
import { Duplex } from 'stream';
import { encodePacket, encodeSslRequest, PacketReader } from '../../src/protocol';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const mysql = require('mysql2/promise');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], input = '', timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    child.stdin?.end(input);
  });
}

/** The mariadb CLI, with no option files read. */
export function mariadbCli(args: string[]): Promise<RunResult> {
  return run('mariadb', ['--no-defaults', ...args]);
}

/** `openssl s_client -starttls mysql` with one protocol version forced. */
export function sClient(
  port: number,
  versionFlag: string,
  caFile: string,
  extra: string[] = [],
): Promise<RunResult> {
  // SECLEVEL=0 lets the client really offer TLS 1.0/1.1, so a refusal comes from the proxy, not the client.
  return run(
    'openssl',
    [
      's_client',
      '-starttls',
      'mysql',
      '-connect',
      `127.0.0.1:${port}`,
      versionFlag,
      '-cipher',
      'DEFAULT:@SECLEVEL=0',
      '-CAfile',
      caFile,
      ...extra,
    ],
    '',
    15_000,
  );
}

type RawPacket = { seq: number; payload: Buffer };

/** Reads one MySQL packet (header + payload) from a raw socket; rejects if the socket closes first. */
export async function readPacket(socket: net.Socket | tls.TLSSocket, timeoutMs = 5_000): Promise<RawPacket> {
  const packet = await readPacketOrClose(socket, timeoutMs);
  if (!packet) throw new Error('connection closed before a full packet arrived');
  return packet;
}

/**
 * Reads one MySQL packet from a raw socket; undefined when the socket closes first (bench/soak.js
 * counts such closes). A timeout rejects with code and message ETIMEDOUT.
 */
export function readPacketOrClose(
  socket: net.Socket | tls.TLSSocket,
  timeoutMs = 5_000,
): Promise<RawPacket | undefined> {
  return new Promise((resolve, reject) => {
    // Large enough for any packet (tests read 200 kB results through here).
    const reader = new PacketReader(0xffffff);
    const timer = setTimeout(() => {
      const error = Object.assign(new Error(`ETIMEDOUT: no packet within ${timeoutMs} ms`), {
        code: 'ETIMEDOUT',
      });
      finish(error);
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      reader.push(chunk);
      const packet = reader.read();
      if (!packet) return;
      const rest = reader.drain();
      // Detach first: unshift() on a flowing stream re-emits 'data' synchronously.
      finish(undefined, { seq: packet.sequenceId, payload: packet.payload });
      if (rest.length > 0) socket.unshift(rest);
    };
    const onClose = () => finish(undefined, undefined);
    const finish = (error?: Error, packet?: RawPacket) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onClose);
      socket.off('close', onClose);
      socket.pause();
      if (error) reject(error);
      else resolve(packet);
    };
    socket.on('data', onData);
    socket.on('end', onClose);
    socket.on('close', onClose);
    socket.resume();
  });
}

export function connectRaw(port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves when the socket is closed by the peer (or rejects after the timeout). */
export function closed(socket: net.Socket, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve();
    const timer = setTimeout(() => reject(new Error('socket still open')), timeoutMs);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.resume();
  });
}

/** An SSLRequest packet (sequence id 1) offering PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH, ... + SSL. */
export const SSL_REQUEST = encodePacket(
  encodeSslRequest({
    capabilities: 0x000aa285 | 0x800,
    maxPacketSize: 1 << 24,
    characterSet: 45,
    filler: Buffer.alloc(23),
  }),
  1,
);

/**
 * Starts TLS over a raw socket that has just sent nothing after the greeting, writing the
 * SSLRequest and the ClientHello in ONE write, so they share a TCP segment.
 */
export function tlsWithCoalescedSslRequest(
  socket: net.Socket,
  ca: Buffer,
  options: tls.ConnectionOptions = {},
): Promise<tls.TLSSocket> {
  let first = true;
  const duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      socket.write(first ? Buffer.concat([SSL_REQUEST, chunk]) : chunk);
      first = false;
      callback();
    },
    final(callback) {
      socket.end();
      callback();
    },
  });
  socket.on('data', (chunk) => duplex.push(chunk));
  socket.on('end', () => duplex.push(null));
  socket.resume();
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket: duplex, ca, servername: 'localhost', ...options }, () =>
      resolve(secure),
    );
    secure.once('error', reject);
  });
}

/** A connection attributes field built by hand: any bytes, invalid UTF-8 included. */
export function attributesField(pairs: Array<[string | Buffer, string | Buffer]>): Buffer {
  const lenenc = (value: Buffer): Buffer => {
    if (value.length >= 0xfb) throw new RangeError('short attributes only');
    return Buffer.concat([Buffer.from([value.length]), value]);
  };
  const bytes = (value: string | Buffer): Buffer => (typeof value === 'string' ? Buffer.from(value) : value);
  const block = Buffer.concat(pairs.flatMap(([k, v]) => [lenenc(bytes(k)), lenenc(bytes(v))]));
  return Buffer.concat([lenenc(block).subarray(0, 1), block]);
}

/**
 * A raw TLS login through the proxy: greeting, SSLRequest + TLS, then `login(greetingPayload)` as
 * the HandshakeResponse (sequence id 2). Resolves with the TLS socket, the greeting payload, the
 * server's first answer, and close() for both sockets.
 */
export async function rawTlsLogin(
  port: number,
  ca: Buffer,
  login: (greeting: Buffer) => Buffer,
): Promise<{ secure: tls.TLSSocket; greeting: Buffer; answer: RawPacket; close(): void }> {
  const socket = await connectRaw(port);
  const greeting = (await readPacket(socket)).payload;
  const secure = await tlsWithCoalescedSslRequest(socket, ca);
  const payload = login(greeting);
  const header = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, payload.length >> 16, 2]);
  secure.write(Buffer.concat([header, payload]));
  const close = () => {
    secure.destroy();
    socket.destroy(); // TLS runs over a Duplex wrapping it: destroying TLS leaves the socket open
  };
  return { secure, greeting, answer: await readPacket(secure), close };
}
