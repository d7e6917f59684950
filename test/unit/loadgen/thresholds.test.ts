import { ConfigError } from '../../../src/config/errors';
import {
  checkMeasurable,
  evaluateThresholds,
  parseMaxErrorRate,
  parseMaxP99,
  thresholdFailure,
} from '../../../src/loadgen/thresholds';

describe('--max-p99-ms', () => {
  it('takes PHASE=MS lists, repeated flags and a bare number for total', () => {
    expect(parseMaxP99(undefined)).toEqual({});
    expect(parseMaxP99(['tls=5,total=20'])).toEqual({ tls: 5, total: 20 });
    expect(parseMaxP99(['tls=5', 'auth=2.5', ' connect = 1 '])).toEqual({ tls: 5, auth: 2.5, connect: 1 });
    expect(parseMaxP99('12')).toEqual({ total: 12 });
    expect(parseMaxP99([7])).toEqual({ total: 7 });
    expect(parseMaxP99(['tls=5', 'tls=3'])).toEqual({ tls: 3 }); // the last one wins
  });

  it.each([['tls='], ['tls=abc'], ['tls=0'], ['tls=-1'], ['handshake=3'], ['=3']])('refuses %p', (value) => {
    expect(() => parseMaxP99([value])).toThrow(ConfigError);
  });

  it('refuses a phase the run does not measure', () => {
    expect(() => checkMeasurable({ maxP99Ms: { query: 1 } }, ['connect', 'total'])).toThrow(
      /does not measure query/,
    );
    expect(() => checkMeasurable({ maxP99Ms: { total: 1 } }, ['connect', 'total'])).not.toThrow();
  });
});

describe('--max-error-rate', () => {
  it('takes a fraction or a percentage', () => {
    expect(parseMaxErrorRate(undefined)).toBeUndefined();
    expect(parseMaxErrorRate('0.01')).toBe(0.01);
    expect(parseMaxErrorRate('1%')).toBe(0.01);
    expect(parseMaxErrorRate('0')).toBe(0);
    expect(parseMaxErrorRate(0.5)).toBe(0.5);
  });

  it.each([['2'], ['150%'], ['-0.1'], ['x'], ['%']])('refuses %p', (value) => {
    expect(() => parseMaxErrorRate(value)).toThrow(ConfigError);
  });
});

describe('evaluation', () => {
  const thresholds = { maxErrorRate: 0.01, maxP99Ms: { tls: 5, total: 20 } };

  it('passes under every threshold, and at exactly the limit', () => {
    const results = evaluateThresholds(thresholds, {
      attempts: 100,
      errors: 1,
      p99Ms: { tls: 5, total: 12.5, auth: 99 },
    });
    expect(results.map((r) => [r.threshold, r.measured, r.crossed])).toEqual([
      ['--max-error-rate 1%', 0.01, false],
      ['--max-p99-ms tls=5', 5, false],
      ['--max-p99-ms total=20', 12.5, false],
    ]);
    expect(thresholdFailure(results)).toBeUndefined();
  });

  it('names every crossed threshold and its measured value on one line', () => {
    const results = evaluateThresholds(thresholds, {
      attempts: 200,
      errors: 5,
      p99Ms: { tls: 7.412, total: 12 },
    });
    const line = thresholdFailure(results)!;
    expect(line).toBe(
      'bench: thresholds crossed: error rate 2.5% > --max-error-rate 1%; p99 tls 7.412 ms > --max-p99-ms tls=5',
    );
    expect(line).not.toContain('\n');
  });

  it('a run with no attempts has no error rate to cross', () => {
    const [rate] = evaluateThresholds(
      { maxErrorRate: 0, maxP99Ms: {} },
      { attempts: 0, errors: 0, p99Ms: {} },
    );
    expect(rate).toMatchObject({ measured: 0, crossed: false });
  });
});
