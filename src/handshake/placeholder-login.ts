import { classifyServerAuthPacket, parseAuthSwitchRequest } from '../protocol/auth-packets';
import { CACHING_SHA2 } from '../protocol/caching-sha2';
import { Capability } from '../protocol/capabilities';
import type { Greeting } from '../protocol/greeting';
import { encodeHandshakeResponse } from '../protocol/handshake-response';

/**
 * When a client gives up mid-handshake, and when the backend probe checks the database, the proxy
 * finishes the database's handshake itself with a well-formed login for a user that does not
 * exist. MySQL and MariaDB count *handshake* errors per client host towards max_connect_errors
 * (default 100) and then block the host; every client shares the proxy's address, so a few hundred
 * scanners or aborted TLS probes would lock everyone out. A failed password check is an
 * authentication error, which does not count towards blocking.
 * https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_max_connect_errors
 * https://dev.mysql.com/doc/refman/8.0/en/host-cache.html
 *
 * One responder, I/O-free, for both: the caller frames and sends what it says (through a
 * PacketChannel) and feeds it the database's answers.
 */
export const ABORTED_LOGIN_USER = '_mysql_tls_proxy_aborted';

/** Auth rounds answered before the responder just gives up (the caller then hangs up). */
export const MAX_PLACEHOLDER_ROUNDS = 4;

/** What to do after the responder has seen a packet from the database. */
export type PlaceholderStep =
  /** Send this payload (wrong-password data for the plugin in force). */
  | { action: 'answer'; payload: Buffer }
  /** The database accepted the login (someone created the user without a password): COM_QUIT, close. */
  | { action: 'quit' }
  /** The database refused the login, as intended: close. `payload` is its ERR. */
  | { action: 'refused'; payload: Buffer }
  /** Too many rounds: close. */
  | { action: 'gave_up'; rounds: number };

/** Auth data of the length each plugin checks for, so the server fails it as a wrong password. */
export function dummyAuthData(plugin: string | undefined): Buffer {
  switch (plugin) {
    case CACHING_SHA2:
      return Buffer.alloc(32);
    case 'client_ed25519':
      return Buffer.alloc(64);
    default:
      return Buffer.alloc(20); // mysql_native_password's scramble length
  }
}

export class PlaceholderLogin {
  private rounds = 0;

  /** `plugin`: the auth plugin in force, whose data the database waits for. */
  constructor(private plugin: string | undefined) {}

  /**
   * The login for a database that has greeted: caching_sha2_password where it asks for that,
   * mysql_native_password otherwise (every server has it). `tls`: CLIENT_SSL set, for a database
   * leg upgraded to TLS first (its first 32 bytes are then the SSLRequest).
   */
  static start(greeting: Greeting, tls = false): { login: Buffer; responder: PlaceholderLogin } {
    const plugin = greeting.authPluginName === CACHING_SHA2 ? CACHING_SHA2 : 'mysql_native_password';
    const login = encodeHandshakeResponse({
      capabilities:
        Capability.LONG_PASSWORD |
        Capability.PROTOCOL_41 |
        Capability.TRANSACTIONS |
        Capability.SECURE_CONNECTION |
        Capability.PLUGIN_AUTH |
        (tls ? Capability.SSL : 0),
      maxPacketSize: 1 << 24,
      characterSet: greeting.characterSet || 0x21,
      filler: Buffer.alloc(23),
      username: Buffer.from(ABORTED_LOGIN_USER),
      authResponse: dummyAuthData(plugin),
      authPluginName: plugin,
    });
    return { login, responder: new PlaceholderLogin(plugin) };
  }

  /** The database waits for the client's data: a wrong password for its plugin, or give up. */
  answer(): PlaceholderStep {
    if (++this.rounds > MAX_PLACEHOLDER_ROUNDS) return { action: 'gave_up', rounds: this.rounds - 1 };
    return { action: 'answer', payload: dummyAuthData(this.plugin) };
  }

  /** A packet from the database during the placeholder's exchange. */
  onServerPacket(payload: Buffer): PlaceholderStep {
    const kind = classifyServerAuthPacket(payload);
    if (kind === 'ok') return { action: 'quit' };
    if (kind === 'err') return { action: 'refused', payload };
    if (kind === 'auth-switch') this.plugin = parseAuthSwitchRequest(payload).plugin;
    return this.answer();
  }
}
