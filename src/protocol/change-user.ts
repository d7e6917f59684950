import { Capability, hasCapability } from './capabilities';
import { encodeAttributes, parseAttributes, type Span } from './handshake-response';
import { MalformedPacketError, PayloadReader } from './reader';

/**
 * COM_CHANGE_USER: a new login inside an established session. Its auth data starts a
 * re-authentication exactly like a HandshakeResponse's, so it can carry a clear password
 * (sha256_password over TLS) and connection attributes.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_change_user.html
 */
export const COM_CHANGE_USER = 0x11;

export interface ChangeUser {
  username: Buffer;
  /** A view into the payload, so wiping the payload wipes it. */
  authResponse: Buffer;
  database: Buffer;
  characterSet?: number;
  authPluginName?: string;
  attributes?: Array<[Buffer, Buffer]>;
  spans: {
    authResponse: Span;
    /** The attributes block, or where it would go; undefined when it cannot be placed. */
    attributes?: Span;
  };
}

/** Parses with the session's capabilities, which select the auth data's encoding and the optional fields. */
export function parseChangeUser(payload: Buffer, capabilities: number): ChangeUser {
  const r = new PayloadReader(payload);
  if (r.u8('command') !== COM_CHANGE_USER) throw new MalformedPacketError('not a COM_CHANGE_USER');
  const username = r.nulTerminated('username');
  const authStart = r.offset;
  const authResponse = hasCapability(capabilities, Capability.SECURE_CONNECTION)
    ? r.bytes(r.u8('auth response length'), 'auth response')
    : r.nulTerminated('auth response');
  const spans: ChangeUser['spans'] = { authResponse: [authStart, r.offset] };
  const command: ChangeUser = { username, authResponse, database: r.nulTerminated('database'), spans };
  if (r.remaining === 0) return command; // an old client: no character set, plugin or attributes
  command.characterSet = r.u16('character set');
  let complete = true;
  if (hasCapability(capabilities, Capability.PLUGIN_AUTH)) {
    const end = payload.indexOf(0, r.offset);
    complete = end >= 0;
    command.authPluginName = payload.toString('latin1', r.offset, complete ? end : payload.length);
    r.offset = complete ? end + 1 : payload.length;
  }
  if (!hasCapability(capabilities, Capability.CONNECT_ATTRS)) return command;
  const start = r.offset;
  if (r.remaining > 0) {
    command.attributes = parseAttributes(r.lenencBytes('connection attributes'));
    spans.attributes = [start, r.offset];
  } else if (complete) {
    spans.attributes = [start, start];
  }
  return command;
}

/**
 * The COM_CHANGE_USER with only the given fields replaced, every other byte as the client sent it.
 * The new auth response must fit the encoding the capabilities select.
 */
export function spliceChangeUser(
  payload: Buffer,
  command: ChangeUser,
  capabilities: number,
  changes: { authResponse?: Buffer; attributes?: Array<[Buffer, Buffer]> },
): Buffer {
  const [authStart, authEnd] = command.spans.authResponse;
  const attributesSpan = changes.attributes ? command.spans.attributes : [payload.length, payload.length];
  if (!attributesSpan)
    throw new MalformedPacketError('no place for connection attributes in COM_CHANGE_USER');
  const [attrStart, attrEnd] = attributesSpan;
  let auth: Buffer = payload.subarray(authStart, authEnd);
  if (changes.authResponse) {
    const data = changes.authResponse;
    if (hasCapability(capabilities, Capability.SECURE_CONNECTION)) {
      if (data.length > 255) throw new RangeError('auth response longer than 255 bytes');
      auth = Buffer.concat([Buffer.from([data.length]), data]);
    } else {
      auth = Buffer.concat([data, Buffer.from([0])]);
    }
  }
  return Buffer.concat([
    payload.subarray(0, authStart),
    auth,
    payload.subarray(authEnd, attrStart),
    changes.attributes ? encodeAttributes(changes.attributes) : Buffer.alloc(0),
    payload.subarray(attrEnd),
  ]);
}
