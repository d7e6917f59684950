/**
 * The closed label sets of the proxy's metrics and log lines, in one leaf module: handshake/
 * decides close reasons, net/ records them, observability/ declares the metrics that carry them.
 * Adding a value is fine; renaming one breaks dashboards and alerts.
 */

/**
 * Why a session ended: a closed list that feeds both the log line and metric labels.
 * Adding a reason is fine; every reason must map to at most one rejection label.
 */
export const CLOSE_REASONS = [
  'client_quit', // the client sent COM_QUIT and the database closed the session, as it should
  'client_closed', // the client ended the connection (without COM_QUIT, or while in the handshake)
  'backend_closed', // the database ended the connection
  'client_error', // socket error on the client leg
  'backend_error', // socket error on the backend leg
  'auth_failed', // the database answered the login with ERR (relayed to the client)
  'backend_refused', // the database sent ERR instead of a greeting (relayed to the client)
  'backend_unavailable', // the database could not be reached within --backend-connect-timeout
  'max_connections', // --max-connections reached
  'ip_not_allowed', // the client address is not on the access list
  'insecure_transport', // plaintext client while --require-secure-transport is on
  'handshake_timeout', // the connection phase did not finish within --handshake-timeout
  'tls_handshake_failed', // the TLS handshake failed (version, cipher, certificate, garbage)
  'client_certificate', // two-way TLS: the client presented no certificate, or one the CA did not sign
  'bad_packet', // the client sent something that is not the MySQL protocol
  'backend_protocol_error', // the database sent something that is not the MySQL protocol
  'backend_tls_failed', // --backend-tls: the database offers no TLS, or its certificate did not verify
  'proxy_protocol', // a missing, malformed or untrusted PROXY protocol header
  'shutdown', // the proxy stopped and --drain-timeout ran out
  'clear_password_refused', // the database asked a TLS client for its clear password over a plain database leg
] as const;

export type CloseReason = (typeof CLOSE_REASONS)[number];

/** Labels of mysql_tls_proxy_connections_rejected_total (fixed public names, docs/metrics.md). */
export const REJECTION_REASONS = [
  'ip_not_allowed',
  'insecure_transport',
  'max_connections',
  'backend_unavailable',
  'handshake_timeout',
  'bad_packet',
  'proxy_protocol',
  'client_certificate',
] as const;

export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** The rejection label a close reason is counted under, if it is a refusal. */
export function rejectionFor(reason: CloseReason): RejectionReason | undefined {
  switch (reason) {
    case 'ip_not_allowed':
    case 'insecure_transport':
    case 'max_connections':
    case 'backend_unavailable':
    case 'handshake_timeout':
    case 'bad_packet':
    case 'proxy_protocol':
    case 'client_certificate':
      return reason;
    case 'backend_refused':
    case 'backend_tls_failed':
      return 'backend_unavailable';
    default:
      return undefined;
  }
}

/** Labels of mysql_tls_proxy_tls_handshake_failures_total (classified in src/tls/failure-reason.ts). */
export const TLS_FAILURE_REASONS = [
  'unsupported_protocol',
  'no_shared_cipher',
  'timeout',
  'client_closed',
  'other',
] as const;
export type TlsFailureReason = (typeof TLS_FAILURE_REASONS)[number];

/** Transport labels: 'pending' until the client chose TLS or plaintext. */
export const TRANSPORTS = ['tls', 'plain', 'pending'] as const;
export type TransportLabel = (typeof TRANSPORTS)[number];

/** Labels of mysql_tls_proxy_connections_would_be_rejected_total: what --require-secure-transport=warn lets through. */
export const WOULD_BE_REJECTED_REASONS = ['insecure_transport'] as const;
export type WouldBeRejectedReason = (typeof WOULD_BE_REJECTED_REASONS)[number];

/** A login the policy lets through only because it is in warn mode (src/handshake/login-policy.ts). */
export interface LoginWarning {
  reason: WouldBeRejectedReason;
  detail: string;
}
