import { X509Certificate, createPrivateKey } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CertOptionsError,
  generateDevCertificates,
  issueServerCertificate,
  type CertOptions,
  type KeyType,
} from '../../../src/tls/dev-certs';

const options = (overrides: Partial<CertOptions> = {}): CertOptions => ({
  hosts: ['db.example.test', '10.0.0.7'],
  keyType: 'ecdsa',
  rsaBits: 2048,
  days: 90,
  ...overrides,
});

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'issue-test-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function opensslVerify(caPem: string, certPem: string): string {
  const ca = path.join(dir, `ca-${Math.random()}.pem`);
  const cert = path.join(dir, `cert-${Math.random()}.pem`);
  fs.writeFileSync(ca, caPem);
  fs.writeFileSync(cert, certPem);
  const res = spawnSync(
    'openssl',
    ['verify', '-x509_strict', '-CAfile', ca, '-verify_hostname', 'db.example.test', cert],
    {
      encoding: 'utf8',
    },
  );
  return `${res.stdout}${res.stderr}`.trim();
}

describe.each<[KeyType, KeyType]>([
  ['ecdsa', 'ecdsa'],
  ['rsa', 'ecdsa'],
  ['ecdsa', 'rsa'],
])('a %s CA issuing a %s server certificate', (caType, serverType) => {
  it('chains to the existing CA, with the requested SANs and a fresh key and serial', async () => {
    const first = await generateDevCertificates(options({ keyType: caType, hosts: ['localhost'] }));
    const issued = await issueServerCertificate(
      { cert: first.caCert, key: first.caKey },
      options({ keyType: serverType }),
    );
    const ca = new X509Certificate(first.caCert);
    const cert = new X509Certificate(issued.serverCert);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(issued.serverKey))).toBe(true);
    expect(cert.serialNumber).not.toBe(new X509Certificate(first.serverCert).serialNumber);
    expect(cert.subjectAltName).toBe('DNS:db.example.test, IP Address:10.0.0.7');
    expect(cert.publicKey.asymmetricKeyType).toBe(serverType === 'rsa' ? 'rsa' : 'ec');
    expect(opensslVerify(first.caCert, issued.serverCert)).toMatch(/: OK$/);
  });
});

it('never lets the server certificate outlive the CA', async () => {
  const first = await generateDevCertificates(options());
  const caNotAfter = new Date(new X509Certificate(first.caCert).validTo);
  const issued = await issueServerCertificate(
    { cert: first.caCert, key: first.caKey },
    options({ days: 36500 }),
  );
  expect(new Date(new X509Certificate(issued.serverCert).validTo).getTime()).toBe(caNotAfter.getTime());
});

it('refuses a CA key that does not belong to the CA certificate', async () => {
  const a = await generateDevCertificates(options());
  const b = await generateDevCertificates(options());
  await expect(issueServerCertificate({ cert: a.caCert, key: b.caKey }, options())).rejects.toThrow(
    /does not belong to the CA certificate/,
  );
});

it('refuses a leaf certificate as CA and garbage input, with CertOptionsError', async () => {
  const a = await generateDevCertificates(options());
  await expect(issueServerCertificate({ cert: a.serverCert, key: a.serverKey }, options())).rejects.toThrow(
    CertOptionsError,
  );
  await expect(issueServerCertificate({ cert: 'nope', key: a.caKey }, options())).rejects.toThrow(
    CertOptionsError,
  );
  await expect(issueServerCertificate({ cert: a.caCert, key: 'nope' }, options())).rejects.toThrow(
    CertOptionsError,
  );
});
