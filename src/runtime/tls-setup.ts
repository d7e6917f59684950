import fs from 'node:fs';
import { ConfigError } from '../core/errors';
import type { ServeConfig } from '../config/serve-config';
import type { Logger } from '../observability/logger';
import {
  CredentialsError,
  loadCredentials,
  parseCertificates,
  publishableCa,
  type LoadedCredentials,
  type TlsPolicy,
} from '../tls/credentials';
import { ensureDevCertificates } from '../tls/first-run';

export function tlsPolicy(config: ServeConfig): TlsPolicy {
  const { minVersion, maxVersion, ciphers, ecdhCurves } = config.tls;
  return { minVersion, maxVersion, ciphers, ecdhCurves };
}

export function credentialPaths(config: ServeConfig): { cert: string; key: string; caFile: string } {
  return { cert: config.tls.cert, key: config.tls.key, caFile: config.tls.caFile };
}

/** First run (development certificates when neither default file exists); done once per service. */
export async function ensureCertificates(config: ServeConfig, logger: Logger): Promise<void> {
  if (!config.tls.generateIfMissing) return;
  if (!(await ensureDevCertificates(credentialPaths(config)))) return;
  const { caFile, cert, key } = config.tls;
  logger.info(
    { event: 'certificates_generated', ca: caFile, cert, key },
    `generated a development CA and server certificate (clients should trust ${caFile})`,
  );
}

/** Certificate, key and CA as configured; an unreadable or mismatched pair is a ConfigError. */
export function readCredentials(config: ServeConfig): LoadedCredentials {
  try {
    return loadCredentials(credentialPaths(config), tlsPolicy(config));
  } catch (error) {
    if (error instanceof CredentialsError) throw new ConfigError(error.message);
    throw error;
  }
}

export function readConfiguredFile(path: string, flag: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`cannot read ${flag} ${path}: ${reason}`);
  }
}

/** What /ca.pem serves of the CA file now: its certificates only; undefined without any. */
export function readPublicCa(path: string): Buffer | undefined {
  let pem: Buffer;
  try {
    pem = fs.readFileSync(path);
  } catch {
    return undefined;
  }
  const certificates = parseCertificates(pem);
  return certificates.length > 0 ? publishableCa(certificates) : undefined;
}
