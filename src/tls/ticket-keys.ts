import crypto from 'node:crypto';

/**
 * TLS session ticket keys (RFC 5077; TLS 1.3 PSK tickets, RFC 8446 §4.6.1) shared by every process
 * that serves the listener, so a client that resumes lands on a worker that can decrypt its ticket.
 * Node takes one 48-byte key set (16 bytes name, 16 HMAC, 16 AES: tls.Server#setTicketKeys);
 * rotating replaces it, so tickets issued before a rotation fall back to a full handshake.
 */
export const TICKET_KEYS_BYTES = 48;

export function newTicketKeys(): Buffer {
  return crypto.randomBytes(TICKET_KEYS_BYTES);
}

/** Generates a key set now and a fresh one every `intervalMs`; `apply` receives each. */
export class TicketKeyRotation {
  private timer: NodeJS.Timeout | undefined;
  private current: Buffer;

  constructor(
    private readonly intervalMs: number,
    private readonly apply: (keys: Buffer) => void,
  ) {
    this.current = newTicketKeys();
  }

  get keys(): Buffer {
    return this.current;
  }

  start(): void {
    this.apply(this.current);
    this.timer = setInterval(() => this.rotate(), this.intervalMs);
    this.timer.unref();
  }

  rotate(): void {
    this.current = newTicketKeys();
    this.apply(this.current);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
