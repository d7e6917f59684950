import { MalformedPacketError } from '../protocol/reader';
import { encodePacket, type Packet, type PacketHeader, PacketReader } from '../protocol/packet';

/**
 * One leg of a MySQL connection (client to proxy, or proxy to database) as packets: it frames
 * what is written, splits what is read, and owns the leg's sequence id so no caller computes one.
 *
 * Both directions of a leg share one counter: each packet, read or written, takes the next id,
 * and a command (COM_* from the client) starts again at 0. Packets one leg carries and the other
 * does not (the client's SSLRequest, the database's public-key round trip) therefore need no offset
 * arithmetic: each leg counts its own. The same idea as TiProxy's PacketIO.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html#sect_protocol_basic_packets_sequence_id
 *
 * I/O-free: bytes in (push), packets out (read), framed bytes out (frame), for the caller to write.
 */
export class PacketChannel {
  private readonly reader: PacketReader;
  private sequence = 0;

  constructor(
    /** Which leg, for error messages. */
    readonly leg: 'client' | 'backend',
    maxPayload: number,
  ) {
    this.reader = new PacketReader(maxPayload);
  }

  /** The id the next packet on this leg, in either direction, carries. */
  get nextSequence(): number {
    return this.sequence;
  }

  get bufferedBytes(): number {
    return this.reader.bufferedBytes;
  }

  push(bytes: Buffer): void {
    this.reader.push(bytes);
  }

  peekHeader(): PacketHeader | undefined {
    return this.reader.peekHeader();
  }

  peek(count: number): Buffer {
    return this.reader.peek(count);
  }

  /**
   * The next complete packet, or undefined until its bytes are in. A packet whose id is not the
   * one due is a protocol violation (MalformedPacketError); a packet over the cap, PacketTooLargeError.
   */
  read(): Packet | undefined {
    const packet = this.reader.read();
    if (!packet) return undefined;
    if (packet.sequenceId !== this.sequence) {
      throw new MalformedPacketError(
        `${this.leg} packet sequence id ${packet.sequenceId} where ${this.sequence} was expected`,
      );
    }
    this.sequence = (this.sequence + 1) & 0xff;
    return packet;
  }

  /**
   * The first packet of the database leg is the greeting, whose id the server chooses (0, or 1
   * after a PROXY header on some servers): the leg counts on from it.
   */
  readFirst(): Packet | undefined {
    const packet = this.reader.read();
    if (packet) this.sequence = (packet.sequenceId + 1) & 0xff;
    return packet;
  }

  /**
   * The first packet the proxy writes on the client leg relays one the database chose the id of
   * (its greeting, or its refusal instead): framed with that id, the leg counting on from it.
   */
  frameFirst(payload: Buffer, sequenceId: number): Buffer {
    this.sequence = sequenceId & 0xff;
    return this.frame(payload);
  }

  /** `payload` framed with this leg's next id, which it takes. */
  frame(payload: Buffer): Buffer {
    const framed = encodePacket(payload, this.sequence);
    this.sequence = (this.sequence + 1) & 0xff;
    return framed;
  }

  /** A command starts a new exchange: its packet is id 0. */
  startCommand(): void {
    this.sequence = 0;
  }

  /** Zeroes the received chunks the last packet read was copied from (see PacketReader.wipeLastSources). */
  wipeLastSources(): void {
    this.reader.wipeLastSources();
  }

  /** Everything buffered and not read (for the relay that takes over), the reader left empty. */
  drain(): Buffer {
    return this.reader.drain();
  }
}
