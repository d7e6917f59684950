/**
 * Just enough of TLS 1.2 record and handshake framing for `check` to send its own ClientHello and
 * read the server's first flight, which Node's TLS client hides: the compression method chosen
 * (RFC 5246 §7.4.1.2, CRIME), the session id (stateful resumption offered), the renegotiation_info
 * extension (RFC 5746) and the certificate chain exactly as sent, in the server's order.
 * Pure: bytes in, values out.
 */
import { MalformedPacketError, PayloadReader } from './reader';

const RECORD_HANDSHAKE = 22;
const RECORD_ALERT = 21;
const HANDSHAKE_CLIENT_HELLO = 1;
const HANDSHAKE_SERVER_HELLO = 2;
const HANDSHAKE_CERTIFICATE = 11;
const HANDSHAKE_SERVER_HELLO_DONE = 14;
const TLS12 = 0x0303;
export const COMPRESSION_NULL = 0;
export const COMPRESSION_DEFLATE = 1;
export const EXT_SERVER_NAME = 0x0000;
export const EXT_SUPPORTED_GROUPS = 0x000a;
export const EXT_EC_POINT_FORMATS = 0x000b;
export const EXT_SIGNATURE_ALGORITHMS = 0x000d;
export const EXT_SESSION_TICKET = 0x0023;
export const EXT_RENEGOTIATION_INFO = 0xff01;

export interface ClientHelloFields {
  random: Buffer;
  cipherSuites: number[];
  compressionMethods: number[];
  extensions: Array<{ type: number; data: Buffer }>;
}

export interface ServerHello {
  version: number;
  sessionId: Buffer;
  cipherSuite: number;
  compressionMethod: number;
  extensionTypes: number[];
}

/** What the first flight told: ServerHello and the Certificate message, or the alert instead. */
export interface ServerFlight {
  serverHello?: ServerHello;
  /** DER certificates in the order the server sent them. */
  certificates?: Buffer[];
  alert?: { level: number; description: number };
}

function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value);
  return out;
}

function vector16(body: Buffer): Buffer {
  return Buffer.concat([u16(body.length), body]);
}

export function serverNameExtension(name: string): { type: number; data: Buffer } {
  const host = Buffer.from(name, 'ascii');
  return { type: EXT_SERVER_NAME, data: vector16(Buffer.concat([Buffer.from([0]), vector16(host)])) };
}

export function listExtension(type: number, values: number[], width: 1 | 2): { type: number; data: Buffer } {
  const body = width === 1 ? Buffer.from(values) : Buffer.concat(values.map(u16));
  const data = width === 1 ? Buffer.concat([Buffer.from([body.length]), body]) : vector16(body);
  return { type, data };
}

/** A TLS 1.2 ClientHello inside one handshake record. */
export function encodeClientHello(fields: ClientHelloFields): Buffer {
  const extensions = Buffer.concat(
    fields.extensions.map((e) => Buffer.concat([u16(e.type), vector16(e.data)])),
  );
  const body = Buffer.concat([
    u16(TLS12),
    fields.random,
    Buffer.from([0]), // no session id: we are not resuming
    vector16(Buffer.concat(fields.cipherSuites.map(u16))),
    Buffer.from([fields.compressionMethods.length, ...fields.compressionMethods]),
    vector16(extensions),
  ]);
  const header = Buffer.from([HANDSHAKE_CLIENT_HELLO, 0, 0, 0]);
  header.writeUIntBE(body.length, 1, 3);
  const handshake = Buffer.concat([header, body]);
  return Buffer.concat([Buffer.from([RECORD_HANDSHAKE]), u16(0x0301), vector16(handshake)]);
}

export function parseServerHello(body: Buffer): ServerHello {
  const r = new PayloadReader(body);
  const version = (r.u8('version') << 8) | r.u8('version');
  r.bytes(32, 'random');
  const sessionId = Buffer.from(r.bytes(r.u8('session id length'), 'session id'));
  const cipherSuite = (r.u8('cipher') << 8) | r.u8('cipher');
  const compressionMethod = r.u8('compression method');
  const extensionTypes: number[] = [];
  if (r.remaining >= 2) {
    const ext = new PayloadReader(r.bytes((r.u8('ext') << 8) | r.u8('ext'), 'extensions'));
    while (ext.remaining >= 4) {
      extensionTypes.push((ext.u8('type') << 8) | ext.u8('type'));
      ext.bytes((ext.u8('len') << 8) | ext.u8('len'), 'extension data');
    }
  }
  return { version, sessionId, cipherSuite, compressionMethod, extensionTypes };
}

export function parseCertificateMessage(body: Buffer): Buffer[] {
  const r = new PayloadReader(body);
  const total = r.u8('length') * 65536 + r.u8('length') * 256 + r.u8('length');
  const list = new PayloadReader(r.bytes(total, 'certificate list'));
  const certificates: Buffer[] = [];
  while (list.remaining > 0) {
    const length = list.u8('length') * 65536 + list.u8('length') * 256 + list.u8('length');
    certificates.push(Buffer.from(list.bytes(length, 'certificate')));
  }
  return certificates;
}

/** Handshake messages concatenated from the handshake records of `data` (records may be partial). */
function handshakeBytes(data: Buffer): { messages: Buffer; alert?: ServerFlight['alert'] } {
  const parts: Buffer[] = [];
  for (let offset = 0; offset + 5 <= data.length;) {
    const type = data[offset];
    const length = data.readUInt16BE(offset + 3);
    if (type !== RECORD_HANDSHAKE && type !== RECORD_ALERT)
      throw new MalformedPacketError(`unexpected TLS record type ${type}`);
    if (offset + 5 + length > data.length) break;
    const fragment = data.subarray(offset + 5, offset + 5 + length);
    if (type === RECORD_ALERT) {
      return { messages: Buffer.concat(parts), alert: { level: fragment[0], description: fragment[1] } };
    }
    parts.push(fragment);
    offset += 5 + length;
  }
  return { messages: Buffer.concat(parts) };
}

/**
 * Reads the server's first flight from the bytes received so far. Returns undefined while the
 * ServerHello and Certificate (or an alert) are not complete yet.
 */
export function parseServerFlight(data: Buffer): ServerFlight | undefined {
  const { messages, alert } = handshakeBytes(data);
  const flight: ServerFlight = { alert };
  for (let offset = 0; offset + 4 <= messages.length;) {
    const type = messages[offset];
    const length = messages.readUIntBE(offset + 1, 3);
    if (offset + 4 + length > messages.length) break;
    const body = messages.subarray(offset + 4, offset + 4 + length);
    if (type === HANDSHAKE_SERVER_HELLO) flight.serverHello = parseServerHello(body);
    if (type === HANDSHAKE_CERTIFICATE) flight.certificates = parseCertificateMessage(body);
    if (type === HANDSHAKE_SERVER_HELLO_DONE) flight.certificates ??= []; // anonymous: no Certificate
    offset += 4 + length;
  }
  if (alert || (flight.serverHello && flight.certificates)) return flight;
  return undefined;
}
