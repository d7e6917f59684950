'use strict';
/**
 * Node's own floor for a TLS terminator: a bare tls.Server with the suite's certificate, no MySQL.
 *
 *   node bench/lib/node-tls-floor.js CERT KEY PORT                  handshake, then close
 *   node bench/lib/node-tls-floor.js CERT KEY PORT hold             keep each TLS socket, idle
 *   node bench/lib/node-tls-floor.js CERT KEY PORT hold SINK_PORT   ... and pipe it to a plain
 *                                                                   socket to SINK_PORT, both ways
 *
 * bench/connect-rate.js measures the first mode's CPU per handshake under `openssl s_time -new`,
 * next to openssl s_server's; bench/memory.js measures the hold modes' RSS per idle connection
 * next to the proxy's. Both show how much of the proxy's cost is Node's TLS stack itself.
 */
const fs = require('node:fs');
const net = require('node:net');
const tls = require('node:tls');

const [cert, key, port, mode, sinkPort] = process.argv.slice(2);
const held = new Set();
const server = tls.createServer(
  { cert: fs.readFileSync(cert), key: fs.readFileSync(key), minVersion: 'TLSv1.3' },
  (socket) => {
    socket.on('error', () => undefined);
    if (mode !== 'hold') return void socket.end();
    held.add(socket);
    socket.once('close', () => held.delete(socket));
    if (sinkPort === undefined) return void socket.resume();
    const plain = net.connect(Number(sinkPort), '127.0.0.1');
    plain.on('error', () => socket.destroy());
    socket.once('close', () => plain.destroy());
    socket.pipe(plain).pipe(socket);
  },
);
server.on('tlsClientError', () => undefined);
server.listen(Number(port), '127.0.0.1');
