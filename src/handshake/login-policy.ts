import { errReplies, type ErrReply } from '../protocol/err-replies';
import type { CloseReason, LoginWarning } from '../core/labels';
import type { Transport } from './types';

/**
 * Who may log in through the proxy, decided in one place: the handshake machine asks at every
 * HandshakeResponse, whichever transport it came on, before anything of the login reaches the
 * database.
 */
export interface LoginPolicy {
  /**
   * --require-secure-transport: plaintext logins are refused (true), or relayed with a warning
   * ('warn': the audit mode before turning it on, see docs/tls-adoption-audit.md).
   */
  requireSecureTransport: boolean | 'warn';
  /** --client-ca: a certificate signed by that CA is required, which implies TLS is required. */
  requireClientCertificate: boolean;
}

/** What the TLS handshake established about the client's certificate (absent: no TLS). */
export type ClientCertificate = { verified: true } | { verified: false; why: string };

/** A login the policy lets through but would refuse when enforcing: the caller logs and counts it. */
export type { LoginWarning };

export type LoginDecision =
  | { allowed: true; warning?: LoginWarning }
  | { allowed: false; reason: CloseReason; error: ErrReply; detail: string };

export function decideLogin(
  policy: LoginPolicy,
  transport: Transport,
  certificate: ClientCertificate | undefined,
): LoginDecision {
  if (transport === 'plain') {
    if (policy.requireClientCertificate) {
      const error = errReplies.insecureTransport('a client certificate over TLS is required (--client-ca)');
      return { allowed: false, reason: 'insecure_transport', error, detail: 'plaintext login refused' };
    }
    if (policy.requireSecureTransport === 'warn') {
      const detail = 'plaintext login relayed (--require-secure-transport=warn)';
      return { allowed: true, warning: { reason: 'insecure_transport', detail } };
    }
    if (policy.requireSecureTransport) {
      const error = errReplies.insecureTransport();
      return { allowed: false, reason: 'insecure_transport', error, detail: 'plaintext login refused' };
    }
    return { allowed: true };
  }
  if (policy.requireClientCertificate && !certificate?.verified) {
    const why = certificate && !certificate.verified ? certificate.why : 'no certificate';
    const error = errReplies.clientCertificateRequired(why);
    return { allowed: false, reason: 'client_certificate', error, detail: error.message };
  }
  return { allowed: true };
}
