import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { formatBackendAddress, type BackendAddress } from '../config/backend-address';
import { PacketChannel } from '../handshake/channel';
import { PlaceholderLogin, type PlaceholderStep } from '../handshake/placeholder-login';
import { COM_QUIT_PACKET } from '../protocol/commands';
import { isErrPacket, parseErrPacket } from '../protocol/err-packet';
import { isGreeting, parseGreeting } from '../protocol/greeting';
import { type Packet, PacketTooLargeError } from '../protocol/packet';
import { encodeProxyV2Local } from '../protocol/proxy-protocol';
import { serverKind, type ServerKind } from '../protocol/server-kind';
import { dialBackend } from './dialer';
import type { Logger } from '../observability/logger';
import type { ProxyMetrics } from '../observability/metrics';

export interface ProbeResult {
  ok: boolean;
  /** What happened, for logs and the /readyz body: "ECONNREFUSED", "greeting then ERR 1045", ... */
  detail: string;
  durationMs: number;
  /** Which database greeted, once one did (src/protocol/server-kind.ts). */
  serverKind?: ServerKind;
}

export interface ProbeTarget {
  backend: BackendAddress;
  localAddress?: string;
  timeoutMs: number;
  /**
   * With --backend-proxy-protocol v2 the database expects a PROXY header first: the probe sends
   * the LOCAL command, which the protocol defines for a proxy's own health checks.
   */
  proxyProtocol?: 'off' | 'v2';
}

/** A greeting or an auth packet larger than this is not a MySQL server talking. */
const MAX_PROBE_PACKET = 64 * 1024;

/**
 * One probe: connect, read the greeting, and finish the login cleanly with the same placeholder
 * user the session uses when a client gives up (see handshake/placeholder-login.ts). A bare TCP
 * connect-and-close would be a *handshake* error to MySQL/MariaDB, counted towards
 * max_connect_errors for the proxy's address: a probe every few seconds would get every client
 * blocked. A failed password is not counted. The database answering the login at all (ERR or OK)
 * means it is up; a refusal instead of a greeting (host blocked, too many connections) does not.
 */
export function probeBackend(target: ProbeTarget): Promise<ProbeResult> {
  return new Promise((resolve) => new ProbeConnection(target, resolve).start());
}

/** One probe's connection: the socket events in, the placeholder login's exchange out. */
class ProbeConnection {
  private readonly started = performance.now();
  private settled = false;
  /** The probe's database leg: framing, sequence ids and the size cap, as the session's. */
  private readonly leg = new PacketChannel('backend', MAX_PROBE_PACKET);
  private responder?: PlaceholderLogin;
  private database?: ServerKind;
  private socket!: net.Socket;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly target: ProbeTarget,
    private readonly resolve: (result: ProbeResult) => void,
  ) {}

  start(): void {
    const { backend, localAddress, timeoutMs, proxyProtocol } = this.target;
    this.socket = dialBackend(backend, { localAddress });
    if (proxyProtocol === 'v2') this.socket.write(encodeProxyV2Local());
    this.timer = setTimeout(() => {
      this.finish(false, `no ${this.responder ? 'login answer' : 'greeting'} within ${timeoutMs} ms`, true);
    }, timeoutMs);
    this.timer.unref();
    this.socket.on('data', this.onData);
    this.socket.on('error', (error: NodeJS.ErrnoException) =>
      this.finish(false, error.code ?? error.message, true),
    );
    this.socket.on('close', () => this.finish(false, 'the database closed the connection during the probe'));
  }

  private readonly onData = (chunk: Buffer): void => {
    this.leg.push(chunk);
    try {
      for (let packet = this.next(); packet && !this.settled; packet = this.next()) {
        if (this.responder) this.onStep(this.responder.onServerPacket(packet.payload));
        else this.onGreeting(packet);
      }
    } catch (error) {
      if (error instanceof PacketTooLargeError) {
        this.finish(false, 'the database sent an oversized packet during the handshake', true);
      } else {
        this.finish(false, `malformed handshake from the database: ${(error as Error).message}`, true);
      }
    }
  };

  private next(): Packet | undefined {
    return this.responder ? this.leg.read() : this.leg.readFirst();
  }

  private onGreeting(packet: Packet): void {
    if (isErrPacket(packet.payload)) {
      this.finish(false, `the database refused the connection: ERR ${safeErr(packet.payload)}`);
      return;
    }
    if (!isGreeting(packet.payload)) {
      this.finish(false, 'the database did not send a MySQL greeting', true);
      return;
    }
    const greeting = parseGreeting(packet.payload);
    this.database = serverKind(greeting);
    const { login, responder } = PlaceholderLogin.start(greeting);
    this.responder = responder;
    this.socket.write(this.leg.frame(login));
  }

  private onStep(step: PlaceholderStep): void {
    switch (step.action) {
      case 'answer':
        this.socket.write(this.leg.frame(step.payload));
        return;
      case 'refused':
        return this.finish(true, `login answered with ERR ${safeErr(step.payload)}`);
      case 'quit':
        // Someone created the placeholder user without a password: log out politely.
        this.socket.write(COM_QUIT_PACKET);
        return this.finish(true, 'login answered with OK');
      case 'gave_up':
        return this.finish(true, `the database answered the login (${step.rounds} auth rounds)`);
    }
  }

  private finish(ok: boolean, detail: string, destroy = false): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.socket.off('data', this.onData);
    // Ending (not destroying) after a complete exchange lets the database see an orderly close.
    if (destroy) this.socket.destroy();
    else this.socket.end();
    this.socket.resume(); // drain anything else until the database closes its side
    this.resolve({ ok, detail, durationMs: performance.now() - this.started, serverKind: this.database });
  }
}

function safeErr(payload: Buffer): string {
  try {
    const err = parseErrPacket(payload);
    return `${err.code}: ${err.message}`;
  } catch {
    return '(malformed)';
  }
}

export interface BackendProbeOptions extends ProbeTarget {
  intervalMs: number;
  /** Consecutive failed probes before the backend counts as unreachable. */
  failureThreshold: number;
}

export interface BackendProbeDeps {
  metrics?: ProxyMetrics;
  logger?: Logger;
  /** Replaceable for tests. */
  probe?: (target: ProbeTarget) => Promise<ProbeResult>;
}

export interface BackendHealth {
  reachable: boolean;
  consecutiveFailures: number;
  lastResult?: ProbeResult;
}

/**
 * Probes the database every `intervalMs` (one at a time, never overlapping). Unreachable after
 * `failureThreshold` consecutive failures, reachable again after one success. Optimistic until
 * the first probes say otherwise, so a proxy started together with its database is not reported
 * down for the first interval.
 */
export class BackendProbe {
  private failures = 0;
  private reachableNow = true;
  private last?: ProbeResult;
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = true;
  private inFlight?: Promise<void>;

  constructor(
    private readonly options: BackendProbeOptions,
    private readonly deps: BackendProbeDeps = {},
  ) {}

  get health(): BackendHealth {
    return { reachable: this.reachableNow, consecutiveFailures: this.failures, lastResult: this.last };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.deps.metrics?.backendUp.set(this.reachableNow ? 1 : 0);
    this.tick();
  }

  /** Stops probing; resolves once a probe in flight has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  /** Runs one probe now (tests, and the first one at start). */
  async probeOnce(): Promise<ProbeResult> {
    const probe = this.deps.probe ?? probeBackend;
    const result = await probe({
      backend: this.options.backend,
      localAddress: this.options.localAddress,
      timeoutMs: this.options.timeoutMs,
      proxyProtocol: this.options.proxyProtocol,
    });
    this.record(result);
    return result;
  }

  private tick(): void {
    if (this.stopped || this.running) return;
    this.running = true;
    this.inFlight = this.probeOnce()
      .then(
        () => undefined,
        (error: unknown) => {
          this.record({ ok: false, detail: (error as Error).message, durationMs: 0 });
        },
      )
      .finally(() => {
        this.running = false;
        if (this.stopped) return;
        this.timer = setTimeout(() => this.tick(), this.options.intervalMs);
        this.timer.unref();
      });
  }

  private record(result: ProbeResult): void {
    this.last = result;
    const { logger, metrics } = this.deps;
    const target = formatBackendAddress(this.options.backend);
    if (result.ok) {
      this.failures = 0;
      if (!this.reachableNow) {
        this.reachableNow = true;
        logger?.info(
          { event: 'backend_reachable', backend: target, detail: result.detail },
          `the database at ${target} is reachable again`,
        );
      }
    } else {
      this.failures++;
      logger?.debug(
        { event: 'backend_probe_failed', backend: target, detail: result.detail, failures: this.failures },
        'backend probe failed',
      );
      if (this.reachableNow && this.failures >= this.options.failureThreshold) {
        this.reachableNow = false;
        logger?.warn(
          { event: 'backend_unreachable', backend: target, detail: result.detail, failures: this.failures },
          `the database at ${target} is unreachable (${this.failures} failed probes): not ready`,
        );
      }
    }
    metrics?.backendUp.set(this.reachableNow ? 1 : 0);
  }
}
