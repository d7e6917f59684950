/** Messages between the --workers primary and its workers (IPC messages are JSON). */
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** One process's metrics as prom-client serialises them for aggregation. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export type WorkerMessage =
  | { type: 'mtp:listening'; address: AddressInfo }
  | { type: 'mtp:metrics'; id: number; metrics: MetricsJson }
  /** The worker could not start: the primary prints `message` and exits with `exitCode`. */
  | { type: 'mtp:startup-failed'; message: string; exitCode: number };

export type PrimaryMessage =
  /** Session ticket keys, base64. */
  { type: 'mtp:ticket-keys'; keys: string } | { type: 'mtp:metrics-request'; id: number };
