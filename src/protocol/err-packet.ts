import { MalformedPacketError, PayloadReader } from './reader';

/**
 * ERR_Packet. Before capabilities are negotiated (a refusal instead of a greeting) the server
 * sends it without the '#' SQL-state marker, as MySQL does for "Host ... is not allowed".
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_err_packet.html
 */
export const ERR_HEADER = 0xff;

export interface ErrPacket {
  code: number;
  /** Five characters, or undefined in the pre-4.1 / pre-greeting format. */
  sqlState?: string;
  message: string;
}

export function isErrPacket(payload: Buffer): boolean {
  return payload.length > 0 && payload[0] === ERR_HEADER;
}

export function parseErrPacket(payload: Buffer): ErrPacket {
  const r = new PayloadReader(payload);
  if (r.u8('header') !== ERR_HEADER) throw new MalformedPacketError('not an ERR packet');
  const code = r.u16('error code');
  let sqlState: string | undefined;
  if (r.remaining >= 6 && payload[r.offset] === 0x23 /* '#' */) {
    r.offset += 1;
    sqlState = r.bytes(5, 'sql state').toString('latin1');
  }
  return { code, sqlState, message: r.rest().toString('utf8') };
}

export function encodeErrPacket(err: ErrPacket): Buffer {
  const message = Buffer.from(err.message, 'utf8');
  const head = Buffer.alloc(3);
  head[0] = ERR_HEADER;
  head.writeUInt16LE(err.code, 1);
  if (err.sqlState === undefined) return Buffer.concat([head, message]);
  if (err.sqlState.length !== 5) throw new RangeError(`SQL state must have 5 characters: ${err.sqlState}`);
  return Buffer.concat([head, Buffer.from('#' + err.sqlState, 'latin1'), message]);
}
