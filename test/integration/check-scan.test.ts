/**
 * `check` as a TLS posture scanner against real MariaDB native TLS configurations whose answers are
 * known (restricted cipher list, TLS 1.3 only, RSA and ECDSA certificates, an expired certificate,
 * a chain missing its intermediate) and the proxy; cipher lists are checked against what
 * `openssl s_client -starttls mysql` gets accepted one suite at a time.
 */
import { execFile } from 'child_process';
import { promises as fs } from 'fs';
import { startMariaDb, type MariaDbServer } from '../helpers/mariadb';
import { CLI, startProxy, type ProxyProcess } from '../helpers/proxy';
import { makeChain, type ChainFiles } from '../helpers/tls-chain';
import { opensslCipherNames, sClientAcceptedCiphers, sClientRenegotiation } from '../helpers/openssl';

interface Run {
  code: number;
  stdout: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

function check(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'check', ...args],
      { timeout: 60_000, maxBuffer: 16 << 20 },
      (error, stdout) => {
        let json: unknown;
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, json });
      },
    );
  });
}

const RESTRICTED = [
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-AES256-GCM-SHA384',
  'AES128-SHA',
];

let rsa: ChainFiles;
let ecdsa: ChainFiles;
let expired: ChainFiles;
let restricted: MariaDbServer; // RSA, full chain, TLS 1.2 only, four ciphers
let tls13: MariaDbServer; // ECDSA, TLS 1.3 only
let stale: MariaDbServer; // RSA, expired leaf
let partial: MariaDbServer; // ECDSA, leaf only (intermediate missing), MariaDB defaults otherwise
let proxy: ProxyProcess;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const version = (report: any, name: string) =>
  report.versions.find((v: { version: string }) => v.version === name);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ids = (report: any): string[] => report.findings.map((f: { id: string }) => f.id);

beforeAll(async () => {
  [rsa, ecdsa, expired] = await Promise.all([
    makeChain('rsa'),
    makeChain('ecdsa'),
    makeChain('rsa', { expired: true }),
  ]);
  [restricted, tls13, stale, partial] = await Promise.all([
    startMariaDb({
      tls: { cert: rsa.fullChain, key: rsa.key, ca: rsa.rootCa },
      sslCipher: RESTRICTED.join(':'),
      tlsVersion: 'TLSv1.2',
    }),
    startMariaDb({ tls: { cert: ecdsa.fullChain, key: ecdsa.key, ca: ecdsa.rootCa }, tlsVersion: 'TLSv1.3' }),
    startMariaDb({ tls: { cert: expired.fullChain, key: expired.key, ca: expired.rootCa } }),
    startMariaDb({ tls: { cert: ecdsa.leafOnly, key: ecdsa.key, ca: ecdsa.rootCa } }),
  ]);
  proxy = await startProxy({ backendPort: partial.port });
});

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([restricted, tls13, stale, partial].map((db) => db?.destroy()));
  await Promise.all([rsa, ecdsa, expired].map((c) => c && fs.rm(c.dir, { recursive: true, force: true })));
});

describe('MariaDB with a restricted ssl_cipher list (TLS 1.2 only, RSA)', () => {
  it('finds exactly the configured ciphers, the same as s_client one by one', async () => {
    const run = await check(['--target', `127.0.0.1:${restricted.port}`, '--ca', rsa.rootCa, '--json']);
    expect(run.json.acceptedVersions).toEqual(['TLSv1.2']);
    const found = version(run.json, 'TLSv1.2').ciphers.map((c: { name: string }) => c.name);
    expect([...found].sort()).toEqual([...RESTRICTED].sort());
    const reference = await sClientAcceptedCiphers(restricted.port, await opensslCipherNames());
    expect([...found].sort()).toEqual([...reference].sort());
    expect(version(run.json, 'TLSv1.2').dheBits).toBeGreaterThanOrEqual(2048);
    expect(version(run.json, 'TLSv1.2').signatureAlgorithms).toContain('rsa_pss_rsae_sha256');
    expect(version(run.json, 'TLSv1.2').signatureAlgorithms.every((a: string) => a.startsWith('rsa'))).toBe(
      true,
    );
    // AES128-SHA is neither forward secret nor AEAD: a medium finding, exit 1 at the default --fail-on
    expect(run.json.findings).toContainEqual({
      id: 'cipher-not-allowed',
      severity: 'medium',
      reason: 'TLS 1.2 accepts AES128-SHA: not forward secret, not AEAD',
    });
    expect(run.code).toBe(1);
    expect(run.json.leaf).toMatchObject({
      keyType: 'RSA 2048',
      keyBits: 2048,
      signatureAlgorithm: 'sha256WithRSAEncryption',
      sanMatch: true,
    });
    expect(run.json.chainFacts).toMatchObject({ orderObserved: true, inOrder: true, complete: true });
    expect(run.json.verification.verified).toBe(true);
    expect(run.json.behaviour.compression).toBe('none');
    expect(run.json.behaviour.secureRenegotiation).toBe('yes');
  });

  it('a policy file allowing exactly those ciphers passes; --fail-on high ignores medium findings', async () => {
    const policy = `${rsa.dir}/policy.yaml`;
    await fs.writeFile(
      policy,
      `versions: [TLSv1.2]\nciphers: [${RESTRICTED.join(', ')}]\nrequireForwardSecrecy: false\nrequireAead: false\n`,
    );
    const run = await check([
      '--target',
      `127.0.0.1:${restricted.port}`,
      '--ca',
      rsa.rootCa,
      '--policy',
      policy,
      '--json',
    ]);
    expect(run.json.policy).toBe(policy);
    expect(
      run.json.findings.filter((f: { severity: string }) => f.severity !== 'low' && f.severity !== 'info'),
    ).toEqual([]);
    expect(run.code).toBe(0);
    const high = await check([
      '--target',
      `127.0.0.1:${restricted.port}`,
      '--ca',
      rsa.rootCa,
      '--fail-on',
      'high',
    ]);
    expect(high.code).toBe(0);
    expect(high.stdout).toMatch(/verdict\s+PASS/);
  });
});

describe('MariaDB TLS 1.3 only (ECDSA)', () => {
  it('lists the TLS 1.3 suites, groups and ECDSA signatures; 1.2-only probes do not apply', async () => {
    const run = await check(['--target', `127.0.0.1:${tls13.port}`, '--ca', ecdsa.rootCa, '--json']);
    expect(run.json.acceptedVersions).toEqual(['TLSv1.3']);
    const suites = version(run.json, 'TLSv1.3').ciphers.map((c: { name: string }) => c.name);
    const reference = await sClientAcceptedCiphers(
      tls13.port,
      [
        'TLS_AES_256_GCM_SHA384',
        'TLS_AES_128_GCM_SHA256',
        'TLS_CHACHA20_POLY1305_SHA256',
        'TLS_AES_128_CCM_SHA256',
        'TLS_AES_128_CCM_8_SHA256',
      ],
      '-tls1_3',
    );
    expect([...suites].sort()).toEqual([...reference].sort());
    expect(suites).toContain('TLS_AES_256_GCM_SHA384');
    expect(version(run.json, 'TLSv1.3').groups).toEqual(expect.arrayContaining(['X25519', 'P-256', 'P-384']));
    expect(version(run.json, 'TLSv1.3').signatureAlgorithms).toEqual(['ecdsa_secp256r1_sha256']);
    expect(run.json.leaf).toMatchObject({
      keyType: 'ECDSA P-256',
      keyBits: 256,
      signatureAlgorithm: 'ecdsa-with-SHA256',
    });
    expect(run.json.behaviour).toMatchObject({
      compression: 'not applicable',
      renegotiation: { clientInitiated: 'not applicable' },
    });
    expect(run.json.behaviour.resumption.ticketTls13.offered).toBe('yes');
    expect(run.json.chainFacts.orderObserved).toBe(false);
    expect(ids(run.json)).toContain('version-missing');
    expect(ids(run.json)).not.toContain('version-not-allowed');
  });
});

describe('MariaDB with an expired certificate', () => {
  it('is a critical finding and the chain does not verify', async () => {
    const run = await check(['--target', `127.0.0.1:${stale.port}`, '--ca', expired.rootCa, '--json']);
    expect(run.code).toBe(1);
    expect(run.json.leaf.daysToExpiry).toBeLessThan(0);
    expect(run.json.findings).toContainEqual(
      expect.objectContaining({ id: 'certificate-expired', severity: 'critical' }),
    );
    expect(run.json.verification).toMatchObject({ verified: false, chainError: 'CERT_HAS_EXPIRED' });
  });
});

describe('MariaDB sending its leaf without the intermediate (ECDSA, defaults)', () => {
  it('reports the chain incomplete and unverifiable', async () => {
    const run = await check(['--target', `127.0.0.1:${partial.port}`, '--ca', ecdsa.rootCa, '--json']);
    expect(run.json.chainFacts).toMatchObject({ complete: false, orderObserved: true });
    expect(run.json.chainFacts.sent).toHaveLength(1);
    expect(run.json.verification.verified).toBe(false);
    expect(ids(run.json)).toEqual(expect.arrayContaining(['chain-incomplete', 'chain-not-verified']));
    const full = await check(['--target', `127.0.0.1:${partial.port}`, '--ca', ecdsa.rootCa]);
    expect(full.stdout).toMatch(/as sent: 1 certificate\(s\), in order, INCOMPLETE/);
  });

  it('every TLS 1.2 cipher equals what s_client gets accepted; renegotiation agrees with s_client R', async () => {
    const run = await check(['--target', `127.0.0.1:${partial.port}`, '--ca', ecdsa.rootCa, '--json']);
    const found = version(run.json, 'TLSv1.2').ciphers.map((c: { name: string }) => c.name);
    const reference = await sClientAcceptedCiphers(partial.port, await opensslCipherNames());
    expect(found.length).toBeGreaterThan(3);
    expect([...found].sort()).toEqual([...reference].sort());
    expect(run.json.behaviour.renegotiation.clientInitiated).toBe(await sClientRenegotiation(partial.port));
    expect(run.json.behaviour.resumption.sessionId).toEqual({ offered: 'yes', resumed: 'yes' });
    expect(run.json.plaintext.login).toBe('offered'); // MariaDB without require_secure_transport
  });
});

describe('the proxy', () => {
  it('accepts forward-secret AEAD ciphers only, in its own order; exit code follows the findings', async () => {
    const run = await check(['--target', `127.0.0.1:${proxy.port}`, '--ca', proxy.caFile, '--json']);
    expect(run.json.acceptedVersions).toEqual(['TLSv1.2', 'TLSv1.3']);
    const tls12 = version(run.json, 'TLSv1.2');
    expect(tls12.ciphers.length).toBeGreaterThan(0);
    expect(
      tls12.ciphers.every((c: { standardName: string }) =>
        /^TLS_ECDHE_.*(GCM|POLY1305)/.test(c.standardName),
      ),
    ).toBe(true);
    expect(tls12.serverCipherOrder).toBe(true);
    expect(ids(run.json)).not.toContain('cipher-not-allowed');
    const reneg = run.json.behaviour.renegotiation.clientInitiated;
    expect(['allowed', 'refused']).toContain(reneg);
    expect(run.code).toBe(reneg === 'allowed' ? 1 : 0);
    expect(run.json.durationMs).toBeLessThan(30_000);
  });

  it('--compare prints what differs between the proxy and the MariaDB behind it', async () => {
    const run = await check([
      '--target',
      `127.0.0.1:${proxy.port}`,
      '--ca',
      proxy.caFile,
      '--compare',
      `127.0.0.1:${partial.port}`,
    ]);
    expect(run.stdout).toMatch(/compare A=127\.0\.0\.1:\d+ with B=127\.0\.0\.1:\d+: \d+ difference/);
    expect(run.stdout).toMatch(/TLSv1\.2 ciphers\n\s+A\s+-\n\s+B\s+only here: .*AES128-SHA/);
    expect(run.stdout).toMatch(/chain complete\n\s+A\s+true\n\s+B\s+false/);
    const json = await check([
      '--target',
      `127.0.0.1:${proxy.port}`,
      '--ca',
      proxy.caFile,
      '--compare',
      `127.0.0.1:${partial.port}`,
      '--json',
    ]);
    expect(json.json.differences).toContainEqual(
      expect.objectContaining({ fact: 'chain complete', a: 'true', b: 'false' }),
    );
    expect(json.code).toBe(1);
  });
});
