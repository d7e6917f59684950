/**
 * Ready-to-paste connection examples that verify the proxy's identity (CA + host name against the
 * certificate's SANs, i.e. VERIFY_IDENTITY) for the common MySQL clients.
 *
 * Pure text generation: no file or network I/O. The password is never part of the output; every
 * example reads it from an environment variable (DB_PASSWORD by default).
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';

export interface ConnectTarget {
  /** Host name clients connect to; should match a SAN of the served certificate (see chooseHost). */
  host: string;
  port: number;
  /**
   * Absolute path of the CA file clients should trust. Undefined: the certificate is from a public
   * CA and clients use their system trust store.
   */
  caFile?: string;
  user: string;
  database: string;
  /** Environment variable that holds the password in every example. */
  passwordEnv: string;
}

export const CLIENT_IDS = [
  'mariadb',
  'mysql',
  'mysql2',
  'go',
  'pymysql',
  'mysqlclient',
  'jdbc-mysql',
  'jdbc-mariadb',
] as const;
export type ClientId = (typeof CLIENT_IDS)[number];

export interface ConnectExample {
  id: ClientId;
  title: string;
  /** What to paste: a shell command, a source snippet or a URL (with any one-time setup first). */
  code: string;
  note?: string;
}

/** The system CA bundle on Debian/Ubuntu (and, by symlink, most other Linux distributions). */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface HostChoice {
  host: string;
  /** Whether the certificate is valid for this host name or IP. */
  matches: boolean;
  why: string;
}

/**
 * Picks the host name for the examples: it must match a SAN of the served certificate, or
 * verification fails. An explicit `preferred` host wins (and is checked). A wildcard listener
 * (0.0.0.0, ::) gets the certificate's first DNS name; a loopback listener gets `localhost` when
 * the certificate has it (IP SANs are not checked by every client, e.g. mysql2); any other
 * listen IP is used if the certificate has it as an IP SAN, else the first DNS name.
 */
export function chooseHost(certPem: string | Buffer, listenHost: string, preferred?: string): HostChoice {
  const cert = new X509Certificate(certPem);
  const valid = (host: string) =>
    net.isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
  if (preferred) {
    const matches = valid(preferred);
    return {
      host: preferred,
      matches,
      why: matches ? 'given with --host' : `given with --host, but NOT in the certificate's SANs`,
    };
  }
  const { dns, ips } = subjectAltNames(cert);
  const firstDns = dns.find((name) => !name.startsWith('*.'));
  const wildcard = listenHost === '0.0.0.0' || listenHost === '::' || listenHost === '';
  const loopback = /^127\./.test(listenHost) || listenHost === '::1' || listenHost === 'localhost';
  if (loopback && dns.includes('localhost')) {
    return { host: 'localhost', matches: true, why: 'loopback listener; localhost is in the certificate' };
  }
  if (!wildcard && valid(listenHost)) {
    return { host: listenHost, matches: true, why: 'the listen address is in the certificate' };
  }
  if (firstDns) return { host: firstDns, matches: true, why: "the certificate's first DNS name" };
  if (ips.length > 0) return { host: ips[0], matches: true, why: "the certificate's first IP address" };
  return {
    host: wildcard ? 'localhost' : listenHost,
    matches: false,
    why: 'the certificate has no usable subjectAltName: clients that verify the host name will refuse it',
  };
}

/** DNS and IP subjectAltNames in certificate order. */
export function subjectAltNames(cert: X509Certificate): { dns: string[]; ips: string[] } {
  const dns: string[] = [];
  const ips: string[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(/, (?=[A-Za-z ]+:)/)) {
    const colon = entry.indexOf(':');
    const type = entry.slice(0, colon);
    const value = entry.slice(colon + 1).replace(/^"|"$/g, '');
    if (type === 'DNS') dns.push(value);
    else if (type === 'IP Address') ips.push(value);
  }
  return { dns, ips };
}

/** What every example needs: the password variable, the CA file (if any), host:port. */
interface ExampleInputs {
  env: string;
  ca: string | undefined;
  hostPort: string;
  /** The CA for command-line clients: the given file, else the system bundle. */
  cliCa: string;
}

export function connectExamples(t: ConnectTarget): ConnectExample[] {
  const ca = t.caFile;
  const inputs: ExampleInputs = {
    env: t.passwordEnv,
    ca,
    hostPort: net.isIPv6(t.host) ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`,
    cliCa: ca ?? SYSTEM_CA_BUNDLE,
  };
  return [
    ...cliExamples(t, inputs),
    ...nodeExamples(t, inputs),
    ...goExamples(t, inputs),
    ...pythonExamples(t, inputs),
    ...javaExamples(t, inputs),
  ];
}

/** The mariadb and mysql command-line clients. */
function cliExamples(t: ConnectTarget, inputs: ExampleInputs): ConnectExample[] {
  const { env, cliCa } = inputs;
  return [
    {
      id: 'mariadb',
      title: 'mariadb CLI (MariaDB client)',
      code: [
        'mariadb --protocol=TCP',
        `-h ${sh(t.host)} -P ${t.port} -u ${sh(t.user)} --password="$${env}"`,
        `--ssl-ca=${sh(cliCa)} --ssl-verify-server-cert ${sh(t.database)}`,
      ].join(' '),
    },
    {
      id: 'mysql',
      title: 'mysql CLI (Oracle MySQL client 8.0+)',
      code: [
        'mysql --protocol=TCP',
        `-h ${sh(t.host)} -P ${t.port} -u ${sh(t.user)} --password="$${env}"`,
        `--ssl-mode=VERIFY_IDENTITY --ssl-ca=${sh(cliCa)} --tls-version=TLSv1.2,TLSv1.3 ${sh(t.database)}`,
      ].join(' '),
    },
  ];
}

/** Node.js. */
function nodeExamples(t: ConnectTarget, inputs: ExampleInputs): ConnectExample[] {
  const { env, ca } = inputs;
  return [
    {
      id: 'mysql2',
      title: 'Node.js (mysql2)',
      code: [
        ...(ca ? ["const fs = require('node:fs');"] : []),
        "const mysql = require('mysql2/promise');",
        '',
        '(async () => {',
        '  const conn = await mysql.createConnection({',
        `    host: ${js(t.host)},`,
        `    port: ${t.port},`,
        `    user: ${js(t.user)},`,
        `    password: process.env.${env},`,
        `    database: ${js(t.database)},`,
        // rejectUnauthorized defaults to true; verifyIdentity checks the host name against the SANs.
        ca
          ? `    ssl: { ca: fs.readFileSync(${js(ca)}), verifyIdentity: true, minVersion: 'TLSv1.2' },`
          : "    ssl: { verifyIdentity: true, minVersion: 'TLSv1.2' }, // Node's bundled public CAs",
        '  });',
        "  const [rows] = await conn.query('SELECT CURRENT_USER() AS user, VERSION() AS version');",
        '  console.log(rows[0]);',
        '  await conn.end();',
        '})();',
      ].join('\n'),
    },
  ];
}

/** Go. */
function goExamples(t: ConnectTarget, inputs: ExampleInputs): ConnectExample[] {
  const { env, ca, hostPort } = inputs;
  return [
    {
      id: 'go',
      title: 'Go (github.com/go-sql-driver/mysql)',
      code: [
        'import (',
        '\t"crypto/tls"',
        ...(ca ? ['\t"crypto/x509"'] : []),
        '\t"database/sql"',
        '\t"fmt"',
        '\t"os"',
        '',
        '\t"github.com/go-sql-driver/mysql"',
        ')',
        '',
        'func open() (*sql.DB, error) {',
        ...(ca
          ? [
              `\tpem, err := os.ReadFile(${go(ca)})`,
              '\tif err != nil {',
              '\t\treturn nil, err',
              '\t}',
              '\tpool := x509.NewCertPool()',
              '\tif !pool.AppendCertsFromPEM(pem) {',
              '\t\treturn nil, fmt.Errorf("no certificate in the CA file")',
              '\t}',
              `\terr = mysql.RegisterTLSConfig("mysql-tls-proxy", &tls.Config{RootCAs: pool, ServerName: ${go(t.host)}, MinVersion: tls.VersionTLS12})`,
            ]
          : [
              // RootCAs nil: the system trust store.
              `\terr := mysql.RegisterTLSConfig("mysql-tls-proxy", &tls.Config{ServerName: ${go(t.host)}, MinVersion: tls.VersionTLS12})`,
            ]),
        '\tif err != nil {',
        '\t\treturn nil, err',
        '\t}',
        `\tdsn := fmt.Sprintf("%s:%s@tcp(${goInner(hostPort)})/${goInner(t.database)}?tls=mysql-tls-proxy", ${go(t.user)}, os.Getenv(${go(env)}))`,
        '\treturn sql.Open("mysql", dsn)',
        '}',
      ].join('\n'),
    },
  ];
}

/** Python. */
function pythonExamples(t: ConnectTarget, inputs: ExampleInputs): ConnectExample[] {
  const { env, cliCa } = inputs;
  return [
    {
      id: 'pymysql',
      title: 'Python (PyMySQL)',
      code: [
        'import os',
        'import pymysql',
        '',
        'conn = pymysql.connect(',
        `    host=${py(t.host)}, port=${t.port}, user=${py(t.user)}, password=os.environ[${py(env)}], database=${py(t.database)},`,
        `    ssl_ca=${py(cliCa)}, ssl_verify_cert=True, ssl_verify_identity=True,`,
        ')',
      ].join('\n'),
    },
    {
      id: 'mysqlclient',
      title: 'Python (mysqlclient / MySQLdb, 2.2+)',
      code: [
        'import os',
        'import MySQLdb',
        '',
        'conn = MySQLdb.connect(',
        `    host=${py(t.host)}, port=${t.port}, user=${py(t.user)}, password=os.environ[${py(env)}], database=${py(t.database)},`,
        `    ssl_mode="VERIFY_IDENTITY", ssl={"ca": ${py(cliCa)}},`,
        ')',
      ].join('\n'),
    },
  ];
}

/** Java (JDBC). */
function javaExamples(t: ConnectTarget, inputs: ExampleInputs): ConnectExample[] {
  const { env, ca, hostPort } = inputs;
  return [
    {
      id: 'jdbc-mysql',
      title: 'Java (MySQL Connector/J 8.0+)',
      code: ca
        ? [
            '# once: put the CA into a PKCS#12 trust store (keytool comes with every JDK)',
            `keytool -importcert -noprompt -alias mysql-tls-proxy -file ${sh(ca)} -keystore ${sh(truststoreFor(ca))} -storetype PKCS12 -storepass changeit`,
            '# URL (user and password as connection properties)',
            `jdbc:mysql://${hostPort}/${t.database}?sslMode=VERIFY_IDENTITY&trustCertificateKeyStoreUrl=${fileUrl(truststoreFor(ca))}&trustCertificateKeyStoreType=PKCS12&trustCertificateKeyStorePassword=changeit&enabledTLSProtocols=TLSv1.2,TLSv1.3`,
          ].join('\n')
        : `jdbc:mysql://${hostPort}/${t.database}?sslMode=VERIFY_IDENTITY&enabledTLSProtocols=TLSv1.2,TLSv1.3`,
      note: `user=${t.user}, password from the ${env} environment variable`,
    },
    {
      id: 'jdbc-mariadb',
      title: 'Java (MariaDB Connector/J 3.x)',
      code: ca
        ? `jdbc:mariadb://${hostPort}/${t.database}?sslMode=verify-full&serverSslCert=${ca}`
        : `jdbc:mariadb://${hostPort}/${t.database}?sslMode=verify-full`,
      note: `user=${t.user}, password from the ${env} environment variable`,
    },
  ];
}

/** The full `connect-info` text: a header, then one section per client. */
export function renderConnectInfo(
  t: ConnectTarget,
  choice: HostChoice,
  extra: { caUrl?: string; only?: ReadonlyArray<ClientId> } = {},
): string {
  const lines = [
    `mysql-tls-proxy at ${t.host}:${t.port}, verified with ${t.caFile ? `the CA in ${t.caFile}` : "the clients' system trust store (no --ca-file)"}`,
    `host name: ${t.host} (${choice.why})`,
    ...(extra.caUrl ? [`the CA is also served at ${extra.caUrl}`] : []),
    `set the password first: export ${t.passwordEnv}='...'`,
  ];
  if (!choice.matches) {
    lines.push(
      `WARNING: ${t.host} is not in the certificate: issue one, e.g. 'mysql-tls-proxy certs --keep-ca --host ${t.host}'`,
    );
  }
  for (const example of connectExamples(t)) {
    if (extra.only && !extra.only.includes(example.id)) continue;
    lines.push('', `## ${example.title}`, '', example.code);
    if (example.note) lines.push(`(${example.note})`);
  }
  return lines.join('\n') + '\n';
}

/** The short block `serve` prints at startup (at most 8 lines). */
export function startupConnectBlock(t: ConnectTarget): string[] {
  const byId = new Map(connectExamples(t).map((e) => [e.id, e]));
  const ca = t.caFile ? `ssl: { ca: fs.readFileSync(${js(t.caFile)}), verifyIdentity: true }` : 'ssl: {}';
  return [
    `Connect with the server certificate verified (password in $${t.passwordEnv}):`,
    `  ${byId.get('mariadb')!.code}`,
    `  mysql2: { host: ${js(t.host)}, port: ${t.port}, ${ca} }`,
    '  Go, Python, JDBC and more: mysql-tls-proxy connect-info',
  ];
}

function truststoreFor(caFile: string): string {
  return caFile.replace(/\.pem$/i, '') + '-truststore.p12';
}

function fileUrl(file: string): string {
  return 'file:' + encodeURI(file);
}

/** POSIX shell word: unquoted when safe, else single-quoted. */
export function sh(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function js(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function py(text: string): string {
  return JSON.stringify(text);
}

function go(text: string): string {
  return JSON.stringify(text);
}

/** Text placed inside an already quoted Go string literal. */
function goInner(text: string): string {
  return JSON.stringify(text).slice(1, -1).replace(/%/g, '%%');
}
