#!/usr/bin/env node
/**
 * Soak: minutes of mixed good and hostile traffic through the built proxy in front of a throwaway
 * MariaDB, then a reckoning: was anything lost, leaked or crashed?
 *
 *   npm run soak                     # 3 minutes (builds first)
 *   npm run soak -- --minutes 10
 *
 * Traffic, all at once, in bounded loops:
 *   good      TLS 1.3, TLS 1.2 and plaintext logins with queries (now and then a 200 kB result), COM_QUIT
 *   hostile   wrong passwords, TLS 1.0 attempts, garbage bytes (HTTP, direct TLS, before the greeting),
 *             idle sockets that never send (rotating, plus a burst of 300 at 30 %),
 *             clients that give up at every handshake stage
 *   fault     the database is SIGKILLed at 50 % and restarted
 *
 * At the end every client outcome must be one its kind allows (outage errors only while the
 * database was down), and the proxy's own counts must match the clients' (sessions, logins, failed
 * passwords, refusals, TLS handshakes); open sessions and database sessions back to 0; proxy fds
 * and heap back near the warm-up baseline; the proxy the same process, silent on stderr, no log
 * line at level error/fatal; no unhandled error here. Exit code 0 only if all of that holds.
 *
 * Reuses the integration-test harness (test/helpers/mariadb.ts, proxy.ts, transpiled on the fly
 * like test/fixtures/capture.js does) and the bench client (dist/client/mysql-client.js).
 */
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const tls = require('node:tls');

const ROOT = path.resolve(__dirname, '..');

// ---- unhandled errors count as a failure -------------------------------------------------------

const unhandled = [];
process.on('unhandledRejection', (error) => unhandled.push(`unhandledRejection: ${error?.stack ?? error}`));
process.on('uncaughtException', (error) => unhandled.push(`uncaughtException: ${error?.stack ?? error}`));

// ---- the TypeScript harness, without ts-node -----------------------------------------------------

require(path.join(ROOT, 'test', 'helpers', 'register-typescript.js'));
const { startMariaDb, TEST_USERS } = require(path.join(ROOT, 'test', 'helpers', 'mariadb.ts'));
const { startProxy } = require(path.join(ROOT, 'test', 'helpers', 'proxy.ts'));
const { readPacketOrClose } = require(path.join(ROOT, 'test', 'helpers', 'clients.ts'));
const { MysqlConnection } = require(path.join(ROOT, 'dist', 'client', 'mysql-client.js'));
const { encodeHandshakeResponse, encodePacket } = require(path.join(ROOT, 'dist', 'protocol', 'index.js'));

// ---- arguments ---------------------------------------------------------------------------------

function parseArgs(argv) {
  const args = { minutes: 3 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--minutes') args.minutes = Number(argv[++i]);
    else if (argv[i] === '--help' || argv[i] === '-h') {
      process.stdout.write('usage: npm run soak -- [--minutes N]   (default 3)\n');
      process.exit(0);
    } else {
      process.stderr.write(`unknown argument ${argv[i]}\n`);
      process.exit(2);
    }
  }
  if (!(args.minutes > 0)) {
    process.stderr.write('--minutes must be a positive number\n');
    process.exit(2);
  }
  return args;
}

// ---- small helpers -----------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => performance.now();
const HANDSHAKE_TIMEOUT_MS = 3_000;
const CLIENT_TIMEOUT_MS = 10_000;
const { user, password } = TEST_USERS.native;

/** Every sample of `name` whose labels include `labels`, summed. */
function sum(text, name, labels = {}) {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(\{(.*)\})? (.+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = {};
    for (const pair of (match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)) present[pair[1]] = pair[2];
    if (Object.entries(labels).every(([k, v]) => present[k] === v)) total += Number(match[4]);
  }
  return total;
}
const P = 'mysql_tls_proxy_';

/** Reads one MySQL packet; resolves undefined when the socket closes first. */
const readPacket = (socket, timeoutMs = CLIENT_TIMEOUT_MS) => readPacketOrClose(socket, timeoutMs);

function connectRaw(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

function closedWithin(socket, ms) {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.resume();
  });
}

const errCode = (packet) =>
  packet && packet.payload[0] === 0xff ? packet.payload.readUInt16LE(1) : undefined;

const SSL_REQUEST = (() => {
  const payload = Buffer.alloc(32);
  payload.writeUInt32LE(0x000aa285 | 0x800, 0);
  payload.writeUInt32LE(1 << 24, 4);
  payload[8] = 45;
  return Buffer.concat([Buffer.from([32, 0, 0, 1]), payload]);
})();

// ---- bookkeeping -------------------------------------------------------------------------------

class Tally {
  constructor() {
    this.kinds = new Map();
    this.tcp = 0; // TCP connections opened to the proxy
    this.sslRequests = 0; // of which sent an SSLRequest (the proxy starts TLS on each)
    this.sslRequestsOutsideOutage = 0;
    this.logins = 0; // logins that got OK
    this.accessDenied = 0; // ERR 1045 seen by a client
    this.abandonedWrongLogins = 0; // wrong-password logins sent by clients that left without the answer
    this.handshakeTimeouts = 0; // ERR 1043 "did not complete" seen by idle clients
    this.badPackets = 0; // ERR 1043 for garbage
    this.tls10 = 0; // TLS 1.0 handshakes refused
    this.outageFailuresAfterAuth = 0; // failures during the outage that may hide an OK the proxy counted
    this.slowestOutageFailureMs = 0;
  }
  kind(name) {
    if (!this.kinds.has(name))
      this.kinds.set(name, { attempts: 0, ok: 0, outage: 0, unexpected: 0, examples: [] });
    return this.kinds.get(name);
  }
}

// ---- main --------------------------------------------------------------------------------------

async function main() {
  const { minutes } = parseArgs(process.argv.slice(2));
  const durationMs = minutes * 60_000;
  const started = new Date();
  console.log(`soak: ${minutes} min of mixed traffic; starting MariaDB and the proxy ...`);

  const db = await startMariaDb({ extraArgs: ['--max-connections=3000', '--connect-timeout=60'] });
  let proxy;
  let stderr = '';
  const cleanup = async () => {
    await proxy?.stop().catch(() => undefined);
    await db.destroy().catch(() => undefined);
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    proxy = await startProxy({
      backendPort: db.port,
      args: ['--handshake-timeout', String(HANDSHAKE_TIMEOUT_MS), '--backend-probe-interval', '1000'],
    });
    proxy.child.stderr.on('data', (chunk) => (stderr += chunk));
    const pid = proxy.child.pid;
    const ca = fs.readFileSync(proxy.caFile);
    const contexts = {
      tls13: tls.createSecureContext({ ca, minVersion: 'TLSv1.3' }),
      tls12: tls.createSecureContext({ ca, maxVersion: 'TLSv1.2' }),
      tls10: tls.createSecureContext({
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1',
        ciphers: 'DEFAULT:@SECLEVEL=0',
      }),
    };
    const clientHello = await captureClientHello(ca);
    const sessions = async () =>
      Number(
        await db.sql(
          "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND COMMAND <> 'Daemon'",
        ),
      );
    const snapshot = async () => {
      const text = await proxy.metricsText();
      return {
        fds: fs.readdirSync(`/proc/${pid}/fd`).length,
        heap: sum(text, 'nodejs_heap_size_used_bytes'),
        rss: sum(text, 'process_resident_memory_bytes'),
        active: sum(text, `${P}connections_active`),
      };
    };
    const settle = async (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = await snapshot();
        const open = await sessions();
        if ((s.active === 0 && open === 0) || Date.now() > deadline) return { ...s, dbSessions: open };
        await sleep(250);
      }
    };

    // ---- warm-up and baseline ----
    const t = new Tally();
    const login = (options) => {
      t.tcp++;
      return MysqlConnection.connect({
        host: '127.0.0.1',
        port: proxy.port,
        user,
        password,
        serverName: 'localhost',
        rejectUnauthorized: true,
        timeoutMs: CLIENT_TIMEOUT_MS,
        ...options,
      });
    };
    for (let i = 0; i < 200; i++) {
      const conn = await login({ secureContext: i % 2 ? contexts.tls13 : contexts.tls12 });
      t.sslRequests++;
      t.sslRequestsOutsideOutage++;
      t.logins++;
      await conn.query('SELECT 1');
      await conn.quit();
    }
    await sleep(6_000); // the linger of closed sockets (end-socket.ts)
    const baseline = await settle(10_000);
    console.log(
      `baseline after warm-up: fds ${baseline.fds}, heap used ${mib(baseline.heap)} MiB, rss ${mib(baseline.rss)} MiB`,
    );

    // ---- traffic ----
    const t0 = now();
    const deadline = t0 + durationMs;
    const running = () => now() < deadline;
    const outage = { from: Infinity, to: Infinity };
    const inOutage = (from, to) => from <= outage.to + 1_000 && to >= outage.from;

    /** Runs one attempt of a kind and files its outcome. `attempt` returns undefined for success or a failure description. */
    const record = async (kindName, attempt) => {
      const k = t.kind(kindName);
      k.attempts++;
      const from = now();
      let failure;
      try {
        failure = await attempt();
      } catch (error) {
        failure = {
          what: `${error.kind ?? 'exception'}${error.code ? ` ${error.code}` : ''} at ${error.stage ?? '?'}: ${error.message}`,
          outageKind: isOutageError(error),
          afterAuth: error.stage === 'auth' || error.stage === 'query' || error.stage === 'quit',
          hung: error.kind === 'timeout' || /ETIMEDOUT/.test(error.message),
        };
      }
      const to = now();
      if (!failure) return void k.ok++;
      if (inOutage(from, to) && failure.outageKind && !failure.hung) {
        k.outage++;
        if (failure.afterAuth) t.outageFailuresAfterAuth++;
        t.slowestOutageFailureMs = Math.max(t.slowestOutageFailureMs, to - Math.max(from, outage.from));
        return;
      }
      k.unexpected++;
      if (k.examples.length < 5) k.examples.push(`${failure.what} (${Math.round(to - from)} ms)`);
    };

    const tlsLogin = async (context, { queries = 2, big = false, wrongPassword = false } = {}) => {
      const from = now();
      let conn;
      try {
        conn = await login({
          secureContext: context,
          password: wrongPassword ? 'not-the-password' : password,
        });
      } catch (error) {
        if (['tls', 'auth', 'query', 'quit'].includes(error.stage)) countSsl(from);
        if (wrongPassword && error.kind === 'mysql_err' && error.code === 1045) {
          t.accessDenied++;
          return undefined;
        }
        throw error;
      }
      countSsl(from);
      t.logins++;
      if (wrongPassword) {
        conn.destroy();
        return { what: 'a wrong password was accepted' };
      }
      for (let i = 0; i < queries; i++) {
        const result = await conn.query('SELECT CONNECTION_ID(), @@version');
        if (result.rows.length !== 1) return { what: 'wrong result' };
      }
      if (big) {
        const result = await conn.query("SELECT REPEAT('x', 200000) AS big");
        if (result.rows[0][0].length !== 200000) return { what: 'truncated result' };
      }
      await conn.quit();
      return undefined;
    };
    const countSsl = (from) => {
      t.sslRequests++;
      if (!inOutage(from, now())) t.sslRequestsOutsideOutage++;
    };

    const loop = async (kindName, pauseMs, attempt) => {
      let i = 0;
      while (running()) {
        await record(kindName, () => attempt(i++));
        if (pauseMs) await sleep(pauseMs);
      }
    };

    const plainLogin = async () => {
      const conn = await login({ tls: false });
      t.logins++;
      await conn.query('SELECT 1');
      await conn.quit();
      return undefined;
    };

    const tls10 = async () => {
      const from = now();
      try {
        const conn = await login({ secureContext: contexts.tls10 });
        conn.destroy();
        return { what: 'TLS 1.0 was accepted' };
      } catch (error) {
        if (error.stage === 'tls') {
          countSsl(from);
          if (error.kind === 'tls_alert' || error.kind === 'closed') {
            t.tls10++;
            return undefined;
          }
        }
        throw error;
      }
    };

    const GARBAGE = [
      Buffer.from('GET / HTTP/1.1\r\nHost: db\r\n\r\n'), // after the greeting
      clientHello, // TLS without the SSLRequest
    ];
    const garbage = async (i) => {
      t.tcp++;
      const socket = await connectRaw(proxy.port);
      try {
        const early = i % 3 === 2; // before the greeting arrives
        if (early) socket.write(GARBAGE[0]);
        const greeting = await readPacket(socket);
        if (errCode(greeting) !== undefined) return outageOr(greeting, 'ERR instead of a greeting');
        if (!early) socket.write(GARBAGE[i % 2]);
        const answer = await readPacket(socket);
        if (errCode(answer) === 1043) {
          t.badPackets++;
          if (!(await closedWithin(socket, 6_000))) return { what: 'not closed after ERR 1043' };
          return undefined;
        }
        return outageOr(answer, `expected ERR 1043, got ${describe(answer)}`);
      } finally {
        socket.destroy();
      }
    };

    const idle = async () => {
      t.tcp++;
      const socket = await connectRaw(proxy.port);
      try {
        const greeting = await readPacket(socket);
        if (errCode(greeting) !== undefined) return outageOr(greeting, 'ERR instead of a greeting');
        const answer = await readPacket(socket, HANDSHAKE_TIMEOUT_MS + CLIENT_TIMEOUT_MS);
        if (errCode(answer) === 1043) {
          t.handshakeTimeouts++;
          if (!(await closedWithin(socket, 6_000))) return { what: 'not closed after ERR 1043' };
          return undefined;
        }
        return outageOr(
          answer,
          `expected ERR 1043 after ${HANDSHAKE_TIMEOUT_MS} ms, got ${describe(answer)}`,
        );
      } finally {
        socket.destroy();
      }
    };

    /** Gives up at stage i % 6: before the greeting ... after the HandshakeResponse. */
    const abort = async (i) => {
      const stage = i % 6;
      t.tcp++;
      const from = now();
      const socket = await connectRaw(proxy.port);
      try {
        if (stage === 0) return undefined;
        const greeting = await readPacket(socket);
        if (errCode(greeting) !== undefined) return outageOr(greeting, 'ERR instead of a greeting');
        if (!greeting) return { what: 'closed before the greeting', outageKind: true };
        if (stage === 1) return undefined;
        socket.write(SSL_REQUEST);
        countSsl(from);
        if (stage === 2) return undefined;
        if (stage === 3) {
          socket.write(clientHello.subarray(0, clientHello.length >> 1));
          await sleep(10);
          return undefined;
        }
        const secure = tls.connect({ socket, ca, servername: 'localhost' });
        secure.on('error', () => undefined);
        const up = await new Promise((resolve) => {
          secure.once('secureConnect', () => resolve(true));
          secure.once('close', () => resolve(false));
        });
        if (!up) return { what: 'TLS did not come up', outageKind: true };
        if (stage === 5) {
          // A HandshakeResponse with an empty (wrong) password, then gone before the answer.
          const response = encodeHandshakeResponse({
            capabilities: 0x000aa285 | 0x800,
            maxPacketSize: 1 << 24,
            characterSet: 45,
            filler: Buffer.alloc(23),
            username: Buffer.from(user),
            authResponse: Buffer.alloc(0),
            authPluginName: 'mysql_native_password',
          });
          secure.write(encodePacket(response, 2));
          t.abandonedWrongLogins++;
          await sleep(5);
        }
        secure.destroy();
        return undefined;
      } finally {
        socket.destroy();
      }
    };

    const restart = (async () => {
      await sleep(durationMs / 2);
      if (!running()) return;
      console.log(`[${secs(now() - t0)}] killing the database (SIGKILL) ...`);
      outage.from = now();
      await db.kill();
      await sleep(1_500);
      await db.start();
      outage.to = now();
      console.log(`[${secs(now() - t0)}] database back after ${secs(outage.to - outage.from)}`);
    })();

    const idleBurst = (async () => {
      await sleep(durationMs * 0.3);
      if (!running()) return;
      console.log(`[${secs(now() - t0)}] 300 idle sockets at once`);
      await Promise.all(Array.from({ length: 300 }, () => record('idle burst', idle)));
    })();

    const progress = setInterval(() => {
      const total = [...t.kinds.values()].reduce((a, k) => a + k.attempts, 0);
      console.log(`[${secs(now() - t0)}] ${total} attempts, ${t.tcp} connections`);
    }, 15_000);

    const outageOr = (packet, what) => ({
      what,
      outageKind: errCode(packet) === 2003 || packet === undefined,
    });

    await Promise.all([
      loop('good TLS 1.3', 0, (i) => tlsLogin(contexts.tls13, { big: i % 10 === 0 })),
      loop('good TLS 1.3', 0, (i) => tlsLogin(contexts.tls13, { big: i % 10 === 5 })),
      loop('good TLS 1.2', 0, () => tlsLogin(contexts.tls12)),
      loop('good plaintext', 0, plainLogin),
      loop('wrong password', 50, () => tlsLogin(contexts.tls13, { wrongPassword: true })),
      loop('TLS 1.0', 100, tls10),
      loop('garbage', 50, garbage),
      loop('abort mid-handshake', 10, abort),
      loop('abort mid-handshake', 10, (i) => abort(i + 3)),
      ...Array.from({ length: 20 }, () => loop('idle', 0, idle)),
      restart,
      idleBurst,
    ]);
    clearInterval(progress);
    const trafficSeconds = (now() - t0) / 1000;

    // ---- flush the refusal log budget: one more refusal reports what was suppressed ----
    await sleep(1_500);
    await record('garbage', () => garbage(0));

    // ---- reckoning ----
    const end = await settle(20_000);
    let after = end;
    for (
      let i = 0;
      i < 20 && (after.fds > baseline.fds + 5 || after.heap > baseline.heap + 30 * 2 ** 20);
      i++
    ) {
      await sleep(500);
      after = { ...(await snapshot()), dbSessions: end.dbSessions };
    }
    const text = await proxy.metricsText();
    const logs = proxy.logs();
    const closedLines = logs.filter((l) => l.event === 'connection_closed');
    const suppressed = closedLines.reduce((a, l) => a + (Number(l.suppressed_before) || 0), 0);
    const badLogs = logs.filter((l) => l.level === 'error' || l.level === 'fatal' || 'raw' in l);
    const alive = proxy.child.exitCode === null && proxy.child.signalCode === null && isAlive(pid);

    const m = {
      authOk: sum(text, `${P}auth_total`, { result: 'ok' }),
      authError: sum(text, `${P}auth_total`, { result: 'error' }),
      tlsOk: sum(text, `${P}tls_handshakes_total`),
      tlsFailed: sum(text, `${P}tls_handshake_failures_total`),
      tlsUnsupported: sum(text, `${P}tls_handshake_failures_total`, { reason: 'unsupported_protocol' }),
      handshakeTimeout: sum(text, `${P}connections_rejected_total`, { reason: 'handshake_timeout' }),
      badPacket: sum(text, `${P}connections_rejected_total`, { reason: 'bad_packet' }),
    };

    const checks = [];
    const check = (name, ok, detail) => checks.push({ name, ok, detail });
    const unexpected = [...t.kinds.values()].reduce((a, k) => a + k.unexpected, 0);
    check('every client outcome expected for its kind', unexpected === 0, `${unexpected} unexpected`);
    check(
      'sessions: proxy log lines (+ suppressed) = client connections',
      closedLines.length + suppressed === t.tcp,
      `${closedLines.length} + ${suppressed} suppressed vs ${t.tcp}`,
    );
    check(
      'logins: proxy auth ok = client OKs',
      m.authOk >= t.logins && m.authOk <= t.logins + t.outageFailuresAfterAuth,
      `${m.authOk} vs ${t.logins}${t.outageFailuresAfterAuth ? ` (+ up to ${t.outageFailuresAfterAuth} hidden by the outage)` : ''}`,
    );
    check(
      'wrong passwords: proxy auth error = client ERR 1045 (+ logins abandoned before the answer)',
      m.authError >= t.accessDenied && m.authError <= t.accessDenied + t.abandonedWrongLogins,
      `${m.authError} vs ${t.accessDenied} + up to ${t.abandonedWrongLogins}`,
    );
    check(
      'idle sockets: proxy handshake_timeout refusals = client ERR 1043',
      m.handshakeTimeout === t.handshakeTimeouts,
      `${m.handshakeTimeout} vs ${t.handshakeTimeouts}`,
    );
    check(
      'garbage: proxy bad_packet refusals = client ERR 1043',
      m.badPacket === t.badPackets,
      `${m.badPacket} vs ${t.badPackets}`,
    );
    check(
      'TLS 1.0: proxy unsupported_protocol failures = refused attempts',
      m.tlsUnsupported === t.tls10,
      `${m.tlsUnsupported} vs ${t.tls10}`,
    );
    check(
      'TLS: proxy handshakes + failures = client SSLRequests',
      m.tlsOk + m.tlsFailed >= t.sslRequestsOutsideOutage && m.tlsOk + m.tlsFailed <= t.sslRequests,
      `${m.tlsOk} + ${m.tlsFailed} vs ${t.sslRequests}` +
        (t.sslRequests !== t.sslRequestsOutsideOutage
          ? ` (${t.sslRequestsOutsideOutage} outside the outage)`
          : ''),
    );
    check('proxy sessions: connections_active back to 0', end.active === 0, `${end.active}`);
    check('database sessions back to 0', end.dbSessions === 0, `${end.dbSessions}`);
    check(
      'proxy fds back to baseline (+5)',
      after.fds <= baseline.fds + 5,
      `${baseline.fds} -> ${after.fds}`,
    );
    check(
      'proxy heap back near baseline (+30 MiB)',
      after.heap <= baseline.heap + 30 * 2 ** 20,
      `${mib(baseline.heap)} -> ${mib(after.heap)} MiB`,
    );
    check('proxy still running, same pid', alive, `pid ${pid}`);
    check('proxy stderr empty', stderr === '', JSON.stringify(stderr.slice(0, 300)));
    check(
      'no error/fatal log lines',
      badLogs.length === 0,
      `${badLogs.length}${badLogs.length ? `: ${JSON.stringify(badLogs.slice(0, 3))}` : ''}`,
    );
    check(
      'no unhandled rejection/exception in the soak',
      unhandled.length === 0,
      unhandled.slice(0, 3).join('; '),
    );
    check(
      'outage errors were prompt (< 2 s)',
      t.slowestOutageFailureMs < 2_000,
      `slowest ${Math.round(t.slowestOutageFailureMs)} ms`,
    );

    // ---- report ----
    console.log('');
    console.log(
      `soak finished: ${secs(trafficSeconds * 1000)} of traffic (started ${started.toISOString()})`,
    );
    console.log('');
    console.log(pad('traffic', 22) + pad('attempts', 10) + pad('ok', 10) + pad('outage', 10) + 'unexpected');
    for (const [name, k] of [...t.kinds.entries()].sort()) {
      console.log(pad(name, 22) + pad(k.attempts, 10) + pad(k.ok, 10) + pad(k.outage, 10) + k.unexpected);
      for (const example of k.examples) console.log(`    ! ${example}`);
    }
    console.log('');
    const reasons = {};
    for (const l of closedLines) reasons[l.reason] = (reasons[l.reason] ?? 0) + 1;
    console.log(
      `proxy close reasons (logged lines): ${Object.entries(reasons)
        .sort((a, b) => b[1] - a[1])
        .map(([r, n]) => `${r} ${n}`)
        .join(', ')}`,
    );
    console.log(
      `proxy: tls handshakes ${m.tlsOk} (1.3: ${sum(text, `${P}tls_handshakes_total`, { version: 'TLSv1.3' })}, ` +
        `1.2: ${sum(text, `${P}tls_handshakes_total`, { version: 'TLSv1.2' })}), tls failures ${m.tlsFailed}, ` +
        `connections tls ${sum(text, `${P}connections_total`, { transport: 'tls' })} / plain ${sum(text, `${P}connections_total`, { transport: 'plain' })}`,
    );
    console.log(
      `proxy: fds ${baseline.fds} -> ${after.fds}, heap used ${mib(baseline.heap)} -> ${mib(after.heap)} MiB, ` +
        `rss ${mib(baseline.rss)} -> ${mib(after.rss)} MiB; database outage ${secs(outage.to - outage.from)}, ` +
        `slowest client error during it ${Math.round(t.slowestOutageFailureMs)} ms`,
    );
    console.log('');
    for (const c of checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`);
    const failed = checks.filter((c) => !c.ok).length;
    console.log('');
    console.log(
      failed === 0
        ? `PASS: nothing lost, leaked or crashed (${t.tcp} connections)`
        : `FAIL: ${failed} check(s) failed`,
    );
    process.exitCode = failed === 0 ? 0 : 1;
  } finally {
    await cleanup();
  }
}

// ---- helpers that need no state ------------------------------------------------------------------

function isOutageError(error) {
  // While the database is down or restarting: the proxy's ERR 2003, or the session cut under a client.
  if (error.kind === 'mysql_err') return error.code === 2003;
  return error.kind === 'closed' || error.kind === 'refused';
}

function describe(packet) {
  if (!packet) return 'a close';
  const code = errCode(packet);
  return code !== undefined ? `ERR ${code}` : `packet 0x${packet.payload[0]?.toString(16)}`;
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function captureClientHello(ca) {
  const { Duplex } = require('node:stream');
  return new Promise((resolve) => {
    let secure;
    const duplex = new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        resolve(Buffer.from(chunk));
        callback();
        setImmediate(() => secure.destroy());
      },
    });
    secure = tls.connect({ socket: duplex, ca, servername: 'localhost' });
    secure.on('error', () => undefined);
  });
}

const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const pad = (value, width) => String(value).padEnd(width);

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
