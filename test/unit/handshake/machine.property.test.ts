/**
 * Hostile input at every phase of the connection phase: whatever bytes arrive, split however,
 * the machine ends with a clean close and a reason from the closed list, never an exception, and
 * never buffers more than its packet cap.
 */
import fc from 'fast-check';
import { CLOSE_REASONS } from '../../../src/handshake/close-reason';
import { DEFAULT_HANDSHAKE_OPTIONS, HandshakeMachine } from '../../../src/handshake/machine';
import type { HandshakeAction, HandshakeEvent } from '../../../src/handshake/types';
import { Capability } from '../../../src/protocol/capabilities';
import { parseGreeting } from '../../../src/protocol/greeting';
import { encodeHandshakeResponse } from '../../../src/protocol/handshake-response';
import { encodePacket } from '../../../src/protocol/packet';
import { encodeSslRequest } from '../../../src/protocol/ssl-request';
import { loadFixture } from '../../helpers/fixtures';

const options = { ...DEFAULT_HANDSHAKE_OPTIONS, maxPacketSize: 4096 };
const CAPS =
  Capability.LONG_PASSWORD |
  Capability.PROTOCOL_41 |
  Capability.SECURE_CONNECTION |
  Capability.PLUGIN_AUTH |
  Capability.CONNECT_ATTRS;
const greeting = loadFixture('mariadb-greeting').packets[0];
const sslRequest = encodePacket(
  encodeSslRequest({
    capabilities: CAPS | Capability.SSL,
    maxPacketSize: 1 << 24,
    characterSet: 33,
    filler: Buffer.alloc(23),
  }),
  1,
);
const login = encodePacket(
  encodeHandshakeResponse({
    capabilities: CAPS | Capability.SSL,
    maxPacketSize: 1 << 24,
    characterSet: 33,
    filler: Buffer.alloc(23),
    username: Buffer.from('app'),
    authResponse: Buffer.alloc(20, 1),
    authPluginName: 'mysql_native_password',
    attributes: [['_client_name', 'prop']],
  }),
  2,
);
const validReasons = new Set<string>(CLOSE_REASONS);

/** Splits `bytes` at the given cut points into chunks. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(last, point));
    last = point;
  }
  chunks.push(bytes.subarray(last));
  return chunks;
}

function check(actions: HandshakeAction[]): void {
  for (const action of actions) {
    if (action.type === 'closeClient') expect(validReasons.has(action.reason)).toBe(true);
    if (action.type === 'sendToClient' || action.type === 'sendToBackend')
      expect(action.data.length).toBeLessThanOrEqual(4 + 4096 + 64);
  }
}

/** Drives a machine to a phase, then feeds hostile bytes from `side`. */
function run(phase: number, side: 'client' | 'backend', hostile: Buffer, cuts: number[]): HandshakeAction[] {
  const machine = new HandshakeMachine(options, () => ({ ip: '127.0.0.1', port: 1 }));
  const all: HandshakeAction[] = [];
  const feed = (event: HandshakeEvent) => {
    const actions = machine.handle(event);
    check(actions);
    all.push(...actions);
  };
  if (phase >= 1) feed({ type: 'backendData', data: greeting });
  if (phase >= 2) feed({ type: 'clientData', data: sslRequest });
  if (phase >= 3)
    feed({ type: 'tlsEstablished', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' } });
  if (phase >= 4) feed({ type: 'clientData', data: login });
  for (const chunk of split(hostile, cuts))
    feed(side === 'client' ? { type: 'clientData', data: chunk } : { type: 'backendData', data: chunk });
  // However it went, the end events must still be handled cleanly.
  feed({
    type: 'abort',
    reason: 'handshake_timeout',
    error: { code: 1043, sqlState: '08S01', message: 'timeout' },
  });
  feed({ type: 'backendClosed', reason: 'backend_closed', detail: 'gone' });
  return all;
}

describe('HandshakeMachine under hostile input', () => {
  it('survives arbitrary bytes from either side at every phase, split anywhere', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom<'client' | 'backend'>('client', 'backend'),
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (phase, side, bytes, cuts) => {
          const actions = run(phase, side, Buffer.from(bytes), cuts);
          expect(actions.filter((a) => a.type === 'closeClient').length).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('survives arbitrary bytes from either side during a COM_CHANGE_USER, split anywhere', () => {
    const context = {
      greeting: parseGreeting(greeting.subarray(4)),
      plugin: 'caching_sha2_password',
      scramble: Buffer.alloc(20, 7),
      capabilities: CAPS,
      attributes: [[Buffer.from('_client_ip'), Buffer.from('10.0.0.1')]] as Array<[Buffer, Buffer]>,
    };
    const changeUser = encodePacket(Buffer.from('\x11app\0\x00db\0\x21\x00mysql_native_password\0\x00'), 0);
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.constantFrom<'client' | 'backend'>('client', 'backend'),
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (commandSent, side, bytes, cuts) => {
          const machine = HandshakeMachine.forChangeUser(options, context);
          const actions: HandshakeAction[] = [];
          const feed = (event: HandshakeEvent) => {
            const out = machine.handle(event);
            check(out);
            actions.push(...out);
          };
          if (commandSent) feed({ type: 'clientData', data: changeUser });
          for (const chunk of split(Buffer.from(bytes), cuts))
            feed(
              side === 'client' ? { type: 'clientData', data: chunk } : { type: 'backendData', data: chunk },
            );
          feed({ type: 'backendClosed', reason: 'backend_closed', detail: 'gone' });
          expect(actions.filter((a) => a.type === 'closeClient').length).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('survives any bytes as the COM_CHANGE_USER itself: a clean refusal, the session logged out', () => {
    const context = {
      greeting: parseGreeting(greeting.subarray(4)),
      plugin: 'mysql_native_password',
      scramble: Buffer.alloc(20, 7),
      capabilities: CAPS,
      attributes: [[Buffer.from('_client_ip'), Buffer.from('10.0.0.1')]] as Array<[Buffer, Buffer]>,
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const machine = HandshakeMachine.forChangeUser(options, context);
        const actions = machine.handle({
          type: 'clientData',
          data: encodePacket(Buffer.concat([Buffer.from([0x11]), bytes]), 0),
        });
        check(actions);
        const closed = actions.filter((a) => a.type === 'closeClient');
        expect(closed.length).toBeLessThanOrEqual(1);
        if (closed.length === 1) {
          expect(closed[0]).toMatchObject({ reason: 'bad_packet' });
          expect(actions.some((a) => a.type === 'closeBackend')).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('survives mutated real packets (valid framing, corrupted fields)', () => {
    const stream = Buffer.concat([sslRequest, login]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (mutations, cuts) => {
          const bytes = Buffer.from(stream);
          for (const [at, value] of mutations) bytes[at % bytes.length] = value;
          run(1, 'client', bytes, cuts);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('refuses a header announcing 16 MiB at every phase without buffering it', () => {
    for (let phase = 0; phase <= 4; phase++) {
      for (const side of ['client', 'backend'] as const) {
        const actions = run(
          phase,
          side,
          Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0x02]), Buffer.alloc(1000)]),
          [],
        );
        expect(actions.some((a) => a.type === 'closeClient')).toBe(true);
      }
    }
  });

  it("answers a TLS record where a packet is due, and a packet where TLS is due is not the machine's to see", () => {
    const record = Buffer.from([0x16, 0x03, 0x03, 0x00, 0x10, ...Buffer.alloc(16)]);
    const actions = run(1, 'client', record, []);
    expect(actions.find((a) => a.type === 'closeClient')).toMatchObject({ reason: 'bad_packet' });
    // In the TLS phase the socket layer owns the bytes: the machine ignores stray client data.
    const during = run(2, 'client', login, []);
    expect(during.filter((a) => a.type === 'sendToBackend' && a.data.equals(login))).toHaveLength(0);
  });
});
