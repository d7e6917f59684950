import fs from 'node:fs';
import path from 'node:path';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  REJECTION_REASONS,
  TLS_FAILURE_REASONS,
  TRANSPORTS,
  WOULD_BE_REJECTED_REASONS,
  type RejectionReason,
  type TransportLabel,
} from '../core/labels';
import { TLS_VERSIONS } from '../core/values';
import { ClientAudit } from './client-audit';

/**
 * Metric names and labels are fixed public names (docs/metrics.md): renaming one breaks users' dashboards
 * and alerts. Every label value comes from a closed set.
 */
export const METRIC_PREFIX = 'mysql_tls_proxy_';

export { TLS_FAILURE_REASONS, TRANSPORTS, type TlsFailureReason, type TransportLabel } from '../core/labels';
export { WOULD_BE_REJECTED_REASONS } from '../core/labels';

/**
 * prom-client's defaults that `promtool check metrics` rejects: gauges named like counters
 * ("non-counter metrics should not have _total suffix"). They are dropped; the per-type gauges
 * nodejs_active_handles{type}, nodejs_active_requests{type} and nodejs_active_resources{type}
 * stay, and sum() over them is the dropped total (docs/metrics.md).
 */
export const DROPPED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/** The served certificate as certificate_info shows it (src/tls/credentials.ts LoadedCredentials). */
export interface ServedCertificate {
  serialNumber: string;
  issuer: string;
  subject: string;
  notAfter: Date;
}

/** build_info's labels, fixed for the life of the process. */
export const BUILD_INFO = {
  version: packageVersion(),
  node: process.versions.node,
  openssl: process.versions.openssl,
};

/** package.json's version: two levels up from both src/observability and dist/observability. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Byte counters are read from live sockets at scrape time, so the relay path never touches metrics. */
export interface ByteCountSource {
  collectByteDeltas(): { clientToBackend: number; backendToClient: number };
}

/**
 * The proxy's metrics on a registry it owns (no prom-client global state), so tests and several
 * proxies in one process never share counters.
 */
export class ProxyMetrics {
  readonly registry = new Registry();
  private byteSources: ByteCountSource[] = [];

  readonly tlsHandshakes = new Counter({
    name: `${METRIC_PREFIX}tls_handshakes_total`,
    help: 'Completed client TLS handshakes by negotiated protocol version and cipher (OpenSSL name).',
    labelNames: ['version', 'cipher'] as const,
    registers: [this.registry],
  });

  /** How many of tls_handshakes_total resumed a session (ticket). */
  readonly tlsSessionsResumed = new Counter({
    name: `${METRIC_PREFIX}tls_sessions_resumed_total`,
    help: 'Client TLS handshakes that resumed an earlier session (ticket or PSK) instead of a full handshake, by protocol version.',
    labelNames: ['version'] as const,
    registers: [this.registry],
  });

  readonly tlsHandshakeFailures = new Counter({
    name: `${METRIC_PREFIX}tls_handshake_failures_total`,
    help: 'Client TLS handshakes that failed, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly tlsHandshakeDuration = new Histogram({
    name: `${METRIC_PREFIX}tls_handshake_duration_seconds`,
    help: 'Time from the SSLRequest to the completed TLS handshake, by protocol version.',
    labelNames: ['version'] as const,
    // 100 µs .. 10 s: loopback handshakes take well under a millisecond, overloaded ones seconds.
    buckets: [
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ],
    registers: [this.registry],
  });

  readonly connections = new Counter({
    name: `${METRIC_PREFIX}connections_total`,
    help: 'Client connections by transport, counted when the transport is known (TLS handshake done, or a plaintext login).',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  readonly connectionsActive = new Gauge({
    name: `${METRIC_PREFIX}connections_active`,
    help: 'Open client connections by transport; "pending" ones have not chosen TLS or plaintext yet.',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  readonly connectionsRejected = new Counter({
    name: `${METRIC_PREFIX}connections_rejected_total`,
    help: 'Client connections refused by the proxy, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** Added to the interface's table: the audit count of --require-secure-transport=warn. */
  readonly connectionsWouldBeRejected = new Counter({
    name: `${METRIC_PREFIX}connections_would_be_rejected_total`,
    help: 'Logins relayed under --require-secure-transport=warn that "on" would have refused, by reason (docs/tls-adoption-audit.md).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** Who logs in how (user, client address, transport, TLS version): /clients, never a metric label. */
  readonly clients = new ClientAudit();

  readonly auth = new Counter({
    name: `${METRIC_PREFIX}auth_total`,
    help: 'Logins as answered by the database (OK or ERR at the end of the connection phase).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly bytes = new Counter({
    name: `${METRIC_PREFIX}bytes_total`,
    help: 'Bytes relayed between clients and the database (MySQL protocol bytes, after TLS).',
    labelNames: ['direction'] as const,
    registers: [this.registry],
    collect: () => this.collectBytes(),
  });

  readonly backendConnectDuration = new Histogram({
    name: `${METRIC_PREFIX}backend_connect_duration_seconds`,
    help: 'Time to open the TCP connection to the database.',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly certificateExpiry = new Gauge({
    name: `${METRIC_PREFIX}certificate_expiry_timestamp_seconds`,
    help: 'notAfter of the server certificate being served, as a Unix timestamp.',
    registers: [this.registry],
    aggregator: 'min', // --workers: every worker serves the same certificate; the soonest expiry counts
  });

  readonly certificateReloads = new Counter({
    name: `${METRIC_PREFIX}certificate_reloads_total`,
    help: 'Certificate reload attempts by result; a failed reload keeps serving the previous certificate.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** Identity of the served certificate, value 1, one series. */
  readonly certificateInfo = new Gauge({
    name: `${METRIC_PREFIX}certificate_info`,
    help: 'The server certificate being served (value 1): serial (hex), issuer and subject (RFC 2253-like, comma separated) and notAfter (ISO 8601). A reload replaces the series.',
    labelNames: ['serial', 'issuer', 'subject', 'not_after'] as const,
    registers: [this.registry],
    aggregator: 'max', // --workers: one series per certificate served by any worker, value 1
  });

  /** When the served certificate was put into service. */
  readonly certificateLastReload = new Gauge({
    name: `${METRIC_PREFIX}certificate_last_reload_timestamp_seconds`,
    help: 'When the served certificate was last loaded, as a Unix timestamp: at startup, then on every reload that changed it (certificate_reloads_total{result="ok"}).',
    registers: [this.registry],
    aggregator: 'min', // --workers: the worker that loaded it longest ago (one that missed a reload shows)
  });

  /** How long client connections last. */
  readonly connectionDuration = new Histogram({
    name: `${METRIC_PREFIX}connection_duration_seconds`,
    help: 'Client connection lifetimes, from accept to both sides closed, observed when the connection ends, by transport ("pending": ended before choosing TLS or plaintext, e.g. refused).',
    labelNames: ['transport'] as const,
    // 1 ms (refusals) .. 4 h (pooled connections).
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 14400],
    registers: [this.registry],
  });

  /** What is running, value 1. */
  readonly buildInfo = new Gauge({
    name: `${METRIC_PREFIX}build_info`,
    help: 'Version of mysql-tls-proxy, of Node.js and of the OpenSSL it uses (value 1).',
    labelNames: ['version', 'node', 'openssl'] as const,
    registers: [this.registry],
    aggregator: 'max', // --workers: 1, not the number of processes
  });

  /** The backend probe's verdict, the same one /readyz uses. */
  readonly backendUp = new Gauge({
    name: `${METRIC_PREFIX}backend_up`,
    help: "Whether the database answers the proxy's probes (a clean login attempt every few seconds): 0 after several consecutive failures, 1 again after one success.",
    registers: [this.registry],
    aggregator: 'min', // --workers: workers report 1 (they do not probe); the primary's probe decides
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      for (const name of DROPPED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
      // prom-client omits it when --workers aggregates; the earliest start (the primary's) is the
      // service's uptime.
      const startTime = this.registry.getSingleMetric('process_start_time_seconds');
      if (startTime) (startTime as unknown as { aggregator: string }).aggregator = 'min';
    }
    this.buildInfo.set(BUILD_INFO, 1);
    // Zero-initialise the closed label sets so dashboards and rate() see every series from the start.
    for (const reason of REJECTION_REASONS) this.connectionsRejected.inc({ reason }, 0);
    for (const reason of TLS_FAILURE_REASONS) this.tlsHandshakeFailures.inc({ reason }, 0);
    for (const reason of WOULD_BE_REJECTED_REASONS) this.connectionsWouldBeRejected.inc({ reason }, 0);
    for (const version of TLS_VERSIONS) this.tlsSessionsResumed.inc({ version }, 0);
    for (const transport of TRANSPORTS) this.connectionsActive.set({ transport }, 0);
    for (const transport of ['tls', 'plain'] as const) this.connections.inc({ transport }, 0);
    for (const result of ['ok', 'error'] as const) {
      this.auth.inc({ result }, 0);
      this.certificateReloads.inc({ result }, 0);
    }
    this.backendUp.set(1); // optimistic until the probes say otherwise
    this.bytes.inc({ direction: 'client_to_backend' }, 0);
    this.bytes.inc({ direction: 'backend_to_client' }, 0);
  }

  addByteSource(source: ByteCountSource): void {
    this.byteSources.push(source);
  }

  addBytes(clientToBackend: number, backendToClient: number): void {
    if (clientToBackend > 0) this.bytes.inc({ direction: 'client_to_backend' }, clientToBackend);
    if (backendToClient > 0) this.bytes.inc({ direction: 'backend_to_client' }, backendToClient);
  }

  /** The certificate now in service: expiry, identity (the previous series removed) and when. */
  certificateServed(certificate: ServedCertificate, now = Date.now()): void {
    this.certificateExpiry.set(certificate.notAfter.getTime() / 1000);
    this.certificateInfo.reset();
    this.certificateInfo.set(
      {
        serial: certificate.serialNumber,
        issuer: certificate.issuer,
        subject: certificate.subject,
        not_after: certificate.notAfter.toISOString(),
      },
      1,
    );
    this.certificateLastReload.set(now / 1000);
  }

  /** A client connection that was accepted at `startedAt` (performance.now()) has ended. */
  connectionEnded(transport: TransportLabel, startedAt: number, now = performance.now()): void {
    this.connectionDuration.observe({ transport }, (now - startedAt) / 1000);
  }

  reject(reason: RejectionReason): void {
    this.connectionsRejected.inc({ reason });
  }

  private collectBytes(): void {
    for (const source of this.byteSources) {
      const delta = source.collectByteDeltas();
      this.addBytes(delta.clientToBackend, delta.backendToClient);
    }
  }
}
