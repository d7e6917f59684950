/**
 * `openssl s_client -starttls mysql` as the reference client for `check` tests: which cipher suites
 * it gets accepted one by one, and whether a renegotiation (`R`) goes through.
 */
import { execFile, spawn } from 'child_process';

/** Every cipher name OpenSSL's client can offer below TLS 1.3 (PSK and SRP need secrets). */
export function opensslCipherNames(): Promise<string[]> {
  return new Promise((resolve, reject) =>
    execFile(
      'openssl',
      ['ciphers', '-tls1_2', 'ALL:COMPLEMENTOFALL:!PSK:!SRP:@SECLEVEL=0'],
      (error, stdout) => (error ? reject(error) : resolve(stdout.trim().split(':'))),
    ),
  );
}

function sClient(args: string[], input: string, holdMs: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-starttls', 'mysql', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdin.on('error', () => undefined); // s_client exits at once when the handshake is refused
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    setTimeout(() => child.stdin.end(input), holdMs);
  });
}

/** True when s_client completes a TLS 1.2 (or `version`) handshake offering only `cipher`. */
export async function sClientAccepts(port: number, cipher: string, version = '-tls1_2'): Promise<boolean> {
  const flag = version === '-tls1_3' ? '-ciphersuites' : '-cipher';
  const value = version === '-tls1_3' ? cipher : `${cipher}:@SECLEVEL=0`;
  const out = await sClient(['-connect', `127.0.0.1:${port}`, version, flag, value], '', 0);
  // "New, TLSv1.3, Cipher is X" right after the handshake (the SSL-Session block may not come:
  // stdin is already closed, so s_client can quit before reading a TLS 1.3 ticket)
  return /, Cipher is (\S+)/.exec(out)?.[1] === cipher;
}

/** The ciphers of `names` s_client gets accepted, 8 at a time. */
export async function sClientAcceptedCiphers(
  port: number,
  names: string[],
  version = '-tls1_2',
): Promise<string[]> {
  const accepted: string[] = [];
  for (let i = 0; i < names.length; i += 8) {
    const batch = names.slice(i, i + 8);
    const results = await Promise.all(batch.map((name) => sClientAccepts(port, name, version)));
    batch.forEach((name, j) => results[j] && accepted.push(name));
  }
  return accepted;
}

/** Sends `R` over a TLS 1.2 s_client session: 'allowed' when the renegotiation completed. */
export async function sClientRenegotiation(port: number): Promise<'allowed' | 'refused'> {
  const out = await sClient(['-connect', `127.0.0.1:${port}`, '-tls1_2'], 'R\n', 700);
  const after = out.slice(out.indexOf('RENEGOTIATING'));
  if (!out.includes('RENEGOTIATING')) throw new Error(`s_client did not renegotiate:\n${out}`);
  return /no renegotiation|SSL routines|alert/i.test(after) ? 'refused' : 'allowed';
}
