#!/usr/bin/env node
'use strict';
/**
 * 5. Scale: HOLD (10,000) concurrent idle authenticated TLS connections held through the proxy
 * (and so 10,000 backend connections: MariaDB runs pool-of-threads), then the full-connection
 * latency (TCP, greeting, TLS 1.3, login, COM_QUIT) while BURST (1,000) clients connect at once
 * (`bench --concurrency 1000 --connections 1000`). Finally a sample of the held connections runs
 * SELECT 1 and every held connection must still be open. A burst straight at MariaDB's native TLS
 * (also holding the 10,000 backend connections) is shown for context.
 *
 * The proxy holds two sockets per session: one process needs 2 x HOLD + headroom file
 * descriptors; with a lower hard `ulimit -n` only --workers nproc is run (and that is printed).
 *
 *   node bench/scale.js       (env: HOLD=10000 BURST=1000 ROUNDS=2)
 */
const h = require('./lib/harness');
const { startHolders } = require('./lib/holders');

const HOLD = Number(process.env.HOLD || 10_000);
const BURST = Number(process.env.BURST || 1000);
const OPEN_CONCURRENCY = Number(process.env.OPEN_CONCURRENCY || 64);

async function main() {
  console.log(`== 5. scale: ${HOLD} idle TLS connections held; full-connection p99 while ${BURST} clients connect at once ==`);
  const m = h.printMachine();
  const certs = h.makeCerts();
  const db = await h.startMariadb({ certs, settings: h.mariadbSettings({ threadHandling: 'pool-of-threads', maxConnections: HOLD + BURST + 1000 }) });
  console.log(`  MariaDB: ${db.vars.replace(/\n/g, '; ').replace(/\t/g, '=')}`);
  const needFds = 2 * (HOLD + BURST) + 200;
  const workerOptions = [];
  if (m.nofile.hard >= needFds) workerOptions.push(1);
  else console.log(`  --workers 1 skipped: one process would need ~${needFds} file descriptors, the hard limit is ${m.nofile.hard}`);
  if (m.nproc > 1) workerOptions.push(m.nproc);

  const rows = [];
  const targets = [];
  const results = {};
  for (const workers of workerOptions) {
    const proxy = await h.startProxy({ certs, backendPort: db.port, workers });
    const name = `proxy --workers ${workers}`;
    const holders = await startHolders({ port: proxy.port, ca: certs.ca, count: 2 });
    const opened = await holders.open(HOLD, OPEN_CONCURRENCY);
    await h.sleep(2000);
    const rss = h.treeRssKiB(proxy.pid);
    const fds = h.processTree(proxy.pid).reduce((s, p) => s + h.openFds(p), 0);
    console.log(`  ${name}: ${opened.total} held (${opened.errors} errors${opened.firstError ? `: ${opened.firstError}` : ''}), opened in ${(opened.ms / 1000).toFixed(1)} s; proxy RSS ${(rss / 1024).toFixed(0)} MiB, ${fds} fds`);
    const bursts = { proxy: [], native: [] };
    const burst = async (port, log) => {
      const res = await h.runAsync(process.execPath, [h.CLI, 'bench', '--target', `127.0.0.1:${port}`, '--user', 'app', '--password',
        'app-secret', '--ca', certs.ca, '--tls-version', 'TLSv1.3', '--concurrency', String(BURST), '--connections', String(BURST),
        '--timeout', '30000', '--json'], { log });
      return JSON.parse(res.stdout.trim().split('\n').pop());
    };
    const rounds = h.rounds();
    for (let round = 1; round <= rounds; round++) {
      for (const [kind, port] of [['proxy', proxy.port], ['native', db.port]]) {
        const r = await burst(port, round === 1);
        bursts[kind].push(r);
        console.log(`  round ${round}: burst of ${BURST} -> ${kind === 'proxy' ? name : 'MariaDB native TLS'}: ${r.connections} ok, ${r.errors} errors, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, max ${r.max_ms} ms`);
        await h.sleep(1000);
      }
    }
    const check = await holders.check(500);
    console.log(`  after the bursts: ${check.alive} of ${opened.total} held connections open, ${check.pinged} answered SELECT 1, ${check.pingErrors} ping errors, ${check.dropped} dropped`);
    await holders.close();
    await h.stopProcess(proxy.child);
    await h.sleep(2000);
    const med = (list, f) => h.median(list.map((x) => x[f]));
    const burstErrors = bursts.proxy.reduce((s, r) => s + r.errors, 0);
    rows.push([name, `${opened.total}`, String(opened.errors + check.dropped + check.pingErrors), h.fmt(opened.ms / 1000, 1),
      h.fmt(rss / 1024, 0), String(fds), h.fmt(med(bursts.proxy, 'p50_ms'), 1), h.fmt(med(bursts.proxy, 'p99_ms'), 1),
      h.fmt(med(bursts.proxy, 'max_ms'), 1), String(burstErrors)]);
    rows.push([`  MariaDB native TLS (context, ${HOLD} backend conns open)`, '-', '-', '-', '-', '-', h.fmt(med(bursts.native, 'p50_ms'), 1),
      h.fmt(med(bursts.native, 'p99_ms'), 1), h.fmt(med(bursts.native, 'max_ms'), 1), String(bursts.native.reduce((s, r) => s + r.errors, 0))]);
    results[name] = { opened, rss, fds, bursts, check };
    const headline = workers === m.nproc;
    targets.push({
      name: `${HOLD} connections held with no errors (--workers ${workers}${headline ? ', headline' : ''})`,
      value: `${check.alive}/${HOLD} held, ${opened.errors} open errors, ${check.dropped} dropped, ${check.pingErrors} ping errors, ${burstErrors} burst errors; burst p99 ${h.fmt(med(bursts.proxy, 'p99_ms'), 1)} ms`,
      pass: opened.total === HOLD && opened.errors === 0 && check.dropped === 0 && check.pingErrors === 0 && check.alive === HOLD && burstErrors === 0,
      headline,
    });
  }
  const headers = ['contender', 'held', 'errors', 'open s', 'proxy RSS MiB', 'proxy fds', `burst ${BURST} p50 ms`, 'p99 ms', 'max ms', 'burst errors'];
  console.log(`\nscale: ${HOLD} held through the proxy, bursts of ${BURST} at once (median of ${h.rounds()})`);
  console.log(h.table(headers, rows));
  for (const t of targets) console.log(`${h.verdict(t.pass).padEnd(7)} ${t.name}: ${t.value}`);
  h.saveResults('5-scale', { title: '5. Scale', machine: m, settings: { hold: HOLD, burst: BURST, mariadb: db.args }, results, rows, headers, targets });
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  // The throwaway servers keep the event loop alive: exit, and the harness kills them.
  .finally(() => process.exit());
