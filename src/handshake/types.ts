import type { ErrReply } from '../protocol/err-replies';
import type { CloseReason } from './close-reason';
import type { ClientCertificate, LoginWarning } from './login-policy';

export type Transport = 'tls' | 'plain';

/** What happened on the sockets, fed to the state machine. */
export type HandshakeEvent =
  /** Bytes from the database. */
  | { type: 'backendData'; data: Buffer }
  /** Bytes from the client: raw socket bytes before TLS, decrypted bytes after. */
  | { type: 'clientData'; data: Buffer }
  /**
   * The TLS handshake on the client leg completed. `clientCertificate`: whether the client showed
   * a certificate the proxy's --client-ca verified. Facts only: the login policy decides at the
   * HandshakeResponse (src/handshake/login-policy.ts), as MySQL refuses a failed X509 requirement
   * during authentication, so the client reads the error where it expects one.
   */
  | {
      type: 'tlsEstablished';
      clientCertificate?: ClientCertificate;
      /** Negotiated version and cipher, for the connection attributes the database sees. */
      tls?: { version: string; cipher: string };
    }
  /** The TLS handshake on the database leg (--backend-tls) completed. */
  | { type: 'backendTlsEstablished' }
  /** The database closed its side, its socket failed, or it could not be reached at all. */
  | {
      type: 'backendClosed';
      reason: 'backend_closed' | 'backend_error' | 'backend_unavailable' | 'backend_tls_failed';
      detail: string;
    }
  /**
   * The client side is over (it closed, failed, timed out or was refused): tell the client why if
   * the protocol still allows it, then finish the database's handshake cleanly.
   */
  | { type: 'abort'; reason: CloseReason; error?: ErrReply; detail?: string };

/** What the socket layer must do, in order. */
export type HandshakeAction =
  | { type: 'sendToClient'; data: Buffer }
  | { type: 'sendToBackend'; data: Buffer }
  /** The database greeted us: informational (logs, correlation with its processlist). */
  | { type: 'greeting'; serverVersion: string; connectionId: number }
  /** Upgrade the client socket to TLS; `pending` holds bytes already read after the SSLRequest. */
  | { type: 'startTls'; pending: Buffer }
  /** Run the TLS handshake on the database socket (its SSLRequest has just been sent). */
  | { type: 'startBackendTls' }
  /**
   * The client's HandshakeResponse arrived (user name for logs; never auth data). `warning`: the
   * login policy lets it through but would refuse it when enforcing (--require-secure-transport=warn).
   */
  | {
      type: 'login';
      transport: Transport;
      user: string;
      database?: string;
      authPlugin?: string;
      warning?: LoginWarning;
    }
  /**
   * The connection phase succeeded: flush these bytes and pipe both ways without parsing. With
   * `changeUser`, the session watches the client's commands for COM_CHANGE_USER, whose
   * re-authentication needs the same help as the login (see ChangeUserContext).
   */
  | { type: 'established'; toBackend: Buffer; toClient: Buffer; changeUser?: ChangeUserContext }
  /**
   * End the client side for `reason`; send `packet` (a complete MySQL packet) first when present.
   */
  | { type: 'closeClient'; reason: CloseReason; detail: string; packet?: Buffer }
  /** The database leg is finished (cleanly if the machine could); close it now. */
  | { type: 'closeBackend' };

/**
 * What a COM_CHANGE_USER re-authentication needs from the login: kept for sessions where the
 * client leg is TLS and the database leg plain (TiDB aside), where a re-authentication could ask
 * for the clear password, which the proxy must then RSA-encrypt.
 */
export interface ChangeUserContext {
  greeting: import('../protocol/greeting').Greeting;
  /** The auth plugin and scramble in force at the end of the last authentication. */
  plugin?: string;
  scramble: Buffer;
  /** The session's capabilities as the database sees them (which fields a COM_CHANGE_USER has, response shapes). */
  capabilities: number;
  /** The connection attributes the proxy adds, for the COM_CHANGE_USER's. */
  attributes?: Array<[Buffer, Buffer]>;
}
