import { encodeErrPacket } from './err-packet';

/**
 * The refusals the proxy itself sends, with the codes and texts MySQL uses where one exists, so
 * clients and their users recognise them.
 * https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html
 */
export const ErrorCode = {
  TOO_MANY_CONNECTIONS: 1040, // ER_CON_COUNT_ERROR, SQLSTATE 08004
  HANDSHAKE_ERROR: 1043, // ER_HANDSHAKE_ERROR, SQLSTATE 08S01
  ACCESS_DENIED: 1045, // ER_ACCESS_DENIED_ERROR, SQLSTATE 28000 (also used by MySQL for failed X509 requirements)
  HOST_NOT_ALLOWED: 1130, // ER_HOST_NOT_PRIVILEGED
  CONNECTION_ERROR: 2003, // CR_CONN_HOST_ERROR (client-side code, used by proxies for an unreachable backend)
  SECURE_TRANSPORT_REQUIRED: 3159, // ER_SECURE_TRANSPORT_REQUIRED, SQLSTATE HY000
  SERVER_SHUTDOWN: 1053, // ER_SERVER_SHUTDOWN, SQLSTATE 08S01
} as const;

/**
 * An ERR packet the proxy itself answers with (a refusal, an unreachable database, shutdown): named
 * apart from the product ("proxy") and the PROXY protocol header, which are different things.
 */
export interface ErrReply {
  code: number;
  sqlState: string;
  message: string;
}

export const errReplies = {
  tooManyConnections: (): ErrReply => ({
    code: ErrorCode.TOO_MANY_CONNECTIONS,
    sqlState: '08004',
    message: 'Too many connections',
  }),
  hostNotAllowed: (ip: string): ErrReply => ({
    code: ErrorCode.HOST_NOT_ALLOWED,
    sqlState: 'HY000',
    message: `Host '${ip}' is not allowed to connect to this MySQL server`,
  }),
  backendUnavailable: (why: string): ErrReply => ({
    code: ErrorCode.CONNECTION_ERROR,
    sqlState: 'HY000',
    message: `Can't connect to MySQL server behind mysql-tls-proxy (${why})`,
  }),
  handshakeTimeout: (ms: number): ErrReply => ({
    code: ErrorCode.HANDSHAKE_ERROR,
    sqlState: '08S01',
    message: `Bad handshake: the connection phase did not complete within ${ms} ms`,
  }),
  badHandshake: (why: string): ErrReply => ({
    code: ErrorCode.HANDSHAKE_ERROR,
    sqlState: '08S01',
    message: `Bad handshake: ${why}`,
  }),
  /** MySQL's own words, or (`why`) the proxy's reason when it is not --require-secure-transport. */
  insecureTransport: (why?: string): ErrReply => ({
    code: ErrorCode.SECURE_TRANSPORT_REQUIRED,
    sqlState: 'HY000',
    message: why
      ? `Connections using insecure transport are prohibited: ${why}.`
      : 'Connections using insecure transport are prohibited while --require_secure_transport=ON.',
  }),
  clientCertificateRequired: (why: string): ErrReply => ({
    code: ErrorCode.ACCESS_DENIED,
    sqlState: '28000',
    message: `Access denied: a client certificate signed by the proxy's --client-ca is required (${why})`,
  }),
  /** The database asked for the clear password (mysql_clear_password, dialog) over a plain leg. */
  clearPasswordRefused: (plugin: string): ErrReply => ({
    code: ErrorCode.ACCESS_DENIED,
    sqlState: '28000',
    message:
      `Access denied: the database asked for the clear password (${plugin}) over an unencrypted ` +
      'database leg; mysql-tls-proxy does not send it there (use --backend-tls verify for such accounts)',
  }),
  shuttingDown: (): ErrReply => ({
    code: ErrorCode.SERVER_SHUTDOWN,
    sqlState: '08S01',
    message: 'Server shutdown in progress',
  }),
};

/**
 * ERR payload for a refusal. `negotiated` is false before the client has seen a greeting: then
 * the pre-4.1 layout without the SQL state is used, as MySQL does.
 */
export function encodeErrReply(error: ErrReply, negotiated: boolean): Buffer {
  return encodeErrPacket({
    code: error.code,
    sqlState: negotiated ? error.sqlState : undefined,
    message: error.message,
  });
}
