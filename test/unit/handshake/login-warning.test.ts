/**
 * --require-secure-transport=warn through the handshake machine: a plaintext login is relayed as
 * with the policy off, and its login action carries the policy's warning for the session to log
 * and count (src/observability/login-audit.ts). With the policy on or off there is no warning.
 */
import { DEFAULT_HANDSHAKE_OPTIONS, HandshakeMachine } from '../../../src/handshake/machine';
import type { HandshakeAction } from '../../../src/handshake/types';
import { Capability } from '../../../src/protocol/capabilities';
import { encodeGreeting } from '../../../src/protocol/greeting';
import { encodeHandshakeResponse } from '../../../src/protocol/handshake-response';
import { encodePacket } from '../../../src/protocol/packet';

const CAPS =
  Capability.LONG_FLAG |
  Capability.PROTOCOL_41 |
  Capability.TRANSACTIONS |
  Capability.SECURE_CONNECTION |
  Capability.PLUGIN_AUTH;

const greeting = encodePacket(
  encodeGreeting({
    protocolVersion: 10,
    serverVersion: '5.5.5-10.11.19-MariaDB',
    connectionId: 7,
    authPluginData: Buffer.from('abcdefghijklmnopqrst'),
    capabilities: CAPS,
    characterSet: 45,
    statusFlags: 2,
    reserved: Buffer.alloc(10),
    authPluginName: 'mysql_native_password',
  }),
  0,
);
const response = encodeHandshakeResponse({
  capabilities: CAPS,
  maxPacketSize: 1 << 24,
  characterSet: 45,
  filler: Buffer.alloc(23),
  username: Buffer.from('legacy'),
  authResponse: Buffer.alloc(20, 7),
  authPluginName: 'mysql_native_password',
});

function plaintextLogin(requireSecureTransport: boolean | 'warn'): HandshakeAction[] {
  const machine = new HandshakeMachine({ ...DEFAULT_HANDSHAKE_OPTIONS, requireSecureTransport });
  machine.handle({ type: 'backendData', data: greeting });
  return machine.handle({ type: 'clientData', data: encodePacket(response, 1) });
}

it('warn: the plaintext login is relayed unchanged and its login action carries the warning', () => {
  const actions = plaintextLogin('warn');
  expect(actions.find((a) => a.type === 'login')).toMatchObject({
    transport: 'plain',
    user: 'legacy',
    warning: { reason: 'insecure_transport' },
  });
  expect(actions.filter((a) => a.type === 'closeClient')).toEqual([]);
  const relayed = actions.filter((a) => a.type === 'sendToBackend');
  expect(relayed).toEqual([{ type: 'sendToBackend', data: encodePacket(response, 1) }]);
  expect(relayed).toEqual(plaintextLogin(false).filter((a) => a.type === 'sendToBackend'));
});

it('off and on: no warning (on refuses instead)', () => {
  const off = plaintextLogin(false);
  expect(off.find((a) => a.type === 'login')).not.toHaveProperty('warning', expect.anything());
  const on = plaintextLogin(true);
  expect(on.find((a) => a.type === 'login')).not.toHaveProperty('warning', expect.anything());
  expect(on.find((a) => a.type === 'closeClient')).toMatchObject({ reason: 'insecure_transport' });
});
