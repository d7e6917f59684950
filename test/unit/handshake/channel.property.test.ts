/**
 * The per-leg channel: whatever the payloads, however the bytes are split, and whichever side
 * speaks next, both ends of a leg agree on every sequence id, and a wrong id is refused.
 */
import fc from 'fast-check';
import { PacketChannel } from '../../../src/handshake/channel';
import { encodePacket, PacketTooLargeError } from '../../../src/protocol/packet';
import { MalformedPacketError } from '../../../src/protocol/reader';

const MAX = 4096;
const payloadArb = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((a) => Buffer.from(a));

/** Splits `bytes` at the given cut points (fractions of its length). */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

describe('PacketChannel', () => {
  it('reads back what the other end framed, in order, however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.array(payloadArb, { maxLength: 40 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }),
        (payloads, cuts) => {
          const writer = new PacketChannel('client', MAX);
          const reader = new PacketChannel('backend', MAX);
          const wire = Buffer.concat(payloads.map((p) => writer.frame(p)));
          const got: Buffer[] = [];
          for (const chunk of split(wire, cuts)) {
            reader.push(chunk);
            for (let p = reader.read(); p; p = reader.read()) got.push(Buffer.from(p.payload));
          }
          expect(got).toEqual(payloads);
          expect(reader.nextSequence).toBe(writer.nextSequence);
          expect(reader.nextSequence).toBe(payloads.length & 0xff);
        },
      ),
    );
  });

  it('keeps both ends in step over a conversation in both directions, commands restarting at 0', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('a' as const), payload: payloadArb }),
      fc.record({ kind: fc.constant('b' as const), payload: payloadArb }),
      fc.record({ kind: fc.constant('command' as const), payload: payloadArb }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 600 }), (steps) => {
        const a = new PacketChannel('client', MAX);
        const b = new PacketChannel('backend', MAX);
        for (const s of steps) {
          if (s.kind === 'command') {
            a.startCommand();
            b.startCommand();
          }
          const [from, to] = s.kind === 'b' ? [b, a] : [a, b];
          to.push(from.frame(s.payload));
          const packet = to.read();
          expect(packet?.payload.equals(s.payload)).toBe(true);
          expect(a.nextSequence).toBe(b.nextSequence);
        }
      }),
    );
  });

  it('refuses any packet whose sequence id is not the one due', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (due, sent) => {
        fc.pre(due !== sent);
        const channel = new PacketChannel('client', MAX);
        for (let i = 0; i < due; i++) channel.frame(Buffer.alloc(0));
        channel.push(encodePacket(Buffer.from([1]), sent));
        expect(() => channel.read()).toThrow(MalformedPacketError);
        expect(() => {
          const fresh = new PacketChannel('client', MAX);
          for (let i = 0; i < due; i++) fresh.frame(Buffer.alloc(0));
          fresh.push(encodePacket(Buffer.from([1]), sent));
          fresh.read();
        }).toThrow(`client packet sequence id ${sent} where ${due} was expected`);
      }),
    );
  });

  it('wraps after 255 and counts on from the greeting the server numbered', () => {
    const channel = new PacketChannel('backend', MAX);
    channel.push(encodePacket(Buffer.from([10]), 1));
    expect(channel.readFirst()?.sequenceId).toBe(1);
    expect(channel.nextSequence).toBe(2);
    for (let i = 0; i < 254; i++) channel.frame(Buffer.alloc(0));
    expect(channel.nextSequence).toBe(0);
  });

  it('refuses a header announcing more than the cap before buffering its payload', () => {
    const channel = new PacketChannel('client', MAX);
    channel.push(Buffer.from([0xff, 0xff, 0x00, 0x00]));
    expect(() => channel.read()).toThrow(PacketTooLargeError);
  });

  it('hands over unread bytes and leaves nothing behind', () => {
    const channel = new PacketChannel('client', MAX);
    channel.push(Buffer.from([1, 0, 0, 0, 5, 9, 9]));
    expect(channel.read()?.payload).toEqual(Buffer.from([5]));
    expect(channel.drain()).toEqual(Buffer.from([9, 9]));
    expect(channel.bufferedBytes).toBe(0);
  });
});
