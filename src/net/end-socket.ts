import type { Duplex } from 'node:stream';

/** How long a closing socket may take to flush its last bytes before it is destroyed. */
export const LINGER_MS = 5_000;

/**
 * Sends `data` (if any), then closes without waiting for the peer: a refused or finished peer
 * must not keep a socket (and its memory) alive by never reading or never closing its side.
 */
export function endSocket(socket: Duplex, data?: Buffer): void {
  if (socket.destroyed) return;
  if (socket.writableEnded) {
    socket.destroy();
    return;
  }
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  // end() without data: end(emptyBuffer) costs a zero-length write(2) before the shutdown(2).
  const done = (): void => {
    clearTimeout(timer);
    socket.destroy();
  };
  if (data) socket.end(data, done);
  else socket.end(done);
}

/**
 * Closes a socket whose conversation is over (the peer has closed its side, or has been sent
 * its last packet, e.g. COM_QUIT). When every byte already reached the kernel, close(2) alone
 * sends them and the FIN: no shutdown(2) first and, for TLS, no close_notify write to a peer
 * that already sent its own. Bytes still queued in Node are flushed first (endSocket).
 */
export function closeFinished(socket: Duplex & { connecting?: boolean }): void {
  if (socket.destroyed) return;
  if (socket.writableLength === 0 && !socket.connecting) socket.destroy();
  else endSocket(socket);
}
