/**
 * The database leg: TLS from the proxy to a MariaDB with native TLS (--backend-tls on|verify), and
 * connection attributes that tell the database who really connected and how.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { startProxy, type ProxyProcess } from '../helpers/proxy';
import { attributesField, mariadbCli, mysql, rawTlsLogin } from '../helpers/clients';
import { generateDevCertificates } from '../../src/tls/dev-certs';
import { nativePasswordScramble } from '../../src/client/mysql-client';
import { Capability } from '../../src/protocol/capabilities';
import { parseGreeting } from '../../src/protocol/greeting';
import { encodeHandshakeResponse } from '../../src/protocol/handshake-response';
import { certPathsIn, writeCertificates } from '../../src/tls/cert-files';

const { user, password } = TEST_USERS.native;
let db: MariaDbServer;
let backendCerts: ReturnType<typeof certPathsIn>;

beforeAll(async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-backend-certs-'));
  backendCerts = certPathsIn(dir);
  const pem = await generateDevCertificates({
    hosts: ['db.internal', '127.0.0.1'],
    keyType: 'ecdsa',
    rsaBits: 2048,
    days: 2,
  });
  await writeCertificates(backendCerts, pem, { force: false });
  db = await startMariaDb({
    tls: { cert: backendCerts.serverCert, key: backendCerts.serverKey, ca: backendCerts.caCert },
    extraArgs: ['--performance-schema=ON'],
  });
});
afterAll(async () => {
  await db?.destroy();
});

async function sessionFacts(proxy: ProxyProcess, ssl: object | undefined) {
  const ca = await fs.readFile(proxy.caFile);
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: proxy.port,
    user,
    password,
    ssl: ssl && { ca, ...ssl },
  });
  try {
    const [[tlsRow]] = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
    const [attrs] = await conn.query(
      "SELECT ATTR_NAME AS name, ATTR_VALUE AS value FROM performance_schema.session_connect_attrs WHERE PROCESSLIST_ID = CONNECTION_ID() AND ATTR_NAME LIKE '\\_client\\_%'",
    );
    return {
      backendTls: tlsRow.Value as string,
      attrs: Object.fromEntries(
        (attrs as Array<{ name: string; value: string }>).map((a) => [a.name, a.value]),
      ),
    };
  } finally {
    await conn.end();
  }
}

describe('--backend-tls verify', () => {
  let proxy: ProxyProcess;
  beforeAll(async () => {
    proxy = await startProxy({
      backendPort: db.port,
      args: [
        '--backend-tls',
        'verify',
        '--backend-ca',
        backendCerts.caCert,
        '--backend-server-name',
        'db.internal',
      ],
    });
  });
  afterAll(async () => proxy?.stop());

  it('encrypts the database leg and tells the database the client address and TLS facts', async () => {
    const facts = await sessionFacts(proxy, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    expect(facts.backendTls).toBe('TLSv1.3'); // the proxy's own leg to the database
    expect(facts.attrs).toMatchObject({
      _client_ip: '127.0.0.1',
      _client_tls_version: 'TLSv1.2',
      _client_tls_cipher: expect.stringMatching(/^ECDHE-/),
      _client_name: 'Node-MySQL-2',
    });
    expect(Number(facts.attrs._client_port)).toBeGreaterThan(0);
  });

  it('finishes sessions cleanly on both legs (log line, no active connections left)', async () => {
    await sessionFacts(proxy, {});
    // Every session of this describe block (the one above included) ends with its log line and
    // leaves no active connection behind; an unfinished database leg would keep one open.
    const deadline = Date.now() + 5_000;
    while ((await proxy.metric('connections_active', { transport: 'tls' })) !== 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await proxy.metric('connections_active', { transport: 'tls' })).toBe(0);
    const sessions = await proxy.metric('connections_total', { transport: 'tls' });
    const closedLines = () => proxy.logs().filter((l) => l.event === 'connection_closed');
    await proxy.waitForLog(() => closedLines().length === sessions);
    expect(closedLines().map((l) => l.reason)).toEqual(closedLines().map(() => 'client_quit'));
  });

  it('relays a plaintext client over an encrypted database leg', async () => {
    const facts = await sessionFacts(proxy, undefined);
    expect(facts.backendTls).toMatch(/^TLSv1\.[23]$/);
    expect(facts.attrs._client_tls_version).toBeUndefined();
  });

  it('carries the ed25519 auth switch when both legs are TLS', async () => {
    const ed = TEST_USERS.ed25519;
    const result = await mariadbCli([
      '-h',
      '127.0.0.1',
      '-P',
      String(proxy.port),
      `-u${ed.user}`,
      `-p${ed.password}`,
      '--ssl-ca',
      proxy.caFile,
      '--ssl-verify-server-cert',
      '-N',
      '-e',
      "select current_user(), variable_value from information_schema.session_status where variable_name='Ssl_version'",
    ]);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toMatch(/^edu@%\tTLSv1\.[23]$/);
  });
});

describe('--backend-tls on', () => {
  it('relays the compressed protocol untouched (nothing to watch when the database leg is TLS)', async () => {
    const proxy = await startProxy({ backendPort: db.port, args: ['--backend-tls', 'on'] });
    try {
      const ca = await fs.readFile(proxy.caFile);
      const conn = await mysql.createConnection({
        host: '127.0.0.1',
        port: proxy.port,
        user,
        password,
        ssl: { ca },
        compress: true,
      });
      const [[row]] = await conn.query(`SELECT REPEAT('z', 100000) AS text`);
      expect(row.text.length).toBe(100000);
      const [[status]] = await conn.query("SHOW SESSION STATUS LIKE 'Compression'");
      expect(status.Value).toBe('ON');
      await conn.end();
    } finally {
      await proxy.stop();
    }
  });

  it('encrypts the database leg without verifying it (ed25519 and native users)', async () => {
    const proxy = await startProxy({ backendPort: db.port, args: ['--backend-tls', 'on'] });
    try {
      const facts = await sessionFacts(proxy, {});
      expect(facts.backendTls).toMatch(/^TLSv1\.[23]$/);
      const ed = TEST_USERS.ed25519;
      const result = await mariadbCli([
        '-h',
        '127.0.0.1',
        '-P',
        String(proxy.port),
        `-u${ed.user}`,
        `-p${ed.password}`,
        '--ssl-ca',
        proxy.caFile,
        '--ssl-verify-server-cert',
        '-N',
        '-e',
        'select current_user()',
      ]);
      expect(result.stdout.trim()).toBe('edu@%');
    } finally {
      await proxy.stop();
    }
  });
});

describe('--backend-tls refusals', () => {
  it('refuses clients with a clear ERR 2003 when the database certificate is from another CA', async () => {
    const otherDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-other-ca-'));
    const other = certPathsIn(otherDir);
    await writeCertificates(
      other,
      await generateDevCertificates({ hosts: ['db.internal'], keyType: 'ecdsa', rsaBits: 2048, days: 2 }),
      { force: false },
    );
    const proxy = await startProxy({
      backendPort: db.port,
      args: ['--backend-tls', 'verify', '--backend-ca', other.caCert, '--backend-server-name', 'db.internal'],
    });
    try {
      const ca = await fs.readFile(proxy.caFile);
      await expect(
        mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user, password, ssl: { ca } }),
      ).rejects.toMatchObject({
        errno: 2003,
        message: expect.stringMatching(
          /TLS to the database failed: .*(unable to verify|self.signed|certificate)/i,
        ),
      });
    } finally {
      await proxy.stop();
    }
  });

  it('refuses clients with ERR 2003 when the database certificate does not match the name', async () => {
    const proxy = await startProxy({
      backendPort: db.port,
      args: [
        '--backend-tls',
        'verify',
        '--backend-ca',
        backendCerts.caCert,
        '--backend-server-name',
        'other.internal',
      ],
    });
    try {
      const ca = await fs.readFile(proxy.caFile);
      await expect(
        mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user, password, ssl: { ca } }),
      ).rejects.toMatchObject({
        errno: 2003,
        message: expect.stringMatching(/TLS to the database failed/),
      });
      const line = await proxy.waitForLog((l) => l.event === 'connection_closed');
      expect(line.reason).toBe('backend_tls_failed');
      expect(await proxy.metric('connections_rejected_total', { reason: 'backend_unavailable' })).toBe(1);
    } finally {
      await proxy.stop();
    }
  });

  it('with --no-client-attrs leaves the attributes as the client sent them', async () => {
    const proxy = await startProxy({ backendPort: db.port, args: ['--no-client-attrs'] });
    try {
      const facts = await sessionFacts(proxy, {});
      expect(facts.attrs._client_ip).toBeUndefined();
      expect(facts.attrs._client_name).toBe('Node-MySQL-2');
      expect(facts.backendTls).toBe(''); // plain database leg by default
    } finally {
      await proxy.stop();
    }
  });
});

describe('connection attributes the proxy adds', () => {
  it('cannot be forged: a client _client_ip is dropped even when its login does not re-encode', async () => {
    const proxy = await startProxy({ backendPort: db.port });
    try {
      const ca = await fs.readFile(proxy.caFile);
      const { close, greeting, answer } = await rawTlsLogin(proxy.port, ca, (greeting) =>
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
            authResponse: nativePasswordScramble(password, parseGreeting(greeting).authPluginData),
            authPluginName: 'mysql_native_password',
          }),
          attributesField([
            ['_client_ip', '10.9.9.9'],
            ['_client_tls_version', 'TLSv9'],
            ['program_name', Buffer.from([0x78, 0xff, 0x79])], // invalid UTF-8: does not re-encode
          ]),
        ]),
      );
      try {
        expect(answer.payload[0]).toBe(0x00);
        const id = parseGreeting(greeting).connectionId;
        const rows = await db.sql(
          `SELECT ATTR_NAME, ATTR_VALUE FROM performance_schema.session_connect_attrs WHERE PROCESSLIST_ID = ${id} AND ATTR_NAME LIKE '\\_client\\_%' ORDER BY ATTR_NAME`,
        );
        const attrs = rows.split('\n').map((line) => line.split('\t'));
        expect(attrs.filter(([name]) => name === '_client_ip')).toEqual([['_client_ip', '127.0.0.1']]);
        expect(attrs.filter(([name]) => name === '_client_tls_version')).toEqual([
          ['_client_tls_version', expect.stringMatching(/^TLSv1\.[23]$/)],
        ]);
      } finally {
        close();
      }
    } finally {
      await proxy.stop();
    }
  });
});
