/**
 * --log-format and --log-connections on the built proxy: pretty lines people can read (and what a
 * terminal gets by default), JSON lines a machine can parse (what a pipe gets by default), and a
 * quiet mode that drops clean connection closes but keeps refusals.
 */
import { spawn } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { CLI, startProxy } from '../helpers/proxy';
import { closed, connectRaw, mysql } from '../helpers/clients';

const { user, password } = TEST_USERS.native;
let db: MariaDbServer;
const scratchDirs: string[] = [];

beforeAll(async () => {
  db = await startMariaDb();
});
afterAll(async () => {
  await db?.destroy();
  await Promise.all(scratchDirs.map((dir) => fs.rm(dir, { recursive: true, force: true })));
});

async function scratch(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-log-output-'));
  scratchDirs.push(dir);
  return dir;
}

async function login(port: number, cwd: string): Promise<void> {
  const ca = await fs.readFile(path.join(cwd, 'certs', 'ca.pem'));
  const conn = await mysql.createConnection({ host: '127.0.0.1', port, user, password, ssl: { ca } });
  await conn.query('SELECT 1');
  await conn.end();
}

const PRETTY_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO |WARN |ERROR|DEBUG) \S/;

it('--log-format pretty: one readable line per event, fields as key=value, no colours in a pipe', async () => {
  const cwd = await scratch();
  const child = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--status',
      '127.0.0.1:0',
      '--backend',
      `127.0.0.1:${db.port}`,
      '--log-format',
      'pretty',
    ],
    { cwd, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const waitFor = async (pattern: RegExp): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const match = pattern.exec(output);
      if (match) return match;
      if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    const listening = await waitFor(
      /^\S+ INFO  mysql-tls-proxy listening on 127\.0\.0\.1:(\d+), backend .*$/m,
    );
    expect(listening[0]).toMatch(/ event=listening listen=127\.0\.0\.1:\d+ /);
    await login(Number(listening[1]), cwd);
    const closedLine = await waitFor(/^.* connection closed: client_quit .*$/m);
    expect(closedLine[0]).toMatch(PRETTY_LINE);
    expect(closedLine[0]).toMatch(/ client\.address=127\.0\.0\.1 client\.port=\d+ /);
    expect(closedLine[0]).toMatch(/ tls_version=TLSv1\.3 /);
    expect(closedLine[0]).toContain(` user=${user} `);
    expect(closedLine[0]).toMatch(/ reason=client_quit/);
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toEqual({ code: 0, signal: null });
  const lines = output.trimEnd().split('\n');
  expect(lines.length).toBeGreaterThanOrEqual(4);
  for (const line of lines) expect(line).toMatch(PRETTY_LINE);
  expect(output).not.toContain('\x1b[');
  expect(output).not.toMatch(/^\{/m);
});

it('--log-format auto: pretty and coloured on a terminal (script(1) gives the proxy a pty)', async () => {
  const cwd = await scratch();
  const command = [
    'timeout',
    '-s',
    'TERM',
    '4',
    process.execPath,
    CLI,
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--status',
    'off',
    '--backend',
    `127.0.0.1:${db.port}`,
  ].join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await new Promise((resolve) => child.on('close', resolve));
  clearTimeout(killer);
  const text = output.replace(/\r/g, '');
  expect(text).toMatch(/\x1b\[32mINFO \x1b\[0m mysql-tls-proxy listening on 127\.0\.0\.1:\d+/);
  expect(text).not.toMatch(/^\{"level"/m);
});

it('--log-format auto in a pipe is JSON; --log-connections errors keeps refusals, drops clean closes', async () => {
  const proxy = await startProxy({
    backendPort: db.port,
    args: ['--log-connections', 'errors', '--allow', '127.0.0.1/32'],
  });
  try {
    await login(proxy.port, proxy.cwd);
    const refused = await connectRaw(proxy.port, '127.0.0.2');
    await closed(refused);
    const line = await proxy.waitForLog((l) => l.event === 'connection_closed');
    expect(line).toMatchObject({ reason: 'ip_not_allowed', client: { address: '127.0.0.2' } });
    // the successful session was counted, but not logged
    expect(await proxy.metric('connections_total', { transport: 'tls' })).toBe(1);
    expect(await proxy.metric('connections_rejected_total', { reason: 'ip_not_allowed' })).toBe(1);
    expect(proxy.logs().filter((l) => l.event === 'connection_closed')).toHaveLength(1);
    // every line is a JSON object
    expect(proxy.logs().filter((l) => 'raw' in l)).toEqual([]);
    expect(proxy.logs().every((l) => typeof l.level === 'string' && typeof l.time === 'string')).toBe(true);
  } finally {
    await proxy.stop();
  }
});

it('--log-connections none: no connection lines at all, refusals still counted', async () => {
  const proxy = await startProxy({
    backendPort: db.port,
    args: ['--log-connections', 'none', '--allow', '127.0.0.1/32'],
  });
  try {
    await login(proxy.port, proxy.cwd);
    await closed(await connectRaw(proxy.port, '127.0.0.2'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await proxy.metric('connections_rejected_total', { reason: 'ip_not_allowed' })).toBe(1);
    expect(proxy.logs().filter((l) => l.event === 'connection_closed')).toEqual([]);
  } finally {
    await proxy.stop();
  }
});
