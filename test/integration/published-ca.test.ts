/**
 * Nothing secret is published by accident (SECURITY.md): /ca.pem serves the certificates of
 * --ca-file and nothing else, even when the file is a bundle that also holds the CA's private key,
 * in one process (the loaded credentials) and with --workers (the primary reads the file itself).
 * No database needed.
 */
import { execFile } from 'child_process';
import { X509Certificate } from 'crypto';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { CLI, startProxy, type ProxyProcess } from '../helpers/proxy';

const run = promisify(execFile);
const KEY_LINE = /PRIVATE KEY/;

let dir: string;
let bundle: string;
let caPem: string;
let caKeyBody: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-published-ca-'));
  await run(process.execPath, [CLI, 'certs', '--out', path.join(dir, 'certs')]);
  caPem = await fs.readFile(path.join(dir, 'certs', 'ca.pem'), 'utf8');
  const caKey = await fs.readFile(path.join(dir, 'certs', 'ca-key.pem'), 'utf8');
  caKeyBody = caKey.split('\n').slice(1, -2).join('\n'); // base64 lines between BEGIN and END
  bundle = path.join(dir, 'bundle.pem');
  await fs.writeFile(bundle, `${caKey}${caPem}`, { mode: 0o600 });
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe.each([
  ['one process', []],
  ['--workers 2', ['--workers', '2']],
])('/ca.pem from a --ca-file bundle holding a private key (%s)', (_mode, workers) => {
  let proxy: ProxyProcess;
  beforeAll(async () => {
    const certs = path.join(dir, 'certs');
    proxy = await startProxy({
      backendPort: 1,
      cwd: dir,
      args: [
        ...workers,
        '--cert',
        path.join(certs, 'server.pem'),
        '--key',
        path.join(certs, 'server-key.pem'),
        '--ca-file',
        bundle,
      ],
    });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('serves the CA certificate and not the key', async () => {
    const response = await fetch(`http://127.0.0.1:${proxy.statusPort}/ca.pem`);
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).not.toMatch(KEY_LINE);
    expect(body).not.toContain(caKeyBody);
    expect(new X509Certificate(body).fingerprint256).toBe(new X509Certificate(caPem).fingerprint256);
    expect(body.match(/-----BEGIN /g)).toHaveLength(1);
  });
});

it('warns at startup that the CA file holds a key', async () => {
  const certs = path.join(dir, 'certs');
  const proxy = await startProxy({
    backendPort: 1,
    cwd: dir,
    args: [
      '--cert',
      path.join(certs, 'server.pem'),
      '--key',
      path.join(certs, 'server-key.pem'),
      '--ca-file',
      bundle,
    ],
  });
  try {
    const warning = await proxy.waitForLog((line) => line.event === 'certificate_warning');
    expect(warning.msg).toMatch(/bundle\.pem \(--ca-file\) also holds PRIVATE KEY block\(s\)/);
    expect(JSON.stringify(proxy.logs())).not.toContain(caKeyBody.split('\n')[0]);
  } finally {
    await proxy.stop();
  }
});
