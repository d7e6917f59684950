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
  authResponse: Buffer;
  database?: Buffer;
  authPluginName?: string;
  /** Connection attributes as key/value pairs, in order. */
  attributes?: Array<[string, string]>;
  zstdCompressionLevel?: number;
}

export const HANDSHAKE_RESPONSE_FIXED_LENGTH = 32;

export function parseHandshakeResponse(payload: Buffer): HandshakeResponse {
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
  let authResponse: Buffer = Buffer.alloc(0);
  if (r.remaining > 0) {
    if (hasCapability(capabilities, Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
      authResponse = Buffer.from(r.lenencBytes('auth response'));
    } else if (hasCapability(capabilities, Capability.SECURE_CONNECTION)) {
      authResponse = Buffer.from(r.bytes(r.u8('auth response length'), 'auth response'));
    } else {
      authResponse = Buffer.from(r.nulTerminated('auth response'));
    }
  }
  const response: HandshakeResponse = {
    capabilities,
    maxPacketSize,
    characterSet,
    filler,
    username,
    authResponse,
  };
  if (hasCapability(capabilities, Capability.CONNECT_WITH_DB) && r.remaining > 0) {
    response.database = Buffer.from(r.nulTerminated('database'));
  }
  if (hasCapability(capabilities, Capability.PLUGIN_AUTH) && r.remaining > 0) {
    const rest = r.buffer.subarray(r.offset);
    const nul = rest.indexOf(0);
    response.authPluginName = (nul >= 0 ? rest.subarray(0, nul) : rest).toString('latin1');
    r.offset += nul >= 0 ? nul + 1 : rest.length;
  }
  if (hasCapability(capabilities, Capability.CONNECT_ATTRS) && r.remaining > 0) {
    const block = new PayloadReader(r.lenencBytes('connection attributes'));
    const attributes: Array<[string, string]> = [];
    while (block.remaining > 0) {
      const key = block.lenencBytes('attribute name').toString('utf8');
      const value = block.lenencBytes('attribute value').toString('utf8');
      attributes.push([key, value]);
    }
    response.attributes = attributes;
  }
  if (hasCapability(capabilities, Capability.ZSTD_COMPRESSION_ALGORITHM) && r.remaining > 0) {
    response.zstdCompressionLevel = r.u8('zstd compression level');
  }
  return response;
}

export function encodeHandshakeResponse(response: HandshakeResponse): Buffer {
  const caps = response.capabilities >>> 0;
  const fixed = Buffer.alloc(HANDSHAKE_RESPONSE_FIXED_LENGTH);
  fixed.writeUInt32LE(caps, 0);
  fixed.writeUInt32LE(response.maxPacketSize >>> 0, 4);
  fixed[8] = response.characterSet;
  response.filler.copy(fixed, 9, 0, 23);
  const parts: Buffer[] = [fixed, response.username, Buffer.from([0])];
  if (hasCapability(caps, Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
    parts.push(encodeLenencBytes(response.authResponse));
  } else if (hasCapability(caps, Capability.SECURE_CONNECTION)) {
    if (response.authResponse.length > 255) throw new RangeError('auth response longer than 255 bytes');
    parts.push(Buffer.from([response.authResponse.length]), response.authResponse);
  } else {
    parts.push(response.authResponse, Buffer.from([0]));
  }
  if (hasCapability(caps, Capability.CONNECT_WITH_DB) && response.database) {
    parts.push(response.database, Buffer.from([0]));
  }
  if (hasCapability(caps, Capability.PLUGIN_AUTH) && response.authPluginName !== undefined) {
    parts.push(Buffer.from(response.authPluginName + '\0', 'latin1'));
  }
  if (hasCapability(caps, Capability.CONNECT_ATTRS) && response.attributes) {
    const pairs = response.attributes.flatMap(([k, v]) => [
      encodeLenencBytes(Buffer.from(k, 'utf8')),
      encodeLenencBytes(Buffer.from(v, 'utf8')),
    ]);
    const block = Buffer.concat(pairs);
    parts.push(encodeLenencInt(block.length), block);
  }
  if (
    hasCapability(caps, Capability.ZSTD_COMPRESSION_ALGORITHM) &&
    response.zstdCompressionLevel !== undefined
  ) {
    parts.push(Buffer.from([response.zstdCompressionLevel]));
  }
  return Buffer.concat(parts);
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
