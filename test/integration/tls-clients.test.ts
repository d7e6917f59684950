/**
 * Real clients through the built proxy to a real MariaDB: the mariadb CLI with server-certificate
 * verification, openssl s_client -starttls mysql, mysql2 over TLS 1.2 and 1.3, plaintext, ed25519.
 */
import { promises as fs } from 'fs';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { startProxy, type ProxyProcess } from '../helpers/proxy';
import {
  connectRaw,
  mariadbCli,
  mysql,
  readPacket,
  sClient,
  tlsWithCoalescedSslRequest,
} from '../helpers/clients';

const { user, password } = TEST_USERS.native;
let db: MariaDbServer;
let proxy: ProxyProcess;
let ca: Buffer;

beforeAll(async () => {
  db = await startMariaDb();
  proxy = await startProxy({ backendPort: db.port });
  ca = await fs.readFile(proxy.caFile);
});

afterAll(async () => {
  await proxy?.stop();
  await db?.destroy();
});

describe('the first run', () => {
  it('generated a CA, a server certificate and keys readable only by the owner', async () => {
    for (const file of ['ca-key.pem', 'server-key.pem']) {
      expect((await fs.stat(`${proxy.cwd}/certs/${file}`)).mode & 0o777).toBe(0o600);
    }
    expect(ca.toString()).toContain('BEGIN CERTIFICATE');
    const served = await (await fetch(`http://127.0.0.1:${proxy.statusPort}/ca.pem`)).text();
    expect(served).toBe(ca.toString());
  });
});

describe('mariadb CLI', () => {
  const base = () => [
    '-h',
    '127.0.0.1',
    '-P',
    String(proxy.port),
    `-u${user}`,
    `-p${password}`,
    '--ssl-ca',
    proxy.caFile,
    '--ssl-verify-server-cert',
  ];

  it.each(['TLSv1.3', 'TLSv1.2'])('logs in over %s with the server certificate verified', async (version) => {
    const result = await mariadbCli([
      ...base(),
      `--tls-version=${version}`,
      '-e',
      'status; select 42 as answer',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/SSL:\s+Cipher in use is \S+/);
    expect(result.stdout).toContain('42');
    const line = await proxy.waitForLog(
      (l) => l.event === 'connection_closed' && l.tls_version === version && l.user === user,
    );
    expect(line.transport).toBe('tls');
  });

  it('fails verification for a host name that is not in the certificate', async () => {
    const result = await sClient(proxy.port, '-tls1_3', proxy.caFile, [
      '-verify_hostname',
      'db.example.com',
      '-verify_return_error',
    ]);
    expect(result.stdout + result.stderr).toMatch(/hostname mismatch/);
  });

  it('logs in a user of MariaDB ed25519 plugin over TLS (auth switch relayed)', async () => {
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
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(`${ed.user}@%`);
  });

  it('relays a plaintext client unchanged', async () => {
    const result = await mariadbCli([
      '-h',
      '127.0.0.1',
      '-P',
      String(proxy.port),
      `-u${user}`,
      `-p${password}`,
      '--skip-ssl',
      '-N',
      '-e',
      'select 7*6',
    ]);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('42');
  });

  it('never logs the password', () => {
    const text = JSON.stringify(proxy.logs());
    expect(text).toContain(user);
    expect(text).not.toContain(password);
  });
});

describe('openssl s_client -starttls mysql', () => {
  it.each(['-tls1', '-tls1_1'])('is refused with %s (protocol_version alert)', async (flag) => {
    const result = await sClient(proxy.port, flag, proxy.caFile);
    expect(result.stdout + result.stderr).toMatch(
      /alert protocol version|unsupported protocol|no protocols available/,
    );
    expect(result.stdout).toMatch(/Cipher is \(NONE\)/);
  });

  it.each([
    ['-tls1_2', 'TLSv1.2'],
    ['-tls1_3', 'TLSv1.3'],
  ])('is accepted with %s and the certificate verifies', async (flag, version) => {
    const result = await sClient(proxy.port, flag, proxy.caFile);
    expect(result.stdout).toContain(`New, ${version}, Cipher is`);
    expect(result.stdout).toMatch(/Verify return code: 0 \(ok\)/);
  });

  it('counts the refused versions as unsupported_protocol', async () => {
    expect(
      await proxy.metric('tls_handshake_failures_total', { reason: 'unsupported_protocol' }),
    ).toBeGreaterThanOrEqual(2);
  });
});

describe('mysql2', () => {
  it.each(['TLSv1.2', 'TLSv1.3'] as const)('queries over %s with ssl: { ca }', async (version) => {
    const before = await proxy.metric('tls_handshakes_total', { version });
    const conn = await mysql.createConnection({
      host: '127.0.0.1',
      port: proxy.port,
      user,
      password,
      database: 'test',
      ssl: { ca, minVersion: version, maxVersion: version },
    });
    try {
      const [rows] = await conn.query('SELECT 1 + 1 AS two');
      expect(rows).toEqual([{ two: 2 }]);
      expect(conn.connection.stream.getProtocol()).toBe(version);
    } finally {
      await conn.end();
    }
    expect(await proxy.metric('tls_handshakes_total', { version })).toBeGreaterThanOrEqual(before + 1);
  });

  it('queries in plaintext when the client does not ask for TLS', async () => {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user, password });
    try {
      const [rows] = await conn.query('SELECT 3 AS three');
      expect(rows).toEqual([{ three: 3 }]);
    } finally {
      await conn.end();
    }
  });
});

describe('raw sockets', () => {
  it('keeps a ClientHello that shares a TCP segment with the SSLRequest', async () => {
    const socket = await connectRaw(proxy.port);
    const greeting = await readPacket(socket);
    expect(greeting.seq).toBe(0);
    expect(greeting.payload.readUInt16LE(greeting.payload.indexOf(0, 1) + 1 + 4 + 8 + 1) & 0x800).toBe(0x800);
    const secure = await tlsWithCoalescedSslRequest(socket, ca);
    expect(secure.authorized).toBe(true);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(secure.getProtocol());
    secure.destroy();
  });
});
