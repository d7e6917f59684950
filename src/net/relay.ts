import type { CloseReason } from '../core/labels';
import { CommandScanner } from '../protocol/command-scanner';
import { endSocket } from './end-socket';
import type { SocketLike } from './socket-like';

/** COM_QUIT: length 1, sequence id 0, command 0x01. */
const COM_QUIT_PACKET = Buffer.from([1, 0, 0, 0, 1]);

export interface RelayListener {
  /** One side ended its stream: the relay is ending the other; `reason` says whose doing it was. */
  relayEnded(reason: CloseReason, detail: string): void;
  /**
   * A watched session's client sent COM_CHANGE_USER while the database was idle. The relay has
   * stopped (both sockets paused-or-flowing, no relay listeners left); `command` starts with it.
   */
  changeUser(command: Buffer): void;
}

/** What a watched relay needs to follow the database's answers (EOF or OK ends a result set). */
export interface WatchOptions {
  deprecateEof: boolean;
}

/**
 * The command phase: bytes between the client and the database. Sessions that need no watch are
 * zero-parse: pipe() both ways, which honours backpressure (a slow reader pauses the other
 * side's socket). A watched session (a COM_CHANGE_USER may need RSA help, see ChangeUserContext)
 * relays the database's answers by pipe() as well, but the client's bytes go through a
 * CommandScanner that reads packet headers only, and forwards them with the same backpressure.
 */
export class Relay {
  /**
   * The client's last chunk was a lone COM_QUIT packet: the database's close that follows is the
   * client's doing, which the log should say. A length check per chunk, no parsing.
   */
  private clientQuit = false;
  private scanner?: CommandScanner;
  /** Client bytes the scanner cannot pass yet: an incomplete header, or a COM_CHANGE_USER waiting for idle. */
  private held?: Buffer;
  /** A COM_CHANGE_USER waits for the database to finish answering earlier commands. */
  private changeUserWaiting = false;

  constructor(
    private readonly client: SocketLike,
    private readonly backend: SocketLike,
    private readonly listener: RelayListener,
  ) {
    client.on('data', this.onClientChunk);
    client.on('end', this.onClientEnd);
    backend.on('end', this.onBackendEnd);
  }

  /** Why the session ends when the database closes: its own doing, or the client's COM_QUIT. */
  backendEndReason(): [CloseReason, string] {
    return this.clientQuit
      ? ['client_quit', 'the client sent COM_QUIT']
      : ['backend_closed', 'the database closed the connection'];
  }

  /**
   * Starts (or, after a COM_CHANGE_USER, restarts) relaying: `toClient` and `toBackend` are the
   * bytes the handshake still had to deliver, in order before anything relayed.
   */
  start(toBackend: Buffer, toClient: Buffer, watch?: WatchOptions): void {
    if (watch) return this.startWatched(toBackend, toClient, watch);
    const { client, backend } = this;
    if (toClient.length > 0) client.write(toClient);
    backend.pipe(client, { end: false });
    if (toBackend.length > 0) backend.write(toBackend);
    client.pipe(backend, { end: false });
  }

  private startWatched(toBackend: Buffer, toClient: Buffer, watch: WatchOptions): void {
    const { client, backend } = this;
    this.scanner ??= new CommandScanner({ deprecateEof: watch.deprecateEof });
    this.scanner.reset();
    this.held = undefined;
    this.changeUserWaiting = false;
    if (toClient.length > 0) {
      this.scanner.observeServer(toClient);
      client.write(toClient);
    }
    // After pipe's own listener, so a chunk is relayed before a COM_CHANGE_USER can take over.
    backend.pipe(client, { end: false });
    backend.on('data', this.onServerData);
    client.on('data', this.onCommandData);
    if (toBackend.length > 0) this.onCommandData(toBackend);
  }

  private readonly onClientChunk = (chunk: Buffer): void => {
    if (chunk.length === COM_QUIT_PACKET.length && chunk.equals(COM_QUIT_PACKET)) this.clientQuit = true;
  };

  private readonly onClientEnd = (): void => {
    this.listener.relayEnded('client_closed', 'the client closed the connection');
    endSocket(this.backend);
  };

  private readonly onBackendEnd = (): void => {
    const [reason, detail] = this.backendEndReason();
    this.listener.relayEnded(reason, detail);
    endSocket(this.client);
  };

  /** The client's commands in a watched session: headers scanned, bytes forwarded with backpressure. */
  private readonly onCommandData = (chunk: Buffer): void => {
    const data = this.held ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = undefined;
    const { until, status } = (this.scanner as CommandScanner).scan(data);
    if (until > 0 && !this.backend.write(until === data.length ? data : data.subarray(0, until))) {
      this.client.pause();
      this.backend.once('drain', this.onBackendDrain);
    }
    if (status === 'found') return this.handOverChangeUser(data.subarray(until));
    if (until < data.length) this.held = Buffer.from(data.subarray(until));
    if (status === 'wait') {
      // Pipelined behind unanswered commands: hold it (and the client) until the database is idle.
      this.changeUserWaiting = true;
      this.client.pause();
    }
  };

  private readonly onBackendDrain = (): void => {
    if (!this.changeUserWaiting) this.client.resume();
  };

  /** The database's answers in a watched session: followed to know when it is idle, relayed by pipe(). */
  private readonly onServerData = (chunk: Buffer): void => {
    const scanner = this.scanner as CommandScanner;
    scanner.observeServer(chunk);
    if (!this.changeUserWaiting || !(scanner.idle || scanner.isLost)) return;
    this.changeUserWaiting = false;
    this.client.resume();
    this.onCommandData(Buffer.alloc(0));
  };

  /** Stops the watched relay; the session runs the COM_CHANGE_USER exchange, then start()s again. */
  private handOverChangeUser(command: Buffer): void {
    const { client, backend } = this;
    client.off('data', this.onCommandData);
    backend.off('data', this.onServerData);
    backend.unpipe(client);
    this.listener.changeUser(command);
  }
}
