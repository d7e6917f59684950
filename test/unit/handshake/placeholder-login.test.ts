/**
 * The one placeholder-login responder, shared by the session's release and the backend probe:
 * the plugin it logs in with, the wrong-password data it answers each round with, and its ends.
 */
import { DEFAULT_HANDSHAKE_OPTIONS, HandshakeMachine } from '../../../src/handshake/machine';
import {
  ABORTED_LOGIN_USER,
  MAX_PLACEHOLDER_ROUNDS,
  PlaceholderLogin,
} from '../../../src/handshake/placeholder-login';
import type { HandshakeAction } from '../../../src/handshake/types';
import { encodeAuthSwitchRequest } from '../../../src/protocol/auth-packets';
import { Capability, hasCapability } from '../../../src/protocol/capabilities';
import { COM_QUIT_PACKET } from '../../../src/protocol/commands';
import { encodeErrPacket } from '../../../src/protocol/err-packet';
import { encodeGreeting, parseGreeting, type Greeting } from '../../../src/protocol/greeting';
import { encodeHandshakeResponse, parseHandshakeResponse } from '../../../src/protocol/handshake-response';
import { encodePacket, PacketReader } from '../../../src/protocol/packet';

const CAPS =
  Capability.LONG_PASSWORD | Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH;
const greeting = (plugin: string, caps = CAPS): Greeting =>
  parseGreeting(
    encodeGreeting({
      protocolVersion: 10,
      serverVersion: '8.0.36',
      connectionId: 3,
      authPluginData: Buffer.from('abcdefghijklmnopqrst'),
      capabilities: caps,
      characterSet: 45,
      statusFlags: 2,
      reserved: Buffer.alloc(10),
      authPluginName: plugin,
    }),
  );
const ERR = encodeErrPacket({ code: 1045, sqlState: '28000', message: 'Access denied' });

describe('PlaceholderLogin', () => {
  it.each([
    ['caching_sha2_password', 'caching_sha2_password', 32],
    ['mysql_native_password', 'mysql_native_password', 20],
    ['client_ed25519', 'mysql_native_password', 20],
    ['sha256_password', 'mysql_native_password', 20],
  ])('greeted with %s, logs in with %s and %i bytes of wrong password', (offered, plugin, length) => {
    const { login } = PlaceholderLogin.start(greeting(offered));
    const parsed = parseHandshakeResponse(login);
    expect(parsed.username.toString()).toBe(ABORTED_LOGIN_USER);
    expect(parsed.authPluginName).toBe(plugin);
    expect(parsed.authResponse).toEqual(Buffer.alloc(length));
    expect(hasCapability(parsed.capabilities, Capability.SSL)).toBe(false);
    expect(
      hasCapability(
        parseHandshakeResponse(PlaceholderLogin.start(greeting(offered), true).login).capabilities,
        Capability.SSL,
      ),
    ).toBe(true);
  });

  it('answers a switch with data of the new plugin, and ends on OK, ERR or too many rounds', () => {
    const { responder } = PlaceholderLogin.start(greeting('mysql_native_password'));
    const ed25519 = encodeAuthSwitchRequest('client_ed25519', Buffer.alloc(32, 1));
    expect(responder.onServerPacket(ed25519)).toEqual({ action: 'answer', payload: Buffer.alloc(64) });
    expect(responder.onServerPacket(ERR)).toEqual({ action: 'refused', payload: ERR });
    expect(responder.onServerPacket(Buffer.from([0x00, 0, 0, 2, 0, 0, 0]))).toEqual({ action: 'quit' });
    const rounds = new PlaceholderLogin('caching_sha2_password');
    const steps = Array.from({ length: MAX_PLACEHOLDER_ROUNDS + 1 }, () =>
      rounds.onServerPacket(Buffer.from([0x01, 0x04])),
    );
    expect(steps.slice(0, -1)).toEqual(
      Array(MAX_PLACEHOLDER_ROUNDS).fill({ action: 'answer', payload: Buffer.alloc(32) }),
    );
    expect(steps.at(-1)).toEqual({ action: 'gave_up', rounds: MAX_PLACEHOLDER_ROUNDS });
  });
});

describe('the release after the client leaves', () => {
  const packets = (actions: HandshakeAction[], type: 'sendToBackend' | 'sendToClient') => {
    const reader = new PacketReader(1 << 20);
    actions.forEach((a) => a.type === type && reader.push(a.data));
    const out = [];
    for (let p = reader.read(); p; p = reader.read())
      out.push({ seq: p.sequenceId, payload: Buffer.from(p.payload) });
    return out;
  };
  const login = encodeHandshakeResponse({
    capabilities: CAPS,
    maxPacketSize: 1 << 24,
    characterSet: 45,
    filler: Buffer.alloc(23),
    username: Buffer.from('app'),
    authResponse: Buffer.alloc(20, 7),
    authPluginName: 'mysql_native_password',
  });

  it('during the database leg TLS handshake: the placeholder login, not the client one, follows it', () => {
    const machine = new HandshakeMachine({ ...DEFAULT_HANDSHAKE_OPTIONS, backendTls: true });
    const tlsGreeting = encodeGreeting({ ...greeting('mysql_native_password', CAPS | Capability.SSL) });
    machine.handle({ type: 'backendData', data: encodePacket(tlsGreeting, 0) });
    const first = machine.handle({ type: 'clientData', data: encodePacket(login, 1) });
    expect(packets(first, 'sendToBackend').map((p) => p.seq)).toEqual([1]); // the SSLRequest
    expect(machine.phase).toBe('backendTls');
    const aborted = machine.handle({ type: 'abort', reason: 'client_closed' });
    expect(aborted.map((a) => a.type)).toEqual(['closeClient']);
    expect(machine.phase).toBe('releasing');
    const [sent] = packets(machine.handle({ type: 'backendTlsEstablished' }), 'sendToBackend');
    expect(sent.seq).toBe(2);
    expect(parseHandshakeResponse(sent.payload).username.toString()).toBe(ABORTED_LOGIN_USER);
    const closed = machine.handle({ type: 'backendData', data: encodePacket(ERR, 3) });
    expect(closed.map((a) => a.type)).toEqual(['closeBackend']);
    expect(machine.phase).toBe('done');
  });

  it('logs out with COM_QUIT when the placeholder user exists without a password', () => {
    const machine = new HandshakeMachine(DEFAULT_HANDSHAKE_OPTIONS);
    machine.handle({ type: 'abort', reason: 'client_closed' });
    machine.handle({
      type: 'backendData',
      data: encodePacket(encodeGreeting({ ...greeting('mysql_native_password') }), 0),
    });
    const actions = machine.handle({
      type: 'backendData',
      data: encodePacket(Buffer.from([0, 0, 0, 2, 0, 0, 0]), 2),
    });
    expect(actions).toEqual([{ type: 'sendToBackend', data: COM_QUIT_PACKET }, { type: 'closeBackend' }]);
  });
});
