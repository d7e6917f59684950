/**
 * More backends: a MariaDB reachable only through its unix socket (skip-networking: the proxy is
 * its one TCP door), and --backend-tls verify-ca (chain checked, name not) against a MariaDB whose
 * certificate names a host the proxy does not dial.
 */
import { promises as fs } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { startProxy, type ProxyProcess } from '../helpers/proxy';
import { mysql, run } from '../helpers/clients';
import { certPathsIn, writeCertificates } from '../../src/tls/cert-files';
import { generateDevCertificates } from '../../src/tls/dev-certs';

const { user, password } = TEST_USERS.native;
const CLI = path.resolve(__dirname, '../../dist/cli/index.js');

function tcpRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

async function tlsQuery(proxy: ProxyProcess, sql: string): Promise<unknown> {
  const ca = await fs.readFile(proxy.caFile);
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: proxy.port,
    user,
    password,
    ssl: { ca },
  });
  try {
    const [rows] = await conn.query(sql);
    return rows;
  } finally {
    await conn.end();
  }
}

describe('--backend unix:/path (MariaDB with skip-networking)', () => {
  let db: MariaDbServer;
  let proxy: ProxyProcess | undefined;
  beforeAll(async () => {
    db = await startMariaDb({ skipNetworking: true });
  });
  afterAll(async () => {
    await proxy?.stop();
    await db?.destroy();
  });

  it('is the only TCP door: TLS logins reach the socket-only server, /readyz probes it', async () => {
    expect(await tcpRefused(db.port)).toBe(true);
    proxy = await startProxy({ backendPort: db.port, args: ['--backend', `unix:${db.socket}`] });
    expect(proxy.logs().find((l) => l.event === 'listening')?.backend).toBe(`unix:${db.socket}`);
    const rows = await tlsQuery(
      proxy,
      "SELECT @@skip_networking AS skip, CURRENT_USER() LIKE 'app@%' AS app",
    );
    expect(rows).toEqual([{ skip: 1, app: 1 }]);
    const ready = await fetch(`http://127.0.0.1:${proxy.statusPort}/readyz`);
    expect(ready.status).toBe(200);
    expect(await proxy.metric('backend_up')).toBe(1);
    await proxy.waitForLog((l) => l.event === 'connection_closed' && l.reason === 'client_quit');
  });

  it('reports the socket unreachable when the server is gone, and ready again when it is back', async () => {
    const running = proxy!;
    await db.stop();
    await expect(tlsQuery(running, 'SELECT 1')).rejects.toThrow();
    await running.waitForLog((l) => l.event === 'connection_closed' && l.reason === 'backend_unavailable');
    await db.start();
    expect(await tlsQuery(running, 'SELECT 2 AS two')).toEqual([{ two: 2 }]);
  });

  it('refuses --backend-tls and --backend-local-address with a unix backend at startup', async () => {
    for (const extra of [
      ['--backend-tls', 'verify-ca'],
      ['--backend-local-address', '127.0.0.1'],
    ]) {
      const result = await run(process.execPath, [CLI, 'serve', '--backend', `unix:${db.socket}`, ...extra]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`${extra[0]}.*cannot be used with --backend unix:`));
    }
  });
});

describe('--backend-tls verify-ca', () => {
  let db: MariaDbServer;
  let dir: string;
  let backendCa: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-verify-ca-'));
    const files = certPathsIn(dir);
    // The certificate names db.internal only; the proxy dials 127.0.0.1.
    const pem = await generateDevCertificates({
      hosts: ['db.internal'],
      keyType: 'ecdsa',
      rsaBits: 2048,
      days: 2,
    });
    await writeCertificates(files, pem, { force: false });
    backendCa = files.caCert;
    db = await startMariaDb({ tls: { cert: files.serverCert, key: files.serverKey, ca: files.caCert } });
  });
  afterAll(async () => {
    await db?.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('accepts a certificate from --backend-ca whatever name it carries (verify would refuse it)', async () => {
    const proxy = await startProxy({
      backendPort: db.port,
      args: ['--backend-tls', 'verify-ca', '--backend-ca', backendCa],
    });
    try {
      expect(await tlsQuery(proxy, "SHOW SESSION STATUS LIKE 'Ssl_version'")).toEqual([
        { Variable_name: 'Ssl_version', Value: expect.stringMatching(/^TLSv1\.[23]$/) },
      ]);
    } finally {
      await proxy.stop();
    }
    const strict = await startProxy({
      backendPort: db.port,
      args: ['--backend-tls', 'verify', '--backend-ca', backendCa],
    });
    try {
      await expect(tlsQuery(strict, 'SELECT 1')).rejects.toThrow(/TLS to the database failed/);
      const line = await strict.waitForLog((l) => l.event === 'connection_closed');
      expect(line.reason).toBe('backend_tls_failed');
    } finally {
      await strict.stop();
    }
  });

  it('still refuses a certificate from another CA', async () => {
    const other = certPathsIn(path.join(dir, 'other'));
    await fs.mkdir(path.dirname(other.caCert), { recursive: true });
    await writeCertificates(
      other,
      await generateDevCertificates({ hosts: ['db.internal'], keyType: 'ecdsa', rsaBits: 2048, days: 2 }),
      { force: false },
    );
    const proxy = await startProxy({
      backendPort: db.port,
      args: ['--backend-tls', 'verify-ca', '--backend-ca', other.caCert],
    });
    try {
      await expect(tlsQuery(proxy, 'SELECT 1')).rejects.toThrow(/TLS to the database failed/);
      expect((await proxy.waitForLog((l) => l.event === 'connection_closed')).reason).toBe(
        'backend_tls_failed',
      );
      expect(await proxy.metric('connections_rejected_total', { reason: 'backend_unavailable' })).toBe(1);
    } finally {
      await proxy.stop();
    }
  });
});

describe('--backend unix:/path with --backend-proxy-protocol v2', () => {
  let db: MariaDbServer;
  beforeAll(async () => {
    db = await startMariaDb({ skipNetworking: true, extraArgs: ['--proxy-protocol-networks=localhost'] });
  });
  afterAll(async () => {
    await db?.destroy();
  });

  it('tells the database the real client address over the socket', async () => {
    const proxy = await startProxy({
      backendPort: db.port,
      args: ['--backend', `unix:${db.socket}`, '--backend-proxy-protocol', 'v2'],
    });
    try {
      const rows = await tlsQuery(
        proxy,
        'SELECT HOST AS host FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()',
      );
      // Over the socket without a header the database sees plain 'localhost'; with it, the
      // client's address (reverse-resolved: 127.0.0.1 is localhost) and the client's port.
      const [{ host }] = rows as Array<{ host: string }>;
      expect(host).toMatch(/^(127\.0\.0\.1|localhost):\d+$/);
      const closed = await proxy.waitForLog((l) => l.event === 'connection_closed');
      expect(Number(host.split(':')[1])).toBe((closed.client as { port: number }).port);
      expect((await fetch(`http://127.0.0.1:${proxy.statusPort}/readyz`)).status).toBe(200);
    } finally {
      await proxy.stop();
    }
  });
});
