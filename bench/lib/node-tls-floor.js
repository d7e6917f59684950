'use strict';
/**
 * Node's own floor for a TLS handshake: a bare tls.Server with the suite's certificate that
 * handshakes and closes, nothing else (no MySQL, no second socket). bench/connect-rate.js measures
 * its CPU per handshake under `openssl s_time -new`, next to openssl s_server's, so the report
 * shows how much of the proxy's cost is Node's TLS stack itself.
 *
 *   node bench/lib/node-tls-floor.js CERT KEY PORT
 */
const fs = require('node:fs');
const tls = require('node:tls');

const [cert, key, port] = process.argv.slice(2);
const server = tls.createServer(
  { cert: fs.readFileSync(cert), key: fs.readFileSync(key), minVersion: 'TLSv1.3' },
  (socket) => {
    socket.on('error', () => undefined);
    socket.end();
  },
);
server.on('tlsClientError', () => undefined);
server.listen(Number(port), '127.0.0.1');
