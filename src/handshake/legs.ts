import { PacketChannel } from './channel';

/**
 * The two legs of a connection in the handshake, one PacketChannel each: client to proxy, proxy
 * to database. Each numbers its own packets, so a packet one leg carries and the other does not
 * (the client's SSLRequest, the proxy's own SSLRequest, the public-key round trip) needs no
 * offset: nothing here translates one leg's sequence ids into the other's.
 */
export class Legs {
  readonly client: PacketChannel;
  readonly backend: PacketChannel;

  constructor(maxPacketSize: number) {
    this.client = new PacketChannel('client', maxPacketSize);
    this.backend = new PacketChannel('backend', maxPacketSize);
  }

  /** Zeroes a client packet holding a clear password, and the received chunks it was copied from. */
  wipeClientPacket(payload: Buffer): void {
    payload.fill(0);
    this.client.wipeLastSources();
  }
}
