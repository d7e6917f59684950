/**
 * Per-phase latency of a MySQL connection, one HDR histogram (microseconds) per phase. Pure.
 *
 *   connect   TCP connect (SYN to established)
 *   greeting  established to the server's greeting read
 *   tls       greeting to the TLS handshake done (SSLRequest, ClientHello ... Finished)
 *   auth      TLS done to the login's OK (HandshakeResponse, auth switch / more data rounds)
 *   query     --query sent to its whole result read
 *   total     the attempt's start (open loop: its scheduled start) to the end of the last phase
 *
 * Phases are recorded for connections that succeed, so every phase's count is the number of
 * connections (query: with --query; auth and query: not with --mode tls-only).
 */
import { Histogram, type HistogramSnapshot } from './histogram';

export const PHASES = ['connect', 'greeting', 'tls', 'auth', 'query', 'total'] as const;
export type Phase = (typeof PHASES)[number];

export type PhaseSnapshots = Partial<Record<Phase, HistogramSnapshot>>;

export function isPhase(name: string): name is Phase {
  return (PHASES as readonly string[]).includes(name);
}

export class PhaseHistograms {
  readonly byPhase: Record<Phase, Histogram> = {
    connect: new Histogram(),
    greeting: new Histogram(),
    tls: new Histogram(),
    auth: new Histogram(),
    query: new Histogram(),
    total: new Histogram(),
  };

  record(phase: Phase, microseconds: number): void {
    this.byPhase[phase].record(microseconds);
  }

  get(phase: Phase): Histogram {
    return this.byPhase[phase];
  }

  /** Phases with at least one recording. */
  snapshot(): PhaseSnapshots {
    const out: PhaseSnapshots = {};
    for (const phase of PHASES)
      if (this.byPhase[phase].count > 0) out[phase] = this.byPhase[phase].snapshot();
    return out;
  }

  merge(snapshots: PhaseSnapshots): void {
    for (const phase of PHASES) {
      const snapshot = snapshots[phase];
      if (snapshot) this.byPhase[phase].merge(snapshot);
    }
  }

  static fromSnapshots(...all: PhaseSnapshots[]): PhaseHistograms {
    const histograms = new PhaseHistograms();
    for (const snapshots of all) histograms.merge(snapshots);
    return histograms;
  }
}

/** A phase's distribution in milliseconds, as `--json` reports it. */
export interface PhaseStats {
  count: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  min_ms: number;
  mean_ms: number;
}

const ms = (us: number): number => Math.round(us) / 1000;

export function phaseStats(h: Histogram): PhaseStats {
  return {
    count: h.count,
    p50_ms: ms(h.percentile(50)),
    p90_ms: ms(h.percentile(90)),
    p99_ms: ms(h.percentile(99)),
    p999_ms: ms(h.percentile(99.9)),
    max_ms: ms(h.max),
    min_ms: ms(h.min),
    mean_ms: ms(h.mean),
  };
}

/** Stats of every phase that has recordings, in PHASES order. */
export function phasesStats(histograms: PhaseHistograms): Partial<Record<Phase, PhaseStats>> {
  const out: Partial<Record<Phase, PhaseStats>> = {};
  for (const phase of PHASES) {
    const h = histograms.get(phase);
    if (h.count > 0) out[phase] = phaseStats(h);
  }
  return out;
}
