/**
 * MySQL 8's caching_sha2_password (and sha256_password) and TiDB behind the proxy, for every
 * database-leg mode: the first login (cold auth cache, full authentication) must not fail. The database is a scripted MySQL 8 /
 * TiDB auth peer (test/helpers/fake-mysql8.ts): no MySQL 8 or TiDB server can be installed here.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Readable } from 'stream';
import { startProxy } from '../helpers/proxy';
import { attributesField, mysql, rawTlsLogin } from '../helpers/clients';
import { startFakeMysql8, type FakeMysql8Options } from '../helpers/fake-mysql8';
import { generateDevCertificates } from '../../src/tls/dev-certs';
import { Capability } from '../../src/protocol/capabilities';
import { encodeHandshakeResponse } from '../../src/protocol/handshake-response';

const user = 'app';
const password = 'sha2-secret';
let backendCert: { cert: Buffer; key: Buffer; caFile: string };

beforeAll(async () => {
  const pem = await generateDevCertificates({
    hosts: ['db.internal'],
    keyType: 'ecdsa',
    rsaBits: 2048,
    days: 2,
  });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-sha2-'));
  const caFile = path.join(dir, 'ca.pem');
  await fs.writeFile(caFile, pem.caCert);
  backendCert = { cert: Buffer.from(pem.serverCert), key: Buffer.from(pem.serverKey), caFile };
});

/** A mysql2 login over TLS to the proxy, verifying it with its CA. */
const connect = (port: number, ca: Buffer, pw = password) =>
  mysql.createConnection({ host: '127.0.0.1', port, user, password: pw, ssl: { ca } });

const sha256User: Partial<FakeMysql8Options> = { userPlugin: 'sha256_password' };
const sha256Server: Partial<FakeMysql8Options> = {
  userPlugin: 'sha256_password',
  defaultPlugin: 'sha256_password',
};

// every row has five elements: jest reads a test function with more parameters than the row as done-callback style
it.each<[string, boolean, string, string[], Partial<FakeMysql8Options>]>([
  ['MySQL 8, plain leg: RSA public key for full auth', false, 'off', ['rsa', 'fast'], {}],
  ['MySQL 8, --backend-tls on: clear password over TLS', false, 'on', ['clear-tls', 'fast'], {}],
  ['MySQL 8, --backend-tls verify', false, 'verify', ['clear-tls', 'fast'], {}],
  ['TiDB, plain leg: clear password accepted', true, 'off', ['clear', 'clear'], {}],
  ['TiDB, --backend-tls on', true, 'on', ['clear', 'clear'], {}],
  // mysql2 answers the AuthSwitchRequest with its clear password (it sees TLS)
  ['sha256_password account, plain leg: RSA after the auth switch', false, 'off', ['rsa', 'rsa'], sha256User],
  ['sha256_password account, --backend-tls on', false, 'on', ['clear-tls', 'clear-tls'], sha256User],
  // mysql2 puts its clear password in the HandshakeResponse: the proxy swaps in a key request
  [
    'sha256_password server default, plain leg: RSA for the login',
    false,
    'off',
    ['rsa', 'rsa'],
    sha256Server,
  ],
  ['sha256_password server default, --backend-tls on', false, 'on', ['clear-tls', 'clear-tls'], sha256Server],
])(
  '%s: cold and warm logins over TLS both succeed, a wrong password is refused',
  async (_name, tidb, backendTls, expected, plugins) => {
    const db = await startFakeMysql8({
      user,
      password,
      tidb,
      tls: backendTls === 'off' ? undefined : backendCert,
      ...plugins,
    });
    const args =
      backendTls === 'off'
        ? []
        : [
            '--backend-tls',
            backendTls,
            '--backend-ca',
            backendCert.caFile,
            '--backend-server-name',
            'db.internal',
          ];
    const proxy = await startProxy({ backendPort: db.port, args });
    try {
      const ca = await fs.readFile(proxy.caFile);
      for (let i = 0; i < 2; i++) {
        const conn = await connect(proxy.port, ca);
        await conn.query('DO 1');
        await conn.end();
      }
      expect(db.logins).toEqual(expected);
      // the sha256_password rows take the path they name
      const via = plugins.defaultPlugin === 'sha256_password' ? 'login' : 'switch';
      expect(db.sha256Starts).toEqual(plugins.userPlugin ? [via, via] : []);
      await expect(connect(proxy.port, ca, 'wrong')).rejects.toMatchObject({ errno: 1045 });
      expect(db.logins.at(-1)).toBe('denied');
      expect(JSON.stringify(proxy.logs())).not.toContain(password);
    } finally {
      await proxy.stop();
      await db.close();
    }
  },
);

describe('COM_CHANGE_USER through a plain leg', () => {
  // The proxy watches the command headers of such sessions and runs the re-authentication like the
  // login: without that, a cold cache (after FLUSH PRIVILEGES) or sha256_password fails the change.
  it.each<[string, Partial<FakeMysql8Options>, string[]]>([
    ['caching_sha2_password, cold then warm cache', {}, ['rsa', 'rsa', 'fast']],
    ['sha256_password', sha256User, ['rsa', 'rsa', 'rsa']],
  ])('%s: changeUser succeeds and the session goes on', async (_name, plugins, expected) => {
    const db = await startFakeMysql8({ user, password, ...plugins });
    const proxy = await startProxy({ backendPort: db.port });
    try {
      const ca = await fs.readFile(proxy.caFile);
      const conn = await connect(proxy.port, ca);
      await conn.query('DO 1');
      db.flushCache();
      await conn.changeUser({ user, password });
      await conn.query('DO 1');
      await conn.changeUser({ user, password });
      await conn.query('DO 1');
      await conn.end();
      expect(db.logins).toEqual(expected);
      await expect(
        (async () => {
          const other = await connect(proxy.port, ca);
          try {
            await other.changeUser({ user, password: 'wrong' });
          } finally {
            other.destroy();
          }
        })(),
      ).rejects.toMatchObject({ errno: 1045 });
      expect(JSON.stringify(proxy.logs())).not.toContain(password);
    } finally {
      await proxy.stop();
      await db.close();
    }
  });
});

describe('the clear password never crosses the plain leg', () => {
  it('COM_CHANGE_USER to a caching_sha2_password account from a mysql_native_password login gets RSA help', async () => {
    // A MySQL 8 greeting with mysql_native_password: nothing at login hints at SHA-256, yet the
    // change-user's re-authentication switches to caching_sha2_password with a cold cache.
    const db = await startFakeMysql8({
      user,
      password,
      nativeUser: 'old',
      defaultPlugin: 'mysql_native_password',
    });
    const proxy = await startProxy({ backendPort: db.port });
    try {
      const ca = await fs.readFile(proxy.caFile);
      const conn = await mysql.createConnection({
        host: '127.0.0.1',
        port: proxy.port,
        user: 'old',
        password,
        ssl: { ca },
      });
      await conn.query('DO 1');
      await conn.changeUser({ user, password });
      await conn.query('DO 1');
      await conn.end();
      expect(db.logins).toEqual(['native', 'rsa']);
      expect(db.clearOnPlain).toBe(0);
    } finally {
      await proxy.stop();
      await db.close();
    }
  });

  it('a sha256_password login whose HandshakeResponse does not re-encode (invalid UTF-8 attribute) still gets RSA', async () => {
    const db = await startFakeMysql8({ user, password, ...sha256Server });
    const proxy = await startProxy({ backendPort: db.port });
    try {
      const ca = await fs.readFile(proxy.caFile);
      const { close, answer } = await rawTlsLogin(proxy.port, ca, () =>
        Buffer.concat([
          encodeHandshakeResponse({
            capabilities:
              Capability.LONG_PASSWORD |
              Capability.PROTOCOL_41 |
              Capability.SECURE_CONNECTION |
              Capability.PLUGIN_AUTH |
              Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
              Capability.CONNECT_ATTRS |
              Capability.SSL,
            maxPacketSize: 1 << 24,
            characterSet: 45,
            filler: Buffer.alloc(23),
            username: Buffer.from(user),
            authResponse: Buffer.from(`${password}\0`),
            authPluginName: 'sha256_password',
          }),
          attributesField([['program_name', Buffer.from([0x78, 0xff, 0x79])]]),
        ]),
      );
      close();
      expect(answer).toMatchObject({ seq: 3, payload: Buffer.from([0, 0, 0, 2, 0, 0, 0]) });
      expect(db.logins).toEqual(['rsa']);
      expect(db.clearOnPlain).toBe(0);
    } finally {
      await proxy.stop();
      await db.close();
    }
  });
});

describe('the COM_CHANGE_USER watch and LOAD DATA LOCAL', () => {
  it('a >16 MiB upload whose packets all start with 0x11 wraps its sequence ids without being taken for a command', async () => {
    const db = await startFakeMysql8({ user, password });
    const proxy = await startProxy({ backendPort: db.port });
    try {
      const ca = await fs.readFile(proxy.caFile);
      const conn = await connect(proxy.port, ca); // caching_sha2_password: a watched session
      // 300 packets of 136 KiB (larger than any connection-phase packet): sequence ids 2..255, then 0, 1, ...
      const chunk = Buffer.alloc(136 * 1024, 0x61);
      chunk[0] = 0x11;
      const chunks = Array.from({ length: 300 }, () => chunk);
      const [result] = await conn.query({
        sql: "LOAD DATA LOCAL INFILE 'upload.txt' INTO TABLE t",
        infileStreamFactory: () => Readable.from(chunks),
      });
      expect(result.affectedRows).toBe(0); // the scripted server counts packets only up to 250
      expect(db.uploads).toEqual([{ bytes: chunks.length * chunk.length, packets: 300, starting0x11: 300 }]);
      await conn.query('DO 1');
      db.flushCache();
      await conn.changeUser({ user, password }); // the watch still works after the upload
      await conn.query('DO 1');
      await conn.end();
      expect(db.logins).toEqual(['rsa', 'rsa']);
      expect(JSON.stringify(proxy.logs())).not.toContain('bad_packet');
    } finally {
      await proxy.stop();
      await db.close();
    }
  });
});

describe('clear-password plugins (mysql_clear_password: PAM, LDAP)', () => {
  const clearConnect = (port: number, ca: Buffer) =>
    mysql.createConnection({
      host: '127.0.0.1',
      port,
      user,
      password,
      ssl: { ca },
      enableCleartextPlugin: true,
    });
  it('are refused between a TLS client and a plain leg, and relayed over --backend-tls', async () => {
    const plain = await startFakeMysql8({ user, password, userPlugin: 'mysql_clear_password' });
    const refusing = await startProxy({ backendPort: plain.port });
    try {
      const ca = await fs.readFile(refusing.caFile);
      // A client willing to send its clear password (mysql2's opt-in), so only the proxy can stop it.
      const refused = clearConnect(refusing.port, ca);
      await expect(refused).rejects.toMatchObject({ errno: 1045 });
      await expect(refused).rejects.toThrow(/--backend-tls/);
      // The database got the placeholder's dummy answer, never the password: the login is denied.
      await refusing.waitForLog((l) => l.event === 'connection_closed');
      expect(plain.logins).toEqual(['denied']);
      const closed = refusing.logs().find((l) => l.event === 'connection_closed');
      expect(closed?.reason).toBe('clear_password_refused');
      expect(JSON.stringify(refusing.logs())).not.toContain(password);
    } finally {
      await refusing.stop();
      await plain.close();
    }
    const secure = await startFakeMysql8({
      user,
      password,
      userPlugin: 'mysql_clear_password',
      tls: backendCert,
    });
    const args = [
      '--backend-tls',
      'verify',
      '--backend-ca',
      backendCert.caFile,
      '--backend-server-name',
      'db.internal',
    ];
    const relaying = await startProxy({ backendPort: secure.port, args });
    try {
      const conn = await clearConnect(relaying.port, await fs.readFile(relaying.caFile));
      await conn.query('DO 1');
      await conn.end();
      expect(secure.logins).toEqual(['clear-tls']);
    } finally {
      await relaying.stop();
      await secure.close();
    }
  });
});
