import fc from 'fast-check';
import { encodeErrPacket, ERR_HEADER, isErrPacket, parseErrPacket } from '../../../src/protocol/err-packet';
import { encodeErrReply, ErrorCode, errReplies, type ErrReply } from '../../../src/protocol/err-replies';
import { MalformedPacketError } from '../../../src/protocol/reader';
import { loadFixture, payloadOf, seqOf } from '../../helpers/fixtures';

const accessDeniedPacket = loadFixture('mariadb-err-access-denied').packets[0];
const preGreetingPacket = loadFixture('mariadb-err-pre-greeting').packets[0];
const hostBlockedPacket = loadFixture('mariadb-err-host-blocked').packets[0];
const accessDenied = payloadOf(accessDeniedPacket);
const preGreeting = payloadOf(preGreetingPacket);
const hostBlocked = payloadOf(hostBlockedPacket);

describe('captured ERR packets', () => {
  it('are ERR packets with the expected sequence ids', () => {
    for (const payload of [accessDenied, preGreeting, hostBlocked]) expect(isErrPacket(payload)).toBe(true);
    expect(seqOf(accessDeniedPacket)).toBe(2);
    expect(seqOf(preGreetingPacket)).toBe(0);
    expect(seqOf(hostBlockedPacket)).toBe(0);
  });

  it('parses access denied (4.1 format with #28000)', () => {
    expect(parseErrPacket(accessDenied)).toEqual({
      code: 1045,
      sqlState: '28000',
      message: "Access denied for user 'app'@'localhost' (using password: YES)",
    });
  });

  it('parses the pre-greeting 1040 refusal (no SQL state)', () => {
    const err = parseErrPacket(preGreeting);
    expect(err).toEqual({ code: 1040, sqlState: undefined, message: 'Too many connections' });
    expect('sqlState' in err && err.sqlState !== undefined).toBe(false);
  });

  it('parses the pre-greeting 1129 host-blocked refusal (no SQL state)', () => {
    expect(parseErrPacket(hostBlocked)).toEqual({
      code: 1129,
      sqlState: undefined,
      message:
        "Host '127.0.0.2' is blocked because of many connection errors; unblock with 'mariadb-admin flush-hosts'",
    });
  });

  it.each([
    ['access denied', accessDenied],
    ['pre-greeting 1040', preGreeting],
    ['host blocked 1129', hostBlocked],
  ])('encodeErrPacket(parseErrPacket(x)) reproduces %s byte for byte', (_name, payload) => {
    expect(encodeErrPacket(parseErrPacket(payload)).toString('hex')).toBe(payload.toString('hex'));
  });
});

describe('parseErrPacket edge cases', () => {
  it('rejects a payload that is not an ERR packet', () => {
    const ok = payloadOf(loadFixture('mariadb-cli-ed25519-login').packets[4]);
    expect(isErrPacket(ok)).toBe(false);
    expect(isErrPacket(Buffer.alloc(0))).toBe(false);
    expect(() => parseErrPacket(ok)).toThrow(MalformedPacketError);
    expect(() => parseErrPacket(Buffer.alloc(0))).toThrow(MalformedPacketError);
  });

  it('rejects a payload too short for the error code', () => {
    expect(() => parseErrPacket(Buffer.from([ERR_HEADER]))).toThrow(MalformedPacketError);
    expect(() => parseErrPacket(Buffer.from([ERR_HEADER, 0x15]))).toThrow(MalformedPacketError);
    expect(parseErrPacket(Buffer.from([ERR_HEADER, 0x15, 0x04]))).toEqual({
      code: 1045,
      sqlState: undefined,
      message: '',
    });
  });

  it('every prefix of a 4.1 ERR packet parses or throws MalformedPacketError', () => {
    for (let n = 0; n < accessDenied.length; n++) {
      try {
        const err = parseErrPacket(accessDenied.subarray(0, n));
        expect(err.code).toBe(1045);
      } catch (error) {
        expect(error).toBeInstanceOf(MalformedPacketError);
        expect(n).toBeLessThan(3);
      }
    }
  });

  it('a # marker with fewer than 5 state characters is kept in the message', () => {
    expect(parseErrPacket(accessDenied.subarray(0, 8))).toEqual({
      code: 1045,
      sqlState: undefined,
      message: '#2800',
    });
    expect(parseErrPacket(accessDenied.subarray(0, 9))).toEqual({
      code: 1045,
      sqlState: '28000',
      message: '',
    });
  });

  it('arbitrary bytes either parse or throw MalformedPacketError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        try {
          parseErrPacket(Buffer.from(bytes));
        } catch (error) {
          expect(error).toBeInstanceOf(MalformedPacketError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('arbitrary bytes after 0xff always parse', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 511 }), (bytes) => {
        const err = parseErrPacket(Buffer.from([ERR_HEADER, ...bytes]));
        expect(err.code).toBe(bytes[0] | (bytes[1] << 8));
      }),
      { numRuns: 2000 },
    );
  });

  it('parseErrPacket(encodeErrPacket(e)) returns e', () => {
    const sqlState = fc
      .uint8Array({ minLength: 5, maxLength: 5 })
      .map((b) => Buffer.from(b).toString('latin1'));
    const err = fc
      .record({
        code: fc.nat({ max: 0xffff }),
        sqlState: fc.option(sqlState, { nil: undefined }),
        message: fc.string({ unit: 'binary', maxLength: 100 }),
      })
      // without a SQL state, a message starting with '#' is indistinguishable from the 4.1 layout
      .filter((e) => e.sqlState !== undefined || !e.message.startsWith('#'));
    fc.assert(
      fc.property(err, (e) => {
        const encoded = encodeErrPacket(e);
        expect(parseErrPacket(encoded)).toEqual(e);
        expect(encodeErrPacket(parseErrPacket(encoded)).equals(encoded)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('encodeErrPacket refuses a SQL state that is not 5 characters', () => {
    expect(() => encodeErrPacket({ code: 1, sqlState: '2800', message: 'x' })).toThrow(RangeError);
    expect(() => encodeErrPacket({ code: 1, sqlState: '280000', message: 'x' })).toThrow(RangeError);
  });
});

describe('encodeErrReply', () => {
  const allErrors: Array<[string, ErrReply]> = [
    ['tooManyConnections', errReplies.tooManyConnections()],
    ['hostNotAllowed', errReplies.hostNotAllowed('10.1.2.3')],
    ['backendUnavailable', errReplies.backendUnavailable('ECONNREFUSED')],
    ['handshakeTimeout', errReplies.handshakeTimeout(10000)],
    ['badHandshake', errReplies.badHandshake('packet too large')],
    ['insecureTransport', errReplies.insecureTransport()],
    ['shuttingDown', errReplies.shuttingDown()],
  ];

  it.each(allErrors)('%s: negotiated uses the 4.1 layout with the SQL state', (_name, error) => {
    const payload = encodeErrReply(error, true);
    expect(payload[0]).toBe(ERR_HEADER);
    expect(payload.readUInt16LE(1)).toBe(error.code);
    expect(payload.subarray(3, 9).toString('latin1')).toBe('#' + error.sqlState);
    expect(payload.subarray(9).toString('utf8')).toBe(error.message);
    expect(parseErrPacket(payload)).toEqual(error);
  });

  it.each(allErrors)('%s: not negotiated uses the pre-4.1 layout without SQL state', (_name, error) => {
    const payload = encodeErrReply(error, false);
    expect(payload[0]).toBe(ERR_HEADER);
    expect(payload.readUInt16LE(1)).toBe(error.code);
    expect(payload.subarray(3).toString('utf8')).toBe(error.message);
    expect(payload.includes(Buffer.from('#' + error.sqlState))).toBe(false);
    expect(parseErrPacket(payload)).toEqual({
      code: error.code,
      sqlState: undefined,
      message: error.message,
    });
  });

  it('the pre-greeting "Too many connections" is byte-identical to what MariaDB sends', () => {
    const payload = encodeErrReply(errReplies.tooManyConnections(), false);
    expect(payload.toString('hex')).toBe(preGreeting.toString('hex'));
  });

  it('uses the MySQL error codes', () => {
    expect(errReplies.tooManyConnections().code).toBe(ErrorCode.TOO_MANY_CONNECTIONS);
    expect(ErrorCode.TOO_MANY_CONNECTIONS).toBe(1040);
    expect(errReplies.hostNotAllowed('1.2.3.4')).toEqual({
      code: 1130,
      sqlState: 'HY000',
      message: "Host '1.2.3.4' is not allowed to connect to this MySQL server",
    });
    expect(errReplies.insecureTransport().code).toBe(3159);
  });
});
