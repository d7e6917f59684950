#!/usr/bin/env node
'use strict';
/**
 * 1. Connections: full TLS 1.3 MySQL connections (connect, greeting, SSLRequest, TLS 1.3 handshake
 * with the ECDSA P-256 certificate, login, COM_QUIT) at fixed concurrency, with the `bench`
 * subcommand as the client, side by side, alternating ROUNDS times:
 *   - MariaDB's native TLS on the same certificate (what the proxy is compared with),
 *   - the proxy, --workers 1 and --workers nproc,
 *   - the floor of this design: a bare Node tls.Server doing the same in-band upgrade and relaying
 *     the login, nothing else (bench/lib/node-mysql-tls-floor.js).
 * For each: connections/s, latency, and server CPU per connection (the front process tree plus
 * mariadbd, utime+stime from /proc), and the client's CPU per connection.
 *
 * Then the clients, against the proxy (--workers 1) in the same rounds: `bench` vs the minimal raw
 * Node MySQL TLS client (bench/raw-tls-baseline.js) vs sysbench (bench/sysbench-connect.lua, one
 * event = one connection), client CPU per connection (sysbench's from bash `time`, start-up included).
 *
 * Last, CPU per TLS 1.3 handshake alone (no MySQL) under `openssl s_time -new`: openssl s_server,
 * and a bare Node tls.Server (bench/lib/node-tls-floor.js).
 *
 *   node bench/connect-rate.js
 *   env: CONCURRENCY=8 DURATION=8 ROUNDS=2 STIME_SECONDS=6
 *        EXTRAS=1  also the TLS-only (no login) and session-resumption diagnostics
 */
const h = require('./lib/harness');

const CONCURRENCY = Number(process.env.CONCURRENCY || 8);
const DURATION = Number(process.env.DURATION || 8);
const STIME_SECONDS = Number(process.env.STIME_SECONDS || 6);
const EXTRAS = process.env.EXTRAS === '1';

async function main() {
  console.log('== 1. connections: full TLS 1.3 MySQL connections/s, server and client CPU per connection ==');
  const m = h.printMachine();
  const certs = h.makeCerts();
  const db = await h.startMariadb({ certs });
  console.log(`  MariaDB: ${db.vars.replace(/\n/g, '; ').replace(/\t/g, '=')}`);
  const workersN = m.nproc;
  const proxies = [await h.startProxy({ certs, backendPort: db.port, workers: 1 })];
  if (workersN > 1) proxies.push(await h.startProxy({ certs, backendPort: db.port, workers: workersN }));
  const floorPort = await h.freePort();
  const floor = h.startProcess('node-mysql-tls-floor', process.execPath,
    [require.resolve('./lib/node-mysql-tls-floor'), certs.cert, certs.key, String(floorPort), String(db.port)]);
  await h.waitPort(floorPort, floor);

  const native = { name: 'MariaDB native TLS', port: db.port, front: () => [] };
  const contenders = [
    native,
    ...proxies.map((p) => ({ name: `proxy --workers ${p.workers}`, workers: p.workers, port: p.port, front: () => h.processTree(p.pid) })),
    { name: 'floor: bare Node TLS upgrade + relay', port: floorPort, front: () => [floor.pid], floor: true },
  ];
  const sum = (pids) => pids.reduce((s, p) => s + h.cpuSeconds(p), 0);
  const benchArgs = (port, mode, duration, resume) => [h.CLI, 'bench', '--target', `127.0.0.1:${port}`, '--user', 'app',
    '--password', 'app-secret', '--ca', certs.ca, '--tls-version', 'TLSv1.3', '--mode', mode, '--concurrency',
    String(CONCURRENCY), '--duration', String(duration), '--json', ...(resume ? ['--resume'] : [])];
  const clients = [
    { name: 'bench', run: (port, log) => h.runAsync(process.execPath, benchArgs(port, 'full', DURATION), { log }) },
    { name: 'raw Node MySQL TLS client', run: (port, log) => h.runAsync(process.execPath, [require.resolve('./raw-tls-baseline'),
      '--target', `127.0.0.1:${port}`, '--user', 'app', '--password', 'app-secret', '--ca', certs.ca, '--concurrency',
      String(CONCURRENCY), '--duration', String(DURATION), '--json'], { log }) },
    { name: 'sysbench (connect/disconnect)', run: (port, log) => timedRun('sysbench', [require.resolve('./sysbench-connect.lua'),
      '--db-driver=mysql', '--mysql-host=127.0.0.1', `--mysql-port=${port}`, '--mysql-user=app', '--mysql-password=app-secret',
      '--mysql-db=sbtest', '--mysql-ssl=on', `--threads=${CONCURRENCY}`, `--time=${DURATION}`, '--events=0', 'run'],
      { cwd: certs.sysbenchDir, log }) },
  ];

  // warm up every contender and client (JIT, thread cache, page cache)
  for (const c of contenders) await h.runAsync(process.execPath, benchArgs(c.port, 'full', 2), { log: false });
  const clientTarget = contenders[1]; // proxy --workers 1: what the bench subcommand is for
  for (const c of clients.slice(1)) await c.run(clientTarget.port, false);

  const samples = new Map(); // key -> [sample]
  const add = (key, s) => {
    if (!samples.has(key)) samples.set(key, []);
    samples.get(key).push(s);
  };
  const measure = async (c, mode, log, resume = false) => {
    const pids = [...c.front(), db.pid];
    const before = sum(pids);
    const frontBefore = sum(c.front());
    const res = await h.runAsync(process.execPath, benchArgs(c.port, mode, DURATION, resume), { log });
    const json = JSON.parse(res.stdout.trim().split('\n').pop());
    const n = Math.max(1, json.connections);
    const key = `${c.name}${mode === 'full' ? '' : ` (${mode})`}${resume ? ' (--resume)' : ''}`;
    const s = {
      rate: json.rate, connections: json.connections, errors: json.errors, p50: json.p50_ms, p99: json.p99_ms,
      serverUs: ((sum(pids) - before) * 1e6) / n,
      frontUs: ((sum(c.front()) - frontBefore) * 1e6) / n,
      clientUs: (json.cpu_s * 1e6) / n,
      resumed: json.resumed,
      tls: `${Object.keys(json.tls_versions).join(',')} ${Object.keys(json.ciphers).join(',')}`,
    };
    add(key, s);
    console.log(`  ${key.padEnd(40)} ${h.fmt(s.rate, 0).padStart(6)} conn/s  p99 ${h.fmt(s.p99, 1)} ms  server CPU ${h.fmt(s.serverUs, 0)} µs/conn (front ${h.fmt(s.frontUs, 0)})  client ${h.fmt(s.clientUs, 0)} µs/conn  errors ${s.errors}`);
    if (mode === 'full' && !resume && c === clientTarget) add('client: bench', { rate: s.rate, clientUs: s.clientUs, errors: s.errors });
  };
  const measureClient = async (client, log) => {
    const res = await client.run(clientTarget.port, log);
    let s;
    if (res.cpuS !== undefined) {
      const events = Number((res.stdout.match(/total number of events:\s+(\d+)/) || [])[1] || 0);
      const errors = Number((res.stdout.match(/errors:\s+(\d+)/) || [])[1] || 0);
      s = { rate: events / DURATION, clientUs: (res.cpuS * 1e6) / Math.max(1, events), errors };
    } else {
      const json = JSON.parse(res.stdout.trim().split('\n').pop());
      s = { rate: json.rate, clientUs: (json.cpu_s * 1e6) / Math.max(1, json.connections), errors: json.errors ?? json.failed ?? 0 };
    }
    add(`client: ${client.name}`, s);
    console.log(`  client ${client.name.padEnd(33)} ${h.fmt(s.rate, 0).padStart(6)} conn/s  client CPU ${h.fmt(s.clientUs, 0)} µs/conn  errors ${s.errors}`);
  };

  const rounds = h.rounds();
  for (let round = 1; round <= rounds; round++) {
    console.log(`-- round ${round}/${rounds} (concurrency ${CONCURRENCY}, ${DURATION} s each)`);
    for (const c of contenders) await measure(c, 'full', round === 1);
    for (const client of clients.slice(1)) await measureClient(client, round === 1);
  }
  if (EXTRAS) {
    for (let round = 1; round <= rounds; round++) for (const c of contenders.slice(0, 2)) await measure(c, 'tls-only', round === 1);
    for (let round = 1; round <= rounds; round++) for (const c of contenders.slice(0, -1)) await measure(c, 'full', round === 1, true);
  }
  for (const p of proxies) await h.stopProcess(p.child);
  await h.stopProcess(floor);

  console.log(`-- CPU per TLS 1.3 handshake alone (no MySQL), openssl s_time -new, ${STIME_SECONDS} s`);
  const sport = await h.freePort();
  const opensslSamples = await handshakeCpu('openssl s_server', sport, rounds, h.startProcess('s_server', 'openssl',
    ['s_server', '-accept', `127.0.0.1:${sport}`, '-cert', certs.cert, '-key', certs.key, '-tls1_3', '-www', '-quiet',
      '-no_ticket']));
  const nport = await h.freePort();
  const nodeSamples = await handshakeCpu('bare Node tls.Server', nport, rounds, h.startProcess('node-tls-floor',
    process.execPath, [require.resolve('./lib/node-tls-floor'), certs.cert, certs.key, String(nport)]));

  report({ samples, rounds, contenders, proxies, workersN, db, m, opensslSamples, nodeSamples });
}

function report({ samples, rounds, contenders, proxies, workersN, db, m, opensslSamples, nodeSamples }) {
  const med = (key, field) => h.median((samples.get(key) || []).map((s) => s[field]));
  const errs = (key) => (samples.get(key) || []).reduce((s, x) => s + x.errors, 0);
  const native = 'MariaDB native TLS';
  const floorKey = contenders.find((c) => c.floor).name;
  const opensslUs = h.median(opensslSamples.map((s) => s.us));
  const nodeUs = h.median(nodeSamples.map((s) => s.us));
  const serverKeys = [...samples.keys()].filter((k) => !k.startsWith('client: '));
  const headers = ['contender', 'conn/s', 'vs native', 'vs floor', 'p50 ms', 'p99 ms', 'server CPU µs/conn', 'CPU vs native',
    'CPU vs floor', 'of which front', 'client CPU µs/conn', 'errors', 'TLS'];
  const rows = serverKeys.map((key) => {
    const diag = key.includes('(');
    return [key, h.fmt(med(key, 'rate'), 0),
      diag ? '-' : `${h.fmt(med(key, 'rate') / med(native, 'rate'), 2)}x`,
      diag ? '-' : `${h.fmt(med(key, 'rate') / med(floorKey, 'rate'), 2)}x`,
      h.fmt(med(key, 'p50'), 2), h.fmt(med(key, 'p99'), 2), h.fmt(med(key, 'serverUs'), 0),
      diag ? '-' : `${h.fmt(med(key, 'serverUs') / med(native, 'serverUs'), 2)}x`,
      diag ? '-' : `${h.fmt(med(key, 'serverUs') / med(floorKey, 'serverUs'), 2)}x`,
      key.startsWith(native) ? '-' : h.fmt(med(key, 'frontUs'), 0), h.fmt(med(key, 'clientUs'), 0), String(errs(key)),
      samples.get(key)[0].tls + (key.includes('--resume') ? `, ${h.fmt((100 * med(key, 'resumed')) / med(key, 'connections'), 0)}% resumed` : '')];
  });
  const handshakeRow = (name, ss, us, note) => [name, `${h.fmt(h.median(ss.map((s) => s.rate)), 0)} (1 at a time)`, '-', '-',
    '-', '-', h.fmt(us, 0), '-', '-', h.fmt(us, 0), '-', '0', note];
  rows.push(handshakeRow('openssl s_server (s_time -new)', opensslSamples, opensslUs, 'TLSv1.3, handshake only'));
  rows.push(handshakeRow('bare Node tls.Server (s_time -new)', nodeSamples, nodeUs, `TLSv1.3, handshake only, ${h.fmt(nodeUs / opensslUs, 2)}x openssl`));
  console.log(`\nconnections, medians of ${rounds} alternating rounds, concurrency ${CONCURRENCY}, ${DURATION} s each, client: mysql-tls-proxy bench --ca`);
  console.log(h.table(headers, rows));

  const clientKeys = [...samples.keys()].filter((k) => k.startsWith('client: '));
  const rawKey = 'client: raw Node MySQL TLS client';
  const sysKey = 'client: sysbench (connect/disconnect)';
  const clientHeaders = ['client (-> proxy --workers 1)', 'conn/s', 'vs raw client', 'client CPU µs/conn', 'sysbench CPU / this', 'errors'];
  const clientRows = clientKeys.map((key) => [key.slice(8), h.fmt(med(key, 'rate'), 0), `${h.fmt(med(key, 'rate') / med(rawKey, 'rate'), 2)}x`,
    h.fmt(med(key, 'clientUs'), 0), `${h.fmt(med(sysKey, 'clientUs') / med(key, 'clientUs'), 2)}x`, String(errs(key))]);
  console.log(`\nclients, same rounds, concurrency ${CONCURRENCY}, full TLS 1.3 connections through the proxy (--workers 1)`);
  console.log(h.table(clientHeaders, clientRows));

  const targets = [];
  for (const p of proxies) {
    const key = `proxy --workers ${p.workers}`;
    const rate = med(key, 'rate') / med(native, 'rate');
    const cpu = med(key, 'serverUs') / med(native, 'serverUs');
    targets.push({
      name: `connection rate >= 1.5x MariaDB native TLS (--workers ${p.workers}${p.workers === workersN ? ', headline' : ''})`,
      value: `${h.fmt(rate, 2)}x (${h.fmt(med(key, 'rate'), 0)} vs ${h.fmt(med(native, 'rate'), 0)} conn/s)`,
      pass: rate >= 1.5 && errs(key) === 0, headline: p.workers === workersN,
    });
    targets.push({
      name: `proxy+MariaDB CPU/conn <= 1.4x MariaDB native TLS (--workers ${p.workers}${p.workers === 1 ? ', headline' : ''})`,
      value: `${h.fmt(cpu, 2)}x (${h.fmt(med(key, 'serverUs'), 0)} vs ${h.fmt(med(native, 'serverUs'), 0)} µs)`,
      pass: cpu <= 1.4, headline: p.workers === 1,
    });
  }
  const proxy1 = 'proxy --workers 1';
  targets.push({
    name: 'proxy+MariaDB CPU/conn vs the floor (bare Node TLS upgrade + relay + MariaDB), <= 1.2x',
    value: `${h.fmt(med(proxy1, 'serverUs') / med(floorKey, 'serverUs'), 2)}x (${h.fmt(med(proxy1, 'serverUs'), 0)} vs ${h.fmt(med(floorKey, 'serverUs'), 0)} µs)`,
    pass: med(proxy1, 'serverUs') / med(floorKey, 'serverUs') <= 1.2, headline: false,
  });
  const benchRate = med('client: bench', 'rate') / med(rawKey, 'rate');
  targets.push({
    name: 'bench conn/s >= 1.0x the minimal raw Node MySQL TLS client (same concurrency)',
    value: `${h.fmt(benchRate, 2)}x (${h.fmt(med('client: bench', 'rate'), 0)} vs ${h.fmt(med(rawKey, 'rate'), 0)} conn/s)`,
    pass: benchRate >= 1.0, headline: true,
  });
  const cheaper = med(sysKey, 'clientUs') / med('client: bench', 'clientUs');
  targets.push({
    name: 'bench client CPU/conn >= 2x cheaper than sysbench',
    value: `${h.fmt(cheaper, 2)}x (${h.fmt(med('client: bench', 'clientUs'), 0)} vs ${h.fmt(med(sysKey, 'clientUs'), 0)} µs)`,
    pass: cheaper >= 2, headline: true,
  });
  for (const t of targets) console.log(`${h.verdict(t.pass).padEnd(7)} ${t.name}: ${t.value}`);
  h.saveResults('1-connect-rate', {
    title: '1. Connections (full TLS 1.3 MySQL connections)',
    machine: m,
    settings: { concurrency: CONCURRENCY, duration: DURATION, rounds, mariadb: db.args },
    samples: Object.fromEntries(samples),
    openssl: opensslSamples,
    nodeTlsFloor: nodeSamples,
    headers,
    rows,
    tables: [{ headers: clientHeaders, rows: clientRows }],
    targets,
  });
}

/** Runs a command under bash's `time`: resolves with its output and its user+system CPU seconds. */
async function timedRun(file, args, { cwd, log }) {
  if (log) h.logCommand(file, args, cwd);
  const res = await h.runAsync('bash', ['-c', 'TIMEFORMAT="cpu %3U %3S"; time "$@" 2>&1', 'timed', file, ...args], { cwd, log: false });
  const m = res.stderr.match(/cpu ([\d.]+) ([\d.]+)/);
  return { ...res, cpuS: m ? Number(m[1]) + Number(m[2]) : NaN };
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
    const us = ((after - before) * 1e6) / Math.max(1, n);
    samples.push({ n, rate, us });
    console.log(`  ${label}: ${n} handshakes, ${h.fmt(rate, 0)}/s sequential, ${h.fmt(us, 0)} µs CPU per handshake`);
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
