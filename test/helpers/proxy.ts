/**
 * Runs the built proxy (dist/, as users run it) as a child process for integration tests.
 * Listens on 127.0.0.1:0 and learns the real ports from its own "listening" log line.
 */
import { ChildProcess, spawn } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';

export const CLI = path.resolve(__dirname, '../../dist/cli/index.js');

export interface ProxyOptions {
  backendPort: number;
  args?: string[];
  env?: Record<string, string>;
  /** Working directory; a fresh temp dir (dev certificates generated into its certs/) by default. */
  cwd?: string;
  /** The CLI to run; dist/cli/index.js by default (test/integration/package.test.ts: an installed one). */
  cli?: string;
}

export interface ProxyProcess {
  port: number;
  statusPort: number;
  cwd: string;
  caFile: string;
  child: ChildProcess;
  logs(): Array<Record<string, unknown>>;
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  metricsText(): Promise<string>;
  /** Value of one sample, 0 when the series does not exist. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => running.forEach((child) => child.kill('SIGKILL')));

export async function startProxy(options: ProxyOptions): Promise<ProxyProcess> {
  const cwd = options.cwd ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'mtp-proxy-')));
  const args = [
    options.cli ?? CLI,
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--status',
    '127.0.0.1:0',
    '--backend',
    `127.0.0.1:${options.backendPort}`,
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      try {
        lines.push(JSON.parse(text));
      } catch {
        lines.push({ raw: text });
      }
    }
    waiters.splice(0).forEach((wake) => wake());
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      running.delete(child);
      waiters.splice(0).forEach((wake) => wake());
      resolve({ code, signal });
    }),
  );

  const waitForLog = async (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find(predicate);
      if (found) return found;
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`proxy exited (${child.exitCode ?? child.signalCode}); stderr: ${stderr}`);
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out waiting for a log line; stderr: ${stderr}; logs: ${JSON.stringify(lines.slice(-5))}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };

  const listening = await waitForLog((line) => line.event === 'listening', 20_000);
  const port = Number(String(listening.listen).split(':').pop());
  const statusPort = Number(String(listening.status).split(':').pop());
  const metricsText = async () => {
    const response = await fetch(`http://127.0.0.1:${statusPort}/metrics`);
    return response.text();
  };
  return {
    port,
    statusPort,
    cwd,
    caFile: path.join(cwd, 'certs', 'ca.pem'),
    child,
    logs: () => lines,
    waitForLog,
    metricsText,
    async metric(name, labels = {}) {
      return sampleValue(await metricsText(), name, labels);
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Reads one sample from Prometheus text format. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const full =
    name.startsWith('mysql_tls_proxy_') || name.startsWith('process_') ? name : `mysql_tls_proxy_${name}`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(full)) continue;
    const match = /^([a-z_]+)(\{(.*)\})? (.+)$/.exec(line);
    if (!match || match[1] !== full) continue;
    const present: Record<string, string> = {};
    for (const pair of (match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)) present[pair[1]] = pair[2];
    if (Object.entries(labels).every(([key, value]) => present[key] === value)) return Number(match[4]);
  }
  return 0;
}
