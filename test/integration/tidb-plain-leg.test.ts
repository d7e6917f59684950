/**
 * TiDB over a plain database leg (SECURITY.md): TiDB takes the clear password at login, so the
 * proxy warns once at startup when the database greets as TiDB and there is no --backend-tls,
 * even with --status off (no readiness probe), and only once with --workers. Not with
 * --backend-tls, not for MariaDB. TiDB is the scripted peer of test/helpers/fake-mysql8.ts (no
 * TiDB server can be installed here); MariaDB is real.
 */
import { spawn } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startFakeMysql8, type FakeMysql8 } from '../helpers/fake-mysql8';
import { startMariaDb, type MariaDbServer } from '../helpers/mariadb';
import { CLI } from '../helpers/proxy';

type Line = Record<string, unknown>;
const WARNING = 'backend_tidb_plain_leg';

/**
 * Runs `serve --status off` until `until` sees the log lines it waits for (or 20 s pass), then
 * SIGTERM; resolves with every log line the process wrote.
 */
async function serve(
  backendPort: number,
  extra: string[],
  until: (lines: Line[]) => boolean,
): Promise<Line[]> {
  const cwd = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-tidb-'));
  const args = ['serve', '--listen', '127.0.0.1:0', '--status', 'off', '--log-level', 'debug'];
  const child = spawn(process.execPath, [CLI, ...args, '--backend', `127.0.0.1:${backendPort}`, ...extra], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  let buffered = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(giveUp);
      clearInterval(poll);
      resolve();
    };
    const giveUp = setTimeout(done, 20_000);
    const poll = setInterval(() => until(lines) && done(), 100);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const complete = buffered.split('\n');
      buffered = complete.pop()!;
      for (const text of complete) lines.push(JSON.parse(text));
    });
    child.on('exit', done);
  });
  child.kill('SIGTERM');
  await exited;
  await fs.rm(cwd, { recursive: true, force: true });
  return lines;
}

const has = (event: string) => (lines: Line[]) => lines.some((line) => line.event === event);
const count = (lines: Line[], event: string) => lines.filter((line) => line.event === event).length;

describe('a TiDB backend', () => {
  let tidb: FakeMysql8;
  beforeAll(async () => {
    tidb = await startFakeMysql8({ user: 'app', password: 'app-secret', tidb: true });
  });
  afterAll(async () => {
    await tidb?.close();
  });

  it('over a plain leg: one warning at startup recommending --backend-tls verify, with --status off', async () => {
    // Waits for the listener too, then for the shutdown: every line a second warning could be on.
    const lines = await serve(tidb.port, [], (l) => has(WARNING)(l) && has('listening')(l));
    expect(count(lines, WARNING)).toBe(1);
    const warning = lines.find((line) => line.event === WARNING)!;
    expect(warning).toMatchObject({ level: 'warn', backend: `127.0.0.1:${tidb.port}` });
    expect(warning.msg).toMatch(
      /is TiDB and the database leg is plain .*clear password.*--backend-tls verify/,
    );
  });

  it('with --workers 2: still one warning, from the primary', async () => {
    const lines = await serve(
      tidb.port,
      ['--workers', '2'],
      (l) => has(WARNING)(l) && count(l, 'worker_listening') === 2,
    );
    expect(count(lines, 'worker_listening')).toBe(2);
    expect(count(lines, WARNING)).toBe(1);
  });

  it('with --backend-tls on: no greeting check and no warning', async () => {
    let listenedAt = 0;
    const lines = await serve(tidb.port, ['--backend-tls', 'on'], (l) => {
      if (has('listening')(l) && listenedAt === 0) listenedAt = Date.now();
      return listenedAt > 0 && Date.now() - listenedAt > 1_500; // the check answers in milliseconds
    });
    expect(has('listening')(lines)).toBe(true);
    expect(count(lines, 'backend_kind_checked')).toBe(0);
    expect(count(lines, WARNING)).toBe(0);
  });
});

describe('a MariaDB backend over a plain leg', () => {
  let db: MariaDbServer;
  beforeAll(async () => {
    db = await startMariaDb();
  });
  afterAll(async () => {
    await db?.destroy();
  });

  it('is recognised and not warned about', async () => {
    const lines = await serve(db.port, [], (l) => has('backend_kind_checked')(l) && has('listening')(l));
    expect(lines.find((line) => line.event === 'backend_kind_checked')).toMatchObject({
      server_kind: 'mariadb',
    });
    expect(count(lines, WARNING)).toBe(0);
  });
});

it('a database that is down: the proxy starts, no warning', async () => {
  const lines = await serve(1, [], (l) => has('backend_kind_checked')(l) && has('listening')(l));
  expect(has('listening')(lines)).toBe(true);
  expect(lines.find((line) => line.event === 'backend_kind_checked')).toMatchObject({
    detail: expect.stringMatching(/ECONNREFUSED/),
  });
  expect(count(lines, WARNING)).toBe(0);
});
