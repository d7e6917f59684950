/**
 * OK_Packet: the server's "done" for a login or a command, also the end of a result set when the
 * client set CLIENT_DEPRECATE_EOF (then with the 0xfe header instead of 0x00).
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_ok_packet.html
 */
import { encodeLenencInt, MalformedPacketError, PayloadReader } from './reader';

export const SERVER_STATUS_AUTOCOMMIT = 0x0002;
export const SERVER_MORE_RESULTS_EXISTS = 0x0008;

export interface OkPacket {
  affectedRows: number;
  lastInsertId: number;
  statusFlags: number;
  warnings: number;
}

/** Reads an OK packet (header 0x00 or 0xfe); status flags and warnings are 0 when absent (pre-4.1). */
export function parseOkPacket(payload: Buffer): OkPacket {
  const r = new PayloadReader(payload);
  const header = r.u8('OK header');
  if (header !== 0x00 && header !== 0xfe) {
    throw new MalformedPacketError(`not an OK packet (header 0x${header.toString(16)})`);
  }
  const affectedRows = r.lenencInt('affected rows');
  const lastInsertId = r.lenencInt('last insert id');
  const statusFlags = r.remaining >= 2 ? r.u16('status flags') : 0;
  const warnings = r.remaining >= 2 ? r.u16('warnings') : 0;
  return { affectedRows, lastInsertId, statusFlags, warnings };
}

/** An OK packet (protocol 4.1 layout); `eof` gives the 0xfe header that ends a result set. */
export function encodeOkPacket(ok: Partial<OkPacket> = {}, eof = false): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt16LE(ok.statusFlags ?? SERVER_STATUS_AUTOCOMMIT, 0);
  tail.writeUInt16LE(ok.warnings ?? 0, 2);
  return Buffer.concat([
    Buffer.from([eof ? 0xfe : 0x00]),
    encodeLenencInt(ok.affectedRows ?? 0),
    encodeLenencInt(ok.lastInsertId ?? 0),
    tail,
  ]);
}
