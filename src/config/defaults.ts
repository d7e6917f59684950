/**
 * The one defaults object for `serve`. Flags, environment variables (MTP_*) and the config file
 * override these, in that order of precedence; shared/interface.md documents them.
 */
export const SERVE_DEFAULTS = {
  listen: '0.0.0.0:4000',
  backend: '127.0.0.1:3306',
  backendLocalAddress: undefined as string | undefined,
  cert: 'certs/server.pem',
  key: 'certs/server-key.pem',
  caFile: 'certs/ca.pem',
  tlsMinVersion: 'TLSv1.2',
  tlsMaxVersion: 'TLSv1.3',
  /** TLS 1.2: ECDHE key exchange with AEAD ciphers only (TLS 1.3 suites are all AEAD). */
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  ecdhCurves: 'X25519:P-256:P-384',
  /** Seconds a TLS session (ticket) may be resumed; Node's and OpenSSL's default. */
  tlsSessionTimeout: 300,
  /** Seconds between fresh session ticket keys (shared by all --workers). */
  tlsTicketKeyRotation: 3_600,
  allow: ['127.0.0.1/32', '::1/128'],
  proxyProtocolFrom: [] as string[],
  proxyProtocolWait: 50,
  backendProxyProtocol: 'off',
  backendTls: 'off',
  clientAttrs: true,
  requireSecureTransport: false,
  status: '127.0.0.1:9400',
  maxConnections: 10_000,
  handshakeTimeout: 10_000,
  backendConnectTimeout: 5_000,
  /** Readiness probe of the backend (a clean login attempt, never a bare connect). */
  backendProbeInterval: 5_000,
  backendProbeFailures: 3,
  drainTimeout: 30_000,
  /** Processes sharing the listener; 0 = one per core. */
  workers: 1,
  logLevel: 'info',
} as const;

export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];
