/**
 * `mysql-tls-proxy certs`: generate a development CA and a server certificate
 * signed by it, so clients can connect with full verification
 * (--ssl-verify-server-cert / --ssl-mode=VERIFY_IDENTITY) from day one.
 */
import { readFileSync, statSync } from 'node:fs';
import type { FlagSpec } from '../config/flags';
import { addFlags } from './flag-options';
import type { Argv, ArgumentsCamelCase, CommandModule } from 'yargs';
import {
  CertOptionsError,
  DEFAULT_CERT_HOSTS,
  generateDevCertificates,
  issueServerCertificate,
  type CertOptions,
  type KeyType,
} from '../tls/dev-certs';
import {
  CertFilesExistError,
  certPathsIn,
  describeCertificate,
  writeCertificates,
  writeServerCertificate,
  type CertPaths,
} from '../tls/cert-files';

export interface CertsArgs {
  out: string;
  host: string[];
  'default-hosts': boolean;
  'keep-ca': boolean;
  'key-type': KeyType;
  'rsa-bits': number;
  days: number;
  force: boolean;
}

const KEY_TYPES: ReadonlyArray<KeyType> = ['ecdsa', 'rsa'];

export const CERTS_FLAGS: readonly FlagSpec[] = [
  {
    name: 'out',
    commands: ['certs'],
    alias: 'o',
    type: 'string',
    default: 'certs',
    describe: 'Directory to write ca.pem, ca-key.pem, server.pem and server-key.pem into (created 0700)',
  },
  {
    name: 'host',
    commands: ['certs'],
    type: 'list',
    default: [] as string[],
    // Comma lists are accepted too, so `--host a,b` works like `--host a --host b`.
    coerce: (hosts: string[]) => hosts.flatMap((h) => String(h).split(',')).filter((h) => h !== ''),
    describe:
      'Host name or IP address clients will connect to; repeatable. Added to the server ' +
      'certificate as a DNS or IP subjectAltName, before the defaults; the first one is also the CN',
  },
  {
    name: 'default-hosts',
    commands: ['certs'],
    type: 'boolean',
    default: true,
    describe: `Also put ${DEFAULT_CERT_HOSTS.join(', ')} into the certificate (--no-default-hosts: only --host)`,
  },
  {
    name: 'keep-ca',
    commands: ['certs'],
    type: 'boolean',
    default: false,
    describe:
      'Rotation: keep ca.pem and ca-key.pem in --out and issue only a new server certificate and key ' +
      'signed by them (replaces server.pem and server-key.pem; a running proxy picks them up by itself)',
  },
  {
    name: 'key-type',
    commands: ['certs'],
    type: 'string',
    choices: KEY_TYPES,
    default: 'ecdsa' as KeyType,
    describe: 'Key algorithm for both CA and server: ecdsa (P-256, SHA-256) or rsa (SHA-256)',
  },
  {
    name: 'rsa-bits',
    commands: ['certs'],
    type: 'number',
    default: 2048,
    describe: 'RSA modulus size when --key-type=rsa: 2048, 3072 or 4096',
  },
  {
    name: 'days',
    commands: ['certs'],
    type: 'number',
    default: 365,
    describe: 'Validity of the server certificate in days (1-36500); the CA lasts at least 10 years',
  },
  {
    name: 'force',
    commands: ['certs'],
    type: 'boolean',
    default: false,
    describe: 'Overwrite existing certificate and key files in --out',
  },
];

function builder(yargs: Argv<object>): Argv<CertsArgs> {
  return addFlags(yargs, 'certs', CERTS_FLAGS) as unknown as Argv<CertsArgs>;
}

async function handler(args: ArgumentsCamelCase<CertsArgs>): Promise<void> {
  try {
    const paths = certPathsIn(args.out);
    if (args['keep-ca']) {
      const ca = readCa(paths);
      const pem = await issueServerCertificate(ca, toCertOptions(args));
      await writeServerCertificate(paths, pem);
      process.stdout.write(summary(paths, ca.cert, pem.serverCert, true));
      return;
    }
    const pem = await generateDevCertificates(toCertOptions(args));
    await writeCertificates(paths, pem, { force: args.force });
    process.stdout.write(summary(paths, pem.caCert, pem.serverCert, false));
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

function readCa(paths: CertPaths): { cert: string; key: string } {
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new CertOptionsError(`--keep-ca: cannot read ${file} (${code})`);
    }
  };
  return { cert: read(paths.caCert), key: read(paths.caKey) };
}

/** --host values first (the first is the CN), then the defaults unless --no-default-hosts. */
export function certificateHosts(hosts: string[], defaults: boolean): string[] {
  const all = [...hosts, ...(defaults ? DEFAULT_CERT_HOSTS : [])];
  return all.filter((host, i) => all.indexOf(host) === i);
}

function toCertOptions(args: CertsArgs): CertOptions {
  return {
    hosts: certificateHosts(args.host, args['default-hosts']),
    keyType: args['key-type'],
    // Checked against 2048/3072/4096 by generateDevCertificates, which reports a clean error.
    rsaBits: args['rsa-bits'] as CertOptions['rsaBits'],
    days: args.days,
  };
}

// ---------------------------------------------------------------------------
// Human summary

function summary(paths: CertPaths, caCertPem: string, serverCertPem: string, keptCa: boolean): string {
  const files: Array<[string, string]> = [
    ...(keptCa
      ? []
      : ([
          [paths.caCert, 'CA certificate: give this to clients'],
          [paths.caKey, 'CA private key: keep secret'],
        ] as Array<[string, string]>)),
    [paths.serverCert, 'server certificate for the proxy'],
    [paths.serverKey, 'server private key for the proxy: keep secret'],
  ];
  const width = Math.max(...files.map(([file]) => file.length));
  return [
    keptCa
      ? `Issued a new server certificate with the existing CA ${paths.caCert} (clients keep trusting it):`
      : `Wrote development certificates to ${paths.dir}:`,
    ...files.map(([file, role]) => `  ${file.padEnd(width)}  ${modeOf(file)}  ${role}`),
    '',
    ...describeBlock('CA certificate', caCertPem),
    '',
    ...describeBlock('Server certificate', serverCertPem),
    '',
    ...(keptCa
      ? [
          'A running proxy serves the new certificate to new connections within a second (it watches',
          'the files; SIGHUP forces a reload). Open sessions keep the certificate they started with.',
        ]
      : [
          'Clients verify the proxy against the CA, for example:',
          `  mariadb --protocol=TCP --ssl-ca=${paths.caCert} --ssl-verify-server-cert -h <host> -P <port> -u <user> -p`,
          `  mysql --ssl-ca=${paths.caCert} --ssl-mode=VERIFY_IDENTITY -h <host> -P <port> -u <user> -p`,
          "Examples for every client, with a host name from the certificate: 'mysql-tls-proxy connect-info'",
        ]),
    '',
  ].join('\n');
}

function describeBlock(title: string, pem: string): string[] {
  const info = describeCertificate(pem);
  return [
    `${title}:`,
    `  subject:   ${info.subject}`,
    `  serial:    ${info.serial}`,
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
