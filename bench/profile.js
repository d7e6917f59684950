#!/usr/bin/env node
'use strict';
/**
 * Where the proxy spends its CPU: starts a throwaway MariaDB and one proxy (--workers 1) under
 * `node --cpu-prof` (and, with PERF=1, `perf record` on it), drives a load through it, stops the
 * proxy cleanly so the profile is written, and prints self time by function and by area
 * (V8/JS, TLS, sockets, GC, ...). Not part of `npm run bench`.
 *
 *   node bench/profile.js connect        # full TLS 1.3 MySQL connections (bench subcommand, CONCURRENCY=8)
 *   node bench/profile.js point-select   # sysbench oltp_point_select, 8 threads, TLS
 *   (env: DURATION=10 PERF=1 TOP=30 PROXY_ARGS='--log-level info' FRONT=floor)
 */
const fs = require('node:fs');
const path = require('node:path');
const h = require('./lib/harness');

const SCENARIO = process.argv[2] || 'connect';
const DURATION = Number(process.env.DURATION || 10);
const TOP = Number(process.env.TOP || 30);

function summarize(file) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const n = nodes.get(id);
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'}  ${f.url ? path.basename(f.url) + ':' + (f.lineNumber + 1) : ''}`;
    const us = dt[i] || 0;
    total += us;
    self.set(key, (self.get(key) || 0) + us);
  });
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  console.log(`\nself time, top ${TOP} of ${(total / 1000).toFixed(0)} ms sampled (${file})`);
  console.log(h.table(['function', 'ms', '%'], rows.map(([k, us]) => [k, (us / 1000).toFixed(1), ((100 * us) / total).toFixed(1)])));
  // inclusive time of a few interesting entry points
  const children = new Map(profile.nodes.map((n) => [n.id, n.children || []]));
  const selfById = new Map();
  profile.samples.forEach((id, i) => selfById.set(id, (selfById.get(id) || 0) + (dt[i] || 0)));
  const inclusive = (id) => (selfById.get(id) || 0) + children.get(id).reduce((s, c) => s + inclusive(c), 0);
  const byName = new Map();
  for (const n of profile.nodes) {
    const name = n.callFrame.functionName;
    if (!name) continue;
    byName.set(name, (byName.get(name) || 0) + inclusive(n.id));
  }
  const interesting = ['onClientData', 'onBackendData', 'feed', 'handle', 'apply', 'upgrade', 'onTlsSecure', 'establish',
    'maybeFinish', 'dialBackend', 'start', 'onconnection', 'onhandshakedone', 'onnewsession', 'ondata', 'onStreamRead',
    'write', 'writeGeneric', 'connect', 'info', 'inc', 'observe', 'recordEnd', '_finishInit', 'ssl_onhandshakedone',
    'createSecureContext', 'TLSSocket', 'Socket', 'destroy', 'end', 'emit', 'pipe', 'setNoDelay', 'setKeepAlive', '(garbage collector)', '(program)', '(idle)'];
  console.log('\ninclusive time of selected functions (recursion counted once per frame; indicative)');
  console.log(h.table(['function', 'ms', '%'], interesting.filter((n) => byName.has(n)).map((n) => [n, (byName.get(n) / 1000).toFixed(1), ((100 * byName.get(n)) / total).toFixed(1)])));
}

async function main() {
  h.printMachine();
  const certs = h.makeCerts();
  const db = await h.startMariadb({ certs });
  const profDir = path.join(h.tmp(), 'cpuprof');
  fs.mkdirSync(profDir, { recursive: true });
  const port = await h.freePort();
  const nodeFlags = ['--cpu-prof', '--cpu-prof-dir', profDir, ...(process.env.PERF === '1' ? ['--perf-basic-prof'] : [])];
  // FRONT=floor profiles bench/lib/node-mysql-tls-floor.js (the design's floor) instead of the proxy.
  const frontArgs = process.env.FRONT === 'floor'
    ? [require.resolve('./lib/node-mysql-tls-floor'), certs.cert, certs.key, String(port), String(db.port)]
    : [h.CLI, 'serve', '--listen', `127.0.0.1:${port}`, '--backend', `127.0.0.1:${db.port}`, '--cert', certs.cert, '--key',
      certs.key, '--ca-file', certs.ca, '--status', 'off', '--log-level', 'warn', '--drain-timeout', '1000',
      ...(process.env.PROXY_ARGS ? process.env.PROXY_ARGS.split(' ') : [])];
  const proxy = h.startProcess('proxy-prof', process.execPath, [...nodeFlags, ...frontArgs], { cwd: h.tmp() });
  await h.waitPort(port, proxy);
  let perf;
  if (process.env.PERF === '1') {
    perf = h.startProcess('perf', 'perf', ['record', '-F', '499', '-g', '-p', String(proxy.pid), '-o', path.join(h.tmp(), 'perf.data')]);
  }
  const cpu0 = h.cpuSeconds(proxy.pid);
  let work = 0;
  if (SCENARIO === 'connect') {
    const res = await h.runAsync(process.execPath, [h.CLI, 'bench', '--target', `127.0.0.1:${port}`, '--user', 'app', '--password',
      'app-secret', '--ca', certs.ca, '--tls-version', 'TLSv1.3', '--concurrency', process.env.CONCURRENCY || '8', '--duration', String(DURATION), '--json']);
    const json = JSON.parse(res.stdout.trim().split('\n').pop());
    work = json.connections;
    console.log(`${json.connections} connections, ${json.rate} conn/s`);
  } else {
    const common = ['--db-driver=mysql', '--mysql-host=127.0.0.1', '--mysql-user=app', '--mysql-password=app-secret',
      '--mysql-db=sbtest', '--tables=4', '--table-size=20000'];
    h.run('sysbench', ['oltp_point_select', ...common, `--mysql-port=${db.port}`, '--threads=4', 'prepare'], { cwd: certs.sysbenchDir });
    const res = await h.runAsync('sysbench', ['oltp_point_select', ...common, `--mysql-port=${port}`, '--mysql-ssl=on', '--threads=8',
      `--time=${DURATION}`, 'run'], { cwd: certs.sysbenchDir });
    work = Number((res.stdout.match(/queries:\s+(\d+)/) || [])[1]);
    console.log(`${work} queries, ${(res.stdout.match(/queries:.*\(([\d.]+) per sec/) || [])[1]} q/s`);
  }
  const cpu = h.cpuSeconds(proxy.pid) - cpu0;
  console.log(`proxy CPU ${cpu.toFixed(2)} s = ${((cpu * 1e6) / work).toFixed(1)} us per ${SCENARIO === 'connect' ? 'connection' : 'query'}`);
  if (perf) {
    process.kill(perf.pid, 'SIGINT');
    await new Promise((r) => perf.once('exit', r));
  }
  process.kill(proxy.pid, 'SIGINT');
  await new Promise((r) => proxy.once('exit', r));
  const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (file) summarize(path.join(profDir, file));
  if (perf) {
    const rep = h.run('perf', ['report', '-i', path.join(h.tmp(), 'perf.data'), '--no-children', '--sort', 'dso', '--stdio'], { log: false, allowFail: true });
    console.log('\nperf, by shared object:\n' + rep.stdout.split('\n').filter((l) => l && !l.startsWith('#')).slice(0, 15).join('\n'));
    const sym = h.run('perf', ['report', '-i', path.join(h.tmp(), 'perf.data'), '--no-children', '--sort', 'dso,sym', '--stdio', '-g', 'none'], { log: false, allowFail: true });
    console.log('\nperf, top symbols:\n' + sym.stdout.split('\n').filter((l) => l && !l.startsWith('#')).slice(0, TOP).join('\n'));
  }
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  // The throwaway servers keep the event loop alive: exit, and the harness kills them.
  .finally(() => process.exit());
