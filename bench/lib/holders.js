'use strict';
/** Drives bench/lib/hold-client.js children: open N idle authenticated TLS connections, check, close. */
const { fork } = require('node:child_process');
const path = require('node:path');
const h = require('./harness');

const CLIENT = path.join(__dirname, 'hold-client.js');

function request(child, message, reply) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m.op !== reply) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code) => reject(new Error(`hold client exited (${code})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(message);
  });
}

/** `count` client processes, each holding its share of connections to `port` (bare TLS with `tlsOnly`). */
async function startHolders({ port, ca, count = 1, log = true, tlsOnly = false }) {
  const args = ['--port', String(port), '--ca', ca, ...(tlsOnly ? ['--tls-only'] : [])];
  if (log) h.logCommand(process.execPath, [CLIENT, ...args]);
  const children = [];
  for (let i = 0; i < count; i++) {
    const child = fork(CLIENT, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise((resolve) => child.once('message', resolve));
    children.push(child);
  }
  return {
    /** Opens `total` more connections, split over the clients, `concurrency` in flight per client. */
    async open(total, concurrency) {
      const share = (i) => Math.floor(total / children.length) + (i < total % children.length ? 1 : 0);
      const replies = await Promise.all(children.map((c, i) => request(c, { op: 'open', count: share(i), concurrency }, 'opened')));
      return {
        opened: replies.reduce((s, r) => s + r.opened, 0),
        errors: replies.reduce((s, r) => s + r.errors, 0),
        total: replies.reduce((s, r) => s + r.total, 0),
        ms: Math.max(...replies.map((r) => r.ms)),
        firstError: replies.map((r) => r.firstError).find(Boolean),
      };
    },
    async check(sample) {
      const replies = await Promise.all(children.map((c) => request(c, { op: 'check', sample: Math.ceil(sample / children.length) }, 'checked')));
      return {
        alive: replies.reduce((s, r) => s + r.alive, 0),
        pinged: replies.reduce((s, r) => s + r.pinged, 0),
        pingErrors: replies.reduce((s, r) => s + r.pingErrors, 0),
        dropped: replies.reduce((s, r) => s + r.dropped, 0),
      };
    },
    async close() {
      await Promise.all(children.map((c) => new Promise((resolve) => {
        if (c.exitCode !== null) return resolve();
        c.once('exit', resolve);
        c.send({ op: 'close' });
      })));
    },
  };
}

module.exports = { startHolders };
