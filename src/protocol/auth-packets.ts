import { MalformedPacketError } from './reader';

/**
 * Classifies the server's packets after the HandshakeResponse. The connection phase ends with an
 * OK (0x00) or an ERR (0xff); everything else (AuthSwitchRequest 0xfe, AuthMoreData 0x01, MariaDB
 * plugin data) continues the exchange.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 * https://mariadb.com/kb/en/connection/#authentication-switch-request
 */
export const OK_HEADER = 0x00;
export const AUTH_SWITCH_HEADER = 0xfe;
export const AUTH_MORE_DATA_HEADER = 0x01;

export type ServerAuthPacketKind = 'ok' | 'err' | 'auth-switch' | 'auth-more-data' | 'other';

export function classifyServerAuthPacket(payload: Buffer): ServerAuthPacketKind {
  if (payload.length === 0) return 'other';
  switch (payload[0]) {
    case OK_HEADER:
      return 'ok';
    case 0xff:
      return 'err';
    case AUTH_SWITCH_HEADER:
      return 'auth-switch';
    case AUTH_MORE_DATA_HEADER:
      return 'auth-more-data';
    default:
      return 'other';
  }
}

/**
 * An AuthSwitchRequest as MySQL sends it: 0xfe, the plugin name NUL, the plugin's data NUL (the
 * scramble for the SHA-256 plugins). parseAuthSwitchRequest reads it back.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_auth_switch_request.html
 */
export function encodeAuthSwitchRequest(plugin: string, data: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([AUTH_SWITCH_HEADER]),
    Buffer.from(`${plugin}\0`, 'latin1'),
    data,
    Buffer.from([0]),
  ]);
}

/** MySQL multi-factor authentication's AuthNextFactor header (same layout as an AuthSwitchRequest). */
export const AUTH_NEXT_FACTOR_HEADER = 0x02;

/** What an AuthSwitchRequest or AuthNextFactor says: the plugin to use next, and its data. */
export interface PluginRequest {
  plugin: string;
  /** The plugin's data (the scramble for the SHA-256 plugins), without MySQL's trailing NUL; a view. */
  data: Buffer;
}

/**
 * Reads an AuthSwitchRequest (0xfe, plugin NUL, data [NUL]). MariaDB sends the data without the
 * trailing NUL (client_ed25519's 32-byte nonce), MySQL with it: a final NUL is not data.
 * https://mariadb.com/kb/en/connection/#authentication-switch-request
 */
export function parseAuthSwitchRequest(payload: Buffer): PluginRequest {
  return parsePluginRequest(payload, AUTH_SWITCH_HEADER, 'AuthSwitchRequest');
}

/**
 * MySQL multi-factor authentication: AuthNextFactor (0x02, plugin NUL, data) starts the next
 * factor's plugin like an AuthSwitchRequest.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_auth_next_factor_request.html
 */
export function parseAuthNextFactor(payload: Buffer): PluginRequest {
  return parsePluginRequest(payload, AUTH_NEXT_FACTOR_HEADER, 'AuthNextFactor');
}

export function encodeAuthNextFactor(plugin: string, data: Buffer): Buffer {
  const payload = encodeAuthSwitchRequest(plugin, data);
  payload[0] = AUTH_NEXT_FACTOR_HEADER;
  return payload;
}

function parsePluginRequest(payload: Buffer, header: number, name: string): PluginRequest {
  if (payload[0] !== header) {
    throw new MalformedPacketError(`expected an ${name} (0x${header.toString(16)})`);
  }
  const nameEnd = payload.indexOf(0, 1);
  if (nameEnd <= 1) throw new MalformedPacketError(`${name} without a plugin name`);
  const data = payload.subarray(nameEnd + 1);
  return {
    plugin: payload.toString('latin1', 1, nameEnd),
    data: data.length > 0 && data[data.length - 1] === 0 ? data.subarray(0, -1) : data,
  };
}

/**
 * AuthMoreData (0x01, data): a plugin's extra round, e.g. caching_sha2_password's fast-auth result
 * or the server's RSA public key (PEM) the client asked for.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_auth_more_data.html
 */
export function parseAuthMoreData(payload: Buffer): Buffer {
  if (payload[0] !== AUTH_MORE_DATA_HEADER) throw new MalformedPacketError('expected AuthMoreData (0x01)');
  return payload.subarray(1);
}

export function encodeAuthMoreData(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([AUTH_MORE_DATA_HEADER]), data]);
}
