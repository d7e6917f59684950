/**
 * Our own TLS 1.2 ClientHello (offering DEFLATE compression, a broad cipher list, no session
 * ticket) and the server's first flight read in clear: what Node's TLS client cannot tell us.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import {
  COMPRESSION_DEFLATE,
  COMPRESSION_NULL,
  encodeClientHello,
  EXT_EC_POINT_FORMATS,
  EXT_RENEGOTIATION_INFO,
  EXT_SIGNATURE_ALGORITHMS,
  EXT_SUPPORTED_GROUPS,
  listExtension,
  parseServerFlight,
  serverNameExtension,
  type ServerFlight,
} from '../protocol';
import { openForTls, ProbeError, type ProbeTarget } from './mysql-tls';

// ECDHE/DHE/RSA with AES-GCM, ChaCha20, AES-CBC and 3DES: any server that speaks TLS 1.2 picks one.
const CIPHER_SUITES = [
  0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009e, 0x009f, 0xccaa, 0xc023, 0xc027, 0xc009, 0xc013,
  0xc024, 0xc028, 0xc00a, 0xc014, 0x0067, 0x0033, 0x006b, 0x0039, 0x009c, 0x009d, 0x003c, 0x003d, 0x002f,
  0x0035, 0xc012, 0x000a, 0x0016,
];
// x25519, secp256r1, secp384r1, secp521r1, ffdhe2048
const GROUPS = [0x001d, 0x0017, 0x0018, 0x0019, 0x0100];
const SIGNATURE_ALGORITHMS = [
  0x0403, 0x0503, 0x0603, 0x0807, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201,
];
const MAX_FLIGHT_BYTES = 256 * 1024;

export interface FirstFlight {
  /** The compression method the server chose when DEFLATE was offered. */
  compression: 'none' | 'deflate' | `method ${number}`;
  /** A non-empty session id: the server keeps a session cache (stateful resumption). */
  sessionIdOffered: boolean;
  /** RFC 5746 renegotiation_info in the ServerHello. */
  secureRenegotiation: boolean;
  /** DER certificates exactly as sent, in the server's order. */
  certificates: Buffer[];
}

export function clientHello(serverName: string): Buffer {
  const extensions = [
    listExtension(EXT_SUPPORTED_GROUPS, GROUPS, 2),
    listExtension(EXT_EC_POINT_FORMATS, [0], 1),
    listExtension(EXT_SIGNATURE_ALGORITHMS, SIGNATURE_ALGORITHMS, 2),
    { type: EXT_RENEGOTIATION_INFO, data: Buffer.from([0]) },
  ];
  if (!net.isIP(serverName)) extensions.unshift(serverNameExtension(serverName));
  return encodeClientHello({
    random: randomBytes(32),
    cipherSuites: CIPHER_SUITES,
    compressionMethods: [COMPRESSION_DEFLATE, COMPRESSION_NULL],
    extensions,
  });
}

function readFlight(socket: net.Socket, timeoutMs: number): Promise<ServerFlight> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const timer = setTimeout(
      () => done(new ProbeError({ kind: 'timeout', reason: `no ServerHello within ${timeoutMs} ms` })),
      timeoutMs,
    );
    const done = (error?: Error, flight?: ServerFlight): void => {
      clearTimeout(timer);
      socket.destroy();
      if (flight) resolve(flight);
      else reject(error);
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      try {
        const flight = parseServerFlight(received);
        if (flight) return done(undefined, flight);
        if (received.length > MAX_FLIGHT_BYTES) throw new Error('first flight larger than 256 KiB');
      } catch (error) {
        done(new ProbeError({ kind: 'other', reason: `not TLS: ${(error as Error).message}` }));
      }
    });
    socket.on('error', (error) => done(new ProbeError({ kind: 'closed', reason: error.message })));
    socket.on('end', () => done(new ProbeError({ kind: 'closed', reason: 'closed before ServerHello' })));
    socket.resume();
  });
}

const ALERT_NAMES: Record<number, string> = {
  40: 'handshake_failure',
  70: 'protocol_version',
  47: 'illegal_parameter',
};

/** Rejects with a ProbeError when the server refuses a TLS 1.2 ClientHello. */
export async function probeFirstFlight(target: ProbeTarget): Promise<FirstFlight> {
  const { socket } = await openForTls(target);
  socket.write(clientHello(target.serverName));
  const flight = await readFlight(socket, target.timeoutMs);
  if (!flight.serverHello) {
    const description = flight.alert?.description ?? 0;
    throw new ProbeError({ kind: 'tls_alert', reason: ALERT_NAMES[description] ?? `alert ${description}` });
  }
  const hello = flight.serverHello;
  const method = hello.compressionMethod;
  return {
    compression:
      method === COMPRESSION_NULL ? 'none' : method === COMPRESSION_DEFLATE ? 'deflate' : `method ${method}`,
    sessionIdOffered: hello.sessionId.length > 0,
    secureRenegotiation: hello.extensionTypes.includes(EXT_RENEGOTIATION_INFO),
    certificates: flight.certificates ?? [],
  };
}
