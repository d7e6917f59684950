/**
 * Writing generated certificates to disk and describing certificate files.
 *
 * Writes are careful because two of the four files are private keys: they are
 * created 0600 from the start (never briefly world-readable), each file appears
 * atomically via rename, and existing files are only replaced on request.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { GeneratedPem } from './dev-certs';

export interface CertPaths {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

/** Existing files would be overwritten; the message is one line and mentions --force. */
export class CertFilesExistError extends Error {
  constructor(readonly files: string[]) {
    super(`refusing to overwrite existing ${files.join(', ')} (use --force to replace them)`);
    this.name = 'CertFilesExistError';
  }
}

const KEY_MODE = 0o600;
const CERT_MODE = 0o644;
const DIR_MODE = 0o700;

type FileKey = Exclude<keyof CertPaths, 'dir'>;

// Keys first: if a later write fails, the user is left with a key and no
// certificate rather than a certificate whose key is missing.
const FILES: ReadonlyArray<{ key: FileKey; mode: number }> = [
  { key: 'caKey', mode: KEY_MODE },
  { key: 'caCert', mode: CERT_MODE },
  { key: 'serverKey', mode: KEY_MODE },
  { key: 'serverCert', mode: CERT_MODE },
];

export function certPathsIn(dir: string): CertPaths {
  return {
    dir,
    caCert: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca-key.pem'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server-key.pem'),
  };
}

export async function writeCertificates(
  paths: CertPaths,
  pem: GeneratedPem,
  opts: { force: boolean },
): Promise<void> {
  await ensureDirectory(paths.dir);
  if (!opts.force) {
    const existing = await existingFiles(FILES.map((f) => paths[f.key]));
    if (existing.length > 0) throw new CertFilesExistError(existing);
  }
  for (const { key, mode } of FILES) {
    await writeFileAtomic(paths[key], pem[key], mode);
  }
}

/**
 * Rotation: replaces only the server certificate and key (the CA stays). The key is written first
 * and the certificate right after, each atomically; a proxy watching the files debounces the two
 * renames into one reload.
 */
export async function writeServerCertificate(
  paths: Pick<CertPaths, 'dir' | 'serverCert' | 'serverKey'>,
  pem: Pick<GeneratedPem, 'serverCert' | 'serverKey'>,
): Promise<void> {
  await ensureDirectory(paths.dir);
  await writeFileAtomic(paths.serverKey, pem.serverKey, KEY_MODE);
  await writeFileAtomic(paths.serverCert, pem.serverCert, CERT_MODE);
}

/** Creates the directory private to the user, but leaves the mode of an existing one alone. */
async function ensureDirectory(dir: string): Promise<void> {
  const created = await fsp.mkdir(dir, { recursive: true, mode: DIR_MODE });
  // mkdir's mode is filtered by the umask; chmod makes 0700 exact for the leaf we created.
  if (created !== undefined) await fsp.chmod(dir, DIR_MODE);
}

async function existingFiles(files: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const file of files) {
    // lstat, so that a dangling symlink also counts as "something is in the way".
    const stat = await fsp.lstat(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (stat) found.push(file);
  }
  return found;
}

/**
 * Writes to a fresh temp file in the same directory (so rename is atomic and
 * stays on one filesystem), fixes its mode before it becomes visible, then
 * renames it over the target. Rename replaces a symlink rather than following it.
 */
async function writeFileAtomic(file: string, contents: string, mode: number): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // 'wx': fail rather than write through anything already at the temp name.
    const handle = await fsp.open(tmp, 'wx', mode);
    try {
      await handle.writeFile(contents);
      await handle.chmod(mode); // the open() mode was reduced by the umask
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

export function describeCertificate(pem: string): {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  sans: string[];
  fingerprintSha256: string;
  keyType: string;
} {
  const cert = new X509Certificate(pem);
  return {
    subject: oneLineName(cert.subject),
    issuer: oneLineName(cert.issuer),
    serial: cert.serialNumber,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    sans: splitSubjectAltName(cert.subjectAltName),
    fingerprintSha256: cert.fingerprint256,
    keyType: describePublicKey(cert),
  };
}

/**
 * Node prints names one RDN per line in certificate (ASN.1) order; show them on
 * one line most-specific first, as RFC 4514 does: "CN=localhost, O=mysql-tls-proxy".
 */
function oneLineName(name: string): string {
  return name.split('\n').filter(Boolean).reverse().join(', ');
}

/**
 * Node joins SAN entries with ", " (quoting values that themselves contain
 * separators), so split only where a new "TYPE:" entry starts.
 */
function splitSubjectAltName(san: string | undefined): string[] {
  if (!san) return [];
  return san.split(/, (?=(?:DNS|IP Address|email|URI|DirName|othername|Registered ID):)/);
}

const CURVE_NAMES: Record<string, string> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

/** "ECDSA P-256", "RSA 2048", "Ed25519", ... */
function describePublicKey(cert: X509Certificate): string {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = details.namedCurve ?? 'unknown curve';
      return `ECDSA ${CURVE_NAMES[curve] ?? curve}`;
    }
    case 'rsa':
    case 'rsa-pss':
      return `${key.asymmetricKeyType.toUpperCase()} ${details.modulusLength ?? '?'}`;
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
    default:
      return String(key.asymmetricKeyType ?? 'unknown');
  }
}
