/**
 * In-memory socket pairs for unit tests: what one end writes, the other reads, with the stream
 * semantics sessions rely on. Backpressure is real: a write is acknowledged only while the peer's
 * readable buffer is under its highWaterMark, so a reader that stops reading makes the writer's
 * write() return false, as with TCP. Ending one side ends the other's readable side; with
 * allowHalfOpen off (as net.Socket's default) the peer then ends too, and both emit 'close'.
 * Destroying one side ends the peer's readable side (a FIN, as Node sends on destroy()).
 */
import { Duplex } from 'node:stream';
import type { SocketLike } from '../../src/net/socket-like';

export interface MemoryEndpoint {
  address: string;
  port: number;
}

export class MemorySocket extends Duplex implements SocketLike {
  bytesRead = 0;
  bytesWritten = 0;
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
  private peer?: MemorySocket;
  /** The peer's write waiting for this side to read (backpressure). */
  private blockedWrite?: () => void;
  /** The peer ended or was destroyed: nothing more may be pushed here. */
  private eof = false;

  constructor(highWaterMark = 16 * 1024) {
    super({ allowHalfOpen: false, highWaterMark });
  }

  static pair(
    a: MemoryEndpoint = { address: '127.0.0.1', port: 50000 },
    b: MemoryEndpoint = { address: '127.0.0.1', port: 3306 },
    highWaterMark?: number,
  ): [MemorySocket, MemorySocket] {
    const left = new MemorySocket(highWaterMark);
    const right = new MemorySocket(highWaterMark);
    left.peer = right;
    right.peer = left;
    left.setEndpoints(a, b);
    right.setEndpoints(b, a);
    return [left, right];
  }

  private setEndpoints(local: MemoryEndpoint, remote: MemoryEndpoint): void {
    this.localAddress = local.address;
    this.localPort = local.port;
    this.remoteAddress = remote.address;
    this.remotePort = remote.port;
  }

  /** Emits 'connect' on the next tick, as a dialled socket does once TCP is up. */
  connectSoon(): this {
    process.nextTick(() => {
      if (!this.destroyed) this.emit('connect');
    });
    return this;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytesWritten += chunk.length;
    // Delivered on a later turn of the event loop, as the network does: a synchronous pair would
    // let a whole TLS handshake finish inside tls.connect(), before its listeners are attached.
    setImmediate(() => this.deliver(chunk, callback));
  }

  private deliver(chunk: Buffer, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    if (!peer || peer.destroyed || peer.eof) return callback();
    peer.bytesRead += chunk.length;
    if (peer.push(chunk)) callback();
    else peer.blockedWrite = callback;
  }

  override _read(): void {
    const release = this.blockedWrite;
    this.blockedWrite = undefined;
    release?.();
  }

  override _final(callback: (error?: Error | null) => void): void {
    setImmediate(() => {
      this.peer?.endReadable();
      callback();
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    setImmediate(() => this.peer?.endReadable());
    this._read(); // a write blocked on this side's reading is released (and dropped)
    callback(error);
  }

  private endReadable(): void {
    if (this.eof || this.destroyed) return;
    this.eof = true;
    this.push(null);
  }
}
