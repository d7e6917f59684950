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
import { PhaseHistograms, type PhaseSnapshots } from './phases';

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
  /**
   * Run the same load for this long first, counting nothing; the measured run starts once the
   * warmup's connections have finished.
   */
  warmupMs?: number;
  /** Keep per-interval histograms for takeInterval() (bench --report-interval). */
  intervals?: boolean;
}

export interface ErrorTally extends ClassifiedError {
  count: number;
}

export interface LoadResult {
  attempts: number;
  connections: number;
  errors: number;
  resumed: number;
  /** Total latency (the `total` phase). */
  latencyUs: HistogramSnapshot;
  /** Every phase's latency, successful connections only. */
  phasesUs: PhaseSnapshots;
  /** What the warmup did (not counted anywhere else). */
  warmup: LoadProgress;
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

/** What happened since the previous takeInterval() (bench --report-interval). */
export interface IntervalSample extends LoadProgress {
  phasesUs: PhaseSnapshots;
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
  private phases = new PhaseHistograms();
  private interval: PhaseHistograms | undefined;
  private intervalBase: LoadProgress = { attempts: 0, connections: 0, errors: 0 };
  private readonly warmup: LoadProgress = { attempts: 0, connections: 0, errors: 0 };
  /** False during the warmup: attempts are made but not counted. */
  private measuring = true;
  /** Called once when the measured run starts (after the warmup, if any). */
  onMeasuring: (() => void) | undefined;
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
    if (config.intervals) this.interval = new PhaseHistograms();
  }

  /** Counts and per-phase histograms since the previous call; starts a new interval. */
  takeInterval(): IntervalSample {
    const base = this.intervalBase;
    const now = { ...this.progress };
    this.intervalBase = now;
    const phasesUs = this.interval?.snapshot() ?? {};
    if (this.interval) this.interval = new PhaseHistograms();
    return {
      attempts: now.attempts - base.attempts,
      connections: now.connections - base.connections,
      errors: now.errors - base.errors,
      phasesUs,
    };
  }

  /** Ends the run early: no new attempts; those in flight finish. */
  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<LoadResult> {
    const warmupMs = this.config.warmupMs ?? 0;
    if (warmupMs > 0) {
      this.measuring = false;
      await this.loop({ durationMs: warmupMs, connections: undefined });
      this.measuring = true;
      // Everything the warmup left behind belongs to it.
      this.phases = new PhaseHistograms();
      if (this.interval) this.interval = new PhaseHistograms();
      this.delayedArrivals = 0;
      this.resumed = 0;
    }
    this.onMeasuring?.();
    const startedAt = epochMs();
    await this.loop({ durationMs: this.config.durationMs, connections: this.config.connections });
    return {
      ...this.progress,
      resumed: this.resumed,
      latencyUs: this.phases.get('total').snapshot(),
      phasesUs: this.phases.snapshot(),
      warmup: { ...this.warmup },
      tlsVersions: this.tlsVersions,
      ciphers: this.ciphers,
      errorsByKind: this.errorsByKind,
      errorDetails: this.errorDetails,
      startedAt,
      finishedAt: epochMs(),
      delayedArrivals: this.delayedArrivals,
    };
  }

  private loop(window: Window): Promise<void> {
    this.t0 = performance.now();
    return this.config.rate !== undefined ? this.openLoop(this.config.rate, window) : this.closedLoop(window);
  }

  /** Closed loop: may another attempt start `elapsedMs` after the run began? */
  private mayStart(window: Window, index: number, elapsedMs: number): boolean {
    if (this.stopped) return false;
    const { connections, durationMs } = window;
    if (connections !== undefined) return index < connections;
    return elapsedMs < (durationMs ?? DEFAULT_DURATION_MS);
  }

  private async closedLoop(window: Window): Promise<void> {
    let launched = 0;
    const lane = async (): Promise<void> => {
      for (;;) {
        const start = performance.now();
        if (!this.mayStart(window, launched, start - this.t0)) return;
        launched++;
        await this.attempt(start);
      }
    };
    await Promise.all(Array.from({ length: this.config.concurrency }, lane));
  }

  private openLoop(rate: number, window: Window): Promise<void> {
    const interval = 1000 / rate;
    const phase = this.config.phaseMs ?? 0;
    const maxInFlight = this.config.concurrency;
    const arrivals =
      window.connections ?? scheduledArrivals(rate, phase, window.durationMs ?? DEFAULT_DURATION_MS);
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
          if (now - scheduled > 1 && this.measuring) this.delayedArrivals++;
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
    const counts = this.measuring ? this.progress : this.warmup;
    counts.attempts++;
    let connection: MysqlConnection | undefined;
    let queryUs = -1;
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
          config.resume && (this.session === undefined || counts.attempts % SESSION_REFRESH === 0)
            ? (session) => (this.session = session)
            : undefined,
        timeoutMs: config.timeoutMs,
        stopAfterTls: config.mode === 'tls-only',
      });
      if (config.query !== undefined && config.mode === 'full') {
        const queryStart = performance.now();
        await connection.query(config.query);
        queryUs = (performance.now() - queryStart) * 1000;
      }
    } catch (error) {
      if (this.measuring) this.recordError(classifyError(error, 'connect'));
      else this.warmup.errors++;
      return;
    }
    const totalUs = (performance.now() - startedAt) * 1000;
    counts.connections++;
    if (!this.measuring) {
      await (config.mode === 'full' ? connection.quit() : connection.close());
      return;
    }
    this.recordPhases(this.phases, connection, totalUs, queryUs);
    if (this.interval) this.recordPhases(this.interval, connection, totalUs, queryUs);
    const version = connection.tlsVersion ?? 'plaintext';
    this.tlsVersions[version] = (this.tlsVersions[version] ?? 0) + 1;
    if (connection.cipher) this.ciphers[connection.cipher] = (this.ciphers[connection.cipher] ?? 0) + 1;
    if (connection.resumed) this.resumed++;
    await (config.mode === 'full' ? connection.quit() : connection.close());
  }

  private recordPhases(
    into: PhaseHistograms,
    connection: MysqlConnection,
    totalUs: number,
    queryUs: number,
  ): void {
    const m = connection.marks;
    into.record('connect', (m.connected - m.start) * 1000);
    into.record('greeting', (m.greeting - m.connected) * 1000);
    if (m.tls > 0) into.record('tls', (m.tls - m.greeting) * 1000);
    if (m.auth > 0) into.record('auth', (m.auth - (m.tls || m.greeting)) * 1000);
    if (queryUs >= 0) into.record('query', queryUs);
    into.record('total', totalUs);
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

interface Window {
  durationMs?: number;
  connections?: number;
}

export type MergedResult = LoadResult & { histogram: Histogram; phases: PhaseHistograms };

/** Merges per-thread results into one. */
export function mergeResults(results: LoadResult[]): MergedResult {
  const phases = new PhaseHistograms();
  const histogram = phases.get('total');
  const merged: LoadResult = {
    attempts: 0,
    connections: 0,
    errors: 0,
    resumed: 0,
    latencyUs: histogram.snapshot(),
    phasesUs: {},
    warmup: { attempts: 0, connections: 0, errors: 0 },
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
    phases.merge(r.phasesUs);
    merged.warmup.attempts += r.warmup.attempts;
    merged.warmup.connections += r.warmup.connections;
    merged.warmup.errors += r.warmup.errors;
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
  merged.phasesUs = phases.snapshot();
  return { ...merged, histogram, phases };
}

/**
 * Splits a total over `parts` threads as evenly as possible: 10 over 3 -> [4, 3, 3].
 * Pure; exported for tests.
 */
export function splitEvenly(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < total % parts ? 1 : 0));
}
