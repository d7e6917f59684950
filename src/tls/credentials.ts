import crypto from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { otherLabels, splitPem } from './pem';

export interface TlsPolicy {
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1.2' | 'TLSv1.3';
  ciphers: string;
  ecdhCurves: string;
}

export interface CredentialPaths {
  cert: string;
  key: string;
  /** The CA clients should trust; optional (a publicly trusted certificate needs none). */
  caFile?: string;
}

/** A certificate, its chain and key that load together, plus what operators need to know of it. */
export interface LoadedCredentials {
  cert: Buffer;
  key: Buffer;
  /** The certificates of --ca-file, re-encoded: what /ca.pem publishes (never a key beside them). */
  ca?: Buffer;
  subject: string;
  issuer: string;
  serialNumber: string;
  notAfter: Date;
  fingerprintSha256: string;
  sans: string[];
  /** Loads fine but clients will likely refuse it (e.g. not issued by --ca-file); for logging. */
  warnings?: string[];
}

export class CredentialsError extends Error {
  readonly code = 'MTP_CREDENTIALS';
}

/**
 * Reads and checks certificate, chain and key. Loading goes through tls.createSecureContext, so
 * a broken PEM or a key that does not match the certificate fails here, not in a client handshake.
 */
export function loadCredentials(paths: CredentialPaths, policy: TlsPolicy): LoadedCredentials {
  const cert = readFile(paths.cert, 'certificate (--cert)');
  const key = readFile(paths.key, 'key (--key)');
  const ca =
    paths.caFile && fs.existsSync(paths.caFile) ? readFile(paths.caFile, 'CA (--ca-file)') : undefined;
  let leaf: crypto.X509Certificate;
  try {
    leaf = new crypto.X509Certificate(cert);
  } catch (error) {
    throw new CredentialsError(`${paths.cert}: not a PEM certificate (${(error as Error).message})`);
  }
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(key);
  } catch (error) {
    throw new CredentialsError(`${paths.key}: not a PEM private key (${(error as Error).message})`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new CredentialsError(`${paths.key} is not the key of the certificate in ${paths.cert}`);
  }
  try {
    tls.createSecureContext({ ...secureContextOptions(policy), cert, key });
  } catch (error) {
    throw new CredentialsError(`${paths.cert} / ${paths.key}: ${(error as Error).message}`);
  }
  const warnings: string[] = [];
  const authorities = ca ? parseCertificates(ca) : [];
  if (ca) {
    if (authorities.length === 0)
      throw new CredentialsError(`${paths.caFile}: no PEM certificate in the CA file (--ca-file)`);
    if (!chainsTo(parseCertificates(cert), authorities)) {
      warnings.push(
        `${paths.cert} is not issued by the CA in ${paths.caFile}: clients that trust that CA will refuse it`,
      );
    }
    const others = otherLabels(ca);
    if (others.length > 0) {
      warnings.push(
        `${paths.caFile} (--ca-file) also holds ${others.join(', ')} block(s): /ca.pem publishes only ` +
          `its certificates; keep keys out of the CA file`,
      );
    }
  }
  return {
    cert,
    key,
    ca: ca && publishableCa(authorities),
    subject: leaf.subject.replace(/\n/g, ', '),
    issuer: leaf.issuer.replace(/\n/g, ', '),
    serialNumber: leaf.serialNumber,
    notAfter: new Date(leaf.validTo),
    fingerprintSha256: leaf.fingerprint256,
    sans: leaf.subjectAltName ? leaf.subjectAltName.split(', ') : [],
    warnings,
  };
}

/** True when both hold the very same certificate chain, key and CA bytes. */
export function sameCredentials(a: LoadedCredentials, b: LoadedCredentials): boolean {
  const same = (x?: Buffer, y?: Buffer) => (x && y ? x.equals(y) : x === y);
  return same(a.cert, b.cert) && same(a.key, b.key) && same(a.ca, b.ca);
}

/** Every parsable certificate in a PEM bundle, in file order (other blocks are ignored). */
export function parseCertificates(pem: Buffer | string): crypto.X509Certificate[] {
  const found: crypto.X509Certificate[] = [];
  for (const block of splitPem(pem)) {
    if (block.label !== 'CERTIFICATE') continue;
    try {
      found.push(new crypto.X509Certificate(block.text));
    } catch {
      // skip a damaged block; the caller decides whether nothing usable is an error
    }
  }
  return found;
}

/**
 * What may be published of a CA file: its parsable certificates, re-encoded from their DER, so
 * nothing else in the file (a private key, text pasted into a CERTIFICATE block) can come along.
 */
export function publishableCa(certificates: readonly crypto.X509Certificate[]): Buffer {
  return Buffer.from(certificates.map((certificate) => certificate.toString()).join(''));
}

/** Whether some certificate of the served chain is one of, or is signed by one of, the CAs. */
function chainsTo(chain: crypto.X509Certificate[], authorities: crypto.X509Certificate[]): boolean {
  return chain.some((cert) =>
    authorities.some((ca) => cert.raw.equals(ca.raw) || (cert.checkIssued(ca) && cert.verify(ca.publicKey))),
  );
}

/**
 * No renegotiation, by either side: a TLS 1.2 client asking to renegotiate gets a no_renegotiation
 * alert and its connection ends. Client-initiated renegotiation lets one client make the proxy do
 * full handshakes at will (CVE-2011-1473), and nothing in the MySQL protocol needs it. TLS 1.3 has
 * no renegotiation at all. https://www.openssl.org/docs/man3.0/man3/SSL_CTX_set_options.html
 * (Node adds SSL_OP_CIPHER_SERVER_PREFERENCE for honorCipherOrder on top of these.)
 */
export const SECURE_OPTIONS = crypto.constants.SSL_OP_NO_RENEGOTIATION;

/** Options shared by every client-facing TLS context: TLS 1.2+ only, ever; no renegotiation. */
export function secureContextOptions(policy: TlsPolicy): tls.SecureContextOptions {
  return {
    minVersion: policy.minVersion,
    maxVersion: policy.maxVersion,
    ciphers: policy.ciphers,
    ecdhCurve: policy.ecdhCurves,
    honorCipherOrder: true,
    secureOptions: SECURE_OPTIONS,
  };
}

function readFile(path: string, what: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CredentialsError(`cannot read ${what} ${path}: ${code ?? (error as Error).message}`);
  }
}
