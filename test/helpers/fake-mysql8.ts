/**
 * A scripted MySQL 8 authentication peer for caching_sha2_password, because no MySQL 8 server can
 * be installed here (Debian ships only MariaDB, which has no caching_sha2_password, and there is no
 * Docker engine). It follows the exchanges documented at
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
 * byte for byte: fast auth from a warm cache, full auth with the RSA public key on an insecure
 * connection, and (tidb: true) TiDB's behaviour of accepting the clear password.
 */
import crypto from 'crypto';
import * as net from 'net';
import { Capability } from '../../src/protocol/capabilities';
import { encodeErrPacket } from '../../src/protocol/err-packet';
import { encodeGreeting } from '../../src/protocol/greeting';
import { parseHandshakeResponse } from '../../src/protocol/handshake-response';
import { encodePacket, PacketReader } from '../../src/protocol/packet';

export interface FakeMysql8 {
  port: number;
  /** What happened per login: 'fast', 'rsa', 'clear' (TiDB) or 'denied'. */
  logins: string[];
  close(): Promise<void>;
}

const OK = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);

export async function startFakeMysql8(options: {
  user: string;
  password: string;
  tidb?: boolean;
}): Promise<FakeMysql8> {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const cached = new Set<string>(); // users whose password is in the server's auth cache
  const logins: string[] = [];
  const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest();
  const sockets = new Set<net.Socket>();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const scramble = Buffer.from(crypto.randomBytes(20).map((b) => (b % 94) + 33)); // printable, no NUL
    const reader = new PacketReader(1 << 24);
    let step: 'response' | 'keyRequest' | 'encrypted' | 'clear' | 'command' = 'response';
    socket.write(
      encodePacket(
        encodeGreeting({
          protocolVersion: 10,
          serverVersion: options.tidb ? '8.0.11-TiDB-v7.5.0' : '8.0.36',
          connectionId: 7,
          authPluginData: scramble,
          capabilities:
            Capability.LONG_PASSWORD |
            Capability.PROTOCOL_41 |
            Capability.SECURE_CONNECTION |
            Capability.PLUGIN_AUTH |
            Capability.TRANSACTIONS |
            Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
            Capability.CONNECT_WITH_DB |
            Capability.DEPRECATE_EOF,
          characterSet: 255,
          statusFlags: 2,
          reserved: Buffer.alloc(10),
          authPluginName: 'caching_sha2_password',
        }),
        0,
      ),
    );
    const deny = (seq: number) => {
      logins.push('denied');
      socket.end(
        encodePacket(
          encodeErrPacket({
            code: 1045,
            sqlState: '28000',
            message: `Access denied for user '${options.user}'`,
          }),
          seq,
        ),
      );
    };
    socket.on('data', (chunk) => {
      reader.push(chunk);
      for (let packet = reader.read(); packet; packet = reader.read()) {
        const { payload, sequenceId: seq } = packet;
        if (step === 'response') {
          const response = parseHandshakeResponse(payload);
          if (response.username.toString() !== options.user) {
            // e.g. the proxy's readiness probe, which logs in as a user that does not exist
            socket.end(
              encodePacket(
                encodeErrPacket({ code: 1045, sqlState: '28000', message: 'Access denied' }),
                seq + 1,
              ),
            );
            return;
          }
          const pw = Buffer.from(options.password);
          const expected = Buffer.from(
            sha256(pw).map((b, i) => b ^ sha256(Buffer.concat([sha256(sha256(pw)), scramble]))[i]),
          );
          if (cached.has(options.user) && response.authResponse.equals(expected)) {
            logins.push('fast');
            socket.write(
              Buffer.concat([encodePacket(Buffer.from([0x01, 0x03]), seq + 1), encodePacket(OK, seq + 2)]),
            );
            step = 'command';
          } else {
            socket.write(encodePacket(Buffer.from([0x01, 0x04]), seq + 1));
            step = options.tidb ? 'clear' : 'keyRequest';
          }
        } else if (step === 'clear') {
          // TiDB: the clear password (with NUL), over any connection.
          if (!payload.equals(Buffer.from(`${options.password}\0`))) return deny(seq + 1);
          logins.push('clear');
          socket.write(encodePacket(OK, seq + 1));
          step = 'command';
        } else if (step === 'keyRequest') {
          // MySQL on an insecure connection: a clear password is refused, a key request answered.
          if (!payload.equals(Buffer.from([0x02]))) return deny(seq + 1);
          socket.write(encodePacket(Buffer.concat([Buffer.from([0x01]), publicPem]), seq + 1));
          step = 'encrypted';
        } else if (step === 'encrypted') {
          let mixed: Buffer;
          try {
            mixed = crypto.privateDecrypt(
              { key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING },
              payload,
            );
          } catch {
            return deny(seq + 1);
          }
          const clear = Buffer.from(mixed.map((b, i) => b ^ scramble[i % scramble.length]));
          if (!clear.equals(Buffer.from(`${options.password}\0`))) return deny(seq + 1);
          cached.add(options.user);
          logins.push('rsa');
          socket.write(encodePacket(OK, seq + 1));
          step = 'command';
        } else if (payload[0] === 0x01) {
          socket.end(); // COM_QUIT
        } else {
          socket.write(encodePacket(OK, 1)); // any command: OK
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    logins,
    close: () =>
      new Promise((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}
