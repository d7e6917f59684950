import type { Greeting } from '../../protocol/greeting';
import { MalformedPacketError } from '../../protocol/reader';
import { SSL_REQUEST_LENGTH } from '../../protocol/ssl-request';
import { type Phase, type PhaseContext, refuseBackendPacket } from './phase';
import { ReleasePhase } from './release';

/**
 * --backend-tls: the proxy upgrades the database leg in-band as a client would: an SSLRequest
 * (the login's own first 32 bytes, CLIENT_SSL set), the TLS handshake (the socket layer's), then
 * the login. The database leg's channel numbers them, so the client leg, which carried its own
 * SSLRequest or none, needs no offset.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_ssl_request.html
 */
export class BackendTlsPhase implements Phase {
  readonly name = 'backendTls';
  readonly open = 'both';
  readonly clientErr = 'negotiated';

  constructor(
    private readonly ctx: PhaseContext,
    private readonly greeting: Greeting,
    private readonly login: Buffer,
    /** The phase once the login is sent: the auth relay (which holds no password: the leg is TLS). */
    private readonly next: Phase,
  ) {}

  begin(): void {
    sendSslRequest(this.ctx, this.login);
  }

  /** The client speaks only after the database answers: its bytes wait, within the packet cap. */
  readClient(): boolean {
    if (this.ctx.legs.client.bufferedBytes > this.ctx.options.maxPacketSize) {
      throw new MalformedPacketError('too much data pipelined before the login completed');
    }
    return false;
  }

  readBackend(): boolean {
    return refuseBackendPacket(this.ctx.legs, this.name);
  }

  backendTlsUp(): void {
    this.ctx.sendToBackend(this.login);
    this.ctx.enter(this.next);
  }

  clientGone(): Phase {
    return ReleasePhase.afterSslRequest(this.ctx, this.greeting);
  }
}

/** The SSLRequest for a login (its first 32 bytes), then the database leg's TLS handshake. */
export function sendSslRequest(ctx: PhaseContext, login: Buffer): void {
  ctx.sendToBackend(login.subarray(0, SSL_REQUEST_LENGTH));
  ctx.emit({ type: 'startBackendTls' });
}
