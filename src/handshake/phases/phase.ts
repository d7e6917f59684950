import type { ErrReply } from '../../protocol/err-replies';
import type { Greeting } from '../../protocol/greeting';
import type { Packet } from '../../protocol/packet';
import { MalformedPacketError } from '../../protocol/reader';
import type { ServerKind } from '../../protocol/server-kind';
import type { ClientFacts } from '../client-attributes';
import type { CloseReason } from '../close-reason';
import type { Legs } from '../legs';
import type { HandshakeOptions } from '../options';
import type { HandshakeAction, HandshakeEvent } from '../types';

/** The phase names `HandshakeMachine.phase` reports (the socket layer asks for 'tlsHandshake'). */
export type PhaseName =
  | 'awaitGreeting' // dialled the database, nothing sent to the client yet
  | 'awaitClientFirst' // greeting relayed; SSLRequest or a plaintext HandshakeResponse is due
  | 'tlsHandshake' // SSLRequest seen; the socket layer runs TLS
  | 'awaitResponse' // TLS is up; the HandshakeResponse is due
  | 'backendTls' // --backend-tls: the proxy's SSLRequest sent, the database leg runs TLS
  | 'authenticating' // login forwarded; relaying auth packets until OK or ERR
  | 'changeUser' // command phase: a COM_CHANGE_USER is due, whose exchange runs as 'authenticating'
  | 'releasing' // the client is gone; finishing the database's handshake cleanly
  | 'established' // done: the socket layer pipes bytes
  | 'done'; // both legs closed

/**
 * Which legs a phase still drives: both (the handshake runs), the database's only (the client is
 * gone and the database's handshake is being finished), or neither (established or closed).
 */
export type OpenLegs = 'both' | 'backend' | 'neither';

/**
 * How a refusal reaches the client now: as an ERR in the pre-4.1 layout (no greeting seen yet),
 * in the 4.1 layout, or not at all (its TLS handshake is running: it expects TLS records).
 */
export type ClientErrFormat = 'preGreeting' | 'negotiated' | 'none';

/** What the greeting told, decided once: the database's greeting and its kind. */
export interface Greeted {
  greeting: Greeting;
  kind: ServerKind;
}

/**
 * One phase of the connection phase, holding only its own data. The machine feeds it the bytes
 * of its legs and its events; it answers through the PhaseContext and moves on by entering the
 * next phase. The read methods do one step (at most one packet) and say whether they made one.
 */
export interface Phase {
  readonly name: PhaseName;
  readonly open: OpenLegs;
  readonly clientErr: ClientErrFormat;
  /** Absent: client bytes are not the machine's in this phase and are dropped unseen. */
  readClient?(): boolean;
  /** Absent: database bytes are not the machine's in this phase and are dropped unseen. */
  readBackend?(): boolean;
  clientTlsUp?(event: Extract<HandshakeEvent, { type: 'tlsEstablished' }>): void;
  backendTlsUp?(): void;
  /** The client is gone: the phase that finishes the database's handshake from here. */
  clientGone?(): Phase;
  /** Run once the machine has entered this phase (the actions its start takes). */
  begin?(): void;
  /** Run when the machine leaves this phase: secrets it holds are wiped. */
  leave?(): void;
  /** True while a client's clear password is held (until the database's public key arrives). */
  readonly holdsSecret?: boolean;
}

/** What a phase may ask of the machine. */
export interface PhaseContext {
  readonly options: HandshakeOptions;
  readonly legs: Legs;
  readonly clientFacts: () => ClientFacts;
  emit(action: HandshakeAction): void;
  /** `payload` framed with the client leg's next sequence id. */
  sendToClient(payload: Buffer): void;
  /** `payload` framed with the database leg's next sequence id. */
  sendToBackend(payload: Buffer): void;
  enter(phase: Phase): void;
  /** The client side ends (with an ERR where it can read one); the database's handshake is finished. */
  endClient(reason: CloseReason, detail: string, error?: ErrReply): void;
  /** Both legs end; the client is told `tell` if it can still read it (a ErrReply, or a database packet relayed). */
  endBoth(reason: CloseReason, detail: string, tell?: ErrReply | { relay: Packet }): void;
  /** The database leg is finished while the client is already gone. */
  finishBackend(): void;
}

/** A PROXY header from a peer that is not a trusted balancer: refused, never believed. */
export class UnexpectedProxyHeaderError extends MalformedPacketError {}

/** For phases where the database has nothing to say: any packet from it is a protocol error. */
export function refuseBackendPacket(legs: Legs, phase: PhaseName): boolean {
  if (legs.backend.read())
    throw new MalformedPacketError(`unexpected packet from the database while ${phase}`);
  return false;
}

/** The phases that end the handshake: nothing more is read or sent. */
export const ESTABLISHED: Phase = { name: 'established', open: 'neither', clientErr: 'none' };
export const DONE: Phase = { name: 'done', open: 'neither', clientErr: 'none' };
