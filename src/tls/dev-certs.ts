/**
 * Development certificate generation: a private CA plus one server certificate
 * signed by it, so the proxy can be exercised with full verification
 * (`--ssl-verify-server-cert`) without a real PKI.
 *
 * Pure: no file I/O, logging or metrics. Everything is done with WebCrypto and
 * @peculiar/x509 so that no `openssl` binary is needed at runtime.
 */
import { KeyObject, webcrypto } from 'node:crypto';
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
  const serverCert = await createServerCertificate(serverKeys, caKeys, caCert, sans, notBefore, options);

  return {
    caCert: certificateToPem(caCert),
    caKey: privateKeyToPem(caKeys.privateKey),
    serverCert: certificateToPem(serverCert),
    serverKey: privateKeyToPem(serverKeys.privateKey),
  };
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
  caKeys: KeyPair,
  caCert: X509.X509Certificate,
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
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialNumber(),
      subject: distinguishedName(options.hosts[0]),
      issuer: caCert.subjectName,
      notBefore,
      notAfter: addDays(notBefore, options.days),
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: signingAlgorithm(options.keyType),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(usages, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(sans, false),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, CRYPTO),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, CRYPTO),
      ],
    },
    CRYPTO,
  );
}

function keyTypeOf(keys: KeyPair): KeyType {
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
