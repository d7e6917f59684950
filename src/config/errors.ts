/** Bad configuration or usage: the CLI prints the one-line message and exits 2. */
export class ConfigError extends Error {
  readonly code = 'MTP_CONFIG';
}
