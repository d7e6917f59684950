import fc from 'fast-check';
import { Capability, hasCapability, withoutCapability } from '../../../src/protocol/capabilities';
import { MalformedPacketError } from '../../../src/protocol/reader';
import {
  encodeSslRequest,
  isSslRequest,
  parseSslRequest,
  SSL_REQUEST_LENGTH,
} from '../../../src/protocol/ssl-request';
import { loadFixture, payloadOf, seqOf } from '../../helpers/fixtures';

const mariadbPacket = loadFixture('mariadb-cli-ssl-request').packets[0];
const opensslPacket = loadFixture('openssl-ssl-request').packets[0];
const mariadb = payloadOf(mariadbPacket);
const openssl = payloadOf(opensslPacket);

function withCaps(payload: Buffer, caps: number): Buffer {
  const out = Buffer.from(payload);
  out.writeUInt32LE(caps >>> 0, 0);
  return out;
}

describe('captured SSLRequests', () => {
  it('are 32-byte payloads with sequence id 1', () => {
    for (const packet of [mariadbPacket, opensslPacket]) {
      expect(seqOf(packet)).toBe(1);
      expect(payloadOf(packet)).toHaveLength(SSL_REQUEST_LENGTH);
      expect(isSslRequest(payloadOf(packet))).toBe(true);
    }
  });

  it('parses the mariadb CLI SSLRequest', () => {
    const r = parseSslRequest(mariadb);
    expect(r.capabilities).toBe(0x00bfaa84);
    expect(hasCapability(r.capabilities, Capability.SSL)).toBe(true);
    expect(hasCapability(r.capabilities, Capability.PROTOCOL_41)).toBe(true);
    // MariaDB clients clear CLIENT_MYSQL when talking to MariaDB
    expect(hasCapability(r.capabilities, Capability.LONG_PASSWORD)).toBe(false);
    expect(r.maxPacketSize).toBe(0x00100000);
    expect(r.characterSet).toBe(33);
    expect(r.filler).toHaveLength(23);
    expect(r.filler.subarray(0, 19)).toEqual(Buffer.alloc(19));
    // MariaDB extended capabilities in the last 4 filler bytes (same value as the server offers)
    expect(r.filler.readUInt32LE(19)).toBe(0x1d);
  });

  it('parses the openssl s_client SSLRequest', () => {
    const r = parseSslRequest(openssl);
    expect(r.capabilities).toBe(0x007fae85);
    expect(hasCapability(r.capabilities, Capability.SSL)).toBe(true);
    expect(hasCapability(r.capabilities, Capability.PROTOCOL_41)).toBe(true);
    expect(r.maxPacketSize).toBe(0x01000000);
    expect(r.characterSet).toBe(33);
    expect(r.filler).toEqual(Buffer.alloc(23));
  });

  it.each([
    ['mariadb CLI', mariadb],
    ['openssl', openssl],
  ])('encodeSslRequest(parseSslRequest(x)) reproduces the %s bytes', (_name, payload) => {
    expect(encodeSslRequest(parseSslRequest(payload)).toString('hex')).toBe(payload.toString('hex'));
  });

  it('copies the filler out of the payload', () => {
    const payload = Buffer.from(mariadb);
    const r = parseSslRequest(payload);
    payload.fill(0);
    expect(r.filler.readUInt32LE(19)).toBe(0x1d);
  });
});

describe('invalid SSLRequests', () => {
  it('rejects every other length', () => {
    for (let n = 0; n <= 64; n++) {
      if (n === SSL_REQUEST_LENGTH) continue;
      const payload = Buffer.concat([mariadb, Buffer.alloc(32)]).subarray(0, n);
      expect(isSslRequest(payload)).toBe(false);
      expect(() => parseSslRequest(payload)).toThrow(MalformedPacketError);
    }
  });

  it('a HandshakeResponse (longer than 32 bytes, CLIENT_SSL set or not) is not an SSLRequest', () => {
    const response = payloadOf(loadFixture('mariadb-cli-handshake-response').packets[0]);
    expect(isSslRequest(response)).toBe(false);
    expect(isSslRequest(withCaps(response, response.readUInt32LE(0) | Capability.SSL))).toBe(false);
  });

  it('rejects a 32-byte packet without CLIENT_SSL', () => {
    for (const payload of [mariadb, openssl]) {
      const noSsl = withCaps(payload, withoutCapability(payload.readUInt32LE(0), Capability.SSL));
      expect(isSslRequest(noSsl)).toBe(false);
      expect(() => parseSslRequest(noSsl)).toThrow(MalformedPacketError);
      expect(() => parseSslRequest(noSsl)).toThrow(/CLIENT_SSL/);
    }
  });

  it('rejects an SSLRequest without CLIENT_PROTOCOL_41', () => {
    for (const payload of [mariadb, openssl]) {
      const old = withCaps(payload, withoutCapability(payload.readUInt32LE(0), Capability.PROTOCOL_41));
      expect(() => parseSslRequest(old)).toThrow(MalformedPacketError);
      expect(() => parseSslRequest(old)).toThrow(/PROTOCOL_41/);
    }
  });
});

describe('SSLRequest properties', () => {
  it('arbitrary bytes either parse or throw MalformedPacketError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const payload = Buffer.from(bytes);
        try {
          parseSslRequest(payload);
        } catch (error) {
          expect(error).toBeInstanceOf(MalformedPacketError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('arbitrary 32-byte payloads: parse succeeds exactly when CLIENT_SSL and CLIENT_PROTOCOL_41 are set', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const payload = Buffer.from(bytes);
        const caps = payload.readUInt32LE(0);
        const valid = hasCapability(caps, Capability.SSL) && hasCapability(caps, Capability.PROTOCOL_41);
        expect(isSslRequest(payload)).toBe(hasCapability(caps, Capability.SSL));
        if (valid) {
          expect(encodeSslRequest(parseSslRequest(payload)).equals(payload)).toBe(true);
        } else {
          expect(() => parseSslRequest(payload)).toThrow(MalformedPacketError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
