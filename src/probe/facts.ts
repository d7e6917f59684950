/**
 * Everything `check` learns about an endpoint: the facts --json prints, evaluate.ts judges and
 * compare.ts diffs. Types only.
 */
export const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

export interface CipherFact {
  /** OpenSSL name (TLS 1.3: the IANA name). */
  name: string;
  /** IANA name. */
  standardName: string;
}

export interface VersionFacts {
  version: TlsVersion;
  accepted: boolean;
  /** The cipher the server picked from a default offer. */
  cipher?: string;
  cipherStandardName?: string;
  /** Why the version was refused: the TLS alert or OpenSSL reason, e.g. protocol_version. */
  error?: string;
  errorKind?: string;
  /** Every cipher suite the server accepts with this version, in the order found. */
  ciphers: CipherFact[];
  /** true: the server picks by its own order; false: by the client's; undefined: fewer than 2 ciphers. */
  serverCipherOrder?: boolean;
  /** Key-exchange groups accepted (X25519, P-256, ..., ffdhe2048 for TLS 1.3). */
  groups: string[];
  /** TLS 1.0-1.2 DHE suites: the size of the server's DH parameters. */
  dheBits?: number;
  /** Signature algorithms the server signs the handshake with when offered only that one. */
  signatureAlgorithms: string[];
  /** Probes that failed for a reason other than the server refusing (timeouts, resets). */
  probeErrors: string[];
}

export type Answer = 'yes' | 'no' | 'not applicable' | 'unknown';

export interface ResumptionFacts {
  /** Offered: a TLS 1.2 ServerHello with a session id / a ticket was sent; resumed: a second connection resumed. */
  sessionId: { offered: Answer; resumed: Answer };
  ticketTls12: { offered: Answer; resumed: Answer };
  ticketTls13: { offered: Answer; resumed: Answer };
}

export interface BehaviourFacts {
  /** Client-initiated renegotiation (TLS 1.2; TLS 1.3 has none). */
  renegotiation: { clientInitiated: 'allowed' | 'refused' | 'not applicable' | 'unknown'; detail?: string };
  /** RFC 5746 renegotiation_info in the ServerHello. */
  secureRenegotiation: Answer;
  resumption: ResumptionFacts;
  /** The compression method chosen when DEFLATE is offered (TLS 1.2 and earlier). */
  compression: 'none' | 'deflate' | 'not applicable' | 'unknown' | `method ${number}`;
}

export interface PlaintextFacts {
  /** The server greeted in clear (every MySQL server does: TLS starts in-band). */
  greeting: boolean;
  tlsAdvertised: boolean;
  /**
   * offered: a login without TLS is processed (no CLIENT_SSL, or a plaintext HandshakeResponse for
   * a made-up user got "access denied" / an auth switch); refused: ERR 3159-style refusal.
   */
  login: 'offered' | 'refused' | 'unknown';
  loginDetail?: string;
  error?: string;
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  sans: string[];
  notBefore: string;
  notAfter: string;
  keyType: string;
  /** RSA modulus / EC field / EdDSA size in bits. */
  keyBits: number;
  signatureAlgorithm: string;
  selfSigned: boolean;
  fingerprintSha256: string;
}

export interface ChainFacts {
  /** Certificates as the server sent them (TLS 1.2 first flight; TLS 1.3 only: Node's view). */
  sent: CertificateInfo[];
  /** Whether `sent` is the exact order on the wire (false when only TLS 1.3 could be read). */
  orderObserved: boolean;
  /** Each certificate is issued by the next one. */
  inOrder: boolean;
  /** The sent certificates lead to a trust anchor or a self-signed root without a missing link. */
  complete: boolean;
  /** Certificates that are not part of the leaf's path. */
  extraneous: number;
}

export interface LeafFacts {
  keyType: string;
  keyBits: number;
  signatureAlgorithm: string;
  notAfter: string;
  daysToExpiry: number;
  sanMatch: boolean;
  sanMatchError?: string;
}

export interface ScanFacts {
  target: string;
  serverName: string;
  greeting?: { serverVersion: string; connectionId: number; tlsAdvertised: boolean; authPlugin: string };
  /** ERR sent instead of a greeting (e.g. 1130 host not allowed). */
  refusedWith?: { code: number; message: string };
  plaintext: PlaintextFacts;
  versions: VersionFacts[];
  acceptedVersions: TlsVersion[];
  behaviour: BehaviourFacts;
  /** The chain as seen with the best version (completed from the trust store when it could be). */
  chain: CertificateInfo[];
  chainFacts?: ChainFacts;
  leaf?: LeafFacts;
  verification: {
    verified: boolean;
    ca: string;
    serverName: string;
    error?: string;
    /** The chain's own verification error (the name aside), e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE. */
    chainError?: string;
  };
  /** Set when the endpoint could not be probed at all (exit code 2). */
  unreachable?: string;
  durationMs: number;
}
