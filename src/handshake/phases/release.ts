import { COM_QUIT_PACKET } from '../../protocol/commands';
import type { Greeting } from '../../protocol/greeting';
import { PlaceholderLogin, type PlaceholderStep } from '../placeholder-login';
import { sendSslRequest } from './backend-tls';
import { takeGreeting } from './greeting';
import { type Phase, type PhaseContext, refuseBackendPacket } from './phase';

/** Where the release stands: each step holds only what it needs. */
type Step =
  /** The database has not greeted yet: the placeholder login follows its greeting. */
  | { at: 'greeting' }
  /** Nothing sent yet: the placeholder login goes out now. */
  | { at: 'login'; greeting: Greeting }
  /** The SSLRequest is out (--backend-tls): the placeholder login follows the TLS handshake. */
  | { at: 'backendTls'; login: Buffer; responder: PlaceholderLogin }
  /** Answering the database's auth rounds with wrong-password data until its ERR. */
  | { at: 'answering'; responder: PlaceholderLogin; answerNow: boolean }
  /** A COM_CHANGE_USER refused before it went out: the session is idle, log it out. */
  | { at: 'quit' };

/**
 * The client is gone: the proxy finishes the database's handshake itself with the placeholder
 * login (placeholder-login.ts), so the database counts an authentication error, not a handshake
 * error towards blocking the proxy's address; then both legs are closed.
 */
export class ReleasePhase implements Phase {
  readonly name = 'releasing';
  readonly open = 'backend';
  readonly clientErr = 'none';

  private constructor(
    private readonly ctx: PhaseContext,
    private step: Step,
  ) {}

  static beforeGreeting(ctx: PhaseContext): ReleasePhase {
    return new ReleasePhase(ctx, { at: 'greeting' });
  }

  static placeholder(ctx: PhaseContext, greeting: Greeting): ReleasePhase {
    return new ReleasePhase(ctx, { at: 'login', greeting });
  }

  static afterSslRequest(ctx: PhaseContext, greeting: Greeting): ReleasePhase {
    const { login, responder } = PlaceholderLogin.start(greeting, true);
    return new ReleasePhase(ctx, { at: 'backendTls', login, responder });
  }

  /** Mid-authentication: `plugin` in force; `answerNow` when the database waits for the client. */
  static answering(ctx: PhaseContext, plugin: string | undefined, answerNow: boolean): ReleasePhase {
    return new ReleasePhase(ctx, { at: 'answering', responder: new PlaceholderLogin(plugin), answerNow });
  }

  static quit(ctx: PhaseContext): ReleasePhase {
    return new ReleasePhase(ctx, { at: 'quit' });
  }

  begin(): void {
    const step = this.step;
    if (step.at === 'login') this.sendLogin(step.greeting);
    else if (step.at === 'answering' && step.answerNow) this.follow(step.responder.answer());
    else if (step.at === 'quit') {
      this.ctx.emit({ type: 'sendToBackend', data: COM_QUIT_PACKET });
      this.ctx.finishBackend();
    }
  }

  readBackend(): boolean {
    const step = this.step;
    if (step.at === 'answering') {
      const packet = this.ctx.legs.backend.read();
      if (!packet) return false;
      this.follow(step.responder.onServerPacket(packet.payload));
      return true;
    }
    if (step.at !== 'greeting') return refuseBackendPacket(this.ctx.legs, this.name);
    const packet = this.ctx.legs.backend.readFirst();
    if (!packet) return false;
    const greeted = takeGreeting(this.ctx, packet);
    if (greeted) this.sendLogin(greeted.greeting);
    return true;
  }

  backendTlsUp(): void {
    if (this.step.at !== 'backendTls') return;
    const { login, responder } = this.step;
    this.ctx.sendToBackend(login);
    this.step = { at: 'answering', responder, answerNow: false };
  }

  private sendLogin(greeting: Greeting): void {
    const { backendTls } = this.ctx.options;
    const { login, responder } = PlaceholderLogin.start(greeting, backendTls);
    if (backendTls) {
      sendSslRequest(this.ctx, login);
      this.step = { at: 'backendTls', login, responder };
      return;
    }
    this.ctx.sendToBackend(login);
    this.step = { at: 'answering', responder, answerNow: false };
  }

  private follow(step: PlaceholderStep): void {
    if (step.action === 'answer') return this.ctx.sendToBackend(step.payload);
    // OK: someone created the placeholder user without a password: log out politely.
    if (step.action === 'quit') this.ctx.emit({ type: 'sendToBackend', data: COM_QUIT_PACKET });
    this.ctx.finishBackend();
  }
}
