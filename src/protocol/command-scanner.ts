/**
 * Follows the packet headers of a client's command-phase byte stream to find where a given command
 * begins, without copying or buffering payloads: the relay keeps forwarding bytes as they come and
 * stops only at that command. MySQL Router and TiProxy parse every command; this only reads the
 * 4-byte headers (and the first payload byte of each packet with sequence id 0, a command).
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html
 *
 * Not for the compressed protocol, whose frames hide the packet headers.
 */
export const COM_CHANGE_USER = 0x11;

export interface ScanResult {
  /** Bytes from the start of `data` that belong to packets before the command: forward them. */
  until: number;
  /** The command's packet starts at `until`. Otherwise bytes after `until` are an incomplete header to hold. */
  found: boolean;
}

export class CommandScanner {
  /** Bytes of the current packet still to pass before the next header. */
  private remaining = 0;

  constructor(private readonly command: number) {}

  /** Call with each chunk, prefixed by the bytes held back from the last call (see ScanResult). */
  scan(data: Buffer): ScanResult {
    let at = 0;
    for (;;) {
      if (this.remaining >= data.length - at) {
        this.remaining -= data.length - at;
        return { until: data.length, found: false };
      }
      at += this.remaining;
      this.remaining = 0;
      if (data.length - at < 4) return { until: at, found: false };
      const length = data[at] | (data[at + 1] << 8) | (data[at + 2] << 16);
      if (length > 0 && data[at + 3] === 0) {
        // sequence id 0: a command, named by its first payload byte
        if (data.length - at < 5) return { until: at, found: false };
        if (data[at + 4] === this.command) return { until: at, found: true };
      }
      this.remaining = 4 + length;
    }
  }

  /** The stream is at a packet boundary again (the relay resumes after handling the command). */
  reset(): void {
    this.remaining = 0;
  }
}
