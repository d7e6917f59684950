import { Capability, hasCapability } from '../../protocol/capabilities';
import { MalformedPacketError } from '../../protocol/reader';
import { isSslRequest, parseSslRequest } from '../../protocol/ssl-request';
import type { HandshakeEvent } from '../types';
import { refuseUntrustedProxyHeader } from './greeting';
import { LoginPhase } from './login';
import { type Greeted, type Phase, type PhaseContext, refuseBackendPacket } from './phase';
import { ReleasePhase } from './release';

/**
 * The greeting is relayed; the client's first packet decides the transport: an SSLRequest (32
 * bytes, CLIENT_SSL) upgrades the client leg to TLS in-band, anything else is a plaintext login.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_ssl_request.html
 */
export class ClientFirstPhase implements Phase {
  readonly name = 'awaitClientFirst';
  readonly open = 'both';
  readonly clientErr = 'negotiated';

  constructor(
    private readonly ctx: PhaseContext,
    private readonly greeted: Greeted,
  ) {}

  readClient(): boolean {
    const { client } = this.ctx.legs;
    refuseUntrustedProxyHeader(client);
    if (client.bufferedBytes > 0) refuseDirectTls(client.peek(2));
    const packet = client.read();
    if (!packet) return false;
    if (isSslRequest(packet.payload)) {
      parseSslRequest(packet.payload);
      // Every byte after the SSLRequest is the client's TLS handshake: the socket layer's.
      this.ctx.emit({ type: 'startTls', pending: client.drain() });
      this.ctx.enter(new ClientTlsPhase(this.ctx, this.greeted));
      return true;
    }
    const { payload } = packet;
    if (payload.length >= 4 && hasCapability(payload.readUInt32LE(0), Capability.SSL)) {
      throw new MalformedPacketError(
        `CLIENT_SSL set in a ${payload.length}-byte packet (an SSLRequest is exactly 32 bytes)`,
      );
    }
    const login = new LoginPhase(this.ctx, this.greeted, { transport: 'plain' });
    this.ctx.enter(login);
    login.take(payload);
    return true;
  }

  readBackend(): boolean {
    return refuseBackendPacket(this.ctx.legs, this.name);
  }

  clientGone(): Phase {
    return ReleasePhase.placeholder(this.ctx, this.greeted.greeting);
  }
}

/** The socket layer runs the client's TLS handshake: client bytes are its, not the machine's. */
export class ClientTlsPhase implements Phase {
  readonly name = 'tlsHandshake';
  readonly open = 'both';
  /** The client expects TLS records now: an ERR would be garbage to it. */
  readonly clientErr = 'none';

  constructor(
    private readonly ctx: PhaseContext,
    private readonly greeted: Greeted,
  ) {}

  clientTlsUp(event: Extract<HandshakeEvent, { type: 'tlsEstablished' }>): void {
    const tls = { transport: 'tls' as const, certificate: event.clientCertificate, facts: event.tls };
    this.ctx.enter(new LoginPhase(this.ctx, this.greeted, tls));
  }

  readBackend(): boolean {
    return refuseBackendPacket(this.ctx.legs, this.name);
  }

  clientGone(): Phase {
    return ReleasePhase.placeholder(this.ctx, this.greeted.greeting);
  }
}

function refuseDirectTls(first: Buffer): void {
  if (first[0] === 0x16 && first.length > 1 && first[1] === 0x03) {
    throw new MalformedPacketError(
      'a TLS ClientHello arrived where the MySQL SSLRequest was due (MySQL upgrades to TLS in-band; use a MySQL client with ssl-mode)',
    );
  }
}
