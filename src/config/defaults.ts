/** The defaults of every flag live in the flag table (./flags.ts); SERVE_DEFAULTS is derived from it. */
export { TLS_VERSIONS, LOG_LEVELS, type TlsVersion, type LogLevel } from '../core/values';
export { SERVE_DEFAULTS } from './flags';
