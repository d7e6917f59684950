/**
 * A scripted MySQL 8 authentication peer for caching_sha2_password, because no MySQL 8 server can
 * be installed here (Debian ships only MariaDB, which has no caching_sha2_password, and there is no
 * Docker engine). It follows the exchanges documented at
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
 * byte for byte: fast auth from a warm cache; full auth with the RSA public key on an insecure
 * connection, or with the clear password over TLS (`tls`); and (`tidb`) TiDB's behaviour of
 * accepting the clear password on any connection. With `userPlugin: 'sha256_password'` the account
 * uses sha256_password instead, as documented at
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_authentication_methods_sha256_password_authentication.html
 * (no cache: every login is a full one), reached by an AuthSwitchRequest unless the server's default
 * plugin (`defaultPlugin`, in the greeting) is sha256_password too. `nativeUser` is a second account
 * (same password) with mysql_native_password, for sessions that log in without SHA-256 and
 * COM_CHANGE_USER to the SHA-256 account later. `LOAD DATA LOCAL ...` queries ask for the file
 * (0xFB) and read it to the empty packet, as MySQL does:
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response_local_infile_request.html
 */
import crypto from 'crypto';
import * as net from 'net';
import * as tls from 'tls';
import { encodeAuthSwitchRequest } from '../../src/protocol/auth-packets';
import { Capability } from '../../src/protocol/capabilities';
import { encodeErrPacket } from '../../src/protocol/err-packet';
import { encodeGreeting } from '../../src/protocol/greeting';
import { parseHandshakeResponse } from '../../src/protocol/handshake-response';
import { encodePacket, PacketReader, type Packet } from '../../src/protocol/packet';
import { isSslRequest } from '../../src/protocol/ssl-request';

export interface FakeMysql8 {
  port: number;
  /** What happened per login: 'fast', 'rsa', 'clear-tls', 'clear' (TiDB) or 'denied'. */
  logins: string[];
  /** How each sha256_password exchange began: 'login' (in the HandshakeResponse) or 'switch'. */
  sha256Starts: string[];
  /** Packets that reached the server over a plain (non-TLS) socket carrying the clear password. */
  clearOnPlain: number;
  /** Per LOAD DATA LOCAL: the file's packets (bytes, how many, how many began with 0x11). */
  uploads: Array<{ bytes: number; packets: number; starting0x11: number }>;
  /** Empties the auth cache, as FLUSH PRIVILEGES does: the next caching_sha2_password login is a full one. */
  flushCache(): void;
  close(): Promise<void>;
}

export interface FakeMysql8Options {
  user: string;
  password: string;
  tidb?: boolean;
  /** Offer TLS (CLIENT_SSL) with this certificate and key. */
  tls?: { cert: Buffer; key: Buffer };
  /** The server's default auth plugin, named in the greeting. */
  defaultPlugin?: 'caching_sha2_password' | 'sha256_password' | 'mysql_native_password';
  /** The account's auth plugin. */
  userPlugin?: 'caching_sha2_password' | 'sha256_password' | 'mysql_clear_password';
  /** A second account, with the same password, that authenticates with mysql_native_password. */
  nativeUser?: string;
}

const OK = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
const sha256 = (data: Buffer): Buffer => crypto.createHash('sha256').update(data).digest();

const sha1 = (...parts: Buffer[]): Buffer => {
  const hash = crypto.createHash('sha1');
  parts.forEach((part) => hash.update(part));
  return hash.digest();
};

/** mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))). */
function nativeAnswer(password: string, scramble: Buffer): Buffer {
  const stage1 = sha1(Buffer.from(password));
  const mask = sha1(scramble, sha1(stage1));
  return Buffer.from(stage1.map((b, i) => b ^ mask[i]));
}

/** OK with `affected` rows (int<lenenc> below 251 only: the uploads here count packets). */
function okPacket(affected = 0): Buffer {
  if (affected > 250) return OK;
  return Buffer.from([0x00, affected, 0x00, 0x02, 0x00, 0x00, 0x00]);
}

/** The client's fast-auth answer: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble). */
function fastAuthAnswer(password: string, scramble: Buffer): Buffer {
  const pw = Buffer.from(password);
  const mask = sha256(Buffer.concat([sha256(sha256(pw)), scramble]));
  return Buffer.from(sha256(pw).map((b, i) => b ^ mask[i]));
}

export async function startFakeMysql8(options: FakeMysql8Options): Promise<FakeMysql8> {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const cached = new Set<string>(); // users whose password is in the server's auth cache
  const logins: string[] = [];
  const sha256Starts: string[] = [];
  const uploads: FakeMysql8['uploads'] = [];
  let clearOnPlain = 0;
  const clearBytes = Buffer.from(options.password);
  const sockets = new Set<net.Socket>();
  const clearPassword = Buffer.from(`${options.password}\0`);

  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    let socket: net.Socket = raw;
    let secure = false;
    const newScramble = (): Buffer => Buffer.from(crypto.randomBytes(20).map((b) => (b % 94) + 33)); // printable, no NUL
    let scramble = newScramble();
    const reader = new PacketReader(1 << 24);
    let step:
      'response' | 'keyRequest' | 'encrypted' | 'clear' | 'sha256' | 'sha2Switched' | 'command' | 'upload' =
      'response';
    let upload = { bytes: 0, packets: 0, starting0x11: 0 };
    const send = (payload: Buffer, seq: number): void => void socket.write(encodePacket(payload, seq));
    const deny = (seq: number): void => {
      logins.push('denied');
      const err = encodeErrPacket({
        code: 1045,
        sqlState: '28000',
        message: `Access denied for user '${options.user}'`,
      });
      socket.end(encodePacket(err, seq));
    };

    const onPacket = ({ payload, sequenceId: seq }: Packet): void => {
      if (!secure && step !== 'upload' && payload.includes(clearBytes)) clearOnPlain++;
      if (step === 'upload') return onUpload(payload, seq);
      if (step === 'response' && options.tls && !secure && isSslRequest(payload)) {
        // SSLRequest: the TLS handshake starts on the next byte (maybe already read).
        socket.off('data', onData);
        raw.pause(); // else an unshifted chunk is emitted to nobody before TLS reads it
        const early = reader.drain();
        if (early.length > 0) raw.unshift(early);
        const tlsSocket = new tls.TLSSocket(raw, {
          isServer: true,
          cert: options.tls.cert,
          key: options.tls.key,
        });
        tlsSocket.on('error', () => undefined);
        tlsSocket.on('data', onData);
        socket = tlsSocket;
        secure = true;
        return;
      }
      if (step === 'response') {
        const response = parseHandshakeResponse(payload);
        if (options.nativeUser && response.username.toString() === options.nativeUser) {
          const ok = response.authResponse.equals(nativeAnswer(options.password, scramble));
          if (!ok) return deny(seq + 1);
          logins.push('native');
          send(OK, seq + 1);
          step = 'command';
          return;
        }
        if (response.username.toString() !== options.user) {
          // e.g. the proxy's readiness probe, which logs in as a user that does not exist
          const err = encodeErrPacket({ code: 1045, sqlState: '28000', message: 'Access denied' });
          socket.end(encodePacket(err, seq + 1));
          return;
        }
        if (options.userPlugin === 'mysql_clear_password') {
          // A PAM/LDAP-style account: the server asks for the password itself, unhashed.
          send(encodeAuthSwitchRequest('mysql_clear_password', Buffer.alloc(0)), seq + 1);
          step = 'clear';
          return;
        }
        if (options.userPlugin === 'sha256_password') {
          if (response.authPluginName === 'sha256_password') {
            sha256Starts.push('login');
            return sha256Answer(response.authResponse, seq);
          }
          sha256Starts.push('switch');
          send(encodeAuthSwitchRequest('sha256_password', scramble), seq + 1);
          step = 'sha256';
          return;
        }
        cachingSha2Answer(response.authResponse, seq);
      } else if (step === 'sha2Switched') {
        cachingSha2Answer(payload, seq);
      } else if (step === 'sha256') {
        sha256Answer(payload, seq);
      } else if (step === 'clear') {
        // Over TLS (or on TiDB, always): the clear password with its NUL.
        if (!payload.equals(clearPassword)) return deny(seq + 1);
        if (!options.tidb) cached.add(options.user); // TiDB forces full authentication every time
        logins.push(options.tidb ? 'clear' : 'clear-tls');
        send(OK, seq + 1);
        step = 'command';
      } else if (step === 'keyRequest') {
        // MySQL on an insecure connection: a clear password is refused, a key request answered.
        if (!payload.equals(Buffer.from([0x02]))) return deny(seq + 1);
        send(Buffer.concat([Buffer.from([0x01]), publicPem]), seq + 1);
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
        if (!clear.equals(clearPassword)) return deny(seq + 1);
        cached.add(options.user);
        logins.push('rsa');
        send(OK, seq + 1);
        step = 'command';
      } else if (payload[0] === 0x01) {
        socket.end(); // COM_QUIT
      } else if (payload[0] === 0x03 && payload.toString('latin1', 1, 16) === 'LOAD DATA LOCAL') {
        send(Buffer.concat([Buffer.from([0xfb]), Buffer.from('upload.txt')]), seq + 1);
        upload = { bytes: 0, packets: 0, starting0x11: 0 };
        step = 'upload';
      } else if (payload[0] === 0x11) {
        // COM_CHANGE_USER: the client's auth data is for the old scramble and (mysql2) another
        // plugin, so the account's plugin is switched to with a fresh scramble, as MySQL 8 does.
        const userEnd = payload.indexOf(0, 1);
        if (payload.toString('utf8', 1, userEnd) !== options.user) return deny(seq + 1);
        scramble = newScramble();
        const sha256 = options.userPlugin === 'sha256_password';
        if (sha256) sha256Starts.push('switch');
        send(
          encodeAuthSwitchRequest(sha256 ? 'sha256_password' : 'caching_sha2_password', scramble),
          seq + 1,
        );
        step = sha256 ? 'sha256' : 'sha2Switched';
      } else {
        send(OK, 1); // any command: OK
      }
    };
    /** A LOAD DATA LOCAL file, packet by packet, until the empty packet. */
    const onUpload = (payload: Buffer, seq: number): void => {
      if (payload.length > 0) {
        upload.bytes += payload.length;
        upload.packets++;
        if (payload[0] === 0x11) upload.starting0x11++;
        return;
      }
      uploads.push(upload);
      send(okPacket(upload.packets), seq + 1);
      step = 'command';
    };
    /** caching_sha2_password's first answer: fast auth from the cache, else full authentication. */
    const cachingSha2Answer = (data: Buffer, seq: number): void => {
      if (cached.has(options.user) && data.equals(fastAuthAnswer(options.password, scramble))) {
        logins.push('fast');
        send(Buffer.from([0x01, 0x03]), seq + 1);
        send(OK, seq + 2);
        step = 'command';
      } else {
        send(Buffer.from([0x01, 0x04]), seq + 1);
        step = options.tidb || secure ? 'clear' : 'keyRequest';
      }
    };
    /** sha256_password's first answer: a key request, an empty password, or the clear one over TLS. */
    const sha256Answer = (data: Buffer, seq: number): void => {
      if (data.equals(Buffer.from([0x01]))) {
        send(Buffer.concat([Buffer.from([0x01]), publicPem]), seq + 1);
        step = 'encrypted';
      } else if (secure && data.equals(clearPassword)) {
        logins.push('clear-tls');
        send(OK, seq + 1);
        step = 'command';
      } else {
        deny(seq + 1); // a clear password on an insecure connection is refused
      }
    };
    const onData = (chunk: Buffer): void => {
      reader.push(chunk);
      for (let packet = reader.read(); packet; packet = reader.read()) onPacket(packet);
    };
    raw.on('data', onData);

    send(
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
          Capability.DEPRECATE_EOF |
          (options.tls ? Capability.SSL : 0),
        characterSet: 255,
        statusFlags: 2,
        reserved: Buffer.alloc(10),
        authPluginName: options.defaultPlugin ?? 'caching_sha2_password',
      }),
      0,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    logins,
    sha256Starts,
    get clearOnPlain() {
      return clearOnPlain;
    },
    uploads,
    flushCache: () => cached.clear(),
    close: () =>
      new Promise((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}
