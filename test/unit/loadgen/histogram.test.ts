import fc from 'fast-check';
import { bucketIndex, bucketRange, Histogram } from '../../../src/loadgen/histogram';

describe('bucket layout', () => {
  it('is exact below 2048 and within 1/1024 above, up to 2^32-1', () => {
    for (const v of [0, 1, 2047, 2048, 2049, 4095, 4096, 123_456, 2 ** 31, 2 ** 32 - 1]) {
      const [low, high] = bucketRange(bucketIndex(v));
      expect(low).toBeLessThanOrEqual(v);
      expect(high).toBeGreaterThanOrEqual(v);
      if (v < 2048) expect(high).toBe(low);
      else expect((high - low + 1) / low).toBeLessThanOrEqual(1 / 1024);
    }
  });

  it('numbers buckets contiguously', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 2 }), (v) => {
        const index = bucketIndex(v);
        const [, high] = bucketRange(index);
        // the value right after a bucket lands in the next bucket
        return bucketIndex(high + 1) === index + 1 || high + 1 > 2 ** 32 - 1;
      }),
    );
  });
});

describe('Histogram', () => {
  it('is empty at first', () => {
    const h = new Histogram();
    expect([h.count, h.min, h.max, h.mean, h.percentile(50)]).toEqual([0, 0, 0, 0, 0]);
  });

  it('gives exact percentiles for small values', () => {
    const h = new Histogram();
    for (let v = 1; v <= 100; v++) h.record(v);
    expect(h.percentile(50)).toBe(50);
    expect(h.percentile(90)).toBe(90);
    expect(h.percentile(99)).toBe(99);
    expect(h.percentile(99.9)).toBe(100);
    expect(h.percentile(100)).toBe(100);
    expect(h.percentile(0)).toBe(1);
    expect(h.min).toBe(1);
    expect(h.max).toBe(100);
    expect(h.mean).toBeCloseTo(50.5);
  });

  it('matches sorted-array percentiles within 0.1 % for any data', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50_000_000 }), { minLength: 1, maxLength: 500 }),
        fc.constantFrom(50, 90, 99, 99.9),
        (values, p) => {
          const h = new Histogram();
          values.forEach((v) => h.record(v));
          const sorted = [...values].sort((a, b) => a - b);
          const exact = sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
          const got = h.percentile(p);
          return got >= exact && got <= Math.max(exact, exact * (1 + 1 / 1024));
        },
      ),
    );
  });

  it('clamps negative and huge values and rounds fractions', () => {
    const h = new Histogram();
    h.record(-5);
    h.record(1.6);
    h.record(1e12);
    expect(h.min).toBe(0);
    expect(h.percentile(50)).toBe(2);
    expect(h.max).toBe(2 ** 32 - 1);
  });

  it('merges (also through a snapshot) as if all values were recorded in one', () => {
    const a = new Histogram();
    const b = new Histogram();
    const all = new Histogram();
    for (let i = 0; i < 1000; i++) {
      const v = (i * 7919) % 100_000;
      (i % 2 ? a : b).record(v);
      all.record(v);
    }
    const merged = Histogram.fromSnapshot(JSON.parse(JSON.stringify(a.snapshot())));
    merged.merge(b);
    for (const p of [1, 50, 90, 99, 99.9, 100]) expect(merged.percentile(p)).toBe(all.percentile(p));
    expect([merged.count, merged.min, merged.max, merged.mean]).toEqual([
      all.count,
      all.min,
      all.max,
      all.mean,
    ]);
  });

  it('records a count several times at once', () => {
    const h = new Histogram();
    h.record(10, 99);
    h.record(5000);
    expect(h.count).toBe(100);
    expect(h.percentile(99)).toBe(10);
    expect(h.percentile(99.5)).toBe(5000);
  });
});
