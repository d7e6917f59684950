/**
 * --workers: how long the primary waits before re-forking a worker that exited. A worker that
 * dies soon after it started counts as a quick exit; quick exits in a row double the wait
 * (0.5 s, 1 s, 2 s, ... up to 30 s); a worker that lived long resets the count.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** A worker that lived at least this long before exiting resets the count. */
  stableAfterMs: number;
}

export const REFORK_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000, stableAfterMs: 10_000 };

/** Quick exits in a row after a worker that lived `livedMs` exited. */
export function nextQuickExits(previous: number, livedMs: number, policy = REFORK_BACKOFF): number {
  return livedMs >= policy.stableAfterMs ? 0 : previous + 1;
}

/** ms to wait before the next fork after `quickExits` quick exits in a row. */
export function reforkDelayMs(quickExits: number, policy = REFORK_BACKOFF): number {
  if (quickExits <= 0) return 0;
  return Math.min(policy.maxMs, policy.baseMs * 2 ** (quickExits - 1));
}
