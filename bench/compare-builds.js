#!/usr/bin/env node
'use strict';
/**
 * Before/after for a change to the proxy: two (or more) builds side by side in one run, alternating,
 * in front of one throwaway MariaDB, each driven with the same `bench` client (this checkout's).
 * Prints, per build, connections/s and CPU per full TLS 1.3 connection of the proxy, of MariaDB and
 * of the client (utime+stime from /proc), medians of ROUNDS alternations. Not part of `npm run bench`.
 *
 *   cp -r dist /tmp/dist-before; <change>; npm run build
 *   node bench/compare-builds.js /tmp/dist-before dist     (env: CONCURRENCY=8 DURATION=5 ROUNDS=4 PROXY_ARGS=)
 *
 * With CLIENTS=1 the builds are compared as clients instead: each build's `bench` against MariaDB's
 * native TLS (one server for all), client CPU per connection from its --json cpu_s.
 * (The dist directory must sit inside the repository, e.g. ./dist-before, to find node_modules.)
 */
const path = require('node:path');
const h = require('./lib/harness');

const CONCURRENCY = Number(process.env.CONCURRENCY || 8);
const DURATION = Number(process.env.DURATION || 5);

async function main() {
  const builds = process.argv.slice(2).map((dir) => path.resolve(dir, 'cli', 'index.js'));
  if (builds.length === 0) throw new Error('usage: node bench/compare-builds.js DIST_DIR [DIST_DIR...]');
  h.printMachine();
  const certs = h.makeCerts();
  const db = await h.startMariadb({ certs });
  const extra = process.env.PROXY_ARGS ? process.env.PROXY_ARGS.split(' ') : [];
  const proxies = [];
  const clients = process.env.CLIENTS === '1';
  for (const [i, cli] of builds.entries()) {
    if (clients) {
      proxies.push({ name: process.argv[2 + i], port: db.port, pid: db.pid, cli });
      continue;
    }
    const port = await h.freePort();
    const child = h.startProcess(`proxy-${i}`, process.execPath, [cli, 'serve', '--listen', `127.0.0.1:${port}`,
      '--backend', `127.0.0.1:${db.port}`, '--cert', certs.cert, '--key', certs.key, '--ca-file', certs.ca,
      '--max-connections', '12000', '--status', 'off', '--log-level', 'warn', ...extra], { cwd: h.tmp() });
    await h.waitPort(port, child);
    proxies.push({ name: process.argv[2 + i], port, pid: child.pid, cli: h.CLI });
  }
  const bench = (port, duration, cli) =>
    h.runAsync(process.execPath, [cli, 'bench', '--target', `127.0.0.1:${port}`, '--user', 'app', '--password',
      'app-secret', '--ca', certs.ca, '--tls-version', 'TLSv1.3', '--concurrency', String(CONCURRENCY),
      '--duration', String(duration), '--json'], { log: false });
  for (const p of proxies) await bench(p.port, 2, p.cli);
  const samples = new Map(proxies.map((p) => [p.name, []]));
  for (let round = 1; round <= h.rounds(); round++) {
    for (const p of proxies) {
      const proxy0 = h.cpuSeconds(p.pid);
      const db0 = h.cpuSeconds(db.pid);
      const res = await bench(p.port, DURATION, p.cli);
      const json = JSON.parse(res.stdout.trim().split('\n').pop());
      const n = Math.max(1, json.connections);
      const s = {
        rate: json.rate,
        proxyUs: ((h.cpuSeconds(p.pid) - proxy0) * 1e6) / n,
        dbUs: ((h.cpuSeconds(db.pid) - db0) * 1e6) / n,
        clientUs: (json.cpu_s * 1e6) / n,
        errors: json.errors,
      };
      samples.get(p.name).push(s);
      console.log(`  round ${round} ${p.name.padEnd(28)} ${h.fmt(s.rate, 0)} conn/s  proxy ${h.fmt(s.proxyUs, 0)} µs  db ${h.fmt(s.dbUs, 0)} µs  client ${h.fmt(s.clientUs, 0)} µs  errors ${s.errors}`);
    }
  }
  const med = (name, k) => h.median(samples.get(name).map((s) => s[k]));
  console.log(`\nmedians of ${h.rounds()} rounds, concurrency ${CONCURRENCY}, ${DURATION} s each (CPU per connection)`);
  console.log(h.table(['build', 'conn/s', 'proxy µs', 'MariaDB µs', 'proxy+db µs', 'client µs'],
    proxies.map((p) => [p.name, h.fmt(med(p.name, 'rate'), 0), h.fmt(med(p.name, 'proxyUs'), 0), h.fmt(med(p.name, 'dbUs'), 0),
      h.fmt(h.median(samples.get(p.name).map((s) => s.proxyUs + s.dbUs)), 0), h.fmt(med(p.name, 'clientUs'), 0)])));
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => process.exit());
