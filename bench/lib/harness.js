'use strict';
/**
 * Shared plumbing for the benchmark scripts in bench/: throwaway MariaDB (native TLS with the
 * suite's certificate), the proxy, HAProxy (mode tcp), /proc readers, medians, tables, and a log
 * of every command that was run. Plain CommonJS so the scripts need no build step of their own
 * (they use the proxy's dist/ for the client code).
 *
 * Every process started here gets its own process group and is SIGKILLed (by group id) when the
 * script exits, however it exits.
 */
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'index.js');
const MARIADBD = '/usr/sbin/mariadbd';
const INSTALL_DB = '/usr/bin/mariadb-install-db';
const MARIADB = '/usr/bin/mariadb';
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim()) || 100;
const PAGE_KIB = 4;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// bookkeeping

const children = new Set();
let tmpRoot;
function tmp() {
  tmpRoot ??= fs.mkdtempSync(path.join(os.tmpdir(), 'mtp-bench-'));
  return tmpRoot;
}

function killAll() {
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  children.clear();
  if (tmpRoot && process.env.KEEP !== '1') {
    try {
      fs.rmSync(tmpRoot, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

const commands = [];
function quote(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${String(arg).replace(/'/g, `'\\''`)}'`;
}
/** Records (and prints) a command the way a reader can paste it. */
function logCommand(file, args, cwd) {
  const line = (cwd ? `(cd ${quote(cwd)} && ` : '') + [file, ...args].map(quote).join(' ') + (cwd ? ')' : '');
  commands.push(line);
  console.log(`  $ ${line}`);
  return line;
}

/** Starts a long-running process in its own process group; stdout/stderr go to a log file. */
function startProcess(name, file, args, { cwd, env, log = true } = {}) {
  if (log) logCommand(file, args, cwd);
  const logFile = path.join(tmp(), `${name}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(file, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
    detached: true,
  });
  fs.closeSync(out);
  children.add(child);
  child.logFile = logFile;
  child.on('exit', () => children.delete(child));
  return child;
}

function stopProcess(child) {
  if (!child) return Promise.resolve();
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      resolve();
    }
  });
}

/** Runs a command to completion and returns its output; logged as an exact command. */
function run(file, args, { cwd, log = true, input, allowFail = false, env } = {}) {
  if (log) logCommand(file, args, cwd);
  const res = spawnSync(file, args, {
    cwd,
    input,
    env: { ...process.env, ...env },
    maxBuffer: 512 * 1024 * 1024,
  });
  const stdout = res.stdout ? res.stdout.toString() : '';
  const stderr = res.stderr ? res.stderr.toString() : '';
  if (!allowFail && res.status !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${res.status ?? res.signal}:\n${stderr}\n${stdout}`);
  }
  return { stdout, stderr, status: res.status };
}

/** Like run() but asynchronous (so the script can sample /proc meanwhile). */
function runAsync(file, args, { cwd, log = true, env } = {}) {
  if (log) logCommand(file, args, cwd);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ stdout, stderr, status: code ?? signal });
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitPort(port, child, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`process exited before listening on ${port}:\n${tailFile(child.logFile)}`);
    }
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`port ${port} never opened${child ? `:\n${tailFile(child.logFile)}` : ''}`);
}

function tailFile(file, lines = 20) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------------------------------------
// machine

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = (cpuinfo.match(/^model name\s*:\s*(.*)$/m) || [])[1] || 'unknown';
  const opensslCli = spawnSync('openssl', ['version']).stdout?.toString().trim() || 'not installed';
  const mariadb = spawnSync(MARIADBD, ['--version']).stdout?.toString().trim() || 'unknown';
  const haproxy = (spawnSync('haproxy', ['-v']).stdout?.toString() || 'not installed').split('\n')[0];
  const sysbench = spawnSync('sysbench', ['--version']).stdout?.toString().trim() || 'not installed';
  const kernel = os.release();
  const memGiB = (os.totalmem() / 2 ** 30).toFixed(1);
  const nofile = spawnSync('bash', ['-c', 'ulimit -n; ulimit -Hn']).stdout.toString().trim().split('\n');
  return {
    nproc: os.cpus().length,
    model,
    memGiB,
    kernel,
    node: process.version,
    nodeOpenssl: process.versions.openssl,
    openssl: opensslCli,
    mariadb,
    haproxy,
    sysbench,
    nofile: { soft: Number(nofile[0]), hard: nofile[1] === 'unlimited' ? Infinity : Number(nofile[1]) },
  };
}

function printMachine(m = machine()) {
  console.log(`machine: ${m.nproc} cores (${m.model}), ${m.memGiB} GiB, Linux ${m.kernel}`);
  console.log(`         node ${m.node} (OpenSSL ${m.nodeOpenssl} built in); system ${m.openssl}`);
  console.log(`         ${m.mariadb}`);
  console.log(`         ${m.haproxy}; ${m.sysbench}; open files ${m.nofile.soft} (hard ${m.nofile.hard})`);
  return m;
}

// ---------------------------------------------------------------------------------------------
// /proc

/** utime+stime of one process (all its threads, live and exited), in seconds. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Direct children (e.g. the proxy's cluster workers). */
function childPids(pid) {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** A process and its descendants. */
function processTree(pid) {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childPids(all[i]));
  return all;
}

function treeCpuSeconds(pid) {
  return processTree(pid).reduce((sum, p) => sum + cpuSeconds(p), 0);
}

function rssKiB(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number((status.match(/^VmRSS:\s+(\d+)/m) || [])[1] || 0);
  } catch {
    return 0;
  }
}

function treeRssKiB(pid) {
  return processTree(pid).reduce((sum, p) => sum + rssKiB(p), 0);
}

function openFds(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// certificates: one ECDSA P-256 dev CA and server certificate for everybody

function makeCerts() {
  const dir = path.join(tmp(), 'certs');
  run('node', [CLI, 'certs', '--out', dir]);
  const certs = {
    dir,
    ca: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca-key.pem'),
    cert: path.join(dir, 'server.pem'),
    key: path.join(dir, 'server-key.pem'),
  };
  // sysbench 1.0 with --mysql-ssl=on always loads client-key.pem, client-cert.pem and cacert.pem
  // from its working directory: give it a client certificate from the same CA.
  const sb = path.join(tmp(), 'sysbench');
  fs.mkdirSync(sb, { recursive: true });
  fs.copyFileSync(certs.ca, path.join(sb, 'cacert.pem'));
  run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=sysbench',
    '-keyout', path.join(sb, 'client-key.pem'), '-out', path.join(sb, 'client.csr')], { log: false });
  run('openssl', ['x509', '-req', '-in', path.join(sb, 'client.csr'), '-CA', certs.ca, '-CAkey', certs.caKey,
    '-CAcreateserial', '-days', '2', '-out', path.join(sb, 'client-cert.pem')], { log: false });
  certs.sysbenchDir = sb;
  const text = run('openssl', ['x509', '-in', certs.cert, '-noout', '-text'], { log: false }).stdout;
  certs.describe = /prime256v1|P-256/.test(text) ? 'ECDSA P-256' : 'unknown key type';
  return certs;
}

// ---------------------------------------------------------------------------------------------
// MariaDB

const BASE_INNODB = ['--innodb-buffer-pool-size=256M', '--innodb-log-file-size=64M'];

function templateDir() {
  const dir = path.join(os.tmpdir(), `mtp-bench-mariadb-template-${process.getuid()}`);
  if (fs.existsSync(path.join(dir, 'mysql'))) return dir;
  const staging = fs.mkdtempSync(`${dir}-staging-`);
  run(INSTALL_DB, ['--no-defaults', `--datadir=${staging}`, '--auth-root-authentication-method=socket',
    '--skip-test-db', '--user=root', ...BASE_INNODB], { log: false });
  try {
    fs.renameSync(staging, dir);
  } catch {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return dir;
}

/**
 * The database settings of the comparison, printed with every run. The same server serves the
 * proxy (plain TCP; MariaDB accepts non-TLS logins as it is not require_secure_transport) and the
 * native-TLS and HAProxy contenders (TLS end to end), so the backend is identical for all.
 */
function mariadbSettings({ threadHandling = process.env.MARIADB_THREAD_HANDLING || 'one-thread-per-connection', maxConnections = 12_000 } = {}) {
  const hard = machine().nofile.hard;
  const openFiles = Math.min(hard === Infinity ? 65_536 : hard, 65_536);
  return [
    '--skip-log-bin',
    ...BASE_INNODB,
    '--innodb-flush-log-at-trx-commit=2',
    '--max-allowed-packet=64M',
    `--max-connections=${maxConnections}`,
    '--max-connect-errors=1000000000',
    '--skip-name-resolve',
    `--thread-handling=${threadHandling}`,
    '--thread-cache-size=256',
    '--thread-pool-size=2',
    '--back-log=4096',
    `--open-files-limit=${openFiles}`,
    '--table-open-cache=256',
    '--table-definition-cache=400',
    '--performance-schema=OFF',
    '--query-cache-type=0',
    '--query-cache-size=0',
  ];
}

async function startMariadb({ certs, settings = mariadbSettings(), name = 'mariadb' }) {
  const dir = path.join(tmp(), name);
  fs.mkdirSync(dir, { recursive: true });
  run('cp', ['-a', templateDir(), path.join(dir, 'data')], { log: false });
  const port = await freePort();
  const socket = path.join(dir, 'mysqld.sock');
  const args = [
    '--no-defaults', '--user=root', `--datadir=${path.join(dir, 'data')}`, `--port=${port}`,
    '--bind-address=127.0.0.1', `--socket=${socket}`, `--pid-file=${path.join(dir, 'mysqld.pid')}`,
    `--log-error=${path.join(dir, 'error.log')}`,
    ...settings,
    `--ssl-cert=${certs.cert}`, `--ssl-key=${certs.key}`, `--ssl-ca=${certs.ca}`,
    '--tls-version=TLSv1.2,TLSv1.3',
  ];
  const child = startProcess(name, MARIADBD, args);
  const sql = (query) =>
    run(MARIADB, ['--no-defaults', `--socket=${socket}`, '-uroot', '--batch', '--skip-column-names', '-e', query], {
      log: false,
    }).stdout.trim();
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mariadbd exited:\n${tailFile(path.join(dir, 'error.log'))}`);
    const res = spawnSync(MARIADB, ['--no-defaults', `--socket=${socket}`, '-uroot', '-e', 'select 1']);
    if (res.status === 0) break;
    if (Date.now() > deadline) throw new Error(`mariadbd not ready:\n${tailFile(path.join(dir, 'error.log'))}`);
    await sleep(100);
  }
  sql(
    "CREATE OR REPLACE USER app@'%' IDENTIFIED BY 'app-secret'; GRANT ALL ON *.* TO app@'%'; " +
      'CREATE DATABASE IF NOT EXISTS sbtest; CREATE DATABASE IF NOT EXISTS test',
  );
  const vars = sql(
    "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('max_connections','open_files_limit','thread_handling','thread_cache_size','back_log','have_ssl','tls_version','ssl_cipher','version')",
  );
  return { child, pid: child.pid, port, socket, sql, dir, args, vars };
}

// ---------------------------------------------------------------------------------------------
// the proxy and HAProxy

async function startProxy({ certs, backendPort, workers = 1, name = `proxy-w${workers}`, extra = [] }) {
  const port = await freePort();
  const args = [
    CLI, 'serve', '--listen', `127.0.0.1:${port}`, '--backend', `127.0.0.1:${backendPort}`,
    '--cert', certs.cert, '--key', certs.key, '--ca-file', certs.ca,
    '--workers', String(workers), '--max-connections', '12000', '--status', 'off', '--log-level', 'warn',
    '--drain-timeout', '1000',
    ...extra,
  ];
  const child = startProcess(name, process.execPath, args, { cwd: tmp() });
  await waitPort(port, child);
  if (workers > 1) {
    // wait until every worker is up (each is a child process of the primary)
    const deadline = Date.now() + 20_000;
    while (childPids(child.pid).length < workers && Date.now() < deadline) await sleep(100);
    await sleep(500);
  }
  return { child, pid: child.pid, port, workers, name };
}

async function startHaproxy({ backendPort, threads = os.cpus().length, maxconn = 4000 }) {
  const port = await freePort();
  const cfg = path.join(tmp(), 'haproxy.cfg');
  fs.writeFileSync(
    cfg,
    [
      'global',
      `  nbthread ${threads}`,
      `  maxconn ${maxconn}`,
      '  log stdout format raw local0 err',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 1h',
      '  timeout server 1h',
      'frontend mysql_tls_passthrough',
      `  bind 127.0.0.1:${port}`,
      '  default_backend mariadb',
      'backend mariadb',
      `  server db 127.0.0.1:${backendPort}`,
      '',
    ].join('\n'),
  );
  const child = startProcess('haproxy', 'haproxy', ['-db', '-f', cfg]);
  await waitPort(port, child);
  return { child, pid: child.pid, port, cfg, config: fs.readFileSync(cfg, 'utf8') };
}

// ---------------------------------------------------------------------------------------------
// numbers and tables

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function fmt(value, digits = 1) {
  if (value === undefined || value === null || Number.isNaN(value)) return '-';
  if (typeof value === 'string') return value;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(headers, rows) {
  const all = [headers, ...rows].map((r) => r.map((c) => String(c)));
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  // text columns left, numeric columns right
  const left = headers.map((_, i) => i === 0 || all.slice(1).some((r) => /^[^\d\-]/.test(r[i] ?? '')));
  const line = (r) => '| ' + r.map((c, i) => (left[i] ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (left[i] ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(all[0]), sep, ...all.slice(1).map(line)].join('\n');
}

/** Results of one scenario, written where run-all.sh collects them. */
function saveResults(scenario, data) {
  const dir = process.env.BENCH_RESULTS_DIR;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${scenario}.json`), JSON.stringify({ scenario, commands, ...data }, null, 2));
}

function verdict(ok) {
  return ok ? 'PASS' : 'MISSED';
}

function rounds() {
  return Math.max(2, Number(process.env.ROUNDS || 2));
}

module.exports = {
  ROOT, CLI, CLK_TCK, PAGE_KIB, sleep, tmp, commands, logCommand, startProcess, stopProcess, run, runAsync,
  freePort, waitPort, tailFile, machine, printMachine, cpuSeconds, childPids, processTree, treeCpuSeconds,
  rssKiB, treeRssKiB, openFds, makeCerts, mariadbSettings, startMariadb, startProxy, startHaproxy, median, fmt,
  table, saveResults, verdict, rounds, killAll,
};
