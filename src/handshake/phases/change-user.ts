import { parseChangeUser, spliceChangeUser } from '../../protocol/change-user';
import { serverKind } from '../../protocol/server-kind';
import { SHA256_REQUEST_PUBLIC_KEY } from '../../protocol/sha256-password';
import { withProxyAttributes, type Attributes } from '../client-attributes';
import { needsRsaHelp, sendsClearPassword } from '../rsa-policy';
import { errReplies } from '../../protocol/err-replies';
import type { ChangeUserContext } from '../types';
import { AuthRelayPhase } from './auth-relay';
import { type Phase, type PhaseContext, refuseBackendPacket } from './phase';
import { ReleasePhase } from './release';
import { sha256PasswordToHold } from './rsa-help';

/**
 * A COM_CHANGE_USER on an established session (TLS client, plain database leg): a command, so
 * both legs' channels start again at sequence id 0. It goes as it came, except as for a login:
 * the proxy's connection attributes, and a key request in place of a clear sha256_password
 * password (which the server may take, or switch plugins; either way it must not cross the plain
 * leg). Its answers are the login's kind, relayed by the auth relay.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_change_user.html
 */
export class ChangeUserPhase implements Phase {
  readonly name = 'changeUser';
  readonly open = 'both';
  readonly clientErr = 'negotiated';

  constructor(
    private readonly ctx: PhaseContext,
    private readonly context: ChangeUserContext,
  ) {
    ctx.legs.client.startCommand();
    ctx.legs.backend.startCommand();
  }

  readClient(): boolean {
    const packet = this.ctx.legs.client.read();
    if (!packet) return false;
    const { payload } = packet;
    const { capabilities, attributes: own, greeting } = this.context;
    const command = parseChangeUser(payload, capabilities);
    const kind = serverKind(greeting);
    const rsaNeeded = needsRsaHelp('tls', this.ctx.options.backendTls, kind);
    // With or without auth data: dialog's password would follow in packets that are not switches.
    if (rsaNeeded && sendsClearPassword(command.authPluginName)) {
      this.ctx.legs.wipeClientPacket(payload); // never relayed to the plain leg (rsa-policy.ts)
      const plugin = command.authPluginName as string;
      const detail = `the client sent its clear password (${plugin}) in a COM_CHANGE_USER for a plain database leg`;
      this.ctx.endClient('clear_password_refused', detail, errReplies.clearPasswordRefused(plugin));
      return true;
    }
    const changes: { authResponse?: Buffer; attributes?: Attributes } = {};
    if (own && command.spans.attributes) changes.attributes = withProxyAttributes(command.attributes, own);
    const heldPassword = sha256PasswordToHold(command.authPluginName, command.authResponse, rsaNeeded);
    if (heldPassword) changes.authResponse = SHA256_REQUEST_PUBLIC_KEY;
    let relayed = payload;
    if (changes.attributes || changes.authResponse) {
      try {
        relayed = spliceChangeUser(payload, command, capabilities, changes);
      } catch (error) {
        heldPassword?.fill(0);
        throw error;
      } finally {
        if (heldPassword) this.ctx.legs.wipeClientPacket(payload);
      }
    }
    this.ctx.sendToBackend(relayed);
    const { plugin, scramble } = this.context;
    const start = { greeted: { greeting, kind }, rsaNeeded, capabilities, attributes: own, plugin, scramble };
    this.ctx.enter(new AuthRelayPhase(this.ctx, { ...start, heldPassword }));
    return true;
  }

  readBackend(): boolean {
    return refuseBackendPacket(this.ctx.legs, this.name);
  }

  clientGone(): Phase {
    return ReleasePhase.quit(this.ctx);
  }
}
