/**
 * Development certificate generation: a private CA plus one server certificate
 * signed by it, so the proxy can be exercised with full verification
 * (`--ssl-verify-server-cert`) without a real PKI.
 *
 * Pure: no file I/O, logging or metrics. Everything is done with WebCrypto and
 * @peculiar/x509 so that no `openssl` binary is needed at runtime.
 */
import { KeyObject, X509Certificate as NodeX509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';

export type KeyType = 'ecdsa' | 'rsa';

export interface CertOptions {
  hosts: string[];
  keyType: KeyType;
  rsaBits: 2048 | 3072 | 4096;
  days: number;
}

export const DEFAULT_CERT_HOSTS = ['localhost', '127.0.0.1', '::1'];

export interface GeneratedPem {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

/** Invalid generation options; the message is one line, fit for a CLI error. */
export class CertOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertOptionsError';
  }
}

const ORGANIZATION = 'mysql-tls-proxy';
const CA_COMMON_NAME = 'mysql-tls-proxy development CA';
const RSA_BITS: ReadonlyArray<number> = [2048, 3072, 4096];
const MIN_CA_DAYS = 3650;
const MAX_DAYS = 36500;
const DAY_MS = 24 * 60 * 60 * 1000;
// Back-date notBefore so a client whose clock is slightly behind still accepts a fresh cert.
const CLOCK_SKEW_MS = 60 * 60 * 1000;

type SanEntry = { type: 'dns' | 'ip'; value: string };
type KeyPair = { privateKey: webcrypto.CryptoKey; publicKey: webcrypto.CryptoKey };
// @peculiar/x509 types its crypto parameter with the DOM `Crypto` type; Node's
// webcrypto is the same API but not structurally identical under lib.dom, so cast once.
type X509Crypto = NonNullable<Parameters<typeof X509.X509CertificateGenerator.create>[1]>;
const CRYPTO = webcrypto as unknown as X509Crypto;

export async function generateDevCertificates(options: CertOptions): Promise<GeneratedPem> {
  validateOptions(options);
  const sans = options.hosts.map(toSanEntry);
  const notBefore = new Date(Date.now() - CLOCK_SKEW_MS);

  const caKeys = await generateKeyPair(options);
  const caCert = await createCaCertificate(caKeys, notBefore, Math.max(options.days, MIN_CA_DAYS));
  const serverKeys = await generateKeyPair(options);
  const serverCert = await createServerCertificate(
    serverKeys,
    { privateKey: caKeys.privateKey, publicKey: caKeys.publicKey, cert: caCert },
    sans,
    notBefore,
    options,
  );

  return {
    caCert: certificateToPem(caCert),
    caKey: privateKeyToPem(caKeys.privateKey),
    serverCert: certificateToPem(serverCert),
    serverKey: privateKeyToPem(serverKeys.privateKey),
  };
}

/**
 * Issues a new server certificate and key signed by an existing CA (rotation that keeps the CA
 * clients already trust). The CA may be ours or any other ECDSA (P-256/P-384/P-521) or RSA CA;
 * the new certificate is signed with the CA's algorithm and SHA-256, whatever `keyType` the new
 * server key has. Throws CertOptionsError when the CA files are unusable or do not belong together.
 */
export async function issueServerCertificate(
  ca: { cert: string; key: string },
  options: CertOptions,
): Promise<{ serverCert: string; serverKey: string }> {
  validateOptions(options);
  const sans = options.hosts.map(toSanEntry);
  const issuer = await importCa(ca);
  const notBefore = new Date(Date.now() - CLOCK_SKEW_MS);
  const serverKeys = await generateKeyPair(options);
  const serverCert = await createServerCertificate(serverKeys, issuer, sans, notBefore, options);
  return { serverCert: certificateToPem(serverCert), serverKey: privateKeyToPem(serverKeys.privateKey) };
}

interface Issuer {
  privateKey: webcrypto.CryptoKey;
  /** The CA's public key, or the CA certificate itself, for the authority key identifier. */
  publicKey: webcrypto.CryptoKey;
  cert: X509.X509Certificate;
}

async function importCa(ca: { cert: string; key: string }): Promise<Issuer> {
  const x509 = loadX509();
  let nodeCert: NodeX509Certificate;
  let cert: X509.X509Certificate;
  try {
    nodeCert = new NodeX509Certificate(ca.cert);
    cert = new x509.X509Certificate(ca.cert);
  } catch (err) {
    throw new CertOptionsError(`the CA certificate is not a PEM certificate (${(err as Error).message})`);
  }
  if (!nodeCert.ca) throw new CertOptionsError('the CA certificate is not a CA (basicConstraints CA:FALSE)');
  let key: KeyObject;
  try {
    key = createPrivateKey(ca.key);
  } catch (err) {
    throw new CertOptionsError(`the CA key is not a PEM private key (${(err as Error).message})`);
  }
  if (!nodeCert.checkPrivateKey(key)) {
    throw new CertOptionsError('the CA key does not belong to the CA certificate');
  }
  const algorithm = importAlgorithm(key);
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey(
    'spki',
    nodeCert.publicKey.export({ type: 'spki', format: 'der' }),
    algorithm,
    true,
    ['verify'],
  );
  if (addDays(new Date(), 1) > new Date(nodeCert.validTo)) {
    throw new CertOptionsError(`the CA certificate expires ${new Date(nodeCert.validTo).toISOString()}`);
  }
  return { privateKey, publicKey, cert };
}

const EC_CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

function importAlgorithm(key: KeyObject): webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams {
  if (key.asymmetricKeyType === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  if (key.asymmetricKeyType === 'ec') {
    const curve = EC_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (curve) return { name: 'ECDSA', namedCurve: curve };
  }
  throw new CertOptionsError(
    `unsupported CA key type ${key.asymmetricKeyType ?? 'unknown'} (ECDSA P-256/P-384/P-521 or RSA)`,
  );
}

// ---------------------------------------------------------------------------
// Validation

function validateOptions(options: CertOptions): void {
  if (!Array.isArray(options.hosts) || options.hosts.length === 0) {
    throw new CertOptionsError('at least one host name or IP address is required');
  }
  options.hosts.forEach(toSanEntry); // throws on the first bad host
  if (options.keyType !== 'ecdsa' && options.keyType !== 'rsa') {
    throw new CertOptionsError(`key type must be "ecdsa" or "rsa", got ${JSON.stringify(options.keyType)}`);
  }
  if (!RSA_BITS.includes(options.rsaBits)) {
    throw new CertOptionsError(`RSA key size must be one of ${RSA_BITS.join(', ')}, got ${options.rsaBits}`);
  }
  if (!Number.isInteger(options.days) || options.days < 1 || options.days > MAX_DAYS) {
    throw new CertOptionsError(`validity days must be an integer from 1 to ${MAX_DAYS}, got ${options.days}`);
  }
}

// Labels of letters, digits, '-' and '_' (docker/compose service names use '_'),
// optionally with a leading "*." wildcard label.
const DNS_NAME =
  /^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;

/** Classifies a host as an IP SAN (literal address) or a DNS SAN, rejecting garbage early. */
function toSanEntry(host: string): SanEntry {
  if (typeof host !== 'string' || host.length === 0) {
    throw new CertOptionsError('host names must be non-empty');
  }
  if (host.includes('%')) {
    // A zone id ("fe80::1%eth0") is local to one machine and cannot be put in a certificate.
    throw new CertOptionsError(`IPv6 zone ids are not allowed in certificates: ${host}`);
  }
  const family = isIP(host);
  if (family === 4) return { type: 'ip', value: host };
  if (family === 6) return { type: 'ip', value: expandIPv6(host) };
  if (host.length > 253 || !DNS_NAME.test(host)) {
    throw new CertOptionsError(`not a valid DNS name or IP address: ${JSON.stringify(host)}`);
  }
  return { type: 'dns', value: host };
}

/**
 * Rewrites an IPv6 literal as eight hex groups. @peculiar/x509's own parser does
 * not understand an embedded dotted quad ("::ffff:127.0.0.1"), so hand it a form
 * it does understand. The caller has already checked the address with net.isIP.
 */
function expandIPv6(address: string): string {
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (!dotted) return address;
  const [a, b, c, d] = dotted.slice(1).map(Number);
  const tail = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  return address.slice(0, dotted.index) + tail;
}

// ---------------------------------------------------------------------------
// Keys and certificates

async function generateKeyPair(options: CertOptions): Promise<KeyPair> {
  const algorithm =
    options.keyType === 'rsa'
      ? {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: options.rsaBits,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        }
      : { name: 'ECDSA', namedCurve: 'P-256' };
  // Extractable, because the private keys are exported to PEM files.
  return (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as KeyPair;
}

/** The hash for RSA keys is fixed at generation time; ECDSA needs it per signature. */
function signingAlgorithm(keyType: KeyType): { name: string; hash?: string } {
  return keyType === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'ECDSA', hash: 'SHA-256' };
}

async function createCaCertificate(
  keys: KeyPair,
  notBefore: Date,
  days: number,
): Promise<X509.X509Certificate> {
  const x509 = loadX509();
  return x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialNumber(),
      name: distinguishedName(CA_COMMON_NAME),
      notBefore,
      notAfter: addDays(notBefore, days),
      keys,
      signingAlgorithm: signingAlgorithm(keyTypeOf(keys)),
      extensions: [
        // pathlen 0: this CA may sign leaf certificates only, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, CRYPTO),
      ],
    },
    CRYPTO,
  );
}

async function createServerCertificate(
  keys: KeyPair,
  issuer: Issuer,
  sans: SanEntry[],
  notBefore: Date,
  options: CertOptions,
): Promise<X509.X509Certificate> {
  const x509 = loadX509();
  // RSA key exchange (TLS 1.2 non-ECDHE suites) encrypts with the key, ECDSA never does.
  const usages =
    options.keyType === 'rsa'
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
      : x509.KeyUsageFlags.digitalSignature;
  // Never outlive the issuing CA: clients refuse the chain once the CA has expired anyway.
  const requested = addDays(notBefore, options.days);
  const notAfter = requested > issuer.cert.notAfter ? issuer.cert.notAfter : requested;
  // The authority key identifier must equal the CA's subject key identifier when it has one
  // (a foreign CA may have computed it differently from a SHA-1 of its key).
  const caKeyId = issuer.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialNumber(),
      subject: distinguishedName(options.hosts[0]),
      issuer: issuer.cert.subjectName,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: issuer.privateKey,
      signingAlgorithm: signingAlgorithm(keyTypeOf(issuer)),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(usages, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(sans, false),
        caKeyId
          ? new x509.AuthorityKeyIdentifierExtension(caKeyId, false)
          : await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey, false, CRYPTO),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, CRYPTO),
      ],
    },
    CRYPTO,
  );
}

function keyTypeOf(keys: { publicKey: webcrypto.CryptoKey }): KeyType {
  return keys.publicKey.algorithm.name === 'ECDSA' ? 'ecdsa' : 'rsa';
}

/** Subject in conventional ASN.1 order (O before CN), i.e. "CN=<cn>, O=mysql-tls-proxy" in RFC 4514. */
function distinguishedName(commonName: string): X509.JsonName {
  return [{ O: [ORGANIZATION] }, { CN: [commonName] }];
}

/**
 * 16 random bytes with the top bit cleared, so the DER INTEGER is positive and
 * needs no 0x00 pad byte (RFC 5280 caps serials at 20 octets), and the second
 * highest bit set, so it never shrinks to fewer bytes.
 */
function randomSerialNumber(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] & 0x7f) | 0x40;
  return Buffer.from(bytes).toString('hex');
}

function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * DAY_MS);
}

function certificateToPem(cert: X509.X509Certificate): string {
  // Normalise line endings and guarantee the trailing newline tools expect.
  return cert.toString('pem').replace(/\r\n/g, '\n').trimEnd() + '\n';
}

function privateKeyToPem(key: webcrypto.CryptoKey): string {
  // Node's exporter already emits "-----BEGIN PRIVATE KEY-----" (PKCS#8) with a trailing newline.
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

// ---------------------------------------------------------------------------
// @peculiar/x509 loading

let x509Module: typeof X509 | undefined;

/**
 * @peculiar/x509 v2 depends on tsyringe, which throws at require time unless the
 * Reflect metadata polyfill is loaded first; loading lazily keeps that cost off
 * every start that already has certificates.
 */
function loadX509(): typeof X509 {
  if (!x509Module) {
    require('reflect-metadata');
    x509Module = require('@peculiar/x509') as typeof X509;
  }
  return x509Module;
}
