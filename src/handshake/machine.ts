import { encodeErrReply, errReplies, type ErrReply } from '../protocol/err-replies';
import type { Packet } from '../protocol/packet';
import { PacketTooLargeError } from '../protocol/packet';
import { MalformedPacketError } from '../protocol/reader';
import type { ClientFacts } from './client-attributes';
import type { CloseReason } from './close-reason';
import { Legs } from './legs';
import { DEFAULT_HANDSHAKE_OPTIONS, type HandshakeOptions } from './options';
import { ChangeUserPhase } from './phases/change-user';
import { GreetingPhase } from './phases/greeting';
import {
  DONE,
  type Phase,
  type PhaseContext,
  type PhaseName,
  UnexpectedProxyHeaderError,
} from './phases/phase';
import type { ChangeUserContext, HandshakeAction, HandshakeEvent } from './types';

export { DEFAULT_HANDSHAKE_OPTIONS, type HandshakeOptions };
/** What the socket layer knows about the client, asked for when the login is forwarded. */
export type { ClientFacts };

/**
 * The connection phase as a pure state machine: socket events in, socket actions out. No I/O,
 * timers or logging here, so every byte boundary and failure can be unit-tested without sockets.
 *
 * This class only dispatches: the current phase (src/handshake/phases/) holds the data of its
 * step and reads the two legs (legs.ts), each a PacketChannel that numbers its own packets. Read
 * in order: greeting -> client-tls -> login -> backend-tls -> auth-relay (rsa-help) ->
 * established; change-user for a COM_CHANGE_USER; release once the client is gone.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 */
export class HandshakeMachine {
  private readonly legs: Legs;
  private readonly ctx: PhaseContext;
  private current: Phase;
  private out: HandshakeAction[] = [];

  /**
   * A machine for a COM_CHANGE_USER on an established session: it relays that command and the
   * re-authentication that follows exactly as it relays a login's, RSA help included, until the
   * database's OK or ERR.
   * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_change_user.html
   */
  static forChangeUser(options: HandshakeOptions, context: ChangeUserContext): HandshakeMachine {
    const machine = new HandshakeMachine(options);
    machine.current = new ChangeUserPhase(machine.ctx, context);
    return machine;
  }

  constructor(
    options: HandshakeOptions = DEFAULT_HANDSHAKE_OPTIONS,
    clientFacts: () => ClientFacts = () => ({ ip: '', port: 0 }),
  ) {
    this.legs = new Legs(options.maxPacketSize);
    this.ctx = this.context(options, clientFacts);
    this.current = new GreetingPhase(this.ctx);
  }

  get phase(): PhaseName {
    return this.current.name;
  }

  /** True while a client's clear password is held in memory (only until the database's public key arrives). */
  get holdsSecret(): boolean {
    return this.current.holdsSecret ?? false;
  }

  handle(event: HandshakeEvent): HandshakeAction[] {
    this.out = [];
    const phase = this.current;
    switch (event.type) {
      case 'backendData':
        if (phase.readBackend) this.legs.backend.push(event.data);
        break;
      case 'clientData':
        if (phase.readClient) this.legs.client.push(event.data);
        break;
      case 'tlsEstablished':
        phase.clientTlsUp?.(event);
        break;
      case 'backendTlsEstablished':
        phase.backendTlsUp?.();
        break;
      case 'backendClosed':
        this.endBoth(event.reason, event.detail, errReplies.backendUnavailable(event.detail));
        break;
      case 'abort':
        this.endClient(event.reason, event.detail ?? event.reason, event.error);
        break;
    }
    this.settle();
    return this.out;
  }

  /** Lets the phases read what the legs hold until none can take a step (phases may change on the way). */
  private settle(): void {
    while (this.step('client') || this.step('backend'));
  }

  private step(side: 'client' | 'backend'): boolean {
    const phase = this.current;
    const read = side === 'client' ? phase.readClient : phase.readBackend;
    if (!read) return false;
    let progressed = false;
    try {
      progressed = read.call(phase);
    } catch (error) {
      this.refuse(side, error);
    }
    return progressed || this.current !== phase;
  }

  /** Malformed input ends the connection with a reason instead of escaping. */
  private refuse(side: 'client' | 'backend', error: unknown): void {
    if (!(error instanceof MalformedPacketError || error instanceof PacketTooLargeError)) throw error;
    if (error instanceof UnexpectedProxyHeaderError) {
      this.endClient('proxy_protocol', error.message, errReplies.badHandshake(error.message));
    } else if (side === 'client') {
      this.endClient('bad_packet', error.message, errReplies.badHandshake(error.message));
    } else {
      const detail = `invalid data from the database: ${error.message}`;
      this.endBoth('backend_protocol_error', detail, errReplies.backendUnavailable(detail));
    }
  }

  private enter(next: Phase): void {
    const previous = this.current;
    this.current = next;
    previous.leave?.();
    next.begin?.();
  }

  /** Ends the client side, then the phase that was running says how the database's handshake is finished. */
  private endClient(reason: CloseReason, detail: string, error?: ErrReply): void {
    const phase = this.current;
    if (phase.open !== 'both' || !phase.clientGone) return;
    const packet = error ? this.errForClient(phase, error) : undefined;
    this.out.push({ type: 'closeClient', reason, detail, packet });
    this.legs.client.drain();
    this.enter(phase.clientGone());
  }

  private endBoth(reason: CloseReason, detail: string, tell?: ErrReply | { relay: Packet }): void {
    const phase = this.current;
    if (phase.open === 'neither') return;
    this.out.push({ type: 'closeBackend' });
    if (phase.open === 'both') {
      const packet =
        tell && 'relay' in tell
          ? this.legs.client.frameFirst(tell.relay.payload, tell.relay.sequenceId)
          : tell && this.errForClient(phase, tell);
      this.out.push({ type: 'closeClient', reason, detail, packet: packet || undefined });
    }
    this.enter(DONE);
  }

  /**
   * An ERR in the format the client can read at this point, with the client leg's next id: none
   * while its TLS handshake is running (it then expects TLS records).
   */
  private errForClient(phase: Phase, error: ErrReply): Buffer | undefined {
    if (phase.clientErr === 'none') return undefined;
    return this.legs.client.frame(encodeErrReply(error, phase.clientErr === 'negotiated'));
  }

  private context(options: HandshakeOptions, clientFacts: () => ClientFacts): PhaseContext {
    const { legs } = this;
    return {
      options,
      legs,
      clientFacts,
      emit: (action) => this.out.push(action),
      sendToClient: (payload) => this.out.push({ type: 'sendToClient', data: legs.client.frame(payload) }),
      sendToBackend: (payload) => this.out.push({ type: 'sendToBackend', data: legs.backend.frame(payload) }),
      enter: (phase) => this.enter(phase),
      endClient: (reason, detail, error) => this.endClient(reason, detail, error),
      endBoth: (reason, detail, tell) => this.endBoth(reason, detail, tell),
      finishBackend: () => {
        this.out.push({ type: 'closeBackend' });
        this.enter(DONE);
      },
    };
  }
}
