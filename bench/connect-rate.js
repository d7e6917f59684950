#!/usr/bin/env node
'use strict';
/**
 * 1. Connection rate: full TLS 1.3 MySQL connections per second (connect, greeting, SSLRequest,
 * TLS 1.3 handshake with the ECDSA P-256 certificate, login, COM_QUIT) at fixed concurrency, with
 * the `bench` subcommand as the client, through the proxy (--workers 1 and --workers nproc) vs
 * MariaDB's native TLS on the same server. Contenders alternate, ROUNDS times (default 2).
 *
 * Also server-side CPU per connection (proxy processes + mariadbd, utime+stime from /proc) vs
 * `openssl s_server` CPU per full handshake under `openssl s_time -new` with the same certificate
 * (TLS only, no MySQL: s_time does not speak MySQL), and a bare Node tls.Server under the same load
 * (bench/lib/node-tls-floor.js): the floor of any TLS terminator written for Node.
 *
 *   node bench/connect-rate.js          (env: CONCURRENCY=16 DURATION=8 ROUNDS=2)
 */
const h = require('./lib/harness');

const CONCURRENCY = Number(process.env.CONCURRENCY || 16);
const DURATION = Number(process.env.DURATION || 8);
const STIME_SECONDS = Number(process.env.STIME_SECONDS || 8);

async function main() {
  console.log('== 1. connection rate: full TLS 1.3 MySQL connections/s, and server CPU per connection ==');
  const m = h.printMachine();
  const certs = h.makeCerts();
  const db = await h.startMariadb({ certs });
  console.log(`  MariaDB: ${db.vars.replace(/\n/g, '; ').replace(/\t/g, '=')}`);
  const workersN = m.nproc;
  const proxies = [await h.startProxy({ certs, backendPort: db.port, workers: 1 })];
  if (workersN > 1) proxies.push(await h.startProxy({ certs, backendPort: db.port, workers: workersN }));

  const contenders = [
    { name: 'MariaDB native TLS', port: db.port, pids: () => [db.pid], proxyPids: () => [] },
    ...proxies.map((p) => ({
      name: `proxy --workers ${p.workers}`,
      workers: p.workers,
      port: p.port,
      pids: () => [...h.processTree(p.pid), db.pid],
      proxyPids: () => h.processTree(p.pid),
    })),
  ];

  const bench = (port, mode, duration, log, resume = false) =>
    h.runAsync(process.execPath, [h.CLI, 'bench', '--target', `127.0.0.1:${port}`, '--user', 'app', '--password',
      'app-secret', '--ca', certs.ca, '--tls-version', 'TLSv1.3', '--mode', mode, '--concurrency', String(CONCURRENCY),
      '--duration', String(duration), '--json', ...(resume ? ['--resume'] : [])], { log });

  // warm up every contender (JIT, thread cache, page cache)
  for (const c of contenders) await bench(c.port, 'full', 2, false);

  const samples = new Map(); // key -> [{rate, p50, p99, cpuPerConn, proxyCpuPerConn, ...}]
  const measure = async (c, mode, log, resume = false) => {
    const sum = (pids) => pids.reduce((s, p) => s + h.cpuSeconds(p), 0);
    const pids = c.pids();
    const proxyPids = c.proxyPids();
    const before = sum(pids);
    const proxyBefore = sum(proxyPids);
    const res = await bench(c.port, mode, DURATION, log, resume);
    const after = sum(pids);
    const proxyAfter = sum(proxyPids);
    const json = JSON.parse(res.stdout.trim().split('\n').pop());
    const key = `${c.name}${mode === 'full' ? '' : ` (${mode})`}${resume ? ' (--resume)' : ''}`;
    const s = {
      rate: json.rate,
      connections: json.connections,
      errors: json.errors,
      p50: json.p50_ms,
      p99: json.p99_ms,
      serverCpuMs: ((after - before) * 1000) / Math.max(1, json.connections),
      proxyCpuMs: ((proxyAfter - proxyBefore) * 1000) / Math.max(1, json.connections),
      clientCpuS: json.cpu_s,
      resumed: json.resumed,
      tls: Object.keys(json.tls_versions).join(','),
      cipher: Object.keys(json.ciphers).join(','),
    };
    if (!samples.has(key)) samples.set(key, []);
    samples.get(key).push(s);
    console.log(`  ${key.padEnd(36)} ${h.fmt(s.rate, 0).padStart(7)} conn/s  p99 ${h.fmt(s.p99, 2)} ms  server CPU ${h.fmt(s.serverCpuMs, 3)} ms/conn  errors ${s.errors}  ${s.tls} ${s.cipher}`);
  };

  const rounds = h.rounds();
  for (let round = 1; round <= rounds; round++) {
    console.log(`-- round ${round}/${rounds} (concurrency ${CONCURRENCY}, ${DURATION} s each)`);
    for (const c of contenders) await measure(c, 'full', round === 1);
  }
  // Breakdown (diagnostic, one alternation per round): TLS only, no login.
  for (let round = 1; round <= rounds; round++) {
    for (const c of contenders.slice(0, 2)) await measure(c, 'tls-only', round === 1);
  }
  // Session resumption (diagnostic): clients that present a ticket; the proxy shares ticket keys
  // across --workers, MariaDB resumes from its own session cache.
  for (let round = 1; round <= rounds; round++) {
    for (const c of contenders) await measure(c, 'full', round === 1, true);
  }
  for (const p of proxies) await h.stopProcess(p.child);

  // openssl s_server under openssl s_time -new: CPU per full TLS 1.3 handshake, same cert and key
  console.log(`-- openssl s_server / s_time -new, TLS 1.3, ${STIME_SECONDS} s (TLS only, no MySQL)`);
  const sport = await h.freePort();
  const opensslSamples = await handshakeCpu('openssl s_server', sport, rounds, h.startProcess('s_server', 'openssl',
    ['s_server', '-accept', `127.0.0.1:${sport}`, '-cert', certs.cert, '-key', certs.key, '-tls1_3', '-www', '-quiet',
      '-no_ticket']));
  const opensslMs = h.median(opensslSamples.map((s) => s.ms));

  // The same under a bare Node tls.Server: the floor of any Node TLS terminator on this machine.
  const nport = await h.freePort();
  const nodeSamples = await handshakeCpu('bare Node tls.Server', nport, rounds, h.startProcess('node-tls-floor',
    process.execPath, [require.resolve('./lib/node-tls-floor'), certs.cert, certs.key, String(nport)]));
  const nodeMs = h.median(nodeSamples.map((s) => s.ms));

  // ---- table
  const med = (key, field) => h.median((samples.get(key) || []).map((s) => s[field]));
  const nativeRate = med('MariaDB native TLS', 'rate');
  const rows = [...samples.keys()].map((key) => [
    key,
    h.fmt(med(key, 'rate'), 0),
    key.includes('(') ? '-' : h.fmt(med(key, 'rate') / nativeRate, 2) + 'x',
    h.fmt(med(key, 'p50'), 2),
    h.fmt(med(key, 'p99'), 2),
    h.fmt(med(key, 'serverCpuMs'), 3),
    key.startsWith('proxy') ? h.fmt(med(key, 'proxyCpuMs'), 3) : '-',
    h.fmt(med(key, 'serverCpuMs') / opensslMs, 2) + 'x',
    String(samples.get(key).reduce((s, x) => s + x.errors, 0)),
    samples.get(key)[0].tls + ' ' + samples.get(key)[0].cipher +
      (key.includes('--resume') ? `, ${h.fmt((100 * med(key, 'resumed')) / med(key, 'connections'), 0)}% resumed` : ''),
  ]);
  rows.push(['openssl s_server (s_time -new)', h.fmt(h.median(opensslSamples.map((s) => s.rate)), 0) + ' (1 at a time)', '-',
    '-', '-', h.fmt(opensslMs, 3), '-', '1.00x', '0', 'TLSv1.3, TLS only']);
  rows.push(['bare Node tls.Server (s_time -new)', h.fmt(h.median(nodeSamples.map((s) => s.rate)), 0) + ' (1 at a time)', '-',
    '-', '-', h.fmt(nodeMs, 3), '-', h.fmt(nodeMs / opensslMs, 2) + 'x', '0', 'TLSv1.3, TLS only (floor of Node TLS)']);
  console.log(`\nconnection rate, medians of ${rounds} alternating rounds, concurrency ${CONCURRENCY}, ${DURATION} s each, client: mysql-tls-proxy bench (1 thread)`);
  console.log(h.table(['contender', 'conn/s', 'vs native', 'p50 ms', 'p99 ms', 'server CPU ms/conn', 'of which proxy', 'CPU vs openssl', 'errors', 'TLS'], rows));

  const targets = [];
  for (const p of proxies) {
    const key = `proxy --workers ${p.workers}`;
    const ratio = med(key, 'rate') / nativeRate;
    const cpuRatio = med(key, 'serverCpuMs') / opensslMs;
    const headline = p.workers === workersN;
    targets.push({
      name: `connection rate >= 1.5x MariaDB native TLS (--workers ${p.workers}${headline ? ', headline' : ''})`,
      value: `${h.fmt(ratio, 2)}x (${h.fmt(med(key, 'rate'), 0)} vs ${h.fmt(nativeRate, 0)} conn/s)`,
      pass: ratio >= 1.5 && med(key, 'errors') === 0,
      headline,
    });
    targets.push({
      name: `proxy+backend CPU/conn <= 1.1x openssl s_server per handshake (--workers ${p.workers}${headline ? ', headline' : ''})`,
      value: `${h.fmt(cpuRatio, 2)}x (${h.fmt(med(key, 'serverCpuMs'), 3)} vs ${h.fmt(opensslMs, 3)} ms)`,
      pass: cpuRatio <= 1.1,
      headline,
    });
  }
  for (const t of targets) console.log(`${h.verdict(t.pass).padEnd(7)} ${t.name}: ${t.value}`);
  h.saveResults('1-connect-rate', {
    title: '1. Connection rate',
    machine: m,
    settings: { concurrency: CONCURRENCY, duration: DURATION, rounds, mariadb: db.args },
    samples: Object.fromEntries(samples),
    openssl: opensslSamples,
    nodeTlsFloor: nodeSamples,
    rows,
    headers: ['contender', 'conn/s', 'vs native', 'p50 ms', 'p99 ms', 'server CPU ms/conn', 'of which proxy', 'CPU vs openssl', 'errors', 'TLS'],
    targets,
  });
}

/**
 * CPU per full TLS 1.3 handshake of `server` (listening on `port`) under `openssl s_time -new`,
 * one connection at a time, `rounds` times after a 2 s warm-up; stops the server.
 */
async function handshakeCpu(label, port, rounds, server) {
  await h.waitPort(port, server);
  const sTime = (seconds, log) =>
    h.runAsync('openssl', ['s_time', '-connect', `127.0.0.1:${port}`, '-new', '-tls1_3', '-time', String(seconds)], { log });
  await sTime(2, false);
  const samples = [];
  for (let round = 1; round <= rounds; round++) {
    const before = h.cpuSeconds(server.pid);
    const res = await sTime(STIME_SECONDS, round === 1);
    const after = h.cpuSeconds(server.pid);
    const match = res.stdout.match(/(\d+) connections in ([\d.]+) real seconds/);
    const n = match ? Number(match[1]) : 0;
    const rate = match ? n / Number(match[2]) : NaN;
    const ms = ((after - before) * 1000) / Math.max(1, n);
    samples.push({ n, rate, ms });
    console.log(`  ${label}: ${n} handshakes, ${h.fmt(rate, 0)}/s sequential, ${h.fmt(ms, 3)} ms CPU per handshake`);
  }
  await h.stopProcess(server);
  return samples;
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  // The throwaway servers keep the event loop alive: exit, and the harness kills them.
  .finally(() => process.exit());
