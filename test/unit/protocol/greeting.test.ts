import fc from 'fast-check';
import { Capability, hasCapability } from '../../../src/protocol/capabilities';
import {
  encodeGreeting,
  GREETING_PROTOCOL_VERSION,
  isGreeting,
  parseGreeting,
  withGreetingCapabilities,
  withGreetingCapability,
  type Greeting,
} from '../../../src/protocol/greeting';
import { MalformedPacketError } from '../../../src/protocol/reader';
import { loadFixture, payloadOf, seqOf } from '../../helpers/fixtures';

const SERVER_VERSION = '5.5.5-10.11.19-MariaDB-0+deb12u1';
const plainPacket = loadFixture('mariadb-greeting').packets[0];
const tlsPacket = loadFixture('mariadb-greeting-tls').packets[0];
const loginGreetingPacket = loadFixture('mariadb-cli-ed25519-login').packets[0];
const plain = payloadOf(plainPacket);
const tls = payloadOf(tlsPacket);

/** Offset of the low capability word: protocol byte, version + NUL, conn id, scramble part 1, filler. */
const CAP_OFFSET = 1 + SERVER_VERSION.length + 1 + 4 + 8 + 1;

function without(greeting: Greeting): Omit<Greeting, 'capabilityOffset'> {
  const { capabilityOffset: _ignored, ...rest } = greeting;
  return rest;
}

/** Parses, or returns the error thrown. */
function attempt(payload: Buffer): Greeting | Error {
  try {
    return parseGreeting(payload);
  } catch (error) {
    return error as Error;
  }
}

describe('parseGreeting on captured MariaDB greetings', () => {
  it('the fixtures are sequence 0 greetings', () => {
    for (const packet of [plainPacket, tlsPacket, loginGreetingPacket]) {
      expect(seqOf(packet)).toBe(0);
      expect(isGreeting(payloadOf(packet))).toBe(true);
    }
    expect(isGreeting(Buffer.alloc(0))).toBe(false);
    expect(isGreeting(Buffer.from([0xff, 0x10, 0x04]))).toBe(false);
  });

  it('decodes the greeting without TLS', () => {
    const g = parseGreeting(plain);
    expect(g.protocolVersion).toBe(GREETING_PROTOCOL_VERSION);
    expect(g.serverVersion).toBe(SERVER_VERSION);
    expect(g.connectionId).toBe(8);
    expect(g.authPluginData).toHaveLength(20);
    expect(g.authPluginData.toString('hex')).toBe('4840457b5d3f635459452f57494a742c783d635e');
    expect(g.authPluginName).toBe('mysql_native_password');
    expect(g.characterSet).toBe(8);
    expect(g.statusFlags).toBe(0x0002);
    expect(g.capabilities).toBe(0x81fff7fe);
    expect(g.capabilityOffset).toBe(CAP_OFFSET);
    expect(hasCapability(g.capabilities, Capability.PROTOCOL_41)).toBe(true);
    expect(hasCapability(g.capabilities, Capability.SECURE_CONNECTION)).toBe(true);
    expect(hasCapability(g.capabilities, Capability.PLUGIN_AUTH)).toBe(true);
    expect(hasCapability(g.capabilities, Capability.SSL)).toBe(false);
  });

  it('decodes the greeting with TLS', () => {
    const g = parseGreeting(tls);
    expect(g.serverVersion).toBe(SERVER_VERSION);
    expect(g.connectionId).toBe(7);
    expect(g.authPluginData.toString('hex')).toBe('66722b7946305b592e762d76312e324f7831276f');
    expect(g.authPluginName).toBe('mysql_native_password');
    expect(g.capabilities).toBe(0x81fffffe);
    expect(hasCapability(g.capabilities, Capability.PROTOCOL_41)).toBe(true);
    expect(hasCapability(g.capabilities, Capability.SSL)).toBe(true);
  });

  it('decodes the greeting at the start of the ed25519 login', () => {
    const g = parseGreeting(payloadOf(loginGreetingPacket));
    expect(g.serverVersion).toBe(SERVER_VERSION);
    expect(g.connectionId).toBe(11);
    expect(g.authPluginData).toHaveLength(20);
    expect(g.authPluginName).toBe('mysql_native_password');
  });

  it('shows the MariaDB specifics: CLIENT_MYSQL cleared, extended capabilities in reserved[6..10]', () => {
    for (const payload of [plain, tls]) {
      const g = parseGreeting(payload);
      expect(hasCapability(g.capabilities, Capability.LONG_PASSWORD)).toBe(false);
      expect(g.reserved).toHaveLength(10);
      expect(g.reserved.subarray(0, 6)).toEqual(Buffer.alloc(6));
      expect(g.reserved.readUInt32LE(6)).not.toBe(0);
      expect(g.reserved.readUInt32LE(6)).toBe(0x1d);
    }
  });

  it('copies the reserved bytes and the scramble out of the payload', () => {
    const payload = Buffer.from(plain);
    const g = parseGreeting(payload);
    payload.fill(0);
    expect(g.reserved.readUInt32LE(6)).toBe(0x1d);
    expect(g.authPluginData.toString('hex')).toBe('4840457b5d3f635459452f57494a742c783d635e');
  });

  it('rejects a protocol version other than 10', () => {
    const v9 = Buffer.from(plain);
    v9[0] = 9;
    expect(() => parseGreeting(v9)).toThrow(MalformedPacketError);
    const err = payloadOf(loadFixture('mariadb-err-pre-greeting').packets[0]);
    expect(() => parseGreeting(err)).toThrow(MalformedPacketError);
  });
});

describe('encodeGreeting', () => {
  it.each([
    ['mariadb-greeting', plain],
    ['mariadb-greeting-tls', tls],
    ['mariadb-cli-ed25519-login[0]', payloadOf(loginGreetingPacket)],
  ])('encodeGreeting(parseGreeting(x)) reproduces %s byte for byte', (_name, payload) => {
    const encoded = encodeGreeting(without(parseGreeting(payload)));
    expect(encoded.toString('hex')).toBe(payload.toString('hex'));
  });

  it('parseGreeting(encodeGreeting(g)) returns g for well-formed greetings', () => {
    const latin1NoNul = fc
      .uint8Array({ maxLength: 40 })
      .map((b) => Buffer.from(b.filter((x) => x !== 0)).toString('latin1'));
    const greeting = fc.record({
      protocolVersion: fc.constant(GREETING_PROTOCOL_VERSION),
      serverVersion: latin1NoNul,
      connectionId: fc.nat({ max: 0xffffffff }),
      authPluginData: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b)),
      capabilities: fc
        .nat({ max: 0xffffffff })
        .map(
          (c) => (c | Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH) >>> 0,
        ),
      characterSet: fc.nat({ max: 255 }),
      statusFlags: fc.nat({ max: 0xffff }),
      reserved: fc.uint8Array({ minLength: 10, maxLength: 10 }).map((b) => Buffer.from(b)),
      authPluginName: latin1NoNul,
    });
    fc.assert(
      fc.property(greeting, (g) => {
        const encoded = encodeGreeting(g);
        const parsed = parseGreeting(encoded);
        expect(without(parsed)).toEqual(g);
        expect(encodeGreeting(without(parsed)).equals(encoded)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('withGreetingCapability', () => {
  it('sets CLIENT_SSL by flipping exactly one bit of one byte', () => {
    const g = parseGreeting(plain);
    const patched = withGreetingCapability(plain, g, Capability.SSL, true);
    expect(patched).toHaveLength(plain.length);
    const changed = [...patched.keys()].filter((i) => patched[i] !== plain[i]);
    expect(changed).toEqual([CAP_OFFSET + 1]);
    expect(patched[CAP_OFFSET + 1] ^ plain[CAP_OFFSET + 1]).toBe(0x08);
    const reparsed = parseGreeting(patched);
    expect(hasCapability(reparsed.capabilities, Capability.SSL)).toBe(true);
    expect(reparsed.capabilities).toBe((g.capabilities | Capability.SSL) >>> 0);
    expect(without(reparsed)).toEqual({ ...without(g), capabilities: reparsed.capabilities });
    // the capability word is now what a TLS-enabled MariaDB sends
    expect(patched.subarray(CAP_OFFSET, CAP_OFFSET + 2)).toEqual(tls.subarray(CAP_OFFSET, CAP_OFFSET + 2));
    // the input is not modified
    expect(plain).toEqual(payloadOf(plainPacket));
  });

  it('is a no-op when the bit already has the requested value', () => {
    const g = parseGreeting(tls);
    expect(withGreetingCapability(tls, g, Capability.SSL, true).equals(tls)).toBe(true);
    expect(withGreetingCapability(plain, parseGreeting(plain), Capability.SSL, false).equals(plain)).toBe(
      true,
    );
  });

  it('clears CLIENT_SSL', () => {
    const g = parseGreeting(tls);
    const patched = withGreetingCapability(tls, g, Capability.SSL, false);
    const changed = [...patched.keys()].filter((i) => patched[i] !== tls[i]);
    expect(changed).toEqual([CAP_OFFSET + 1]);
    expect(hasCapability(parseGreeting(patched).capabilities, Capability.SSL)).toBe(false);
  });

  it('refuses flags outside the low capability word', () => {
    const g = parseGreeting(plain);
    expect(() => withGreetingCapability(plain, g, Capability.CONNECT_ATTRS, true)).toThrow(RangeError);
    expect(() => withGreetingCapability(plain, g, Capability.REMEMBER_OPTIONS, false)).toThrow(RangeError);
  });
});

describe('truncated greetings', () => {
  const full = parseGreeting(plain);

  it('every prefix either throws MalformedPacketError or parses consistently with the full greeting', () => {
    for (let n = 0; n < plain.length; n++) {
      const outcome = attempt(plain.subarray(0, n));
      if (outcome instanceof Error) {
        expect(outcome).toBeInstanceOf(MalformedPacketError);
        continue;
      }
      expect(outcome.serverVersion).toBe(full.serverVersion);
      expect(outcome.connectionId).toBe(full.connectionId);
      expect(full.authPluginData.subarray(0, outcome.authPluginData.length)).toEqual(outcome.authPluginData);
      expect(full.authPluginName.startsWith(outcome.authPluginName)).toBe(true);
    }
  });

  it('prefixes that cut a mandatory field throw MalformedPacketError', () => {
    // up to and including the low capability word, then up to the end of the 10 reserved bytes
    const reservedEnd = CAP_OFFSET + 2 + 1 + 2 + 2 + 1 + 10;
    for (let n = 0; n < reservedEnd; n++) {
      if (n === CAP_OFFSET + 2) continue; // a pre-4.1 greeting legitimately ends after the low capability word
      expect(attempt(plain.subarray(0, n))).toBeInstanceOf(MalformedPacketError);
    }
  });

  it('a greeting that ends right after the low capability word parses (pre-4.1 layout)', () => {
    const g = parseGreeting(plain.subarray(0, CAP_OFFSET + 2));
    expect(g.capabilities).toBe(0xf7fe);
    expect(g.authPluginData).toEqual(full.authPluginData.subarray(0, 8));
    expect(g.authPluginName).toBe('');
  });

  // With CLIENT_SECURE_CONNECTION the spec makes auth-plugin-data-part-2 mandatory
  // (MAX(13, auth-plugin-data-len - 8) bytes): a truncated scramble must not be relayed.
  it('a greeting cut inside auth-plugin-data-part-2 throws MalformedPacketError', () => {
    const part2Start = CAP_OFFSET + 2 + 1 + 2 + 2 + 1 + 10;
    for (let n = part2Start; n < part2Start + 12; n++) {
      expect(attempt(plain.subarray(0, n))).toBeInstanceOf(MalformedPacketError);
    }
  });

  it('a greeting without the NUL after the plugin name parses (MySQL Bug#59453 servers omit it)', () => {
    const g = parseGreeting(plain.subarray(0, plain.length - 1));
    expect(g.authPluginName).toBe('mysql_native_password');
    expect(g.authPluginData).toEqual(full.authPluginData);
  });
});

describe('parseGreeting properties', () => {
  function onlyMalformed(bytes: Uint8Array): void {
    try {
      parseGreeting(Buffer.from(bytes));
    } catch (error) {
      expect(error).toBeInstanceOf(MalformedPacketError);
    }
  }

  it('arbitrary bytes either parse or throw MalformedPacketError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), onlyMalformed), { numRuns: 2000 });
  });

  it('arbitrary bytes after protocol version 10 either parse or throw MalformedPacketError', () => {
    const greetingLike = fc
      .uint8Array({ maxLength: 511 })
      .map((rest) => Uint8Array.from([GREETING_PROTOCOL_VERSION, ...rest]));
    fc.assert(fc.property(greetingLike, onlyMalformed), { numRuns: 2000 });
  });

  it('mutated and truncated real greetings either parse or throw MalformedPacketError', () => {
    const mutated = fc
      .record({
        edits: fc.array(fc.tuple(fc.nat({ max: plain.length - 1 }), fc.nat({ max: 255 })), { maxLength: 8 }),
        length: fc.nat({ max: plain.length + 16 }),
      })
      .map(({ edits, length }) => {
        const out = Buffer.concat([plain, Buffer.alloc(16, 0x41)]);
        for (const [at, value] of edits) out[at] = value;
        return out.subarray(0, length);
      });
    fc.assert(fc.property(mutated, onlyMalformed), { numRuns: 2000 });
  });
});

describe('withGreetingCapabilities', () => {
  it('sets and clears bits in both capability words, changing nothing else', () => {
    const caps = Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH;
    const payload = encodeGreeting({
      protocolVersion: 10,
      serverVersion: '8.0.36',
      connectionId: 9,
      authPluginData: Buffer.from('abcdefghijklmnopqrst'),
      capabilities: caps | Capability.COMPRESS | Capability.ZSTD_COMPRESSION_ALGORITHM,
      characterSet: 255,
      statusFlags: 0xffff,
      reserved: Buffer.alloc(10, 0xee),
      authPluginName: 'caching_sha2_password',
    });
    const g = parseGreeting(payload);
    const out = withGreetingCapabilities(
      payload,
      g,
      Capability.SSL,
      Capability.COMPRESS | Capability.ZSTD_COMPRESSION_ALGORITHM,
    );
    const parsed = parseGreeting(out);
    expect(parsed.capabilities).toBe((caps | Capability.SSL) >>> 0);
    expect({ ...parsed, capabilities: 0 }).toEqual({ ...g, capabilities: 0 });
    const changed = [...out.keys()].filter((i) => out[i] !== payload[i]);
    expect(
      changed.every((i) =>
        [g.capabilityOffset, g.capabilityOffset + 1, g.capabilityOffset + 5, g.capabilityOffset + 6].includes(
          i,
        ),
      ),
    ).toBe(true);
  });
});
