import { Capability } from '../protocol/capabilities';
import { encodeHandshakeResponse } from '../protocol/handshake-response';
import type { Greeting } from '../protocol/greeting';

/**
 * When a client gives up mid-handshake, the proxy finishes the database's handshake itself with a
 * well-formed login for a user that does not exist. MySQL and MariaDB count *handshake* errors per
 * client host towards max_connect_errors (default 100) and then block the host; every client shares
 * the proxy's address, so a few hundred scanners or aborted TLS probes would lock everyone out.
 * A failed password check is an authentication error, which does not count towards blocking.
 * https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_max_connect_errors
 * https://dev.mysql.com/doc/refman/8.0/en/host-cache.html
 */
export const ABORTED_LOGIN_USER = '_mysql_tls_proxy_aborted';

/** Auth data of the length each plugin checks for, so the server fails it as a wrong password. */
export function dummyAuthData(plugin: string | undefined): Buffer {
  switch (plugin) {
    case 'caching_sha2_password':
      return Buffer.alloc(32);
    case 'client_ed25519':
      return Buffer.alloc(64);
    default:
      return Buffer.alloc(20); // mysql_native_password's scramble length
  }
}

export function abortedLoginResponse(greeting: Greeting): Buffer {
  const plugin =
    greeting.authPluginName === 'caching_sha2_password' ? greeting.authPluginName : 'mysql_native_password';
  return encodeHandshakeResponse({
    capabilities:
      Capability.LONG_PASSWORD |
      Capability.PROTOCOL_41 |
      Capability.TRANSACTIONS |
      Capability.SECURE_CONNECTION |
      Capability.PLUGIN_AUTH,
    maxPacketSize: 1 << 24,
    characterSet: greeting.characterSet || 0x21,
    filler: Buffer.alloc(23),
    username: Buffer.from(ABORTED_LOGIN_USER),
    authResponse: dummyAuthData(plugin),
    authPluginName: plugin,
  });
}

/** The plugin an AuthSwitchRequest (0xfe, name NUL, data) asks for. */
export function authSwitchPlugin(payload: Buffer): string | undefined {
  const end = payload.indexOf(0, 1);
  return end > 1 ? payload.toString('latin1', 1, end) : undefined;
}
