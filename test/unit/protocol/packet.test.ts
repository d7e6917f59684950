import fc from 'fast-check';
import {
  encodePacket,
  encodePacketHeader,
  MAX_PACKET_PAYLOAD,
  PACKET_HEADER_SIZE,
  PacketReader,
  PacketTooLargeError,
  parsePacketHeader,
  type Packet,
} from '../../../src/protocol/packet';
import { fixtureNames, loadFixture, payloadOf, seqOf } from '../../helpers/fixtures';

/** Reads every complete packet currently available. */
function readAll(reader: PacketReader): Packet[] {
  const out: Packet[] = [];
  for (let packet = reader.read(); packet; packet = reader.read()) {
    // copy: payloads are views and the test compares them after more pushes
    out.push({ sequenceId: packet.sequenceId, payload: Buffer.from(packet.payload) });
  }
  return out;
}

function expected(packets: Buffer[]): Packet[] {
  return packets.map((p) => ({ sequenceId: seqOf(p), payload: Buffer.from(payloadOf(p)) }));
}

const login = loadFixture('mariadb-cli-ed25519-login');
const loginStream = Buffer.concat(login.packets);

describe('fixtures helper', () => {
  it('loads both the hex and the packets form', () => {
    expect(login.packets).toHaveLength(5);
    expect(login.packets.map(seqOf)).toEqual([0, 1, 2, 3, 4]);
    expect(login.description).toMatch(/ed25519/);
    const single = loadFixture('mariadb-greeting.json');
    expect(single.packets).toHaveLength(1);
    expect(seqOf(single.packets[0])).toBe(0);
    expect(payloadOf(single.packets[0])).toHaveLength(0x64);
  });

  it('every fixture packet has a header matching its payload', () => {
    for (const name of fixtureNames()) {
      for (const packet of loadFixture(name).packets) {
        expect(parsePacketHeader(packet)?.length).toBe(packet.length - PACKET_HEADER_SIZE);
      }
    }
  });
});

describe('PacketReader on captured streams', () => {
  it('reads the whole login stream pushed at once', () => {
    const reader = new PacketReader(1024);
    reader.push(loginStream);
    expect(readAll(reader)).toEqual(expected(login.packets));
    expect(reader.bufferedBytes).toBe(0);
    expect(reader.read()).toBeUndefined();
  });

  it('yields identical packets when the stream is split at every byte boundary', () => {
    const want = expected(login.packets);
    for (let split = 0; split <= loginStream.length; split++) {
      const reader = new PacketReader(1024);
      reader.push(loginStream.subarray(0, split));
      const got = readAll(reader);
      reader.push(loginStream.subarray(split));
      got.push(...readAll(reader));
      expect(got).toEqual(want);
      expect(reader.bufferedBytes).toBe(0);
    }
  });

  it('yields identical packets when every fixture stream is split into two pieces at every boundary', () => {
    for (const name of fixtureNames()) {
      const { packets } = loadFixture(name);
      const stream = Buffer.concat(packets);
      const want = expected(packets);
      for (let split = 0; split <= stream.length; split++) {
        const reader = new PacketReader(1024);
        reader.push(stream.subarray(0, split));
        const got = readAll(reader);
        reader.push(stream.subarray(split));
        got.push(...readAll(reader));
        expect(got).toEqual(want);
      }
    }
  });

  it('yields identical packets when fed one byte at a time', () => {
    const reader = new PacketReader(1024);
    const got: Packet[] = [];
    for (let i = 0; i < loginStream.length; i++) {
      reader.push(loginStream.subarray(i, i + 1));
      got.push(...readAll(reader));
    }
    expect(got).toEqual(expected(login.packets));
  });

  it('returns undefined until a packet is complete, and exposes the header as soon as it arrives', () => {
    const reader = new PacketReader(1024);
    const first = login.packets[0];
    reader.push(first.subarray(0, 3));
    expect(reader.peekHeader()).toBeUndefined();
    expect(reader.read()).toBeUndefined();
    reader.push(first.subarray(3, 10));
    expect(reader.peekHeader()).toEqual({ length: first.length - 4, sequenceId: 0 });
    expect(reader.read()).toBeUndefined();
    expect(reader.bufferedBytes).toBe(10);
    reader.push(first.subarray(10));
    expect(reader.read()?.payload.equals(payloadOf(first))).toBe(true);
  });

  it('reads a zero-length packet', () => {
    const reader = new PacketReader(0);
    reader.push(Buffer.from([0, 0, 0, 7]));
    const packet = reader.read();
    expect(packet?.sequenceId).toBe(7);
    expect(packet?.payload).toHaveLength(0);
  });

  it('ignores empty chunks', () => {
    const reader = new PacketReader(1024);
    reader.push(Buffer.alloc(0));
    expect(reader.bufferedBytes).toBe(0);
    expect(reader.peekHeader()).toBeUndefined();
    expect(reader.read()).toBeUndefined();
  });
});

describe('PacketReader size limit', () => {
  it('throws PacketTooLargeError as soon as a too-large header arrives, without waiting for its payload', () => {
    const reader = new PacketReader(1024);
    reader.push(encodePacketHeader(MAX_PACKET_PAYLOAD, 0));
    expect(reader.bufferedBytes).toBe(4);
    let error: unknown;
    try {
      reader.read();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PacketTooLargeError);
    expect(error).toMatchObject({ code: 'MTP_PACKET_TOO_LARGE', announced: MAX_PACKET_PAYLOAD, limit: 1024 });
    expect(reader.bufferedBytes).toBe(4);
  });

  it('throws when the header arrives together with part of the payload, buffering only what was pushed', () => {
    const reader = new PacketReader(100);
    const header = encodePacketHeader(0x10000, 3);
    reader.push(Buffer.concat([header, Buffer.alloc(10)]));
    expect(() => reader.read()).toThrow(PacketTooLargeError);
    expect(reader.bufferedBytes).toBe(14);
  });

  it('throws after a byte-by-byte header, once the 4th byte is there', () => {
    const reader = new PacketReader(100);
    const header = encodePacketHeader(101, 0);
    for (let i = 0; i < 3; i++) {
      reader.push(header.subarray(i, i + 1));
      expect(reader.read()).toBeUndefined();
    }
    reader.push(header.subarray(3));
    expect(() => reader.read()).toThrow(PacketTooLargeError);
  });

  it('accepts a payload of exactly maxPayload bytes and refuses one more', () => {
    const ok = new PacketReader(16);
    ok.push(encodePacket(Buffer.alloc(16, 1), 0));
    expect(ok.read()?.payload).toHaveLength(16);
    const tooBig = new PacketReader(16);
    tooBig.push(encodePacketHeader(17, 0));
    expect(() => tooBig.read()).toThrow(PacketTooLargeError);
  });

  it('checks the limit for a later packet in the same chunk', () => {
    const reader = new PacketReader(1024);
    reader.push(Buffer.concat([login.packets[0], encodePacketHeader(5000, 1)]));
    expect(reader.read()?.sequenceId).toBe(0);
    expect(() => reader.read()).toThrow(PacketTooLargeError);
  });
});

describe('peek and drain', () => {
  it('peek returns buffered bytes without consuming them', () => {
    const reader = new PacketReader(1024);
    expect(reader.peek(4)).toHaveLength(0);
    reader.push(loginStream.subarray(0, 2));
    reader.push(loginStream.subarray(2, 6));
    expect(reader.peek(3).equals(loginStream.subarray(0, 3))).toBe(true);
    expect(reader.peek(100).equals(loginStream.subarray(0, 6))).toBe(true);
    expect(reader.bufferedBytes).toBe(6);
    reader.push(loginStream.subarray(6));
    expect(readAll(reader)).toEqual(expected(login.packets));
  });

  it('drain returns what follows a packet (e.g. the TLS ClientHello after an SSLRequest) and empties the reader', () => {
    const sslRequest = loadFixture('mariadb-cli-ssl-request').packets[0];
    const clientHello = Buffer.from('16030100f8010000f40303', 'hex');
    const reader = new PacketReader(1024);
    reader.push(Buffer.concat([sslRequest, clientHello.subarray(0, 5)]));
    reader.push(clientHello.subarray(5));
    const packet = reader.read();
    expect(packet?.payload.equals(payloadOf(sslRequest))).toBe(true);
    expect(reader.peek(1)).toEqual(Buffer.from([0x16]));
    expect(reader.drain().equals(clientHello)).toBe(true);
    expect(reader.bufferedBytes).toBe(0);
    expect(reader.drain()).toHaveLength(0);
    expect(reader.read()).toBeUndefined();
  });

  it('drain on a partial packet returns its bytes', () => {
    const reader = new PacketReader(1024);
    reader.push(loginStream.subarray(0, 7));
    expect(reader.drain().equals(loginStream.subarray(0, 7))).toBe(true);
    expect(reader.bufferedBytes).toBe(0);
  });
});

describe('wipeLastSources', () => {
  it('zeroes the chunks a packet spanning several was copied from; unread bytes stay readable', () => {
    const secret = encodePacket(Buffer.from('secret-password'), 4);
    const next = encodePacket(Buffer.from('next'), 5);
    const all = Buffer.concat([secret, next]);
    const chunks = [Buffer.from(all.subarray(0, 8)), Buffer.from(all.subarray(8, 22))];
    const reader = new PacketReader(1024);
    chunks.forEach((c) => reader.push(c));
    const packet = reader.read()!;
    expect(packet.payload.toString()).toBe('secret-password');
    reader.wipeLastSources();
    expect(chunks.every((c) => c.every((b) => b === 0))).toBe(true);
    expect(packet.payload.toString()).toBe('secret-password'); // the caller's to wipe
    reader.push(Buffer.from(all.subarray(22)));
    expect(reader.read()!.payload.toString()).toBe('next');
  });

  it('touches nothing when the packet came in one chunk (its payload is a view the caller wipes)', () => {
    const chunk = encodePacket(Buffer.from('x'), 0);
    const reader = new PacketReader(1024);
    reader.push(chunk);
    reader.read();
    reader.wipeLastSources();
    expect(chunk).toEqual(encodePacket(Buffer.from('x'), 0));
  });
});

describe('packet header codec', () => {
  it('encodePacket / parsePacketHeader round trip on every fixture packet', () => {
    for (const packet of login.packets) {
      const header = parsePacketHeader(packet);
      expect(header).toEqual({ length: packet.length - 4, sequenceId: seqOf(packet) });
      expect(encodePacket(payloadOf(packet), seqOf(packet)).equals(packet)).toBe(true);
    }
  });

  it('parsePacketHeader honours the offset and needs 4 bytes', () => {
    expect(parsePacketHeader(Buffer.from([1, 2, 3]))).toBeUndefined();
    expect(parsePacketHeader(loginStream, loginStream.length - 3)).toBeUndefined();
    const second = login.packets[0].length;
    expect(parsePacketHeader(loginStream, second)).toEqual({ length: 0xce, sequenceId: 1 });
  });

  it('encodes 3-byte little-endian lengths and wraps the sequence id', () => {
    expect(encodePacketHeader(0x030201, 4)).toEqual(Buffer.from([1, 2, 3, 4]));
    expect(encodePacketHeader(MAX_PACKET_PAYLOAD, 255)).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    expect(encodePacketHeader(0, 256)).toEqual(Buffer.from([0, 0, 0, 0]));
    const target = Buffer.alloc(6, 0xaa);
    encodePacketHeader(5, 1, target, 2);
    expect(target).toEqual(Buffer.from([0xaa, 0xaa, 5, 0, 0, 1]));
  });

  it('encodePacketHeader rejects lengths above 0xffffff and below 0', () => {
    expect(() => encodePacketHeader(MAX_PACKET_PAYLOAD + 1, 0)).toThrow(RangeError);
    expect(() => encodePacketHeader(-1, 0)).toThrow(RangeError);
    expect(() => encodePacket(Buffer.alloc(0), 0)).not.toThrow();
  });

  it('round trips arbitrary payloads and sequence ids', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 255 }), (bytes, seq) => {
        const payload = Buffer.from(bytes);
        const packet = encodePacket(payload, seq);
        expect(parsePacketHeader(packet)).toEqual({ length: payload.length, sequenceId: seq });
        const reader = new PacketReader(300);
        reader.push(packet);
        const read = reader.read();
        expect(read?.sequenceId).toBe(seq);
        expect(read?.payload.equals(payload)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('PacketReader properties', () => {
  it('arbitrary bytes either yield packets or throw PacketTooLargeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const reader = new PacketReader(1024);
        reader.push(Buffer.from(bytes));
        try {
          let consumed = 0;
          for (let packet = reader.read(); packet; packet = reader.read()) {
            consumed += PACKET_HEADER_SIZE + packet.payload.length;
          }
          expect(consumed + reader.bufferedBytes).toBe(bytes.length);
        } catch (error) {
          expect(error).toBeInstanceOf(PacketTooLargeError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('chunking never changes the packets read', () => {
    const chunked = fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 12 }).chain((payloads) =>
      fc.record({
        stream: fc.constant(Buffer.concat(payloads.map((p, i) => encodePacket(Buffer.from(p), i)))),
        cuts: fc.array(fc.nat(), { maxLength: 10 }),
      }),
    );
    fc.assert(
      fc.property(chunked, ({ stream, cuts }) => {
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const whole = new PacketReader(64);
        whole.push(stream);
        const want = readAll(whole);
        const reader = new PacketReader(64);
        const got: Packet[] = [];
        let from = 0;
        for (const to of [...points, stream.length]) {
          reader.push(stream.subarray(from, to));
          got.push(...readAll(reader));
          from = to;
        }
        expect(got).toEqual(want);
        expect(reader.bufferedBytes).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});
