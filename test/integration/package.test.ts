/**
 * Installable: `npm pack` (its prepack builds dist/ afresh) on a copy of the repository, the
 * tarball installed into an empty directory, and the installed CLI run as a user would: --help,
 * `certs`, and `serve` in front of a real MariaDB with one TLS login. The systemd unit is checked
 * with `systemd-analyze verify` and `security` against that installed CLI.
 */
import { X509Certificate } from 'crypto';
import { existsSync, promises as fs, readdirSync, realpathSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCommand, type CommandResult } from '../helpers/run-command';
import { startMariaDb, TEST_USERS, type MariaDbServer } from '../helpers/mariadb';
import { startProxy, sampleValue } from '../helpers/proxy';
import { mysql } from '../helpers/clients';

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(require('fs').readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
};
const { user, password } = TEST_USERS.native;

const exec = (file: string, args: string[], cwd: string, timeoutMs = 240_000): Promise<CommandResult> =>
  runCommand(file, args, cwd, timeoutMs);

const npm = (args: string[], cwd: string) => exec('npm', args, cwd);

let db: MariaDbServer;
let work: string;
let tarball: string;
let packed: string[];
let installDir: string;
let bin: string;
const timings: Record<string, number> = {};

async function timed<T>(name: string, task: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await task();
  } finally {
    timings[name] = Date.now() - started;
  }
}

beforeAll(async () => {
  const dbStarting = startMariaDb();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-package-'));
  // A copy, so that prepack's clean build never touches the dist/ other tests are running.
  const copy = path.join(work, 'repo');
  await fs.cp(ROOT, copy, {
    recursive: true,
    filter: (source) => !/^(node_modules|dist|\.git|coverage)$/.test(path.relative(ROOT, source)),
  });
  await fs.symlink(realpathSync(path.join(ROOT, 'node_modules')), path.join(copy, 'node_modules'));
  // a leftover from an old build: prepack must not ship it
  await fs.mkdir(path.join(copy, 'dist'));
  await fs.writeFile(path.join(copy, 'dist', 'stale.js'), '');

  const pack = await timed('npm pack', () => npm(['pack', '--json', '--pack-destination', work], copy));
  if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.stdout}\n${pack.stderr}`);
  const [report] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  tarball = path.join(work, report.filename);
  packed = report.files.map((f) => f.path);

  installDir = path.join(work, 'install');
  await fs.mkdir(installDir);
  await fs.writeFile(path.join(installDir, 'package.json'), '{ "name": "empty", "private": true }\n');
  const install = await timed('npm install', () =>
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], installDir),
  );
  if (install.code !== 0) throw new Error(`npm install failed:\n${install.stdout}\n${install.stderr}`);
  bin = path.join(installDir, 'node_modules', '.bin', 'mysql-tls-proxy');
  db = await dbStarting;
}, 600_000);

afterAll(async () => {
  process.stdout.write(`package test timings (ms): ${JSON.stringify(timings)}\n`);
  await db?.destroy();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships the freshly built CLI, its package.json and every docs/*.md page; no sources, tests or maps', () => {
    expect(packed).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        pkg.bin['mysql-tls-proxy'],
        'dist/observability/metrics.js',
        'docs/metrics.md',
        'deploy/systemd/mysql-tls-proxy.service',
      ]),
    );
    const docs = readdirSync(path.join(ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`);
    expect(docs.length).toBeGreaterThan(5);
    expect(packed).toEqual(expect.arrayContaining([...docs, 'SECURITY.md']));
    expect(packed).not.toContain('dist/stale.js');
    expect(packed.filter((f) => /^(src|test|bench|node_modules)\//.test(f) || f.endsWith('.map'))).toEqual(
      [],
    );
    expect(path.basename(tarball)).toBe(`${pkg.name}-${pkg.version}.tgz`);
  });

  it('declares no entry point that does not exist', () => {
    const manifest = JSON.parse(require('fs').readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    for (const entry of [manifest.main, manifest.exports].filter((e) => e !== undefined)) {
      expect(packed).toContain(String(entry).replace(/^\.\//, ''));
    }
    expect(manifest.scripts.prepack).toMatch(/npm run build/);
  });
});

describe('the installed package', () => {
  it('runs --help and --version through the bin link', async () => {
    const help = await exec(bin, ['--help'], installDir, 30_000);
    expect(help.code).toBe(0);
    for (const command of ['serve', 'certs', 'connect-info', 'check']) expect(help.stdout).toContain(command);
    const version = await exec(bin, ['--version'], installDir, 30_000);
    expect(version.stdout.trim()).toBe(pkg.version);
  });

  it('generates certificates with certs --out, then serves a TLS login to MariaDB with them', async () => {
    const home = path.join(work, 'serve');
    await fs.mkdir(home);
    const certs = await exec(bin, ['certs', '--out', 'certs'], home, 60_000);
    expect({ code: certs.code, stderr: certs.stderr }).toEqual({ code: 0, stderr: '' });
    for (const file of ['ca.pem', 'ca-key.pem', 'server.pem', 'server-key.pem'])
      expect(existsSync(path.join(home, 'certs', file))).toBe(true);
    const ca = await fs.readFile(path.join(home, 'certs', 'ca.pem'));
    const server = new X509Certificate(await fs.readFile(path.join(home, 'certs', 'server.pem')));
    expect(server.verify(new X509Certificate(ca).publicKey)).toBe(true);

    // serve from that directory: the default --cert/--key/--ca-file are certs/*.pem
    const proxy = await startProxy({ backendPort: db.port, cwd: home, cli: realpathSync(bin) });
    try {
      expect(proxy.logs().some((l) => l.event === 'certificates_generated')).toBe(false);
      const conn = await mysql.createConnection({
        host: '127.0.0.1',
        port: proxy.port,
        user,
        password,
        ssl: { ca, servername: 'localhost' },
      });
      const [rows] = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
      await conn.end();
      // the database leg is plain: TLS ends at the proxy
      expect(rows).toEqual([{ Variable_name: 'Ssl_version', Value: '' }]);
      await proxy.waitForLog((l) => l.event === 'connection_closed');
      const text = await proxy.metricsText();
      expect(sampleValue(text, 'tls_handshakes_total')).toBe(1);
      expect(sampleValue(text, 'auth_total', { result: 'ok' })).toBe(1);
      // the installed dist found its package.json
      expect(sampleValue(text, 'build_info', { version: pkg.version })).toBe(1);
    } finally {
      expect(await proxy.stop()).toEqual({ code: 0, signal: null });
    }
  });
});

describe('deploy/systemd/mysql-tls-proxy.service', () => {
  const UNIT = path.join(ROOT, 'deploy/systemd/mysql-tls-proxy.service');
  const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
  let installedUnit: string;

  beforeAll(async () => {
    // As installed: the unit verbatim, its ExecStart binary where this test installed the CLI
    // (`npm install -g` puts it in /usr/local/bin, which this test does not write to).
    const text = await fs.readFile(UNIT, 'utf8');
    expect(text).toMatch(/^ExecStart=\/usr\/local\/bin\/mysql-tls-proxy serve$/m);
    const dir = path.join(work, 'systemd');
    await fs.mkdir(dir);
    installedUnit = path.join(dir, 'mysql-tls-proxy.service');
    await fs.writeFile(
      installedUnit,
      text.replace(/^ExecStart=\/usr\/local\/bin\/mysql-tls-proxy /m, `ExecStart=${bin} `),
    );
  });

  it('passes systemd-analyze verify', async () => {
    const result = await exec(SYSTEMD_ANALYZE, ['verify', installedUnit], work, 60_000);
    expect({ code: result.code, output: (result.stdout + result.stderr).trim() }).toEqual({
      code: 0,
      output: '',
    });
  });

  it('reloads with SIGHUP and is hardened (systemd-analyze security: exposure under 2.0)', async () => {
    const text = await fs.readFile(UNIT, 'utf8');
    expect(text).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    for (const option of [
      'DynamicUser=yes',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'CapabilityBoundingSet=',
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
      'SystemCallFilter=@system-service',
    ]) {
      expect(text).toMatch(new RegExp(`^${option.replace(/[$]/g, '\\$&')}$`, 'm'));
    }
    // the stop timeout covers the drain
    expect(Number(/^TimeoutStopSec=(\d+)s$/m.exec(text)?.[1])).toBeGreaterThan(30);
    const result = await exec(SYSTEMD_ANALYZE, ['security', '--offline=true', installedUnit], work, 60_000);
    const exposure = /Overall exposure level for [^:]+: ([\d.]+)/.exec(result.stdout);
    expect(exposure).not.toBeNull();
    process.stdout.write(`systemd-analyze security: exposure ${exposure![1]}\n`);
    expect(Number(exposure![1])).toBeLessThan(2.0);
  });
});
