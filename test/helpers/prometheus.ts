/**
 * Debian's prometheus and promtool for integration tests: the repository's own scrape
 * configuration (deploy/prometheus/prometheus.yml) with only the target address and the
 * intervals replaced, a throwaway TSDB in a temp dir, the web API on a random loopback port.
 */
import { ChildProcess, execFile, spawn } from 'child_process';
import { existsSync, promises as fs } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { parse, stringify } from 'yaml';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';
export const ROOT = path.resolve(__dirname, '../..');
export const CONFIG_FILE = path.join(ROOT, 'deploy/prometheus/prometheus.yml');
const SETPRIV = '/usr/bin/setpriv';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs promtool; `input` goes to its standard input (e.g. a /metrics body). */
export function promtool(args: string[], input?: string, cwd = ROOT): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = execFile(PROMTOOL, args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin!.end(input ?? '');
  });
}

/**
 * The repository's prometheus.yml pointed at `target`: the mysql-tls-proxy job's target is
 * replaced, rule files are made absolute (they are relative to deploy/prometheus/), and the
 * scrape and evaluation intervals are shortened so that a test does not wait 5 s per scrape.
 * Everything else (job name, metrics path, rule files) is the file as shipped.
 */
export async function derivedConfig(target: string, intervalS = 1): Promise<string> {
  /* eslint-disable @typescript-eslint/no-explicit-any */
  const config: any = parse(await fs.readFile(CONFIG_FILE, 'utf8'));
  const jobs = (config.scrape_configs as any[]).filter((job) => job.job_name === 'mysql-tls-proxy');
  if (jobs.length !== 1) throw new Error(`${CONFIG_FILE}: expected one mysql-tls-proxy job`);
  for (const group of jobs[0].static_configs) group.targets = [target];
  config.global = {
    ...config.global,
    scrape_interval: `${intervalS}s`,
    evaluation_interval: `${intervalS}s`,
  };
  config.rule_files = (config.rule_files ?? []).map((file: string) =>
    path.resolve(path.dirname(CONFIG_FILE), file),
  );
  return stringify(config);
}

export interface PrometheusServer {
  port: number;
  dir: string;
  /** GET /api/v1/<pathname>; resolves with `data`, rejects on an error status. */
  api<T = unknown>(pathname: string, params?: Record<string, string>): Promise<T>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => running.forEach((child) => child.kill('SIGKILL')));

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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startPrometheus(configYaml: string): Promise<PrometheusServer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-prometheus-'));
  const configFile = path.join(dir, 'prometheus.yml');
  const logFile = path.join(dir, 'prometheus.log');
  await fs.writeFile(configFile, configYaml);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const args = [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=info',
    ];
    const log = await fs.open(logFile, 'a');
    // --pdeathsig: the kernel kills prometheus if the test process dies without cleaning up.
    const child = existsSync(SETPRIV)
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', PROMETHEUS, ...args], { stdio: ['ignore', log.fd, log.fd] })
      : spawn(PROMETHEUS, args, { stdio: ['ignore', log.fd, log.fd] });
    await log.close();
    running.add(child);
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        running.delete(child);
        resolve();
      }),
    );
    const base = `http://127.0.0.1:${port}`;
    const readLog = () => fs.readFile(logFile, 'utf8').catch(() => '');
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      await fs.rm(dir, { recursive: true, force: true });
    };
    const deadline = Date.now() + 30_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null) {
      ready = await fetch(`${base}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      await sleep(100);
    }
    if (!ready) {
      const text = await readLog();
      if (child.exitCode !== null && /address already in use/.test(text) && attempt < 3) continue;
      await stop();
      throw new Error(`prometheus did not become ready:\n${text.split('\n').slice(-20).join('\n')}`);
    }
    return {
      port,
      dir,
      async api<T>(pathname: string, params: Record<string, string> = {}) {
        const url = `${base}/api/v1/${pathname}?${new URLSearchParams(params)}`;
        const body = (await (await fetch(url)).json()) as { status: string; data: T; error?: string };
        if (body.status !== 'success') throw new Error(`${url}: ${body.error ?? body.status}`);
        return body.data;
      },
      log: readLog,
      stop,
    };
  }
}
