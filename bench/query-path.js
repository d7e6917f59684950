#!/usr/bin/env node
'use strict';
/**
 * 2. Query path: sysbench oltp_point_select and oltp_read_only, THREADS (default 8) threads, TLS,
 * through the proxy (--workers 1 and --workers nproc) vs MariaDB's native TLS vs HAProxy
 * (mode tcp, nbthread = nproc) passing the same TLS bytes through to MariaDB's native TLS vs the
 * floor of this design, a bare Node relay: TLS upgrade, login relayed, then socket.pipe() both ways
 * (bench/lib/node-mysql-tls-floor.js). QPS, p95/p99 per query event from sysbench's latency
 * histogram, and CPU per query of the front (proxy, HAProxy, relay) and of MariaDB. Contenders alternate.
 *
 *   node bench/query-path.js      (env: THREADS=8 DURATION=10 ROUNDS=2 TABLES=4 TABLE_SIZE=20000)
 */
const h = require('./lib/harness');

const THREADS = Number(process.env.THREADS || 8);
const DURATION = Number(process.env.DURATION || 10);
const TABLES = Number(process.env.TABLES || 4);
const TABLE_SIZE = Number(process.env.TABLE_SIZE || 20000);
const TESTS = (process.env.TESTS || 'oltp_point_select,oltp_read_only').split(',');

/** p-th percentile (0..100) from sysbench's --histogram output. */
function histogramPercentile(text, p) {
  const buckets = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^\s*([\d.]+)\s+\|[*\s]*?\s(\d+)\s*$/);
    if (m) buckets.push([Number(m[1]), Number(m[2])]);
  }
  const total = buckets.reduce((s, [, c]) => s + c, 0);
  if (total === 0) return NaN;
  let seen = 0;
  for (const [value, count] of buckets) {
    seen += count;
    if (seen >= (total * p) / 100) return value;
  }
  return buckets[buckets.length - 1][0];
}

async function main() {
  console.log(`== 2. query path: sysbench ${TESTS.join(', ')}, ${THREADS} threads, TLS ==`);
  const m = h.printMachine();
  const certs = h.makeCerts();
  const db = await h.startMariadb({ certs });
  console.log(`  MariaDB: ${db.vars.replace(/\n/g, '; ').replace(/\t/g, '=')}`);
  const common = ['--db-driver=mysql', '--mysql-host=127.0.0.1', '--mysql-user=app', '--mysql-password=app-secret',
    '--mysql-db=sbtest', `--tables=${TABLES}`, `--table-size=${TABLE_SIZE}`];
  h.run('sysbench', ['oltp_read_only', ...common, `--mysql-port=${db.port}`, '--threads=4', 'prepare'], { cwd: certs.sysbenchDir });

  const proxies = [await h.startProxy({ certs, backendPort: db.port, workers: 1 })];
  if (m.nproc > 1) proxies.push(await h.startProxy({ certs, backendPort: db.port, workers: m.nproc }));
  const haproxy = await h.startHaproxy({ backendPort: db.port, threads: m.nproc });
  const floorPort = await h.freePort();
  const floor = h.startProcess('node-relay-floor', process.execPath,
    [require.resolve('./lib/node-mysql-tls-floor'), certs.cert, certs.key, String(floorPort), String(db.port)]);
  await h.waitPort(floorPort, floor);
  console.log(`  haproxy.cfg:\n${haproxy.config.trimEnd().replace(/^/gm, '    ')}`);

  const contenders = [
    { name: 'MariaDB native TLS', port: db.port, front: () => [] },
    { name: `HAProxy mode tcp (nbthread ${m.nproc}) -> native TLS`, port: haproxy.port, haproxy: true, front: () => [haproxy.pid] },
    ...proxies.map((p) => ({ name: `proxy --workers ${p.workers}`, port: p.port, workers: p.workers, front: () => h.processTree(p.pid) })),
    { name: 'floor: bare Node relay (TLS upgrade + pipe)', port: floorPort, floor: true, front: () => [floor.pid] },
  ];
  const cpu = (pids) => pids.reduce((sum, pid) => sum + h.cpuSeconds(pid), 0);
  const sysbench = (test, port, duration, log) =>
    h.runAsync('sysbench', [test, ...common, `--mysql-port=${port}`, '--mysql-ssl=on', `--threads=${THREADS}`,
      `--time=${duration}`, '--report-interval=0', '--histogram=on', '--percentile=95', 'run'], { cwd: certs.sysbenchDir, log });

  for (const c of contenders) await sysbench('oltp_point_select', c.port, 2, false); // warm up

  const samples = new Map();
  const rounds = h.rounds();
  for (let round = 1; round <= rounds; round++) {
    console.log(`-- round ${round}/${rounds} (${DURATION} s each)`);
    for (const test of TESTS) {
      for (const c of contenders) {
        const front0 = cpu(c.front());
        const db0 = h.cpuSeconds(db.pid);
        const res = await sysbench(test, c.port, DURATION, round === 1);
        const frontS = cpu(c.front()) - front0;
        const dbS = h.cpuSeconds(db.pid) - db0;
        const out = res.stdout;
        const qps = Number((out.match(/queries:\s+\d+\s+\(([\d.]+) per sec/) || [])[1]);
        const tps = Number((out.match(/transactions:\s+\d+\s+\(([\d.]+) per sec/) || [])[1]);
        const errors = Number((out.match(/ignored errors:\s+(\d+)/) || [])[1] || 0);
        const queries = Number((out.match(/queries:\s+(\d+)/) || [])[1] || 0);
        const s = { qps, tps, errors, frontUs: (frontS * 1e6) / Math.max(1, queries), dbUs: (dbS * 1e6) / Math.max(1, queries), p95: histogramPercentile(out, 95), p99: histogramPercentile(out, 99),
          sysbenchP95: Number((out.match(/95th percentile:\s+([\d.]+)/) || [])[1]), ok: res.status === 0 };
        if (!s.ok) console.log(`  sysbench failed (exit ${res.status}): ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        const key = `${test}|${c.name}`;
        if (!samples.has(key)) samples.set(key, []);
        samples.get(key).push(s);
        console.log(`  ${test.padEnd(18)} ${c.name.padEnd(44)} ${h.fmt(qps, 0).padStart(8)} q/s  ${h.fmt(tps, 0).padStart(7)} tx/s  p95 ${h.fmt(s.p95, 2)} ms  p99 ${h.fmt(s.p99, 2)} ms  CPU/query front ${h.fmt(s.frontUs, 1)} µs, MariaDB ${h.fmt(s.dbUs, 1)} µs`);
      }
    }
  }

  const med = (key, field) => h.median((samples.get(key) || []).map((s) => s[field]));
  const headers = ['test', 'contender', 'queries/s', 'tx/s', 'vs HAProxy', 'vs native', 'vs floor', 'p95 ms (per tx)', 'p99 ms (per tx)',
    'front CPU µs/query', 'front CPU vs floor', 'MariaDB CPU µs/query', 'errors'];
  const floorName = contenders.find((c) => c.floor).name;
  const rows = [];
  for (const test of TESTS) {
    const hq = med(`${test}|${contenders[1].name}`, 'qps');
    const nq = med(`${test}|${contenders[0].name}`, 'qps');
    const fq = med(`${test}|${floorName}`, 'qps');
    const fCpu = med(`${test}|${floorName}`, 'frontUs');
    for (const c of contenders) {
      const key = `${test}|${c.name}`;
      rows.push([test, c.name, h.fmt(med(key, 'qps'), 0), h.fmt(med(key, 'tps'), 0), h.fmt(med(key, 'qps') / hq, 2) + 'x',
        h.fmt(med(key, 'qps') / nq, 2) + 'x', h.fmt(med(key, 'qps') / fq, 2) + 'x', h.fmt(med(key, 'p95'), 2), h.fmt(med(key, 'p99'), 2),
        c.front().length ? h.fmt(med(key, 'frontUs'), 1) : '-', c.front().length ? h.fmt(med(key, 'frontUs') / fCpu, 2) + 'x' : '-',
        h.fmt(med(key, 'dbUs'), 1), String(samples.get(key).reduce((s, x) => s + x.errors, 0))]);
    }
  }
  console.log(`\nquery path, medians of ${rounds} alternating rounds, ${THREADS} sysbench threads, ${DURATION} s each, ${TABLES} tables x ${TABLE_SIZE} rows`);
  console.log(h.table(headers, rows));

  const targets = [];
  const hp = 'oltp_point_select|' + contenders[1].name;
  for (const p of proxies) {
    const key = `oltp_point_select|proxy --workers ${p.workers}`;
    const ratio = med(key, 'qps') / med(hp, 'qps');
    const headline = p.workers === m.nproc;
    targets.push({
      name: `point-select QPS >= 1.25x HAProxy, p95 no higher (--workers ${p.workers}${headline ? ', headline' : ''})`,
      value: `${h.fmt(ratio, 2)}x (${h.fmt(med(key, 'qps'), 0)} vs ${h.fmt(med(hp, 'qps'), 0)} q/s), p95 ${h.fmt(med(key, 'p95'), 2)} vs ${h.fmt(med(hp, 'p95'), 2)} ms`,
      pass: ratio >= 1.25 && med(key, 'p95') <= med(hp, 'p95'),
      headline,
    });
  }
  for (const t of targets) console.log(`${h.verdict(t.pass).padEnd(7)} ${t.name}: ${t.value}`);
  h.saveResults('2-query-path', { title: '2. Query path', machine: m, settings: { threads: THREADS, duration: DURATION, rounds, tables: TABLES, tableSize: TABLE_SIZE, haproxy: haproxy.config },
    samples: Object.fromEntries(samples), rows, headers, targets });
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  // The throwaway servers keep the event loop alive: exit, and the harness kills them.
  .finally(() => process.exit());
