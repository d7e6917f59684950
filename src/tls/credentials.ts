import crypto from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';

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
  ca?: Buffer;
  subject: string;
  serialNumber: string;
  notAfter: Date;
  fingerprintSha256: string;
  sans: string[];
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
  try {
    tls.createSecureContext({ ...secureContextOptions(policy), cert, key });
  } catch (error) {
    throw new CredentialsError(`${paths.cert} / ${paths.key}: ${(error as Error).message}`);
  }
  return {
    cert,
    key,
    ca,
    subject: leaf.subject.replace(/\n/g, ', '),
    serialNumber: leaf.serialNumber,
    notAfter: new Date(leaf.validTo),
    fingerprintSha256: leaf.fingerprint256,
    sans: leaf.subjectAltName ? leaf.subjectAltName.split(', ') : [],
  };
}

/** Options shared by every client-facing TLS context: TLS 1.2+ only, ever. */
export function secureContextOptions(policy: TlsPolicy): tls.SecureContextOptions {
  return {
    minVersion: policy.minVersion,
    maxVersion: policy.maxVersion,
    ciphers: policy.ciphers,
    ecdhCurve: policy.ecdhCurves,
    honorCipherOrder: true,
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
