/** The runtime without sockets or a database: fake components, a fake process, pure backoff. */
import { EventEmitter } from 'node:events';
import { REFORK_BACKOFF, nextQuickExits, reforkDelayMs } from '../../../src/runtime/backoff';
import { component, startComponents } from '../../../src/runtime/lifecycle';
import { superviseSignals } from '../../../src/runtime/signals';

function fakes(failAt?: string) {
  const events: string[] = [];
  const make = (name: string) =>
    component(
      name,
      async () => {
        if (name === failAt) throw new Error(`${name} failed`);
        events.push(`start ${name}`);
      },
      async () => void events.push(`close ${name}`),
    );
  return { events, components: ['status', 'probe', 'listener', 'reloader'].map(make) };
}

describe('startComponents', () => {
  it('starts in order and closes in reverse, once', async () => {
    const { events, components } = fakes();
    const started = await startComponents(components);
    await Promise.all([started.close(), started.close()]);
    expect(events).toEqual([
      'start status',
      'start probe',
      'start listener',
      'start reloader',
      'close reloader',
      'close listener',
      'close probe',
      'close status',
    ]);
  });

  it('closes what started, in reverse, when one fails, and rethrows', async () => {
    const { events, components } = fakes('listener');
    await expect(startComponents(components)).rejects.toThrow('listener failed');
    expect(events).toEqual(['start status', 'start probe', 'close probe', 'close status']);
  });

  it('keeps closing when one close fails, and reports it', async () => {
    const closed: string[] = [];
    const failures: string[] = [];
    const started = await startComponents(
      [
        component(
          'a',
          () => undefined,
          () => void closed.push('a'),
        ),
        component(
          'b',
          () => undefined,
          () => {
            throw new Error('boom');
          },
        ),
      ],
      (name) => failures.push(name),
    );
    await started.close();
    expect({ closed, failures }).toEqual({ closed: ['a'], failures: ['b'] });
  });
});

describe('superviseSignals', () => {
  function setup(stop: () => Promise<void> = async () => undefined) {
    const source = new EventEmitter();
    const calls: string[] = [];
    const timers: Array<{ callback: () => void; ms: number }> = [];
    const supervisor = superviseSignals(source as never, {
      reload: () => calls.push('reload'),
      stop: (signal) => {
        calls.push(`stop ${signal}`);
        return stop();
      },
      exit: (code) => calls.push(`exit ${code}`),
      deadlineMs: 3_000,
      setTimer: (callback, ms) => {
        timers.push({ callback, ms });
        return {};
      },
    });
    return { source, calls, timers, supervisor };
  }

  it('reloads on SIGHUP, stops once on SIGTERM/SIGINT, and exits 0 when stopped', async () => {
    const { source, calls, supervisor } = setup();
    source.emit('SIGHUP');
    source.emit('SIGTERM');
    source.emit('SIGINT');
    source.emit('SIGHUP'); // no reload while stopping
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual(['reload', 'stop SIGTERM', 'exit 0']);
    expect(supervisor.stopping).toBe(true);
  });

  it('exits at the deadline when the stop hangs, and only once', async () => {
    let finish!: () => void;
    const { source, calls, timers } = setup(() => new Promise<void>((resolve) => (finish = resolve)));
    source.emit('SIGINT');
    expect(timers.map((t) => t.ms)).toEqual([3_000]);
    timers[0].callback();
    finish();
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual(['stop SIGINT', 'exit 0']);
  });

  it('exits 1 when the stop fails; dispose removes the listeners', async () => {
    const { source, calls, supervisor } = setup(async () => {
      throw new Error('close failed');
    });
    source.emit('SIGTERM');
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual(['stop SIGTERM', 'exit 1']);
    supervisor.dispose();
    expect(source.listenerCount('SIGTERM') + source.listenerCount('SIGHUP')).toBe(0);
  });
});

describe('re-fork backoff', () => {
  it('doubles with quick exits in a row, capped, and resets after a long-lived worker', () => {
    expect([0, 1, 2, 3, 4, 7, 20].map((n) => reforkDelayMs(n))).toEqual([
      0, 500, 1_000, 2_000, 4_000, 30_000, 30_000,
    ]);
    let quick = 0;
    for (const lived of [100, 200, 300]) quick = nextQuickExits(quick, lived);
    expect(quick).toBe(3);
    expect(nextQuickExits(quick, REFORK_BACKOFF.stableAfterMs)).toBe(0);
  });
});
