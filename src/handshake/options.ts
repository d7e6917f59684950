import type { LoginPolicy } from './login-policy';

export interface HandshakeOptions extends LoginPolicy {
  /** Largest connection-phase packet accepted from either side (the real ones are a few hundred bytes). */
  maxPacketSize: number;
  /** The proxy itself runs SSLRequest + TLS towards the database (--backend-tls on|verify). */
  backendTls: boolean;
  /**
   * Add _client_ip, _client_port, _client_tls_version and _client_tls_cipher to the login's
   * connection attributes (as MySQL Router does), so the database can tell who connected and how.
   */
  clientAttributes: boolean;
}

export const DEFAULT_HANDSHAKE_OPTIONS: HandshakeOptions = {
  maxPacketSize: 128 * 1024,
  requireSecureTransport: false,
  requireClientCertificate: false,
  backendTls: false,
  clientAttributes: false,
};
