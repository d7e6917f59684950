/**
 * PROXY protocol v1 (text) and v2 (binary) headers, as sent by load balancers in front of the proxy
 * and by the proxy to a backend that trusts it (MariaDB proxy_protocol_networks, TiDB
 * proxy-protocol.networks). Pure: bytes in, result out.
 * https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt
 */
import net from 'node:net';

export const PROXY_V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** A v1 header is at most 107 bytes including CRLF. */
const V1_MAX_LENGTH = 107;
/** v2 payloads carry addresses and optional TLVs; anything larger is hostile. */
const V2_MAX_PAYLOAD = 2048;

export interface ProxyAddress {
  address: string;
  port: number;
}

export type ProxyHeaderResult =
  | { status: 'incomplete' }
  | { status: 'invalid'; reason: string }
  | {
      status: 'ok';
      /** Bytes the header occupies; what follows belongs to the proxied connection. */
      length: number;
      version: 1 | 2;
      /** 'local': the balancer's own connection (health check) — use the socket's address. */
      command: 'proxy' | 'local';
      source?: ProxyAddress;
      destination?: ProxyAddress;
    };

/** True when `data` starts like a PROXY header (either version), judging from what has arrived. */
export function looksLikeProxyHeader(data: Buffer): boolean {
  const v1 = Math.min(data.length, V1_PREFIX.length);
  if (v1 > 0 && data.subarray(0, v1).equals(V1_PREFIX.subarray(0, v1))) return true;
  const v2 = Math.min(data.length, PROXY_V2_SIGNATURE.length);
  return v2 > 0 && data.subarray(0, v2).equals(PROXY_V2_SIGNATURE.subarray(0, v2));
}

export function parseProxyHeader(data: Buffer): ProxyHeaderResult {
  if (data.length === 0) return { status: 'incomplete' };
  if (data[0] === V1_PREFIX[0]) return parseV1(data);
  if (data[0] === PROXY_V2_SIGNATURE[0]) return parseV2(data);
  return { status: 'invalid', reason: 'no PROXY protocol header' };
}

function parseV1(data: Buffer): ProxyHeaderResult {
  const prefix = data.subarray(0, Math.min(data.length, V1_PREFIX.length));
  if (!prefix.equals(V1_PREFIX.subarray(0, prefix.length)))
    return { status: 'invalid', reason: 'no PROXY protocol header' };
  const end = data.indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    return data.length >= V1_MAX_LENGTH
      ? { status: 'invalid', reason: 'v1 header longer than 107 bytes' }
      : { status: 'incomplete' };
  }
  if (end + 2 > V1_MAX_LENGTH) return { status: 'invalid', reason: 'v1 header longer than 107 bytes' };
  const fields = data.toString('latin1', 0, end).split(' ');
  const length = end + 2;
  if (fields[1] === 'UNKNOWN') return { status: 'ok', length, version: 1, command: 'local' };
  if (fields.length !== 6) return { status: 'invalid', reason: 'v1 header must have 6 fields' };
  const [, family, srcAddress, dstAddress, srcPort, dstPort] = fields;
  const expected = family === 'TCP4' ? 4 : family === 'TCP6' ? 6 : 0;
  if (expected === 0)
    return { status: 'invalid', reason: `v1 family '${family}' is not TCP4, TCP6 or UNKNOWN` };
  if (net.isIP(srcAddress) !== expected || net.isIP(dstAddress) !== expected) {
    return { status: 'invalid', reason: `v1 addresses are not ${family} addresses` };
  }
  const source = port(srcPort);
  const destination = port(dstPort);
  if (source === undefined || destination === undefined)
    return { status: 'invalid', reason: 'v1 port out of range' };
  return {
    status: 'ok',
    length,
    version: 1,
    command: 'proxy',
    source: { address: srcAddress, port: source },
    destination: { address: dstAddress, port: destination },
  };
}

function port(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const value = Number(text);
  return value <= 65535 && !(text.length > 1 && text[0] === '0') ? value : undefined;
}

function parseV2(data: Buffer): ProxyHeaderResult {
  const signature = data.subarray(0, Math.min(data.length, PROXY_V2_SIGNATURE.length));
  if (!signature.equals(PROXY_V2_SIGNATURE.subarray(0, signature.length))) {
    return { status: 'invalid', reason: 'no PROXY protocol header' };
  }
  if (data.length < 16) return { status: 'incomplete' };
  const versionCommand = data[12];
  if (versionCommand >> 4 !== 2) return { status: 'invalid', reason: `v2 version ${versionCommand >> 4}` };
  const command = versionCommand & 0x0f;
  if (command > 1) return { status: 'invalid', reason: `v2 command ${command}` };
  const payloadLength = data.readUInt16BE(14);
  if (payloadLength > V2_MAX_PAYLOAD)
    return { status: 'invalid', reason: `v2 payload of ${payloadLength} bytes` };
  const length = 16 + payloadLength;
  if (data.length < length) return { status: 'incomplete' };
  if (command === 0) return { status: 'ok', length, version: 2, command: 'local' };
  const familyProtocol = data[13];
  const payload = data.subarray(16, length);
  if (familyProtocol === 0x11) {
    // TCP over IPv4: 4 + 4 + 2 + 2 bytes
    if (payloadLength < 12) return { status: 'invalid', reason: 'v2 IPv4 address block too short' };
    return {
      status: 'ok',
      length,
      version: 2,
      command: 'proxy',
      source: { address: [...payload.subarray(0, 4)].join('.'), port: payload.readUInt16BE(8) },
      destination: { address: [...payload.subarray(4, 8)].join('.'), port: payload.readUInt16BE(10) },
    };
  }
  if (familyProtocol === 0x21) {
    // TCP over IPv6: 16 + 16 + 2 + 2 bytes
    if (payloadLength < 36) return { status: 'invalid', reason: 'v2 IPv6 address block too short' };
    return {
      status: 'ok',
      length,
      version: 2,
      command: 'proxy',
      source: { address: ipv6(payload.subarray(0, 16)), port: payload.readUInt16BE(32) },
      destination: { address: ipv6(payload.subarray(16, 32)), port: payload.readUInt16BE(34) },
    };
  }
  if (familyProtocol === 0x00) return { status: 'ok', length, version: 2, command: 'local' };
  return { status: 'invalid', reason: `v2 family/protocol 0x${familyProtocol.toString(16)} is not TCP` };
}

function ipv6(bytes: Buffer): string {
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes.readUInt16BE(10) === 0xffff) {
    return `::ffff:${[...bytes.subarray(12, 16)].join('.')}`; // IPv4-mapped: keep it readable
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Normalise (compress zeros) through the URL parser's canonical form.
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}

/** A v2 PROXY header for a TCP connection from `source` to `destination` (same address family). */
export function encodeProxyV2(source: ProxyAddress, destination: ProxyAddress): Buffer {
  const family = net.isIP(source.address);
  if (family === 0 || family !== net.isIP(destination.address)) {
    throw new RangeError('source and destination must be IP addresses of the same family');
  }
  const addressLength = family === 4 ? 12 : 36;
  const out = Buffer.alloc(16 + addressLength);
  PROXY_V2_SIGNATURE.copy(out, 0);
  out[12] = 0x21; // version 2, PROXY
  out[13] = family === 4 ? 0x11 : 0x21;
  out.writeUInt16BE(addressLength, 14);
  const size = family === 4 ? 4 : 16;
  addressBytes(source.address, family).copy(out, 16);
  addressBytes(destination.address, family).copy(out, 16 + size);
  out.writeUInt16BE(source.port, 16 + 2 * size);
  out.writeUInt16BE(destination.port, 16 + 2 * size + 2);
  return out;
}

/** A v2 LOCAL header: the backend should use the connection's own addresses. */
export function encodeProxyV2Local(): Buffer {
  const out = Buffer.alloc(16);
  PROXY_V2_SIGNATURE.copy(out, 0);
  out[12] = 0x20;
  return out;
}

/** A v1 header (for tests and for balancers that only speak v1). */
export function encodeProxyV1(source: ProxyAddress, destination: ProxyAddress): Buffer {
  const family = net.isIP(source.address) === 6 ? 'TCP6' : 'TCP4';
  return Buffer.from(
    `PROXY ${family} ${source.address} ${destination.address} ${source.port} ${destination.port}\r\n`,
    'latin1',
  );
}

function addressBytes(address: string, family: number): Buffer {
  if (family === 4) return Buffer.from(address.split('.').map(Number));
  const [head, tail = ''] = address.includes('::')
    ? address.split('::')
    : [address, undefined as unknown as string];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = address.includes('::') && tail ? tail.split(':') : [];
  const expand = (groups: string[]): string[] =>
    groups.flatMap((group) => (group.includes('.') ? ipv4AsGroups(group) : [group]));
  const h = expand(headGroups);
  const t = expand(tailGroups);
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), i * 2));
  return out;
}

function ipv4AsGroups(dotted: string): string[] {
  const [a, b, c, d] = dotted.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
