'use strict';
/**
 * Accepts TCP connections and holds them, reading and discarding: the far end of the plain leg of
 * bench/lib/node-tls-floor.js in hold mode, in its own process so that its sockets do not count
 * toward the floor's RSS.
 *
 *   node bench/lib/tcp-sink.js PORT
 */
const net = require('node:net');

net
  .createServer((socket) => {
    socket.on('error', () => undefined);
    socket.resume();
  })
  .listen(Number(process.argv[2]), '127.0.0.1');
