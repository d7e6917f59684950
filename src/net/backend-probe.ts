import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { HostPort } from '../config/host-port';
import { formatHostPort } from '../config/host-port';
import { abortedLoginResponse, authSwitchPlugin, dummyAuthData } from '../handshake/aborted-login';
import { classifyServerAuthPacket } from '../protocol/auth-packets';
import { isErrPacket, parseErrPacket } from '../protocol/err-packet';
import { isGreeting, parseGreeting } from '../protocol/greeting';
import { encodePacket, parsePacketHeader, PACKET_HEADER_SIZE } from '../protocol/packet';
import { encodeProxyV2Local } from '../protocol/proxy-protocol';
import { serverKind, type ServerKind } from '../protocol/server-kind';
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
  backend: HostPort;
  localAddress?: string;
  timeoutMs: number;
  /**
   * With --backend-proxy-protocol v2 the database expects a PROXY header first: the probe sends
   * the LOCAL command, which the protocol defines for a proxy's own health checks.
   */
  proxyProtocol?: 'off' | 'v2';
}

/** Auth-switch / more-data rounds the probe answers before it gives up (as the session's release). */
const MAX_AUTH_ROUNDS = 4;
/** A greeting or an auth packet larger than this is not a MySQL server talking. */
const MAX_PROBE_PACKET = 64 * 1024;
const COM_QUIT = Buffer.from([0x01]);

/**
 * One probe: connect, read the greeting, and finish the login cleanly with the same placeholder
 * user the session uses when a client gives up (see handshake/aborted-login.ts). A bare TCP
 * connect-and-close would be a *handshake* error to MySQL/MariaDB, counted towards
 * max_connect_errors for the proxy's address: a probe every few seconds would get every client
 * blocked. A failed password is not counted. The database answering the login at all (ERR or OK)
 * means it is up; a refusal instead of a greeting (host blocked, too many connections) does not.
 */
export function probeBackend(target: ProbeTarget): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let buffer: Buffer = Buffer.alloc(0);
    let greeted = false;
    let rounds = 0;
    let plugin: string | undefined;
    let database: ServerKind | undefined;
    const socket = net.connect({
      host: target.backend.host,
      port: target.backend.port,
      localAddress: target.localAddress,
    });
    socket.setNoDelay(true);
    if (target.proxyProtocol === 'v2') socket.write(encodeProxyV2Local());
    const timer = setTimeout(
      () => finish(false, `no ${greeted ? 'login answer' : 'greeting'} within ${target.timeoutMs} ms`, true),
      target.timeoutMs,
    );
    timer.unref();

    const finish = (ok: boolean, detail: string, destroy = false): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      // Ending (not destroying) after a complete exchange lets the database see an orderly close.
      if (destroy) socket.destroy();
      else socket.end();
      socket.resume(); // drain anything else until the database closes its side
      resolve({ ok, detail, durationMs: performance.now() - started, serverKind: database });
    };

    const onPacket = (sequenceId: number, payload: Buffer): void => {
      if (!greeted) {
        if (isErrPacket(payload)) {
          const err = safeErr(payload);
          finish(false, `the database refused the connection: ERR ${err}`);
          return;
        }
        if (!isGreeting(payload)) {
          finish(false, 'the database did not send a MySQL greeting', true);
          return;
        }
        greeted = true;
        const greeting = parseGreeting(payload);
        database = serverKind(greeting);
        plugin = greeting.authPluginName === 'caching_sha2_password' ? greeting.authPluginName : undefined;
        socket.write(encodePacket(abortedLoginResponse(greeting), (sequenceId + 1) & 0xff));
        return;
      }
      const kind = classifyServerAuthPacket(payload);
      if (kind === 'err') {
        finish(true, `login answered with ERR ${safeErr(payload)}`);
        return;
      }
      if (kind === 'ok') {
        // Someone created the placeholder user without a password: log out politely.
        socket.write(encodePacket(COM_QUIT, 0));
        finish(true, 'login answered with OK');
        return;
      }
      if (++rounds > MAX_AUTH_ROUNDS) {
        finish(true, `the database answered the login (${rounds - 1} auth rounds)`);
        return;
      }
      if (kind === 'auth-switch') plugin = authSwitchPlugin(payload);
      socket.write(encodePacket(dummyAuthData(plugin), (sequenceId + 1) & 0xff));
    };

    const onData = (chunk: Buffer): void => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      try {
        for (;;) {
          const header = parsePacketHeader(buffer);
          if (!header) return;
          if (header.length > MAX_PROBE_PACKET) {
            finish(false, 'the database sent an oversized packet during the handshake', true);
            return;
          }
          const end = PACKET_HEADER_SIZE + header.length;
          if (buffer.length < end) return;
          const payload = buffer.subarray(PACKET_HEADER_SIZE, end);
          buffer = buffer.subarray(end);
          onPacket(header.sequenceId, payload);
          if (settled) return;
        }
      } catch (error) {
        finish(false, `malformed handshake from the database: ${(error as Error).message}`, true);
      }
    };

    socket.on('data', onData);
    socket.on('error', (error: NodeJS.ErrnoException) => finish(false, error.code ?? error.message, true));
    socket.on('close', () => finish(false, 'the database closed the connection during the probe'));
  });
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
    const target = formatHostPort(this.options.backend);
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
