import fc from 'fast-check';
import {
  AUTH_MORE_DATA_HEADER,
  AUTH_SWITCH_HEADER,
  classifyServerAuthPacket,
  encodeAuthMoreData,
  encodeAuthNextFactor,
  encodeAuthSwitchRequest,
  OK_HEADER,
  parseAuthMoreData,
  parseAuthNextFactor,
  parseAuthSwitchRequest,
} from '../../../src/protocol/auth-packets';
import { MalformedPacketError } from '../../../src/protocol/reader';
import { parseErrPacket } from '../../../src/protocol/err-packet';
import { loadFixture, payloadOf, seqOf } from '../../helpers/fixtures';

const login = loadFixture('mariadb-cli-ed25519-login');
const switchPacket = loadFixture('mariadb-auth-switch-ed25519').packets[0];

describe('classifyServerAuthPacket on captured packets', () => {
  it('classifies the ed25519 AuthSwitchRequest', () => {
    const payload = payloadOf(switchPacket);
    expect(seqOf(switchPacket)).toBe(2);
    expect(classifyServerAuthPacket(payload)).toBe('auth-switch');
    // 0xfe, plugin name, NUL, 32-byte nonce
    const nul = payload.indexOf(0, 1);
    expect(payload.toString('latin1', 1, nul)).toBe('client_ed25519');
    expect(payload.length - nul - 1).toBe(32);
  });

  it('the login contains the same AuthSwitchRequest', () => {
    expect(login.packets[2].equals(switchPacket)).toBe(true);
  });

  it('classifies the server packets of the ed25519 login: switch, then OK', () => {
    // server packets are the greeting (0), the switch (2) and the OK (4); 1 and 3 come from the client
    const server = [login.packets[2], login.packets[4]];
    expect(server.map(seqOf)).toEqual([2, 4]);
    expect(server.map((p) => classifyServerAuthPacket(payloadOf(p)))).toEqual(['auth-switch', 'ok']);
    expect(payloadOf(login.packets[4])).toEqual(Buffer.from('00000002000000', 'hex'));
  });

  it('classifies the captured ERR packets as err', () => {
    for (const name of [
      'mariadb-err-access-denied',
      'mariadb-err-pre-greeting',
      'mariadb-err-host-blocked',
    ]) {
      const payload = payloadOf(loadFixture(name).packets[0]);
      expect(classifyServerAuthPacket(payload)).toBe('err');
      expect(() => parseErrPacket(payload)).not.toThrow();
    }
  });

  it('a greeting is not an end-of-authentication packet', () => {
    expect(classifyServerAuthPacket(payloadOf(login.packets[0]))).toBe('other');
  });
});

describe('classifyServerAuthPacket by header byte', () => {
  it('maps each header byte', () => {
    expect(classifyServerAuthPacket(Buffer.from([OK_HEADER]))).toBe('ok');
    expect(classifyServerAuthPacket(Buffer.from([0xff, 0x15, 0x04]))).toBe('err');
    expect(classifyServerAuthPacket(Buffer.from([AUTH_SWITCH_HEADER]))).toBe('auth-switch');
    expect(classifyServerAuthPacket(Buffer.from([AUTH_MORE_DATA_HEADER, 0x03]))).toBe('auth-more-data');
    expect(classifyServerAuthPacket(Buffer.from([0x02]))).toBe('other');
    expect(classifyServerAuthPacket(Buffer.alloc(0))).toBe('other');
  });

  it('depends on the first byte only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
        const payload = Buffer.from(bytes);
        const expected =
          { 0x00: 'ok', 0xff: 'err', 0xfe: 'auth-switch', 0x01: 'auth-more-data' }[payload[0]] ?? 'other';
        expect(classifyServerAuthPacket(payload)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});

describe('encodeAuthSwitchRequest', () => {
  it("writes MySQL's layout (0xfe, plugin NUL, data NUL), which the parsers read back", () => {
    const scramble = Buffer.from('abcdefghijklmnopqrst');
    const payload = encodeAuthSwitchRequest('sha256_password', scramble);
    expect(payload).toEqual(Buffer.from('\xfesha256_password\0abcdefghijklmnopqrst\0', 'latin1'));
    expect(classifyServerAuthPacket(payload)).toBe('auth-switch');
    expect(parseAuthSwitchRequest(payload)).toEqual({ plugin: 'sha256_password', data: scramble });
  });
});

describe('the auth packet codec pairs', () => {
  const plugin = fc.stringMatching(/^[a-z_0-9]{1,32}$/);
  const data = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));

  it('parseAuthSwitchRequest / parseAuthNextFactor read back what the encoders wrote', () => {
    fc.assert(
      fc.property(plugin, data, (name, bytes) => {
        expect(parseAuthSwitchRequest(encodeAuthSwitchRequest(name, bytes))).toEqual({
          plugin: name,
          data: bytes,
        });
        expect(parseAuthNextFactor(encodeAuthNextFactor(name, bytes))).toEqual({ plugin: name, data: bytes });
      }),
      { numRuns: 300 },
    );
  });

  it("reads MariaDB's switch, whose data has no trailing NUL (the captured ed25519 one)", () => {
    const request = parseAuthSwitchRequest(payloadOf(switchPacket));
    expect(request.plugin).toBe('client_ed25519');
    expect(request.data).toHaveLength(32);
  });

  it('refuses a switch without a plugin name, and the wrong header', () => {
    for (const bad of [Buffer.from([0xfe]), Buffer.from([0xfe, 0]), Buffer.from('\xfeabc', 'latin1')]) {
      expect(() => parseAuthSwitchRequest(bad)).toThrow(MalformedPacketError);
    }
    expect(() => parseAuthSwitchRequest(encodeAuthNextFactor('x', Buffer.alloc(1)))).toThrow(
      MalformedPacketError,
    );
    expect(() => parseAuthNextFactor(encodeAuthSwitchRequest('x', Buffer.alloc(1)))).toThrow(
      MalformedPacketError,
    );
  });

  it('parseAuthMoreData / encodeAuthMoreData', () => {
    fc.assert(
      fc.property(data, (bytes) => expect(parseAuthMoreData(encodeAuthMoreData(bytes))).toEqual(bytes)),
    );
    expect(() => parseAuthMoreData(Buffer.from([0x02]))).toThrow(MalformedPacketError);
  });
});
