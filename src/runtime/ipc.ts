/** Messages between the --workers primary and its workers (IPC messages are JSON). */
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ClientReport } from '../observability/client-audit';

/** One process's metrics as prom-client serialises them for aggregation. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export type WorkerMessage =
  | { type: 'mtp:listening'; address: AddressInfo }
  | { type: 'mtp:metrics'; id: number; metrics: MetricsJson }
  /** The worker's /clients report (src/observability/client-audit.ts), merged by the primary. */
  | { type: 'mtp:clients'; id: number; report: ClientReport }
  /** The worker could not start: the primary prints `message` and exits with `exitCode`. */
  | { type: 'mtp:startup-failed'; message: string; exitCode: number };

export type PrimaryMessage =
  /** Session ticket keys, base64. */
  | { type: 'mtp:ticket-keys'; keys: string }
  | { type: 'mtp:metrics-request'; id: number }
  | { type: 'mtp:clients-request'; id: number; limit: number };
