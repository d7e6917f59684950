import {
  CLIENT_IDS,
  chooseHost,
  connectExamples,
  renderConnectInfo,
  sh,
  startupConnectBlock,
  type ConnectTarget,
} from '../../../src/docs/connect-examples';
import { generateDevCertificates } from '../../../src/tls/dev-certs';
import { certificateHosts } from '../../../src/cli/certs';
import { unknownFlags } from '../../../src/cli/command-line-flags';

let devCert: string;
let remoteCert: string;
let ipOnlyCert: string;

beforeAll(async () => {
  const gen = async (hosts: string[]) =>
    (await generateDevCertificates({ hosts, keyType: 'ecdsa', rsaBits: 2048, days: 30 })).serverCert;
  devCert = await gen(['localhost', '127.0.0.1', '::1']);
  remoteCert = await gen(['db.example.test', '10.0.0.7', 'localhost']);
  ipOnlyCert = await gen(['10.0.0.7']);
});

describe('chooseHost', () => {
  it.each([
    ['a wildcard listener: the first DNS name', () => remoteCert, '0.0.0.0', 'db.example.test'],
    ['an IPv6 wildcard listener', () => remoteCert, '::', 'db.example.test'],
    ['a loopback listener with localhost in the SANs', () => devCert, '127.0.0.1', 'localhost'],
    ['a listen IP that is an IP SAN', () => remoteCert, '10.0.0.7', '10.0.0.7'],
    ['a listen IP not in the SANs: the first DNS name', () => remoteCert, '10.9.9.9', 'db.example.test'],
    ['no DNS SAN: the first IP', () => ipOnlyCert, '0.0.0.0', '10.0.0.7'],
  ])('%s', (_name, cert, listen, expected) => {
    const choice = chooseHost(cert(), listen);
    expect(choice).toMatchObject({ host: expected, matches: true });
  });

  it('takes an explicit host and says whether the certificate covers it', () => {
    expect(chooseHost(remoteCert, '0.0.0.0', 'db.example.test')).toMatchObject({ matches: true });
    expect(chooseHost(remoteCert, '0.0.0.0', 'other.example.test')).toMatchObject({
      host: 'other.example.test',
      matches: false,
    });
  });
});

describe('connectExamples', () => {
  const target: ConnectTarget = {
    host: 'db.example.test',
    port: 4000,
    caFile: '/srv/proxy certs/ca.pem',
    user: 'app',
    database: 'test',
    passwordEnv: 'DB_PASSWORD',
  };

  it('covers every client, each verifying the CA and the host name, none with a password', () => {
    const examples = connectExamples(target);
    expect(examples.map((e) => e.id)).toEqual([...CLIENT_IDS]);
    const code = Object.fromEntries(examples.map((e) => [e.id, e.code]));
    expect(code.mariadb).toContain("--ssl-ca='/srv/proxy certs/ca.pem' --ssl-verify-server-cert");
    expect(code.mariadb).toContain('--protocol=TCP -h db.example.test -P 4000');
    expect(code.mysql).toContain('--ssl-mode=VERIFY_IDENTITY');
    expect(code.mysql2).toContain('verifyIdentity: true');
    expect(code.mysql2).toContain("fs.readFileSync('/srv/proxy certs/ca.pem')");
    expect(code.go).toContain('mysql.RegisterTLSConfig("mysql-tls-proxy"');
    expect(code.go).toContain('ServerName: "db.example.test"');
    expect(code.go).toContain('@tcp(db.example.test:4000)/test?tls=mysql-tls-proxy');
    expect(code.pymysql).toContain('ssl_verify_identity=True');
    expect(code.mysqlclient).toContain('ssl_mode="VERIFY_IDENTITY"');
    expect(code['jdbc-mysql']).toContain('jdbc:mysql://db.example.test:4000/test?sslMode=VERIFY_IDENTITY');
    expect(code['jdbc-mysql']).toContain(
      'trustCertificateKeyStoreUrl=file:/srv/proxy%20certs/ca-truststore.p12',
    );
    expect(code['jdbc-mariadb']).toBe(
      'jdbc:mariadb://db.example.test:4000/test?sslMode=verify-full&serverSslCert=/srv/proxy certs/ca.pem',
    );
    for (const example of examples) expect(example.code).not.toMatch(/app-secret|password=['"][^$]/);
  });

  it('uses the system trust store when there is no CA file (a public CA)', () => {
    const code = Object.fromEntries(
      connectExamples({ ...target, caFile: undefined }).map((e) => [e.id, e.code]),
    );
    expect(code.mariadb).toContain('--ssl-ca=/etc/ssl/certs/ca-certificates.crt');
    expect(code.mysql2).not.toContain('readFileSync');
    expect(code.go).not.toContain('RootCAs');
    expect(code['jdbc-mariadb']).toBe('jdbc:mariadb://db.example.test:4000/test?sslMode=verify-full');
  });

  it('brackets IPv6 hosts in URLs and DSNs', () => {
    const code = Object.fromEntries(connectExamples({ ...target, host: '::1' }).map((e) => [e.id, e.code]));
    expect(code.go).toContain('@tcp([::1]:4000)');
    expect(code['jdbc-mariadb']).toContain('jdbc:mariadb://[::1]:4000/');
    expect(code.mariadb).toContain('-h ::1 -P 4000');
  });

  it('renders sections and a warning for a host the certificate does not cover', () => {
    const text = renderConnectInfo(target, { host: target.host, matches: false, why: 'given' });
    expect(text).toMatch(/WARNING: db\.example\.test is not in the certificate/);
    expect(text.match(/^## /gm)).toHaveLength(CLIENT_IDS.length);
    const only = renderConnectInfo(target, { host: target.host, matches: true, why: 'x' }, { only: ['go'] });
    expect(only.match(/^## /gm)).toHaveLength(1);
  });

  it('keeps the startup block short', () => {
    expect(startupConnectBlock(target).length).toBeLessThanOrEqual(8);
  });
});

it('quotes shell words only when needed', () => {
  expect(sh('/a/b-c_d.pem')).toBe('/a/b-c_d.pem');
  expect(sh("it's here")).toBe(`'it'\\''s here'`);
  expect(sh('$HOME')).toBe("'$HOME'");
});

it('certs --host adds to the default hosts, first one first, without duplicates', () => {
  expect(certificateHosts([], true)).toEqual(['localhost', '127.0.0.1', '::1']);
  expect(certificateHosts(['db.example.test', 'localhost'], true)).toEqual([
    'db.example.test',
    'localhost',
    '127.0.0.1',
    '::1',
  ]);
  expect(certificateHosts(['db.example.test'], false)).toEqual(['db.example.test']);
});

it('command lines are checked against the flags the command knows', () => {
  const known = new Set(['listen', 'ca-file', 'caFile', 'json', 'h']);
  expect(
    unknownFlags(
      ['connect-info', '--listen', 'x:1', '--ca-file=a', '--caFile', 'b', '--no-json', '-h'],
      known,
    ),
  ).toEqual([]);
  expect(unknownFlags(['connect-info', '--bogus', '--backend=1', '-x', '--', '--after'], known)).toEqual([
    'bogus',
    'backend',
    'x',
  ]);
});
