#!/usr/bin/env node
/**
 * Baseline for `mysql-tls-proxy bench`: the most minimal raw MySQL-over-TLS client we could write,
 * with no dependencies and nothing from this repository. One tls.SecureContext for the whole run;
 * per connection: TCP connect, greeting, SSLRequest, TLS, HandshakeResponse (mysql_native_password
 * or caching_sha2_password, AuthSwitchRequest and fast/full caching_sha2 auth), OK, COM_QUIT,
 * wait for close. Closed loop at --concurrency for --duration seconds; prints connections/s.
 *
 *   node bench/raw-tls-baseline.js --target 127.0.0.1:4000 --user app --password secret \
 *     [--concurrency 16] [--duration 10] [--ca certs/ca.pem] [--json]
 */
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const tls = require('node:tls');

function parseArgs(argv) {
  const args = { concurrency: 16, duration: 10, password: '', json: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i].replace(/^--/, '');
    if (flag === 'json') args.json = true;
    else args[flag] = argv[++i];
  }
  if (!args.target || !args.user) {
    process.stderr.write(
      'usage: raw-tls-baseline.js --target HOST:PORT --user U [--password P] [--concurrency N] [--duration S] [--ca FILE] [--json]\n',
    );
    process.exit(2);
  }
  const colon = args.target.lastIndexOf(':');
  return {
    host: args.target.slice(0, colon),
    port: Number(args.target.slice(colon + 1)),
    user: args.user,
    password: String(args.password),
    concurrency: Number(args.concurrency),
    durationMs: Number(args.duration) * 1000,
    ca: args.ca ? fs.readFileSync(args.ca) : undefined,
    json: args.json,
  };
}

const sha1 = (...parts) => parts.reduce((h, p) => h.update(p), crypto.createHash('sha1')).digest();
const sha256 = (...parts) => parts.reduce((h, p) => h.update(p), crypto.createHash('sha256')).digest();
const xor = (a, b) => Buffer.from(a.map((x, i) => x ^ b[i]));

function scramble(plugin, password, nonce) {
  if (password === '') return Buffer.alloc(0);
  const pw = Buffer.from(password);
  if (plugin === 'caching_sha2_password') {
    const s1 = sha256(pw);
    return xor(s1, sha256(sha256(s1), nonce));
  }
  const s1 = sha1(pw);
  return xor(s1, sha1(nonce, sha1(s1)));
}

function packet(payload, seq) {
  const head = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, payload.length >> 16, seq]);
  return Buffer.concat([head, payload]);
}

/** Calls onPacket(seq, payload) for each complete packet pushed. */
function packetSplitter(onPacket) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 4) {
      const len = buf.readUIntLE(0, 3);
      if (buf.length < 4 + len) return;
      const payload = buf.subarray(4, 4 + len);
      const seq = buf[3];
      buf = buf.subarray(4 + len);
      onPacket(seq, payload);
    }
  };
}

function parseGreeting(p) {
  let o = p.indexOf(0, 1) + 1; // server version
  o += 4; // connection id
  const part1 = p.subarray(o, o + 8);
  o += 9;
  const capsLow = p.readUInt16LE(o);
  o += 2 + 1 + 2;
  const caps = (capsLow | (p.readUInt16LE(o) << 16)) >>> 0;
  o += 2;
  const authLen = p[o];
  o += 1 + 10;
  const part2Len = Math.max(13, authLen - 8);
  const part2 = p.subarray(o, o + part2Len - 1);
  o += part2Len;
  const end = p.indexOf(0, o);
  const plugin = p.toString('latin1', o, end < 0 ? p.length : end);
  return { caps, nonce: Buffer.concat([part1, part2]), plugin };
}

const CAPS = 0x1 | 0x4 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000 | 0x200000; // + SSL 0x800

/** One full connection; resolves true on a successful login, false on any failure. */
function connectOnce(cfg, ctx) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: cfg.host, port: cfg.port, noDelay: true });
    let secure;
    let ok = false;
    let plugin = 'mysql_native_password';
    const done = () => resolve(ok);
    const fail = () => {
      (secure || sock).destroy();
    };
    sock.on('error', fail);
    sock.on('close', done);
    const onGreeting = packetSplitter((seq, p) => {
      sock.off('data', onGreeting);
      if (p[0] !== 10) return fail();
      const g = parseGreeting(p);
      plugin = g.plugin === 'caching_sha2_password' ? g.plugin : 'mysql_native_password';
      const caps = (CAPS & g.caps) | 0x800 | 0x200 | 0x1;
      const ssl = Buffer.alloc(32);
      ssl.writeUInt32LE(caps >>> 0, 0);
      ssl.writeUInt32LE(1 << 24, 4);
      ssl[8] = 45;
      sock.write(packet(ssl, 1));
      secure = tls.connect({
        socket: sock,
        secureContext: ctx,
        rejectUnauthorized: !!cfg.ca,
        host: cfg.host,
      });
      secure.on('error', fail);
      secure.once('secureConnect', () => {
        const auth = scramble(plugin, cfg.password, g.nonce);
        const user = Buffer.from(cfg.user + '\0');
        const head = Buffer.alloc(32);
        head.writeUInt32LE(caps >>> 0, 0);
        head.writeUInt32LE(1 << 24, 4);
        head[8] = 45;
        const resp = Buffer.concat([
          head,
          user,
          Buffer.from([auth.length]),
          auth,
          Buffer.from(plugin + '\0'),
        ]);
        secure.write(packet(resp, 2));
      });
      secure.on(
        'data',
        packetSplitter((seq2, r) => {
          if (r[0] === 0x00) {
            ok = true;
            secure.end(packet(Buffer.from([0x01]), 0)); // COM_QUIT; resolve on close
          } else if (r[0] === 0xfe) {
            const end = r.indexOf(0, 1);
            plugin = r.toString('latin1', 1, end);
            secure.write(packet(scramble(plugin, cfg.password, r.subarray(end + 1, end + 21)), seq2 + 1));
          } else if (r[0] === 0x01 && r[1] === 0x04) {
            secure.write(packet(Buffer.from(cfg.password + '\0'), seq2 + 1));
          } else if (!(r[0] === 0x01 && r[1] === 0x03)) {
            fail();
          }
        }),
      );
    });
    sock.on('data', onGreeting);
  });
}

async function main() {
  const cfg = parseArgs(process.argv.slice(2));
  const ctx = tls.createSecureContext({ ca: cfg.ca });
  let ok = 0;
  let failed = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + cfg.durationMs;
  const lane = async () => {
    while (performance.now() < deadline) {
      if (await connectOnce(cfg, ctx)) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, lane));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const result = {
    tool: 'raw-tls-baseline',
    connections: ok,
    errors: failed,
    elapsed_s: Math.round(elapsed * 1000) / 1000,
    rate: Math.round((ok / elapsed) * 10) / 10,
    cpu_s: Math.round(cpuS * 1000) / 1000,
    connections_per_cpu_s: Math.round((ok / cpuS) * 10) / 10,
  };
  process.stdout.write(
    cfg.json
      ? JSON.stringify(result) + '\n'
      : `${ok} connections (${failed} failed) in ${result.elapsed_s} s: ${result.rate} connections/s, ` +
          `${result.connections_per_cpu_s} per client CPU second\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
