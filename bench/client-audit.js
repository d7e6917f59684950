#!/usr/bin/env node
'use strict';
/**
 * The TLS adoption audit's top-k (src/observability/client-audit.ts) under load: what one login
 * costs to record, with few keys and with every login a new key (a scan, the adversarial case),
 * what the memory holds after a million distinct logins, and what a /clients read costs.
 *
 *   npm run build && node bench/client-audit.js
 *
 * Prints figures; no targets. LOGINS (default 1000000) sets the stream length. Run with
 * node --expose-gc for heap figures after collection.
 */
const { ClientAudit, DEFAULT_CLIENT_AUDIT } = require('../dist/observability/client-audit');

const LOGINS = Number(process.env.LOGINS ?? 1_000_000);
const T0 = Date.UTC(2026, 0, 1);
const SPAN_MS = DEFAULT_CLIENT_AUDIT.bucketMs * DEFAULT_CLIENT_AUDIT.buckets;

function heapMiB() {
  global.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

function run(name, loginAt, logins = LOGINS) {
  const before = heapMiB();
  const audit = new ClientAudit();
  const started = process.hrtime.bigint();
  for (let i = 0; i < logins; i++) audit.record(loginAt(i), T0 + Math.floor((i / logins) * SPAN_MS));
  const ns = Number(process.hrtime.bigint() - started) / logins;
  // A /clients read: the median of 21 (the first ones pay for compilation).
  const reads = [];
  let report;
  for (let r = 0; r < 21; r++) {
    const readStarted = process.hrtime.bigint();
    report = audit.report(T0 + SPAN_MS - 1, 50);
    reads.push(Number(process.hrtime.bigint() - readStarted) / 1e6);
  }
  const readMs = reads.sort((a, b) => a - b)[10];
  const heap = heapMiB() - before;
  console.log(
    `${name.padEnd(34)} ${ns.toFixed(0).padStart(6)} ns/login  counters ${String(audit.size).padStart(5)}` +
      `  heap +${heap.toFixed(1)} MiB  report ${readMs.toFixed(1)} ms  exact ${report.exact}`,
  );
  return audit;
}

console.log(
  `node ${process.version}, ${LOGINS} logins over one window (${DEFAULT_CLIENT_AUDIT.buckets} x ` +
    `${DEFAULT_CLIENT_AUDIT.bucketMs / 1000} s buckets, capacity ${DEFAULT_CLIENT_AUDIT.capacity})`,
);
const few = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => ({
  user: `app${n}`,
  address: `10.0.0.${n}`,
  transport: n % 4 === 0 ? 'plain' : 'tls',
  tlsVersion: n % 2 ? 'TLSv1.3' : 'TLSv1.2',
}));
run('8 clients', (i) => few[i % few.length]);
run('every login a new key (scan)', (i) => ({
  user: `u${i}`,
  address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  transport: 'plain',
}));
// A client may send a user name as long as a packet; the audit keeps 96 characters of it.
const LONG = 'x'.repeat(64 * 1024);
run('scan, 64 KiB user names (20 000)', (i) => ({ user: `${i}${LONG}`, address: '10.0.0.1', transport: 'plain' }), 20_000);
