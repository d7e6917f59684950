/** Closed sets of values that config/, observability/ and tls/ all name. A leaf. */
export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** --backend-tls modes; 'verify-ca' checks the chain but not the name (like MySQL's VERIFY_CA). */
export const BACKEND_TLS_MODES = ['off', 'on', 'verify-ca', 'verify'] as const;
export type BackendTlsMode = (typeof BACKEND_TLS_MODES)[number];
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const CONNECTION_LOG_MODES = ['all', 'errors', 'none'] as const;
export type ConnectionLogMode = (typeof CONNECTION_LOG_MODES)[number];
