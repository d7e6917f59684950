import { COM_CHANGE_USER } from './change-user';
import { MAX_PACKET_PAYLOAD, PACKET_HEADER_SIZE } from './packet';
import { MalformedPacketError, PayloadReader } from './reader';

/**
 * Follows a command-phase session in both directions, reading packet headers and the first bytes of
 * some packets only (payloads are never copied or held), to find where a client's COM_CHANGE_USER
 * begins. A client packet is a command only when it starts a request the server is waiting for:
 * sequence id 0 is not enough, since the client's LOAD DATA LOCAL file packets count on from the
 * server's request and wrap to 0 every 256 packets, and a file byte 0x11 must not pass for a
 * COM_CHANGE_USER. So the scanner tracks each request's response to its end (OK, ERR, result sets,
 * the LOCAL INFILE exchange) and hands a COM_CHANGE_USER over only when the server is idle.
 * MySQL Router and TiProxy parse every command; this follows the framing only.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_command_phase.html
 *
 * Not for the compressed protocol, whose frames hide the packet headers.
 */
export { COM_CHANGE_USER };

export interface ScanResult {
  /** Bytes from the start of `data` that belong to packets before the command: forward them. */
  until: number;
  /**
   * 'found': a COM_CHANGE_USER starts at `until` and the server is idle: hand it over.
   * 'wait': a COM_CHANGE_USER starts at `until` but the server still answers earlier requests:
   * hold it (and what follows) and scan again once `idle`.
   * 'more': bytes after `until` are an incomplete header to hold until more arrive.
   */
  status: 'found' | 'wait' | 'more';
}

/** Negotiated capabilities that change the shape of responses. */
export interface ScannerOptions {
  /** CLIENT_DEPRECATE_EOF: result sets end with an OK (0xfe) and have no EOF after the columns. */
  deprecateEof: boolean;
}

const COM_QUIT = 0x01;
const COM_QUERY = 0x03;
const COM_FIELD_LIST = 0x04;
const COM_STATISTICS = 0x09;
const COM_PROCESS_INFO = 0x0a;
const COM_BINLOG_DUMP = 0x12;
const COM_TABLE_DUMP = 0x13;
const COM_STMT_PREPARE = 0x16;
const COM_STMT_EXECUTE = 0x17;
const COM_STMT_SEND_LONG_DATA = 0x18;
const COM_STMT_CLOSE = 0x19;
const COM_STMT_FETCH = 0x1c;
const COM_BINLOG_DUMP_GTID = 0x1e;
const COM_CLONE = 0x20;
const COM_STMT_BULK_EXECUTE = 0xfa; // MariaDB
const COM_MULTI = 0xfe; // MariaDB 10.2, removed since

/** Commands the server does not answer. */
const SILENT = new Set([COM_QUIT, COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE]);
/** Commands answered by a stream the scanner does not follow (replication, clone, MariaDB COM_MULTI). */
const STREAMING = new Set([COM_BINLOG_DUMP, COM_TABLE_DUMP, COM_BINLOG_DUMP_GTID, COM_CLONE, COM_MULTI]);

const SERVER_MORE_RESULTS_EXISTS = 0x0008;
const SERVER_STATUS_CURSOR_EXISTS = 0x0040;
/** Enough of a server packet to classify it: an OK's header, two int<lenenc> and its status. */
const PREFIX_BYTES = 21;

/**
 * What the server's next packet in a response can be.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response.html
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_stmt_prepare.html#sect_protocol_com_stmt_prepare_response
 */
type Step =
  | { kind: 'result'; infile: boolean } // OK | ERR | LOCAL INFILE request | column count
  | { kind: 'defs'; left: number } // column definitions
  | { kind: 'eof' } // the EOF after column definitions (without CLIENT_DEPRECATE_EOF)
  | { kind: 'rows'; infile: boolean } // rows up to the EOF/OK or ERR that ends the result set
  | { kind: 'upload' } // the client sends a file; the server says nothing until its empty packet
  | { kind: 'fieldList' } // COM_FIELD_LIST: column definitions up to an EOF
  | { kind: 'prepared' } // COM_STMT_PREPARE_OK or ERR
  | { kind: 'single' }; // one packet, whatever it is

class Lost extends Error {}

export class CommandScanner {
  // ---- client direction ----
  /** Bytes of the current client packet still to pass before the next header. */
  private clientRemaining = 0;
  /** The last client packet was 0xffffff bytes long: the next one continues it. */
  private clientContinues = false;
  /** The client is sending a LOAD DATA LOCAL file, up to its empty packet. */
  private uploading = false;
  /** The client's last packet started a request (sequence id 0). */
  private afterCommand = false;

  // ---- server direction ----
  /** Requests not fully answered yet, oldest first, each as the steps its response still has. */
  private pending: Step[][] = [];
  /** The server sent something the scanner cannot place: it stops telling when it is idle. */
  private lost = false;
  private serverRemaining = 0;
  private serverContinues = false;
  private readonly header = Buffer.alloc(PACKET_HEADER_SIZE);
  private headerFill = 0;
  private readonly prefix = Buffer.alloc(PREFIX_BYTES);
  private prefixFill = 0;
  private prefixWanted = 0;
  private serverLength = 0;

  constructor(private readonly options: ScannerOptions) {}

  /**
   * Whether the server has answered every request it was sent. Unknown (false) once lost; the
   * scanner then hands a COM_CHANGE_USER over at once, as the client's framing shows it.
   */
  get idle(): boolean {
    return !this.lost && this.pending.length === 0;
  }

  get isLost(): boolean {
    return this.lost;
  }

  /** Call with each client chunk, prefixed by the bytes held back from the last call (see ScanResult). */
  scan(data: Buffer): ScanResult {
    let at = 0;
    for (;;) {
      if (this.clientRemaining >= data.length - at) {
        this.clientRemaining -= data.length - at;
        return { until: data.length, status: 'more' };
      }
      at += this.clientRemaining;
      this.clientRemaining = 0;
      if (data.length - at < PACKET_HEADER_SIZE) return { until: at, status: 'more' };
      const length = data.readUIntLE(at, 3);
      const sequenceId = data[at + 3];
      if (this.startsRequest(sequenceId, length)) {
        if (data.length - at <= PACKET_HEADER_SIZE) return { until: at, status: 'more' };
        const command = data[at + PACKET_HEADER_SIZE];
        if (command === COM_CHANGE_USER)
          return { until: at, status: this.lost || this.idle ? 'found' : 'wait' };
        this.onRequest(command);
      } else {
        this.onClientPacket(sequenceId, length);
      }
      this.clientContinues = length === MAX_PACKET_PAYLOAD;
      this.clientRemaining = PACKET_HEADER_SIZE + length;
    }
  }

  /** A client packet that is neither a continuation nor file data, with sequence id 0. */
  private startsRequest(sequenceId: number, length: number): boolean {
    return !this.clientContinues && !this.uploading && sequenceId === 0 && length > 0;
  }

  private onRequest(command: number): void {
    this.afterCommand = true;
    if (SILENT.has(command)) return;
    if (STREAMING.has(command)) return this.loseTrack();
    this.pending.push(responseTo(command));
  }

  /** Any other client packet: a continuation, file data, or a file's empty last packet. */
  private onClientPacket(sequenceId: number, length: number): void {
    const continuation = this.clientContinues;
    if (!continuation && !this.uploading && this.afterCommand && sequenceId !== 0 && this.lost) {
      // The server's LOCAL INFILE request went unseen: the client's framing shows the upload.
      this.uploading = true;
    }
    if (!continuation) this.afterCommand = false;
    if (!continuation && this.uploading && length === 0) this.endUpload();
  }

  private endUpload(): void {
    this.uploading = false;
    const steps = this.pending[0];
    // After the file, the server answers the LOAD DATA with an OK or ERR (more results may follow).
    if (steps?.[0]?.kind === 'upload') steps[0] = { kind: 'result', infile: true };
  }

  /** Call with each chunk the server sends in the command phase (the bytes are not kept). */
  observeServer(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.lost) {
      if (this.headerFill < PACKET_HEADER_SIZE) {
        at = this.readHeader(chunk, at);
        continue;
      }
      const take = Math.min(this.serverRemaining, chunk.length - at);
      const copy = Math.min(take, this.prefixWanted - this.prefixFill);
      if (copy > 0) this.prefixFill += chunk.copy(this.prefix, this.prefixFill, at, at + copy);
      at += take;
      this.serverRemaining -= take;
      if (this.serverRemaining === 0) this.endPacket();
    }
  }

  /** A packet is placed once all of it has passed: idle must not come before its last byte. */
  private endPacket(): void {
    this.headerFill = 0;
    if (this.prefixWanted >= 0) this.classifyPacket();
  }

  private readHeader(chunk: Buffer, at: number): number {
    const copy = Math.min(PACKET_HEADER_SIZE - this.headerFill, chunk.length - at);
    chunk.copy(this.header, this.headerFill, at, at + copy);
    this.headerFill += copy;
    if (this.headerFill === PACKET_HEADER_SIZE) {
      this.serverLength = this.header.readUIntLE(0, 3);
      this.serverRemaining = this.serverLength;
      this.prefixFill = 0;
      // A continuation is not classified; -1 marks the packet as done with.
      this.prefixWanted = this.serverContinues ? -1 : Math.min(this.serverLength, PREFIX_BYTES);
      this.serverContinues = this.serverLength === MAX_PACKET_PAYLOAD;
      if (this.serverRemaining === 0) this.endPacket();
    }
    return at + copy;
  }

  private classifyPacket(): void {
    const prefix = this.prefix.subarray(0, this.prefixWanted);
    this.prefixWanted = -1;
    try {
      this.onServerPacket(prefix, this.serverLength);
    } catch (error) {
      if (!(error instanceof Lost || error instanceof MalformedPacketError)) throw error;
      this.loseTrack();
    }
  }

  private loseTrack(): void {
    this.lost = true;
    this.pending = [];
  }

  /** One server packet (its first bytes and length) against the oldest unanswered request. */
  private onServerPacket(p: Buffer, length: number): void {
    const steps = this.pending[0];
    if (!steps) {
      if (p[0] === 0xff) return; // an unsolicited ERR (e.g. MySQL's idle-timeout notice) before a close
      throw new Lost();
    }
    const step = steps[0];
    const next = this.advance(step, p, length);
    if (next === 'end') this.pending.shift();
    else {
      steps.splice(0, 1, ...next);
      if (steps.length === 0) this.pending.shift();
    }
  }

  /** The steps that replace `step` after packet `p`, or 'end' when the whole response is over. */
  private advance(step: Step, p: Buffer, length: number): Step[] | 'end' {
    const isErr = p[0] === 0xff;
    switch (step.kind) {
      case 'single':
        return [];
      case 'result':
        return isErr ? 'end' : this.onResult(step.infile, p, length);
      case 'defs':
        if (!isColumnDefinition(p)) throw new Lost();
        return step.left > 1 ? [{ kind: 'defs', left: step.left - 1 }] : [];
      case 'eof':
        if (!this.isEof(p, length)) throw new Lost();
        // A cursor was opened (COM_STMT_EXECUTE): its rows come with COM_STMT_FETCH.
        return statusOf(p, length, true) & SERVER_STATUS_CURSOR_EXISTS ? 'end' : [];
      case 'rows':
        if (isErr) return 'end';
        return this.isEof(p, length) ? this.afterResultSet(step.infile, p, length) : [step];
      case 'upload':
        if (isErr) return 'end';
        throw new Lost();
      case 'fieldList':
        if (isErr || this.isEof(p, length)) return 'end';
        if (!isColumnDefinition(p)) throw new Lost();
        return [step];
      case 'prepared':
        return isErr ? 'end' : this.onPrepared(p, length);
    }
  }

  private onResult(infile: boolean, p: Buffer, length: number): Step[] {
    if (p[0] === 0x00)
      return statusOf(p, length, false) & SERVER_MORE_RESULTS_EXISTS ? [{ kind: 'result', infile }] : [];
    if (p[0] === 0xfb && infile) {
      this.uploading = true;
      return [{ kind: 'upload' }];
    }
    // A result set: int<lenenc> column count, then (MySQL's optional metadata, MariaDB's metadata
    // cache) a byte saying whether column definitions follow.
    const r = new PayloadReader(p);
    const columns = r.lenencInt('column count');
    const extra = length - r.offset;
    if (columns === 0 || extra > 1) throw new Lost();
    const metadata = extra === 0 || p[r.offset] !== 0;
    const steps: Step[] = metadata ? [{ kind: 'defs', left: columns }] : [];
    if (!this.options.deprecateEof) steps.push({ kind: 'eof' });
    steps.push({ kind: 'rows', infile });
    return steps;
  }

  private afterResultSet(infile: boolean, p: Buffer, length: number): Step[] | 'end' {
    const status = statusOf(p, length, this.options.deprecateEof);
    if (status & SERVER_MORE_RESULTS_EXISTS) return [{ kind: 'result', infile }];
    return 'end';
  }

  /** COM_STMT_PREPARE_OK: parameter and column definitions follow, each with an EOF unless deprecated. */
  private onPrepared(p: Buffer, length: number): Step[] {
    if (p[0] !== 0x00 || length < 12) throw new Lost();
    const columns = p.readUInt16LE(5);
    const params = p.readUInt16LE(7);
    const metadata = length < 13 || p[12] !== 0; // MySQL's optional metadata flag
    const steps: Step[] = [];
    for (const count of [params, columns]) {
      if (count === 0 || !metadata) continue;
      steps.push({ kind: 'defs', left: count });
      if (!this.options.deprecateEof) steps.push({ kind: 'eof' });
    }
    return steps;
  }

  /** An EOF (or, with CLIENT_DEPRECATE_EOF, the OK that replaces it): 0xfe and too short for a row. */
  private isEof(p: Buffer, length: number): boolean {
    return p[0] === 0xfe && (this.options.deprecateEof ? length < MAX_PACKET_PAYLOAD : length < 9);
  }

  /** The stream is at a packet boundary with nothing pending (the relay resumes after a COM_CHANGE_USER). */
  reset(): void {
    this.clientRemaining = 0;
    this.clientContinues = false;
    this.uploading = false;
    this.afterCommand = false;
    this.pending = [];
    this.lost = false;
    this.serverRemaining = 0;
    this.serverContinues = false;
    this.headerFill = 0;
    this.prefixWanted = -1;
  }
}

function responseTo(command: number): Step[] {
  switch (command) {
    case COM_QUERY:
      return [{ kind: 'result', infile: true }];
    case COM_PROCESS_INFO:
    case COM_STMT_EXECUTE:
    case COM_STMT_BULK_EXECUTE:
      return [{ kind: 'result', infile: false }];
    case COM_STMT_FETCH:
      return [{ kind: 'rows', infile: false }];
    case COM_FIELD_LIST:
      return [{ kind: 'fieldList' }];
    case COM_STMT_PREPARE:
      return [{ kind: 'prepared' }];
    case COM_STATISTICS: // a bare string
    default: // OK, ERR or EOF; unknown commands get an ERR
      return [{ kind: 'single' }];
  }
}

/** Column definitions start with the catalog, always "def". */
function isColumnDefinition(p: Buffer): boolean {
  return p.length >= 4 && p[0] === 3 && p[1] === 0x64 && p[2] === 0x65 && p[3] === 0x66;
}

/**
 * The status flags of an EOF (0xfe, warnings, status) or an OK (0x00/0xfe, affected rows and last
 * insert id as int<lenenc>, status).
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_ok_packet.html
 */
function statusOf(p: Buffer, length: number, okFormat: boolean): number {
  const r = new PayloadReader(p, 1);
  if (p[0] === 0xfe && !okFormat) return length >= 5 ? (r.u16('warnings'), r.u16('status flags')) : 0;
  r.lenencInt('affected rows');
  r.lenencInt('last insert id');
  return r.remaining >= 2 ? r.u16('status flags') : 0;
}
