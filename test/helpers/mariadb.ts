/**
 * Throwaway MariaDB servers for integration tests.
 *
 * Each server gets its own temp directory (data dir, unix socket, pid file,
 * error log) and a random TCP port on 127.0.0.1. The system tables come from
 * a per-user template data dir that is initialised once with
 * mariadb-install-db and then copied, which is several times faster than
 * running install-db for every server.
 */
import { ChildProcess, execFile, spawn } from 'child_process';
import { existsSync, promises as fs } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export interface MariaDbServer {
  host: string;
  port: number;
  socket: string;
  dataDir: string;
  /** pid of the current mariadbd process (changes after start()). */
  readonly pid: number;
  /** Runs `query` as root over the unix socket; resolves with trimmed stdout, rejects with stderr. */
  sql(query: string): Promise<string>;
  /** SIGTERM and wait for exit (SIGKILL after 20 s). Keeps the data dir. */
  stop(): Promise<void>;
  /** Starts again on the same port and data dir (for "backend restarted" tests). */
  start(): Promise<void>;
  /** SIGKILL and wait for exit (simulates a crash). */
  kill(): Promise<void>;
  /** stop() and remove the temp directory. The server cannot be started again. */
  destroy(): Promise<void>;
}

export interface MariaDbOptions {
  /** Extra mariadbd options, appended last so they override the defaults. */
  extraArgs?: string[];
  tls?: { cert: string; key: string; ca: string };
  /**
   * skip-networking: no TCP listener at all, the unix socket (`socket`) is the only way in
   * (`port` is then a number nothing listens on).
   */
  skipNetworking?: boolean;
}

export const TEST_USERS = {
  native: { user: 'app', password: 'app-secret' },
  ed25519: { user: 'edu', password: 'ed-secret' },
  nopass: { user: 'nopass', password: '' },
} as const;

const MARIADBD = '/usr/sbin/mariadbd';
const INSTALL_DB = '/usr/bin/mariadb-install-db';
const CLIENT = '/usr/bin/mariadb';
const SETPRIV = '/usr/bin/setpriv';

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;
const PORT_ATTEMPTS = 3;

// Shared by install-db and mariadbd: small InnoDB files keep the template
// (and every copy of it) at ~30 MB instead of ~115 MB.
const SMALL_INNODB = ['--innodb-buffer-pool-size=32M', '--innodb-log-file-size=16M'];

// ---------------------------------------------------------------------------
// Orphan protection
// ---------------------------------------------------------------------------

const liveChildren = new Set<ChildProcess>();
let exitHandlerInstalled = false;

/** Last-resort cleanup: a test run that exits without destroy() must not leave mariadbd behind. */
function track(child: ChildProcess): void {
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.on('exit', () => {
      for (const c of liveChildren) c.kill('SIGKILL');
    });
  }
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

// ---------------------------------------------------------------------------
// Small process utilities
// ---------------------------------------------------------------------------

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err ? err.message : '') });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Asks the OS for a free port. Racy by nature, hence the bind retry in startProcess(). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no error log)';
  }
}

// ---------------------------------------------------------------------------
// Template data dir
// ---------------------------------------------------------------------------

let templatePromise: Promise<string> | undefined;

function templateDir(): Promise<string> {
  templatePromise ??= ensureTemplate().catch((err) => {
    templatePromise = undefined; // let a later call retry
    throw err;
  });
  return templatePromise;
}

/**
 * Initialises the template once per user. Lock-free across processes: each
 * process builds into its own temp dir and renames it into place; rename of a
 * directory onto an existing non-empty one fails, and the loser uses the
 * winner's (complete, because rename is atomic) template.
 */
async function ensureTemplate(): Promise<string> {
  const uid = process.getuid ? process.getuid() : 0;
  const target = path.join(os.tmpdir(), `mtp-mariadb-template-${uid}`);
  if (existsSync(target)) return target;

  const staging = await fs.mkdtemp(`${target}-staging-`);
  try {
    await installDb(staging);
    await fs.rename(staging, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(target)) {
      await fs.rm(staging, { recursive: true, force: true });
      return target;
    }
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  }
  return target;
}

async function installDb(dataDir: string): Promise<void> {
  const res = await run(INSTALL_DB, [
    '--no-defaults',
    `--datadir=${dataDir}`,
    '--auth-root-authentication-method=socket',
    '--skip-test-db',
    '--user=root',
    ...SMALL_INNODB,
  ]);
  if (res.code !== 0) {
    throw new Error(`mariadb-install-db failed (exit ${res.code}):\n${res.stdout}\n${res.stderr}`);
  }
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

class BindError extends Error {}

class Instance implements MariaDbServer {
  readonly host = '127.0.0.1';
  port = 0;
  readonly socket: string;
  readonly dataDir: string;
  private readonly pidFile: string;
  private readonly errorLog: string;
  private child: ChildProcess | undefined;
  private destroyed = false;

  constructor(
    private readonly rootDir: string,
    private readonly options: MariaDbOptions,
  ) {
    this.socket = path.join(rootDir, 'mysqld.sock');
    this.dataDir = path.join(rootDir, 'data');
    this.pidFile = path.join(rootDir, 'mysqld.pid');
    this.errorLog = path.join(rootDir, 'error.log');
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  async sql(query: string): Promise<string> {
    const res = await run(CLIENT, [
      '--no-defaults',
      `--socket=${this.socket}`,
      '-uroot',
      '--batch',
      '--skip-column-names',
      '-e',
      query,
    ]);
    if (res.code !== 0) throw new Error(res.stderr.trim() || `mariadb exited with ${res.code}`);
    return res.stdout.trim();
  }

  /** First start: picks a port, retrying with a fresh one if another process grabbed it. */
  async firstStart(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      try {
        await this.startProcess();
        return;
      } catch (err) {
        if (!(err instanceof BindError) || attempt >= PORT_ATTEMPTS) throw err;
      }
    }
  }

  async start(): Promise<void> {
    if (this.destroyed) throw new Error('MariaDB server was destroyed');
    if (this.running()) return;
    // The port was ours a moment ago; a bind failure here is most likely a
    // lingering socket, so retry the same port after a short pause.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.startProcess();
        return;
      } catch (err) {
        if (!(err instanceof BindError) || attempt >= PORT_ATTEMPTS) throw err;
        await sleep(500);
      }
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running()) return;
    child.kill('SIGTERM');
    if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
      child.kill('SIGKILL');
      await waitForExit(child, STOP_TIMEOUT_MS);
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running()) return;
    child.kill('SIGKILL');
    await waitForExit(child, STOP_TIMEOUT_MS);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await this.stop();
    this.destroyed = true;
    await fs.rm(this.rootDir, { recursive: true, force: true });
  }

  private running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  private serverArgs(): string[] {
    const args = [
      '--no-defaults', // must be first
      '--user=root',
      `--datadir=${this.dataDir}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      `--socket=${this.socket}`,
      `--pid-file=${this.pidFile}`,
      `--log-error=${this.errorLog}`,
      '--skip-log-bin',
      ...SMALL_INNODB,
      '--max-allowed-packet=64M',
      '--max-connections=2000',
      '--max-connect-errors=10',
      // No --skip-name-resolve: tests rely on host_cache counting connect
      // errors for non-127.0.0.1 client addresses.
    ];
    const tls = this.options.tls;
    if (tls) {
      args.push(
        `--ssl-cert=${path.resolve(tls.cert)}`,
        `--ssl-key=${path.resolve(tls.key)}`,
        `--ssl-ca=${path.resolve(tls.ca)}`,
      );
    }
    if (this.options.skipNetworking) args.push('--skip-networking');
    return args.concat(this.options.extraArgs ?? []);
  }

  /** Spawns mariadbd and resolves once it answers on the socket. */
  private async startProcess(): Promise<void> {
    const logStart = await fs.stat(this.errorLog).then(
      (s) => s.size,
      () => 0,
    );
    const args = this.serverArgs();
    // setpriv --pdeathsig makes the kernel SIGKILL mariadbd if this process
    // dies without running its 'exit' handlers (e.g. a SIGKILLed jest
    // worker). setpriv execs, so the pid is mariadbd's own.
    const child = existsSync(SETPRIV)
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', MARIADBD, ...args], { stdio: 'ignore', detached: false })
      : spawn(MARIADBD, args, { stdio: 'ignore', detached: false });
    track(child);
    this.child = child;
    child.on('error', () => undefined); // surfaced through the readiness check

    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!this.running()) {
        const log = await this.newLog(logStart);
        if (/Address already in use|Bind on TCP\/IP port/i.test(log)) {
          throw new BindError(`mariadbd could not bind 127.0.0.1:${this.port}:\n${log}`);
        }
        throw new Error(`mariadbd exited during startup (port ${this.port}):\n${log}`);
      }
      const res = await run(CLIENT, ['--no-defaults', `--socket=${this.socket}`, '-uroot', '-e', 'select 1']);
      if (res.code === 0) return;
      await sleep(100);
    }
    child.kill('SIGKILL');
    await waitForExit(child, STOP_TIMEOUT_MS);
    throw new Error(
      `mariadbd not ready after ${READY_TIMEOUT_MS / 1000}s (port ${this.port}):\n${await tail(this.errorLog)}`,
    );
  }

  /** The part of error.log written by the current start attempt. */
  private async newLog(from: number): Promise<string> {
    try {
      const buf = await fs.readFile(this.errorLog);
      return buf.subarray(from).toString('utf8').trimEnd().split('\n').slice(-30).join('\n');
    } catch {
      return '(no error log)';
    }
  }

  /** Idempotent: a copied data dir or a restart may already have all of this. */
  async createUsers(): Promise<void> {
    const { native, ed25519, nopass } = TEST_USERS;
    await this.sql(
      [
        `CREATE OR REPLACE USER ${native.user}@'%' IDENTIFIED BY '${native.password}'`,
        `GRANT ALL ON *.* TO ${native.user}@'%'`,
        `CREATE OR REPLACE USER ${nopass.user}@'%'`,
        `GRANT ALL ON *.* TO ${nopass.user}@'%'`,
        'CREATE DATABASE IF NOT EXISTS test',
      ].join(';'),
    );
    try {
      await this.sql("INSTALL SONAME 'auth_ed25519'");
    } catch (err) {
      if (!/already installed/i.test((err as Error).message)) throw err;
    }
    await this.sql(
      [
        `CREATE OR REPLACE USER ${ed25519.user}@'%' IDENTIFIED VIA ed25519 USING PASSWORD('${ed25519.password}')`,
        `GRANT ALL ON *.* TO ${ed25519.user}@'%'`,
      ].join(';'),
    );
  }
}

export async function startMariaDb(options: MariaDbOptions = {}): Promise<MariaDbServer> {
  const template = await templateDir();
  const rootDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-mariadb-'));
  const server = new Instance(rootDir, options);
  try {
    const cp = await run('cp', ['-a', template, server.dataDir]);
    if (cp.code !== 0) throw new Error(`copying template data dir failed: ${cp.stderr}`);
    await server.firstStart();
    await server.createUsers();
    return server;
  } catch (err) {
    await server.destroy().catch(() => undefined);
    throw err;
  }
}
