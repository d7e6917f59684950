import { Capability, hasCapability } from './capabilities';
import { MalformedPacketError, PayloadReader } from './reader';

/**
 * Initial handshake packet (Protocol::HandshakeV10), sent by the server with sequence id 0.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_v10.html
 * MariaDB variant (extended capabilities in the reserved bytes): https://mariadb.com/kb/en/connection/#initial-handshake-packet
 */
export interface Greeting {
  protocolVersion: number;
  serverVersion: string;
  connectionId: number;
  /** The full scramble (part 1 + part 2, without the trailing NUL). */
  authPluginData: Buffer;
  capabilities: number;
  characterSet: number;
  statusFlags: number;
  /** The 10 reserved bytes as sent (MariaDB keeps its extended capabilities in the last 4). */
  reserved: Buffer;
  authPluginName: string;
  /** Offset within the payload of the low 16 capability bits, for in-place relaying. */
  capabilityOffset: number;
}

export const GREETING_PROTOCOL_VERSION = 10;

export function isGreeting(payload: Buffer): boolean {
  return payload.length > 0 && payload[0] === GREETING_PROTOCOL_VERSION;
}

export function parseGreeting(payload: Buffer): Greeting {
  const r = new PayloadReader(payload);
  const protocolVersion = r.u8('protocol version');
  if (protocolVersion !== GREETING_PROTOCOL_VERSION) {
    throw new MalformedPacketError(`unsupported greeting protocol version ${protocolVersion}`);
  }
  const serverVersion = r.nulTerminated('server version').toString('latin1');
  const connectionId = r.u32('connection id');
  const part1 = r.bytes(8, 'auth-plugin-data-part-1');
  r.u8('filler');
  const capabilityOffset = r.offset;
  let capabilities = r.u16('capability flags');
  let characterSet = 0;
  let statusFlags = 0;
  let reserved: Buffer = Buffer.alloc(10);
  let authPluginName = '';
  let authPluginData: Buffer = Buffer.from(part1);
  if (r.remaining > 0) {
    characterSet = r.u8('character set');
    statusFlags = r.u16('status flags');
    capabilities = (capabilities | (r.u16('capability flags upper') << 16)) >>> 0;
    const authDataLength = r.u8('auth plugin data length');
    reserved = r.bytes(10, 'reserved');
    if (hasCapability(capabilities, Capability.SECURE_CONNECTION)) {
      const part2Length = Math.max(13, authDataLength - 8);
      const part2 = r.bytes(part2Length, 'auth-plugin-data-part-2');
      // part 2 ends with a NUL that is not part of the scramble
      const trimmed = part2.length > 0 && part2[part2.length - 1] === 0 ? part2.subarray(0, -1) : part2;
      authPluginData = Buffer.concat([part1, trimmed]);
    }
    if (hasCapability(capabilities, Capability.PLUGIN_AUTH) && r.remaining > 0) {
      const rest = r.rest();
      const nul = rest.indexOf(0);
      authPluginName = (nul >= 0 ? rest.subarray(0, nul) : rest).toString('latin1');
    }
  }
  return {
    protocolVersion,
    serverVersion,
    connectionId,
    authPluginData,
    capabilities,
    characterSet,
    statusFlags,
    reserved: Buffer.from(reserved),
    authPluginName,
    capabilityOffset,
  };
}

export function encodeGreeting(greeting: Omit<Greeting, 'capabilityOffset'>): Buffer {
  const version = Buffer.from(greeting.serverVersion + '\0', 'latin1');
  const head = Buffer.alloc(1 + version.length + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let o = 0;
  head[o++] = greeting.protocolVersion;
  version.copy(head, o);
  o += version.length;
  head.writeUInt32LE(greeting.connectionId, o);
  o += 4;
  greeting.authPluginData.copy(head, o, 0, 8);
  o += 8;
  head[o++] = 0;
  head.writeUInt16LE(greeting.capabilities & 0xffff, o);
  o += 2;
  head[o++] = greeting.characterSet;
  head.writeUInt16LE(greeting.statusFlags, o);
  o += 2;
  head.writeUInt16LE(greeting.capabilities >>> 16, o);
  o += 2;
  head[o++] = hasCapability(greeting.capabilities, Capability.PLUGIN_AUTH)
    ? greeting.authPluginData.length + 1
    : 0;
  greeting.reserved.copy(head, o, 0, 10);
  const parts: Buffer[] = [head];
  if (hasCapability(greeting.capabilities, Capability.SECURE_CONNECTION)) {
    const part2 = greeting.authPluginData.subarray(8);
    const padded = Buffer.alloc(Math.max(13, part2.length + 1));
    part2.copy(padded);
    parts.push(padded);
  }
  if (hasCapability(greeting.capabilities, Capability.PLUGIN_AUTH)) {
    parts.push(Buffer.from(greeting.authPluginName + '\0', 'latin1'));
  }
  return Buffer.concat(parts);
}

/**
 * The greeting exactly as the server sent it, except that the low capability word gets `flag`
 * set (or cleared). Relay, don't rebuild: every other byte, MariaDB's extended capabilities
 * included, is preserved.
 */
export function withGreetingCapability(
  payload: Buffer,
  greeting: Greeting,
  flag: number,
  enabled: boolean,
): Buffer {
  if (flag > 0xffff) throw new RangeError('only the low capability word is patched in place');
  const out = Buffer.from(payload);
  const low = out.readUInt16LE(greeting.capabilityOffset);
  out.writeUInt16LE(enabled ? low | flag : low & ~flag, greeting.capabilityOffset);
  return out;
}

/**
 * The greeting exactly as the server sent it, except for the capability bits in `set` (set) and
 * `clear` (cleared), in both capability words (the upper one only when the greeting has it).
 */
export function withGreetingCapabilities(
  payload: Buffer,
  greeting: Greeting,
  set: number,
  clear: number,
): Buffer {
  const out = Buffer.from(payload);
  const patch = (offset: number, shift: number): void => {
    const word = out.readUInt16LE(offset);
    out.writeUInt16LE((word | ((set >>> shift) & 0xffff)) & ~((clear >>> shift) & 0xffff) & 0xffff, offset);
  };
  patch(greeting.capabilityOffset, 0);
  // after the low word: character set (1), status flags (2), then the upper word
  const upper = greeting.capabilityOffset + 5;
  if (out.length >= upper + 2) patch(upper, 16);
  return out;
}
