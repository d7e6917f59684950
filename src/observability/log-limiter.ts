/**
 * Token bucket for log lines about refusals: under a scan or flood the log must stay readable and
 * cheap. Lines beyond the budget are counted, and the next line that gets through says how many
 * were suppressed. Metrics still count every refusal.
 */
export class LogLimiter {
  private tokens: number;
  private last: number;
  private suppressed = 0;

  constructor(
    private readonly perSecond = 10,
    private readonly burst = 50,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Returns undefined when the line must be dropped, else how many were dropped before it. */
  take(): number | undefined {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) {
      this.suppressed++;
      return undefined;
    }
    this.tokens -= 1;
    const dropped = this.suppressed;
    this.suppressed = 0;
    return dropped;
  }
}
