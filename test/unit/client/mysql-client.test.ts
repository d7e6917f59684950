import * as net from 'net';
import * as tls from 'tls';
import {
  connectMysql,
  cachingSha2Scramble,
  nativePasswordScramble,
  parseAuthSwitch,
} from '../../../src/client/mysql-client';
import { MysqlClientError } from '../../../src/client/errors';
import { generateDevCertificates, type GeneratedPem } from '../../../src/tls/dev-certs';
import { startFakeServer, type FakeServer, type LoginBehaviour } from '../../helpers/fake-mysql-server';

let pem: GeneratedPem;
const servers: FakeServer[] = [];

beforeAll(async () => {
  pem = await generateDevCertificates({
    hosts: ['localhost', '127.0.0.1'],
    keyType: 'ecdsa',
    rsaBits: 2048,
    days: 1,
  });
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function fake(login: LoginBehaviour, extra: { advertiseTls?: boolean } = {}): Promise<FakeServer> {
  const server = await startFakeServer({
    login,
    password: 's3cret',
    tls: { cert: pem.serverCert, key: pem.serverKey },
    ...extra,
  });
  servers.push(server);
  return server;
}

const base = (port: number) => ({
  host: '127.0.0.1',
  port,
  user: 'app',
  password: 's3cret',
  timeoutMs: 3000,
});

describe('scrambles', () => {
  it('are empty for an empty password', () => {
    expect(nativePasswordScramble('', Buffer.alloc(20)).length).toBe(0);
    expect(cachingSha2Scramble('', Buffer.alloc(20)).length).toBe(0);
  });

  it('have the digest length and depend on the nonce', () => {
    const a = Buffer.alloc(20, 1);
    const b = Buffer.alloc(20, 2);
    expect(nativePasswordScramble('pw', a)).toHaveLength(20);
    expect(cachingSha2Scramble('pw', a)).toHaveLength(32);
    expect(nativePasswordScramble('pw', a).equals(nativePasswordScramble('pw', b))).toBe(false);
  });

  it('parses an AuthSwitchRequest with and without the trailing NUL', () => {
    const nonce = Buffer.from('0123456789abcdefghij');
    const withNul = Buffer.concat([
      Buffer.from([0xfe]),
      Buffer.from('mysql_native_password\0'),
      nonce,
      Buffer.from([0]),
    ]);
    expect(parseAuthSwitch(withNul)).toEqual({ plugin: 'mysql_native_password', data: nonce });
    expect(parseAuthSwitch(Buffer.from([0xfe])).plugin).toBe('mysql_old_password');
  });
});

describe('connectMysql over TLS', () => {
  it.each<LoginBehaviour>(['native', 'sha2-fast', 'sha2-full', 'switch-to-native'])(
    'logs in with %s, runs a query and quits',
    async (login) => {
      const server = await fake(login);
      const connection = await connectMysql({
        ...base(server.port),
        tlsOptions: { ca: pem.caCert },
        rejectUnauthorized: true,
      });
      expect(connection.tlsVersion).toBe('TLSv1.3');
      expect(connection.cipher).toMatch(/^TLS_/);
      expect(connection.authenticated).toBe(true);
      const result = await connection.query('select 42 as answer');
      expect(result.columns).toEqual(['answer']);
      expect(result.rows).toEqual([['42'], [null]]);
      await connection.quit();
      expect(server.events).toEqual(['tls', 'login-ok', 'query', 'quit']);
    },
  );

  it('shares one SecureContext and pins the TLS version', async () => {
    const server = await fake('native');
    const secureContext = tls.createSecureContext({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    for (let i = 0; i < 3; i++) {
      const connection = await connectMysql({ ...base(server.port), secureContext });
      expect(connection.tlsVersion).toBe('TLSv1.2');
      await connection.quit();
    }
  });

  it('stops after the TLS handshake with stopAfterTls', async () => {
    const server = await fake('native');
    const connection = await connectMysql({ ...base(server.port), stopAfterTls: true });
    expect(connection.tlsVersion).toBe('TLSv1.3');
    expect(connection.authenticated).toBe(false);
    await connection.close();
    expect(server.events).toEqual(['tls']);
  });

  it('classifies a refused login as mysql_err with the code', async () => {
    const server = await fake('deny');
    await expect(connectMysql(base(server.port))).rejects.toMatchObject({
      kind: 'mysql_err',
      code: 1045,
      sqlState: '28000',
      stage: 'auth',
    });
  });

  it('classifies a certificate that does not verify as tls_alert bad_certificate', async () => {
    const server = await fake('native');
    const error = await connectMysql({ ...base(server.port), rejectUnauthorized: true }).catch((e) => e);
    expect(error).toBeInstanceOf(MysqlClientError);
    expect(error).toMatchObject({ kind: 'tls_alert', reason: 'bad_certificate', stage: 'tls' });
  });

  it('checks the certificate against serverName', async () => {
    const server = await fake('native');
    const opts = { ...base(server.port), tlsOptions: { ca: pem.caCert }, rejectUnauthorized: true };
    await expect(connectMysql({ ...opts, serverName: 'db.example.com' })).rejects.toMatchObject({
      kind: 'tls_alert',
      errno: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    await (await connectMysql({ ...opts, serverName: 'localhost' })).quit();
  });

  it('checks the name without building the detailed chain, and gives the full chain afterwards', async () => {
    const server = await fake('native');
    const detailed = jest.spyOn(tls.TLSSocket.prototype, 'getPeerCertificate');
    try {
      const connection = await connectMysql({
        ...base(server.port),
        tlsOptions: { ca: pem.caCert },
        rejectUnauthorized: true,
      });
      // Node's own check would have asked the prototype for getPeerCertificate(true)
      expect(detailed).not.toHaveBeenCalledWith(true);
      const socket = connection.tlsSocket!;
      expect(socket.authorized).toBe(true);
      const chain = socket.getPeerCertificate(true);
      expect(chain.subjectaltname).toContain('IP Address:127.0.0.1');
      expect(chain.issuerCertificate.subject).toEqual(chain.issuer);
      await connection.quit();
    } finally {
      detailed.mockRestore();
    }
  });

  it('refuses to continue without TLS when the server does not offer it', async () => {
    const server = await fake('native', { advertiseTls: false });
    await expect(connectMysql(base(server.port))).rejects.toMatchObject({ kind: 'other', stage: 'greeting' });
  });

  it('classifies refused, closed and timed-out connections', async () => {
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const deadPort = (free.address() as net.AddressInfo).port;
    await new Promise((r) => free.close(r));
    await expect(connectMysql(base(deadPort))).rejects.toMatchObject({ kind: 'refused', stage: 'connect' });

    const sockets: net.Socket[] = [];
    const hangup = net.createServer((s) => s.destroy());
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => hangup.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      await expect(connectMysql(base((hangup.address() as net.AddressInfo).port))).rejects.toMatchObject({
        kind: 'closed',
        stage: 'greeting',
      });
      await expect(
        connectMysql({ ...base((silent.address() as net.AddressInfo).port), timeoutMs: 200 }),
      ).rejects.toMatchObject({ kind: 'timeout', stage: 'greeting' });
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => hangup.close(r));
      await new Promise((r) => silent.close(r));
    }
  });
});
