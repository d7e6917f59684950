'use strict';
/**
 * The floor of this proxy's design: the least a Node process must do to give a MySQL server a TLS
 * front door with the in-band upgrade, and nothing else. Per connection: accept, dial the
 * database, relay its greeting (CLIENT_SSL set), read the 32-byte SSLRequest, TLS on the same
 * socket (one shared tls.Server context, as the proxy), relay the login with sequence ids shifted
 * by one (the database never saw the SSLRequest) and CLIENT_SSL cleared, then pipe both ways.
 * No access list, metrics, logs, limits, timeouts, attribute rewriting or error packets.
 *
 *   node bench/lib/node-mysql-tls-floor.js CERT KEY PORT BACKEND_PORT
 *
 * bench/connect-rate.js drives it with the `bench` client next to the proxy (connections), and
 * bench/query-path.js with sysbench (queries: TLS decryption plus a plain relay).
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 */
const fs = require('node:fs');
const net = require('node:net');
const tls = require('node:tls');

const [cert, key, port, backendPort] = process.argv.slice(2);
const CLIENT_SSL = 0x800;
const SSL_REQUEST_LENGTH = 4 + 32;

const tlsServer = tls.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), minVersion: 'TLSv1.2' });
tlsServer.on('secureConnection', (secure) => login(secure, secure._parent.backend));
tlsServer.on('tlsClientError', (_error, secure) => secure._parent?.backend?.destroy());

/** Splits complete MySQL packets off `buffer`; returns [packets, rest]. */
function packets(buffer) {
  const out = [];
  let offset = 0;
  while (buffer.length - offset >= 4) {
    const length = buffer.readUIntLE(offset, 3);
    if (buffer.length - offset < 4 + length) break;
    out.push(buffer.subarray(offset, offset + 4 + length));
    offset += 4 + length;
  }
  return [out, buffer.subarray(offset)];
}

/** Connection phase after TLS: shift sequence ids until the database's OK or ERR, then pipe. */
function login(client, backend) {
  let fromClient = Buffer.alloc(0);
  let fromBackend = Buffer.alloc(0);
  let first = true;
  const onClient = (data) => {
    let list;
    [list, fromClient] = packets(Buffer.concat([fromClient, data]));
    for (const p of list) {
      if (first) p.writeUInt16LE(p.readUInt16LE(4) & ~CLIENT_SSL, 4);
      first = false;
      p[3] -= 1;
    }
    if (list.length > 0) backend.write(list.length === 1 ? list[0] : Buffer.concat(list));
  };
  const onBackend = (data) => {
    let list;
    [list, fromBackend] = packets(Buffer.concat([fromBackend, data]));
    let done = -1;
    list.forEach((p, i) => {
      p[3] += 1;
      if (done < 0 && (p[4] === 0x00 || p[4] === 0xff)) done = i;
    });
    if (done < 0) return void client.write(Buffer.concat(list));
    client.write(Buffer.concat([...list, fromBackend]));
    client.off('data', onClient);
    backend.off('data', onBackend);
    if (fromClient.length > 0) backend.write(fromClient);
    client.pipe(backend);
    backend.pipe(client);
  };
  client.on('data', onClient);
  backend.on('data', onBackend);
  client.on('error', () => backend.destroy());
  client.on('close', () => backend.destroy());
  backend.on('close', () => client.destroy());
}

// A signal exits normally, so that `node --cpu-prof` (bench/profile.js FRONT=floor) writes its profile.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));

net
  .createServer({ noDelay: true }, (raw) => {
    const backend = net.connect({ host: '127.0.0.1', port: Number(backendPort), noDelay: true });
    raw.backend = backend;
    raw.on('error', () => backend.destroy());
    backend.on('error', () => raw.destroy());
    let greeted = false;
    let pending = Buffer.alloc(0);
    backend.once('data', (greeting) => {
      // capability flags (lower 2 bytes) follow: protocol version, server version NUL, thread id, 8+1 bytes
      const flagsAt = greeting.indexOf(0, 5) + 1 + 4 + 9;
      greeting.writeUInt16LE(greeting.readUInt16LE(flagsAt) | CLIENT_SSL, flagsAt);
      raw.write(greeting);
      greeted = true;
      backend.pause();
    });
    const onRaw = (data) => {
      pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
      if (!greeted || pending.length < SSL_REQUEST_LENGTH) return;
      raw.off('data', onRaw);
      raw.pause();
      if (pending.length > SSL_REQUEST_LENGTH) raw.unshift(pending.subarray(SSL_REQUEST_LENGTH));
      backend.resume();
      tlsServer.emit('connection', raw);
    };
    raw.on('data', onRaw);
  })
  .listen(Number(port), '127.0.0.1');
