import fc from 'fast-check';
import {
  encodeLenencBytes,
  encodeLenencInt,
  MalformedPacketError,
  PayloadReader,
} from '../../../src/protocol/reader';

const boundaries: Array<[number, string]> = [
  [0, '00'],
  [1, '01'],
  [250, 'fa'],
  [251, 'fcfb00'],
  [252, 'fcfc00'],
  [0xffff, 'fcffff'],
  [0x10000, 'fd000001'],
  [0xffffff, 'fdffffff'],
  [0x1000000, 'fe0000000100000000'],
  [2 ** 32, 'fe0000000001000000'],
  [2 ** 40, 'fe0000000000010000'],
  [Number.MAX_SAFE_INTEGER, 'feffffffffffff1f00'],
];

describe('int<lenenc>', () => {
  it.each(boundaries)('encodes %d as %s and decodes it back', (value, hex) => {
    const encoded = encodeLenencInt(value);
    expect(encoded.toString('hex')).toBe(hex);
    const r = new PayloadReader(Buffer.concat([encoded, Buffer.from([0xaa])]));
    expect(r.lenencInt()).toBe(value);
    expect(r.offset).toBe(encoded.length);
    expect(r.remaining).toBe(1);
  });

  it('refuses 0xff and 0xfb as first byte', () => {
    expect(() => new PayloadReader(Buffer.from([0xff])).lenencInt()).toThrow(MalformedPacketError);
    expect(() => new PayloadReader(Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 0])).lenencInt()).toThrow(
      /invalid first byte 0xff/,
    );
    // 0xfb is NULL in a result-set row, never a length in the connection phase
    expect(() => new PayloadReader(Buffer.from([0xfb])).lenencInt()).toThrow(MalformedPacketError);
  });

  it.each([[[]], [[0xfc]], [[0xfc, 1]], [[0xfd, 1, 2]], [[0xfe, 1, 2, 3, 4, 5, 6, 7]]])(
    'refuses the truncated encoding %j',
    (bytes) => {
      expect(() => new PayloadReader(Buffer.from(bytes)).lenencInt()).toThrow(MalformedPacketError);
    },
  );

  it('refuses 8-byte values above 2^53 - 1', () => {
    const big = Buffer.from('fe0000000000002000', 'hex'); // 2^53
    expect(() => new PayloadReader(big).lenencInt()).toThrow(MalformedPacketError);
    expect(() => new PayloadReader(Buffer.from('feffffffffffffffff', 'hex')).lenencInt()).toThrow(
      MalformedPacketError,
    );
  });

  it('encodeLenencInt refuses negative, fractional and unsafe values', () => {
    for (const value of [-1, 1.5, 2 ** 53, Number.NaN, Infinity]) {
      expect(() => encodeLenencInt(value)).toThrow(RangeError);
    }
  });

  it('round trips every safe integer', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (value) => {
        expect(new PayloadReader(encodeLenencInt(value)).lenencInt()).toBe(value);
      }),
      { numRuns: 2000 },
    );
  });

  it('uses the shortest encoding', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (value) => {
        const length = encodeLenencInt(value).length;
        expect(length).toBe(value < 251 ? 1 : value <= 0xffff ? 3 : value <= 0xffffff ? 4 : 9);
      }),
      { numRuns: 500 },
    );
  });
});

describe('string<lenenc>', () => {
  it.each([0, 1, 250, 251, 0x10000])('round trips a %d-byte string', (length) => {
    const value = Buffer.alloc(length, 0x61);
    const encoded = encodeLenencBytes(value);
    expect(encoded.length).toBe(encodeLenencInt(length).length + length);
    const r = new PayloadReader(encoded);
    expect(r.lenencBytes().equals(value)).toBe(true);
    expect(r.remaining).toBe(0);
  });

  it('refuses a length longer than the payload', () => {
    expect(() => new PayloadReader(Buffer.from([3, 0x61, 0x62])).lenencBytes()).toThrow(MalformedPacketError);
    expect(() => new PayloadReader(Buffer.from('fe0500000000000000616263', 'hex')).lenencBytes()).toThrow(
      MalformedPacketError,
    );
  });
});

describe('PayloadReader bounds', () => {
  const bytes = Buffer.from([1, 2, 3, 4, 5, 6, 0, 7]);

  it('reads little-endian integers and advances', () => {
    const r = new PayloadReader(bytes);
    expect(r.u8()).toBe(1);
    expect(r.u16()).toBe(0x0302);
    expect(r.u32()).toBe(0x00060504);
    expect(r.offset).toBe(7);
  });

  it('reads u32 above 2^31 as unsigned', () => {
    expect(new PayloadReader(Buffer.from([0xff, 0xff, 0xff, 0xff])).u32()).toBe(0xffffffff);
  });

  it('starts at the given offset', () => {
    const r = new PayloadReader(bytes, 6);
    expect(r.remaining).toBe(2);
    expect(r.nulTerminated()).toEqual(Buffer.alloc(0));
    expect(r.rest()).toEqual(Buffer.from([7]));
    expect(r.remaining).toBe(0);
    expect(r.rest()).toHaveLength(0);
  });

  it('reads NUL-terminated strings and refuses a missing NUL', () => {
    const r = new PayloadReader(bytes);
    expect(r.nulTerminated()).toEqual(Buffer.from([1, 2, 3, 4, 5, 6]));
    expect(r.offset).toBe(7);
    expect(() => r.nulTerminated('database')).toThrow(MalformedPacketError);
    expect(() => r.nulTerminated('database')).toThrow(/database/);
  });

  it.each([
    ['u8', (r: PayloadReader) => r.u8()],
    ['u16', (r: PayloadReader) => r.u16()],
    ['u32', (r: PayloadReader) => r.u32()],
    ['bytes(5)', (r: PayloadReader) => r.bytes(5)],
    ['bytes(-1)', (r: PayloadReader) => r.bytes(-1)],
  ])('%s past the end throws MalformedPacketError and does not advance', (_name, read) => {
    const r = new PayloadReader(Buffer.from([9, 9, 9]), 3);
    expect(() => read(r)).toThrow(MalformedPacketError);
    expect(r.offset).toBe(3);
  });

  it('MalformedPacketError has a stable code', () => {
    let error: unknown;
    try {
      new PayloadReader(Buffer.alloc(0)).u8('protocol version');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MalformedPacketError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'MTP_MALFORMED_PACKET' });
    expect((error as Error).message).toMatch(/protocol version/);
  });
});
