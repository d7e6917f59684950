import { X509Certificate, createPrivateKey } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import {
  CertOptionsError,
  DEFAULT_CERT_HOSTS,
  generateDevCertificates,
  type CertOptions,
  type GeneratedPem,
  type KeyType,
} from '../../../src/tls/dev-certs';
import {
  CertFilesExistError,
  certPathsIn,
  describeCertificate,
  writeCertificates,
} from '../../../src/tls/cert-files';

const HOSTS = ['localhost', '127.0.0.1', '::1', 'db.internal'];

function options(overrides: Partial<CertOptions> = {}): CertOptions {
  return { hosts: HOSTS, keyType: 'ecdsa', rsaBits: 2048, days: 30, ...overrides };
}

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dev-certs-test-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes the PEMs to a temp dir for the openssl CLI and returns their paths. */
function writeForOpenssl(pem: GeneratedPem): { ca: string; server: string } {
  const dir = tmpDir();
  const ca = path.join(dir, 'ca.pem');
  const server = path.join(dir, 'server.pem');
  fs.writeFileSync(ca, pem.caCert);
  fs.writeFileSync(server, pem.serverCert);
  return { ca, server };
}

function openssl(...args: string[]): { status: number | null; out: string } {
  const res = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: res.status, out: `${res.stdout}${res.stderr}` };
}

describe.each<KeyType>(['ecdsa', 'rsa'])('generateDevCertificates (%s)', (keyType) => {
  let pem: GeneratedPem;
  let ca: X509Certificate;
  let server: X509Certificate;

  beforeAll(async () => {
    pem = await generateDevCertificates(options({ keyType }));
    ca = new X509Certificate(pem.caCert);
    server = new X509Certificate(pem.serverCert);
  });

  it('produces PKCS#8 keys and PEM certificates ending in a newline', () => {
    for (const key of [pem.caKey, pem.serverKey]) {
      expect(key.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
      expect(key.endsWith('-----END PRIVATE KEY-----\n')).toBe(true);
    }
    for (const cert of [pem.caCert, pem.serverCert]) {
      expect(cert.startsWith('-----BEGIN CERTIFICATE-----\n')).toBe(true);
      expect(cert.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
    }
  });

  it('loads into a Node TLS secure context', () => {
    expect(() => tls.createSecureContext({ cert: pem.serverCert, key: pem.serverKey })).not.toThrow();
    expect(() => tls.createSecureContext({ cert: pem.caCert, key: pem.caKey })).not.toThrow();
  });

  it('chains the server certificate to the CA', () => {
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
  });

  it('pairs each certificate with its private key', () => {
    expect(server.checkPrivateKey(createPrivateKey(pem.serverKey))).toBe(true);
    expect(ca.checkPrivateKey(createPrivateKey(pem.caKey))).toBe(true);
    expect(server.checkPrivateKey(createPrivateKey(pem.caKey))).toBe(false);
  });

  it('puts DNS names and IP literals into the right kind of SAN', () => {
    const sans = describeCertificate(pem.serverCert).sans;
    expect(sans).toEqual(
      expect.arrayContaining(['DNS:localhost', 'DNS:db.internal', 'IP Address:127.0.0.1']),
    );
    expect(sans.filter((s) => s.startsWith('IP Address:'))).toHaveLength(2); // 127.0.0.1 and ::1
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkIP('::1')).toBe('::1');
    expect(server.checkHost('127.0.0.1')).toBeUndefined(); // IPs must not be DNS SANs
  });

  it('uses the expected names, validity and key type', () => {
    const caInfo = describeCertificate(pem.caCert);
    const serverInfo = describeCertificate(pem.serverCert);
    expect(caInfo.subject).toBe('CN=mysql-tls-proxy development CA, O=mysql-tls-proxy');
    expect(serverInfo.subject).toBe('CN=localhost, O=mysql-tls-proxy');
    expect(serverInfo.issuer).toBe(caInfo.subject);
    expect(serverInfo.keyType).toBe(keyType === 'ecdsa' ? 'ECDSA P-256' : 'RSA 2048');
    expect(serverInfo.fingerprintSha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(serverInfo.serial).toMatch(/^[0-9A-F]{32}$/);
    expect(serverInfo.serial).not.toBe(caInfo.serial);

    const now = Date.now();
    const hour = 3600_000;
    const day = 24 * hour;
    expect(serverInfo.notBefore.getTime()).toBeLessThan(now - hour / 2);
    expect(Math.abs(serverInfo.notAfter.getTime() - serverInfo.notBefore.getTime() - 30 * day)).toBeLessThan(
      2000,
    );
    // The CA outlives the server certificate by a wide margin (at least 10 years).
    expect(caInfo.notAfter.getTime() - caInfo.notBefore.getTime()).toBeGreaterThanOrEqual(3650 * day - 2000);
  });

  it('verifies with openssl and carries the right extensions', () => {
    const files = writeForOpenssl(pem);
    const verify = openssl('verify', '-CAfile', files.ca, files.server);
    expect(verify.out).toContain(`${files.server}: OK`);
    expect(verify.status).toBe(0);

    const caText = openssl('x509', '-noout', '-text', '-in', files.ca).out;
    expect(caText).toContain('CA:TRUE, pathlen:0');
    expect(caText).toContain('Certificate Sign, CRL Sign');
    expect(caText).toContain('X509v3 Subject Key Identifier');

    const serverText = openssl('x509', '-noout', '-text', '-in', files.server).out;
    expect(serverText).toContain('CA:FALSE');
    expect(serverText).toContain('TLS Web Server Authentication');
    expect(serverText).toContain('X509v3 Authority Key Identifier');
    expect(serverText).toContain(
      keyType === 'rsa' ? 'Digital Signature, Key Encipherment' : 'Digital Signature',
    );
    expect(serverText).toContain(keyType === 'rsa' ? 'sha256WithRSAEncryption' : 'ecdsa-with-SHA256');
  });
});

describe('generateDevCertificates options', () => {
  it('defaults to localhost and both loopback addresses', () => {
    expect(DEFAULT_CERT_HOSTS).toEqual(['localhost', '127.0.0.1', '::1']);
  });

  it.each<[string, Partial<CertOptions>]>([
    ['no hosts', { hosts: [] }],
    ['an empty host', { hosts: ['localhost', ''] }],
    ['a host with spaces', { hosts: ['bad host'] }],
    ['an IPv6 zone id', { hosts: ['fe80::1%eth0'] }],
    ['zero days', { days: 0 }],
    ['fractional days', { days: 1.5 }],
    ['too many days', { days: 36501 }],
    ['NaN days', { days: Number.NaN }],
    ['an odd RSA size', { keyType: 'rsa', rsaBits: 1024 as CertOptions['rsaBits'] }],
    ['an unknown key type', { keyType: 'dsa' as KeyType }],
  ])('rejects %s with a one-line CertOptionsError', async (_name, overrides) => {
    const promise = generateDevCertificates(options(overrides));
    await expect(promise).rejects.toBeInstanceOf(CertOptionsError);
    await expect(promise).rejects.toThrow(/^[^\n]+$/);
  });

  it('accepts an IPv4-mapped IPv6 address as an IP SAN', async () => {
    const pem = await generateDevCertificates(options({ hosts: ['proxy', '::ffff:10.0.0.1'] }));
    const cert = new X509Certificate(pem.serverCert);
    expect(cert.checkIP('::ffff:10.0.0.1')).toBe('::ffff:10.0.0.1');
  });
});

describe('writeCertificates', () => {
  let pem: GeneratedPem;
  let previousUmask: number;

  beforeAll(async () => {
    pem = await generateDevCertificates(options());
  });
  beforeEach(() => {
    previousUmask = process.umask(0);
  });
  afterEach(() => {
    process.umask(previousUmask);
  });

  const modeOf = (file: string): number => fs.statSync(file).mode & 0o777;

  it('names the four files inside the directory', () => {
    expect(certPathsIn('out')).toEqual({
      dir: 'out',
      caCert: path.join('out', 'ca.pem'),
      caKey: path.join('out', 'ca-key.pem'),
      serverCert: path.join('out', 'server.pem'),
      serverKey: path.join('out', 'server-key.pem'),
    });
  });

  it('writes keys 0600, certificates 0644 and creates the directory 0700', async () => {
    const paths = certPathsIn(path.join(tmpDir(), 'nested', 'certs'));
    await writeCertificates(paths, pem, { force: false });

    expect(modeOf(paths.dir)).toBe(0o700);
    expect(modeOf(paths.caKey)).toBe(0o600);
    expect(modeOf(paths.serverKey)).toBe(0o600);
    expect(modeOf(paths.caCert)).toBe(0o644);
    expect(modeOf(paths.serverCert)).toBe(0o644);
    expect(fs.readFileSync(paths.serverCert, 'utf8')).toBe(pem.serverCert);
    expect(fs.readFileSync(paths.caKey, 'utf8')).toBe(pem.caKey);
    expect(fs.readdirSync(paths.dir).sort()).toEqual([
      'ca-key.pem',
      'ca.pem',
      'server-key.pem',
      'server.pem',
    ]);
  });

  it('sets exact modes even under a restrictive umask', async () => {
    process.umask(0o077);
    const paths = certPathsIn(path.join(tmpDir(), 'certs'));
    await writeCertificates(paths, pem, { force: false });
    expect(modeOf(paths.caCert)).toBe(0o644);
    expect(modeOf(paths.serverKey)).toBe(0o600);
  });

  it('leaves the mode of an existing directory alone', async () => {
    const dir = tmpDir();
    fs.chmodSync(dir, 0o755);
    await writeCertificates(certPathsIn(dir), pem, { force: false });
    expect(modeOf(dir)).toBe(0o755);
  });

  it('refuses to overwrite without force and leaves the files unchanged', async () => {
    const paths = certPathsIn(tmpDir());
    fs.writeFileSync(paths.serverCert, 'old cert');

    const attempt = writeCertificates(paths, pem, { force: false });
    await expect(attempt).rejects.toBeInstanceOf(CertFilesExistError);
    await expect(attempt).rejects.toThrow(/--force/);
    await expect(attempt).rejects.toMatchObject({ files: [paths.serverCert] });

    expect(fs.readFileSync(paths.serverCert, 'utf8')).toBe('old cert');
    expect(fs.existsSync(paths.caCert)).toBe(false); // nothing half-written
    expect(fs.readdirSync(paths.dir)).toEqual(['server.pem']); // and no temp files left
  });

  it('overwrites with force', async () => {
    const paths = certPathsIn(tmpDir());
    fs.writeFileSync(paths.serverKey, 'old key', { mode: 0o666 });
    await writeCertificates(paths, pem, { force: true });
    expect(fs.readFileSync(paths.serverKey, 'utf8')).toBe(pem.serverKey);
    expect(modeOf(paths.serverKey)).toBe(0o600);
    expect(fs.readdirSync(paths.dir)).toHaveLength(4);
  });
});

describe('TLS handshake with generated certificates', () => {
  let pem: GeneratedPem;
  let server: tls.Server;
  let port: number;

  beforeAll(async () => {
    pem = await generateDevCertificates(options({ hosts: DEFAULT_CERT_HOSTS }));
    server = tls.createServer({ cert: pem.serverCert, key: pem.serverKey }, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Resolves with the authorization result, or rejects with the verification error. */
  function connect(extra: tls.ConnectionOptions): Promise<{ authorized: boolean }> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca: pem.caCert, ...extra }, () => {
        const authorized = socket.authorized;
        socket.destroy();
        resolve({ authorized });
      });
      socket.on('error', reject);
    });
  }

  it('is authorized for servername localhost via the DNS SAN', async () => {
    await expect(connect({ servername: 'localhost' })).resolves.toEqual({ authorized: true });
  });

  it('is authorized for a bare 127.0.0.1 via the IP SAN', async () => {
    await expect(connect({})).resolves.toEqual({ authorized: true });
  });

  it('is rejected for a name that is not in the certificate', async () => {
    await expect(connect({ servername: 'elsewhere.example' })).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  it('is rejected without the CA', async () => {
    await expect(connect({ servername: 'localhost', ca: undefined })).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });
});
