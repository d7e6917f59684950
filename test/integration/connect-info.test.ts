/**
 * The connection examples are executed, not just printed: the mariadb CLI command and the mysql2
 * snippet from `connect-info` (and from serve's startup `connect_info` event) connect through the
 * proxy to a real MariaDB with the server certificate verified, the password coming from the
 * environment as the examples say.
 */
import { execFile } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { CLI, startProxy, type ProxyProcess } from '../helpers/proxy';
import { run, type RunResult } from '../helpers/clients';

const { user, password } = TEST_USERS.native;
const NODE_MODULES = path.resolve(__dirname, '../../node_modules');
let db: MariaDbServer;
let proxy: ProxyProcess;
let scratch: string;

beforeAll(async () => {
  db = await startMariaDb();
  proxy = await startProxy({ backendPort: db.port });
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-connect-info-'));
});
afterAll(async () => {
  await proxy?.stop();
  await db?.destroy();
  await fs.rm(scratch, { recursive: true, force: true });
  if (proxy) await fs.rm(proxy.cwd, { recursive: true, force: true });
});

/** connect-info run in the proxy's directory, with serve's --listen. */
function connectInfo(...args: string[]): Promise<RunResult> {
  return runIn(proxy.cwd, process.execPath, [
    CLI,
    'connect-info',
    '--listen',
    `127.0.0.1:${proxy.port}`,
    '--status',
    `127.0.0.1:${proxy.statusPort}`,
    ...args,
  ]);
}

function runIn(
  cwd: string,
  command: string,
  args: string[],
  env: Record<string, string> = {},
  input = '',
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { cwd, env: { ...process.env, ...env }, timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
        }),
    );
    child.stdin?.end(input);
  });
}

/** The body of one "## title" section of the text output. */
function section(text: string, title: string): string {
  const start = text.indexOf(`## ${title}`);
  expect(start).toBeGreaterThanOrEqual(0);
  const body = text.slice(text.indexOf('\n', start) + 1);
  const end = body.indexOf('\n## ');
  return (end < 0 ? body : body.slice(0, end)).trim();
}

/** Runs a printed shell command exactly as a user pasting it would, password in $DB_PASSWORD. */
function shell(command: string, secret: string, input: string): Promise<RunResult> {
  return runIn(scratch, 'bash', ['-c', command], { DB_PASSWORD: secret }, input);
}

/** Runs a printed mysql2 snippet with node, password in $DB_PASSWORD. */
async function node(snippet: string, secret: string): Promise<RunResult> {
  const file = path.join(scratch, `snippet-${Date.now()}-${Math.random().toString(16).slice(2)}.js`);
  await fs.writeFile(file, snippet);
  return runIn(scratch, process.execPath, [file], { DB_PASSWORD: secret, NODE_PATH: NODE_MODULES });
}

describe('connect-info', () => {
  let text: string;
  beforeAll(async () => {
    const result = await connectInfo();
    expect(result.code).toBe(0);
    text = result.stdout;
  });

  it('names a host from the certificate SANs and the CA file, and never a password', () => {
    expect(text).toMatch(/host name: localhost \(/);
    expect(text).toContain(path.join(proxy.cwd, 'certs', 'ca.pem'));
    expect(text).toContain(`http://127.0.0.1:${proxy.statusPort}/ca.pem`);
    expect(text).not.toContain(password);
    for (const title of [
      'mariadb CLI',
      'mysql CLI',
      'Node.js (mysql2)',
      'Go (github.com/go-sql-driver/mysql)',
      'Python (PyMySQL)',
      'Python (mysqlclient',
      'Java (MySQL Connector/J',
      'Java (MariaDB Connector/J',
    ]) {
      expect(text).toContain(`## ${title}`);
    }
  });

  it('the printed mariadb CLI command connects with the certificate verified', async () => {
    const command = section(text, 'mariadb CLI (MariaDB client)');
    expect(command).toMatch(/^mariadb .*--ssl-verify-server-cert/);
    const result = await shell(command, password, "SELECT CONCAT('hello ', CURRENT_USER());\nstatus\n");
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`hello ${user}@`);
    expect(result.stdout).toMatch(/Cipher in use is TLS_/);
    // The password really comes from $DB_PASSWORD.
    const wrong = await shell(command, 'wrong-password', 'SELECT 1;\n');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/Access denied/);
  });

  it('the printed mariadb CLI command refuses a server whose certificate is not from the CA', async () => {
    const command = section(text, 'mariadb CLI (MariaDB client)');
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-other-ca-'));
    try {
      expect((await run(process.execPath, [CLI, 'certs', '--out', other])).code).toBe(0);
      const impostor = command.replace(/--ssl-ca=\S+/, `--ssl-ca=${path.join(other, 'ca.pem')}`);
      const result = await shell(impostor, password, 'SELECT 1;\n');
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/SSL|certificate|verif/i);
    } finally {
      await fs.rm(other, { recursive: true, force: true });
    }
  });

  it('the printed mysql2 snippet connects with the certificate verified', async () => {
    const snippet = section(text, 'Node.js (mysql2)');
    expect(snippet).toContain('verifyIdentity: true');
    const result = await node(snippet, password);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`user: '${user}@`);
    const wrong = await node(snippet, 'wrong-password');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/Access denied/);
    // Verification is on: trusting another CA fails the handshake.
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-other-ca-'));
    try {
      expect((await run(process.execPath, [CLI, 'certs', '--out', other])).code).toBe(0);
      const impostor = snippet.replace(
        /readFileSync\('[^']+'\)/,
        `readFileSync('${path.join(other, 'ca.pem')}')`,
      );
      expect(impostor).not.toBe(snippet);
      const refused = await node(impostor, password);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/certificate/i);
    } finally {
      await fs.rm(other, { recursive: true, force: true });
    }
  });

  it('--json has the same examples, and --client picks sections', async () => {
    const json = JSON.parse((await connectInfo('--json')).stdout);
    expect(json).toMatchObject({ host: 'localhost', port: proxy.port, host_in_certificate: true });
    expect(json.examples.mariadb.code).toBe(section(text, 'mariadb CLI (MariaDB client)'));
    expect(json.examples.mysql2.code).toBe(section(text, 'Node.js (mysql2)'));
    const only = (await connectInfo('--client', 'go', '--client', 'jdbc-mariadb')).stdout;
    expect(only.match(/^## /gm)).toHaveLength(2);
  });

  it('takes --listen from MTP_LISTEN and serve-only keys from a shared config file', async () => {
    const config = path.join(scratch, 'proxy.json');
    await fs.writeFile(config, JSON.stringify({ backend: '127.0.0.1:3306', 'max-connections': 5 }));
    const result = await runIn(
      proxy.cwd,
      process.execPath,
      [CLI, 'connect-info', '--config', config, '--json'],
      {
        MTP_LISTEN: '0.0.0.0:4321',
        MTP_BACKEND: '127.0.0.1:1',
      },
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({ host: 'localhost', port: 4321 });
  });

  it('rejects unknown flags and a missing certificate with exit 2 and one line', async () => {
    const bogus = await connectInfo('--bogus');
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/Unknown argument: bogus/);
    const missing = await connectInfo('--cert', 'nope.pem');
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/cannot read the server certificate nope\.pem/);
  });

  it('warns when --host is not in the certificate', async () => {
    const result = await connectInfo('--host', 'db.example.test');
    expect(result.stdout).toMatch(/WARNING: db\.example\.test is not in the certificate/);
  });
});

describe("serve's startup connect_info event", () => {
  it('carries a mariadb command and a mysql2 snippet that work as printed', async () => {
    const event = await proxy.waitForLog((l) => l.event === 'connect_info');
    expect(event).toMatchObject({ host: 'localhost', port: proxy.port, host_in_certificate: true });
    const cli = await shell(String(event.mariadb), password, 'SELECT 42;\n');
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toContain('42');
    const js = await node(String(event.mysql2), password);
    expect(js.stderr).toBe('');
    expect(js.stdout).toContain(`user: '${user}@`);
  });
});
