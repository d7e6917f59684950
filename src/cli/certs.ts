/**
 * `mysql-tls-proxy certs`: generate a development CA and a server certificate
 * signed by it, so clients can connect with full verification
 * (--ssl-verify-server-cert / --ssl-mode=VERIFY_IDENTITY) from day one.
 */
import { statSync } from 'node:fs';
import type { Argv, ArgumentsCamelCase, CommandModule } from 'yargs';
import {
  CertOptionsError,
  DEFAULT_CERT_HOSTS,
  generateDevCertificates,
  type CertOptions,
  type KeyType,
} from '../tls/dev-certs';
import {
  CertFilesExistError,
  certPathsIn,
  describeCertificate,
  writeCertificates,
  type CertPaths,
} from '../tls/cert-files';

export interface CertsArgs {
  out: string;
  host: string[];
  'key-type': KeyType;
  'rsa-bits': number;
  days: number;
  force: boolean;
}

const KEY_TYPES: ReadonlyArray<KeyType> = ['ecdsa', 'rsa'];

function builder(yargs: Argv<object>): Argv<CertsArgs> {
  return yargs
    .option('out', {
      alias: 'o',
      type: 'string',
      default: 'certs',
      describe: 'Directory to write ca.pem, ca-key.pem, server.pem and server-key.pem into (created 0700)',
    })
    .option('host', {
      type: 'string',
      array: true,
      default: DEFAULT_CERT_HOSTS,
      // Comma lists are accepted too, so `--host a,b` works like `--host a --host b`.
      coerce: (hosts: string[]) => hosts.flatMap((h) => String(h).split(',')).filter((h) => h !== ''),
      describe:
        'Host name or IP address clients will connect to; repeatable. Goes into the server ' +
        'certificate as a DNS or IP subjectAltName; the first one is also the CN. ' +
        'Giving --host replaces the default list',
    })
    .option('key-type', {
      type: 'string',
      choices: KEY_TYPES,
      default: 'ecdsa' as KeyType,
      describe: 'Key algorithm for both CA and server: ecdsa (P-256, SHA-256) or rsa (SHA-256)',
    })
    .option('rsa-bits', {
      type: 'number',
      default: 2048,
      describe: 'RSA modulus size when --key-type=rsa: 2048, 3072 or 4096',
    })
    .option('days', {
      type: 'number',
      default: 365,
      describe: 'Validity of the server certificate in days (1-36500); the CA lasts at least 10 years',
    })
    .option('force', {
      type: 'boolean',
      default: false,
      describe: 'Overwrite existing certificate and key files in --out',
    });
}

async function handler(args: ArgumentsCamelCase<CertsArgs>): Promise<void> {
  try {
    const pem = await generateDevCertificates(toCertOptions(args));
    const paths = certPathsIn(args.out);
    await writeCertificates(paths, pem, { force: args.force });
    process.stdout.write(summary(paths, pem.caCert, pem.serverCert));
  } catch (err) {
    // Expected user errors get one line and a distinct exit code; anything else is a bug
    // or an I/O failure and is left to the top-level handler with its stack.
    if (err instanceof CertFilesExistError || err instanceof CertOptionsError) {
      process.stderr.write(`mysql-tls-proxy: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

function toCertOptions(args: CertsArgs): CertOptions {
  return {
    hosts: args.host,
    keyType: args['key-type'],
    // Checked against 2048/3072/4096 by generateDevCertificates, which reports a clean error.
    rsaBits: args['rsa-bits'] as CertOptions['rsaBits'],
    days: args.days,
  };
}

// ---------------------------------------------------------------------------
// Human summary

function summary(paths: CertPaths, caCertPem: string, serverCertPem: string): string {
  const files: Array<[string, string]> = [
    [paths.caCert, 'CA certificate: give this to clients'],
    [paths.caKey, 'CA private key: keep secret'],
    [paths.serverCert, 'server certificate for the proxy'],
    [paths.serverKey, 'server private key for the proxy: keep secret'],
  ];
  const width = Math.max(...files.map(([file]) => file.length));
  return [
    `Wrote development certificates to ${paths.dir}:`,
    ...files.map(([file, role]) => `  ${file.padEnd(width)}  ${modeOf(file)}  ${role}`),
    '',
    ...describeBlock('CA certificate', caCertPem),
    '',
    ...describeBlock('Server certificate', serverCertPem),
    '',
    'Clients verify the proxy against the CA, for example:',
    `  mariadb --ssl-ca=${paths.caCert} --ssl-verify-server-cert -h <host> -P <port> -u <user> -p`,
    `  mysql --ssl-ca=${paths.caCert} --ssl-mode=VERIFY_IDENTITY -h <host> -P <port> -u <user> -p`,
    '',
  ].join('\n');
}

function describeBlock(title: string, pem: string): string[] {
  const info = describeCertificate(pem);
  return [
    `${title}:`,
    `  subject:   ${info.subject}`,
    ...(info.sans.length > 0 ? [`  SANs:      ${info.sans.join(', ')}`] : []),
    `  key:       ${info.keyType}`,
    `  SHA-256:   ${info.fingerprintSha256}`,
    `  notAfter:  ${info.notAfter.toISOString()}`,
  ];
}

/** The mode actually on disk, as four octal digits (e.g. 0600), not what we asked for. */
function modeOf(file: string): string {
  return (statSync(file).mode & 0o7777).toString(8).padStart(4, '0');
}

export const certsCommand: CommandModule<object, CertsArgs> = {
  command: 'certs',
  describe: 'Generate a development CA and a server certificate signed by it',
  builder,
  handler,
};
