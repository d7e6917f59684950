/**
 * `mysql-tls-proxy certs` as users run it, checked with the openssl CLI (the proxy itself never
 * needs openssl): the chain verifies, SANs and key types are what was asked, keys are 0600,
 * nothing is overwritten without --force, and --keep-ca rotates the server certificate only.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLI } from '../helpers/proxy';
import { run, type RunResult } from '../helpers/clients';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-certs-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const certs = (...args: string[]) => run(process.execPath, [CLI, 'certs', '--out', dir, ...args]);
const openssl = (...args: string[]) => run('openssl', args);
const file = (name: string) => path.join(dir, name);

function expectOk(result: RunResult): string {
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** "AB:CD:..." from `openssl x509 -fingerprint -sha256`. */
async function fingerprint(pem: string): Promise<string> {
  const out = expectOk(await openssl('x509', '-in', pem, '-noout', '-fingerprint', '-sha256'));
  return out.trim().split('=')[1];
}

async function serial(pem: string): Promise<string> {
  return expectOk(await openssl('x509', '-in', pem, '-noout', '-serial'))
    .trim()
    .split('=')[1];
}

it('writes a CA and a server certificate that openssl verifies, with the default and extra SANs', async () => {
  const out = expectOk(await certs('--host', 'db.example.test', '--host', '10.1.2.3'));

  const verify = await openssl(
    'verify',
    '-x509_strict',
    '-purpose',
    'sslserver',
    '-CAfile',
    file('ca.pem'),
    file('server.pem'),
  );
  expect(verify.stdout.trim()).toBe(`${file('server.pem')}: OK`);
  for (const host of ['db.example.test', 'localhost']) {
    expect(
      (await openssl('verify', '-CAfile', file('ca.pem'), '-verify_hostname', host, file('server.pem'))).code,
    ).toBe(0);
  }
  expect(
    (await openssl('verify', '-CAfile', file('ca.pem'), '-verify_ip', '10.1.2.3', file('server.pem'))).code,
  ).toBe(0);
  expect(
    (await openssl('verify', '-CAfile', file('ca.pem'), '-verify_hostname', 'evil.test', file('server.pem')))
      .code,
  ).not.toBe(0);

  const text = expectOk(await openssl('x509', '-in', file('server.pem'), '-noout', '-text'));
  expect(text).toMatch(
    /DNS:db\.example\.test, IP Address:10\.1\.2\.3, DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/,
  );
  expect(text).toMatch(/Subject: O ?= ?mysql-tls-proxy, CN ?= ?db\.example\.test/);
  expect(text).toMatch(/ASN1 OID: prime256v1/);
  expect(text).toMatch(/TLS Web Server Authentication/);
  const caText = expectOk(await openssl('x509', '-in', file('ca.pem'), '-noout', '-text'));
  expect(caText).toMatch(/CA:TRUE, pathlen:0/);

  // Keys private to the user, certificates readable.
  for (const [name, mode] of [
    ['ca-key.pem', 0o600],
    ['server-key.pem', 0o600],
    ['ca.pem', 0o644],
    ['server.pem', 0o644],
  ] as const) {
    expect((await fs.stat(file(name))).mode & 0o777).toBe(mode);
  }
  expect((await openssl('pkey', '-in', file('server-key.pem'), '-noout')).code).toBe(0);

  // The printed summary names the files and gives the same fingerprints and expiry as openssl.
  for (const name of ['ca.pem', 'ca-key.pem', 'server.pem', 'server-key.pem'])
    expect(out).toContain(file(name));
  expect(out).toContain(await fingerprint(file('ca.pem')));
  expect(out).toContain(await fingerprint(file('server.pem')));
  const notAfter = expectOk(await openssl('x509', '-in', file('server.pem'), '-noout', '-enddate'));
  const expected = new Date(notAfter.trim().split('=')[1]).toISOString();
  expect(out).toContain(`notAfter:  ${expected}`);
});

it('makes RSA keys of the requested size and honours --days', async () => {
  expectOk(
    await certs(
      '--key-type',
      'rsa',
      '--rsa-bits',
      '3072',
      '--days',
      '10',
      '--no-default-hosts',
      '--host',
      'db.internal',
    ),
  );
  const text = expectOk(await openssl('x509', '-in', file('server.pem'), '-noout', '-text'));
  expect(text).toMatch(/Public-Key: \(3072 bit\)/);
  expect(text).toMatch(/sha256WithRSAEncryption/);
  expect(text).toMatch(/DNS:db\.internal\s*$/m);
  expect(text).not.toMatch(/localhost/);
  const end = expectOk(await openssl('x509', '-in', file('server.pem'), '-noout', '-enddate'));
  const days = (new Date(end.trim().split('=')[1]).getTime() - Date.now()) / 86_400_000;
  expect(days).toBeGreaterThan(9.9);
  expect(days).toBeLessThan(10.1);
  expect((await openssl('verify', '-CAfile', file('ca.pem'), file('server.pem'))).code).toBe(0);
});

it('refuses to overwrite without --force (exit 2, one line) and replaces everything with it', async () => {
  expectOk(await certs());
  const before = await serial(file('ca.pem'));
  const refused = await certs();
  expect(refused.code).toBe(2);
  expect(refused.stderr.trim().split('\n')).toHaveLength(1);
  expect(refused.stderr).toMatch(/refusing to overwrite .*--force/);
  expect(await serial(file('ca.pem'))).toBe(before);

  expectOk(await certs('--force'));
  expect(await serial(file('ca.pem'))).not.toBe(before);
  expect((await openssl('verify', '-CAfile', file('ca.pem'), file('server.pem'))).code).toBe(0);
});

it('--keep-ca issues a new server certificate from the existing CA', async () => {
  expectOk(await certs());
  const caBefore = await fs.readFile(file('ca.pem'), 'utf8');
  const serverBefore = await serial(file('server.pem'));
  const out = expectOk(await certs('--keep-ca', '--host', 'db.example.test'));
  expect(await fs.readFile(file('ca.pem'), 'utf8')).toBe(caBefore);
  expect(await serial(file('server.pem'))).not.toBe(serverBefore);
  expect(out).toContain(await fingerprint(file('server.pem')));
  expect(
    (
      await openssl(
        'verify',
        '-CAfile',
        file('ca.pem'),
        '-verify_hostname',
        'db.example.test',
        file('server.pem'),
      )
    ).code,
  ).toBe(0);
  expect((await fs.stat(file('server-key.pem'))).mode & 0o777).toBe(0o600);

  const noCa = await run(process.execPath, [CLI, 'certs', '--out', path.join(dir, 'empty'), '--keep-ca']);
  expect(noCa.code).toBe(2);
  expect(noCa.stderr).toMatch(/--keep-ca: cannot read .*ca\.pem/);
});

it('rejects a bad host with exit 2 and one line', async () => {
  const result = await certs('--host', 'not a host!');
  expect(result.code).toBe(2);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(/not a valid DNS name or IP address/);
});
