/**
 * Command-phase requests the proxy and its tools write or recognise: each has its encode/parse pair
 * here, so no module builds `Buffer.from([0x01])` for itself. A command is the first byte of a
 * packet with sequence id 0; the payload's remaining bytes are its arguments.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_command_phase.html
 */
import { encodePacket, parsePacketHeader, PACKET_HEADER_SIZE } from './packet';
import { MalformedPacketError } from './reader';

export const COM_QUIT = 0x01;
export const COM_INIT_DB = 0x02;
export const COM_QUERY = 0x03;
export const COM_PING = 0x0e;
export const COM_CHANGE_USER = 0x11;

export type ParsedCommand =
  | { command: 'quit' }
  | { command: 'init_db'; schema: Buffer }
  | { command: 'query'; sql: Buffer }
  | { command: 'ping' }
  | { command: 'change_user'; payload: Buffer }
  | { command: 'other'; code: number; payload: Buffer };

/** The command byte of a command packet's payload; throws on an empty payload. */
export function commandCode(payload: Buffer): number {
  if (payload.length === 0) throw new MalformedPacketError('empty command packet');
  return payload[0];
}

/** Reads any command payload; argument buffers are views into `payload`. */
export function parseCommand(payload: Buffer): ParsedCommand {
  const code = commandCode(payload);
  switch (code) {
    case COM_QUIT:
      return { command: 'quit' };
    case COM_INIT_DB:
      return { command: 'init_db', schema: payload.subarray(1) };
    case COM_QUERY:
      return { command: 'query', sql: payload.subarray(1) };
    case COM_PING:
      return { command: 'ping' };
    case COM_CHANGE_USER:
      return { command: 'change_user', payload };
    default:
      return { command: 'other', code, payload };
  }
}

function expect(payload: Buffer, code: number, name: string): void {
  if (commandCode(payload) !== code) {
    throw new MalformedPacketError(
      `expected ${name} (0x${code.toString(16)}), got 0x${payload[0].toString(16)}`,
    );
  }
}

// COM_QUIT -----------------------------------------------------------------

/** COM_QUIT's payload: the command byte alone. */
export function encodeComQuit(): Buffer {
  return Buffer.from([COM_QUIT]);
}

export function isComQuit(payload: Buffer): boolean {
  return payload.length === 1 && payload[0] === COM_QUIT;
}

/** COM_QUIT as it goes on the wire (header with sequence id 0, then 0x01): 5 bytes. */
export const COM_QUIT_PACKET: Buffer = encodePacket(encodeComQuit(), 0);

/** True when `bytes` is exactly one COM_QUIT packet (the session's check on a lone chunk). */
export function isComQuitPacket(bytes: Buffer): boolean {
  if (bytes.length !== PACKET_HEADER_SIZE + 1) return false;
  const header = parsePacketHeader(bytes)!;
  return header.length === 1 && header.sequenceId === 0 && bytes[PACKET_HEADER_SIZE] === COM_QUIT;
}

// COM_QUERY ----------------------------------------------------------------

/** COM_QUERY's payload: 0x03 and the statement text (UTF-8 for a string). */
export function encodeComQuery(sql: string | Buffer): Buffer {
  const text = typeof sql === 'string' ? Buffer.from(sql, 'utf8') : sql;
  const out = Buffer.allocUnsafe(1 + text.length);
  out[0] = COM_QUERY;
  text.copy(out, 1);
  return out;
}

/** The statement of a COM_QUERY payload (a view); throws when it is another command. */
export function parseComQuery(payload: Buffer): Buffer {
  expect(payload, COM_QUERY, 'COM_QUERY');
  return payload.subarray(1);
}

// COM_INIT_DB --------------------------------------------------------------

export function encodeComInitDb(schema: string | Buffer): Buffer {
  const name = typeof schema === 'string' ? Buffer.from(schema, 'utf8') : schema;
  return Buffer.concat([Buffer.from([COM_INIT_DB]), name]);
}

export function parseComInitDb(payload: Buffer): Buffer {
  expect(payload, COM_INIT_DB, 'COM_INIT_DB');
  return payload.subarray(1);
}

// COM_PING -----------------------------------------------------------------

export function encodeComPing(): Buffer {
  return Buffer.from([COM_PING]);
}

export function isComPing(payload: Buffer): boolean {
  return payload.length === 1 && payload[0] === COM_PING;
}
