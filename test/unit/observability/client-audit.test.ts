import {
  ClientAudit,
  mergeClientReports,
  type ClientLogin,
  type ClientReport,
} from '../../../src/observability/client-audit';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const alice13: ClientLogin = { user: 'alice', address: '10.0.0.1', transport: 'tls', tlsVersion: 'TLSv1.3' };
const bob12: ClientLogin = { user: 'bob', address: '10.0.0.2', transport: 'tls', tlsVersion: 'TLSv1.2' };
const carolPlain: ClientLogin = { user: 'carol', address: '10.0.0.3', transport: 'plain' };

function recordTimes(audit: ClientAudit, login: ClientLogin, times: number, now: number): void {
  for (let i = 0; i < times; i++) audit.record(login, now);
}

/** A deterministic stream of logins from keys never seen twice. */
function* distinctLogins(count: number): Generator<ClientLogin> {
  for (let i = 0; i < count; i++) {
    yield {
      user: `scan${i}`,
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      transport: 'plain',
    };
  }
}

describe('ClientAudit', () => {
  it('counts logins by user, address, transport and TLS version, most frequent first', () => {
    const audit = new ClientAudit({ bucketMs: MINUTE, buckets: 5, capacity: 10 });
    recordTimes(audit, alice13, 3, T0);
    recordTimes(audit, bob12, 5, T0 + 1);
    recordTimes(audit, carolPlain, 1, T0 + 2);
    // Same user and address over another TLS version is another row: that is the audit's question.
    audit.record({ ...alice13, tlsVersion: 'TLSv1.2' }, T0 + 3);
    const report = audit.report(T0 + 10);
    expect(report.exact).toBe(true);
    expect(report.logins).toBe(10);
    expect(report.by_transport).toEqual({ 'TLSv1.3': 3, 'TLSv1.2': 6, plain: 1 });
    expect(report.distinct).toBe(4);
    expect(report.window_seconds).toBe(300);
    expect(report.clients.map((r) => [r.user, r.tls_version, r.logins, r.logins_min])).toEqual([
      ['bob', 'TLSv1.2', 5, 5],
      ['alice', 'TLSv1.3', 3, 3],
      ['alice', 'TLSv1.2', 1, 1],
      ['carol', null, 1, 1],
    ]);
    expect(report.clients[0]).toMatchObject({
      address: '10.0.0.2',
      transport: 'tls',
      last_seen: new Date(T0 + 1).toISOString(),
    });
    expect(audit.report(T0 + 10, 2).clients).toHaveLength(2);
  });

  it('slides: a login leaves the window once its bucket is older than the window', () => {
    const audit = new ClientAudit({ bucketMs: MINUTE, buckets: 3, capacity: 10 });
    recordTimes(audit, alice13, 2, T0);
    recordTimes(audit, bob12, 1, T0 + 2 * MINUTE);
    expect(audit.report(T0 + 2 * MINUTE).logins).toBe(3);
    const later = audit.report(T0 + 3 * MINUTE); // alice's bucket has left the 3-bucket window
    expect(later.logins).toBe(1);
    expect(later.clients.map((r) => r.user)).toEqual(['bob']);
    // The ring reuses alice's slot for a new minute: the old counts are gone, not added.
    audit.record(carolPlain, T0 + 3 * MINUTE);
    expect(audit.report(T0 + 3 * MINUTE).clients.map((r) => [r.user, r.logins])).toEqual([
      ['carol', 1], // ties: the most recent first
      ['bob', 1],
    ]);
    expect(audit.report(T0 + 10 * MINUTE).logins).toBe(0);
  });

  it('merges buckets: counts add up across the window', () => {
    const audit = new ClientAudit({ bucketMs: MINUTE, buckets: 10, capacity: 10 });
    for (let minute = 0; minute < 10; minute++) recordTimes(audit, alice13, minute + 1, T0 + minute * MINUTE);
    const report = audit.report(T0 + 9 * MINUTE);
    expect(report.clients).toEqual([expect.objectContaining({ user: 'alice', logins: 55, logins_min: 55 })]);
    expect(report.clients[0].last_seen).toBe(new Date(T0 + 9 * MINUTE).toISOString());
  });

  it('keeps fixed memory under adversarial traffic (every login a new key) and still reports heavy hitters', () => {
    const capacity = 100;
    const buckets = 4;
    const audit = new ClientAudit({ bucketMs: MINUTE, buckets, capacity });
    const heavy = [alice13, bob12, carolPlain];
    const truth = new Map<string, number>(); // heavy logins inside the last 4 minutes
    const end = T0 + 6 * MINUTE - 1;
    const stream = distinctLogins(190_000);
    // 200 000 logins over 6 minutes: 190 000 from keys never seen twice, and 3 heavy hitters
    // taking 1 in 20 (each ~555 a minute, above the ~333 = logins per minute / capacity that
    // Space-Saving guarantees to keep).
    for (let i = 0; i < 200_000; i++) {
      const now = T0 + Math.floor((i / 200_000) * 6 * MINUTE);
      if (i % 20 === 0) {
        const login = heavy[(i / 20) % 3];
        audit.record(login, now);
        if (now >= T0 + 2 * MINUTE) truth.set(login.user, (truth.get(login.user) ?? 0) + 1);
      } else audit.record(stream.next().value as ClientLogin, now);
      if (i % 10_000 === 0) expect(audit.size).toBeLessThanOrEqual(capacity * buckets);
    }
    expect(audit.size).toBe(capacity * buckets);
    const report = audit.report(end, 3);
    expect(report.exact).toBe(false);
    expect(report.logins).toBe(Math.round((200_000 * 4) / 6)); // totals stay exact
    expect(report.distinct).toBeLessThanOrEqual(capacity * buckets);
    expect(report.clients.map((r) => r.user).sort()).toEqual(['alice', 'bob', 'carol']);
    for (const row of report.clients) {
      const exact = truth.get(row.user) as number;
      expect(row.logins_min).toBeLessThanOrEqual(exact);
      expect(row.logins).toBeGreaterThanOrEqual(exact);
      // The overestimate is at most the window's logins / capacity.
      expect(row.logins - row.logins_min).toBeLessThanOrEqual(report.logins / capacity);
    }
  });

  it('keeps Space-Saving bounds on a skewed random stream: min <= true <= count, counts sum to the logins', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const audit = new ClientAudit({ bucketMs: MINUTE, buckets: 1, capacity: 20 });
    const truth = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const n = Math.floor(1 / (random() + 0.002)); // few very frequent keys, a long tail
      const login: ClientLogin = { user: `u${n}`, address: '10.0.0.1', transport: 'plain' };
      audit.record(login, T0);
      truth.set(login.user, (truth.get(login.user) ?? 0) + 1);
    }
    const report = audit.report(T0, 20);
    expect(report.exact).toBe(false);
    expect(report.clients.reduce((sum, r) => sum + r.logins, 0)).toBe(20_000);
    for (const row of report.clients) {
      expect(row.logins_min).toBeLessThanOrEqual(truth.get(row.user)!);
      expect(row.logins).toBeGreaterThanOrEqual(truth.get(row.user)!);
    }
    // Every key above logins / capacity is kept.
    for (const [key, count] of truth) {
      if (count > 20_000 / 20) expect(report.clients.map((r) => r.user)).toContain(key);
    }
  });

  it('caps key fields, so a megabyte user name cannot grow an entry', () => {
    const audit = new ClientAudit({ bucketMs: MINUTE, buckets: 1, capacity: 2 });
    audit.record({ user: 'x'.repeat(1 << 20), address: 'y'.repeat(1000), transport: 'plain' }, T0);
    const [row] = audit.report(T0).clients;
    expect(row.user.length).toBeLessThanOrEqual(96);
    expect(row.user.endsWith('…')).toBe(true);
    expect(row.address.length).toBeLessThanOrEqual(64);
  });

  it('refuses a configuration without room', () => {
    expect(() => new ClientAudit({ bucketMs: MINUTE, buckets: 0, capacity: 1 })).toThrow(RangeError);
  });
});

describe('mergeClientReports (--workers)', () => {
  function reportOf(logins: Array<[ClientLogin, number]>, limit = 50): ClientReport {
    const audit = new ClientAudit({ bucketMs: MINUTE, buckets: 2, capacity: 10 });
    for (const [login, times] of logins) recordTimes(audit, login, times, T0);
    return audit.report(T0, limit);
  }

  it('sums the same key across workers and keeps the totals', () => {
    const merged = mergeClientReports([
      reportOf([
        [alice13, 2],
        [bob12, 1],
      ]),
      reportOf([
        [alice13, 3],
        [carolPlain, 4],
      ]),
    ]);
    expect(merged?.exact).toBe(true);
    expect(merged?.logins).toBe(10);
    expect(merged?.by_transport).toEqual({ 'TLSv1.3': 5, 'TLSv1.2': 1, plain: 4 });
    expect(merged?.clients.map((r) => [r.user, r.logins])).toEqual([
      ['alice', 5],
      ['carol', 4],
      ['bob', 1],
    ]);
  });

  it('is not exact when a worker cut rows off', () => {
    const cut = reportOf(
      [
        [alice13, 2],
        [bob12, 1],
      ],
      1,
    );
    expect(mergeClientReports([cut])?.exact).toBe(false);
    expect(mergeClientReports([])).toBeUndefined();
  });
});
