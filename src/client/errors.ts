/**
 * The closed set of ways a MySQL connection attempt fails, as counted by `bench` and reused by other
 * load tools. Pure: classification only looks at the error object.
 */
export type ErrorKind = 'refused' | 'timeout' | 'tls_alert' | 'mysql_err' | 'closed' | 'other';

export const ERROR_KINDS: ReadonlyArray<ErrorKind> = [
  'refused',
  'timeout',
  'tls_alert',
  'mysql_err',
  'closed',
  'other',
];

/** Where in the connection the failure happened. */
export type Stage = 'connect' | 'greeting' | 'tls' | 'auth' | 'query' | 'quit';

export interface ClassifiedError {
  kind: ErrorKind;
  stage: Stage;
  /** MySQL error code (mysql_err), e.g. 1045, 1130, 1040, 2003. */
  code?: number;
  sqlState?: string;
  /** TLS alert or OpenSSL reason in lower snake case (tls_alert), e.g. protocol_version. */
  reason?: string;
  /** Node/OpenSSL error code, e.g. ECONNREFUSED, ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION. */
  errno?: string;
  message: string;
}

/** An error thrown by the bench MySQL client: already classified. */
export class MysqlClientError extends Error {
  readonly kind: ErrorKind;
  readonly stage: Stage;
  readonly code?: number;
  readonly sqlState?: string;
  readonly reason?: string;
  readonly errno?: string;

  constructor(info: ClassifiedError) {
    super(info.message);
    this.name = 'MysqlClientError';
    this.kind = info.kind;
    this.stage = info.stage;
    this.code = info.code;
    this.sqlState = info.sqlState;
    this.reason = info.reason;
    this.errno = info.errno;
  }

  toJSON(): ClassifiedError {
    return {
      kind: this.kind,
      stage: this.stage,
      code: this.code,
      sqlState: this.sqlState,
      reason: this.reason,
      errno: this.errno,
      message: this.message,
    };
  }
}

// X.509 verification failures reported by Node/OpenSSL (no TLS alert is sent for them by the client
// before Node aborts, but they are TLS-level failures all the same).
const CERTIFICATE_CODES =
  /^(ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE)/;

/** Maps any error from a connection attempt to the closed set of kinds. */
export function classifyError(error: unknown, stage: Stage): ClassifiedError {
  if (error instanceof MysqlClientError) return error.toJSON();
  const err = (error ?? {}) as Error & { code?: unknown };
  const errno = typeof err.code === 'string' ? err.code : undefined;
  const message = err.message ?? String(error);
  const base = { stage, errno, message };
  if (errno === 'ECONNREFUSED') return { ...base, kind: 'refused' };
  if (errno === 'ETIMEDOUT' || errno === 'ERR_TLS_HANDSHAKE_TIMEOUT') return { ...base, kind: 'timeout' };
  if (errno === 'ECONNRESET' || errno === 'EPIPE' || /socket disconnected|socket hang up/i.test(message)) {
    return { ...base, kind: 'closed' };
  }
  if (errno !== undefined) {
    const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(\w+)$/.exec(errno);
    if (alert) return { ...base, kind: 'tls_alert', reason: alert[1].toLowerCase() };
    if (errno.startsWith('ERR_SSL_')) {
      return { ...base, kind: 'tls_alert', reason: errno.slice('ERR_SSL_'.length).toLowerCase() };
    }
    if (CERTIFICATE_CODES.test(errno)) return { ...base, kind: 'tls_alert', reason: 'bad_certificate' };
  }
  return { ...base, kind: 'other' };
}

/** A short stable key to group errors in a summary: "mysql_err 1045", "tls_alert protocol_version". */
export function errorKey(error: ClassifiedError): string {
  switch (error.kind) {
    case 'mysql_err':
      return `mysql_err ${error.code ?? '?'}`;
    case 'tls_alert':
      return error.reason === 'bad_certificate' && error.errno
        ? `tls_alert bad_certificate (${error.errno})`
        : `tls_alert ${error.reason ?? 'unknown'}`;
    case 'other':
      return error.errno ? `other ${error.errno}` : `other (${error.stage})`;
    default:
      return error.kind;
  }
}
