import { Capability, hasCapability, withCapability, withoutCapability } from '../../protocol/capabilities';
import {
  parseHandshakeResponse,
  spliceHandshakeResponse,
  withClientCapabilities,
  type HandshakeResponseChanges,
  type ParsedHandshakeResponse,
} from '../../protocol/handshake-response';
import { MalformedPacketError } from '../../protocol/reader';
import { SHA256_REQUEST_PUBLIC_KEY } from '../../protocol/sha256-password';
import { proxyAttributes, withProxyAttributes, type Attributes } from '../client-attributes';
import { decideLogin, type ClientCertificate } from '../login-policy';
import { COMPRESSION, needsRsaHelp, sendsClearPassword } from '../rsa-policy';
import { errReplies } from '../../protocol/err-replies';
import type { Transport } from '../types';
import { AuthRelayPhase } from './auth-relay';
import { BackendTlsPhase } from './backend-tls';
import { type Greeted, type Phase, type PhaseContext, refuseBackendPacket } from './phase';
import { ReleasePhase } from './release';
import { sha256PasswordToHold } from './rsa-help';

/** How the client reached the login: its transport, and what TLS established. */
export interface ClientLeg {
  transport: Transport;
  /** What TLS established about the client's certificate, for the login policy. */
  certificate?: ClientCertificate;
  /** Negotiated TLS version and cipher, for the connection attributes. */
  facts?: { version: string; cipher: string };
}

/** The login as the database gets it, and what the session keeps of it. */
interface BackendLogin {
  payload: Buffer;
  /** The session's capabilities as the database sees them (the login as relayed, and the greeting's). */
  capabilities: number;
  attributes?: Attributes;
  /** A clear sha256_password password replaced by a key request, held until the key arrives. */
  heldPassword?: Buffer;
}

/**
 * The client's HandshakeResponse is due: the login policy (login-policy.ts) decides, in its one
 * place, before anything of the login reaches the database; the login is then relayed as the
 * database should see it.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_response.html
 */
export class LoginPhase implements Phase {
  readonly name = 'awaitResponse';
  readonly open = 'both';
  readonly clientErr = 'negotiated';
  private readonly rsaNeeded: boolean;

  constructor(
    private readonly ctx: PhaseContext,
    private readonly greeted: Greeted,
    private readonly leg: ClientLeg,
  ) {
    this.rsaNeeded = needsRsaHelp(leg.transport, ctx.options.backendTls, greeted.kind);
  }

  readClient(): boolean {
    const packet = this.ctx.legs.client.read();
    if (!packet) return false;
    this.take(packet.payload);
    return true;
  }

  readBackend(): boolean {
    return refuseBackendPacket(this.ctx.legs, this.name);
  }

  clientGone(): Phase {
    return ReleasePhase.placeholder(this.ctx, this.greeted.greeting);
  }

  /** The HandshakeResponse: announced (user name, never auth data), decided, relayed. */
  take(payload: Buffer): void {
    const response = parseHandshakeResponse(payload);
    const decision = decideLogin(this.ctx.options, this.leg.transport, this.leg.certificate);
    this.ctx.emit({
      type: 'login',
      transport: this.leg.transport,
      user: response.username.toString('utf8'),
      database: response.database?.toString('utf8'),
      authPlugin: response.authPluginName,
      warning: decision.allowed ? decision.warning : undefined,
    });
    if (!decision.allowed) return this.ctx.endClient(decision.reason, decision.detail, decision.error);
    if (this.refusesClearPassword(payload, response)) return;
    if (this.rsaNeeded && (response.capabilities & COMPRESSION) !== 0) {
      // Not offered in the greeting (see rsa-policy.ts): a client that asks anyway is refused.
      throw new MalformedPacketError(
        'the client asked for compression, which the proxy does not offer between a TLS client and a plain database leg',
      );
    }
    this.relay(this.forBackend(payload, response));
  }

  /**
   * A login on a clear-password plugin (named by the client, or by the greeting when the client
   * names no plugin) is never relayed to a plain leg (rsa-policy.ts).
   */
  private refusesClearPassword(payload: Buffer, response: ParsedHandshakeResponse): boolean {
    const plugin = response.authPluginName ?? this.greeted.greeting.authPluginName;
    // Also with no auth data yet: dialog (PAM) asks for the password in later packets that are
    // not auth switches, so a login that starts on such a plugin cannot be relayed at all.
    if (!this.rsaNeeded || !sendsClearPassword(plugin)) return false;
    this.ctx.legs.wipeClientPacket(payload);
    const detail = `the client sent its clear password (${plugin}) for a plain database leg`;
    this.ctx.endClient('clear_password_refused', detail, errReplies.clearPasswordRefused(plugin as string));
    return true;
  }

  /** To the database: at once, or after the database leg's own TLS handshake (--backend-tls). */
  private relay(login: BackendLogin): void {
    const { greeting } = this.greeted;
    const relay = new AuthRelayPhase(this.ctx, {
      greeted: this.greeted,
      rsaNeeded: this.rsaNeeded,
      capabilities: login.capabilities,
      attributes: login.attributes,
      plugin: greeting.authPluginName,
      scramble: greeting.authPluginData.subarray(0, 20),
      heldPassword: login.heldPassword,
    });
    if (this.ctx.options.backendTls) {
      this.ctx.enter(new BackendTlsPhase(this.ctx, greeting, login.payload, relay));
      return;
    }
    this.ctx.sendToBackend(login.payload);
    this.ctx.enter(relay);
  }

  /**
   * The client's HandshakeResponse as the database should see it, spliced at byte level so that
   * logins which would not re-encode (any bytes in attributes) get the same treatment: CLIENT_SSL
   * matching the database leg; the proxy's connection attributes instead of any the client sent
   * under their names; and where a plain leg cannot carry a clear sha256_password password, a
   * public-key request in its place. Every other byte is the client's.
   */
  private forBackend(payload: Buffer, response: ParsedHandshakeResponse): BackendLogin {
    let capabilities = this.ctx.options.backendTls
      ? withCapability(response.capabilities, Capability.SSL)
      : withoutCapability(response.capabilities, Capability.SSL);
    const changes: HandshakeResponseChanges = {};
    const attributes = this.proxyAttributes();
    if (attributes && response.spans.attributes) {
      changes.attributes = withProxyAttributes(response.attributes, attributes);
      capabilities = withCapability(capabilities, Capability.CONNECT_ATTRS);
    }
    const { authPluginName, authResponse } = response;
    const heldPassword = sha256PasswordToHold(authPluginName, authResponse, this.rsaNeeded);
    // Wait for the key: the database answers this login with AuthMoreData(0x01, PEM).
    if (heldPassword) changes.authResponse = SHA256_REQUEST_PUBLIC_KEY;
    const session = (capabilities & this.greeted.greeting.capabilities) >>> 0;
    const kept = { capabilities: session, attributes, heldPassword };
    if (!changes.attributes && !changes.authResponse) {
      const same = capabilities === response.capabilities;
      return { ...kept, payload: same ? payload : withClientCapabilities(payload, capabilities) };
    }
    try {
      const login = spliceHandshakeResponse(payload, response.spans, { ...changes, capabilities });
      return { ...kept, payload: login };
    } catch (error) {
      heldPassword?.fill(0);
      throw error;
    } finally {
      // The parsed auth response is a view into the payload: wiped with it.
      if (heldPassword) this.ctx.legs.wipeClientPacket(payload);
    }
  }

  /** The attributes the proxy adds (when on and the database takes attributes), else undefined. */
  private proxyAttributes(): Attributes | undefined {
    const serverCaps = this.greeted.greeting.capabilities;
    if (!this.ctx.options.clientAttributes || !hasCapability(serverCaps, Capability.CONNECT_ATTRS))
      return undefined;
    return proxyAttributes(this.ctx.clientFacts(), this.leg.facts);
  }
}
