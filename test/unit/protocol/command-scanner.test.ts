import { COM_CHANGE_USER, CommandScanner } from '../../../src/protocol/command-scanner';
import { encodePacket } from '../../../src/protocol/packet';

const query = encodePacket(Buffer.from('\x03SELECT 1'), 0);
const resultContinuation = encodePacket(Buffer.from([0x11, 1, 2]), 1); // seq 1: not a command
const changeUser = encodePacket(Buffer.concat([Buffer.from([COM_CHANGE_USER]), Buffer.from('bob\0')]), 0);
const empty = encodePacket(Buffer.alloc(0), 0);

/** Feeds `chunks` the way the relay does (held bytes first) and returns where the command was found. */
function feed(chunks: Buffer[]): { forwarded: number; foundAt?: number } {
  const scanner = new CommandScanner(COM_CHANGE_USER);
  let held = Buffer.alloc(0);
  let forwarded = 0;
  for (const chunk of chunks) {
    const data = Buffer.concat([held, chunk]);
    const { until, found } = scanner.scan(data);
    forwarded += until;
    if (found) return { forwarded, foundAt: forwarded };
    held = Buffer.from(data.subarray(until));
  }
  return { forwarded };
}

describe('CommandScanner', () => {
  const stream = Buffer.concat([query, resultContinuation, empty, query, changeUser, query]);
  const expectedAt = query.length * 2 + resultContinuation.length + empty.length;

  it('finds COM_CHANGE_USER after other packets, passing 0x11 bytes that are not at a command start', () => {
    expect(feed([stream])).toEqual({ forwarded: expectedAt, foundAt: expectedAt });
  });

  it('finds it at every split point, never forwarding a byte of it', () => {
    for (let split = 0; split <= stream.length; split++) {
      const result = feed([stream.subarray(0, split), stream.subarray(split)]);
      expect(result.foundAt).toBe(expectedAt);
    }
  });

  it('finds it when the stream comes one byte at a time', () => {
    expect(feed([...stream].map((b) => Buffer.from([b]))).foundAt).toBe(expectedAt);
  });

  it('forwards everything when there is no such command, including a 16 MiB packet split anywhere', () => {
    const payload = Buffer.alloc(0xffffff, 0x11);
    payload[0] = 0x03; // a COM_QUERY of 16 MiB - 1 full of 0x11 bytes, continued below
    const big = encodePacket(payload, 0);
    const tail = encodePacket(Buffer.from([0x11]), 1);
    const all = Buffer.concat([query, big, tail, query]);
    expect(feed([all.subarray(0, 1000), all.subarray(1000, 5_000_000), all.subarray(5_000_000)])).toEqual({
      forwarded: all.length,
    });
  });

  it('starts over at a packet boundary after reset', () => {
    const scanner = new CommandScanner(COM_CHANGE_USER);
    expect(scanner.scan(query.subarray(0, 6))).toEqual({ until: 6, found: false });
    scanner.reset();
    expect(scanner.scan(changeUser)).toEqual({ until: 0, found: true });
  });
});
