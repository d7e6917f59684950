/**
 * --log-connections: which `connection_closed` lines a busy proxy writes. Metrics count every
 * connection whatever the mode; this only decides about the log line.
 *
 * - all: every connection (the default).
 * - errors: everything except the ordinary ends of a session (the client quit or hung up, the
 *   database closed an idle session), so refusals, failed logins, TLS failures and socket errors
 *   stay visible while thousands of healthy short connections make no noise.
 * - none: no per-connection lines at all.
 */
import type { CloseReason } from '../core/labels';
import type { ConnectionLogMode } from '../core/values';

export type { ConnectionLogMode };

/** The ends of a session nobody needs to look at. */
const ORDINARY_CLOSES: ReadonlySet<CloseReason> = new Set(['client_quit', 'client_closed', 'backend_closed']);

export function logsConnectionClose(mode: ConnectionLogMode = 'all', reason: CloseReason): boolean {
  if (mode === 'all') return true;
  if (mode === 'none') return false;
  return !ORDINARY_CLOSES.has(reason);
}
