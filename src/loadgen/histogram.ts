/**
 * A small HDR (high dynamic range) histogram of non-negative integers (bench records latencies in
 * microseconds). Pure: no I/O, no clocks.
 *
 * Layout as in HdrHistogram: values below SUB_BUCKETS (2048) get a bucket each (exact); above that,
 * every power of two is split into HALF (1024) equal buckets, so a recorded value is known to within
 * 1/1024 (better than 0.1 %, three significant digits) however large it is. Recording is O(1) with
 * no allocation; histograms from several workers merge by adding counts.
 */
const SUB_BITS = 11;
const SUB_BUCKETS = 1 << SUB_BITS; // 2048
const HALF = SUB_BUCKETS >> 1; // 1024
/** Values are clamped to 2^32 - 1 (71 minutes in microseconds). */
export const HISTOGRAM_MAX_VALUE = 0xffffffff;

/** Bucket index of a value (exported for tests). */
export function bucketIndex(value: number): number {
  if (value < SUB_BUCKETS) return value;
  const msb = 31 - Math.clz32(value); // >= SUB_BITS
  const shift = msb - (SUB_BITS - 1);
  return SUB_BUCKETS + (shift - 1) * HALF + ((value >>> shift) - HALF);
}

/** Lowest and highest value that land in bucket `index` (exported for tests). */
export function bucketRange(index: number): [number, number] {
  if (index < SUB_BUCKETS) return [index, index];
  const shift = Math.floor((index - SUB_BUCKETS) / HALF) + 1;
  const sub = ((index - SUB_BUCKETS) % HALF) + HALF;
  const low = sub * 2 ** shift;
  return [low, low + 2 ** shift - 1];
}

/** The serialisable form, for merging across worker threads. */
export interface HistogramSnapshot {
  /** [bucket index, count] for every non-empty bucket. */
  buckets: Array<[number, number]>;
  count: number;
  min: number;
  max: number;
  sum: number;
}

export class Histogram {
  private counts = new Float64Array(SUB_BUCKETS * 4);
  private total = 0;
  private minValue = Infinity;
  private maxValue = 0;
  private sumValue = 0;

  get count(): number {
    return this.total;
  }

  get min(): number {
    return this.total === 0 ? 0 : this.minValue;
  }

  get max(): number {
    return this.maxValue;
  }

  get mean(): number {
    return this.total === 0 ? 0 : this.sumValue / this.total;
  }

  /** Records `value` (rounded to an integer and clamped to [0, 2^32-1]) `times` times. */
  record(value: number, times = 1): void {
    const v = Math.min(HISTOGRAM_MAX_VALUE, Math.max(0, Math.round(value)));
    const index = bucketIndex(v);
    if (index >= this.counts.length) this.grow(index);
    this.counts[index] += times;
    this.total += times;
    this.sumValue += v * times;
    if (v < this.minValue) this.minValue = v;
    if (v > this.maxValue) this.maxValue = v;
  }

  /**
   * The value at percentile `p` (0-100): the highest value equivalent to the bucket holding the
   * ceil(p% * count)-th smallest recording, capped at the exact max. 0 for an empty histogram.
   */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    if (p >= 100) return this.maxValue;
    const rank = Math.max(1, Math.ceil((Math.max(0, p) / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.max(this.min, Math.min(this.maxValue, bucketRange(i)[1]));
    }
    return this.maxValue;
  }

  merge(other: Histogram | HistogramSnapshot): void {
    const snapshot = other instanceof Histogram ? other.snapshot() : other;
    if (snapshot.count === 0) return;
    for (const [index, count] of snapshot.buckets) {
      if (index >= this.counts.length) this.grow(index);
      this.counts[index] += count;
    }
    this.total += snapshot.count;
    this.sumValue += snapshot.sum;
    this.minValue = Math.min(this.minValue, snapshot.min);
    this.maxValue = Math.max(this.maxValue, snapshot.max);
  }

  snapshot(): HistogramSnapshot {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < this.counts.length; i++) if (this.counts[i] > 0) buckets.push([i, this.counts[i]]);
    return { buckets, count: this.total, min: this.min, max: this.maxValue, sum: this.sumValue };
  }

  static fromSnapshot(snapshot: HistogramSnapshot): Histogram {
    const histogram = new Histogram();
    histogram.merge(snapshot);
    return histogram;
  }

  private grow(index: number): void {
    let size = this.counts.length;
    while (size <= index) size *= 2;
    const counts = new Float64Array(size);
    counts.set(this.counts);
    this.counts = counts;
  }
}
