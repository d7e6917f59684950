#!/usr/bin/env node
'use strict';
/**
 * 4. Memory: RSS per idle authenticated TLS connection, as the slope between LOW (1,000) and
 * HIGH (5,000) open connections: (RSS at HIGH - RSS at LOW) / (HIGH - LOW). The proxy's RSS is
 * VmRSS of its processes (primary + workers); MariaDB's own per-connection cost with native TLS is
 * shown for context (mariadbd RSS, pool-of-threads so that idle connections hold no thread), and
 * so is Node's own floor (bench/lib/node-tls-floor.js): a bare tls.Server holding idle TLS 1.3
 * sockets, alone and with each piped to a plain socket as the proxy's database leg is. No Node
 * TLS terminator can go below that floor; the proxy's distance from it is what the proxy adds.
 * Each round starts fresh server processes, so the slope is what connections cost a cold process.
 *
 *   node bench/memory.js      (env: LOW=1000 HIGH=5000 SETTLE_MS=3000 ROUNDS=2)
 */
const h = require('./lib/harness');
const { startHolders } = require('./lib/holders');

const LOW = Number(process.env.LOW || 1000);
const HIGH = Number(process.env.HIGH || 5000);
const SETTLE_MS = Number(process.env.SETTLE_MS || 3000);
const CONCURRENCY = Number(process.env.OPEN_CONCURRENCY || 32);

async function main() {
  console.log(`== 4. memory: RSS per idle authenticated TLS connection, slope ${LOW} -> ${HIGH} connections ==`);
  const m = h.printMachine();
  const certs = h.makeCerts();
  const db = await h.startMariadb({ certs, settings: h.mariadbSettings({ threadHandling: 'pool-of-threads' }) });
  // Every round starts fresh proxy processes: RSS that an earlier round freed but the allocator kept
  // would otherwise absorb new connections and understate what each one costs.
  const workerCounts = m.nproc > 1 ? [1, m.nproc] : [1];
  const proxyName = (workers) => `proxy --workers ${workers}`;
  const contenders = [
    ...workerCounts.map((workers) => ({ name: proxyName(workers), workers })),
    { name: 'MariaDB native TLS (mariadbd RSS, context)', port: db.port, rss: () => h.rssKiB(db.pid) },
    { name: 'bare Node tls.Server, TLS socket only (floor)', floor: 'tls' },
    { name: 'bare Node tls.Server + piped plain leg (floor)', floor: 'piped' },
  ];
  const sinkPort = await h.freePort();
  h.startProcess('tcp-sink', process.execPath, [require.resolve('./lib/tcp-sink'), String(sinkPort)]);
  await h.waitPort(sinkPort);
  const startFloor = async (kind, round) => {
    const port = await h.freePort();
    const args = [require.resolve('./lib/node-tls-floor'), certs.cert, certs.key, String(port), 'hold',
      ...(kind === 'piped' ? [String(sinkPort)] : [])];
    const child = h.startProcess(`node-tls-floor-${kind}-r${round}`, process.execPath, args, { log: round === 1 });
    await h.waitPort(port, child);
    return { child, pid: child.pid, port };
  };
  const rounds = h.rounds();
  const samples = new Map(contenders.map((c) => [c.name, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const c of contenders) {
      let proxy; // a server process this round starts (and stops): the proxy or a floor
      if (c.workers) {
        proxy = await h.startProxy({ certs, backendPort: db.port, workers: c.workers, name: `proxy-w${c.workers}-r${round}` });
      } else if (c.floor) {
        proxy = await startFloor(c.floor, round);
      }
      const port = proxy ? proxy.port : c.port;
      const rss = proxy ? () => h.treeRssKiB(proxy.pid) : c.rss;
      const holders = await startHolders({ port, ca: certs.ca, count: 1, tlsOnly: Boolean(c.floor),
        log: round === 1 && (c === contenders[0] || c.floor === 'tls') });
      const a = await holders.open(LOW, CONCURRENCY);
      await h.sleep(SETTLE_MS);
      const rssLow = rss();
      const b = await holders.open(HIGH - LOW, CONCURRENCY);
      await h.sleep(SETTLE_MS);
      const rssHigh = rss();
      const check = await holders.check(100);
      await holders.close();
      if (proxy) await h.stopProcess(proxy.child);
      const errors = a.errors + b.errors + check.pingErrors + check.dropped;
      const slope = (rssHigh - rssLow) / (HIGH - LOW);
      samples.get(c.name).push({ rssLow, rssHigh, slope, errors, total: b.total });
      console.log(`  round ${round}: ${c.name.padEnd(44)} RSS ${(rssLow / 1024).toFixed(1)} MiB @${LOW} -> ${(rssHigh / 1024).toFixed(1)} MiB @${b.total}: ${slope.toFixed(1)} KiB/conn  errors ${errors}${a.firstError || b.firstError ? ` (${a.firstError || b.firstError})` : ''}`);
      await h.sleep(2000); // let the servers close the sessions before the next contender
    }
  }
  const med = (name, field) => h.median(samples.get(name).map((s) => s[field]));
  const headers = ['contender', `RSS @${LOW} MiB`, `RSS @${HIGH} MiB`, 'KiB per idle conn', 'errors'];
  const rows = contenders.map((c) => [c.name, h.fmt(med(c.name, 'rssLow') / 1024, 1), h.fmt(med(c.name, 'rssHigh') / 1024, 1),
    h.fmt(med(c.name, 'slope'), 1), String(samples.get(c.name).reduce((s, x) => s + x.errors, 0))]);
  console.log(`\nmemory, medians of ${rounds} rounds, settle ${SETTLE_MS} ms before each reading`);
  console.log(h.table(headers, rows));
  const targets = workerCounts.map((workers) => {
    const name = proxyName(workers);
    const headline = workers === m.nproc;
    return { name: `<= 24 KiB RSS per idle TLS connection (--workers ${workers}${headline ? ', headline' : ''})`,
      value: `${h.fmt(med(name, 'slope'), 1)} KiB`, pass: med(name, 'slope') <= 24 && med(name, 'errors') === 0, headline };
  });
  for (const t of targets) console.log(`${h.verdict(t.pass).padEnd(7)} ${t.name}: ${t.value}`);
  h.saveResults('4-memory', { title: '4. Memory', machine: m, settings: { low: LOW, high: HIGH, settleMs: SETTLE_MS, rounds, mariadb: db.args },
    samples: Object.fromEntries(samples), rows, headers, targets });
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  // The throwaway servers keep the event loop alive: exit, and the harness kills them.
  .finally(() => process.exit());
