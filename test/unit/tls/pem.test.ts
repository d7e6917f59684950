/**
 * PEM splitting and what /ca.pem may publish of a CA file (SECURITY.md, "Nothing secret is
 * published by accident"): a bundle that also holds the CA's private key publishes its
 * certificates and nothing else.
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCredentials, parseCertificates, publishableCa } from '../../../src/tls/credentials';
import { generateDevCertificates, type GeneratedPem } from '../../../src/tls/dev-certs';
import { otherLabels, splitPem } from '../../../src/tls/pem';

let pem: GeneratedPem;
beforeAll(async () => {
  pem = await generateDevCertificates({ hosts: ['localhost'], keyType: 'ecdsa', rsaBits: 2048, days: 2 });
});

const KEY_BODY = /BEGIN (EC |RSA )?PRIVATE KEY|END (EC |RSA )?PRIVATE KEY/;
/** The base64 body of a PEM block, so a test can look for the key's bytes, not just its label. */
const bodyOf = (block: string): string => block.split('\n').slice(1, -1).join('');

describe('splitPem', () => {
  it('returns every block in file order with its label, text between blocks dropped', () => {
    const bundle = `Bag Attributes: friendlyName\n${pem.caCert}\nsubject=whatever\n${pem.caKey}${pem.serverCert}`;
    const blocks = splitPem(bundle);
    expect(blocks.map((b) => b.label)).toEqual(['CERTIFICATE', 'PRIVATE KEY', 'CERTIFICATE']);
    expect(blocks[0].text).toBe(pem.caCert.trim());
    expect(blocks[1].text).toBe(pem.caKey.trim());
    expect(blocks[2].text).toBe(pem.serverCert.trim());
  });

  it('reads CRLF files and indented lines', () => {
    const crlf = pem.caCert.replace(/\n/g, '\r\n').replace(/^/gm, '  ');
    expect(splitPem(crlf)).toEqual([{ label: 'CERTIFICATE', text: pem.caCert.trim() }]);
  });

  it('an unterminated block is dropped and does not swallow the next one', () => {
    const truncatedKey = pem.caKey.split('\n').slice(0, 3).join('\n');
    const blocks = splitPem(`${truncatedKey}\n${pem.caCert}`);
    expect(blocks.map((b) => b.label)).toEqual(['CERTIFICATE']);
  });

  it('an END with another label does not close a block', () => {
    const mixed = pem.caKey.replace('-----END PRIVATE KEY-----', '-----END CERTIFICATE-----');
    expect(splitPem(mixed)).toEqual([]);
  });

  it('otherLabels names what is not a certificate', () => {
    expect(otherLabels(pem.caCert + pem.caKey)).toEqual(['PRIVATE KEY']);
    expect(otherLabels(pem.caCert)).toEqual([]);
  });
});

describe('what /ca.pem publishes of a CA file', () => {
  it('keeps the certificates of a bundle and drops its private key', () => {
    const bundle = Buffer.from(pem.caCert + pem.caKey + pem.serverCert);
    const published = publishableCa(parseCertificates(bundle)).toString();
    expect(published).not.toMatch(KEY_BODY);
    expect(published).not.toContain(bodyOf(pem.caKey.trim()));
    expect(splitPem(published).map((b) => new X509Certificate(b.text).fingerprint256)).toEqual([
      new X509Certificate(pem.caCert).fingerprint256,
      new X509Certificate(pem.serverCert).fingerprint256,
    ]);
  });

  it('drops a key pasted into a CERTIFICATE block (it does not parse as one)', () => {
    const disguised = pem.caKey.replace(/PRIVATE KEY/g, 'CERTIFICATE');
    const published = publishableCa(parseCertificates(disguised + pem.caCert)).toString();
    expect(published).not.toContain(bodyOf(pem.caKey.trim()));
    expect(splitPem(published)).toHaveLength(1);
  });

  it('loadCredentials serves only the certificates and warns that the file holds a key', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mtp-pem-'));
    try {
      const file = (name: string, text: string) => (
        fs.writeFileSync(path.join(dir, name), text),
        path.join(dir, name)
      );
      const loaded = loadCredentials(
        {
          cert: file('server.pem', pem.serverCert),
          key: file('server-key.pem', pem.serverKey),
          caFile: file('bundle.pem', pem.caCert + pem.caKey),
        },
        { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', ciphers: 'DEFAULT', ecdhCurves: 'auto' },
      );
      expect(loaded.ca!.toString()).not.toMatch(KEY_BODY);
      expect(loaded.ca!.toString().trim()).toBe(pem.caCert.trim());
      expect(loaded.warnings).toEqual([
        expect.stringMatching(
          /bundle\.pem \(--ca-file\) also holds PRIVATE KEY block\(s\): \/ca\.pem publishes only/,
        ),
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
