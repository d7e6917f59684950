/**
 * Captured wire bytes from test/fixtures/*.json. Each fixture holds either `hex` (one packet) or
 * `packets` (several, in wire order); every hex string is a full packet: 4-byte header + payload.
 */
import { readdirSync, readFileSync } from 'fs';
import * as path from 'path';

export interface Fixture {
  description: string;
  packets: Buffer[];
}

const FIXTURE_DIR = path.resolve(__dirname, '..', 'fixtures');

/** Loads `test/fixtures/<name>.json` (the `.json` suffix is optional). */
export function loadFixture(name: string): Fixture {
  const file = path.join(FIXTURE_DIR, name.endsWith('.json') ? name : `${name}.json`);
  const json = JSON.parse(readFileSync(file, 'utf8')) as {
    description?: unknown;
    hex?: unknown;
    packets?: unknown;
  };
  let hexes: string[];
  if (typeof json.hex === 'string') hexes = [json.hex];
  else if (Array.isArray(json.packets) && json.packets.every((p) => typeof p === 'string')) {
    hexes = json.packets as string[];
  } else throw new Error(`fixture ${name} has neither 'hex' nor 'packets'`);
  const packets = hexes.map((hex, i) => {
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`fixture ${name} packet ${i} is not hex`);
    const packet = Buffer.from(hex, 'hex');
    checkPacket(packet, `fixture ${name} packet ${i}`);
    return packet;
  });
  return { description: typeof json.description === 'string' ? json.description : '', packets };
}

function checkPacket(packet: Buffer, what: string): void {
  if (packet.length < 4) throw new Error(`${what} is shorter than a packet header`);
  const length = packet.readUIntLE(0, 3);
  if (packet.length !== 4 + length) {
    throw new Error(`${what}: header announces ${length} payload bytes, ${packet.length - 4} present`);
  }
}

/** The payload of a full packet (a view, header stripped). */
export function payloadOf(packet: Buffer): Buffer {
  checkPacket(packet, 'packet');
  return packet.subarray(4);
}

/** The sequence id of a full packet. */
export function seqOf(packet: Buffer): number {
  checkPacket(packet, 'packet');
  return packet[3];
}

/** The single packet of a one-packet fixture. */
export function onlyPacket(name: string): Buffer {
  const { packets } = loadFixture(name);
  if (packets.length !== 1) throw new Error(`fixture ${name} has ${packets.length} packets, expected 1`);
  return packets[0];
}

/** Every fixture name in test/fixtures (without `.json`). */
export function fixtureNames(): string[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}
