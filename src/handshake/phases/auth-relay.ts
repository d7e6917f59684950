import {
  AUTH_NEXT_FACTOR_HEADER,
  classifyServerAuthPacket,
  parseAuthNextFactor,
  parseAuthSwitchRequest,
  type PluginRequest,
  type ServerAuthPacketKind,
} from '../../protocol/auth-packets';
import { Capability, hasCapability } from '../../protocol/capabilities';
import { parseErrPacket } from '../../protocol/err-packet';
import { errReplies } from '../../protocol/err-replies';
import { MalformedPacketError } from '../../protocol/reader';
import type { Attributes } from '../client-attributes';
import type { ChangeUserContext } from '../types';
import type { Greeted, Phase, PhaseContext } from './phase';
import { ESTABLISHED } from './phase';
import { sendsClearPassword } from '../rsa-policy';
import { ReleasePhase } from './release';
import { RsaHelp } from './rsa-help';

/** What the relay starts from: the login (or COM_CHANGE_USER) just forwarded. */
export interface AuthRelayStart {
  greeted: Greeted;
  /** TLS client, plain database leg that needs protecting (rsa-policy.ts). */
  rsaNeeded: boolean;
  /** The session's capabilities as the database sees them. */
  capabilities: number;
  /** The connection attributes the proxy adds, for a later COM_CHANGE_USER. */
  attributes?: Attributes;
  /** The auth plugin the database expects data for, and the scramble it works with. */
  plugin?: string;
  scramble: Buffer;
  /** A clear sha256_password password the proxy asked the key for in its place. */
  heldPassword?: Buffer;
}

/**
 * The login (or COM_CHANGE_USER) is forwarded: auth packets are relayed both ways, each leg's
 * channel numbering its own, until the database's OK or ERR; the plugin and scramble follow
 * AuthSwitchRequest and AuthNextFactor, and RsaHelp keeps a clear password off the plain leg.
 * Client commands pipelined before the OK (sequence id 0) are held, unparsed, for after it.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 */
export class AuthRelayPhase implements Phase {
  readonly name = 'authenticating';
  readonly open = 'both';
  readonly clientErr = 'negotiated';
  private plugin?: string;
  private scramble: Buffer;
  private readonly rsa: RsaHelp;
  /** Whose packet is due: the database waits for the client's after relaying one of its own. */
  private turn: 'client' | 'backend' = 'backend';
  /** Client bytes after a pipelined command, kept whole for after the OK. */
  private held?: Buffer[];

  constructor(
    private readonly ctx: PhaseContext,
    private readonly start: AuthRelayStart,
  ) {
    this.plugin = start.plugin;
    this.scramble = start.scramble;
    this.rsa = new RsaHelp(start.rsaNeeded, start.heldPassword);
  }

  get holdsSecret(): boolean {
    return this.rsa.holdsPassword;
  }

  readClient(): boolean {
    const { client } = this.ctx.legs;
    if (this.held) return this.hold();
    const header = client.peekHeader();
    if (!header) return false;
    if (header.sequenceId === 0) {
      // A command pipelined before the OK: keep it, unparsed, for after the OK.
      this.held = [];
      return this.hold();
    }
    const packet = client.read();
    if (!packet) return false;
    const replacement = this.rsa.replaceClientPassword(packet.payload, this.plugin);
    if (replacement) this.ctx.legs.wipeClientPacket(packet.payload);
    this.ctx.sendToBackend(replacement ?? packet.payload);
    this.turn = 'backend';
    return true;
  }

  readBackend(): boolean {
    const packet = this.ctx.legs.backend.read();
    if (!packet) return false;
    const encrypted = this.rsa.takeKey(packet.payload, this.scramble);
    if (encrypted) this.ctx.sendToBackend(encrypted);
    else this.relay(packet.payload);
    return true;
  }

  clientGone(): Phase {
    return ReleasePhase.answering(this.ctx, this.plugin, this.turn === 'client');
  }

  leave(): void {
    this.rsa.forget();
  }

  private relay(payload: Buffer): void {
    const kind = classifyServerAuthPacket(payload);
    const next = this.pluginRequest(payload, kind);
    if (next && this.start.rsaNeeded && sendsClearPassword(next.plugin)) {
      // Not relayed: the client (on TLS) would answer with its password for the plain leg. The
      // database's question is answered by the placeholder (dummy data), so it fails the login now.
      this.plugin = next.plugin;
      this.turn = 'client';
      const detail = `the database asked for the clear password (${next.plugin}) over a plain database leg`;
      return this.ctx.endClient(
        'clear_password_refused',
        detail,
        errReplies.clearPasswordRefused(next.plugin),
      );
    }
    this.ctx.sendToClient(payload);
    if (kind === 'ok') return this.establish();
    if (kind === 'err') {
      const err = parseErrPacket(payload);
      return this.ctx.endBoth('auth_failed', `${err.code} ${err.message}`);
    }
    if (next) {
      this.plugin = next.plugin;
      this.scramble = Buffer.from(next.data);
      this.rsa.notePluginSwitch(next.plugin);
    } else {
      this.rsa.noteServerPacket(payload, this.plugin);
    }
    this.turn = 'client';
  }

  /**
   * An AuthSwitchRequest, or MySQL's AuthNextFactor (only with CLIENT_MULTI_FACTOR_AUTHENTICATION,
   * since other plugins' data may start with 0x02: MariaDB's dialog prompts do).
   */
  private pluginRequest(payload: Buffer, kind: ServerAuthPacketKind): PluginRequest | undefined {
    if (kind === 'auth-switch') return parseAuthSwitchRequest(payload);
    const mfa = hasCapability(this.start.capabilities, Capability.MULTI_FACTOR_AUTHENTICATION);
    if (mfa && payload[0] === AUTH_NEXT_FACTOR_HEADER) return parseAuthNextFactor(payload);
    return undefined;
  }

  private establish(): void {
    const { client, backend } = this.ctx.legs;
    const toBackend = Buffer.concat([...(this.held ?? []), client.drain()]);
    this.held = undefined;
    const changeUser = this.changeUserContext();
    this.ctx.emit({ type: 'established', toBackend, toClient: backend.drain(), changeUser });
    this.ctx.enter(ESTABLISHED);
  }

  /**
   * What a later COM_CHANGE_USER needs, for every session whose re-authentication could put a
   * clear password on the plain leg: any greeting can lead there (MySQL 8 switches a change-user to
   * the account's caching_sha2_password or sha256_password whatever the login used, and MariaDB
   * has a caching_sha2_password plugin since 11.4), so the session layer watches them all.
   */
  private changeUserContext(): ChangeUserContext | undefined {
    if (!this.start.rsaNeeded) return undefined;
    return {
      greeting: this.start.greeted.greeting,
      plugin: this.plugin,
      scramble: Buffer.from(this.scramble),
      capabilities: this.start.capabilities,
      attributes: this.start.attributes,
    };
  }

  private hold(): boolean {
    const bytes = this.ctx.legs.client.drain();
    if (bytes.length === 0) return false;
    this.held!.push(bytes);
    const total = this.held!.reduce((sum, chunk) => sum + chunk.length, 0);
    if (total > this.ctx.options.maxPacketSize) {
      throw new MalformedPacketError('too much data pipelined before the login completed');
    }
    return true;
  }
}
