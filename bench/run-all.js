#!/usr/bin/env node
'use strict';
/**
 * `npm run bench`: the performance suite. Runs the scenarios one after another (never two at once:
 * they would share the machine's cores), each in its own process with its own throwaway MariaDB,
 * proxies, HAProxy and sysbench, then prints one report: the machine, every scenario's table, the
 * targets with the measured ratios, and the exact commands that were run.
 *
 *   npm run bench                           # all five scenarios (about 10 minutes on 2 cores)
 *   npm run bench -- connect-rate bulk      # a subset, by name
 *   ROUNDS=3 npm run bench                  # more alternating rounds per scenario
 *
 * Each scenario is also a script of its own (bench/connect-rate.js, ...); their headers document
 * the environment variables they read. Exit code: 0 when every scenario ran (targets missed are
 * reported, not failures: the figures are what they are), 1 when a scenario crashed.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./lib/harness');

const SCENARIOS = [
  { name: 'connect-rate', script: 'connect-rate.js', result: '1-connect-rate' },
  { name: 'query-path', script: 'query-path.js', result: '2-query-path' },
  { name: 'bulk', script: 'bulk.js', result: '3-bulk' },
  { name: 'memory', script: 'memory.js', result: '4-memory' },
  { name: 'scale', script: 'scale.js', result: '5-scale' },
];

function main() {
  const wanted = process.argv.slice(2);
  if (wanted.includes('--help') || wanted.includes('-h')) {
    console.log(`usage: npm run bench [-- ${SCENARIOS.map((s) => s.name).join(' ')}]`);
    return 0;
  }
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w));
  if (unknown.length > 0) {
    console.error(`unknown scenario ${unknown.join(', ')}; choose from ${SCENARIOS.map((s) => s.name).join(', ')}`);
    return 2;
  }
  if (!fs.existsSync(h.CLI)) {
    console.error(`${h.CLI} is missing: run npm run build first (npm run bench does)`);
    return 2;
  }
  const missing = ['sysbench', 'haproxy', 'openssl'].filter((tool) => spawnSync(tool, ['-v']).error);
  if (missing.length > 0) {
    console.error(`missing tools: ${missing.join(', ')}; on Debian: apt-get install ${missing.join(' ')} mariadb-server`);
    return 2;
  }
  const chosen = wanted.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => wanted.includes(s.name));
  const resultsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mtp-bench-results-'));
  const machine = h.printMachine();
  const crashed = [];
  const started = Date.now();
  for (const scenario of chosen) {
    console.log(`\n################ ${scenario.name} (node bench/${scenario.script})`);
    const res = spawnSync(process.execPath, [path.join(__dirname, scenario.script)], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_RESULTS_DIR: resultsDir },
    });
    if (res.status !== 0 || !fs.existsSync(path.join(resultsDir, `${scenario.result}.json`))) {
      crashed.push(scenario.name);
    }
  }

  console.log('\n\n================================ mysql-tls-proxy performance report ================================');
  h.printMachine(machine);
  console.log(`suite ran ${((Date.now() - started) / 60000).toFixed(1)} min; every ratio below is from contenders measured alternately in that one run`);
  const allTargets = [];
  for (const scenario of chosen) {
    const file = path.join(resultsDir, `${scenario.result}.json`);
    if (!fs.existsSync(file)) {
      console.log(`\n## ${scenario.name}: did not complete (see its output above)`);
      continue;
    }
    const data = JSON.parse(fs.readFileSync(file, 'utf8'));
    // Scalar settings only: server argument lists and configs are in the commands below.
    const settings = Object.entries(data.settings ?? {})
      .filter(([, v]) => typeof v !== 'object' && !String(v).includes('\n'))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    console.log(`\n## ${data.title}   (node bench/${scenario.script}; ${settings})`);
    if (data.headers && data.rows) console.log(h.table(data.headers, data.rows));
    for (const t of data.targets ?? []) allTargets.push({ scenario: data.title, ...t });
    if (data.commands?.length) {
      console.log('commands:');
      for (const c of data.commands) console.log(`  $ ${c}`);
    }
  }
  console.log('\n## targets (2-core machine; "headline" = the configuration docs/performance.md quotes)');
  console.log(
    h.table(
      ['', 'target', 'measured'],
      allTargets.map((t) => [h.verdict(t.pass), t.name, t.value]),
    ),
  );
  const headline = allTargets.filter((t) => t.headline);
  console.log(`headline targets met: ${headline.filter((t) => t.pass).length} of ${headline.length}`);
  if (crashed.length > 0) console.log(`scenarios that did not complete: ${crashed.join(', ')}`);
  fs.rmSync(resultsDir, { recursive: true, force: true });
  return crashed.length > 0 ? 1 : 0;
}

process.exitCode = main();
