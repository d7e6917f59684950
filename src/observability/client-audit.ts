/**
 * Who connects how: a bounded top-k of logins keyed by (user, client address, transport, TLS
 * version) over a sliding window, for the TLS adoption audit (/clients, the live page; see
 * docs/tls-adoption-audit.md). Pure: no sockets, no clock of its own (callers pass `now`).
 *
 * Memory is fixed whatever the traffic: the window is a ring of `buckets` time buckets, and each
 * bucket is a Space-Saving summary of at most `capacity` counters (Metwally, Agrawal, El Abbadi,
 * "Efficient Computation of Frequent and Top-k Elements in Data Streams", ICDT 2005). A new key in a
 * full bucket takes over the smallest counter and inherits its count as its possible error, so any
 * key seen more than total/capacity times in a bucket is always kept, and a count is never below
 * the true one. Reading merges the live buckets (counts and lower bounds add up). Key fields are
 * capped in length, so a client sending a megabyte user name cannot grow an entry either.
 */

export type ClientTransport = 'tls' | 'plain';

export interface ClientLogin {
  user: string;
  address: string;
  transport: ClientTransport;
  /** The negotiated version (TLSv1.2, TLSv1.3) for TLS logins. */
  tlsVersion?: string;
}

/** One row of the report, as /clients serves it. */
export interface ClientRow {
  user: string;
  address: string;
  transport: ClientTransport;
  tls_version: string | null;
  /** Logins in the window (an upper bound when the report is not exact). */
  logins: number;
  /** Logins in the window that are certain (equals `logins` when the report is exact). */
  logins_min: number;
  last_seen: string;
}

export interface ClientReport {
  window_seconds: number;
  bucket_seconds: number;
  capacity: number;
  /** No counter was evicted in the window and no part was cut: every count is exact. */
  exact: boolean;
  /** All logins in the window, exact. */
  logins: number;
  /** Exact login counts in the window by 'plain' or TLS version. */
  by_transport: Record<string, number>;
  /** Distinct keys before the report was cut to its `limit` (a lower bound when not exact). */
  distinct: number;
  clients: ClientRow[];
}

export interface ClientAuditOptions {
  /** Width of one bucket. */
  bucketMs: number;
  /** Buckets in the window: the window slides one bucket at a time. */
  buckets: number;
  /** Counters per bucket. */
  capacity: number;
}

export const DEFAULT_CLIENT_AUDIT: ClientAuditOptions = { bucketMs: 60_000, buckets: 10, capacity: 200 };

/** Longest user name kept (MariaDB allows 80 characters, MySQL 32); longer ones are cut and marked. */
const MAX_USER = 96;
const MAX_ADDRESS = 64;
const MAX_VERSION = 16;

interface Counter {
  login: ClientLogin;
  count: number;
  /** How much of `count` may belong to keys this counter replaced. */
  error: number;
  lastSeen: number;
}

interface Bucket {
  epoch: number;
  counters: Map<string, Counter>;
  totals: Map<string, number>;
  evicted: boolean;
  /**
   * Counters that held the smallest count at the last scan, to evict without scanning each time:
   * counts only grow and a newcomer starts above that smallest count, so an entry still at it is
   * still a smallest one (amortised O(1) per login under a scan instead of O(capacity)).
   */
  smallest: Array<[string, Counter]>;
  smallestCount: number;
}

function cap(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function bounded(login: ClientLogin): ClientLogin {
  const tlsVersion = login.transport === 'tls' ? cap(login.tlsVersion ?? 'unknown', MAX_VERSION) : undefined;
  return {
    user: cap(login.user, MAX_USER),
    address: cap(login.address, MAX_ADDRESS),
    transport: login.transport,
    tlsVersion,
  };
}

function keyOf(login: ClientLogin): string {
  return JSON.stringify([login.user, login.address, login.transport, login.tlsVersion ?? '']);
}

/** 'plain' or the TLS version: the transport as the audit reports it. */
export function transportName(login: Pick<ClientLogin, 'transport' | 'tlsVersion'>): string {
  return login.transport === 'plain' ? 'plain' : (login.tlsVersion ?? 'unknown');
}

export class ClientAudit {
  private readonly ring: Bucket[];

  constructor(readonly options: ClientAuditOptions = DEFAULT_CLIENT_AUDIT) {
    if (options.buckets < 1 || options.capacity < 1 || options.bucketMs <= 0) {
      throw new RangeError('client audit: buckets, capacity and bucketMs must be positive');
    }
    this.ring = Array.from({ length: options.buckets }, () => ({
      epoch: -1,
      counters: new Map(),
      totals: new Map(),
      evicted: false,
      smallest: [],
      smallestCount: 0,
    }));
  }

  /** Counts one login at `now` (ms since the epoch). */
  record(login: ClientLogin, now: number): void {
    const bucket = this.bucketAt(now);
    const kept = bounded(login);
    const key = keyOf(kept);
    const transport = transportName(kept);
    bucket.totals.set(transport, (bucket.totals.get(transport) ?? 0) + 1);
    const counter = bucket.counters.get(key);
    if (counter) {
      counter.count++;
      counter.lastSeen = now;
      return;
    }
    if (bucket.counters.size < this.options.capacity) {
      bucket.counters.set(key, { login: kept, count: 1, error: 0, lastSeen: now });
      return;
    }
    const [smallestKey, smallest] = takeSmallest(bucket);
    bucket.counters.delete(smallestKey);
    bucket.evicted = true;
    bucket.counters.set(key, {
      login: kept,
      count: smallest.count + 1,
      error: smallest.count,
      lastSeen: now,
    });
  }

  /** Counters held right now (at most buckets × capacity). */
  get size(): number {
    return this.ring.reduce((sum, bucket) => sum + bucket.counters.size, 0);
  }

  /** The window ending at `now`, merged, the `limit` most frequent first. */
  report(now: number, limit = 50): ClientReport {
    const epoch = Math.floor(now / this.options.bucketMs);
    const live = this.ring.filter((b) => b.epoch > epoch - this.options.buckets && b.epoch <= epoch);
    const rows = new Map<string, ClientRow>();
    const byTransport: Record<string, number> = {};
    for (const bucket of live) {
      for (const [transport, n] of bucket.totals) byTransport[transport] = (byTransport[transport] ?? 0) + n;
      for (const [key, counter] of bucket.counters) addCounter(rows, key, counter);
    }
    const logins = Object.values(byTransport).reduce((a, b) => a + b, 0);
    return this.finish(rows, { logins, byTransport, exact: live.every((b) => !b.evicted) }, limit);
  }

  private finish(
    rows: Map<string, ClientRow>,
    totals: { logins: number; byTransport: Record<string, number>; exact: boolean },
    limit: number,
  ): ClientReport {
    const { bucketMs, buckets, capacity } = this.options;
    return {
      window_seconds: (bucketMs * buckets) / 1000,
      bucket_seconds: bucketMs / 1000,
      capacity,
      exact: totals.exact,
      logins: totals.logins,
      by_transport: totals.byTransport,
      distinct: rows.size,
      clients: topRows(rows, limit),
    };
  }

  private bucketAt(now: number): Bucket {
    const epoch = Math.floor(now / this.options.bucketMs);
    const bucket = this.ring[epoch % this.options.buckets];
    if (bucket.epoch !== epoch) {
      bucket.epoch = epoch;
      bucket.counters.clear();
      bucket.totals.clear();
      bucket.evicted = false;
      bucket.smallest = [];
    }
    return bucket;
  }
}

/** A counter with the smallest count of a full bucket (Space-Saving's victim). */
function takeSmallest(bucket: Bucket): [string, Counter] {
  for (;;) {
    const entry = bucket.smallest.pop();
    if (!entry) break;
    const [key, counter] = entry;
    if (counter.count === bucket.smallestCount && bucket.counters.get(key) === counter) return entry;
  }
  let least = Infinity;
  for (const counter of bucket.counters.values()) least = Math.min(least, counter.count);
  bucket.smallestCount = least;
  bucket.smallest = [...bucket.counters].filter(([, counter]) => counter.count === least);
  return bucket.smallest.pop() as [string, Counter];
}

function addCounter(rows: Map<string, ClientRow>, key: string, counter: Counter): void {
  const lastSeen = new Date(counter.lastSeen).toISOString();
  const row = rows.get(key);
  if (row) {
    row.logins += counter.count;
    row.logins_min += counter.count - counter.error;
    if (lastSeen > row.last_seen) row.last_seen = lastSeen;
    return;
  }
  const { user, address, transport, tlsVersion } = counter.login;
  rows.set(key, {
    user,
    address,
    transport,
    tls_version: tlsVersion ?? null,
    logins: counter.count,
    logins_min: counter.count - counter.error,
    last_seen: lastSeen,
  });
}

/** Most logins first; ties: most recent first, then by key, so the order is stable. */
function topRows(rows: Map<string, ClientRow>, limit: number): ClientRow[] {
  return [...rows]
    .sort(
      ([keyA, a], [keyB, b]) =>
        b.logins - a.logins ||
        (a.last_seen < b.last_seen ? 1 : a.last_seen > b.last_seen ? -1 : 0) ||
        (keyA < keyB ? -1 : 1),
    )
    .slice(0, Math.max(0, limit))
    .map(([, row]) => row);
}

function rowKey(row: ClientRow): string {
  return JSON.stringify([row.user, row.address, row.transport, row.tls_version ?? '']);
}

/**
 * --workers: every worker's report summed into one. A row a worker cut off (beyond its `limit`)
 * is missing from the sum, so the result is exact only when every part was exact and whole.
 */
export function mergeClientReports(reports: ClientReport[], limit = 50): ClientReport | undefined {
  if (reports.length === 0) return undefined;
  const rows = new Map<string, ClientRow>();
  const byTransport: Record<string, number> = {};
  for (const report of reports) {
    for (const [transport, n] of Object.entries(report.by_transport))
      byTransport[transport] = (byTransport[transport] ?? 0) + n;
    for (const row of report.clients) {
      const key = rowKey(row);
      const seen = rows.get(key);
      if (!seen) rows.set(key, { ...row });
      else {
        seen.logins += row.logins;
        seen.logins_min += row.logins_min;
        if (row.last_seen > seen.last_seen) seen.last_seen = row.last_seen;
      }
    }
  }
  return {
    ...reports[0],
    exact: reports.every((r) => r.exact && r.distinct <= r.clients.length),
    logins: reports.reduce((sum, r) => sum + r.logins, 0),
    by_transport: byTransport,
    distinct: rows.size,
    clients: topRows(rows, limit),
  };
}
