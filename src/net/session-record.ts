import { performance } from 'node:perf_hooks';
import { rejectionFor, type CloseReason, type TlsFailureReason, type TransportLabel } from '../core/labels';
import { logsConnectionClose, type ConnectionLogMode } from '../observability/connection-log';
import type { Logger } from '../observability/logger';
import type { LogLimiter } from '../observability/log-limiter';
import type { ProxyMetrics } from '../observability/metrics';

/** Reasons worth a warning: the database, not the client, is the likely culprit. */
const WARN_REASONS: ReadonlySet<CloseReason> = new Set([
  'backend_error',
  'backend_unavailable',
  'backend_protocol_error',
  'backend_refused',
]);

/** Facts for the log line, filled in as the session learns them (never auth data). */
export interface SessionLogFields {
  user?: string;
  database?: string;
  tlsVersion?: string;
  tlsCipher?: string;
  tlsResumed?: boolean;
  backendConnectionId?: number;
}

/** What the legs know when the session is over, for the log line and the byte counters. */
export interface SessionEndFacts {
  client: { address: string; port?: number };
  /** The balancer's address when the client came through a trusted PROXY header. */
  proxiedBy?: string;
  /** Bytes not yet reported to the metrics, and the totals for the log line. */
  unreportedBytes: { clientToBackend: number; backendToClient: number };
  totalBytes: { clientToBackend: number; backendToClient: number };
}

let nextSessionId = 1;

/**
 * A session's account of itself: why it ended (end(), the one place that decides, first reason
 * wins), its transport and TLS facts, and the metrics and the single log line that come out of
 * them (finish(), once both sockets are closed). The reason comes from the closed list in
 * src/core/labels.ts, so the log line and the metric labels always agree.
 */
export class SessionRecord {
  readonly id = nextSessionId++;
  readonly startedAt = performance.now();
  readonly log: SessionLogFields = {};
  private endReason?: CloseReason;
  private endDetail?: string;
  private transportLabel: TransportLabel = 'pending';
  /** Counted in connections_active (refused-on-accept sessions never are). */
  private counted = false;
  private tlsOutcomeCounted = false;
  private finished = false;

  constructor(
    private readonly metrics: ProxyMetrics,
    private readonly logger: Logger,
    /** Budget for log lines about refusals (a scan must not flood the log). */
    private readonly refusalLog: LogLimiter,
    /** --log-connections: which close lines are written (metrics count every session). */
    private readonly logConnections: ConnectionLogMode = 'all',
  ) {}

  get reason(): CloseReason | undefined {
    return this.endReason;
  }

  get ended(): boolean {
    return this.endReason !== undefined;
  }

  get transport(): TransportLabel {
    return this.transportLabel;
  }

  /** The session runs (was not refused on accept): it counts as an active, pending connection. */
  opened(): void {
    this.counted = true;
    this.metrics.connectionsActive.inc({ transport: 'pending' });
  }

  /** The one place a session's reason is decided: the first one wins. */
  end(reason: CloseReason, detail: string): void {
    if (this.endReason) return;
    this.endReason = reason;
    this.endDetail = detail;
    // Counted at the decision, so the metric already shows a refusal when the client sees it.
    const rejection = rejectionFor(reason);
    if (rejection) this.metrics.reject(rejection);
  }

  /** The client chose TLS or plaintext: moves the connection out of 'pending', once. */
  setTransport(transport: 'tls' | 'plain'): void {
    if (this.transportLabel !== 'pending') return;
    this.metrics.connectionsActive.dec({ transport: 'pending' });
    this.metrics.connectionsActive.inc({ transport });
    this.metrics.connections.inc({ transport });
    this.transportLabel = transport;
  }

  tlsEstablished(tls: { version: string; cipher: string; resumed: boolean; seconds: number }): void {
    const { version, cipher } = tls;
    this.log.tlsVersion = version;
    this.log.tlsCipher = cipher;
    this.tlsOutcomeCounted = true;
    this.metrics.tlsHandshakes.inc({ version, cipher });
    if (tls.resumed) {
      this.log.tlsResumed = true;
      this.metrics.tlsSessionsResumed.inc({ version });
    }
    this.metrics.tlsHandshakeDuration.observe({ version }, tls.seconds);
    this.setTransport('tls');
  }

  /** A client TLS handshake failed (counted once, whichever of timeout or error comes first). */
  tlsFailed(reason: TlsFailureReason): void {
    if (this.tlsOutcomeCounted) return;
    this.tlsOutcomeCounted = true;
    this.metrics.tlsHandshakeFailures.inc({ reason });
  }

  authAnswered(result: 'ok' | 'error'): void {
    this.metrics.auth.inc({ result });
  }

  backendConnected(seconds: number): void {
    this.metrics.backendConnectDuration.observe(seconds);
  }

  /** Both sockets are closed: metrics, then the session's one log line. Runs once; false after. */
  finish(facts: SessionEndFacts): boolean {
    if (this.finished) return false;
    this.finished = true;
    const reason = this.endReason ?? 'client_closed';
    const { metrics } = this;
    metrics.addBytes(facts.unreportedBytes.clientToBackend, facts.unreportedBytes.backendToClient);
    metrics.connectionEnded(this.transportLabel, this.startedAt);
    if (this.counted) metrics.connectionsActive.dec({ transport: this.transportLabel });
    const refusal = rejectionFor(reason) !== undefined || reason === 'tls_handshake_failed';
    if (!logsConnectionClose(this.logConnections, reason)) return true;
    const suppressed = refusal ? this.refusalLog.take() : 0;
    // Over the refusal log budget: the metrics still counted it.
    if (suppressed !== undefined) this.writeLogLine(reason, suppressed, facts);
    return true;
  }

  private writeLogLine(reason: CloseReason, suppressed: number, facts: SessionEndFacts): void {
    const entry = {
      event: 'connection_closed',
      session: this.id,
      client: facts.client,
      proxied_by: facts.proxiedBy,
      suppressed_before: suppressed > 0 ? suppressed : undefined,
      transport: this.transportLabel,
      tls_version: this.log.tlsVersion,
      tls_cipher: this.log.tlsCipher,
      tls_resumed: this.log.tlsResumed,
      user: this.log.user,
      database: this.log.database,
      backend_connection_id: this.log.backendConnectionId,
      duration_ms: Math.round((performance.now() - this.startedAt) * 1000) / 1000,
      bytes: {
        client_to_backend: facts.totalBytes.clientToBackend,
        backend_to_client: facts.totalBytes.backendToClient,
      },
      reason,
      detail: this.endDetail,
    };
    if (WARN_REASONS.has(reason)) this.logger.warn(entry, `connection closed: ${reason}`);
    else this.logger.info(entry, `connection closed: ${reason}`);
  }
}
