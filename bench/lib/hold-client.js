'use strict';
/**
 * A child process (forked by bench/memory.js and bench/scale.js) that opens authenticated MySQL
 * TLS connections and keeps them open, idle. One shared SecureContext, the project's raw client.
 * Driven over IPC:
 *   { op: 'open', count, concurrency }  -> { op: 'opened', opened, errors, total, ms, firstError }
 *   { op: 'check', sample }             -> { op: 'checked', alive, pinged, pingErrors, dropped }
 *   { op: 'close' }                     -> exits
 * Argv: --port P --ca FILE [--tls-only]
 * --tls-only holds bare TLS connections (no MySQL), for bench/lib/node-tls-floor.js in hold mode.
 */
const fs = require('node:fs');
const tls = require('node:tls');
const path = require('node:path');
const { connectMysql } = require(path.join(__dirname, '..', '..', 'dist', 'client', 'mysql-client.js'));

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const port = Number(arg('port'));
const secureContext = tls.createSecureContext({ ca: fs.readFileSync(arg('ca')), minVersion: 'TLSv1.3' });
const tlsOnly = process.argv.includes('--tls-only');
const held = [];

/** A bare TLS connection shaped like connectMysql()'s result, as far as this file uses it. */
function connectTls() {
  return new Promise((resolve, reject) => {
    const tlsSocket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', secureContext });
    tlsSocket.once('secureConnect', () => {
      tlsSocket.off('error', reject);
      tlsSocket.on('error', () => undefined);
      resolve({
        tlsSocket,
        // the check's "ping": a write the live connection accepts (the floor answers nothing)
        query: () => new Promise((done, fail) => tlsSocket.write('ping', (error) => (error ? fail(error) : done()))),
        destroy: () => tlsSocket.destroy(),
      });
    });
    tlsSocket.once('error', reject);
  });
}
let dropped = 0;

async function open(count, concurrency) {
  const started = Date.now();
  let next = 0;
  let opened = 0;
  let errors = 0;
  let firstError;
  const worker = async () => {
    while (next < count) {
      next++;
      try {
        const conn = tlsOnly ? await connectTls() : await connectMysql({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', secureContext,
          rejectUnauthorized: true, timeoutMs: 60_000 });
        conn.tlsSocket.once('close', () => {
          conn.closed = true;
          dropped++;
        });
        held.push(conn);
        opened++;
      } catch (error) {
        errors++;
        firstError ??= String(error.message || error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { op: 'opened', opened, errors, total: held.length, ms: Date.now() - started, firstError };
}

async function check(sample) {
  const alive = held.filter((c) => !c.closed);
  const step = Math.max(1, Math.floor(alive.length / sample));
  let pinged = 0;
  let pingErrors = 0;
  for (let i = 0; i < alive.length; i += step) {
    try {
      await alive[i].query('SELECT 1');
      pinged++;
    } catch {
      pingErrors++;
    }
  }
  return { op: 'checked', alive: alive.length, pinged, pingErrors, dropped };
}

process.on('message', async (msg) => {
  if (msg.op === 'open') process.send(await open(msg.count, msg.concurrency));
  else if (msg.op === 'check') process.send(await check(msg.sample));
  else if (msg.op === 'close') {
    for (const c of held) c.destroy();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ op: 'ready' });
