import { readFileSync } from 'fs';
import * as path from 'path';
import fc from 'fast-check';
import { Capability, hasCapability } from '../../../src/protocol/capabilities';
import {
  encodeHandshakeResponse,
  HANDSHAKE_RESPONSE_FIXED_LENGTH,
  parseHandshakeResponse,
  peekUsername,
  spliceHandshakeResponse,
  withClientCapabilities,
  type HandshakeResponse,
} from '../../../src/protocol/handshake-response';
import { MalformedPacketError } from '../../../src/protocol/reader';
import { fixtureNames, loadFixture, payloadOf, seqOf } from '../../helpers/fixtures';

const mariadbPacket = loadFixture('mariadb-cli-handshake-response').packets[0];
const mysql2Packet = loadFixture('mysql2-handshake-response').packets[0];
const edLoginPacket = loadFixture('mariadb-cli-ed25519-login').packets[1];
const mariadb = payloadOf(mariadbPacket);
const mysql2 = payloadOf(mysql2Packet);
const edLogin = payloadOf(edLoginPacket);

function attrs(r: HandshakeResponse): Map<string, string> {
  return new Map((r.attributes ?? []).map(([k, v]) => [k.toString(), v.toString()]));
}
const text = (pairs: HandshakeResponse['attributes']) => pairs?.map(([k, v]) => [k.toString(), v.toString()]);

function attempt(payload: Buffer): HandshakeResponse | Error {
  try {
    return parseHandshakeResponse(payload);
  } catch (error) {
    return error as Error;
  }
}

describe('captured HandshakeResponse41 packets', () => {
  it('have sequence id 1', () => {
    expect([mariadbPacket, mysql2Packet, edLoginPacket].map(seqOf)).toEqual([1, 1, 1]);
  });

  it('parses the mariadb CLI response', () => {
    const r = parseHandshakeResponse(mariadb);
    expect(r.capabilities).toBe(0x00bfa284);
    expect(hasCapability(r.capabilities, Capability.PROTOCOL_41)).toBe(true);
    expect(hasCapability(r.capabilities, Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA)).toBe(true);
    expect(hasCapability(r.capabilities, Capability.CONNECT_WITH_DB)).toBe(false);
    expect(hasCapability(r.capabilities, Capability.SSL)).toBe(false);
    expect(r.maxPacketSize).toBe(0x00100000);
    expect(r.characterSet).toBe(33);
    expect(r.filler.readUInt32LE(19)).toBe(0x1d);
    expect(r.username.toString()).toBe('app');
    expect(r.authResponse).toHaveLength(20);
    expect(r.authResponse.toString('hex')).toBe('7bc87b324f2efec229ec3a59faece38fd14d804b');
    expect(r.database).toBeUndefined();
    expect(r.authPluginName).toBe('mysql_native_password');
    expect(r.zstdCompressionLevel).toBeUndefined();
    expect(r.attributes?.map(([k]) => k.toString())).toEqual([
      '_os',
      '_client_name',
      '_pid',
      '_client_version',
      '_platform',
      'program_name',
      '_server_host',
    ]);
    const a = attrs(r);
    expect(a.get('_client_name')).toBe('libmariadb');
    expect(a.get('_client_version')).toBe('3.3.20');
    expect(a.get('program_name')).toBe('mysql');
    expect(a.get('_server_host')).toBe('127.0.0.1');
  });

  it('parses the mysql2 response (user app, database test)', () => {
    const r = parseHandshakeResponse(mysql2);
    expect(r.capabilities).toBe(0x08baf3ce);
    expect(hasCapability(r.capabilities, Capability.CONNECT_WITH_DB)).toBe(true);
    expect(hasCapability(r.capabilities, Capability.CONNECT_ATTRS)).toBe(true);
    expect(hasCapability(r.capabilities, Capability.PLUGIN_AUTH)).toBe(true);
    expect(r.maxPacketSize).toBe(0);
    expect(r.characterSet).toBe(0xe0);
    expect(r.filler.subarray(0, 19)).toEqual(Buffer.alloc(19));
    // mysql2 sets one MariaDB extended capability (bit 3 of the extended word, 1 << 35 overall)
    expect(r.filler.readUInt32LE(19)).toBe(0x08);
    expect(r.username.toString()).toBe('app');
    expect(r.authResponse).toHaveLength(20);
    expect(r.database?.toString()).toBe('test');
    expect(r.authPluginName).toBe('mysql_native_password');
    expect(text(r.attributes)).toEqual([
      ['_client_name', 'Node-MySQL-2'],
      ['_client_version', '3.24.6'],
    ]);
  });

  it('parses the first HandshakeResponse of the ed25519 login', () => {
    const r = parseHandshakeResponse(edLogin);
    expect(r.username.toString()).toBe('edu');
    expect(r.authPluginName).toBe('mysql_native_password');
    expect(attrs(r).get('_client_name')).toBe('libmariadb');
  });

  it.each([
    ['mariadb CLI', mariadb],
    ['mysql2', mysql2],
    ['ed25519 login', edLogin],
  ])('encodeHandshakeResponse(parseHandshakeResponse(x)) reproduces the %s bytes', (_name, payload) => {
    expect(encodeHandshakeResponse(parseHandshakeResponse(payload)).toString('hex')).toBe(
      payload.toString('hex'),
    );
  });

  it('copies the names out of the payload; the auth response is a view, wiped with the payload', () => {
    const payload = Buffer.from(mysql2);
    const r = parseHandshakeResponse(payload);
    expect(r.authResponse.equals(parseHandshakeResponse(mysql2).authResponse)).toBe(true);
    payload.fill(0);
    expect(r.username.toString()).toBe('app');
    expect(r.database?.toString()).toBe('test');
    expect(r.authResponse.equals(Buffer.alloc(20))).toBe(true);
  });

  it('knows where the auth response and the attributes sit', () => {
    const r = parseHandshakeResponse(mysql2);
    const [authStart, authEnd] = r.spans.authResponse;
    expect(mysql2.subarray(authStart, authEnd)).toEqual(Buffer.concat([Buffer.from([20]), r.authResponse]));
    const [attrStart, attrEnd] = r.spans.attributes!;
    expect(attrEnd).toBe(mysql2.length);
    expect(mysql2[attrStart]).toBe(attrEnd - attrStart - 1);
  });

  it('no fixture contains the clear password app-secret', () => {
    const secret = Buffer.from('app-secret', 'ascii');
    const dir = path.resolve(__dirname, '..', '..', 'fixtures');
    for (const name of fixtureNames()) {
      for (const packet of loadFixture(name).packets) expect(packet.includes(secret)).toBe(false);
      const text = readFileSync(path.join(dir, `${name}.json`), 'utf8');
      expect(text.includes('app-secret')).toBe(false);
      expect(text.toLowerCase().includes(secret.toString('hex'))).toBe(false);
    }
  });

  it('rejects a response without CLIENT_PROTOCOL_41', () => {
    const old = withClientCapabilities(mysql2, mysql2.readUInt32LE(0) & ~Capability.PROTOCOL_41);
    expect(() => parseHandshakeResponse(old)).toThrow(MalformedPacketError);
  });
});

describe('peekUsername', () => {
  it('reads the user name of the captured responses', () => {
    expect(peekUsername(mariadb)).toBe('app');
    expect(peekUsername(mysql2)).toBe('app');
    expect(peekUsername(edLogin)).toBe('edu');
  });

  it('returns undefined when there is no complete user name', () => {
    expect(peekUsername(Buffer.alloc(0))).toBeUndefined();
    expect(peekUsername(mysql2.subarray(0, HANDSHAKE_RESPONSE_FIXED_LENGTH))).toBeUndefined();
    expect(peekUsername(mysql2.subarray(0, HANDSHAKE_RESPONSE_FIXED_LENGTH + 3))).toBeUndefined();
    expect(peekUsername(mysql2.subarray(0, HANDSHAKE_RESPONSE_FIXED_LENGTH + 4))).toBe('app');
    // an SSLRequest has no user name
    const sslRequest = payloadOf(loadFixture('mariadb-cli-ssl-request').packets[0]);
    expect(peekUsername(sslRequest)).toBeUndefined();
  });

  it('returns an empty name for an anonymous login', () => {
    const anonymous = Buffer.concat([
      mysql2.subarray(0, HANDSHAKE_RESPONSE_FIXED_LENGTH),
      Buffer.from([0, 0]),
    ]);
    expect(peekUsername(anonymous)).toBe('');
  });
});

describe('withClientCapabilities', () => {
  it.each([
    ['mariadb CLI', mariadb],
    ['mysql2', mysql2],
  ])('changes only bytes 0..3 of the %s response', (_name, payload) => {
    const caps = (payload.readUInt32LE(0) | Capability.SSL | Capability.REMEMBER_OPTIONS) >>> 0;
    const patched = withClientCapabilities(payload, caps);
    expect(patched).toHaveLength(payload.length);
    expect(patched.readUInt32LE(0)).toBe(caps);
    expect(patched.subarray(4).equals(payload.subarray(4))).toBe(true);
    const changed = [...patched.keys()].filter((i) => patched[i] !== payload[i]);
    expect(changed.every((i) => i < 4)).toBe(true);
    expect(changed.length).toBeGreaterThan(0);
    const reparsed = parseHandshakeResponse(patched);
    expect(reparsed).toEqual({ ...parseHandshakeResponse(payload), capabilities: caps });
  });

  it('works on an SSLRequest and refuses fewer than 4 bytes', () => {
    const sslRequest = payloadOf(loadFixture('openssl-ssl-request').packets[0]);
    const patched = withClientCapabilities(sslRequest, 0x12345678);
    expect(patched.readUInt32LE(0)).toBe(0x12345678);
    expect(patched.subarray(4)).toEqual(sslRequest.subarray(4));
    expect(() => withClientCapabilities(Buffer.alloc(3), 0)).toThrow(MalformedPacketError);
  });

  it('does not modify its input', () => {
    const copy = Buffer.from(mysql2);
    withClientCapabilities(mysql2, 0);
    expect(mysql2.equals(copy)).toBe(true);
  });
});

describe('truncated HandshakeResponses', () => {
  it.each([
    ['mariadb CLI', mariadb],
    ['mysql2', mysql2],
  ])(
    'every prefix of the %s response parses or throws MalformedPacketError, nothing else',
    (_name, payload) => {
      const full = parseHandshakeResponse(payload);
      let parsed = 0;
      let malformed = 0;
      for (let n = 0; n < payload.length; n++) {
        const outcome = attempt(payload.subarray(0, n));
        if (outcome instanceof Error) {
          expect(outcome).toBeInstanceOf(MalformedPacketError);
          malformed++;
          continue;
        }
        parsed++;
        // whatever was parsed agrees with the full response
        expect(outcome.capabilities).toBe(full.capabilities);
        expect(outcome.username).toEqual(full.username);
        if (outcome.authResponse.length > 0) expect(outcome.authResponse).toEqual(full.authResponse);
        if (outcome.database) expect(outcome.database).toEqual(full.database);
        if (outcome.authPluginName !== undefined) {
          expect(full.authPluginName?.startsWith(outcome.authPluginName)).toBe(true);
        }
        expect(outcome.attributes).toBeUndefined();
      }
      expect(malformed).toBeGreaterThan(0);
      expect(parsed).toBeGreaterThan(0);
    },
  );

  it('prefixes that cut the fixed part, the user name or the auth response throw', () => {
    for (const payload of [mariadb, mysql2]) {
      // 32 fixed bytes, 'app\0', 1 length byte + 20 auth bytes
      for (let n = 0; n < HANDSHAKE_RESPONSE_FIXED_LENGTH + 4 + 21; n++) {
        if (n === HANDSHAKE_RESPONSE_FIXED_LENGTH + 4) continue; // ends after the user name: no auth data
        expect(attempt(payload.subarray(0, n))).toBeInstanceOf(MalformedPacketError);
      }
    }
  });

  it('prefixes that cut the connection attributes throw', () => {
    const attrsStart = mariadb.length - 1 - 0x7e;
    expect(mariadb[attrsStart]).toBe(0x7e);
    for (let n = attrsStart + 1; n < mariadb.length; n++) {
      expect(attempt(mariadb.subarray(0, n))).toBeInstanceOf(MalformedPacketError);
    }
  });
});

describe('HandshakeResponse properties', () => {
  function onlyMalformed(bytes: Uint8Array): void {
    try {
      parseHandshakeResponse(Buffer.from(bytes));
    } catch (error) {
      expect(error).toBeInstanceOf(MalformedPacketError);
    }
  }

  it('arbitrary bytes either parse or throw MalformedPacketError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), onlyMalformed), { numRuns: 2000 });
  });

  it('arbitrary bytes with CLIENT_PROTOCOL_41 set either parse or throw MalformedPacketError', () => {
    const withProtocol41 = fc.uint8Array({ minLength: 4, maxLength: 512 }).map((bytes) => {
      const out = Buffer.from(bytes);
      out[1] |= 0x02;
      return out;
    });
    fc.assert(fc.property(withProtocol41, onlyMalformed), { numRuns: 2000 });
  });

  it('mutated and truncated real responses either parse or throw MalformedPacketError', () => {
    const mutated = fc
      .record({
        base: fc.constantFrom(mariadb, mysql2),
        edits: fc.array(fc.tuple(fc.nat({ max: 205 }), fc.nat({ max: 255 })), { maxLength: 8 }),
        length: fc.nat({ max: 240 }),
      })
      .map(({ base, edits, length }) => {
        const out = Buffer.concat([base, Buffer.alloc(30, 0xfc)]);
        for (const [at, value] of edits) out[at % base.length] = value;
        return out.subarray(0, length);
      });
    fc.assert(fc.property(mutated, onlyMalformed), { numRuns: 2000 });
  });

  it('parseHandshakeResponse(encodeHandshakeResponse(r)) returns r for well-formed responses', () => {
    const noNul = (max: number) =>
      fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b.filter((x) => x !== 0)));
    const response = fc
      .record({
        capabilities: fc.nat({ max: 0xffffffff }).map((c) => (c | Capability.PROTOCOL_41) >>> 0),
        maxPacketSize: fc.nat({ max: 0xffffffff }),
        characterSet: fc.nat({ max: 255 }),
        filler: fc.uint8Array({ minLength: 23, maxLength: 23 }).map((b) => Buffer.from(b)),
        username: noNul(40),
        authResponse: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
        database: noNul(40),
        authPluginName: noNul(30).map((b) => b.toString('latin1')),
        attributes: fc.array(
          fc.tuple(
            fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
            fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          ),
          { maxLength: 6 },
        ),
        zstdCompressionLevel: fc.nat({ max: 255 }),
      })
      .map((r): HandshakeResponse => {
        const has = (flag: number) => hasCapability(r.capabilities, flag);
        let authResponse = r.authResponse;
        if (!has(Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
          if (has(Capability.SECURE_CONNECTION)) authResponse = authResponse.subarray(0, 255);
          else authResponse = Buffer.from(authResponse.filter((x) => x !== 0));
        }
        const out: HandshakeResponse = {
          capabilities: r.capabilities,
          maxPacketSize: r.maxPacketSize,
          characterSet: r.characterSet,
          filler: r.filler,
          username: r.username,
          authResponse,
        };
        if (has(Capability.CONNECT_WITH_DB)) out.database = r.database;
        if (has(Capability.PLUGIN_AUTH)) out.authPluginName = r.authPluginName;
        if (has(Capability.CONNECT_ATTRS)) out.attributes = r.attributes;
        if (has(Capability.ZSTD_COMPRESSION_ALGORITHM)) out.zstdCompressionLevel = r.zstdCompressionLevel;
        return out;
      });
    fc.assert(
      fc.property(response, (r) => {
        const encoded = encodeHandshakeResponse(r);
        const { spans: _spans, ...parsed } = parseHandshakeResponse(encoded);
        expect(parsed).toEqual(r);
        expect(encodeHandshakeResponse(parsed).equals(encoded)).toBe(true);
        expect(peekUsername(encoded)).toBe(r.username.toString('utf8'));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('spliceHandshakeResponse', () => {
  const BASE =
    Capability.LONG_PASSWORD |
    Capability.PROTOCOL_41 |
    Capability.SECURE_CONNECTION |
    Capability.PLUGIN_AUTH |
    Capability.CONNECT_WITH_DB;
  const login = (caps: number, tail: Buffer = Buffer.alloc(0)) =>
    Buffer.concat([
      encodeHandshakeResponse({
        capabilities: caps,
        maxPacketSize: 1 << 24,
        characterSet: 45,
        filler: Buffer.alloc(23),
        username: Buffer.from('app'),
        authResponse: Buffer.from('pw-clear'),
        database: Buffer.from('db'),
        authPluginName: 'sha256_password',
      }),
      tail,
    ]);
  // attributes with bytes that are not UTF-8: a re-encode through strings would change them
  const invalid: Array<[Buffer, Buffer]> = [
    [Buffer.from('_client_ip'), Buffer.from('10.9.9.9')],
    [Buffer.from('k'), Buffer.from([0x78, 0xff, 0xc3])],
  ];
  const block = (pairs: Array<[Buffer, Buffer]>) =>
    Buffer.concat(pairs.flatMap(([k, v]) => [Buffer.from([k.length]), k, Buffer.from([v.length]), v]));
  const withAttrs = (caps: number, pairs: Array<[Buffer, Buffer]>) => {
    const b = block(pairs);
    return login(caps | Capability.CONNECT_ATTRS, Buffer.concat([Buffer.from([b.length]), b]));
  };

  it('keeps attribute bytes as sent (invalid UTF-8 included)', () => {
    const r = parseHandshakeResponse(withAttrs(BASE, invalid));
    expect(r.attributes).toEqual(invalid);
  });

  it.each([
    ['lenenc', Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA],
    ['1-byte length', 0],
    ['NUL-terminated', -Capability.SECURE_CONNECTION],
  ])('replaces a %s auth response and nothing else', (_name, flag) => {
    const caps = (BASE + flag) >>> 0;
    const payload = withAttrs(caps, invalid);
    const r = parseHandshakeResponse(payload);
    const out = spliceHandshakeResponse(payload, r.spans, { authResponse: Buffer.from([0x01]) });
    const { spans: _a, ...before } = r;
    const { spans: _b, ...after } = parseHandshakeResponse(out);
    expect(after).toEqual({ ...before, authResponse: Buffer.from([0x01]) });
    expect(out.includes(Buffer.from('pw'))).toBe(false);
    expect(out.subarray(out.length - block(invalid).length)).toEqual(block(invalid)); // byte for byte
  });

  it('replaces the attributes block and sets new capabilities, keeping trailing bytes (zstd level)', () => {
    const caps = BASE | Capability.ZSTD_COMPRESSION_ALGORITHM;
    const b = block(invalid);
    const payload = login(caps | Capability.CONNECT_ATTRS, Buffer.from([b.length, ...b, 7]));
    const r = parseHandshakeResponse(payload);
    const mine: Array<[Buffer, Buffer]> = [[Buffer.from('_client_ip'), Buffer.from('127.0.0.1')]];
    const caps2 = caps | Capability.CONNECT_ATTRS | Capability.FOUND_ROWS;
    const out = spliceHandshakeResponse(payload, r.spans, { attributes: mine, capabilities: caps2 });
    const parsed = parseHandshakeResponse(out);
    expect(out.readUInt32LE(0)).toBe(caps2 >>> 0);
    expect(parsed.attributes).toEqual(mine);
    expect(out[out.length - 1]).toBe(7);
    expect(parsed.authResponse).toEqual(Buffer.from('pw-clear'));
  });

  it('inserts attributes where the client sent none, before a zstd level', () => {
    const payload = login(BASE | Capability.ZSTD_COMPRESSION_ALGORITHM, Buffer.from([9]));
    const r = parseHandshakeResponse(payload);
    expect(r.attributes).toBeUndefined();
    const mine: Array<[Buffer, Buffer]> = [[Buffer.from('a'), Buffer.from('b')]];
    const caps = BASE | Capability.ZSTD_COMPRESSION_ALGORITHM | Capability.CONNECT_ATTRS;
    const parsed = parseHandshakeResponse(
      spliceHandshakeResponse(payload, r.spans, { attributes: mine, capabilities: caps }),
    );
    expect(parsed.attributes).toEqual(mine);
    expect(parsed.zstdCompressionLevel).toBe(9);
    expect(parsed.authPluginName).toBe('sha256_password');
  });

  it('has no place for attributes when a field the capabilities announce is missing', () => {
    // CLIENT_PLUGIN_AUTH without a NUL-terminated name: attributes inserted after it would be read as the name
    const cut = login(BASE).subarray(0, -1);
    const r = parseHandshakeResponse(cut);
    expect(r.spans.attributes).toBeUndefined();
    expect(() => spliceHandshakeResponse(cut, r.spans, { attributes: [] })).toThrow(MalformedPacketError);
    const noAuth = login(BASE).subarray(0, HANDSHAKE_RESPONSE_FIXED_LENGTH + 4);
    expect(parseHandshakeResponse(noAuth).spans.attributes).toBeUndefined();
  });

  it.each([
    ['a block longer than the packet', (b: Buffer) => Buffer.from([b.length + 10, ...b])],
    ['a pair longer than the block', (b: Buffer) => Buffer.from([b.length - 2, ...b.subarray(0, -2)])],
    ['a key without its value', () => Buffer.from([2, 1, 0x61])],
    ['a length prefix 0xff', (b: Buffer) => Buffer.from([0xff, ...b])],
  ])('refuses %s with MalformedPacketError', (_name, make) => {
    const payload = login(BASE | Capability.CONNECT_ATTRS, make(block(invalid)));
    expect(() => parseHandshakeResponse(payload)).toThrow(MalformedPacketError);
  });

  it('refuses an auth response longer than the packet', () => {
    const payload = login(BASE);
    const r = parseHandshakeResponse(payload);
    payload[r.spans.authResponse[0]] = 200;
    expect(() => parseHandshakeResponse(payload)).toThrow(MalformedPacketError);
  });
});
