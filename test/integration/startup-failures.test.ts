/**
 * Startup failures, in one process and with --workers: one line on stderr saying what, a non-zero
 * exit within 5 s, nothing left running. And the configuration sources: YAML, unknown keys and
 * MTP_* variables refused, --check-config. No database needed: nothing here gets that far.
 */
import { spawn } from 'child_process';
import { promises as fs } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { CLI, startProxy } from '../helpers/proxy';

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

async function scratch(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'mtp-startup-'));
}

/** Runs the CLI; gives up (SIGKILL) after 15 s so a hang fails the timing assertion, not the suite. */
function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? os.tmpdir(),
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

function expectOneLineFailure(result: Outcome, code: number, message: RegExp): void {
  expect({ code: result.code, stderr: result.stderr }).toEqual({
    code,
    stderr: expect.stringMatching(message),
  });
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.ms).toBeLessThan(5_000);
}

async function busyPort(): Promise<{ port: number; close(): void }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

const BASE = ['serve', '--backend', '127.0.0.1:1'];

describe.each([
  ['one process', []],
  ['--workers 2', ['--workers', '2']],
])('startup failures (%s) exit non-zero within 5 s with one line', (_mode, workers) => {
  it('busy status port', async () => {
    const busy = await busyPort();
    try {
      const args = [...BASE, ...workers, '--listen', '127.0.0.1:0', '--status', `127.0.0.1:${busy.port}`];
      const result = await cli(args, { cwd: await scratch() });
      expectOneLineFailure(result, 1, /cannot listen on --status 127\.0\.0\.1:\d+: EADDRINUSE/);
    } finally {
      busy.close();
    }
  });

  it('busy listen port', async () => {
    const busy = await busyPort();
    try {
      const args = [...BASE, ...workers, '--listen', `127.0.0.1:${busy.port}`, '--status', '127.0.0.1:0'];
      const result = await cli(args, { cwd: await scratch() });
      expectOneLineFailure(result, 1, /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
    } finally {
      busy.close();
    }
  });

  it('unreadable certificate', async () => {
    const args = [...BASE, ...workers, '--status', 'off', '--listen', '127.0.0.1:0'];
    const result = await cli([...args, '--cert', '/nonexistent/server.pem', '--key', '/nonexistent/key.pem']);
    expectOneLineFailure(result, 2, /cannot read certificate/);
  });

  it('certificate and key that do not match', async () => {
    const [a, b] = [await scratch(), await scratch()];
    for (const dir of [a, b]) expect((await cli(['certs', '--out', dir])).code).toBe(0);
    const args = [...BASE, ...workers, '--status', 'off', '--listen', '127.0.0.1:0'];
    const pair = ['--cert', path.join(a, 'server.pem'), '--key', path.join(b, 'server-key.pem')];
    const result = await cli([...args, ...pair, '--ca-file', path.join(a, 'ca.pem')]);
    expectOneLineFailure(result, 2, /is not the key of the certificate/);
  });

  it('bad allow file', async () => {
    const dir = await scratch();
    const file = path.join(dir, 'allow.txt');
    await fs.writeFile(file, '10.0.0.0/8\nnot-a-cidr\n');
    const args = [...BASE, ...workers, '--status', 'off', '--listen', '127.0.0.1:0', '--allow-file', file];
    const result = await cli(args, { cwd: dir });
    expectOneLineFailure(result, 2, /allow\.txt:2: 'not-a-cidr' is not a valid CIDR/);
  });

  // Node's BlockList matches IPv4 peers against IPv6 rules via ::ffff:a.b.c.d: ::/0 would admit all of IPv4.
  it('--allow ::/0 (an IPv6 rule that would admit every IPv4 client)', async () => {
    const args = [...BASE, ...workers, '--status', 'off', '--listen', '127.0.0.1:0', '--allow', '::/0'];
    const result = await cli(args, { cwd: await scratch() });
    expectOneLineFailure(result, 2, /--allow: '::\/0' contains ::ffff:0:0\/96, .*admit every IPv4 client/);
  });

  it('an allow file with ::ffff:0:0/95', async () => {
    const dir = await scratch();
    const file = path.join(dir, 'allow.txt');
    await fs.writeFile(file, '2001:db8::/32\n::ffff:0:0/95\n');
    const args = [...BASE, ...workers, '--status', 'off', '--listen', '127.0.0.1:0', '--allow-file', file];
    const result = await cli(args, { cwd: dir });
    expectOneLineFailure(result, 2, /allow\.txt:2: '::ffff:0:0\/95' contains ::ffff:0:0\/96/);
  });
});

describe('shutdown whatever stdout is', () => {
  it('`serve | head -1`, then SIGTERM: exits 0 within the drain timeout', async () => {
    const child = spawn(
      process.execPath,
      [CLI, ...BASE, '--listen', '127.0.0.1:0', '--status', '127.0.0.1:0', '--drain-timeout', '2000'],
      { cwd: await scratch(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    // head -1: read the first line, then close the pipe.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill('SIGHUP'); // a log line into the closed pipe: EPIPE
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const result = await exited;
    clearTimeout(killer);
    expect(result).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('configuration sources', () => {
  it('refuses a --config typo, naming the key and the closest flag', async () => {
    const dir = await scratch();
    const file = path.join(dir, 'proxy.json');
    await fs.writeFile(file, JSON.stringify({ bakend: '10.1.1.1:3306' }));
    const result = await cli(['serve', '--config', file]);
    expectOneLineFailure(result, 2, /unknown key 'bakend' \(did you mean 'backend'\?\)/);
  });

  it('refuses unknown MTP_* variables, naming them', async () => {
    const result = await cli(['serve', '--status', 'off'], { env: { MTP_FOO: '1' } });
    expectOneLineFailure(result, 2, /unknown environment variable MTP_FOO \(did you mean MTP_/);
  });

  it('reads YAML config files', async () => {
    const dir = await scratch();
    const file = path.join(dir, 'proxy.yaml');
    await fs.writeFile(file, '# the proxy\nallow:\n  - 127.0.0.1/32\n  - 10.0.0.0/8\nmax-connections: 5\n');
    const proxy = await startProxy({ backendPort: 1, cwd: dir, args: ['--config', file] });
    try {
      const line = await proxy.waitForLog((l) => l.event === 'listening');
      expect(line.allow).toEqual(['127.0.0.1/32', '10.0.0.0/8']);
    } finally {
      await proxy.stop();
    }
  });

  it('--check-config prints each value and its source, then exits 0 or 2', async () => {
    const dir = await scratch();
    const file = path.join(dir, 'proxy.yaml');
    await fs.writeFile(file, 'backend: 10.1.1.1:3306\nmax-connections: 5\n');
    const env = { MTP_MAX_CONNECTIONS: '7', MTP_LOG_LEVEL: 'warn' };
    const ok = await cli(['serve', '--config', file, '--listen', ':5000', '--check-config'], { env });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^listen +:5000 +flag$/m);
    expect(ok.stdout).toMatch(/^max-connections +7 +env MTP_MAX_CONNECTIONS$/m);
    expect(ok.stdout).toMatch(
      new RegExp(`^backend +10\\.1\\.1\\.1:3306 +file ${file.replace(/\./g, '\\.')}$`, 'm'),
    );
    expect(ok.stdout).toMatch(/^drain-timeout +30000 +default$/m);
    const bad = await cli(['serve', '--config', file, '--tls-min-version', 'TLSv1.1', '--check-config']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stdout).toMatch(/^tls-min-version +TLSv1\.1 +flag$/m);
  });
});
