import fs from 'node:fs';

/**
 * Where the JSON log lines go (stdout): asynchronous, batched writes that never block the event
 * loop, and that give up for good when the reader is gone (EPIPE: `serve | head -1`, or `serve |
 * jq` after Ctrl-C) instead of retrying forever, so shutdown never waits on stdout.
 */
export class LogDestination {
  private pending: Buffer[] = [];
  private writing = false;
  private broken = false;
  private idle: Array<() => void> = [];

  constructor(
    private readonly fd = 1,
    private readonly write_ = fs.write,
  ) {}

  /** pino's destination interface. */
  write(line: string): boolean {
    if (this.broken) return true;
    this.pending.push(Buffer.from(line));
    if (!this.writing) this.next();
    return true;
  }

  /** True once the reader went away (output is dropped from then on). */
  get closed(): boolean {
    return this.broken;
  }

  /** Resolves when everything written so far is out, the reader is gone, or after `timeoutMs`. */
  settle(timeoutMs: number): Promise<void> {
    if (!this.writing) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** pino's logger.flush(cb). */
  flush(callback?: (error?: Error) => void): void {
    void this.settle(1_000).then(() => callback?.());
  }

  private next(): void {
    if (this.broken || this.pending.length === 0) {
      this.writing = false;
      this.pending = [];
      this.idle.splice(0).forEach((wake) => wake());
      return;
    }
    this.writing = true;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    this.send(data);
  }

  private send(data: Buffer): void {
    this.write_(this.fd, data, 0, data.length, null, (error, written) => {
      if (error && (error.code === 'EAGAIN' || error.code === 'EBUSY')) {
        setTimeout(() => this.send(data), 10).unref();
        return;
      }
      if (error) {
        this.broken = true; // EPIPE, EBADF, ...: nobody reads any more
      } else if (written < data.length) {
        this.send(data.subarray(written));
        return;
      }
      this.next();
    });
  }
}
