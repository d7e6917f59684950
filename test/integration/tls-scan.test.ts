/**
 * The client port as a scanner sees it (SECURITY.md): no client-initiated renegotiation (asked
 * for with `R` in openssl s_client), and Debian's testssl.sh over STARTTLS mysql finding nothing of
 * MEDIUM severity or above in protocols, cipher categories, forward secrecy and vulnerabilities,
 * against the proxy on its default configuration with a real MariaDB behind it.
 */
import { spawn, spawnSync } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startMariaDb, type MariaDbServer } from '../helpers/mariadb';
import { startProxy, type ProxyProcess } from '../helpers/proxy';

/** Debian installs testssl.sh as /usr/bin/testssl; upstream's name is testssl.sh. */
const TESTSSL = ['testssl', 'testssl.sh'].find((name) => spawnSync(name, ['--version']).status === 0);

let db: MariaDbServer;
let proxy: ProxyProcess;

beforeAll(async () => {
  db = await startMariaDb();
  proxy = await startProxy({ backendPort: db.port });
});

afterAll(async () => {
  await proxy?.stop();
  await db?.destroy();
});

interface SClientOutcome {
  code: number | null;
  /** Kept apart: s_client's stdout is buffered in a pipe, so the two do not interleave in order. */
  stdout: string;
  stderr: string;
  /** Whether s_client ended by itself while its stdin was still open. */
  endedItself: boolean;
}

/** s_client over STARTTLS mysql and TLS 1.2, typing `R` (renegotiate) once the session is up. */
function renegotiate(port: number, caFile: string): Promise<SClientOutcome> {
  return new Promise((resolve) => {
    const child = spawn('openssl', [
      's_client',
      '-starttls',
      'mysql',
      '-connect',
      `127.0.0.1:${port}`,
      '-tls1_2',
      '-CAfile',
      caFile,
    ]);
    let stdout = '';
    let stderr = '';
    let endedItself = true;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // s_client acts on stdin once the session is up; the line stays open so it does not quit.
    child.stdin.write('R\n');
    // If the server renegotiates, s_client stays connected: close stdin (it then quits) after 5 s.
    const closer = setTimeout(() => {
      endedItself = false;
      child.stdin.end();
    }, 5_000);
    child.on('exit', (code) => {
      clearTimeout(closer);
      resolve({ code, stdout, stderr, endedItself });
    });
  });
}

describe('client-initiated renegotiation', () => {
  it('is refused: the server answers no_renegotiation and the connection ends', async () => {
    const result = await renegotiate(proxy.port, proxy.caFile);
    // A TLS 1.2 session was up (stdout), then s_client asked to renegotiate (stderr) and the
    // server's no_renegotiation alert became OpenSSL's SSL_R_NO_RENEGOTIATION.
    expect(result.stdout).toMatch(/Protocol *: TLSv1\.2/);
    expect(result.stderr).toMatch(/\nRENEGOTIATING\n.*error:0A000153:SSL routines:[^:]*:no renegotiation/);
    // A renegotiation that went through verifies the server's certificate a second time.
    expect(result.stderr.match(/^depth=0 /gm)).toHaveLength(1);
    expect({ code: result.code, endedItself: result.endedItself }).toEqual({ code: 1, endedItself: true });
  });
});

/** Severities from testssl.sh's JSON, lowest to highest; scanProblem lines are FATAL. */
const FAILING = new Set(['MEDIUM', 'HIGH', 'CRITICAL', 'FATAL']);

/**
 * Findings caused by the test certificate, not by the proxy; none of them is produced by the
 * checks run below (-S, the certificate checks, is left out), listed so that adding -S later
 * does not make the test fail for the wrong reason:
 * - cert_chain_of_trust: the server certificate is issued by the throwaway development CA
 *   (certs/ca.pem), which testssl.sh does not trust (CRITICAL "chain incomplete").
 * - cert_revocation: a development CA publishes no CRL or OCSP URI (HIGH).
 */
const EXCUSED = new Set(['cert_chain_of_trust', 'cert_revocation']);

/** What must be in the report, so a scan that could not connect cannot pass. */
const REQUIRED = [
  'SSLv2',
  'SSLv3',
  'TLS1',
  'TLS1_1',
  'TLS1_2',
  'TLS1_3',
  'cipherlist_NULL',
  'cipherlist_EXPORT',
  'cipherlist_LOW',
  'cipherlist_3DES_IDEA',
  'cipherlist_STRONG',
  'heartbleed',
  'CCS',
  'ROBOT',
  'secure_renego',
  'secure_client_renego',
  'POODLE_SSL',
  'fallback_SCSV',
  'SWEET32',
  'FREAK',
  'DROWN',
  'LOGJAM',
  'BEAST',
  'LUCKY13',
  'RC4',
];

/**
 * The scan costs ~65 CPU-seconds (measured: user 21 s + sys 42 s), so its wall time follows the
 * machine's load: 359 s measured at load 15 on 2 cores. The limit fails a hung scan, not a busy machine.
 */
const SCAN_TIMEOUT_MS = 400_000;

interface Finding {
  id: string;
  severity: string;
  finding: string;
}

describe('testssl.sh --starttls mysql', () => {
  it(
    'finds nothing of MEDIUM severity or above on the default configuration',
    async () => {
      expect(TESTSSL).toBeDefined(); // package testssl.sh (.ci/run installs it)
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-testssl-'));
      const json = path.join(dir, 'scan.json');
      // -p protocols, -s cipher categories (NULL, export, LOW, 3DES, obsolete CBC, AEAD), -U every
      // vulnerability check (renegotiation included). Left out for time (testssl.sh is bash and
      // forks per probe; this set costs ~65 CPU-seconds): -f forward secrecy (-s already shows
      // only AEAD suites, and every TLS 1.2 default is ECDHE), -S/-P (certificate, server
      // preferences), -e/-E (each cipher), -c (client simulation). -n none: no DNS for 127.0.0.1.
      // No --openssl-timeout/--connect-timeout: each wraps every probe in another process; the
      // spawn timeout below bounds the whole scan instead.
      const started = Date.now();
      const result = spawnSync(
        TESTSSL!,
        [
          '--quiet',
          '--color',
          '0',
          '--warnings',
          'off',
          '-n',
          'none',
          '--starttls',
          'mysql',
          '-p',
          '-s',
          '-U',
          '--jsonfile',
          json,
          `127.0.0.1:${proxy.port}`,
        ],
        { encoding: 'utf8', timeout: SCAN_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      );
      const seconds = Math.round((Date.now() - started) / 1000);
      const findings = JSON.parse(await fs.readFile(json, 'utf8')) as Finding[];
      await fs.rm(dir, { recursive: true, force: true });
      process.stdout.write(`testssl.sh: ${findings.length} findings in ${seconds} s\n`);
      expect(result.error).toBeUndefined();
      const ids = new Set(findings.map((f) => f.id));
      expect(REQUIRED.filter((id) => !ids.has(id))).toEqual([]);
      const failing = findings.filter((f) => FAILING.has(f.severity) && !EXCUSED.has(f.id));
      expect(failing.map((f) => `${f.severity} ${f.id}: ${f.finding}`)).toEqual([]);
      const renego = findings.find((f) => f.id === 'secure_client_renego')!;
      expect(renego).toMatchObject({ severity: 'OK', finding: 'not vulnerable' });
      expect(findings.find((f) => f.id === 'TLS1')).toMatchObject({ finding: 'not offered' });
    },
    SCAN_TIMEOUT_MS + 30_000,
  );
});
