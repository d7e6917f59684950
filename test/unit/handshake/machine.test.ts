import crypto from 'crypto';
import { ABORTED_LOGIN_USER } from '../../../src/handshake/placeholder-login';
import {
  DEFAULT_HANDSHAKE_OPTIONS,
  HandshakeMachine,
  type HandshakeOptions,
} from '../../../src/handshake/machine';
import type { HandshakeAction } from '../../../src/handshake/types';
import { encodeAuthSwitchRequest } from '../../../src/protocol/auth-packets';
import { Capability, hasCapability } from '../../../src/protocol/capabilities';
import { encodeErrPacket, parseErrPacket } from '../../../src/protocol/err-packet';
import { encodeGreeting, parseGreeting } from '../../../src/protocol/greeting';
import { encodeHandshakeResponse, parseHandshakeResponse } from '../../../src/protocol/handshake-response';
import { encodePacket, PacketReader } from '../../../src/protocol/packet';
import { encodeSslRequest } from '../../../src/protocol/ssl-request';

const SERVER_CAPS =
  Capability.LONG_FLAG |
  Capability.CONNECT_WITH_DB |
  Capability.PROTOCOL_41 |
  Capability.TRANSACTIONS |
  Capability.SECURE_CONNECTION |
  Capability.MULTI_RESULTS |
  Capability.PLUGIN_AUTH |
  Capability.CONNECT_ATTRS |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA;
const CLIENT_CAPS = SERVER_CAPS | Capability.LONG_PASSWORD;

/** A MariaDB-style greeting: no CLIENT_MYSQL, extended capabilities in the reserved bytes. */
const greetingPayload = encodeGreeting({
  protocolVersion: 10,
  serverVersion: '5.5.5-10.11.19-MariaDB',
  connectionId: 42,
  authPluginData: Buffer.from('abcdefghijklmnopqrst'),
  capabilities: SERVER_CAPS,
  characterSet: 45,
  statusFlags: 2,
  reserved: Buffer.from([0, 0, 0, 0, 0, 0, 0x1d, 0, 0, 0]),
  authPluginName: 'mysql_native_password',
});
const sslRequest = encodeSslRequest({
  capabilities: CLIENT_CAPS | Capability.SSL,
  maxPacketSize: 1 << 24,
  characterSet: 45,
  filler: Buffer.alloc(23),
});
const responsePayload = (caps: number): Buffer =>
  encodeHandshakeResponse({
    capabilities: caps,
    maxPacketSize: 1 << 24,
    characterSet: 45,
    filler: Buffer.alloc(23),
    username: Buffer.from('app'),
    authResponse: Buffer.alloc(20, 7),
    database: Buffer.from('test'),
    authPluginName: 'mysql_native_password',
    attributes: [['_client_name', 'test']],
  });
const CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);
const OK = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
const authSwitch = Buffer.concat([Buffer.from([0xfe]), Buffer.from('client_ed25519\0'), Buffer.alloc(32, 9)]);

const options: HandshakeOptions = { ...DEFAULT_HANDSHAKE_OPTIONS, maxPacketSize: 64 * 1024 };

/** Attributes as text pairs, for comparisons. */
const text = (pairs?: Array<[Buffer, Buffer]>) => pairs?.map(([k, v]) => [k.toString(), v.toString()]);

function of<T extends HandshakeAction['type']>(actions: HandshakeAction[], type: T) {
  return actions.filter((a): a is Extract<HandshakeAction, { type: T }> => a.type === type);
}
function packetsIn(bytes: Buffer[]): { seq: number; payload: Buffer }[] {
  const reader = new PacketReader(1 << 24);
  bytes.forEach((b) => reader.push(b));
  const out = [];
  for (let p = reader.read(); p; p = reader.read())
    out.push({ seq: p.sequenceId, payload: Buffer.from(p.payload) });
  return out;
}
const toClient = (a: HandshakeAction[]) => packetsIn(of(a, 'sendToClient').map((x) => x.data));
const toBackend = (a: HandshakeAction[]) => packetsIn(of(a, 'sendToBackend').map((x) => x.data));

/** Runs a TLS login up to the forwarded HandshakeResponse (`login`, else the usual one). */
function tlsLogin(machine: HandshakeMachine, greeting = greetingPayload, login?: Buffer): HandshakeAction[] {
  return [
    ...machine.handle({ type: 'backendData', data: encodePacket(greeting, 0) }),
    ...machine.handle({ type: 'clientData', data: encodePacket(sslRequest, 1) }),
    ...machine.handle({ type: 'tlsEstablished' }),
    ...machine.handle({
      type: 'clientData',
      data: encodePacket(login ?? responsePayload(CLIENT_CAPS | Capability.SSL), 2),
    }),
  ];
}

/** Runs the TLS login until the backend's AuthSwitchRequest, returning the machine and all actions. */
function tlsLoginUntilAuthSwitch(machine = new HandshakeMachine(options)): HandshakeAction[] {
  return [
    ...tlsLogin(machine),
    ...machine.handle({ type: 'backendData', data: encodePacket(authSwitch, 2) }),
  ];
}

describe('HandshakeMachine, TLS client in front of a plain database', () => {
  it('relays the greeting with only CLIENT_SSL added', () => {
    const machine = new HandshakeMachine(options);
    const actions = machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    const [greeting] = toClient(actions);
    expect(greeting.seq).toBe(0);
    const parsed = parseGreeting(greeting.payload);
    expect(hasCapability(parsed.capabilities, Capability.SSL)).toBe(true);
    expect(parsed.reserved).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 0x1d, 0, 0, 0]));
    const diff = [...greeting.payload].map((byte, i) => byte !== greetingPayload[i]).filter(Boolean);
    expect(diff).toHaveLength(1);
    expect(of(actions, 'greeting')).toEqual([
      { type: 'greeting', serverVersion: '5.5.5-10.11.19-MariaDB', connectionId: 42 },
    ]);
  });

  it('keeps ClientHello bytes that arrive in the same chunk as the SSLRequest', () => {
    const machine = new HandshakeMachine(options);
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    const actions = machine.handle({
      type: 'clientData',
      data: Buffer.concat([encodePacket(sslRequest, 1), CLIENT_HELLO]),
    });
    expect(of(actions, 'startTls')).toEqual([{ type: 'startTls', pending: CLIENT_HELLO }]);
    expect(toBackend(actions)).toHaveLength(0);
  });

  it('clears CLIENT_SSL for the database and shifts sequence ids both ways until the OK', () => {
    const machine = new HandshakeMachine(options);
    const actions = tlsLoginUntilAuthSwitch(machine);
    const [response] = toBackend(actions);
    expect(response.seq).toBe(1);
    const parsed = parseHandshakeResponse(response.payload);
    expect(hasCapability(parsed.capabilities, Capability.SSL)).toBe(false);
    expect(text(parsed.attributes)).toEqual([['_client_name', 'test']]);
    expect(of(actions, 'login')).toEqual([
      { type: 'login', transport: 'tls', user: 'app', database: 'test', authPlugin: 'mysql_native_password' },
    ]);
    const relayedSwitch = toClient(actions).at(-1)!;
    expect(relayedSwitch).toEqual({ seq: 3, payload: authSwitch });

    const answer = machine.handle({ type: 'clientData', data: encodePacket(Buffer.alloc(64, 1), 4) });
    expect(toBackend(answer)).toEqual([{ seq: 3, payload: Buffer.alloc(64, 1) }]);
    const done = machine.handle({ type: 'backendData', data: encodePacket(OK, 4) });
    expect(toClient(done)).toEqual([{ seq: 5, payload: OK }]);
    expect(of(done, 'established')).toHaveLength(1);
    expect(machine.phase).toBe('established');
  });

  it('hands every byte after the SSLRequest to TLS, whatever the TCP segmentation (every split point)', () => {
    const clientStream = Buffer.concat([encodePacket(sslRequest, 1), CLIENT_HELLO]);
    const greeting = encodePacket(greetingPayload, 0);
    for (let split = 0; split <= clientStream.length; split++) {
      const machine = new HandshakeMachine(options);
      const g = Math.min(split, greeting.length);
      machine.handle({ type: 'backendData', data: greeting.subarray(0, g) });
      machine.handle({ type: 'backendData', data: greeting.subarray(g) });
      const first = machine.handle({ type: 'clientData', data: clientStream.subarray(0, split) });
      // Once TLS has started the socket layer stops feeding the machine: later bytes go to TLS.
      const tlsBytes: Buffer[] = [];
      let started = of(first, 'startTls');
      if (started.length === 1) {
        tlsBytes.push(started[0].pending, clientStream.subarray(split));
      } else {
        started = of(machine.handle({ type: 'clientData', data: clientStream.subarray(split) }), 'startTls');
        expect(started).toHaveLength(1);
        tlsBytes.push(started[0].pending);
      }
      expect(Buffer.concat(tlsBytes)).toEqual(CLIENT_HELLO);
    }
  });

  it('splits the login exchange byte by byte without changing what is relayed', () => {
    const machine = new HandshakeMachine(options);
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    machine.handle({ type: 'clientData', data: encodePacket(sslRequest, 1) });
    machine.handle({ type: 'tlsEstablished' });
    const response = encodePacket(responsePayload(CLIENT_CAPS | Capability.SSL), 2);
    const actions: HandshakeAction[] = [];
    for (const byte of response)
      actions.push(...machine.handle({ type: 'clientData', data: Buffer.from([byte]) }));
    for (const byte of encodePacket(OK, 2))
      actions.push(...machine.handle({ type: 'backendData', data: Buffer.from([byte]) }));
    expect(toBackend(actions).map((p) => p.seq)).toEqual([1]);
    expect(toClient(actions)).toEqual([{ seq: 3, payload: OK }]);
    expect(machine.phase).toBe('established');
  });

  it('holds commands pipelined before the OK and forwards them untouched after it', () => {
    const machine = new HandshakeMachine(options);
    tlsLoginUntilAuthSwitch(machine);
    const query = encodePacket(Buffer.from('\x03SELECT 1'), 0);
    const answer = machine.handle({
      type: 'clientData',
      data: Buffer.concat([encodePacket(Buffer.alloc(64, 1), 4), query]),
    });
    expect(toBackend(answer)).toEqual([{ seq: 3, payload: Buffer.alloc(64, 1) }]);
    const done = machine.handle({ type: 'backendData', data: encodePacket(OK, 4) });
    expect(of(done, 'established')[0].toBackend).toEqual(query);
  });

  it('relays the database ERR at the end of the login with the client-leg sequence id', () => {
    const machine = new HandshakeMachine(options);
    tlsLoginUntilAuthSwitch(machine);
    machine.handle({ type: 'clientData', data: encodePacket(Buffer.alloc(64, 1), 4) });
    const err = encodeErrPacket({
      code: 1045,
      sqlState: '28000',
      message: "Access denied for user 'app'@'localhost'",
    });
    const actions = machine.handle({ type: 'backendData', data: encodePacket(err, 4) });
    expect(toClient(actions)).toEqual([{ seq: 5, payload: err }]);
    expect(of(actions, 'closeClient')[0]).toMatchObject({ reason: 'auth_failed' });
    expect(of(actions, 'closeBackend')).toHaveLength(1);
  });
});

describe('HandshakeMachine, plaintext client', () => {
  it('relays HandshakeResponse and auth packets unchanged, without shifting', () => {
    const machine = new HandshakeMachine(options);
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    const payload = responsePayload(CLIENT_CAPS);
    const actions = machine.handle({ type: 'clientData', data: encodePacket(payload, 1) });
    expect(toBackend(actions)).toEqual([{ seq: 1, payload }]);
    expect(of(actions, 'login')[0]).toMatchObject({ transport: 'plain', user: 'app' });
    const done = machine.handle({ type: 'backendData', data: encodePacket(OK, 2) });
    expect(toClient(done)).toEqual([{ seq: 2, payload: OK }]);
    expect(machine.phase).toBe('established');
  });

  it('refuses a plaintext login with ERR 3159 when secure transport is required, and the database never sees it', () => {
    const machine = new HandshakeMachine({ ...options, requireSecureTransport: true });
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    const actions = machine.handle({
      type: 'clientData',
      data: encodePacket(responsePayload(CLIENT_CAPS), 1),
    });
    const close = of(actions, 'closeClient')[0];
    expect(close.reason).toBe('insecure_transport');
    const [err] = packetsIn([close.packet!]);
    expect(err.seq).toBe(2);
    expect(parseErrPacket(err.payload)).toMatchObject({ code: 3159, sqlState: 'HY000' });
    const [sent] = toBackend(actions);
    expect(parseHandshakeResponse(sent.payload).username.toString()).toBe(ABORTED_LOGIN_USER);
  });
});

describe('HandshakeMachine, refusals and bad input', () => {
  it('relays an ERR the database sends instead of a greeting, then closes', () => {
    const machine = new HandshakeMachine(options);
    const err = encodeErrPacket({ code: 1129, message: "Host '10.0.0.1' is blocked" });
    const actions = machine.handle({ type: 'backendData', data: encodePacket(err, 0) });
    const close = of(actions, 'closeClient')[0];
    expect(close.reason).toBe('backend_refused');
    expect(close.packet).toEqual(encodePacket(err, 0));
    expect(of(actions, 'closeBackend')).toHaveLength(1);
  });

  it.each([
    ['a wrong sequence id', encodePacket(sslRequest, 3), /sequence id 3/],
    [
      'an SSLRequest of the wrong length',
      encodePacket(Buffer.concat([sslRequest, Buffer.alloc(4)]), 1),
      /CLIENT_SSL set in a 36-byte packet/,
    ],
    ['a direct TLS ClientHello', CLIENT_HELLO, /TLS ClientHello/],
    ['a header announcing 16 MiB', Buffer.from([0xff, 0xff, 0xff, 1]), /exceeds the connection-phase limit/],
  ])('closes with bad_packet and ERR 1043 on %s', (_name, bytes, detail) => {
    const machine = new HandshakeMachine(options);
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    const actions = machine.handle({ type: 'clientData', data: bytes });
    const close = of(actions, 'closeClient')[0];
    expect(close.reason).toBe('bad_packet');
    expect(close.detail).toMatch(detail);
    const [err] = packetsIn([close.packet!]);
    expect(parseErrPacket(err.payload)).toMatchObject({ code: 1043, sqlState: '08S01' });
  });

  it('treats a malformed greeting as a database protocol error and tells the client in pre-greeting format', () => {
    const machine = new HandshakeMachine(options);
    const actions = machine.handle({
      type: 'backendData',
      data: encodePacket(Buffer.from('HTTP/1.1 400'), 0),
    });
    const close = of(actions, 'closeClient')[0];
    expect(close.reason).toBe('backend_protocol_error');
    const [err] = packetsIn([close.packet!]);
    expect(err.seq).toBe(0);
    expect(parseErrPacket(err.payload)).toMatchObject({ code: 2003, sqlState: undefined });
  });

  it('tells the client when the database closes mid-handshake', () => {
    const machine = new HandshakeMachine(options);
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    const actions = machine.handle({ type: 'backendClosed', reason: 'backend_closed', detail: 'gone' });
    const close = of(actions, 'closeClient')[0];
    expect(close.reason).toBe('backend_closed');
    expect(parseErrPacket(packetsIn([close.packet!])[0].payload).code).toBe(2003);
  });
});

describe('HandshakeMachine, releasing the database when the client gives up', () => {
  const releaseErr = encodePacket(
    encodeErrPacket({ code: 1045, sqlState: '28000', message: 'Access denied' }),
    2,
  );

  it('waits for a late greeting, then logs in as the placeholder user and closes on the ERR', () => {
    const machine = new HandshakeMachine(options);
    const aborted = machine.handle({ type: 'abort', reason: 'client_closed' });
    expect(of(aborted, 'closeClient')).toHaveLength(1);
    expect(toBackend(aborted)).toHaveLength(0);
    const greeted = machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    expect(toClient(greeted)).toHaveLength(0);
    const [login] = toBackend(greeted);
    expect(login.seq).toBe(1);
    const parsed = parseHandshakeResponse(login.payload);
    expect(parsed.username.toString()).toBe(ABORTED_LOGIN_USER);
    expect(parsed.authResponse).toHaveLength(20);
    const closed = machine.handle({ type: 'backendData', data: releaseErr });
    expect(of(closed, 'closeBackend')).toHaveLength(1);
  });

  it('sends no ERR into a running TLS handshake but still releases the database', () => {
    const machine = new HandshakeMachine(options);
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    machine.handle({ type: 'clientData', data: encodePacket(sslRequest, 1) });
    const actions = machine.handle({
      type: 'abort',
      reason: 'handshake_timeout',
      error: { code: 1043, sqlState: '08S01', message: 'x' },
    });
    expect(of(actions, 'closeClient')[0].packet).toBeUndefined();
    expect(toBackend(actions).map((p) => p.seq)).toEqual([1]);
  });

  it('answers an auth round the client abandoned with data the plugin rejects as a wrong password', () => {
    const machine = new HandshakeMachine(options);
    tlsLoginUntilAuthSwitch(machine);
    const actions = machine.handle({ type: 'abort', reason: 'client_closed' });
    expect(toBackend(actions)).toEqual([{ seq: 3, payload: Buffer.alloc(64) }]);
    const closed = machine.handle({
      type: 'backendData',
      data: encodePacket(encodeErrPacket({ code: 1045, sqlState: '28000', message: 'no' }), 4),
    });
    expect(of(closed, 'closeBackend')).toHaveLength(1);
  });

  it('sends an ERR with the next client sequence id when the handshake times out after TLS', () => {
    const machine = new HandshakeMachine(options);
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    machine.handle({ type: 'clientData', data: encodePacket(sslRequest, 1) });
    machine.handle({ type: 'tlsEstablished' });
    const actions = machine.handle({
      type: 'abort',
      reason: 'handshake_timeout',
      error: { code: 1043, sqlState: '08S01', message: 'timeout' },
    });
    const [err] = packetsIn([of(actions, 'closeClient')[0].packet!]);
    expect(err.seq).toBe(2);
    expect(parseErrPacket(err.payload).message).toBe('timeout');
  });

  it('gives up after a bounded number of auth rounds', () => {
    const machine = new HandshakeMachine(options);
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    machine.handle({ type: 'abort', reason: 'client_closed' });
    let seq = 2;
    let closed = 0;
    for (let round = 0; round < 10 && closed === 0; round++) {
      const actions = machine.handle({ type: 'backendData', data: encodePacket(authSwitch, seq) });
      seq += 2;
      closed += of(actions, 'closeBackend').length;
    }
    expect(closed).toBe(1);
  });
});

describe('HandshakeMachine, PROXY headers from untrusted peers', () => {
  it.each([
    ['v1, before the greeting', Buffer.from('PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n'), false],
    ['v2, after the greeting', Buffer.from('0d0a0d0a000d0a515549540a21110000', 'hex'), true],
  ])('refuses %s with proxy_protocol', (_name, header, greetFirst) => {
    const machine = new HandshakeMachine(options);
    if (greetFirst) machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    const actions = machine.handle({ type: 'clientData', data: header });
    const close = of(actions, 'closeClient')[0];
    expect(close.reason).toBe('proxy_protocol');
    expect(parseErrPacket(packetsIn([close.packet!])[0].payload).code).toBe(1043);
  });
});

describe('HandshakeMachine, the login policy (two-way TLS, secure transport)', () => {
  const twoWay = { ...options, requireClientCertificate: true };

  it('refuses a TLS login without a verified certificate: ERR with sequence id 3, never forwarded', () => {
    const machine = new HandshakeMachine(twoWay);
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    machine.handle({ type: 'clientData', data: encodePacket(sslRequest, 1) });
    expect(
      machine.handle({
        type: 'tlsEstablished',
        clientCertificate: { verified: false, why: 'UNABLE_TO_GET_ISSUER_CERT' },
      }),
    ).toEqual([]);
    const actions = machine.handle({
      type: 'clientData',
      data: encodePacket(responsePayload(CLIENT_CAPS | Capability.SSL), 2),
    });
    expect(of(actions, 'login')[0]).toMatchObject({ user: 'app' });
    const close = of(actions, 'closeClient')[0];
    expect(close.reason).toBe('client_certificate');
    const [err] = packetsIn([close.packet!]);
    expect(err.seq).toBe(3);
    expect(parseErrPacket(err.payload)).toMatchObject({ code: 1045, sqlState: '28000' });
    expect(parseErrPacket(err.payload).message).toContain('UNABLE_TO_GET_ISSUER_CERT');
    expect(toBackend(actions).map((p) => parseHandshakeResponse(p.payload).username.toString())).toEqual([
      ABORTED_LOGIN_USER,
    ]);
  });

  it('forwards a TLS login with a verified certificate', () => {
    const machine = new HandshakeMachine(twoWay);
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    machine.handle({ type: 'clientData', data: encodePacket(sslRequest, 1) });
    machine.handle({ type: 'tlsEstablished', clientCertificate: { verified: true } });
    const actions = machine.handle({
      type: 'clientData',
      data: encodePacket(responsePayload(CLIENT_CAPS | Capability.SSL), 2),
    });
    expect(of(actions, 'closeClient')).toEqual([]);
    expect(parseHandshakeResponse(toBackend(actions)[0].payload).username.toString()).toBe('app');
  });

  it('refuses a plaintext login when a client certificate is required: ERR 3159, never forwarded', () => {
    // A client that skips the SSLRequest must not skip the certificate check.
    const machine = new HandshakeMachine(twoWay);
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    const actions = machine.handle({
      type: 'clientData',
      data: encodePacket(responsePayload(CLIENT_CAPS), 1),
    });
    const close = of(actions, 'closeClient')[0];
    expect(close.reason).toBe('insecure_transport');
    const [err] = packetsIn([close.packet!]);
    expect(err.seq).toBe(2);
    expect(parseErrPacket(err.payload)).toMatchObject({ code: 3159, sqlState: 'HY000' });
    expect(parseErrPacket(err.payload).message).toContain('--client-ca');
    expect(toBackend(actions).map((p) => parseHandshakeResponse(p.payload).username.toString())).toEqual([
      ABORTED_LOGIN_USER,
    ]);
  });
});

describe('HandshakeMachine, TLS on the database leg too (--backend-tls)', () => {
  const tlsGreeting = encodeGreeting({
    ...parseGreeting(greetingPayload),
    capabilities: SERVER_CAPS | Capability.SSL,
  });
  const backendTlsOptions = { ...options, backendTls: true };

  it('sends the SSLRequest, waits for TLS, then the login with CLIENT_SSL kept; ids match on both legs', () => {
    const machine = new HandshakeMachine(backendTlsOptions);
    machine.handle({ type: 'backendData', data: encodePacket(tlsGreeting, 0) });
    machine.handle({ type: 'clientData', data: encodePacket(sslRequest, 1) });
    machine.handle({ type: 'tlsEstablished' });
    const login = responsePayload(CLIENT_CAPS | Capability.SSL);
    const first = machine.handle({ type: 'clientData', data: encodePacket(login, 2) });
    const [ssl] = toBackend(first);
    expect(ssl.seq).toBe(1);
    expect(ssl.payload).toEqual(login.subarray(0, 32));
    expect(of(first, 'startBackendTls')).toHaveLength(1);
    const second = machine.handle({ type: 'backendTlsEstablished' });
    expect(toBackend(second)).toEqual([{ seq: 2, payload: login }]);
    const done = machine.handle({ type: 'backendData', data: encodePacket(OK, 3) });
    expect(toClient(done)).toEqual([{ seq: 3, payload: OK }]);
  });

  it('shifts the other way for a plaintext client', () => {
    const machine = new HandshakeMachine(backendTlsOptions);
    machine.handle({ type: 'backendData', data: encodePacket(tlsGreeting, 0) });
    const login = responsePayload(CLIENT_CAPS);
    machine.handle({ type: 'clientData', data: encodePacket(login, 1) });
    const sent = toBackend(machine.handle({ type: 'backendTlsEstablished' }));
    expect(sent[0].seq).toBe(2);
    expect(hasCapability(parseHandshakeResponse(sent[0].payload).capabilities, Capability.SSL)).toBe(true);
    expect(toClient(machine.handle({ type: 'backendData', data: encodePacket(OK, 3) }))).toEqual([
      { seq: 2, payload: OK },
    ]);
  });

  it('refuses when the database offers no TLS', () => {
    const machine = new HandshakeMachine(backendTlsOptions);
    const actions = machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    expect(of(actions, 'closeClient')[0].reason).toBe('backend_tls_failed');
    expect(of(actions, 'closeBackend')).toHaveLength(1);
  });
});

describe('HandshakeMachine, connection attributes for the database', () => {
  it('adds the client address and TLS facts, keeping the client attributes and every other field', () => {
    const machine = new HandshakeMachine({ ...options, clientAttributes: true }, () => ({
      ip: '10.1.2.3',
      port: 5555,
    }));
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    machine.handle({ type: 'clientData', data: encodePacket(sslRequest, 1) });
    machine.handle({ type: 'tlsEstablished', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' } });
    const original = parseHandshakeResponse(responsePayload(CLIENT_CAPS | Capability.SSL));
    const [sent] = toBackend(
      machine.handle({
        type: 'clientData',
        data: encodePacket(responsePayload(CLIENT_CAPS | Capability.SSL), 2),
      }),
    );
    const forwarded = parseHandshakeResponse(sent.payload);
    expect(text(forwarded.attributes)).toEqual([
      ['_client_name', 'test'],
      ['_client_ip', '10.1.2.3'],
      ['_client_port', '5555'],
      ['_client_tls_version', 'TLSv1.3'],
      ['_client_tls_cipher', 'TLS_AES_256_GCM_SHA384'],
    ]);
    expect({ ...forwarded, attributes: undefined, capabilities: 0, spans: undefined }).toEqual({
      ...original,
      attributes: undefined,
      capabilities: 0,
      spans: undefined,
    });
    expect(forwarded.capabilities).toBe((original.capabilities & ~Capability.SSL) >>> 0);
  });
});

/** The HandshakeResponse with a raw attributes block appended (any bytes, lengths that lie). */
const withRawAttributes = (caps: number, block: Buffer, base = responsePayload): Buffer => {
  const payload = base(caps & ~Capability.CONNECT_ATTRS);
  const withFlag = Buffer.from(payload);
  withFlag.writeUInt32LE((caps | Capability.CONNECT_ATTRS) >>> 0, 0);
  return Buffer.concat([withFlag, block]);
};
const pair = (k: string | Buffer, v: string | Buffer) => {
  const key = Buffer.from(k);
  const value = Buffer.from(v);
  return Buffer.concat([Buffer.from([key.length]), key, Buffer.from([value.length]), value]);
};
const lenenc = (block: Buffer) => Buffer.concat([Buffer.from([block.length]), block]);

describe('HandshakeMachine, connection attributes cannot be forged', () => {
  const attrOptions = { ...options, clientAttributes: true };
  const facts = () => ({ ip: '10.1.2.3', port: 5555 });
  const forged = lenenc(
    Buffer.concat([
      pair('_client_ip', '10.9.9.9'),
      pair('_client_name', 'forger'),
      pair('program_name', Buffer.from([0x78, 0xff, 0x79])), // not UTF-8: does not re-encode
      pair('_client_tls_version', 'TLSv9'),
      pair('_client_ip', '10.8.8.8'),
    ]),
  );

  it('drops the client _client_* names the proxy sets and adds its own; other bytes stay as sent', () => {
    const machine = new HandshakeMachine(attrOptions, facts);
    const login = withRawAttributes(CLIENT_CAPS | Capability.SSL, forged);
    const [sent] = toBackend(tlsLogin(machine, greetingPayload, login));
    const forwarded = parseHandshakeResponse(sent.payload);
    expect(forwarded.attributes).toEqual([
      [Buffer.from('_client_name'), Buffer.from('forger')],
      [Buffer.from('program_name'), Buffer.from([0x78, 0xff, 0x79])],
      [Buffer.from('_client_ip'), Buffer.from('10.1.2.3')],
      [Buffer.from('_client_port'), Buffer.from('5555')],
    ]);
    // every byte before the attributes is the client's (bar CLIENT_SSL)
    const [start] = forwarded.spans.attributes!;
    expect(sent.payload.subarray(4, start)).toEqual(login.subarray(4, start));
  });

  it('a plaintext client cannot claim TLS facts either', () => {
    const machine = new HandshakeMachine(attrOptions, facts);
    machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) });
    const login = withRawAttributes(CLIENT_CAPS, forged);
    const [sent] = toBackend(machine.handle({ type: 'clientData', data: encodePacket(login, 1) }));
    const names = parseHandshakeResponse(sent.payload).attributes!.map(([k]) => k.toString());
    expect(names).toEqual(['_client_name', 'program_name', '_client_ip', '_client_port']);
  });

  it('with --no-client-attrs relays the login byte for byte (bar CLIENT_SSL)', () => {
    const machine = new HandshakeMachine(options, facts);
    const login = withRawAttributes(CLIENT_CAPS | Capability.SSL, forged);
    const [sent] = toBackend(tlsLogin(machine, greetingPayload, login));
    expect(sent.payload.subarray(4)).toEqual(login.subarray(4));
  });

  it('adds attributes to a login that has none, setting CLIENT_CONNECT_ATTRS', () => {
    const machine = new HandshakeMachine(attrOptions, facts);
    const login = responsePayload((CLIENT_CAPS | Capability.SSL) & ~Capability.CONNECT_ATTRS);
    const [sent] = toBackend(tlsLogin(machine, greetingPayload, login));
    const forwarded = parseHandshakeResponse(sent.payload);
    expect(hasCapability(forwarded.capabilities, Capability.CONNECT_ATTRS)).toBe(true);
    expect(text(forwarded.attributes)).toEqual([
      ['_client_ip', '10.1.2.3'],
      ['_client_port', '5555'],
    ]);
  });

  it.each([
    ['an attributes block longer than the packet', Buffer.concat([Buffer.from([200]), pair('a', 'b')])],
    ['a pair longer than its block', Buffer.concat([Buffer.from([3]), pair('abc', 'def')])],
    ['a truncated length prefix', Buffer.from([0xfc, 0x01])],
  ])('refuses %s with ERR 1043, forwarding nothing of it', (_name, block) => {
    const machine = new HandshakeMachine(attrOptions, facts);
    const actions = tlsLogin(
      machine,
      greetingPayload,
      withRawAttributes(CLIENT_CAPS | Capability.SSL, block),
    );
    const close = of(actions, 'closeClient')[0];
    expect(close.reason).toBe('bad_packet');
    expect(parseErrPacket(packetsIn([close.packet!])[0].payload).code).toBe(1043);
    expect(toBackend(actions).map((p) => parseHandshakeResponse(p.payload).username.toString())).toEqual([
      ABORTED_LOGIN_USER,
    ]);
  });

  it('refuses an auth response that claims more bytes than the packet holds', () => {
    const machine = new HandshakeMachine(attrOptions, facts);
    const login = responsePayload(CLIENT_CAPS | Capability.SSL);
    login[32 + 4] = 0xfa; // lenenc auth response length of 250 bytes
    const close = of(tlsLogin(machine, greetingPayload, login), 'closeClient')[0];
    expect(close.reason).toBe('bad_packet');
  });
});

describe('HandshakeMachine, sha256_password on a plain database leg', () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const scramble = Buffer.from('abcdefghijklmnopqrst');
  const sha256Greeting = encodeGreeting({
    ...parseGreeting(greetingPayload),
    serverVersion: '8.0.36',
    authPluginName: 'sha256_password',
  });
  const clearPassword = Buffer.from('s3cret\0');
  const decrypt = (data: Buffer): Buffer => {
    const mixed = crypto.privateDecrypt(
      { key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING },
      data,
    );
    return Buffer.from(mixed.map((b, i) => b ^ scramble[i % scramble.length]));
  };

  it('puts a key request in place of the clear password in the login, then sends it encrypted; ids line up', () => {
    const machine = new HandshakeMachine({ ...options, clientAttributes: false });
    const login = encodeHandshakeResponse({
      ...parseHandshakeResponse(responsePayload(CLIENT_CAPS | Capability.SSL)),
      authResponse: Buffer.from(clearPassword),
      authPluginName: 'sha256_password',
    });
    const sent = toBackend(tlsLogin(machine, sha256Greeting, login));
    expect(sent).toHaveLength(1);
    expect(sent[0].seq).toBe(1);
    const forwarded = parseHandshakeResponse(sent[0].payload);
    expect(forwarded.authResponse).toEqual(Buffer.from([0x01]));
    expect(forwarded.authPluginName).toBe('sha256_password');
    expect(forwarded.username).toEqual(Buffer.from('app'));
    expect(sent[0].payload.includes(Buffer.from('s3cret'))).toBe(false);

    const keyRound = machine.handle({
      type: 'backendData',
      data: encodePacket(Buffer.concat([Buffer.from([0x01]), publicPem]), 2),
    });
    expect(toClient(keyRound)).toEqual([]); // the client never sees the key exchange
    const [encrypted] = toBackend(keyRound);
    expect(encrypted.seq).toBe(3);
    expect(decrypt(encrypted.payload)).toEqual(clearPassword);

    const done = machine.handle({ type: 'backendData', data: encodePacket(OK, 4) });
    expect(toClient(done)).toEqual([{ seq: 3, payload: OK }]);
    expect(machine.phase).toBe('established');
  });

  const sha256Login = (extra: Buffer = Buffer.alloc(0)) =>
    Buffer.concat([
      encodeHandshakeResponse({
        ...parseHandshakeResponse(
          responsePayload((CLIENT_CAPS | Capability.SSL) & ~Capability.CONNECT_ATTRS),
        ),
        capabilities: CLIENT_CAPS | Capability.SSL,
        authResponse: Buffer.from(clearPassword),
        authPluginName: 'sha256_password',
      }),
      extra,
    ]);

  it('does so for a login that does not re-encode (bytes that are not UTF-8 in an attribute)', () => {
    const machine = new HandshakeMachine(options);
    const login = sha256Login(lenenc(pair('program_name', Buffer.from([0xff, 0xfe]))));
    const [sent] = toBackend(tlsLogin(machine, sha256Greeting, login));
    const forwarded = parseHandshakeResponse(sent.payload);
    expect(forwarded.authResponse).toEqual(Buffer.from([0x01]));
    expect(forwarded.attributes).toEqual([[Buffer.from('program_name'), Buffer.from([0xff, 0xfe])]]);
    expect(sent.payload.includes(Buffer.from('s3cret'))).toBe(false);
    const [encrypted] = toBackend(
      machine.handle({
        type: 'backendData',
        data: encodePacket(Buffer.concat([Buffer.from([0x01]), publicPem]), 2),
      }),
    );
    expect(decrypt(encrypted.payload)).toEqual(clearPassword);
  });

  it("does so whatever plugin the greeting names; a server that switches plugins instead gets the client's answer", () => {
    const machine = new HandshakeMachine(options);
    const cachingGreeting = encodeGreeting({
      ...parseGreeting(sha256Greeting),
      authPluginName: 'caching_sha2_password',
    });
    const [sent] = toBackend(tlsLogin(machine, cachingGreeting, sha256Login()));
    expect(parseHandshakeResponse(sent.payload).authResponse).toEqual(Buffer.from([0x01]));
    expect(machine.holdsSecret).toBe(true); // until the key comes
    const sha2Switch = encodeAuthSwitchRequest('caching_sha2_password', scramble);
    const switched = machine.handle({ type: 'backendData', data: encodePacket(sha2Switch, 2) });
    expect(toClient(switched)).toEqual([{ seq: 3, payload: sha2Switch }]);
    expect(toBackend(switched)).toEqual([]);
    expect(machine.holdsSecret).toBe(false);
    const fast = Buffer.alloc(32, 3);
    expect(toBackend(machine.handle({ type: 'clientData', data: encodePacket(fast, 4) }))).toEqual([
      { seq: 3, payload: fast },
    ]);
  });

  it('follows MySQL multi-factor authentication: a caching_sha2_password second factor gets RSA too', () => {
    // AuthNextFactor (0x02, plugin, data) names the next factor's plugin and scramble, like a switch.
    // https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_auth_next_factor_request.html
    const mfaCaps = CLIENT_CAPS | Capability.SSL | Capability.MULTI_FACTOR_AUTHENTICATION;
    const mfaGreeting = encodeGreeting({
      ...parseGreeting(sha256Greeting),
      capabilities: SERVER_CAPS | Capability.MULTI_FACTOR_AUTHENTICATION,
      authPluginName: 'mysql_native_password',
    });
    const machine = new HandshakeMachine(options);
    tlsLogin(machine, mfaGreeting, responsePayload(mfaCaps));
    const second = Buffer.from('ABCDEFGHIJKLMNOPQRST');
    const nextFactor = Buffer.concat([Buffer.from([0x02]), Buffer.from('caching_sha2_password\0'), second]);
    expect(toClient(machine.handle({ type: 'backendData', data: encodePacket(nextFactor, 2) }))).toEqual([
      { seq: 3, payload: nextFactor },
    ]);
    machine.handle({ type: 'clientData', data: encodePacket(Buffer.alloc(32, 3), 4) });
    machine.handle({ type: 'backendData', data: encodePacket(Buffer.from([0x01, 0x04]), 4) });
    const sent = toBackend(machine.handle({ type: 'clientData', data: encodePacket(clearPassword, 6) }));
    expect(sent).toEqual([{ seq: 5, payload: Buffer.from([0x02]) }]);
    const [encrypted] = toBackend(
      machine.handle({
        type: 'backendData',
        data: encodePacket(Buffer.concat([Buffer.from([0x01]), publicPem]), 6),
      }),
    );
    const mixed = crypto.privateDecrypt(
      { key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING },
      encrypted.payload,
    );
    expect(Buffer.from(mixed.map((b, i) => b ^ second[i % 20]))).toEqual(clearPassword);
  });

  it('answers an auth switch to sha256_password the same way; a key request from the client passes through', () => {
    const sha256Switch = encodeAuthSwitchRequest('sha256_password', scramble);
    const run = (answer: Buffer) => {
      const machine = new HandshakeMachine(options);
      tlsLogin(machine);
      const relayed = toClient(machine.handle({ type: 'backendData', data: encodePacket(sha256Switch, 2) }));
      expect(relayed).toEqual([{ seq: 3, payload: sha256Switch }]);
      return {
        machine,
        sent: toBackend(machine.handle({ type: 'clientData', data: encodePacket(answer, 4) })),
      };
    };

    const { machine, sent } = run(Buffer.from(clearPassword));
    expect(sent).toEqual([{ seq: 3, payload: Buffer.from([0x01]) }]);
    const [encrypted] = toBackend(
      machine.handle({
        type: 'backendData',
        data: encodePacket(Buffer.concat([Buffer.from([0x01]), publicPem]), 4),
      }),
    );
    expect(encrypted.seq).toBe(5);
    expect(decrypt(encrypted.payload)).toEqual(clearPassword);
    expect(toClient(machine.handle({ type: 'backendData', data: encodePacket(OK, 6) }))).toEqual([
      { seq: 5, payload: OK },
    ]);

    // a client that asks for the key itself, or has an empty password, is relayed untouched
    expect(run(Buffer.from([0x01])).sent).toEqual([{ seq: 3, payload: Buffer.from([0x01]) }]);
    expect(run(Buffer.from([0x00])).sent).toEqual([{ seq: 3, payload: Buffer.from([0x00]) }]);
  });
});

describe('HandshakeMachine, COM_CHANGE_USER on an established session', () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const mysql8Greeting = parseGreeting(
    encodeGreeting({
      ...parseGreeting(greetingPayload),
      serverVersion: '8.0.36',
      authPluginName: 'caching_sha2_password',
    }),
  );

  const loginTo = (greeting: Buffer, opts = options, extraCaps = 0) => {
    const machine = new HandshakeMachine(opts);
    const actions = tlsLogin(machine, greeting, responsePayload(CLIENT_CAPS | Capability.SSL | extraCaps));
    return [...actions, ...machine.handle({ type: 'backendData', data: encodePacket(OK, 2) })];
  };

  it('watches every TLS session on a plain leg, whatever the greeting: any can switch to SHA-256 later', () => {
    const mysql8 = encodeGreeting(mysql8Greeting);
    const context = of(loginTo(mysql8), 'established')[0].changeUser;
    expect(context).toMatchObject({
      plugin: 'caching_sha2_password',
      capabilities: CLIENT_CAPS & SERVER_CAPS,
    });
    expect(context?.scramble).toEqual(Buffer.from('abcdefghijklmnopqrst'));
    // a MySQL 8 login with mysql_native_password; MariaDB (caching_sha2_password plugin since 11.4)
    const native = encodeGreeting({ ...mysql8Greeting, authPluginName: 'mysql_native_password' });
    expect(of(loginTo(native), 'established')[0].changeUser).toMatchObject({
      plugin: 'mysql_native_password',
    });
    expect(of(loginTo(greetingPayload), 'established')[0].changeUser).toBeDefined();
  });

  it('pipes untouched where no clear password can cross: TiDB, --backend-tls, plaintext clients', () => {
    const tidb = encodeGreeting({ ...mysql8Greeting, serverVersion: '8.0.11-TiDB-v7.5.0' });
    expect(of(loginTo(tidb), 'established')[0].changeUser).toBeUndefined();
    const plain = new HandshakeMachine(options);
    plain.handle({ type: 'backendData', data: encodePacket(encodeGreeting(mysql8Greeting), 0) });
    plain.handle({ type: 'clientData', data: encodePacket(responsePayload(CLIENT_CAPS), 1) });
    const done = plain.handle({ type: 'backendData', data: encodePacket(OK, 2) });
    expect(of(done, 'established')[0].changeUser).toBeUndefined();
    const tlsBackend = new HandshakeMachine({ ...options, backendTls: true });
    const tlsGreeting = encodeGreeting({ ...mysql8Greeting, capabilities: SERVER_CAPS | Capability.SSL });
    tlsLogin(tlsBackend, tlsGreeting);
    tlsBackend.handle({ type: 'backendTlsEstablished' });
    const viaTls = tlsBackend.handle({ type: 'backendData', data: encodePacket(OK, 3) });
    expect(of(viaTls, 'established')[0].changeUser).toBeUndefined();
  });

  it('does not offer compression on a plain leg, and refuses a TLS client that asks for it anyway', () => {
    // Compressed frames would hide the command headers the watch follows.
    const offering = encodeGreeting({
      ...mysql8Greeting,
      capabilities: SERVER_CAPS | Capability.COMPRESS | Capability.ZSTD_COMPRESSION_ALGORITHM,
    });
    const [relayed] = toClient(
      new HandshakeMachine(options).handle({ type: 'backendData', data: encodePacket(offering, 0) }),
    );
    const caps = parseGreeting(relayed.payload).capabilities;
    expect(
      hasCapability(caps, Capability.COMPRESS) || hasCapability(caps, Capability.ZSTD_COMPRESSION_ALGORITHM),
    ).toBe(false);
    expect(hasCapability(caps, Capability.SSL)).toBe(true);
    for (const flag of [Capability.COMPRESS, Capability.ZSTD_COMPRESSION_ALGORITHM]) {
      const actions = loginTo(offering, options, flag);
      expect(of(actions, 'closeClient')[0]).toMatchObject({ reason: 'bad_packet' });
      expect(of(actions, 'established')).toEqual([]);
    }
    // --backend-tls keeps compression: nothing is watched there
    const kept = new HandshakeMachine({ ...options, backendTls: true }).handle({
      type: 'backendData',
      data: encodePacket(
        encodeGreeting({
          ...parseGreeting(offering),
          capabilities: parseGreeting(offering).capabilities | Capability.SSL,
        }),
        0,
      ),
    });
    expect(hasCapability(parseGreeting(toClient(kept)[0].payload).capabilities, Capability.COMPRESS)).toBe(
      true,
    );
  });

  it('relays the command and its re-authentication with command-phase ids, encrypting a clear password', () => {
    const scramble = Buffer.from('ABCDEFGHIJKLMNOPQRST');
    const machine = HandshakeMachine.forChangeUser(options, {
      greeting: mysql8Greeting,
      plugin: 'caching_sha2_password',
      scramble: Buffer.from('abcdefghijklmnopqrst'),
      capabilities: CLIENT_CAPS,
    });
    const command = Buffer.concat([
      Buffer.from([0x11]),
      Buffer.from('app\0'),
      Buffer.from([20]),
      Buffer.alloc(20, 5),
      Buffer.from('\0'),
    ]);
    expect(toBackend(machine.handle({ type: 'clientData', data: encodePacket(command, 0) }))).toEqual([
      { seq: 0, payload: command },
    ]);
    const sha2Switch = encodeAuthSwitchRequest('caching_sha2_password', scramble);
    expect(toClient(machine.handle({ type: 'backendData', data: encodePacket(sha2Switch, 1) }))).toEqual([
      { seq: 1, payload: sha2Switch },
    ]);
    const fast = Buffer.alloc(32, 3);
    expect(toBackend(machine.handle({ type: 'clientData', data: encodePacket(fast, 2) }))).toEqual([
      { seq: 2, payload: fast },
    ]);
    const full = Buffer.from([0x01, 0x04]);
    expect(toClient(machine.handle({ type: 'backendData', data: encodePacket(full, 3) }))).toEqual([
      { seq: 3, payload: full },
    ]);
    const password = Buffer.from('pw\0');
    expect(toBackend(machine.handle({ type: 'clientData', data: encodePacket(password, 4) }))).toEqual([
      { seq: 4, payload: Buffer.from([0x02]) },
    ]);
    const [encrypted] = toBackend(
      machine.handle({
        type: 'backendData',
        data: encodePacket(Buffer.concat([Buffer.from([0x01]), publicPem]), 5),
      }),
    );
    expect(encrypted.seq).toBe(6);
    const mixed = crypto.privateDecrypt(
      { key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING },
      encrypted.payload,
    );
    expect(Buffer.from(mixed.map((b, i) => b ^ scramble[i % 20]))).toEqual(Buffer.from('pw\0'));
    const done = machine.handle({ type: 'backendData', data: encodePacket(OK, 7) });
    expect(toClient(done)).toEqual([{ seq: 5, payload: OK }]);
    expect(of(done, 'established')[0].changeUser).toMatchObject({
      plugin: 'caching_sha2_password',
      scramble,
    });
  });

  describe('the command itself', () => {
    const scramble = Buffer.from('abcdefghijklmnopqrst');
    const context = {
      greeting: mysql8Greeting,
      plugin: 'caching_sha2_password',
      scramble,
      capabilities: CLIENT_CAPS,
      attributes: [
        [Buffer.from('_client_ip'), Buffer.from('10.1.2.3')],
        [Buffer.from('_client_port'), Buffer.from('5555')],
      ] as Array<[Buffer, Buffer]>,
    };
    /** COM_CHANGE_USER: user, auth data (1-byte length), database, character set, plugin, attributes. */
    const command = (auth: Buffer, plugin: string, attributes: Buffer) =>
      Buffer.concat([
        Buffer.from([0x11]),
        Buffer.from('app\0'),
        Buffer.from([auth.length]),
        auth,
        Buffer.from('test\0'),
        Buffer.from([0x21, 0x00]),
        Buffer.from(`${plugin}\0`),
        attributes,
      ]);
    const forged = lenenc(Buffer.concat([pair('_client_ip', '10.9.9.9'), pair('k', Buffer.from([0xff]))]));

    it("drops the client _client_* attributes and adds the proxy's, the rest byte for byte", () => {
      const machine = HandshakeMachine.forChangeUser(options, context);
      const sent = command(Buffer.alloc(20, 5), 'mysql_native_password', forged);
      const [relayed] = toBackend(machine.handle({ type: 'clientData', data: encodePacket(sent, 0) }));
      const expected = command(
        Buffer.alloc(20, 5),
        'mysql_native_password',
        lenenc(
          Buffer.concat([
            pair('k', Buffer.from([0xff])),
            pair('_client_ip', '10.1.2.3'),
            pair('_client_port', '5555'),
          ]),
        ),
      );
      expect(relayed).toEqual({ seq: 0, payload: expected });
    });

    it('refuses a COM_CHANGE_USER carrying a clear mysql_clear_password password: ERR 1045, nothing relayed', () => {
      const machine = HandshakeMachine.forChangeUser(options, context);
      const sent = command(Buffer.from('pw-in-clear\0'), 'mysql_clear_password', forged);
      const actions = machine.handle({ type: 'clientData', data: encodePacket(sent, 0) });
      const close = of(actions, 'closeClient')[0];
      expect(close.reason).toBe('clear_password_refused');
      expect(parseErrPacket(packetsIn([close.packet!])[0].payload).code).toBe(1045);
      for (const p of toBackend(actions)) expect(p.payload.includes(Buffer.from('pw-in-clear'))).toBe(false);
    });

    it('puts a key request in place of a clear sha256_password password; the server may take it or switch', () => {
      const clear = Buffer.from('pw-in-command\0');
      const taking = HandshakeMachine.forChangeUser(options, context);
      const [relayed] = toBackend(
        taking.handle({
          type: 'clientData',
          data: encodePacket(command(clear, 'sha256_password', forged), 0),
        }),
      );
      expect(relayed.payload.includes(Buffer.from('pw-in-command'))).toBe(false);
      expect(relayed.payload.includes(Buffer.from([1, 0x01, ...Buffer.from('test\0')]))).toBe(true);
      const [encrypted] = toBackend(
        taking.handle({
          type: 'backendData',
          data: encodePacket(Buffer.concat([Buffer.from([0x01]), publicPem]), 1),
        }),
      );
      expect(encrypted.seq).toBe(2);
      const mixed = crypto.privateDecrypt(
        { key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING },
        encrypted.payload,
      );
      expect(Buffer.from(mixed.map((b, i) => b ^ scramble[i % 20]))).toEqual(clear);
      expect(toClient(taking.handle({ type: 'backendData', data: encodePacket(OK, 3) }))).toEqual([
        { seq: 1, payload: OK },
      ]);

      const switching = HandshakeMachine.forChangeUser(options, context);
      switching.handle({
        type: 'clientData',
        data: encodePacket(command(clear, 'sha256_password', forged), 0),
      });
      const sha256Switch = encodeAuthSwitchRequest('sha256_password', Buffer.from('ABCDEFGHIJKLMNOPQRST'));
      expect(
        toClient(switching.handle({ type: 'backendData', data: encodePacket(sha256Switch, 1) })),
      ).toEqual([{ seq: 1, payload: sha256Switch }]);
      // the client answers the switch with its clear password: RSA again
      const answer = toBackend(switching.handle({ type: 'clientData', data: encodePacket(clear, 2) }));
      expect(answer).toEqual([{ seq: 2, payload: Buffer.from([0x01]) }]);
    });

    it.each([
      ['a user name without its NUL', Buffer.from('\x11app')],
      ['auth data longer than the packet', Buffer.from('\x11app\0\x50abc')],
      [
        'attributes longer than the packet',
        command(Buffer.alloc(20), 'mysql_native_password', Buffer.from([0x40, 1, 0x61])),
      ],
    ])('refuses %s with ERR 1043 and logs the idle session out', (_name, bad) => {
      const machine = HandshakeMachine.forChangeUser(options, context);
      const actions = machine.handle({ type: 'clientData', data: encodePacket(bad, 0) });
      const close = of(actions, 'closeClient')[0];
      expect(close.reason).toBe('bad_packet');
      const [err] = packetsIn([close.packet!]);
      expect(err.seq).toBe(1);
      expect(parseErrPacket(err.payload).code).toBe(1043);
      expect(toBackend(actions)).toEqual([{ seq: 0, payload: Buffer.from([0x01]) }]); // COM_QUIT only
      expect(of(actions, 'closeBackend')).toHaveLength(1);
    });
  });
});

describe('HandshakeMachine, clear-password plugins on a plain database leg', () => {
  it.each(['mysql_clear_password', 'dialog'])(
    'refuses an auth switch to %s with ERR 1045 instead of relaying it to a TLS client',
    (plugin) => {
      const machine = new HandshakeMachine(options);
      tlsLogin(machine);
      const ask = encodeAuthSwitchRequest(plugin, Buffer.alloc(0));
      const actions = machine.handle({ type: 'backendData', data: encodePacket(ask, 2) });
      expect(toClient(actions)).toEqual([]); // the switch never reaches the client
      const close = of(actions, 'closeClient')[0];
      expect(close.reason).toBe('clear_password_refused');
      const [err] = packetsIn([close.packet!]);
      expect(err.seq).toBe(3);
      expect(parseErrPacket(err.payload)).toMatchObject({ code: 1045 });
      expect(parseErrPacket(err.payload).message).toContain('--backend-tls');
      // The database's question gets the placeholder's dummy answer at once (nothing of the client's).
      expect(toBackend(actions)).toEqual([{ seq: 3, payload: Buffer.alloc(20) }]);
    },
  );

  it("relays the same switch to a plaintext client: its password was never protected by the proxy's TLS", () => {
    const machine = new HandshakeMachine(options);
    const login = [
      ...machine.handle({ type: 'backendData', data: encodePacket(greetingPayload, 0) }),
      ...machine.handle({
        type: 'clientData',
        data: encodePacket(responsePayload(CLIENT_CAPS & ~Capability.SSL), 1),
      }),
    ];
    expect(of(login, 'closeClient')).toEqual([]);
    const ask = encodeAuthSwitchRequest('mysql_clear_password', Buffer.alloc(0));
    const actions = machine.handle({ type: 'backendData', data: encodePacket(ask, 2) });
    expect(of(actions, 'closeClient')).toEqual([]);
    expect(toClient(actions)).toEqual([{ seq: 2, payload: ask }]);
  });

  it('refuses a login that starts on dialog with no auth data yet: its password would follow as prompt answers', () => {
    const machine = new HandshakeMachine(options);
    const login = encodeHandshakeResponse({
      ...parseHandshakeResponse(responsePayload(CLIENT_CAPS | Capability.SSL)),
      authResponse: Buffer.alloc(0),
      authPluginName: 'dialog',
    });
    const actions = tlsLogin(machine, greetingPayload, login);
    expect(of(actions, 'closeClient')[0].reason).toBe('clear_password_refused');
    expect(toBackend(actions).map((p) => parseHandshakeResponse(p.payload).username.toString())).toEqual([
      ABORTED_LOGIN_USER,
    ]);
  });

  it('refuses a login that names no plugin when the greeting asks for mysql_clear_password', () => {
    const machine = new HandshakeMachine(options);
    const clearGreeting = encodeGreeting({
      ...parseGreeting(greetingPayload),
      authPluginName: 'mysql_clear_password',
    });
    const caps = (CLIENT_CAPS | Capability.SSL) & ~Capability.PLUGIN_AUTH;
    const login = encodeHandshakeResponse({
      ...parseHandshakeResponse(responsePayload(caps)),
      capabilities: caps,
      authResponse: Buffer.from('clear-secret\0'),
      authPluginName: undefined,
    });
    const actions = tlsLogin(machine, clearGreeting, login);
    expect(of(actions, 'closeClient')[0].reason).toBe('clear_password_refused');
    for (const p of toBackend(actions)) expect(p.payload.includes(Buffer.from('clear-secret'))).toBe(false);
  });

  it('refuses a HandshakeResponse that carries a clear mysql_clear_password password, sending none of it', () => {
    const machine = new HandshakeMachine(options);
    const login = encodeHandshakeResponse({
      ...parseHandshakeResponse(responsePayload(CLIENT_CAPS | Capability.SSL)),
      authResponse: Buffer.from('clear-secret\0'),
      authPluginName: 'mysql_clear_password',
    });
    const actions = tlsLogin(machine, greetingPayload, login);
    const close = of(actions, 'closeClient')[0];
    expect(close.reason).toBe('clear_password_refused');
    for (const p of toBackend(actions)) expect(p.payload.includes(Buffer.from('clear-secret'))).toBe(false);
  });
});
