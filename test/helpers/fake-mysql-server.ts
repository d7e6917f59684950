/**
 * A scripted MySQL server for the bench client's tests (and the check command's weak endpoint):
 * greeting with CLIENT_SSL, in-band TLS on the same socket, then one of several login behaviours,
 * checked with the server-side formulas (independent of the client's code), a one-row result set
 * for any COM_QUERY, and COM_QUIT.
 */
import { createHash } from 'crypto';
import * as net from 'net';
import * as tls from 'tls';
import {
  Capability,
  encodeGreeting,
  encodeOkPacket,
  encodePacket,
  PacketReader,
  parseCommand,
} from '../../src/protocol';

export type LoginBehaviour =
  | 'native' // mysql_native_password in the greeting, accepted directly
  | 'sha2-fast' // caching_sha2_password, 0x01 0x03 then OK
  | 'sha2-full' // caching_sha2_password, 0x01 0x04, expects the password + NUL, then OK
  | 'switch-to-native' // caching_sha2_password greeting, AuthSwitchRequest to mysql_native_password
  | 'deny'; // ERR 1045

export interface FakeServerOptions {
  login: LoginBehaviour;
  password: string;
  tls: tls.SecureContextOptions;
  /** Advertise CLIENT_SSL (default true). */
  advertiseTls?: boolean;
}

export interface FakeServer {
  port: number;
  /** What happened, per connection: 'tls', 'login-ok', 'login-denied', 'query', 'quit', 'bad-scramble'. */
  events: string[];
  close(): Promise<void>;
}

const sha1 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha1')).digest();
const sha256 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((x, i) => x ^ b[i]));

/** Server-side check of mysql_native_password: SHA1(response XOR SHA1(nonce + stored)) == stored. */
function nativeOk(response: Buffer, nonce: Buffer, password: string): boolean {
  const stored = sha1(sha1(Buffer.from(password)));
  if (response.length !== 20) return false;
  return sha1(xor(response, sha1(nonce, stored))).equals(stored);
}

/** Server-side check of caching_sha2_password's scramble against SHA256(SHA256(password)). */
function sha2Ok(response: Buffer, nonce: Buffer, password: string): boolean {
  const stored = sha256(sha256(Buffer.from(password)));
  if (response.length !== 32) return false;
  return sha256(xor(response, sha256(stored, nonce))).equals(stored);
}

/** The auth response field of a HandshakeResponse41 with PLUGIN_AUTH_LENENC_CLIENT_DATA (< 251 bytes). */
function authResponseOf(payload: Buffer): Buffer {
  const userEnd = payload.indexOf(0, 32);
  const length = payload[userEnd + 1];
  return payload.subarray(userEnd + 2, userEnd + 2 + length);
}

export async function startFakeServer(options: FakeServerOptions): Promise<FakeServer> {
  const events: string[] = [];
  const context = tls.createSecureContext(options.tls);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const nonce = Buffer.from('0123456789abcdefghij');
    const sha2 = options.login !== 'native';
    let caps =
      Capability.LONG_PASSWORD |
      Capability.PROTOCOL_41 |
      Capability.SECURE_CONNECTION |
      Capability.PLUGIN_AUTH |
      Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
      Capability.DEPRECATE_EOF |
      Capability.TRANSACTIONS;
    if (options.advertiseTls !== false) caps |= Capability.SSL;
    const greeting = encodeGreeting({
      protocolVersion: 10,
      serverVersion: '8.0.99-fake',
      connectionId: 7,
      authPluginData: nonce,
      capabilities: caps >>> 0,
      characterSet: 45,
      statusFlags: 2,
      reserved: Buffer.alloc(10),
      authPluginName: sha2 ? 'caching_sha2_password' : 'mysql_native_password',
    });
    socket.write(encodePacket(greeting, 0));
    const plain = new PacketReader(1 << 20);
    const onPlain = (chunk: Buffer) => {
      plain.push(chunk);
      const request = plain.read();
      if (!request) return;
      socket.pause();
      socket.off('data', onPlain);
      // The ClientHello may have arrived in the same read as the SSLRequest: give it back to
      // the socket, where TLSSocket picks up buffered bytes.
      const rest = plain.drain();
      if (rest.length > 0) socket.unshift(rest);
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
      secure.on('error', () => undefined);
      secure.on('secure', () => events.push('tls'));
      const reader = new PacketReader(1 << 20);
      let step = 0;
      let deprecateEof = false;
      secure.on('data', (data: Buffer) => {
        reader.push(data);
        for (let packet = reader.read(); packet; packet = reader.read()) {
          const { payload, sequenceId } = packet;
          const reply = (body: Buffer) => secure.write(encodePacket(body, sequenceId + 1));
          const ok = encodeOkPacket();
          if (step === 0) {
            step = 1;
            deprecateEof = (payload.readUInt32LE(0) & Capability.DEPRECATE_EOF) !== 0;
            const response = authResponseOf(payload);
            if (options.login === 'deny') {
              events.push('login-denied');
              reply(
                Buffer.concat([
                  Buffer.from([0xff, 0x15, 0x04]),
                  Buffer.from("#28000Access denied for user 'x'"),
                ]),
              );
              secure.end();
              return;
            }
            if (options.login === 'switch-to-native') {
              reply(
                Buffer.concat([
                  Buffer.from([0xfe]),
                  Buffer.from('mysql_native_password\0'),
                  nonce,
                  Buffer.from([0]),
                ]),
              );
              continue;
            }
            const good = sha2
              ? sha2Ok(response, nonce, options.password)
              : nativeOk(response, nonce, options.password);
            if (!good) {
              events.push('bad-scramble');
              secure.destroy();
              return;
            }
            if (options.login === 'sha2-full') {
              reply(Buffer.from([0x01, 0x04]));
              step = 2;
              continue;
            }
            if (options.login === 'sha2-fast') {
              secure.write(encodePacket(Buffer.from([0x01, 0x03]), sequenceId + 1));
              secure.write(encodePacket(ok, sequenceId + 2));
            } else reply(ok);
            events.push('login-ok');
          } else if (step === 1 && options.login === 'switch-to-native') {
            step = 3;
            if (!nativeOk(payload, nonce, options.password)) {
              events.push('bad-scramble');
              secure.destroy();
              return;
            }
            events.push('login-ok');
            reply(ok);
          } else if (step === 2) {
            step = 3;
            if (payload.toString() !== `${options.password}\0`) {
              events.push('bad-scramble');
              secure.destroy();
              return;
            }
            events.push('login-ok');
            reply(ok);
          } else if (parseCommand(payload).command === 'query') {
            events.push('query');
            const lenenc = (s: string) =>
              Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
            const column = Buffer.concat([
              lenenc('def'),
              lenenc(''),
              lenenc(''),
              lenenc(''),
              lenenc('answer'),
              lenenc(''),
              Buffer.from([0x0c, 45, 0, 11, 0, 0, 0, 3, 0, 0, 0, 0]),
            ]);
            const packets: Buffer[] = [Buffer.from([1]), column];
            if (!deprecateEof) packets.push(Buffer.from([0xfe, 0, 0, 2, 0]));
            packets.push(Buffer.concat([lenenc('42')]), Buffer.from([0xfb]));
            packets.push(deprecateEof ? encodeOkPacket({}, true) : Buffer.from([0xfe, 0, 0, 2, 0]));
            secure.write(Buffer.concat(packets.map((p, i) => encodePacket(p, i + 1))));
          } else if (parseCommand(payload).command === 'quit') {
            events.push('quit');
            secure.end();
          }
        }
      });
    };
    socket.on('data', onPlain);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    events,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}
