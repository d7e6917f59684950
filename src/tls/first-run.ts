import fs from 'node:fs';
import path from 'node:path';
import { certPathsIn, writeCertificates } from './cert-files';
import { DEFAULT_CERT_HOSTS, generateDevCertificates } from './dev-certs';
import { ConfigError } from '../core/errors';

/**
 * First run: when neither the server certificate nor its key exists, generate a development CA and
 * an ECDSA P-256 server certificate (SANs localhost, 127.0.0.1, ::1), so the very first
 * `serve` gives clients something to verify. Returns true when it generated files.
 */
export async function ensureDevCertificates(files: {
  cert: string;
  key: string;
  caFile: string;
}): Promise<boolean> {
  const haveCert = fs.existsSync(files.cert);
  const haveKey = fs.existsSync(files.key);
  if (haveCert && haveKey) return false;
  if (haveCert !== haveKey) {
    const missing = haveCert ? files.key : files.cert;
    throw new ConfigError(
      `${missing} is missing while its pair exists; restore it or remove both to regenerate`,
    );
  }
  const dir = path.dirname(files.cert);
  const paths = { ...certPathsIn(dir), serverCert: files.cert, serverKey: files.key, caCert: files.caFile };
  if (fs.existsSync(paths.caCert) || fs.existsSync(paths.caKey)) {
    throw new ConfigError(
      `${files.cert} is missing but a CA exists in ${dir}; run 'mysql-tls-proxy certs --out ${dir} --force' to regenerate`,
    );
  }
  const pem = await generateDevCertificates({
    hosts: DEFAULT_CERT_HOSTS,
    keyType: 'ecdsa',
    rsaBits: 2048,
    days: 365,
  });
  await writeCertificates(paths, pem, { force: false });
  return true;
}
