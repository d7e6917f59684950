/**
 * The client's clear password (sha256_password, caching_sha2_password full authentication over a
 * plain database leg) is wiped from every buffer the proxy copied it into: the bytes it received,
 * the parsed login, anything re-encoded from it. The codec is wrapped to see every buffer it hands out.
 */
import crypto from 'crypto';
import { DEFAULT_HANDSHAKE_OPTIONS, HandshakeMachine } from '../../../src/handshake/machine';
import type { HandshakeAction } from '../../../src/handshake/types';
import { encodeAuthSwitchRequest } from '../../../src/protocol/auth-packets';
import { Capability } from '../../../src/protocol/capabilities';
import { encodeGreeting } from '../../../src/protocol/greeting';
import { encodeHandshakeResponse } from '../../../src/protocol/handshake-response';
import { encodePacket } from '../../../src/protocol/packet';
import { encodeSslRequest } from '../../../src/protocol/ssl-request';

const mockHandedOut: Buffer[] = [];
jest.mock('../../../src/protocol/handshake-response', () => {
  const actual = jest.requireActual('../../../src/protocol/handshake-response');
  return {
    ...actual,
    parseHandshakeResponse: (payload: Buffer) => {
      const parsed = actual.parseHandshakeResponse(payload);
      mockHandedOut.push(parsed.authResponse);
      return parsed;
    },
    encodeHandshakeResponse: (response: unknown) => {
      const encoded = actual.encodeHandshakeResponse(response);
      mockHandedOut.push(encoded);
      return encoded;
    },
  };
});

const SECRET = Buffer.from('s3cret-pw');
const CAPS =
  Capability.LONG_PASSWORD |
  Capability.PROTOCOL_41 |
  Capability.SECURE_CONNECTION |
  Capability.PLUGIN_AUTH |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  Capability.CONNECT_WITH_DB;
const scramble = Buffer.from('abcdefghijklmnopqrst');
const greeting = (plugin: string) =>
  encodePacket(
    encodeGreeting({
      protocolVersion: 10,
      serverVersion: '8.0.36',
      connectionId: 1,
      authPluginData: scramble,
      capabilities: CAPS,
      characterSet: 45,
      statusFlags: 2,
      reserved: Buffer.alloc(10),
      authPluginName: plugin,
    }),
    0,
  );
const sslRequest = encodePacket(
  encodeSslRequest({
    capabilities: CAPS | Capability.SSL,
    maxPacketSize: 1 << 24,
    characterSet: 45,
    filler: Buffer.alloc(23),
  }),
  1,
);
const publicPem = Buffer.from(
  crypto
    .generateKeyPairSync('rsa', { modulusLength: 2048 })
    .publicKey.export({ type: 'spki', format: 'pem' }),
);
const keyPacket = (seq: number) => encodePacket(Buffer.concat([Buffer.from([0x01]), publicPem]), seq);

/** Feeds `packet` in two chunks cut inside the password, as TCP may deliver it; returns the chunks. */
function feedSplit(
  machine: HandshakeMachine,
  packet: Buffer,
): { chunks: Buffer[]; actions: HandshakeAction[] } {
  const cut = packet.indexOf(SECRET) + 3;
  const chunks = [Buffer.from(packet.subarray(0, cut)), Buffer.from(packet.subarray(cut))];
  const actions = chunks.flatMap((data) => machine.handle({ type: 'clientData', data }));
  return { chunks, actions };
}

const holds = (buffers: Buffer[]) =>
  buffers.some((b) => b.includes(SECRET.subarray(0, 6)) || b.includes(SECRET.subarray(3)));

beforeEach(() => {
  mockHandedOut.length = 0;
});

describe('the clear password is wiped wherever the proxy copied it', () => {
  it('sha256_password in the HandshakeResponse: received bytes and parsed or re-encoded copies', () => {
    const machine = new HandshakeMachine(DEFAULT_HANDSHAKE_OPTIONS);
    machine.handle({ type: 'backendData', data: greeting('sha256_password') });
    machine.handle({ type: 'clientData', data: sslRequest });
    machine.handle({ type: 'tlsEstablished' });
    const login = encodeHandshakeResponse({
      capabilities: CAPS | Capability.SSL,
      maxPacketSize: 1 << 24,
      characterSet: 45,
      filler: Buffer.alloc(23),
      username: Buffer.from('app'),
      authResponse: Buffer.concat([SECRET, Buffer.from([0])]),
      database: Buffer.from('test'),
      authPluginName: 'sha256_password',
    });
    mockHandedOut.length = 0;
    const { chunks, actions } = feedSplit(machine, encodePacket(login, 2));
    const sent = actions.flatMap((a) => (a.type === 'sendToBackend' ? [a.data] : []));
    expect(sent).toHaveLength(1);
    expect(holds(sent)).toBe(false);
    expect(holds(chunks)).toBe(false);
    expect(holds(mockHandedOut)).toBe(false);
    expect(machine.holdsSecret).toBe(true);
    machine.handle({ type: 'backendData', data: keyPacket(2) });
    expect(machine.holdsSecret).toBe(false);
  });

  it('caching_sha2_password full authentication: the clear password packet', () => {
    const machine = new HandshakeMachine(DEFAULT_HANDSHAKE_OPTIONS);
    machine.handle({ type: 'backendData', data: greeting('caching_sha2_password') });
    machine.handle({ type: 'clientData', data: sslRequest });
    machine.handle({ type: 'tlsEstablished' });
    const login = encodeHandshakeResponse({
      capabilities: CAPS | Capability.SSL,
      maxPacketSize: 1 << 24,
      characterSet: 45,
      filler: Buffer.alloc(23),
      username: Buffer.from('app'),
      authResponse: Buffer.alloc(32, 7),
      database: Buffer.from('test'),
      authPluginName: 'caching_sha2_password',
    });
    machine.handle({ type: 'clientData', data: encodePacket(login, 2) });
    machine.handle({ type: 'backendData', data: encodePacket(Buffer.from([0x01, 0x04]), 2) });
    const { chunks } = feedSplit(machine, encodePacket(Buffer.concat([SECRET, Buffer.from([0])]), 4));
    expect(holds(chunks)).toBe(false);
    expect(machine.holdsSecret).toBe(true);
    machine.handle({ type: 'backendData', data: keyPacket(4) });
    expect(machine.holdsSecret).toBe(false);
  });

  it('sha256_password after an auth switch', () => {
    const machine = new HandshakeMachine(DEFAULT_HANDSHAKE_OPTIONS);
    machine.handle({ type: 'backendData', data: greeting('caching_sha2_password') });
    machine.handle({ type: 'clientData', data: sslRequest });
    machine.handle({ type: 'tlsEstablished' });
    const login = encodeHandshakeResponse({
      capabilities: CAPS | Capability.SSL,
      maxPacketSize: 1 << 24,
      characterSet: 45,
      filler: Buffer.alloc(23),
      username: Buffer.from('app'),
      authResponse: Buffer.alloc(32, 7),
      authPluginName: 'caching_sha2_password',
    });
    machine.handle({ type: 'clientData', data: encodePacket(login, 2) });
    machine.handle({
      type: 'backendData',
      data: encodePacket(encodeAuthSwitchRequest('sha256_password', scramble), 2),
    });
    const { chunks } = feedSplit(machine, encodePacket(Buffer.concat([SECRET, Buffer.from([0])]), 4));
    expect(holds(chunks)).toBe(false);
  });
});
