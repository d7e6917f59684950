/**
 * Turns a merged bench result into the `--json` object and the human summary. Pure.
 */
import { ERROR_KINDS, type ErrorKind } from '../client/errors';
import type { BenchMode, ErrorTally, IntervalSample, LoadProgress, MergedResult } from './load';
import { PhaseHistograms, phasesStats, PHASES, type Phase, type PhaseStats } from './phases';
import type { ThresholdResult } from './thresholds';

export interface BenchDescription {
  target: string;
  mode: BenchMode;
  workers: number;
  concurrency: number;
  /** Requested arrivals per second (open loop). */
  targetRate?: number;
  durationS?: number;
  connectionsRequested?: number;
  query?: string;
  resume: boolean;
  verified: boolean;
  tlsVersion?: string;
  /** CPU seconds (user + system) this process (all its threads) used during the measured run. */
  cpuS: number;
  warmupS?: number;
  reportIntervalS?: number;
  intervals?: IntervalJson[];
  thresholds?: ThresholdResult[];
}

/** One --report-interval line's figures. */
export interface IntervalJson {
  type: 'interval';
  /** Seconds since the measured run started, at the end of this interval. */
  elapsed_s: number;
  interval_s: number;
  attempts: number;
  connections: number;
  errors: number;
  /** Successful connections per second in this interval. */
  rate: number;
  phases: Partial<Record<Phase, { count: number; p50_ms: number; p99_ms: number }>>;
}

export interface BenchJson {
  target: string;
  mode: BenchMode;
  loop: 'closed' | 'open';
  workers: number;
  concurrency: number;
  target_rate: number | null;
  duration_s: number | null;
  elapsed_s: number;
  attempts: number;
  connections: number;
  errors: number;
  /** Successful connections per second of wall time. */
  rate: number;
  /** Total latency (the `total` phase). */
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  min_ms: number;
  mean_ms: number;
  tls_versions: Record<string, number>;
  ciphers: Record<string, number>;
  resumed: number;
  errors_by_kind: Record<ErrorKind, number>;
  error_details: Array<{
    key: string;
    kind: ErrorKind;
    count: number;
    stage: string;
    code?: number;
    reason?: string;
    errno?: string;
    message: string;
  }>;
  delayed_arrivals: number;
  verified: boolean;
  /** Per-phase latency of the successful connections (see src/loadgen/phases.ts). */
  phases: Partial<Record<Phase, PhaseStats>>;
  warmup_s: number;
  /** Attempts made during the warmup, counted nowhere else. */
  warmup: LoadProgress;
  /** CPU time of the whole client process (all worker threads) during the measured run. */
  cpu_s: number;
  connections_per_cpu_s: number;
  /** cpu_s / connections, in microseconds: the client's cost per connection. */
  cpu_us_per_connection: number | null;
  report_interval_s: number | null;
  intervals: IntervalJson[];
  thresholds: ThresholdResult[];
  /** False when a threshold was crossed. */
  passed: boolean;
}

const round = (value: number, digits = 3): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

export function benchJson(result: MergedResult, description: BenchDescription): BenchJson {
  const h = result.histogram;
  const ms = (us: number): number => round(us / 1000);
  const elapsed = Math.max(0.001, (result.finishedAt - result.startedAt) / 1000);
  const errorsByKind = Object.fromEntries(ERROR_KINDS.map((k) => [k, result.errorsByKind[k] ?? 0])) as Record<
    ErrorKind,
    number
  >;
  return {
    target: description.target,
    mode: description.mode,
    loop: description.targetRate === undefined ? 'closed' : 'open',
    workers: description.workers,
    concurrency: description.concurrency,
    target_rate: description.targetRate ?? null,
    duration_s: description.durationS ?? null,
    elapsed_s: round(elapsed),
    attempts: result.attempts,
    connections: result.connections,
    errors: result.errors,
    rate: round(result.connections / elapsed, 1),
    p50_ms: ms(h.percentile(50)),
    p90_ms: ms(h.percentile(90)),
    p99_ms: ms(h.percentile(99)),
    p999_ms: ms(h.percentile(99.9)),
    max_ms: ms(h.max),
    min_ms: ms(h.min),
    mean_ms: ms(h.mean),
    tls_versions: result.tlsVersions,
    ciphers: result.ciphers,
    resumed: result.resumed,
    errors_by_kind: errorsByKind,
    error_details: Object.entries(result.errorDetails)
      .sort((a, b) => b[1].count - a[1].count)
      .map(([key, t]: [string, ErrorTally]) => ({
        key,
        kind: t.kind,
        count: t.count,
        stage: t.stage,
        code: t.code,
        reason: t.reason,
        errno: t.errno,
        message: t.message,
      })),
    delayed_arrivals: result.delayedArrivals,
    verified: description.verified,
    phases: phasesStats(result.phases),
    warmup_s: description.warmupS ?? 0,
    warmup: result.warmup,
    cpu_s: round(description.cpuS),
    connections_per_cpu_s: description.cpuS > 0 ? round(result.connections / description.cpuS, 1) : 0,
    cpu_us_per_connection:
      result.connections > 0 ? round((description.cpuS * 1e6) / result.connections, 1) : null,
    report_interval_s: description.reportIntervalS ?? null,
    intervals: description.intervals ?? [],
    thresholds: description.thresholds ?? [],
    passed: (description.thresholds ?? []).every((t) => !t.crossed),
  };
}

/** The figures of one interval (from takeInterval() samples of every thread). */
export function intervalJson(samples: IntervalSample[], elapsedS: number, intervalS: number): IntervalJson {
  const phases = PhaseHistograms.fromSnapshots(...samples.map((s) => s.phasesUs));
  const sum = (key: 'attempts' | 'connections' | 'errors'): number =>
    samples.reduce((total, s) => total + s[key], 0);
  const connections = sum('connections');
  const out: IntervalJson = {
    type: 'interval',
    elapsed_s: round(elapsedS),
    interval_s: round(intervalS),
    attempts: sum('attempts'),
    connections,
    errors: sum('errors'),
    rate: round(connections / Math.max(0.001, intervalS), 1),
    phases: {},
  };
  for (const phase of PHASES) {
    const h = phases.get(phase);
    if (h.count === 0) continue;
    out.phases[phase] = {
      count: h.count,
      p50_ms: round(h.percentile(50) / 1000),
      p99_ms: round(h.percentile(99) / 1000),
    };
  }
  return out;
}

/**
 * One interval line, e.g.
 * `[   3.0s] 512.0/s ok  0 errors  p50/p99 ms  connect 0.08/0.21  greeting 0.4/1.1  tls 1.9/4.2  auth 0.6/1.5  total 3.0/6.8`.
 */
export function intervalLine(interval: IntervalJson): string {
  const phases = PHASES.filter((p) => interval.phases[p] !== undefined)
    .map((p) => `${p} ${interval.phases[p]!.p50_ms}/${interval.phases[p]!.p99_ms}`)
    .join('  ');
  return `[${interval.elapsed_s.toFixed(1).padStart(7)}s] ${interval.rate.toFixed(1)}/s ok  ${interval.errors} errors${phases ? `  p50/p99 ms  ${phases}` : ''}`;
}

function counts(map: Record<string, number>): string {
  const entries = Object.entries(map).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

export function benchText(json: BenchJson): string {
  const loop =
    json.loop === 'open'
      ? `open loop at ${json.target_rate}/s (at most ${json.concurrency} in flight)`
      : `closed loop, concurrency ${json.concurrency}`;
  const lines = [
    `bench ${json.target}: ${json.mode === 'full' ? 'full MySQL connections' : 'TLS handshakes only'}, ${loop}, ${json.workers} worker${json.workers === 1 ? '' : 's'}`,
    '',
    `connections   ${json.connections} ok, ${json.errors} failed, ${json.attempts} attempted in ${json.elapsed_s.toFixed(2)} s`,
    `rate          ${json.rate.toFixed(1)} connections/s${json.loop === 'open' ? ` (requested ${json.target_rate}/s, ${json.delayed_arrivals} arrivals started late)` : ''}`,
    `latency ms    p50 ${json.p50_ms}  p90 ${json.p90_ms}  p99 ${json.p99_ms}  p99.9 ${json.p999_ms}  max ${json.max_ms}  (mean ${json.mean_ms})${json.loop === 'open' ? ', from the scheduled start' : ''}`,
    ...phaseTable(json.phases),
    `TLS versions  ${counts(json.tls_versions)}`,
    `ciphers       ${counts(json.ciphers)}`,
    `resumed       ${json.resumed}`,
    `certificate   ${json.verified ? 'verified (--ca)' : 'not verified (no --ca)'}`,
    `client CPU    ${json.cpu_s.toFixed(2)} s, ${json.cpu_us_per_connection ?? '-'} µs per connection (${json.connections_per_cpu_s.toFixed(0)} connections per CPU second)`,
  ];
  if (json.warmup_s > 0) {
    lines.push(
      `warmup        ${json.warmup_s} s not counted: ${json.warmup.connections} ok, ${json.warmup.errors} failed`,
    );
  }
  for (const t of json.thresholds) {
    const measured = t.unit === 'ms' ? `${t.measured} ms` : `${round(t.measured * 100, 4)}%`;
    lines.push(`threshold     ${t.crossed ? 'CROSSED' : 'ok'}  ${t.threshold} (measured ${measured})`);
  }
  if (json.errors > 0) {
    const kinds = Object.entries(json.errors_by_kind).filter(([, n]) => n > 0);
    lines.push(`errors        ${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}`);
    for (const detail of json.error_details.slice(0, 10)) {
      lines.push(`  ${String(detail.count).padStart(8)}  ${detail.key}: ${detail.message}`);
    }
  } else {
    lines.push('errors        none');
  }
  return lines.join('\n') + '\n';
}

const cell = (value: number | string, width = 9): string => String(value).padStart(width);

/** Per-phase percentiles, one row per measured phase. */
function phaseTable(phases: Partial<Record<Phase, PhaseStats>>): string[] {
  const rows = PHASES.filter((p) => phases[p] !== undefined);
  if (rows.length === 0) return [];
  return [
    `  phase ms    ${['p50', 'p90', 'p99', 'p99.9', 'max', 'count'].map((h) => cell(h)).join('')}`,
    ...rows.map((p) => {
      const s = phases[p]!;
      return `  ${p.padEnd(11)} ${[s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms, s.count].map((v) => cell(v)).join('')}`;
    }),
  ];
}

/** One progress line: `[=====>    ]  45%  1234 ok  12 errors  1203/s`. */
export function progressLine(
  progress: { connections: number; errors: number; attempts: number },
  fraction: number,
  ratePerS: number,
  width = 30,
): string {
  const f = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(f * width);
  const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? '>' : '') + ' '.repeat(width - filled);
  return `[${bar}] ${String(Math.round(f * 100)).padStart(3)}%  ${progress.connections} ok  ${progress.errors} errors  ${ratePerS.toFixed(0)}/s`;
}
