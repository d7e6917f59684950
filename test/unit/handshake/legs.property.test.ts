/**
 * The two legs through the machine: a client and a database at the far ends each keep their own
 * PacketChannel (which refuses any id not due), so if the machine numbered one packet wrong on
 * either leg, whatever the transports (TLS client or not, --backend-tls or not), the number of
 * auth rounds, the RSA key round trip the client never sees, a COM_CHANGE_USER, and however the
 * bytes are split, an end's read throws. Also: the channel's frameFirst, and strict database ids.
 */
import crypto from 'crypto';
import fc from 'fast-check';
import { PacketChannel } from '../../../src/handshake/channel';
import { DEFAULT_HANDSHAKE_OPTIONS, HandshakeMachine } from '../../../src/handshake/machine';
import type { HandshakeAction, HandshakeEvent } from '../../../src/handshake/types';
import { Capability } from '../../../src/protocol/capabilities';
import { parseErrPacket } from '../../../src/protocol/err-packet';
import { encodeGreeting, parseGreeting } from '../../../src/protocol/greeting';
import { encodeHandshakeResponse } from '../../../src/protocol/handshake-response';
import { encodePacket, PacketReader } from '../../../src/protocol/packet';
import { encodeSslRequest } from '../../../src/protocol/ssl-request';

const MAX = 1 << 16;
const CAPS =
  Capability.LONG_PASSWORD |
  Capability.PROTOCOL_41 |
  Capability.SECURE_CONNECTION |
  Capability.PLUGIN_AUTH |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA;
const OK = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
const ERR = Buffer.concat([Buffer.from([0xff, 0x15, 0x04]), Buffer.from('#28000Access denied')]);
const FULL_AUTH = Buffer.from([0x01, 0x04]);
const publicPem = Buffer.from(
  crypto
    .generateKeyPairSync('rsa', { modulusLength: 1024 })
    .publicKey.export({ type: 'spki', format: 'pem' }),
);

const greetingFor = (plugin: string, backendTls: boolean) =>
  encodeGreeting({
    protocolVersion: 10,
    serverVersion: '8.0.36',
    connectionId: 1,
    authPluginData: Buffer.from('abcdefghijklmnopqrst'),
    capabilities: CAPS | (backendTls ? Capability.SSL : 0),
    characterSet: 45,
    statusFlags: 2,
    reserved: Buffer.alloc(10),
    authPluginName: plugin,
  });
const login = (caps: number, plugin: string) =>
  encodeHandshakeResponse({
    capabilities: caps,
    maxPacketSize: 1 << 24,
    characterSet: 45,
    filler: Buffer.alloc(23),
    username: Buffer.from('app'),
    authResponse: Buffer.alloc(20, 7),
    authPluginName: plugin,
  });

/** One end of a leg: its own channel, fed the machine's bytes for it, read strictly. */
class End {
  readonly channel: PacketChannel;
  private readonly inbox: Buffer[] = [];
  constructor(role: 'client' | 'backend') {
    this.channel = new PacketChannel(role, MAX);
  }
  deliver(bytes: Buffer) {
    this.inbox.push(bytes);
  }
  /** Every packet the machine sent this end so far, checked id by id. */
  receive(first = false): Buffer[] {
    this.inbox.splice(0).forEach((b) => this.channel.push(b));
    const got: Buffer[] = [];
    for (let p = first ? this.channel.readFirst() : this.channel.read(); p; p = this.channel.read())
      got.push(Buffer.from(p.payload));
    return got;
  }
}

/** A conversation: the machine between a client End and a database End, chunks split at `cuts`. */
class Conversation {
  readonly client = new End('backend'); // the client reads what the proxy sends it
  readonly server = new End('client');
  readonly actions: HandshakeAction[] = [];
  constructor(
    readonly machine: HandshakeMachine,
    private readonly cuts: number[] = [],
  ) {}
  feed(event: HandshakeEvent) {
    const chunks =
      event.type === 'clientData' || event.type === 'backendData' ? split(event.data, this.cuts) : [];
    const events = chunks.length ? chunks.map((data) => ({ ...event, data }) as HandshakeEvent) : [event];
    for (const e of events) {
      for (const action of this.machine.handle(e)) {
        this.actions.push(action);
        if (action.type === 'sendToClient') this.client.deliver(action.data);
        if (action.type === 'sendToBackend') this.server.deliver(action.data);
      }
    }
  }
  fromServer(payload: Buffer) {
    this.feed({ type: 'backendData', data: this.server.channel.frame(payload) });
  }
  fromClient(payload: Buffer) {
    this.feed({ type: 'clientData', data: this.client.channel.frame(payload) });
  }
}

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out.filter((b) => b.length > 0);
}

const roundArb = fc.oneof(
  fc.constant({ kind: 'fullAuth' as const }),
  fc
    .uint8Array({ minLength: 1, maxLength: 40 })
    .map((d) => ({ kind: 'more' as const, data: Buffer.from([0x01, 0x03, ...d]) })),
);

describe('the two legs through the machine', () => {
  it('both ends agree on every sequence id: transports, auth rounds, RSA key round trips, splits', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.array(roundArb, { maxLength: 5 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 4 }),
        (tlsClient, backendTls, rounds, succeed, cuts) => {
          const options = { ...DEFAULT_HANDSHAKE_OPTIONS, backendTls, maxPacketSize: MAX };
          const talk = new Conversation(new HandshakeMachine(options), cuts);
          const plugin = 'caching_sha2_password';
          const rsa = tlsClient && !backendTls; // a clear password must not cross the plain leg
          talk.fromServer(greetingFor(plugin, backendTls));
          expect(talk.client.receive(true)).toHaveLength(1);
          if (tlsClient) {
            talk.fromClient(
              encodeSslRequest({
                capabilities: CAPS | Capability.SSL,
                maxPacketSize: 1 << 24,
                characterSet: 45,
                filler: Buffer.alloc(23),
              }),
            );
            talk.feed({ type: 'tlsEstablished' });
          }
          talk.fromClient(login(CAPS | (tlsClient ? Capability.SSL : 0), plugin));
          if (backendTls) {
            expect(talk.server.receive(true).map((p) => p.length)).toEqual([32]);
            talk.feed({ type: 'backendTlsEstablished' });
          }
          expect(talk.server.receive(!backendTls)).toHaveLength(1);
          for (const round of rounds) {
            const sent = round.kind === 'fullAuth' ? FULL_AUTH : round.data;
            talk.fromServer(sent);
            expect(talk.client.receive()).toEqual([sent]);
            talk.fromClient(Buffer.from('pw\0'));
            const [answer] = talk.server.receive();
            if (round.kind === 'fullAuth' && rsa) {
              expect(answer).toEqual(Buffer.from([0x02])); // the key request, in the password's place
              talk.fromServer(Buffer.concat([Buffer.from([0x01]), publicPem]));
              expect(talk.client.receive()).toEqual([]); // never sees the key round trip
              expect(talk.server.receive()).toHaveLength(1); // the encrypted password
            } else {
              expect(answer).toEqual(Buffer.from('pw\0'));
            }
          }
          talk.fromServer(succeed ? OK : ERR);
          expect(talk.client.receive()).toEqual([succeed ? OK : ERR]);
          const ends = talk.actions.filter((a) => a.type === 'established' || a.type === 'closeClient');
          expect(ends.map((a) => a.type)).toEqual([succeed ? 'established' : 'closeClient']);
          expect(talk.machine.holdsSecret).toBe(false);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a COM_CHANGE_USER starts both legs at 0 and keeps them in step through its re-authentication', () => {
    fc.assert(
      fc.property(
        fc.array(roundArb, { maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (rounds, cuts) => {
          const context = {
            greeting: parseGreeting(greetingFor('caching_sha2_password', false)),
            plugin: 'caching_sha2_password',
            scramble: Buffer.from('abcdefghijklmnopqrst'),
            capabilities: CAPS,
          };
          const options = { ...DEFAULT_HANDSHAKE_OPTIONS, maxPacketSize: MAX };
          const talk = new Conversation(HandshakeMachine.forChangeUser(options, context), cuts);
          const command = Buffer.concat([
            Buffer.from('\x11app\0'),
            Buffer.from([20]),
            Buffer.alloc(20, 5),
            Buffer.from('\0'),
          ]);
          talk.fromClient(command);
          expect(talk.server.receive()).toEqual([command]);
          for (const round of rounds) {
            const sent = round.kind === 'fullAuth' ? FULL_AUTH : round.data;
            talk.fromServer(sent);
            expect(talk.client.receive()).toEqual([sent]);
            talk.fromClient(Buffer.from('pw\0'));
            const [answer] = talk.server.receive();
            if (round.kind === 'fullAuth') {
              expect(answer).toEqual(Buffer.from([0x02]));
              talk.fromServer(Buffer.concat([Buffer.from([0x01]), publicPem]));
              expect(talk.server.receive()).toHaveLength(1);
            }
          }
          talk.fromServer(OK);
          expect(talk.client.receive()).toEqual([OK]);
          expect(talk.actions.filter((a) => a.type === 'established')).toHaveLength(1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('ends the session with backend_protocol_error on a database packet whose id is not the one due', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), (wrong) => {
        fc.pre(wrong !== 2);
        const machine = new HandshakeMachine({ ...DEFAULT_HANDSHAKE_OPTIONS, maxPacketSize: MAX });
        machine.handle({
          type: 'backendData',
          data: encodePacket(greetingFor('mysql_native_password', false), 0),
        });
        machine.handle({ type: 'clientData', data: encodePacket(login(CAPS, 'mysql_native_password'), 1) });
        const actions = machine.handle({ type: 'backendData', data: encodePacket(OK, wrong) });
        const close = actions.find((a) => a.type === 'closeClient');
        expect(close).toMatchObject({ reason: 'backend_protocol_error' });
        expect(close?.type === 'closeClient' && close.detail).toMatch(
          `sequence id ${wrong} where 2 was expected`,
        );
        const reader = new PacketReader(MAX);
        reader.push((close as { packet: Buffer }).packet);
        const err = reader.read()!;
        expect(err.sequenceId).toBe(2); // the client's next id
        expect(parseErrPacket(err.payload).code).toBe(2003);
        expect(actions.some((a) => a.type === 'closeBackend')).toBe(true);
        expect(actions.some((a) => a.type === 'established')).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

describe('PacketChannel.frameFirst', () => {
  it('numbers the client leg on from the id the database gave its greeting', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 300 }), (first, more) => {
        const proxy = new PacketChannel('client', MAX);
        const client = new PacketChannel('backend', MAX);
        client.push(proxy.frameFirst(Buffer.from([10]), first));
        expect(client.readFirst()?.sequenceId).toBe(first);
        for (let i = 0; i < more; i++) {
          const [from, to] = i % 2 ? [proxy, client] : [client, proxy];
          to.push(from.frame(Buffer.from([i & 0xff])));
          expect(to.read()?.payload).toEqual(Buffer.from([i & 0xff]));
        }
        expect(proxy.nextSequence).toBe((first + 1 + more) & 0xff);
      }),
    );
  });
});
