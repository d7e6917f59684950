import type { Duplex } from 'node:stream';

/**
 * What a session needs from a socket: a duplex stream (write, end, pipe, pause, backpressure)
 * with a socket's addresses and byte counters. net.Socket and tls.TLSSocket are SocketLikes; so
 * is test/helpers/memory-socket.ts, which lets whole sessions run in unit tests without sockets.
 */
export interface SocketLike extends Duplex {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  readonly localPort?: number;
  /** Bytes read from / written to the wire so far (the metrics read them at scrape time). */
  readonly bytesRead: number;
  readonly bytesWritten: number;
}
