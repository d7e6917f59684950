import { Capability, hasCapability } from './capabilities';
import { encodeLenencBytes, encodeLenencInt, MalformedPacketError, PayloadReader } from './reader';

/**
 * Protocol::HandshakeResponse41, the client's answer to the greeting (inside TLS when it sent an
 * SSLRequest first).
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_response.html
 * Trailing optional fields may be missing; older clients stop early, so parsing is lenient there.
 */
export interface HandshakeResponse {
  capabilities: number;
  maxPacketSize: number;
  characterSet: number;
  /** The 23 filler bytes (MariaDB extended capabilities in the last 4). */
  filler: Buffer;
  username: Buffer;
  /** Parsed: a view into the payload, so wiping the payload wipes it (it may be a clear password). */
  authResponse: Buffer;
  database?: Buffer;
  authPluginName?: string;
  /**
   * Connection attributes as key/value pairs, in order, as bytes: clients may send any bytes
   * (invalid UTF-8 included), and the proxy must compare and relay exactly those.
   */
  attributes?: Array<[Buffer, Buffer]>;
  zstdCompressionLevel?: number;
}

/** What encodeHandshakeResponse takes: attributes may be given as strings (UTF-8). */
export type HandshakeResponseFields = Omit<HandshakeResponse, 'attributes'> & {
  attributes?: Array<[Buffer | string, Buffer | string]>;
};

/** [start, end) byte offsets in the payload. */
export type Span = readonly [number, number];

/** Where the fields the proxy may rewrite sit in the client's payload (length prefixes included). */
export interface HandshakeResponseSpans {
  authResponse: Span;
  /**
   * The connection attributes block; when the client sent none, an empty span where it would go,
   * provided every field its capabilities announce before it is present. Undefined otherwise.
   */
  attributes?: Span;
}

export interface ParsedHandshakeResponse extends HandshakeResponse {
  spans: HandshakeResponseSpans;
}

export const HANDSHAKE_RESPONSE_FIXED_LENGTH = 32;

export function parseHandshakeResponse(payload: Buffer): ParsedHandshakeResponse {
  const r = new PayloadReader(payload);
  const capabilities = r.u32('capability flags');
  if (!hasCapability(capabilities, Capability.PROTOCOL_41)) {
    throw new MalformedPacketError(
      'HandshakeResponse without CLIENT_PROTOCOL_41 (pre-4.1 clients are not supported)',
    );
  }
  const maxPacketSize = r.u32('max packet size');
  const characterSet = r.u8('character set');
  const filler = Buffer.from(r.bytes(23, 'filler'));
  const username = Buffer.from(r.nulTerminated('username'));
  const authStart = r.offset;
  const authResponse = readAuthResponse(r, capabilities);
  const response: ParsedHandshakeResponse = {
    capabilities,
    maxPacketSize,
    characterSet,
    filler,
    username,
    authResponse,
    spans: { authResponse: [authStart, r.offset] },
  };
  // Each optional field is read only when announced and present; `complete` tracks whether every
  // announced field so far was there, i.e. whether attributes could be inserted at this offset.
  let complete = r.offset > authStart;
  if (hasCapability(capabilities, Capability.CONNECT_WITH_DB)) {
    if (r.remaining > 0) response.database = Buffer.from(r.nulTerminated('database'));
    else complete = false;
  }
  if (hasCapability(capabilities, Capability.PLUGIN_AUTH)) {
    if (r.remaining > 0) complete = readPluginName(r, response) && complete;
    else complete = false;
  }
  readAttributes(r, response, complete);
  if (hasCapability(capabilities, Capability.ZSTD_COMPRESSION_ALGORITHM) && r.remaining > 0) {
    response.zstdCompressionLevel = r.u8('zstd compression level');
  }
  return response;
}

/** The auth response in whichever of its three encodings the capabilities select (a view). */
function readAuthResponse(r: PayloadReader, capabilities: number): Buffer {
  if (r.remaining === 0) return Buffer.alloc(0);
  if (hasCapability(capabilities, Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
    return r.lenencBytes('auth response');
  }
  if (hasCapability(capabilities, Capability.SECURE_CONNECTION)) {
    return r.bytes(r.u8('auth response length'), 'auth response');
  }
  return r.nulTerminated('auth response');
}

/** Lenient, as servers are: a name without its NUL takes the rest. Returns whether the NUL was there. */
function readPluginName(r: PayloadReader, response: HandshakeResponse): boolean {
  const rest = r.buffer.subarray(r.offset);
  const nul = rest.indexOf(0);
  response.authPluginName = (nul >= 0 ? rest.subarray(0, nul) : rest).toString('latin1');
  r.offset += nul >= 0 ? nul + 1 : rest.length;
  return nul >= 0;
}

function readAttributes(r: PayloadReader, response: ParsedHandshakeResponse, complete: boolean): void {
  const start = r.offset;
  if (!hasCapability(response.capabilities, Capability.CONNECT_ATTRS) || r.remaining === 0) {
    if (complete) response.spans.attributes = [start, start];
    return;
  }
  response.attributes = parseAttributes(r.lenencBytes('connection attributes'));
  response.spans.attributes = [start, r.offset];
}

/** The key/value pairs of a connection attributes block (without its length prefix), as views. */
export function parseAttributes(block: Buffer): Array<[Buffer, Buffer]> {
  const reader = new PayloadReader(block);
  const attributes: Array<[Buffer, Buffer]> = [];
  while (reader.remaining > 0) {
    const key = reader.lenencBytes('attribute name');
    attributes.push([key, reader.lenencBytes('attribute value')]);
  }
  return attributes;
}

/** A connection attributes field: the block's length, then each key and value as string<lenenc>. */
export function encodeAttributes(attributes: Array<[Buffer | string, Buffer | string]>): Buffer {
  const bytes = (v: Buffer | string): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);
  const block = Buffer.concat(
    attributes.flatMap(([k, v]) => [encodeLenencBytes(bytes(k)), encodeLenencBytes(bytes(v))]),
  );
  return Buffer.concat([encodeLenencInt(block.length), block]);
}

/** The auth response field in the encoding `capabilities` select. */
export function encodeAuthResponse(capabilities: number, authResponse: Buffer): Buffer {
  if (hasCapability(capabilities, Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
    return encodeLenencBytes(authResponse);
  }
  if (hasCapability(capabilities, Capability.SECURE_CONNECTION)) {
    if (authResponse.length > 255) throw new RangeError('auth response longer than 255 bytes');
    return Buffer.concat([Buffer.from([authResponse.length]), authResponse]);
  }
  return Buffer.concat([authResponse, Buffer.from([0])]);
}

export function encodeHandshakeResponse(response: HandshakeResponseFields): Buffer {
  const caps = response.capabilities >>> 0;
  const fixed = Buffer.alloc(HANDSHAKE_RESPONSE_FIXED_LENGTH);
  fixed.writeUInt32LE(caps, 0);
  fixed.writeUInt32LE(response.maxPacketSize >>> 0, 4);
  fixed[8] = response.characterSet;
  response.filler.copy(fixed, 9, 0, 23);
  const parts: Buffer[] = [fixed, response.username, Buffer.from([0])];
  parts.push(encodeAuthResponse(caps, response.authResponse));
  if (hasCapability(caps, Capability.CONNECT_WITH_DB) && response.database) {
    parts.push(response.database, Buffer.from([0]));
  }
  if (hasCapability(caps, Capability.PLUGIN_AUTH) && response.authPluginName !== undefined) {
    parts.push(Buffer.from(response.authPluginName + '\0', 'latin1'));
  }
  if (hasCapability(caps, Capability.CONNECT_ATTRS) && response.attributes) {
    parts.push(encodeAttributes(response.attributes));
  }
  if (
    hasCapability(caps, Capability.ZSTD_COMPRESSION_ALGORITHM) &&
    response.zstdCompressionLevel !== undefined
  ) {
    parts.push(Buffer.from([response.zstdCompressionLevel]));
  }
  return Buffer.concat(parts);
}

export interface HandshakeResponseChanges {
  capabilities?: number;
  /** A new auth response, written in the encoding the client used. */
  authResponse?: Buffer;
  /** New connection attributes, in place of the client's (or where they would go). */
  attributes?: Array<[Buffer, Buffer]>;
}

/**
 * The client's HandshakeResponse with only the given fields replaced, byte for byte around them:
 * everything else (unknown trailing bytes, bytes that would not re-encode) is relayed as it came.
 * Relay, don't rebuild. Throws MalformedPacketError when attributes cannot be placed (see spans).
 */
export function spliceHandshakeResponse(
  payload: Buffer,
  spans: HandshakeResponseSpans,
  changes: HandshakeResponseChanges,
): Buffer {
  const capabilities = changes.capabilities ?? payload.readUInt32LE(0);
  const [authStart, authEnd] = spans.authResponse;
  const attributesSpan = changes.attributes ? spans.attributes : [payload.length, payload.length];
  if (!attributesSpan) throw new MalformedPacketError('no place for connection attributes in the login');
  const [attrStart, attrEnd] = attributesSpan;
  const head = Buffer.from(payload.subarray(0, authStart));
  head.writeUInt32LE(capabilities >>> 0, 0);
  const auth = changes.authResponse
    ? encodeAuthResponse(payload.readUInt32LE(0), changes.authResponse)
    : payload.subarray(authStart, authEnd);
  const attributes = changes.attributes ? encodeAttributes(changes.attributes) : Buffer.alloc(0);
  return Buffer.concat([
    head,
    auth,
    payload.subarray(authEnd, attrStart),
    attributes,
    payload.subarray(attrEnd),
  ]);
}

/**
 * The user name only, without decoding anything after it (auth data is never copied for logging).
 * Returns undefined when the payload is too short to hold one.
 */
export function peekUsername(payload: Buffer): string | undefined {
  if (payload.length <= HANDSHAKE_RESPONSE_FIXED_LENGTH) return undefined;
  const end = payload.indexOf(0, HANDSHAKE_RESPONSE_FIXED_LENGTH);
  if (end < 0) return undefined;
  return payload.toString('utf8', HANDSHAKE_RESPONSE_FIXED_LENGTH, end);
}

/**
 * A HandshakeResponse (or SSLRequest) payload exactly as the client sent it, with only the
 * capability flags changed. Relay, don't rebuild: auth data and attributes are untouched.
 */
export function withClientCapabilities(payload: Buffer, capabilities: number): Buffer {
  if (payload.length < 4) throw new MalformedPacketError('payload too short for capability flags');
  const out = Buffer.from(payload);
  out.writeUInt32LE(capabilities >>> 0, 0);
  return out;
}
