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
  socket.end(data ?? Buffer.alloc(0), () => {
    clearTimeout(timer);
    socket.destroy();
  });
}
