import type { TlsFailureReason } from '../observability/metrics';

/**
 * Maps an OpenSSL/Node handshake error to the closed set of failure reasons used as a metric label.
 * Codes come from OpenSSL's reason strings (e.g. "unsupported protocol" -> ERR_SSL_UNSUPPORTED_PROTOCOL).
 */
export function classifyTlsFailure(error: Error & { code?: string }): TlsFailureReason {
  const code = error.code ?? '';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (
    /UNSUPPORTED_PROTOCOL|PROTOCOL_VERSION|WRONG_VERSION_NUMBER|VERSION_TOO_LOW|NO_PROTOCOLS_AVAILABLE/.test(
      code,
    )
  ) {
    return 'unsupported_protocol';
  }
  if (/NO_SHARED_CIPHER|NO_CIPHERS_AVAILABLE|NO_SUITABLE_SIGNATURE_ALGORITHM/.test(code))
    return 'no_shared_cipher';
  if (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    /socket disconnected|socket hang up/i.test(error.message)
  ) {
    return 'client_closed';
  }
  return 'other';
}
