import { X509Certificate } from 'node:crypto';
import {
  certificateSignatureAlgorithm,
  COMPRESSION_DEFLATE,
  decodeOid,
  encodeClientHello,
  EXT_RENEGOTIATION_INFO,
  parseServerFlight,
} from '../../../src/protocol';
import { generateDevCertificates } from '../../../src/tls/dev-certs';

function record(type: number, body: Buffer): Buffer {
  const header = Buffer.from([type, 3, 3, 0, 0]);
  header.writeUInt16BE(body.length, 3);
  return Buffer.concat([header, body]);
}

function handshake(type: number, body: Buffer): Buffer {
  const header = Buffer.from([type, 0, 0, 0]);
  header.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([header, body]);
}

function u24(n: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntBE(n, 0, 3);
  return b;
}

const serverHello = handshake(
  2,
  Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7),
    Buffer.from([4, 1, 2, 3, 4]), // session id
    Buffer.from([0xc0, 0x2f, 0]), // cipher, compression null
    Buffer.from([0, 4, 0xff, 0x01, 0, 0]), // renegotiation_info
  ]),
);

describe('TLS first flight', () => {
  it('the ClientHello is one handshake record with our ciphers and compression methods', () => {
    const hello = encodeClientHello({
      random: Buffer.alloc(32),
      cipherSuites: [0xc02f],
      compressionMethods: [COMPRESSION_DEFLATE, 0],
      extensions: [],
    });
    expect(hello[0]).toBe(22);
    expect(hello.readUInt16BE(3)).toBe(hello.length - 5);
    expect(hello[5]).toBe(1); // ClientHello
    expect(hello.subarray(5 + 4 + 2 + 32 + 1).subarray(0, 7)).toEqual(
      Buffer.from([0, 2, 0xc0, 0x2f, 2, 1, 0]),
    );
  });

  it('reads ServerHello and the certificates in the order sent, across records', () => {
    const certs = [Buffer.from('leaf'), Buffer.from('intermediate')];
    const list = Buffer.concat(certs.map((c) => Buffer.concat([u24(c.length), c])));
    const certificate = handshake(11, Buffer.concat([u24(list.length), list]));
    const bytes = Buffer.concat([
      record(22, serverHello),
      record(22, certificate.subarray(0, 5)),
      record(22, certificate.subarray(5)),
    ]);
    expect(parseServerFlight(bytes.subarray(0, bytes.length - 3))).toBeUndefined();
    const flight = parseServerFlight(bytes)!;
    expect(flight.serverHello).toMatchObject({
      cipherSuite: 0xc02f,
      compressionMethod: 0,
      sessionId: Buffer.from([1, 2, 3, 4]),
    });
    expect(flight.serverHello!.extensionTypes).toEqual([EXT_RENEGOTIATION_INFO]);
    expect(flight.certificates).toEqual(certs);
  });

  it('an alert instead of a ServerHello', () => {
    expect(parseServerFlight(record(21, Buffer.from([2, 70])))).toEqual({
      alert: { level: 2, description: 70 },
    });
  });

  it('refuses what is not TLS', () => {
    expect(() => parseServerFlight(Buffer.from('\x05\x00\x00\x01\xffJunk'))).toThrow(/record type/);
  });
});

describe('certificate signature algorithm', () => {
  it('decodes OIDs', () => {
    expect(decodeOid(Buffer.from('2a864886f70d01010b', 'hex'))).toBe('1.2.840.113549.1.1.11');
  });

  it.each([
    ['ecdsa', 'ecdsa-with-SHA256'],
    ['rsa', 'sha256WithRSAEncryption'],
  ] as const)('%s dev certificate: %s', async (keyType, expected) => {
    const pem = await generateDevCertificates({ hosts: ['localhost'], keyType, rsaBits: 2048, days: 2 });
    expect(certificateSignatureAlgorithm(new X509Certificate(pem.serverCert).raw)).toBe(expected);
  });

  it('refuses truncated DER', () => {
    expect(() => certificateSignatureAlgorithm(Buffer.from([0x30, 0x82, 0x05]))).toThrow();
  });
});
