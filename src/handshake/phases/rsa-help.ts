import { AUTH_MORE_DATA_HEADER, parseAuthMoreData } from '../../protocol/auth-packets';
import {
  CACHING_SHA2,
  encryptPassword,
  PERFORM_FULL_AUTHENTICATION,
  REQUEST_PUBLIC_KEY,
} from '../../protocol/caching-sha2';
import { MalformedPacketError } from '../../protocol/reader';
import {
  isSha256ClearPassword,
  SHA256_PASSWORD,
  SHA256_REQUEST_PUBLIC_KEY,
} from '../../protocol/sha256-password';

/**
 * A copy of a clear sha256_password password in a login or COM_CHANGE_USER, where the database
 * leg must not carry it (rsa-policy.ts), whatever the greeting's plugin: a server may take it or
 * switch plugins, but it has crossed by then. The caller sends a key request in its place and
 * wipes the original; undefined when there is nothing to hold.
 */
export function sha256PasswordToHold(
  plugin: string | undefined,
  authResponse: Buffer,
  rsaNeeded: boolean,
): Buffer | undefined {
  if (!rsaNeeded || plugin !== SHA256_PASSWORD || !isSha256ClearPassword(authResponse)) return undefined;
  return Buffer.from(authResponse);
}

/**
 * RSA mediation between a TLS client and a plain database leg for caching_sha2_password's full
 * authentication and sha256_password: the client sends its password in clear (it sees TLS), the
 * proxy asks the database for its public key in its place and sends the password encrypted. The
 * client never sees the key round trip; each leg's channel numbers its own packets.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
 */
export class RsaHelp {
  private step: 'idle' | 'awaitPassword' | 'awaitKey' = 'idle';
  /** The client's clear password, in memory only until the public key arrives. */
  private password?: Buffer;

  constructor(
    private readonly needed: boolean,
    heldPassword?: Buffer,
  ) {
    if (heldPassword) this.holdUntilKey(heldPassword);
  }

  get holdsPassword(): boolean {
    return this.password !== undefined;
  }

  /**
   * A database packet: when it is the public key the proxy asked for, the encrypted password to
   * send in its place (the packet is not relayed); otherwise undefined. A server that switches
   * plugins (or ends) instead of sending the key has the client answer itself: the password is dropped.
   */
  takeKey(payload: Buffer, scramble: Buffer): Buffer | undefined {
    if (this.step !== 'awaitKey') return undefined;
    if (payload[0] !== AUTH_MORE_DATA_HEADER) {
      this.forget();
      return undefined;
    }
    const password = this.password ?? Buffer.alloc(1);
    this.password = undefined;
    this.step = 'idle';
    try {
      return encryptPassword(password, scramble, parseAuthMoreData(payload));
    } catch (error) {
      if (error instanceof MalformedPacketError) throw error;
      const why = (error as Error).message;
      throw new MalformedPacketError(`cannot encrypt the password with the database's public key: ${why}`);
    } finally {
      password.fill(0);
    }
  }

  /** After a database packet is relayed: will the client's next packet be its clear password? */
  noteServerPacket(payload: Buffer, plugin: string | undefined): void {
    if (this.needed && plugin === CACHING_SHA2 && payload.equals(PERFORM_FULL_AUTHENTICATION)) {
      this.step = 'awaitPassword';
    }
  }

  /** The database switched plugins: sha256_password's first answer is the password itself. */
  notePluginSwitch(plugin: string): void {
    if (this.needed && plugin === SHA256_PASSWORD) this.step = 'awaitPassword';
  }

  /**
   * A client packet: when it is the clear password, the key request to send in its place (the
   * password is held; the caller wipes the packet). A client that asks for the key itself (or
   * sends sha256_password's empty password) needs no help: undefined, relayed as it is.
   */
  replaceClientPassword(payload: Buffer, plugin: string | undefined): Buffer | undefined {
    if (this.step !== 'awaitPassword') return undefined;
    this.step = 'idle';
    if (plugin === SHA256_PASSWORD) {
      if (!isSha256ClearPassword(payload)) return undefined;
      this.holdUntilKey(Buffer.from(payload));
      return SHA256_REQUEST_PUBLIC_KEY;
    }
    if (payload.equals(REQUEST_PUBLIC_KEY)) return undefined;
    this.holdUntilKey(Buffer.from(payload));
    return REQUEST_PUBLIC_KEY;
  }

  /** Wipes the held password. */
  forget(): void {
    this.step = 'idle';
    this.password?.fill(0);
    this.password = undefined;
  }

  private holdUntilKey(password: Buffer): void {
    this.password = password;
    this.step = 'awaitKey';
  }
}
