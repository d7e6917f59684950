import { Capability, hasCapability } from './capabilities';
import { MalformedPacketError, PayloadReader } from './reader';

/**
 * Protocol::SSLRequest: the first 32 bytes of a HandshakeResponse41, sent in clear with
 * CLIENT_SSL set; the TLS handshake starts on the very next byte.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_ssl_request.html
 * MariaDB puts its extended capabilities in the last 4 filler bytes.
 */
export const SSL_REQUEST_LENGTH = 32;

export interface SslRequest {
  capabilities: number;
  maxPacketSize: number;
  characterSet: number;
  /** The 23 filler bytes as sent (MariaDB extended capabilities in the last 4). */
  filler: Buffer;
}

/** True when a client's first packet asks for TLS rather than being a HandshakeResponse. */
export function isSslRequest(payload: Buffer): boolean {
  return payload.length === SSL_REQUEST_LENGTH && hasCapability(payload.readUInt32LE(0), Capability.SSL);
}

export function parseSslRequest(payload: Buffer): SslRequest {
  if (payload.length !== SSL_REQUEST_LENGTH) {
    throw new MalformedPacketError(`SSLRequest must be ${SSL_REQUEST_LENGTH} bytes, got ${payload.length}`);
  }
  const r = new PayloadReader(payload);
  const capabilities = r.u32('capability flags');
  if (!hasCapability(capabilities, Capability.SSL))
    throw new MalformedPacketError('SSLRequest without CLIENT_SSL');
  if (!hasCapability(capabilities, Capability.PROTOCOL_41)) {
    throw new MalformedPacketError(
      'SSLRequest without CLIENT_PROTOCOL_41 (pre-4.1 clients are not supported)',
    );
  }
  return {
    capabilities,
    maxPacketSize: r.u32('max packet size'),
    characterSet: r.u8('character set'),
    filler: Buffer.from(r.bytes(23, 'filler')),
  };
}

export function encodeSslRequest(request: SslRequest): Buffer {
  const out = Buffer.alloc(SSL_REQUEST_LENGTH);
  out.writeUInt32LE(request.capabilities >>> 0, 0);
  out.writeUInt32LE(request.maxPacketSize >>> 0, 4);
  out[8] = request.characterSet;
  request.filler.copy(out, 9, 0, 23);
  return out;
}
