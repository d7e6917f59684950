/**
 * Bounds-checked cursor over a packet payload. Every read throws MalformedPacketError instead of
 * returning garbage when the payload is shorter than its fields claim.
 * Integer and string encodings: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_dt_integers.html
 */
export class MalformedPacketError extends Error {
  readonly code = 'MTP_MALFORMED_PACKET';
}

export class PayloadReader {
  offset: number;

  constructor(
    readonly buffer: Buffer,
    offset = 0,
  ) {
    this.offset = offset;
  }

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  private need(count: number, what: string): void {
    if (count < 0 || this.offset + count > this.buffer.length) {
      throw new MalformedPacketError(
        `packet too short for ${what} (need ${count} bytes at offset ${this.offset})`,
      );
    }
  }

  u8(what = 'int<1>'): number {
    this.need(1, what);
    return this.buffer[this.offset++];
  }

  u16(what = 'int<2>'): number {
    this.need(2, what);
    const value = this.buffer.readUInt16LE(this.offset);
    this.offset += 2;
    return value;
  }

  u32(what = 'int<4>'): number {
    this.need(4, what);
    const value = this.buffer.readUInt32LE(this.offset);
    this.offset += 4;
    return value;
  }

  bytes(count: number, what = 'string<fix>'): Buffer {
    this.need(count, what);
    const value = this.buffer.subarray(this.offset, this.offset + count);
    this.offset += count;
    return value;
  }

  /** string<NUL>: up to the next NUL, which is consumed but not returned. */
  nulTerminated(what = 'string<NUL>'): Buffer {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw new MalformedPacketError(`${what} is not NUL-terminated`);
    const value = this.buffer.subarray(this.offset, end);
    this.offset = end + 1;
    return value;
  }

  /** string<EOF>: the rest of the payload. */
  rest(): Buffer {
    const value = this.buffer.subarray(this.offset);
    this.offset = this.buffer.length;
    return value;
  }

  /** int<lenenc>; values above 2^53 are refused (no connection-phase field comes close). */
  lenencInt(what = 'int<lenenc>'): number {
    const first = this.u8(what);
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.u16(what);
    if (first === 0xfd) {
      this.need(3, what);
      const value = this.buffer.readUIntLE(this.offset, 3);
      this.offset += 3;
      return value;
    }
    if (first === 0xfe) {
      this.need(8, what);
      const value = this.buffer.readBigUInt64LE(this.offset);
      this.offset += 8;
      if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedPacketError(`${what} too large`);
      return Number(value);
    }
    throw new MalformedPacketError(`${what} has invalid first byte 0x${first.toString(16)}`);
  }

  lenencBytes(what = 'string<lenenc>'): Buffer {
    return this.bytes(this.lenencInt(what), what);
  }
}

export function encodeLenencInt(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`lenenc int ${value} out of range`);
  if (value < 0xfb) return Buffer.from([value]);
  if (value <= 0xffff) {
    const out = Buffer.allocUnsafe(3);
    out[0] = 0xfc;
    out.writeUInt16LE(value, 1);
    return out;
  }
  if (value <= 0xffffff) {
    const out = Buffer.allocUnsafe(4);
    out[0] = 0xfd;
    out.writeUIntLE(value, 1, 3);
    return out;
  }
  const out = Buffer.allocUnsafe(9);
  out[0] = 0xfe;
  out.writeBigUInt64LE(BigInt(value), 1);
  return out;
}

export function encodeLenencBytes(value: Buffer): Buffer {
  return Buffer.concat([encodeLenencInt(value.length), value]);
}
