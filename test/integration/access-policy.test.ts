/**
 * Access policy through real sockets: the IP access list (with IPv4-mapped peers and a reloadable
 * file), TLS version and cipher policy, require-secure-transport, two-way TLS and the PROXY
 * protocol in both directions, against a real MariaDB.
 */
import { execFileSync } from 'child_process';
import { promises as fs } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Duplex } from 'stream';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { startProxy, type ProxyProcess } from '../helpers/proxy';
import { closed, connectRaw, mariadbCli, mysql, readPacket, sClient, SSL_REQUEST } from '../helpers/clients';
import { encodeProxyV1, encodeProxyV2 } from '../../src/protocol/proxy-protocol';

const { user, password } = TEST_USERS.native;
let db: MariaDbServer;

beforeAll(async () => {
  // The database trusts PROXY headers from the proxy (loopback) and does not resolve names.
  db = await startMariaDb({
    extraArgs: ['--proxy-protocol-networks=127.0.0.0/8,::1', '--skip-name-resolve'],
  });
});
afterAll(async () => {
  await db?.destroy();
});

function errOf(payload: Buffer): { code: number; message: string } {
  expect(payload[0]).toBe(0xff);
  const text = payload.subarray(3).toString('utf8');
  return { code: payload.readUInt16LE(1), message: text.startsWith('#') ? text.slice(6) : text };
}

/** Greeting (allowed) or the ERR (refused) a client from `source` gets. */
async function firstPacketFrom(
  port: number,
  source: string,
  host = '127.0.0.1',
): Promise<{ seq: number; payload: Buffer }> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host, port, localAddress: source }, () => resolve(s));
    s.once('error', reject);
  });
  try {
    return await readPacket(socket);
  } finally {
    socket.destroy();
  }
}

describe('IP access list', () => {
  let proxy: ProxyProcess;
  afterEach(async () => proxy?.stop());

  it('decides per source address inside 127.0.0.0/8 and for IPv6 loopback', async () => {
    proxy = await startProxy({
      backendPort: db.port,
      args: ['--listen', '[::]:0', '--allow', '127.0.0.2/32', '--allow', '::1/128'],
    });
    // A dual-stack listener sees IPv4 clients as ::ffff:127.0.0.x; IPv4 rules must still apply.
    expect((await firstPacketFrom(proxy.port, '127.0.0.2')).payload[0]).toBe(10);
    expect((await firstPacketFrom(proxy.port, '::1', '::1')).payload[0]).toBe(10);
    for (const refused of ['127.0.0.1', '127.0.0.3']) {
      const packet = await firstPacketFrom(proxy.port, refused);
      expect(packet.seq).toBe(0);
      expect(errOf(packet.payload)).toEqual({
        code: 1130,
        message: `Host '${refused}' is not allowed to connect to this MySQL server`,
      });
    }
    expect(await proxy.metric('connections_rejected_total', { reason: 'ip_not_allowed' })).toBe(2);
    const line = await proxy.waitForLog(
      (l) => l.event === 'connection_closed' && l.reason === 'ip_not_allowed',
    );
    expect(line.client).toMatchObject({ address: expect.stringMatching(/^127\.0\.0\.[13]$/) });
  });

  it('reloads --allow-file on change (atomic rename and in-place) and on SIGHUP without dropping sessions', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-allow-'));
    const file = path.join(dir, 'allow.txt');
    await fs.writeFile(file, '# office\n127.0.0.1/32\n');
    proxy = await startProxy({
      backendPort: db.port,
      args: ['--listen', '0.0.0.0:0', '--allow', '127.0.0.9/32', '--allow-file', file],
    });
    const ca = await fs.readFile(proxy.caFile);
    const session = await mysql.createConnection({
      host: '127.0.0.1',
      port: proxy.port,
      user,
      password,
      ssl: { ca },
    });
    expect(errOf((await firstPacketFrom(proxy.port, '127.0.0.2')).payload).code).toBe(1130);

    await fs.writeFile(`${file}.tmp`, '127.0.0.1/32\n127.0.0.2/32  # new laptop\n');
    await fs.rename(`${file}.tmp`, file);
    await proxy.waitForLog(
      (l) => l.event === 'allowlist_reloaded' && l.entries === 3 && l.trigger === 'file_change',
    );
    expect((await firstPacketFrom(proxy.port, '127.0.0.2')).payload[0]).toBe(10);

    await fs.writeFile(file, '127.0.0.1/32\n10.0.0.0/33\n'); // invalid line 2: keep the old list
    const failed = await proxy.waitForLog((l) => l.event === 'allowlist_reload_failed');
    expect(failed.error).toMatch(/allow\.txt:2: '10\.0\.0\.0\/33'/);
    expect((await firstPacketFrom(proxy.port, '127.0.0.2')).payload[0]).toBe(10);

    await fs.writeFile(file, '127.0.0.1/32\n');
    await proxy.waitForLog((l) => l.event === 'allowlist_reloaded' && l.entries === 2);
    proxy.child.kill('SIGHUP');
    await proxy.waitForLog((l) => l.event === 'allowlist_reloaded' && l.trigger === 'sighup');
    expect(errOf((await firstPacketFrom(proxy.port, '127.0.0.2')).payload).code).toBe(1130);

    const [rows] = await session.query('SELECT 1 AS still_open');
    expect(rows).toEqual([{ still_open: 1 }]);
    await session.end();
  });
});

describe('TLS policy', () => {
  let proxy: ProxyProcess;
  afterEach(async () => proxy?.stop());

  it('refuses TLS 1.0 and 1.1 and ciphers outside the list, and counts each reason exactly', async () => {
    proxy = await startProxy({ backendPort: db.port, args: ['--ciphers', 'ECDHE-ECDSA-AES256-GCM-SHA384'] });
    for (const flag of ['-tls1', '-tls1_1']) {
      const result = await sClient(proxy.port, flag, proxy.caFile);
      expect(result.stdout + result.stderr).toMatch(/alert protocol version/);
    }
    const wrongCipher = await sClient(proxy.port, '-tls1_2', proxy.caFile, [
      '-cipher',
      'ECDHE-ECDSA-AES128-GCM-SHA256',
    ]);
    expect(wrongCipher.stdout + wrongCipher.stderr).toMatch(/handshake failure/);
    const rightCipher = await sClient(proxy.port, '-tls1_2', proxy.caFile, [
      '-cipher',
      'ECDHE-ECDSA-AES256-GCM-SHA384',
    ]);
    expect(rightCipher.stdout).toContain('Cipher is ECDHE-ECDSA-AES256-GCM-SHA384');
    await proxy.waitForLog(() => proxy.logs().filter((l) => l.event === 'connection_closed').length >= 4);
    expect(await proxy.metric('tls_handshake_failures_total', { reason: 'unsupported_protocol' })).toBe(2);
    expect(await proxy.metric('tls_handshake_failures_total', { reason: 'no_shared_cipher' })).toBe(1);
    expect(
      await proxy.metric('tls_handshakes_total', {
        version: 'TLSv1.2',
        cipher: 'ECDHE-ECDSA-AES256-GCM-SHA384',
      }),
    ).toBe(1);
  });

  it('offers only TLS 1.3 with --tls-min-version TLSv1.3', async () => {
    proxy = await startProxy({ backendPort: db.port, args: ['--tls-min-version', 'TLSv1.3'] });
    expect((await sClient(proxy.port, '-tls1_2', proxy.caFile)).stdout + '').toMatch(/Cipher is \(NONE\)/);
    expect((await sClient(proxy.port, '-tls1_3', proxy.caFile)).stdout).toContain('New, TLSv1.3');
  });
});

describe('--require-secure-transport', () => {
  it('refuses a plaintext login with ERR 3159 and the database never sees its credentials', async () => {
    const proxy = await startProxy({ backendPort: db.port, args: ['--require-secure-transport'] });
    const logFile = path.join(os.tmpdir(), `mtp-general-${process.pid}.log`);
    try {
      await db.sql(`SET GLOBAL general_log_file='${logFile}'; SET GLOBAL general_log=1`);
      const { user: plainUser } = TEST_USERS.nopass;
      const refused = await mariadbCli([
        '-h',
        '127.0.0.1',
        '-P',
        String(proxy.port),
        `-u${plainUser}`,
        '--skip-ssl',
        '-e',
        'select 1',
      ]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('ERROR 3159');
      expect(refused.stderr).toContain(
        'Connections using insecure transport are prohibited while --require_secure_transport=ON.',
      );
      const allowed = await mariadbCli([
        '-h',
        '127.0.0.1',
        '-P',
        String(proxy.port),
        `-u${user}`,
        `-p${password}`,
        '--ssl-ca',
        proxy.caFile,
        '--ssl-verify-server-cert',
        '-N',
        '-e',
        'select 9',
      ]);
      expect(allowed.stdout.trim()).toBe('9');
      await proxy.waitForLog((l) => l.event === 'connection_closed' && l.reason === 'insecure_transport');
      await new Promise((resolve) => setTimeout(resolve, 300));
      await db.sql('SET GLOBAL general_log=0');
      const general = await fs.readFile(logFile, 'utf8');
      expect(general).toContain('_mysql_tls_proxy_aborted');
      expect(general).not.toContain(plainUser);
      expect(await proxy.metric('connections_rejected_total', { reason: 'insecure_transport' })).toBe(1);
    } finally {
      await db.sql('SET GLOBAL general_log=0').catch(() => undefined);
      await proxy.stop();
    }
  });
});

describe('two-way TLS (--client-ca)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-clientca-'));
    const sh = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    sh([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'client-ca-key.pem',
      '-out',
      'client-ca.pem',
      '-subj',
      '/CN=test client CA',
      '-days',
      '2',
    ]);
    sh([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'client-key.pem',
      '-out',
      'client.csr',
      '-subj',
      '/CN=app-client',
    ]);
    await fs.writeFile(path.join(dir, 'ext.cnf'), 'extendedKeyUsage=clientAuth\n');
    sh([
      'x509',
      '-req',
      '-in',
      'client.csr',
      '-CA',
      'client-ca.pem',
      '-CAkey',
      'client-ca-key.pem',
      '-CAcreateserial',
      '-out',
      'client.pem',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    ]);
  });

  it('accepts a client certificate signed by the client CA and refuses clients without one', async () => {
    const proxy = await startProxy({
      backendPort: db.port,
      args: ['--client-ca', path.join(dir, 'client-ca.pem')],
    });
    try {
      const ca = await fs.readFile(proxy.caFile);
      const withCert = await mysql.createConnection({
        host: '127.0.0.1',
        port: proxy.port,
        user,
        password,
        ssl: {
          ca,
          cert: await fs.readFile(path.join(dir, 'client.pem')),
          key: await fs.readFile(path.join(dir, 'client-key.pem')),
        },
      });
      const [rows] = await withCert.query('SELECT 1 AS mutual');
      expect(rows).toEqual([{ mutual: 1 }]);
      await withCert.end();

      await expect(
        mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user, password, ssl: { ca } }),
      ).rejects.toMatchObject({
        errno: 1045,
        message: expect.stringContaining('client certificate'),
      });
      expect(await proxy.metric('connections_rejected_total', { reason: 'client_certificate' })).toBe(1);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses plaintext logins (--client-ca implies TLS) with ERR 3159; the database never sees them', async () => {
    const proxy = await startProxy({
      backendPort: db.port,
      args: ['--client-ca', path.join(dir, 'client-ca.pem')],
    });
    const logFile = path.join(os.tmpdir(), `mtp-general-clientca-${process.pid}.log`);
    try {
      await db.sql(`SET GLOBAL general_log_file='${logFile}'; SET GLOBAL general_log=1`);
      const cli = await mariadbCli([
        '-h',
        '127.0.0.1',
        '-P',
        String(proxy.port),
        `-u${user}`,
        `-p${password}`,
        '--skip-ssl',
        '-e',
        'select 1',
      ]);
      expect(cli.code).not.toBe(0);
      expect(cli.stderr).toContain('ERROR 3159');
      expect(cli.stderr).toContain('client certificate over TLS is required (--client-ca)');
      await expect(
        mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user, password }),
      ).rejects.toMatchObject({ errno: 3159 });
      const closed = () =>
        proxy.logs().filter((l) => l.event === 'connection_closed' && l.reason === 'insecure_transport');
      await proxy.waitForLog(() => closed().length === 2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await db.sql('SET GLOBAL general_log=0');
      const general = await fs.readFile(logFile, 'utf8');
      expect(general).toContain('_mysql_tls_proxy_aborted');
      expect(general).not.toMatch(new RegExp(`Connect\\s+${user}@`));
      expect(await proxy.metric('connections_rejected_total', { reason: 'insecure_transport' })).toBe(2);
    } finally {
      await db.sql('SET GLOBAL general_log=0').catch(() => undefined);
      await proxy.stop();
    }
  });
});

describe('PROXY protocol', () => {
  let proxy: ProxyProcess;
  let ca: Buffer;
  beforeAll(async () => {
    proxy = await startProxy({
      backendPort: db.port,
      args: [
        '--proxy-protocol-from',
        '127.0.0.1/32',
        '--allow',
        '10.0.0.0/8',
        '--allow',
        '127.0.0.2/32',
        '--backend-proxy-protocol',
        'v2',
        '--listen',
        '0.0.0.0:0',
      ],
    });
    ca = await fs.readFile(proxy.caFile);
  });
  afterAll(async () => proxy?.stop());

  /** mysql2 over a socket whose first bytes are `header` (at connect, or with the client's first write). */
  function connectVia(header: Buffer, lazy: boolean) {
    return mysql.createConnection({
      user,
      password,
      ssl: { ca, servername: 'localhost' },
      stream: () => {
        const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
        if (!lazy) {
          socket.write(header);
          return socket;
        }
        let first = true;
        const duplex = new Duplex({
          read() {},
          write(chunk: Buffer, _encoding, callback) {
            socket.write(first ? Buffer.concat([header, chunk]) : chunk, callback);
            first = false;
          },
          final(callback) {
            socket.end(callback);
          },
          destroy(error, callback) {
            socket.destroy();
            callback(error);
          },
        });
        socket.on('data', (data) => duplex.push(data));
        socket.on('end', () => duplex.push(null));
        socket.on('error', (error) => duplex.destroy(error));
        return Object.assign(duplex, {
          setNoDelay: () => duplex,
          setKeepAlive: () => duplex,
          setTimeout: () => duplex,
        });
      },
    });
  }

  it.each([
    [
      'v1',
      (port: number) => encodeProxyV1({ address: '10.9.8.7', port: 40001 }, { address: '127.0.0.1', port }),
    ],
    [
      'v2',
      (port: number) => encodeProxyV2({ address: '10.9.8.7', port: 40002 }, { address: '127.0.0.1', port }),
    ],
  ])('%s: the database and the log see the client address the balancer carried', async (_version, header) => {
    const conn = await connectVia(header(proxy.port), false);
    const [[row]] = await conn.query(
      'SELECT HOST AS host FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()',
    );
    expect(row.host).toMatch(/^10\.9\.8\.7:4000[12]$/);
    await conn.end();
    const line = await proxy.waitForLog(
      (l) => l.event === 'connection_closed' && (l.client as { address: string }).address === '10.9.8.7',
    );
    expect(line.proxied_by).toBe('127.0.0.1');
  });

  it("works with balancers that send the header only with the client's first bytes", async () => {
    const conn = await connectVia(
      encodeProxyV2({ address: '10.1.1.1', port: 41000 }, { address: '127.0.0.1', port: proxy.port }),
      true,
    );
    const [[row]] = await conn.query('SELECT 1 AS lazy');
    expect(row.lazy).toBe(1);
    await conn.end();
    await proxy.waitForLog(
      (l) => l.event === 'connection_closed' && (l.client as { address: string }).address === '10.1.1.1',
    );
  });

  it('applies the access list to the carried address', async () => {
    const socket = await connectRaw(proxy.port);
    socket.write(
      encodeProxyV1({ address: '192.0.2.1', port: 1234 }, { address: '127.0.0.1', port: proxy.port }),
    );
    expect(errOf((await readPacket(socket)).payload)).toEqual({
      code: 1130,
      message: "Host '192.0.2.1' is not allowed to connect to this MySQL server",
    });
    await closed(socket);
  });

  it('refuses a missing header from a listed peer, a malformed one, and one from an unlisted peer', async () => {
    const before = await proxy.metric('connections_rejected_total', { reason: 'proxy_protocol' });
    const missing = await connectRaw(proxy.port);
    await readPacket(missing); // greeted after --proxy-protocol-wait
    missing.write(SSL_REQUEST);
    expect(errOf((await readPacket(missing)).payload).message).toMatch(/PROXY protocol/);
    await closed(missing);

    const malformed = await connectRaw(proxy.port);
    malformed.write('PROXY TCP4 10.0.0.1 nonsense\r\n');
    expect(errOf((await readPacket(malformed)).payload).message).toMatch(/PROXY protocol/);
    await closed(malformed);

    const unlisted = await connectRaw(proxy.port, '127.0.0.2');
    unlisted.write(
      encodeProxyV1({ address: '10.0.0.1', port: 1 }, { address: '127.0.0.1', port: proxy.port }),
    );
    const packets = [await readPacket(unlisted)];
    if (packets[0].payload[0] === 10) packets.push(await readPacket(unlisted));
    expect(errOf(packets.at(-1)!.payload).message).toMatch(/not listed in --proxy-protocol-from/);
    await closed(unlisted);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await proxy.metric('connections_rejected_total', { reason: 'proxy_protocol' })) - before).toBe(3);
  });
});
