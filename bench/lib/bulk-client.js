'use strict';
/**
 * Reads one big result set over MySQL TLS as fast as the socket delivers it: logs in with the
 * project's raw client (dist/client/mysql-client.js), then sends COM_QUERY itself and only walks
 * packet headers (no row decoding), so the client costs as little as possible per byte.
 *
 *   node bench/lib/bulk-client.js --port P --ca CA --sql 'SELECT ...'   -> one JSON line
 */
const fs = require('node:fs');
const tls = require('node:tls');
const path = require('node:path');
const { connectMysql } = require(path.join(__dirname, '..', '..', 'dist', 'client', 'mysql-client.js'));
const { encodeComQuery, encodePacket } = require(path.join(__dirname, '..', '..', 'dist', 'protocol', 'index.js'));

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

setTimeout(() => {
  console.error('bulk client: no complete result within 120 s');
  process.exit(1);
}, 120_000).unref();

async function main() {
  const port = Number(arg('port'));
  const sql = arg('sql');
  const ca = fs.readFileSync(arg('ca'));
  const secureContext = tls.createSecureContext({ ca, minVersion: 'TLSv1.3' });
  const conn = await connectMysql({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'test', secureContext,
    rejectUnauthorized: true, timeoutMs: 60_000 });
  const socket = conn.tlsSocket;
  socket.removeAllListeners('data');

  const result = await new Promise((resolve, reject) => {
    let bytes = 0;
    let packets = 0;
    let skip = 0; // bytes of the current payload still to pass
    let head = Buffer.alloc(0); // a packet header split across chunks
    let want = -1; // payload length of the packet whose first byte is next
    const started = process.hrtime.bigint();
    const finish = (error) => {
      socket.removeAllListeners('data');
      if (error) return reject(error);
      resolve({ bytes, packets, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
    };
    socket.on('data', (chunk) => {
      bytes += chunk.length;
      let i = 0;
      while (i < chunk.length) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length - i);
          skip -= n;
          i += n;
          continue;
        }
        if (want >= 0) {
          // first payload byte of a packet
          const first = chunk[i];
          packets++;
          if (first === 0xff) return finish(new Error('ERR packet in the result (is the SEQUENCE engine there?)'));
          if (packets > 2 && first === 0xfe && want < 0xffffff) return finish(); // OK/EOF that ends the rows
          skip = want;
          want = -1;
          continue;
        }
        const n = Math.min(4 - head.length, chunk.length - i);
        head = Buffer.concat([head, chunk.subarray(i, i + n)]);
        i += n;
        if (head.length === 4) {
          want = head.readUIntLE(0, 3);
          head = Buffer.alloc(0);
          if (want === 0) {
            packets++;
            want = -1;
          }
        }
      }
    });
    socket.once('error', finish);
    socket.write(encodePacket(encodeComQuery(sql), 0));
  });
  conn.destroy();
  console.log(JSON.stringify({ ...result, mb_s: result.bytes / 1e6 / result.seconds, tls: conn.tlsVersion, cipher: conn.cipher }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
