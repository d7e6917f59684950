import { Capability, hasCapability } from '../../protocol/capabilities';
import { isErrPacket, parseErrPacket } from '../../protocol/err-packet';
import { errReplies } from '../../protocol/err-replies';
import { isGreeting, parseGreeting, withGreetingCapabilities } from '../../protocol/greeting';
import type { Packet } from '../../protocol/packet';
import { looksLikeProxyHeader } from '../../protocol/proxy-protocol';
import { MalformedPacketError } from '../../protocol/reader';
import { serverKind } from '../../protocol/server-kind';
import type { PacketChannel } from '../channel';
import { capabilitiesWithheld } from '../rsa-policy';
import { ClientFirstPhase } from './client-tls';
import { type Greeted, type Phase, type PhaseContext, UnexpectedProxyHeaderError } from './phase';
import { ReleasePhase } from './release';

/**
 * Dialled the database, nothing sent to the client yet: the database speaks first. Its greeting
 * is relayed untouched except for CLIENT_SSL, which the proxy itself provides, and compression
 * where the session layer must read command headers (see rsa-policy.ts).
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_v10.html
 */
export class GreetingPhase implements Phase {
  readonly name = 'awaitGreeting';
  readonly open = 'both';
  readonly clientErr = 'preGreeting';

  constructor(private readonly ctx: PhaseContext) {}

  /** Client bytes wait for the greeting, within the packet cap; a PROXY header is refused at once. */
  readClient(): boolean {
    const { client } = this.ctx.legs;
    refuseUntrustedProxyHeader(client);
    if (client.bufferedBytes > this.ctx.options.maxPacketSize) {
      throw new MalformedPacketError('the client sent data before the server greeting');
    }
    return false;
  }

  readBackend(): boolean {
    const packet = this.ctx.legs.backend.readFirst();
    if (!packet) return false;
    const greeted = takeGreeting(this.ctx, packet);
    if (!greeted) return true;
    const { greeting, kind } = greeted;
    const withheld = capabilitiesWithheld(this.ctx.options.backendTls, kind);
    const relayed = withGreetingCapabilities(packet.payload, greeting, Capability.SSL, withheld);
    const data = this.ctx.legs.client.frameFirst(relayed, packet.sequenceId);
    this.ctx.emit({ type: 'sendToClient', data });
    this.ctx.enter(new ClientFirstPhase(this.ctx, greeted));
    return true;
  }

  clientGone(): Phase {
    return ReleasePhase.beforeGreeting(this.ctx);
  }
}

/**
 * The database's first packet: its greeting (announced to the socket layer, its kind decided
 * here, once), or undefined when it refused instead ("Host is blocked", "Too many connections":
 * relayed so the client reads the database's words) or offers no TLS where --backend-tls needs
 * it; both legs are closed then. Anything else is not a MySQL server.
 */
export function takeGreeting(ctx: PhaseContext, packet: Packet): Greeted | undefined {
  if (isErrPacket(packet.payload)) {
    const err = parseErrPacket(packet.payload);
    const detail = `database refused the connection: ${err.code} ${err.message}`;
    ctx.endBoth('backend_refused', detail, { relay: packet });
    return undefined;
  }
  if (!isGreeting(packet.payload)) {
    const first = packet.payload[0]?.toString(16);
    throw new MalformedPacketError(`expected a greeting, got a packet starting 0x${first}`);
  }
  const greeting = parseGreeting(packet.payload);
  if (!hasCapability(greeting.capabilities, Capability.PROTOCOL_41)) {
    throw new MalformedPacketError('the database does not speak protocol 4.1');
  }
  if (ctx.options.backendTls && !hasCapability(greeting.capabilities, Capability.SSL)) {
    const detail = 'the database does not offer TLS (--backend-tls is on)';
    ctx.endBoth('backend_tls_failed', detail, errReplies.backendUnavailable(detail));
    return undefined;
  }
  const { serverVersion, connectionId } = greeting;
  ctx.emit({ type: 'greeting', serverVersion, connectionId });
  return { greeting, kind: serverKind(greeting) };
}

/** Only the connection's first bytes can be a PROXY header; 3 bytes tell it apart from any MySQL packet. */
export function refuseUntrustedProxyHeader(client: PacketChannel): void {
  if (client.bufferedBytes < 3 || !looksLikeProxyHeader(client.peek(12))) return;
  throw new UnexpectedProxyHeaderError(
    'PROXY protocol header from a peer not listed in --proxy-protocol-from',
  );
}
