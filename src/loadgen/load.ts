/**
 * One thread's share of a bench run: closed loop (N connections back to back each) or open loop
 * (arrivals on a fixed schedule, latency measured from the scheduled time so a slow server cannot
 * hide behind a slow client), with one shared SecureContext.
 */
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { classifyError, errorKey, type ClassifiedError, type ErrorKind } from '../client/errors';
import { Histogram, type HistogramSnapshot } from './histogram';
import { MysqlConnection } from '../client/mysql-client';

export type BenchMode = 'full' | 'tls-only';

/** Everything one thread needs; plain data so it can be posted to a worker. */
export interface LoadConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
  /** PEM contents; when given, the certificate chain and name are verified. */
  ca?: string;
  serverName?: string;
  tlsVersion?: 'TLSv1.2' | 'TLSv1.3';
  mode: BenchMode;
  query?: string;
  resume: boolean;
  /** Closed loop: connections in flight. Open loop: the most in flight before arrivals queue. */
  concurrency: number;
  /** Open loop: arrivals per second for this thread. */
  rate?: number;
  /** Open loop: offset of this thread's schedule, so several threads interleave evenly. */
  phaseMs?: number;
  durationMs?: number;
  /** Attempts for this thread (instead of a duration). */
  connections?: number;
  timeoutMs: number;
}

export interface ErrorTally extends ClassifiedError {
  count: number;
}

export interface LoadResult {
  attempts: number;
  connections: number;
  errors: number;
  resumed: number;
  latencyUs: HistogramSnapshot;
  tlsVersions: Record<string, number>;
  ciphers: Record<string, number>;
  errorsByKind: Partial<Record<ErrorKind, number>>;
  /** Grouped by errorKey(); message is the first one seen. */
  errorDetails: Record<string, ErrorTally>;
  /** Epoch ms (timeOrigin-based, comparable across threads). */
  startedAt: number;
  finishedAt: number;
  /** Open loop: arrivals launched later than scheduled because `concurrency` were in flight. */
  delayedArrivals: number;
}

/** Live counters, read by the progress display. */
export interface LoadProgress {
  attempts: number;
  connections: number;
  errors: number;
}

/** With --resume, pick up a new session ticket every this many attempts. */
const SESSION_REFRESH = 64;

const epochMs = (): number => performance.timeOrigin + performance.now();

export function createSecureContext(config: Pick<LoadConfig, 'ca' | 'tlsVersion'>): tls.SecureContext {
  return tls.createSecureContext({
    ca: config.ca,
    minVersion: config.tlsVersion ?? 'TLSv1.2',
    maxVersion: config.tlsVersion ?? 'TLSv1.3',
  });
}

const DEFAULT_DURATION_MS = 10_000;

/**
 * How many arrivals an open-loop thread launches: those scheduled at phase + n/rate inside the
 * duration. Counted, not found by comparing scheduled times, because `n * (1000 / rate)` drifts
 * across the boundary (19/s for 1 s would give 20); the epsilon absorbs the same rounding here.
 * With the phases planShares() gives, the threads' counts add up to exactly rate x duration.
 */
export function scheduledArrivals(rate: number, phaseMs: number, durationMs: number): number {
  return Math.max(0, Math.ceil(((durationMs - phaseMs) * rate) / 1000 - 1e-9));
}

export class LoadRunner {
  readonly progress: LoadProgress = { attempts: 0, connections: 0, errors: 0 };
  private readonly histogram = new Histogram();
  private readonly tlsVersions: Record<string, number> = {};
  private readonly ciphers: Record<string, number> = {};
  private readonly errorsByKind: Partial<Record<ErrorKind, number>> = {};
  private readonly errorDetails: Record<string, ErrorTally> = {};
  private readonly secureContext: tls.SecureContext;
  private session: Buffer | undefined;
  private resumed = 0;
  private delayedArrivals = 0;
  private stopped = false;
  private t0 = 0;

  constructor(private readonly config: LoadConfig) {
    this.secureContext = createSecureContext(config);
  }

  /** Ends the run early: no new attempts; those in flight finish. */
  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<LoadResult> {
    const startedAt = epochMs();
    this.t0 = performance.now();
    if (this.config.rate !== undefined) await this.openLoop(this.config.rate);
    else await this.closedLoop();
    return {
      ...this.progress,
      resumed: this.resumed,
      latencyUs: this.histogram.snapshot(),
      tlsVersions: this.tlsVersions,
      ciphers: this.ciphers,
      errorsByKind: this.errorsByKind,
      errorDetails: this.errorDetails,
      startedAt,
      finishedAt: epochMs(),
      delayedArrivals: this.delayedArrivals,
    };
  }

  /** Closed loop: may another attempt start `elapsedMs` after the run began? */
  private mayStart(index: number, elapsedMs: number): boolean {
    if (this.stopped) return false;
    const { connections, durationMs } = this.config;
    if (connections !== undefined) return index < connections;
    return elapsedMs < (durationMs ?? DEFAULT_DURATION_MS);
  }

  private async closedLoop(): Promise<void> {
    let launched = 0;
    const lane = async (): Promise<void> => {
      for (;;) {
        const start = performance.now();
        if (!this.mayStart(launched, start - this.t0)) return;
        launched++;
        await this.attempt(start);
      }
    };
    await Promise.all(Array.from({ length: this.config.concurrency }, lane));
  }

  private openLoop(rate: number): Promise<void> {
    const interval = 1000 / rate;
    const phase = this.config.phaseMs ?? 0;
    const maxInFlight = this.config.concurrency;
    const arrivals =
      this.config.connections ??
      scheduledArrivals(rate, phase, this.config.durationMs ?? DEFAULT_DURATION_MS);
    let next = 0; // index of the next arrival to launch
    let inFlight = 0;
    let timer: NodeJS.Timeout | undefined;
    return new Promise((resolve) => {
      const pump = (): void => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        const now = performance.now();
        for (;;) {
          const scheduled = this.t0 + phase + next * interval;
          if (this.stopped || next >= arrivals) {
            if (inFlight === 0) resolve();
            return;
          }
          if (scheduled > now) {
            timer = setTimeout(pump, Math.max(0, scheduled - now));
            return;
          }
          if (inFlight >= maxInFlight) return; // queued; a completion pumps again
          if (now - scheduled > 1) this.delayedArrivals++;
          next++;
          inFlight++;
          void this.attempt(scheduled).then(() => {
            inFlight--;
            pump();
          });
        }
      };
      pump();
    });
  }

  /** One connection; never throws. Latency runs from `startedAt` (the scheduled time in open loop). */
  private async attempt(startedAt: number): Promise<void> {
    const config = this.config;
    this.progress.attempts++;
    let connection: MysqlConnection | undefined;
    try {
      connection = await MysqlConnection.connect({
        host: config.host,
        port: config.port,
        user: config.user,
        password: config.password,
        database: config.database,
        secureContext: this.secureContext,
        serverName: config.serverName,
        rejectUnauthorized: config.ca !== undefined,
        session: config.resume ? this.session : undefined,
        // Listening for tickets costs a serialisation per ticket: take a fresh one now and then only.
        onSession:
          config.resume && (this.session === undefined || this.progress.attempts % SESSION_REFRESH === 0)
            ? (session) => (this.session = session)
            : undefined,
        timeoutMs: config.timeoutMs,
        stopAfterTls: config.mode === 'tls-only',
      });
      if (config.query !== undefined && config.mode === 'full') await connection.query(config.query);
    } catch (error) {
      this.recordError(classifyError(error, 'connect'));
      return;
    }
    this.histogram.record((performance.now() - startedAt) * 1000);
    this.progress.connections++;
    const version = connection.tlsVersion ?? 'plaintext';
    this.tlsVersions[version] = (this.tlsVersions[version] ?? 0) + 1;
    if (connection.cipher) this.ciphers[connection.cipher] = (this.ciphers[connection.cipher] ?? 0) + 1;
    if (connection.resumed) this.resumed++;
    await (config.mode === 'full' ? connection.quit() : connection.close());
  }

  private recordError(error: ClassifiedError): void {
    this.progress.errors++;
    this.errorsByKind[error.kind] = (this.errorsByKind[error.kind] ?? 0) + 1;
    const key = errorKey(error);
    const tally = this.errorDetails[key];
    if (tally) tally.count++;
    else this.errorDetails[key] = { ...error, count: 1 };
  }
}

/** Merges per-thread results into one. */
export function mergeResults(results: LoadResult[]): LoadResult & { histogram: Histogram } {
  const histogram = new Histogram();
  const merged: LoadResult = {
    attempts: 0,
    connections: 0,
    errors: 0,
    resumed: 0,
    latencyUs: histogram.snapshot(),
    tlsVersions: {},
    ciphers: {},
    errorsByKind: {},
    errorDetails: {},
    startedAt: Math.min(...results.map((r) => r.startedAt)),
    finishedAt: Math.max(...results.map((r) => r.finishedAt)),
    delayedArrivals: 0,
  };
  const add = (into: Record<string, number>, from: Record<string, number | undefined>): void => {
    for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + (value ?? 0);
  };
  for (const r of results) {
    merged.attempts += r.attempts;
    merged.connections += r.connections;
    merged.errors += r.errors;
    merged.resumed += r.resumed;
    merged.delayedArrivals += r.delayedArrivals;
    histogram.merge(r.latencyUs);
    add(merged.tlsVersions, r.tlsVersions);
    add(merged.ciphers, r.ciphers);
    add(merged.errorsByKind, r.errorsByKind);
    for (const [key, tally] of Object.entries(r.errorDetails)) {
      const existing = merged.errorDetails[key];
      if (existing) existing.count += tally.count;
      else merged.errorDetails[key] = { ...tally };
    }
  }
  merged.latencyUs = histogram.snapshot();
  return { ...merged, histogram };
}

/**
 * Splits a total over `parts` threads as evenly as possible: 10 over 3 -> [4, 3, 3].
 * Pure; exported for tests.
 */
export function splitEvenly(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < total % parts ? 1 : 0));
}
