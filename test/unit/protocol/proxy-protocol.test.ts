import fc from 'fast-check';
import {
  encodeProxyV1,
  encodeProxyV2,
  encodeProxyV2Local,
  looksLikeProxyHeader,
  parseProxyHeader,
  PROXY_V2_SIGNATURE,
} from '../../../src/protocol/proxy-protocol';

const pairs = [
  [
    { address: '10.1.2.3', port: 5555 },
    { address: '127.0.0.1', port: 4000 },
  ],
  [
    { address: '2001:db8::1', port: 1 },
    { address: '::1', port: 65535 },
  ],
  [
    { address: '::ffff:10.0.0.1', port: 40000 },
    { address: '::1', port: 4000 },
  ],
] as const;

describe('PROXY protocol v2', () => {
  it.each(pairs)('round-trips %j', (source, destination) => {
    const header = encodeProxyV2(source, destination);
    const result = parseProxyHeader(Buffer.concat([header, Buffer.from('rest')]));
    expect(result).toEqual({
      status: 'ok',
      length: header.length,
      version: 2,
      command: 'proxy',
      source,
      destination,
    });
  });

  it('parses a header written out byte by byte from the spec (TCP4 192.168.1.10:51234 -> 10.0.0.5:4000)', () => {
    const bytes = Buffer.from('0d0a0d0a000d0a515549540a2111000cc0a8010a0a000005c8220fa0', 'hex');
    expect(parseProxyHeader(bytes)).toEqual({
      status: 'ok',
      length: 28,
      version: 2,
      command: 'proxy',
      source: { address: '192.168.1.10', port: 51234 },
      destination: { address: '10.0.0.5', port: 4000 },
    });
  });

  it('reports LOCAL (health checks) without addresses', () => {
    expect(parseProxyHeader(encodeProxyV2Local())).toEqual({
      status: 'ok',
      length: 16,
      version: 2,
      command: 'local',
    });
  });

  it('is incomplete at every prefix and complete at the full length', () => {
    const header = encodeProxyV2(pairs[1][0], pairs[1][1]);
    for (let i = 0; i < header.length; i++)
      expect(parseProxyHeader(header.subarray(0, i)).status).toBe('incomplete');
  });

  it('refuses an oversized payload before waiting for it', () => {
    const header = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
    expect(parseProxyHeader(header)).toMatchObject({ status: 'invalid' });
  });
});

describe('PROXY protocol v1', () => {
  it.each(pairs.slice(0, 2))('round-trips %j', (source, destination) => {
    const header = encodeProxyV1(source, destination);
    expect(parseProxyHeader(Buffer.concat([header, Buffer.from([0x20, 0, 0, 1])]))).toEqual({
      status: 'ok',
      length: header.length,
      version: 1,
      command: 'proxy',
      source,
      destination,
    });
  });

  it.each([
    'PROXY TCP4 10.0.0.1 10.0.0.2 1 2 3\r\n',
    'PROXY UDP4 10.0.0.1 10.0.0.2 1 2\r\n',
    'PROXY TCP4 ::1 10.0.0.2 1 2\r\n',
    'PROXY TCP4 10.0.0.1 10.0.0.2 65536 2\r\n',
    'PROXY TCP4 10.0.0.1 10.0.0.2 01 2\r\n',
    'PROXY ' + 'x'.repeat(120),
  ])('refuses %j', (text) => {
    expect(parseProxyHeader(Buffer.from(text, 'latin1'))).toMatchObject({ status: 'invalid' });
  });

  it('accepts UNKNOWN as a local connection', () => {
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({
      status: 'ok',
      length: 15,
      version: 1,
      command: 'local',
    });
  });
});

describe('detection', () => {
  it('recognises both signatures from their first byte on, and not MySQL or TLS bytes', () => {
    expect(looksLikeProxyHeader(Buffer.from('PRO'))).toBe(true);
    expect(looksLikeProxyHeader(PROXY_V2_SIGNATURE.subarray(0, 3))).toBe(true);
    expect(looksLikeProxyHeader(Buffer.from([0x20, 0, 0, 1]))).toBe(false);
    expect(looksLikeProxyHeader(Buffer.from([0x16, 3, 1]))).toBe(false);
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        const result = parseProxyHeader(Buffer.from(bytes));
        expect(['ok', 'incomplete', 'invalid']).toContain(result.status);
      }),
      { numRuns: 3000 },
    );
  });
});
