/**
 * `mysql-tls-proxy check` (the built CLI): passes against the proxy (TLS 1.2/1.3 only, certificate
 * verifies against its CA), fails and says why against a deliberately weak endpoint (a test TLS
 * server speaking a MySQL greeting that accepts TLS 1.0) and for a certificate that does not verify.
 */
import { execFile } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { generateDevCertificates, type GeneratedPem } from '../../src/tls/dev-certs';
import { startMariaDb, type MariaDbServer } from '../helpers/mariadb';
import { CLI, startProxy, type ProxyProcess } from '../helpers/proxy';
import { startFakeServer, type FakeServer } from '../helpers/fake-mysql-server';
import { sClientRenegotiation } from '../helpers/openssl';

let db: MariaDbServer;
let proxy: ProxyProcess;
let weak: FakeServer;
let pem: GeneratedPem;
let weakCa: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

function check(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'check', ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr, json });
    });
  });
}

beforeAll(async () => {
  db = await startMariaDb();
  proxy = await startProxy({ backendPort: db.port });
  pem = await generateDevCertificates({
    hosts: ['localhost', '127.0.0.1'],
    keyType: 'ecdsa',
    rsaBits: 2048,
    days: 2,
  });
  weakCa = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-check-test-')), 'ca.pem');
  await fs.writeFile(weakCa, pem.caCert);
  // The weak endpoint: TLS 1.0 and SHA-1 allowed on the server side
  weak = await startFakeServer({
    login: 'native',
    password: 'x',
    tls: {
      cert: pem.serverCert,
      key: pem.serverKey,
      minVersion: 'TLSv1',
      ciphers: 'DEFAULT:@SECLEVEL=0',
    },
  });
});

afterAll(async () => {
  await weak?.close();
  await proxy?.stop();
  await db?.destroy();
  if (weakCa) await fs.rm(path.dirname(weakCa), { recursive: true, force: true });
});

describe('check against the proxy', () => {
  it('passes: TLS 1.2 and 1.3 only, chain verified against the CA', async () => {
    const run = await check(['--target', `127.0.0.1:${proxy.port}`, '--ca', proxy.caFile, '--json']);
    expect(run.stderr).toBe('');
    const report = run.json;
    // Client-initiated renegotiation is a medium finding of the default policy; the proxy is
    // turning it off in a parallel change, so only the consistency of the verdict is asserted.
    const reneg = report.behaviour.renegotiation.clientInitiated === 'allowed';
    expect(run.code).toBe(reneg ? 1 : 0);
    expect(report.ok).toBe(!reneg);
    expect(report.problems).toEqual(reneg ? [expect.stringMatching(/renegotiation is allowed/)] : []);
    expect(report.acceptedVersions).toEqual(['TLSv1.2', 'TLSv1.3']);
    expect(report.versions.find((v: { version: string }) => v.version === 'TLSv1')).toMatchObject({
      accepted: false,
      error: 'protocol_version',
    });
    expect(report.versions.find((v: { version: string }) => v.version === 'TLSv1.3').cipher).toMatch(/^TLS_/);
    expect(report.greeting).toMatchObject({ tlsAdvertised: true });
    expect(report.greeting.serverVersion).toMatch(/MariaDB/);
    expect(report.plaintext).toMatchObject({ greeting: true, tlsAdvertised: true });
    expect(report.chain[0].sans).toContain('IP Address:127.0.0.1');
    expect(report.chain[0].keyType).toBe('ECDSA P-256');
    expect(new Date(report.chain[0].notAfter).getTime()).toBeGreaterThan(Date.now());
    expect(report.verification).toMatchObject({ verified: true, serverName: '127.0.0.1' });
  });

  it('prints a human table', async () => {
    const run = await check([
      '--target',
      `127.0.0.1:${proxy.port}`,
      '--ca',
      proxy.caFile,
      '--fail-on',
      'high',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/TLSv1\s+refused\s+protocol_version/);
    expect(run.stdout).toMatch(/TLSv1\.1\s+refused\s+protocol_version/);
    expect(run.stdout).toMatch(/TLSv1\.2\s+accepted\s+ECDHE-/);
    expect(run.stdout).toMatch(/TLSv1\.3\s+accepted\s+TLS_/);
    expect(run.stdout).toMatch(/verification\s+OK/);
    expect(run.stdout).toMatch(/verdict\s+PASS/);
  });

  it('fails when the certificate does not verify (system store, wrong name)', async () => {
    const system = await check(['--target', `127.0.0.1:${proxy.port}`, '--json']);
    expect(system.code).toBe(1);
    expect(system.json.acceptedVersions).toEqual(['TLSv1.2', 'TLSv1.3']);
    expect(system.json.verification.verified).toBe(false);
    expect(system.json.problems.join('\n')).toMatch(/certificate does not verify/);

    const wrongName = await check([
      '--target',
      `127.0.0.1:${proxy.port}`,
      '--ca',
      proxy.caFile,
      '--server-name',
      'db.example.com',
    ]);
    expect(wrongName.code).toBe(1);
    expect(wrongName.stdout).toMatch(/verification\s+FAILED .*db\.example\.com/);
  });
});

describe('check against a weak endpoint', () => {
  it('fails and says that TLS 1.0 and 1.1 are accepted', async () => {
    const run = await check(['--target', `127.0.0.1:${weak.port}`, '--ca', weakCa, '--json']);
    expect(run.code).toBe(1);
    expect(run.json.ok).toBe(false);
    expect(run.json.acceptedVersions).toEqual(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    expect(run.json.verification.verified).toBe(true);
    expect(run.json.findings).toEqual(
      expect.arrayContaining([
        {
          id: 'version-not-allowed',
          severity: 'high',
          reason:
            'TLS 1.0 is accepted (nothing below TLS 1.2 should be; policy tidb-cloud allows TLS 1.2, TLS 1.3)',
        },
        {
          id: 'version-not-allowed',
          severity: 'high',
          reason:
            'TLS 1.1 is accepted (nothing below TLS 1.2 should be; policy tidb-cloud allows TLS 1.2, TLS 1.3)',
        },
      ]),
    );
    // A Node TLS server allows client-initiated renegotiation, and so does s_client's R
    expect(run.json.behaviour.renegotiation.clientInitiated).toBe('allowed');
    expect(await sClientRenegotiation(weak.port)).toBe('allowed');
    const text = await check(['--target', `127.0.0.1:${weak.port}`, '--ca', weakCa]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/TLSv1\s+accepted\s+ECDHE-.*<- below TLS 1\.2/);
    expect(text.stdout).toMatch(/verdict\s+FAIL/);
    expect(text.stdout).toContain('TLS 1.0 is accepted');
  });
});

describe('usage and unreachable targets', () => {
  it('exits 2 with one line without --target', async () => {
    const run = await check([]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/--target/);
  });

  it('exits 2 (could not probe) for an endpoint that is not there', async () => {
    const run = await check(['--target', '127.0.0.1:1', '--json']);
    expect(run.code).toBe(2);
    expect(run.json.acceptedVersions).toEqual([]);
    expect(run.json.unreachable).toMatch(/ECONNREFUSED/);
  });
});
