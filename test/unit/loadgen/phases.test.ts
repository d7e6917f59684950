import { PhaseHistograms, phasesStats, phaseStats, PHASES } from '../../../src/loadgen/phases';
import { intervalJson, intervalLine } from '../../../src/loadgen/report';

describe('per-phase histograms', () => {
  it('records each phase on its own and reports only measured ones', () => {
    const h = new PhaseHistograms();
    for (let i = 1; i <= 100; i++) {
      h.record('connect', 100);
      h.record('tls', i * 1000); // 1..100 ms
      h.record('total', i * 2000);
    }
    expect(Object.keys(h.snapshot())).toEqual(['connect', 'tls', 'total']);
    const stats = phasesStats(h);
    expect(Object.keys(stats)).toEqual(['connect', 'tls', 'total']);
    expect(stats.connect).toMatchObject({ count: 100, p50_ms: 0.1, p99_ms: 0.1, max_ms: 0.1 });
    expect(stats.tls!.p50_ms).toBeCloseTo(50, 0);
    expect(stats.tls!.p99_ms).toBeCloseTo(99, 0);
    expect(stats.total!.p99_ms).toBeCloseTo(198, 0);
  });

  it('merges snapshots from several threads', () => {
    const a = new PhaseHistograms();
    const b = new PhaseHistograms();
    for (let i = 0; i < 99; i++) a.record('auth', 1000);
    b.record('auth', 50_000);
    b.record('greeting', 300);
    const merged = PhaseHistograms.fromSnapshots(a.snapshot(), b.snapshot());
    expect(phaseStats(merged.get('auth'))).toMatchObject({ count: 100, p50_ms: 1, p99_ms: 1, max_ms: 50 });
    expect(merged.get('greeting').count).toBe(1);
    expect(PHASES).toEqual(['connect', 'greeting', 'tls', 'auth', 'query', 'total']);
  });

  it('turns interval samples into one line with p50/p99 per phase', () => {
    const h = new PhaseHistograms();
    h.record('tls', 2000);
    h.record('total', 3000);
    const sample = { attempts: 3, connections: 2, errors: 1, phasesUs: h.snapshot() };
    const interval = intervalJson([sample, sample], 2.0005, 1);
    expect(interval).toMatchObject({ type: 'interval', attempts: 6, connections: 4, errors: 2, rate: 4 });
    expect(interval.phases).toEqual({
      tls: { count: 2, p50_ms: 2, p99_ms: 2 },
      total: { count: 2, p50_ms: 3, p99_ms: 3 },
    });
    expect(intervalLine(interval)).toBe('[    2.0s] 4.0/s ok  2 errors  p50/p99 ms  tls 2/2  total 3/3');
  });
});
