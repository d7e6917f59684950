import { Capability, hasCapability } from './capabilities';
import type { Greeting } from './greeting';

/**
 * Which database sent a greeting. Decided once, from the greeting, in this one place: the
 * handshake's policy (does a SHA-256 plugin need RSA help? does the server ask for the clear
 * password?) depends on it, and the startup probe warns about it.
 *
 * - TiDB puts "TiDB" in its version string ("8.0.11-TiDB-v7.5.0") and speaks MySQL's capabilities.
 * - MariaDB clears bit 0 of the capabilities (CLIENT_MYSQL, which MySQL calls CLIENT_LONG_PASSWORD
 *   and always sets) and says "MariaDB" in its version ("5.5.5-10.11.6-MariaDB").
 *   https://mariadb.com/kb/en/connection/#initial-handshake-packet
 * - Everything else is taken for MySQL, the strictest case (caching_sha2_password, sha256_password).
 */
export type ServerKind = 'mysql' | 'mariadb' | 'tidb';

export function serverKind(greeting: Pick<Greeting, 'serverVersion' | 'capabilities'>): ServerKind {
  if (/tidb/i.test(greeting.serverVersion)) return 'tidb';
  if (/mariadb/i.test(greeting.serverVersion)) return 'mariadb';
  if (!hasCapability(greeting.capabilities, Capability.LONG_PASSWORD)) return 'mariadb';
  return 'mysql';
}
