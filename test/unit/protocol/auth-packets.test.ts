import fc from 'fast-check';
import {
  AUTH_MORE_DATA_HEADER,
  AUTH_SWITCH_HEADER,
  classifyServerAuthPacket,
  encodeAuthSwitchRequest,
  OK_HEADER,
} from '../../../src/protocol/auth-packets';
import { authSwitchPlugin } from '../../../src/handshake/aborted-login';
import { authSwitchScramble } from '../../../src/protocol/caching-sha2';
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
    expect(authSwitchPlugin(payload)).toBe('sha256_password');
    expect(authSwitchScramble(payload)).toEqual(scramble);
  });
});
