import { Capability } from '../protocol/capabilities';
import type { ServerKind } from '../protocol/server-kind';
import type { Transport } from './types';

/**
 * Where the proxy must keep a TLS client's clear password off the database leg. A client that
 * sees TLS sends its password in clear where MySQL's SHA-256 plugins ask for it; a plain-TCP MySQL
 * refuses that and wants it RSA-encrypted, so the proxy asks for the key and encrypts it. TiDB
 * accepts the clear password (it always forces full authentication), and --backend-tls makes the
 * database leg TLS too: neither needs the help. The kind is decided from the greeting, once
 * (src/protocol/server-kind.ts).
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
 */
export function plainLegNeedsProtecting(backendTls: boolean, kind: ServerKind): boolean {
  return !backendTls && kind !== 'tidb';
}

/** This session's client is on TLS and its database leg needs protecting: RSA help applies. */
export function needsRsaHelp(transport: Transport, backendTls: boolean, kind: ServerKind): boolean {
  return transport === 'tls' && plainLegNeedsProtecting(backendTls, kind);
}

/**
 * Compression (zlib, zstd) hides the command headers the session layer follows to give a
 * COM_CHANGE_USER RSA help, so it is not offered where the database leg needs protecting (clients
 * then run uncompressed; over TLS, compression also leaks lengths). --backend-tls keeps it.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_compression.html
 */
export const COMPRESSION = Capability.COMPRESS | Capability.ZSTD_COMPRESSION_ALGORITHM;

/** The greeting capabilities the client is not offered: compression where the leg needs protecting. */
export function capabilitiesWithheld(backendTls: boolean, kind: ServerKind): number {
  return plainLegNeedsProtecting(backendTls, kind) ? COMPRESSION : 0;
}

/**
 * Plugins whose client side sends the password itself, unhashed: mysql_clear_password (PAM, LDAP)
 * and MariaDB's dialog (PAM prompts). Where the database leg needs protecting (needsRsaHelp) the
 * proxy refuses them rather than put a TLS client's password on the plain leg; TiDB, which asks
 * for the clear password by design, is warned about at startup instead (SECURITY.md).
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_authentication_methods_clear_text_password.html
 */
const CLEAR_TEXT_PLUGINS: ReadonlySet<string> = new Set(['mysql_clear_password', 'dialog']);

export function sendsClearPassword(plugin: string | undefined): boolean {
  return plugin !== undefined && CLEAR_TEXT_PLUGINS.has(plugin);
}
