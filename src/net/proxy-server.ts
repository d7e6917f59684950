import net from 'node:net';
import type { HostPort } from '../config/host-port';
import type { Logger } from '../observability/logger';
import type { ByteCountSource, ProxyMetrics } from '../observability/metrics';
import { LogLimiter } from '../observability/log-limiter';
import type { AccessPolicy } from '../policy/access-policy';
import { errReplies } from '../protocol/err-replies';
import { displayAddress, Session, type SessionDeps, type SessionSettings } from './session';
import type { TlsTerminator } from './tls-terminator';

export interface ProxyServerOptions {
  listen: HostPort;
  maxConnections: number;
  /** TCP keepalive idle time on accepted sockets (--tcp-keepalive); 0: off. */
  tcpKeepaliveMs: number;
  session: SessionSettings;
}

export interface ProxyServerDeps {
  logger: Logger;
  metrics: ProxyMetrics;
  tls: TlsTerminator;
  policy: AccessPolicy;
}

/**
 * The client-facing listener. Refusals that need no database (access list, connection limit)
 * happen here, on accept; everything else belongs to the Session.
 */
export class ProxyServer implements ByteCountSource {
  private readonly server: net.Server;
  private readonly sessions = new Set<Session>();
  /** Sessions that count against --max-connections (refused sockets don't). */
  private active = 0;
  private draining = false;
  private drained?: () => void;
  private readonly refusalLog = new LogLimiter();
  /** What every Session gets: built once, not per connection. */
  private readonly sessionDeps: SessionDeps;
  /** Sessions counted in `active` (refused ones are not). */
  private readonly counted = new WeakSet<Session>();

  constructor(
    private readonly options: ProxyServerOptions,
    private readonly deps: ProxyServerDeps,
  ) {
    // Nagle off (MySQL packets are small and latency-bound), set at accept. Keepalive only when
    // asked (--tcp-keepalive): Node sets it per socket, four setsockopt(2) calls on each leg.
    const keepAlive = options.tcpKeepaliveMs > 0;
    this.server = net.createServer(
      { noDelay: true, keepAlive, keepAliveInitialDelay: options.tcpKeepaliveMs },
      (socket) => this.accept(socket),
    );
    deps.metrics.addByteSource(this);
    const { logger, metrics, tls, policy } = deps;
    this.sessionDeps = {
      settings: options.session,
      tls,
      metrics,
      logger,
      allows: (address) => policy.allowlist.allows(address),
      refusalLog: this.refusalLog,
    };
  }

  get activeSessions(): number {
    return this.active;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  listen(): Promise<net.AddressInfo> {
    const { host, port } = this.options.listen;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port, backlog: 4096 }, () => {
        this.server.off('error', reject);
        this.server.on('error', (error) =>
          this.deps.logger.error({ event: 'listener_error', err: error }, 'listener error'),
        );
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /**
   * Stops accepting, lets open sessions finish for up to `timeoutMs`, then closes what is left.
   * Resolves once every session has ended.
   */
  async drain(timeoutMs: number): Promise<{ remaining: number }> {
    this.draining = true;
    this.server.close();
    if (this.sessions.size === 0) return { remaining: 0 };
    const allDone = new Promise<void>((resolve) => (this.drained = resolve));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)));
    const expired = await Promise.race([allDone.then(() => false), timedOut]);
    clearTimeout(timer);
    const remaining = this.sessions.size;
    if (expired) {
      for (const session of this.sessions) session.shutdown();
      await allDone;
    }
    return { remaining: expired ? remaining : 0 };
  }

  collectByteDeltas(): { clientToBackend: number; backendToClient: number } {
    let clientToBackend = 0;
    let backendToClient = 0;
    for (const session of this.sessions) {
      const delta = session.takeByteDeltas();
      clientToBackend += delta.clientToBackend;
      backendToClient += delta.backendToClient;
    }
    return { clientToBackend, backendToClient };
  }

  private accept(socket: net.Socket): void {
    const { policy } = this.deps;
    const session = new Session(socket, this.sessionDeps, this.onFinished);
    this.sessions.add(session);
    // A trusted balancer's own address is not the client's: the access list is applied to the
    // address in its PROXY header instead (Session.start).
    const behindBalancer = policy.isProxyPeer(socket.remoteAddress);
    if (!behindBalancer && !policy.allowlist.allows(socket.remoteAddress)) {
      session.refuse('ip_not_allowed', errReplies.hostNotAllowed(displayAddress(socket.remoteAddress)));
      return;
    }
    if (this.draining) {
      session.refuse('shutdown', errReplies.shuttingDown());
      return;
    }
    if (this.active >= this.options.maxConnections) {
      session.refuse('max_connections', errReplies.tooManyConnections());
      return;
    }
    this.counted.add(session);
    this.active++;
    session.start({ expectProxyHeader: behindBalancer });
  }

  private readonly onFinished = (session: Session): void => {
    this.sessions.delete(session);
    if (this.counted.has(session)) this.active--;
    if (this.draining && this.sessions.size === 0) this.drained?.();
  };
}
