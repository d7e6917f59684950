/**
 * Behaviour probes: client-initiated renegotiation, session resumption (session id and tickets,
 * offered and really resumed) and whether a login without TLS is processed.
 */
import { constants } from 'node:crypto';
import type tls from 'node:tls';
import {
  Capability,
  encodeHandshakeResponse,
  encodePacket,
  isErrPacket,
  PacketReader,
  parseErrPacket,
} from '../protocol';
import type { Answer, PlaintextFacts, ResumptionFacts } from './facts';
import type { Limiter } from './limit';
import { openGreeting, withHandshake, type ProbeTarget, type TlsOptions } from './mysql-tls';

const TLS12: TlsOptions = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' };
const TLS13: TlsOptions = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
/** TLS 1.3 tickets arrive after the handshake; servers send them at once. */
const TICKET_WAIT_MS = 500;
/** A made-up user: the plaintext login probe never sends credentials. */
const PROBE_USER = 'mtp_check_probe';
/** ER_SECURE_TRANSPORT_REQUIRED (MySQL 3159; MariaDB reuses the text with its own number). */
const INSECURE_TRANSPORT = /insecure transport|secure transport|requires? (ssl|tls)|ssl connection/i;

export type RenegotiationAnswer = { clientInitiated: 'allowed' | 'refused' | 'unknown'; detail?: string };

/** A TLS 1.2 connection asks to renegotiate: the server either completes it or refuses. */
export async function probeRenegotiation(target: ProbeTarget, limit: Limiter): Promise<RenegotiationAnswer> {
  const result = await limit(() =>
    withHandshake(target, { ...TLS12, ciphers: 'DEFAULT:@SECLEVEL=0' }, (socket) =>
      renegotiate(socket, target.timeoutMs),
    ),
  );
  if (!result.ok) return { clientInitiated: 'unknown', detail: result.failure.reason };
  return result.value;
}

function renegotiate(socket: tls.TLSSocket, timeoutMs: number): Promise<RenegotiationAnswer> {
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ clientInitiated: 'refused', detail: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
    const done = (answer: RenegotiationAnswer): void => {
      clearTimeout(timer);
      resolve(answer);
    };
    socket.on('close', () =>
      done({ clientInitiated: 'refused', detail: 'the server closed the connection' }),
    );
    const started = socket.renegotiate({ rejectUnauthorized: false }, (error) => {
      if (!error) return done({ clientInitiated: 'allowed' });
      const reason = (error as NodeJS.ErrnoException).code ?? error.message;
      done({ clientInitiated: 'refused', detail: String(reason) });
    });
    if (!started) done({ clientInitiated: 'unknown', detail: 'renegotiation could not be started' });
  });
}

/**
 * Closes with close_notify and waits for the server's: OpenSSL servers drop a session from their
 * cache when the connection ends without a proper shutdown.
 */
function closeCleanly(socket: tls.TLSSocket): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, TICKET_WAIT_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.end();
  });
}

/** The session of a fresh connection (TLS 1.3: the first ticket), closing it cleanly afterwards. */
async function sessionOf(socket: tls.TLSSocket, tls13: boolean): Promise<Buffer | undefined> {
  const session = tls13 ? await ticketOf(socket) : socket.getSession();
  await closeCleanly(socket);
  return session;
}

function ticketOf(socket: tls.TLSSocket): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), TICKET_WAIT_MS);
    socket.once('session', (session: Buffer) => {
      clearTimeout(timer);
      resolve(session);
    });
  });
}

async function resumes(
  target: ProbeTarget,
  limit: Limiter,
  options: TlsOptions,
  offered: (socket: tls.TLSSocket) => boolean,
): Promise<{ offered: Answer; resumed: Answer }> {
  const tls13 = options.maxVersion === 'TLSv1.3';
  const first = await limit(() =>
    withHandshake(target, options, async (s) => ({
      offered: offered(s),
      session: await sessionOf(s, tls13),
    })),
  );
  if (!first.ok) return { offered: 'unknown', resumed: 'unknown' };
  if (!first.value.offered || !first.value.session) return { offered: 'no', resumed: 'no' };
  const second = await limit(() =>
    withHandshake(target, { ...options, session: first.value.session }, (s) => s.isSessionReused()),
  );
  if (!second.ok) return { offered: 'yes', resumed: 'unknown' };
  return { offered: 'yes', resumed: second.value ? 'yes' : 'no' };
}

/**
 * Session id: TLS 1.2 with tickets disabled on our side, offered when the first-flight probe saw a
 * session id; tickets: TLS 1.2 (a NewSessionTicket) and TLS 1.3 (a ticket after the handshake).
 */
export async function probeResumption(
  target: ProbeTarget,
  limit: Limiter,
  versions: { tls12: boolean; tls13: boolean; sessionIdOffered: Answer },
): Promise<ResumptionFacts> {
  const na = { offered: 'not applicable', resumed: 'not applicable' } as const;
  const noTicket = { ...TLS12, secureOptions: constants.SSL_OP_NO_TICKET };
  const [sessionId, ticketTls12, ticketTls13] = await Promise.all([
    versions.tls12 && versions.sessionIdOffered !== 'no'
      ? resumes(target, limit, noTicket, () => versions.sessionIdOffered === 'yes')
      : versions.tls12
        ? { offered: 'no' as const, resumed: 'no' as const }
        : na,
    versions.tls12 ? resumes(target, limit, TLS12, (s) => s.getTLSTicket() !== undefined) : na,
    versions.tls13 ? resumes(target, limit, TLS13, () => true) : na,
  ]);
  return { sessionId, ticketTls12, ticketTls13 };
}

function plaintextLoginPacket(): Buffer {
  const payload = encodeHandshakeResponse({
    capabilities:
      Capability.LONG_PASSWORD |
      Capability.PROTOCOL_41 |
      Capability.SECURE_CONNECTION |
      Capability.PLUGIN_AUTH,
    maxPacketSize: 16 * 1024 * 1024,
    characterSet: 45,
    filler: Buffer.alloc(23),
    username: Buffer.from(PROBE_USER),
    authResponse: Buffer.alloc(0),
    authPluginName: 'mysql_native_password',
  });
  return encodePacket(payload, 1);
}

/** Classifies the server's answer to a plaintext HandshakeResponse for a user that does not exist. */
export function plaintextVerdict(payload: Buffer): Pick<PlaintextFacts, 'login' | 'loginDetail'> {
  if (!isErrPacket(payload)) {
    return {
      login: 'offered',
      loginDetail: `the server went on with the login (packet 0x${payload[0]?.toString(16)})`,
    };
  }
  const err = parseErrPacket(payload);
  const detail = `ERR ${err.code}: ${err.message}`;
  if (err.code === 3159 || INSECURE_TRANSPORT.test(err.message))
    return { login: 'refused', loginDetail: detail };
  return { login: 'offered', loginDetail: detail };
}

/** Sends a plaintext login for a made-up user with no password and reads the one answer. */
export async function probePlaintextLogin(
  target: ProbeTarget,
): Promise<Pick<PlaintextFacts, 'login' | 'loginDetail'>> {
  const { socket } = await openGreeting(target);
  return new Promise((resolve) => {
    const reader = new PacketReader(64 * 1024);
    const timer = setTimeout(
      () => done({ login: 'unknown', loginDetail: `no answer within ${target.timeoutMs} ms` }),
      target.timeoutMs,
    );
    const done = (answer: Pick<PlaintextFacts, 'login' | 'loginDetail'>): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      const packet = reader.read();
      if (packet) done(plaintextVerdict(packet.payload));
    });
    socket.on('error', (error) => done({ login: 'unknown', loginDetail: error.message }));
    socket.on('end', () => done({ login: 'refused', loginDetail: 'the server closed the connection' }));
    socket.write(plaintextLoginPacket());
    socket.resume();
  });
}
