/**
 * MySQL packet framing: 3-byte little-endian payload length, 1-byte sequence id, payload.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html
 */
export const PACKET_HEADER_SIZE = 4;
/** A payload of exactly this length is continued in the next packet. */
export const MAX_PACKET_PAYLOAD = 0xffffff;

export interface PacketHeader {
  length: number;
  sequenceId: number;
}

export interface Packet {
  sequenceId: number;
  /** A view into the caller's buffer; copy it if it must outlive that buffer. */
  payload: Buffer;
}

/** Reads the header at `offset`, or returns undefined when fewer than 4 bytes are there. */
export function parsePacketHeader(buffer: Buffer, offset = 0): PacketHeader | undefined {
  if (buffer.length - offset < PACKET_HEADER_SIZE) return undefined;
  return { length: buffer.readUIntLE(offset, 3), sequenceId: buffer[offset + 3] };
}

export function encodePacketHeader(
  length: number,
  sequenceId: number,
  target = Buffer.allocUnsafe(4),
  offset = 0,
): Buffer {
  if (length < 0 || length > MAX_PACKET_PAYLOAD)
    throw new RangeError(`packet payload length ${length} out of range`);
  target.writeUIntLE(length, offset, 3);
  target[offset + 3] = sequenceId & 0xff;
  return target;
}

/** One packet (header and payload) as a new buffer. */
export function encodePacket(payload: Buffer, sequenceId: number): Buffer {
  const out = Buffer.allocUnsafe(PACKET_HEADER_SIZE + payload.length);
  encodePacketHeader(payload.length, sequenceId, out, 0);
  payload.copy(out, PACKET_HEADER_SIZE);
  return out;
}

/**
 * Splits a byte stream into packets. Pure: no I/O; the caller pushes bytes and pulls packets.
 * Packets longer than `maxPayload` are refused before their payload is buffered, so a header that
 * claims 16 MiB during the connection phase never makes us allocate 16 MiB.
 */
export class PacketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The chunks copied into chunks[0] when it was merged from several. */
  private sources: Buffer[] = [];
  /** The sources of the buffer the last packet read() points into. */
  private lastSources: Buffer[] = [];

  constructor(private readonly maxPayload: number) {}

  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The header of the next packet, if its 4 bytes have arrived. */
  peekHeader(): PacketHeader | undefined {
    if (this.buffered < PACKET_HEADER_SIZE) return undefined;
    return parsePacketHeader(this.coalesce(), 0);
  }

  /**
   * Returns the next complete packet, undefined if more bytes are needed.
   * Throws PacketTooLargeError when the header announces more than `maxPayload`.
   */
  read(): Packet | undefined {
    const header = this.peekHeader();
    if (!header) return undefined;
    if (header.length > this.maxPayload) throw new PacketTooLargeError(header.length, this.maxPayload);
    const total = PACKET_HEADER_SIZE + header.length;
    if (this.buffered < total) return undefined;
    const buffer = this.coalesce();
    const payload = buffer.subarray(PACKET_HEADER_SIZE, total);
    this.lastSources = this.sources;
    this.consume(total);
    return { sequenceId: header.sequenceId, payload };
  }

  /** Up to `count` buffered bytes, without consuming them. */
  peek(count: number): Buffer {
    if (this.buffered === 0) return Buffer.alloc(0);
    return this.coalesce().subarray(0, count);
  }

  /** Everything not yet read, as one buffer; the reader is empty afterwards. */
  drain(): Buffer {
    const rest = this.buffered === 0 ? Buffer.alloc(0) : this.coalesce();
    this.chunks = [];
    this.sources = [];
    this.buffered = 0;
    return rest;
  }

  /**
   * Zeroes the pushed chunks the last packet was copied out of when it spanned several, so that
   * a secret in it (a clear password) is left only in the payload view, which the caller wipes.
   * Their unread bytes were copied too, so nothing the reader still holds is lost.
   */
  wipeLastSources(): void {
    this.lastSources.forEach((chunk) => chunk.fill(0));
    this.lastSources = [];
  }

  private coalesce(): Buffer {
    if (this.chunks.length > 1) {
      this.sources = [...this.sources, ...this.chunks];
      this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    }
    return this.chunks[0];
  }

  private consume(count: number): void {
    const buffer = this.chunks[0];
    if (count === buffer.length) {
      this.chunks = [];
      this.sources = [];
    } else this.chunks[0] = buffer.subarray(count);
    this.buffered -= count;
  }
}

export class PacketTooLargeError extends Error {
  readonly code = 'MTP_PACKET_TOO_LARGE';
  constructor(
    readonly announced: number,
    readonly limit: number,
  ) {
    super(`packet of ${announced} bytes exceeds the connection-phase limit of ${limit} bytes`);
  }
}
