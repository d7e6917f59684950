#!/usr/bin/env node
'use strict';
/**
 * System calls per proxied connection: runs the built proxy under `strace -c -f` in front of a
 * throwaway MariaDB, drives N full TLS 1.3 MySQL connections through it with the `bench`
 * subcommand, stops the proxy cleanly and prints strace's table with a per-connection column.
 * Needs strace (apt-get install strace). Not part of `npm run bench`.
 *
 *   node bench/syscalls.js          (env: N=1000 PROXY_ARGS='--workers 1')
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./lib/harness');

const N = Number(process.env.N || 1000);

async function main() {
  h.printMachine();
  const certs = h.makeCerts();
  const db = await h.startMariadb({ certs });
  const port = await h.freePort();
  const out = path.join(h.tmp(), 'strace.txt');
  const tracer = h.startProcess('strace', 'strace', ['-c', '-f', '-o', out, process.execPath, h.CLI, 'serve',
    '--listen', `127.0.0.1:${port}`, '--backend', `127.0.0.1:${db.port}`, '--cert', certs.cert, '--key', certs.key,
    '--ca-file', certs.ca, '--status', 'off', '--log-level', 'warn',
    ...(process.env.PROXY_ARGS ? process.env.PROXY_ARGS.split(' ') : [])], { cwd: h.tmp() });
  await h.waitPort(port, tracer);
  const res = await h.runAsync(process.execPath, [h.CLI, 'bench', '--target', `127.0.0.1:${port}`, '--user', 'app',
    '--password', 'app-secret', '--ca', certs.ca, '--tls-version', 'TLSv1.3', '--concurrency', '4', '--connections',
    String(N), '--json']);
  const json = JSON.parse(res.stdout.trim().split('\n').pop());
  // SIGINT to the proxy itself (strace's child): it drains and exits, then strace writes its table.
  const proxyPid = Number(execFileSync('pgrep', ['-P', String(tracer.pid)]).toString().trim().split('\n')[0]);
  process.kill(proxyPid, 'SIGINT');
  await new Promise((resolve) => tracer.once('exit', resolve));
  console.log(`${json.connections} connections, ${json.errors} errors; strace -c of the proxy (calls / connection added):`);
  for (const line of fs.readFileSync(out, 'utf8').trimEnd().split('\n')) {
    const fields = line.trim().split(/\s+/);
    const calls = Number(fields[3]);
    console.log(Number.isFinite(calls) && fields.length >= 5 ? `${line}   ${(calls / json.connections).toFixed(1)}` : line);
  }
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => process.exit());
