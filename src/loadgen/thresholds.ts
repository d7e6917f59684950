/**
 * Exit-code thresholds for `bench`, so a CI job fails on a regression. Pure.
 *
 *   --max-error-rate R        errors / attempts above R fails the run; R is a fraction (0.01) or a percentage (1%)
 *   --max-p99-ms [PHASE=]MS   the phase's p99 above MS fails the run; comma-separated or repeated
 *                             (tls=5,total=20 or --max-p99-ms tls=5 --max-p99-ms total=20); a bare
 *                             number is the total
 */
import { ConfigError } from '../config/errors';
import { isPhase, PHASES, type Phase } from './phases';

export interface Thresholds {
  maxErrorRate?: number;
  maxP99Ms: Partial<Record<Phase, number>>;
}

export interface ThresholdResult {
  /** The flag as it would be written: `--max-p99-ms tls=5`, `--max-error-rate 1%`. */
  threshold: string;
  limit: number;
  measured: number;
  unit: 'ms' | 'ratio';
  crossed: boolean;
}

const percent = (ratio: number): string => `${+(ratio * 100).toPrecision(6)}%`;

export function parseMaxErrorRate(value: string | number | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const text = String(value).trim();
  const isPercent = text.endsWith('%');
  const number = Number(isPercent ? text.slice(0, -1) : text);
  const ratio = isPercent ? number / 100 : number;
  if (text === '%' || !Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new ConfigError(`--max-error-rate must be a fraction 0..1 or a percentage 0%..100%, got ${text}`);
  }
  return ratio;
}

export function parseMaxP99(
  values: ReadonlyArray<string | number> | string | number | undefined,
): Partial<Record<Phase, number>> {
  const out: Partial<Record<Phase, number>> = {};
  if (values === undefined) return out;
  const list = Array.isArray(values) ? values : [values];
  for (const item of list.flatMap((v) => String(v).split(','))) {
    const entry = item.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const name = eq < 0 ? 'total' : entry.slice(0, eq).trim();
    const text = eq < 0 ? entry : entry.slice(eq + 1).trim();
    if (!isPhase(name)) {
      throw new ConfigError(`--max-p99-ms: unknown phase "${name}" (one of ${PHASES.join(', ')})`);
    }
    const limit = Number(text);
    if (text === '' || !Number.isFinite(limit) || limit <= 0) {
      throw new ConfigError(`--max-p99-ms ${name}: a number of milliseconds > 0, got "${text}"`);
    }
    out[name] = limit;
  }
  return out;
}

/** Refuses a threshold on a phase the run will not measure (it could never fail). */
export function checkMeasurable(thresholds: Thresholds, measured: ReadonlyArray<Phase>): void {
  for (const phase of Object.keys(thresholds.maxP99Ms) as Phase[]) {
    if (!measured.includes(phase)) {
      throw new ConfigError(
        `--max-p99-ms ${phase}: this run does not measure ${phase} (measured: ${measured.join(', ')})`,
      );
    }
  }
}

export function evaluateThresholds(
  thresholds: Thresholds,
  measured: { attempts: number; errors: number; p99Ms: Partial<Record<Phase, number>> },
): ThresholdResult[] {
  const results: ThresholdResult[] = [];
  if (thresholds.maxErrorRate !== undefined) {
    const rate = measured.attempts === 0 ? 0 : measured.errors / measured.attempts;
    results.push({
      threshold: `--max-error-rate ${percent(thresholds.maxErrorRate)}`,
      limit: thresholds.maxErrorRate,
      measured: rate,
      unit: 'ratio',
      crossed: rate > thresholds.maxErrorRate,
    });
  }
  for (const phase of PHASES) {
    const limit = thresholds.maxP99Ms[phase];
    if (limit === undefined) continue;
    const value = measured.p99Ms[phase] ?? 0;
    results.push({
      threshold: `--max-p99-ms ${phase}=${limit}`,
      limit,
      measured: value,
      unit: 'ms',
      crossed: value > limit,
    });
  }
  return results;
}

/**
 * One line naming every crossed threshold and its measured value, e.g.
 * `bench: threshold crossed: p99 tls 7.412 ms > --max-p99-ms tls=5`; undefined when none is crossed.
 */
export function thresholdFailure(results: ReadonlyArray<ThresholdResult>): string | undefined {
  const crossed = results.filter((r) => r.crossed);
  if (crossed.length === 0) return undefined;
  const parts = crossed.map((r) =>
    r.unit === 'ms'
      ? `p99 ${r.threshold.slice('--max-p99-ms '.length).split('=')[0]} ${r.measured} ms > ${r.threshold}`
      : `error rate ${percent(r.measured)} > ${r.threshold}`,
  );
  return `bench: threshold${crossed.length > 1 ? 's' : ''} crossed: ${parts.join('; ')}`;
}
