import { LogLimiter } from '../../../src/observability/log-limiter';

describe('LogLimiter', () => {
  it('lets a burst through, then a steady rate, and reports what it dropped', () => {
    let now = 0;
    const limiter = new LogLimiter(10, 5, () => now);
    const burst = Array.from({ length: 8 }, () => limiter.take());
    expect(burst).toEqual([0, 0, 0, 0, 0, undefined, undefined, undefined]);
    now += 100; // one token back
    expect(limiter.take()).toBe(3);
    expect(limiter.take()).toBeUndefined();
    now += 10_000;
    expect(limiter.take()).toBe(1);
    expect(limiter.take()).toBe(0);
  });
});
