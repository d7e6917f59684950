/**
 * Error types shared by every folder. A leaf: imports nothing from src/, so config/, policy/,
 * tls/ and runtime/ can all throw them without importing each other.
 */

/** Bad configuration or usage: the CLI prints the one-line message and exits 2. */
export class ConfigError extends Error {
  readonly code = 'MTP_CONFIG';
}

/** A port that cannot be opened (busy, no permission): one line, exit 1. */
export class ListenError extends Error {
  readonly code = 'MTP_LISTEN';
}
