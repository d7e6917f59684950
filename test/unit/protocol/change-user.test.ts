import fc from 'fast-check';
import { Capability } from '../../../src/protocol/capabilities';
import { parseChangeUser, spliceChangeUser } from '../../../src/protocol/change-user';
import { MalformedPacketError } from '../../../src/protocol/reader';

const CAPS =
  Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH | Capability.CONNECT_ATTRS;
const attrs = Buffer.from([8, 1, 0x6b, 1, 0xff, 1, 0x6c, 1, 0x76]); // k=\xff, l=v
const command = (auth: Buffer, tail = Buffer.concat([Buffer.from('caching_sha2_password\0'), attrs])) =>
  Buffer.concat([
    Buffer.from('\x11bob\0'),
    Buffer.from([auth.length]),
    auth,
    Buffer.from('db\0\x21\x00'),
    tail,
  ]);

describe('parseChangeUser', () => {
  it('reads every field, attributes as bytes, the auth data as a view', () => {
    const payload = command(Buffer.alloc(32, 7));
    const c = parseChangeUser(payload, CAPS);
    expect(c.username.toString()).toBe('bob');
    expect(c.authResponse).toEqual(Buffer.alloc(32, 7));
    expect(c.database.toString()).toBe('db');
    expect(c.characterSet).toBe(0x21);
    expect(c.authPluginName).toBe('caching_sha2_password');
    expect(c.attributes).toEqual([
      [Buffer.from('k'), Buffer.from([0xff])],
      [Buffer.from('l'), Buffer.from('v')],
    ]);
    payload.fill(0, c.spans.authResponse[0] + 1, c.spans.authResponse[1]);
    expect(c.authResponse).toEqual(Buffer.alloc(32));
  });

  it('reads an old client command (no character set onwards) and NUL-terminated auth data', () => {
    const old = Buffer.from('\x11bob\0scrambled\0db\0');
    const c = parseChangeUser(old, Capability.PROTOCOL_41);
    expect(c.authResponse.toString()).toBe('scrambled');
    expect(c.database.toString()).toBe('db');
    expect(c.spans.attributes).toBeUndefined();
  });

  it.each([
    ['another command', Buffer.from('\x03SELECT 1')],
    ['a user name without NUL', Buffer.from('\x11bob')],
    ['auth data past the end', Buffer.from('\x11bob\0\x30abc')],
    ['no database', Buffer.from('\x11bob\0\x00')],
    ['a truncated character set', Buffer.from('\x11bob\0\x00db\0\x21')],
    ['attributes past the end', command(Buffer.alloc(0), Buffer.from('p\0\x20\x01\x61'))],
  ])('refuses %s', (_name, payload) => {
    expect(() => parseChangeUser(payload, CAPS)).toThrow(MalformedPacketError);
  });

  it('any bytes parse or throw MalformedPacketError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 0xffffffff }), (bytes, caps) => {
        try {
          parseChangeUser(Buffer.concat([Buffer.from([0x11]), Buffer.from(bytes)]), caps);
        } catch (error) {
          expect(error).toBeInstanceOf(MalformedPacketError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('spliceChangeUser', () => {
  it('replaces the auth data and the attributes, every other byte as sent', () => {
    const payload = command(Buffer.from('clear-pw\0'));
    const c = parseChangeUser(payload, CAPS);
    const mine: Array<[Buffer, Buffer]> = [[Buffer.from('_client_ip'), Buffer.from('127.0.0.1')]];
    const out = spliceChangeUser(payload, c, CAPS, { authResponse: Buffer.from([1]), attributes: mine });
    const parsed = parseChangeUser(out, CAPS);
    expect(parsed.authResponse).toEqual(Buffer.from([1]));
    expect(parsed.attributes).toEqual(mine);
    expect({ ...parsed, authResponse: 0, attributes: 0, spans: 0 }).toEqual({
      ...c,
      authResponse: 0,
      attributes: 0,
      spans: 0,
    });
    expect(out.includes(Buffer.from('clear-pw'))).toBe(false);
  });

  it('inserts attributes after the plugin name when the command has none', () => {
    const payload = command(Buffer.alloc(20), Buffer.from('mysql_native_password\0'));
    const c = parseChangeUser(payload, CAPS);
    expect(c.attributes).toBeUndefined();
    const mine: Array<[Buffer, Buffer]> = [[Buffer.from('a'), Buffer.from('b')]];
    expect(
      parseChangeUser(spliceChangeUser(payload, c, CAPS, { attributes: mine }), CAPS).attributes,
    ).toEqual(mine);
  });

  it('has no place for attributes after a plugin name without its NUL', () => {
    const payload = command(Buffer.alloc(20), Buffer.from('mysql_native_password'));
    const c = parseChangeUser(payload, CAPS);
    expect(() => spliceChangeUser(payload, c, CAPS, { attributes: [] })).toThrow(MalformedPacketError);
  });
});
