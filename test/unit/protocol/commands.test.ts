import fc from 'fast-check';
import {
  commandCode,
  COM_CHANGE_USER,
  COM_INIT_DB,
  COM_PING,
  COM_QUERY,
  COM_QUIT,
  COM_QUIT_PACKET,
  encodeComInitDb,
  encodeComPing,
  encodeComQuery,
  encodeComQuit,
  isComPing,
  isComQuit,
  isComQuitPacket,
  parseComInitDb,
  parseComQuery,
  parseCommand,
} from '../../../src/protocol/commands';
import { encodeOkPacket, parseOkPacket, SERVER_MORE_RESULTS_EXISTS } from '../../../src/protocol/ok-packet';
import { encodePacket, MalformedPacketError, PacketReader } from '../../../src/protocol';

describe('command packets', () => {
  it('COM_QUIT is the single byte 0x01, and 5 bytes on the wire', () => {
    expect(encodeComQuit()).toEqual(Buffer.from([0x01]));
    expect(COM_QUIT_PACKET).toEqual(Buffer.from([1, 0, 0, 0, 1]));
    expect(isComQuit(encodeComQuit())).toBe(true);
    expect(parseCommand(encodeComQuit())).toEqual({ command: 'quit' });
    expect(isComQuitPacket(COM_QUIT_PACKET)).toBe(true);
    expect(isComQuitPacket(encodePacket(encodeComQuit(), 1))).toBe(false); // not a command: seq 1
    expect(isComQuitPacket(encodePacket(encodeComPing(), 0))).toBe(false);
    expect(isComQuitPacket(Buffer.concat([COM_QUIT_PACKET, COM_QUIT_PACKET]))).toBe(false);
  });

  it('COM_QUERY round-trips any statement, string or bytes', () => {
    expect(encodeComQuery('SELECT 1')).toEqual(Buffer.from('\x03SELECT 1', 'latin1'));
    fc.assert(
      fc.property(fc.string(), (sql) => {
        const payload = encodeComQuery(sql);
        expect(payload[0]).toBe(COM_QUERY);
        expect(parseComQuery(payload).toString('utf8')).toBe(sql);
        const parsed = parseCommand(payload);
        expect(parsed.command).toBe('query');
        expect(parsed.command === 'query' && parsed.sql.toString('utf8')).toBe(sql);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(parseComQuery(encodeComQuery(Buffer.from(bytes)))).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it('COM_INIT_DB and COM_PING round-trip', () => {
    expect(parseComInitDb(encodeComInitDb('shop')).toString()).toBe('shop');
    expect(parseCommand(encodeComInitDb('shop'))).toEqual({
      command: 'init_db',
      schema: Buffer.from('shop'),
    });
    expect(encodeComPing()).toEqual(Buffer.from([COM_PING]));
    expect(isComPing(encodeComPing())).toBe(true);
    expect(parseCommand(encodeComPing())).toEqual({ command: 'ping' });
  });

  it('names change_user and passes unknown commands through', () => {
    const changeUser = Buffer.from([COM_CHANGE_USER, 0x61, 0]);
    expect(parseCommand(changeUser)).toEqual({ command: 'change_user', payload: changeUser });
    expect(parseCommand(Buffer.from([0x16, 1]))).toEqual({
      command: 'other',
      code: 0x16,
      payload: Buffer.from([0x16, 1]),
    });
  });

  it('refuses an empty payload or the wrong command', () => {
    expect(() => commandCode(Buffer.alloc(0))).toThrow(MalformedPacketError);
    expect(() => parseCommand(Buffer.alloc(0))).toThrow(MalformedPacketError);
    expect(() => parseComQuery(encodeComQuit())).toThrow(/expected COM_QUERY/);
    expect(() => parseComInitDb(encodeComQuery('x'))).toThrow(MalformedPacketError);
    expect([COM_QUIT, COM_INIT_DB, COM_QUERY]).toEqual([1, 2, 3]);
  });

  it('frames through PacketReader like any packet', () => {
    const reader = new PacketReader(1 << 20);
    reader.push(Buffer.concat([encodePacket(encodeComQuery('SELECT 2'), 0), COM_QUIT_PACKET]));
    expect(parseCommand(reader.read()!.payload)).toEqual({ command: 'query', sql: Buffer.from('SELECT 2') });
    expect(parseCommand(reader.read()!.payload)).toEqual({ command: 'quit' });
    expect(reader.read()).toBeUndefined();
  });
});

describe('OK packet', () => {
  it('round-trips, with the 0x00 or the 0xfe (end of result set) header', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 40 }),
        fc.nat({ max: 2 ** 40 }),
        fc.nat({ max: 0xffff }),
        fc.nat({ max: 0xffff }),
        fc.boolean(),
        (affectedRows, lastInsertId, statusFlags, warnings, eof) => {
          const payload = encodeOkPacket({ affectedRows, lastInsertId, statusFlags, warnings }, eof);
          expect(payload[0]).toBe(eof ? 0xfe : 0x00);
          expect(parseOkPacket(payload)).toEqual({ affectedRows, lastInsertId, statusFlags, warnings });
        },
      ),
    );
  });

  it('reads what MariaDB sends and refuses other packets', () => {
    expect(parseOkPacket(Buffer.from([0, 0, 0, 2, 0, 0, 0]))).toEqual({
      affectedRows: 0,
      lastInsertId: 0,
      statusFlags: 2,
      warnings: 0,
    });
    expect(parseOkPacket(Buffer.from([0, 1, 0])).statusFlags).toBe(0);
    expect(parseOkPacket(encodeOkPacket({ statusFlags: SERVER_MORE_RESULTS_EXISTS })).statusFlags).toBe(8);
    expect(() => parseOkPacket(Buffer.from([0xff, 0x15, 0x04]))).toThrow(/not an OK packet/);
    expect(() => parseOkPacket(Buffer.from([0]))).toThrow(MalformedPacketError);
  });
});
