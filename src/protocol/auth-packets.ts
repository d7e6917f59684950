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
 * scramble for the SHA-256 plugins). authSwitchPlugin and authSwitchScramble read it back.
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
