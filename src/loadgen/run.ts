/**
 * Runs a bench over one or more threads and merges the results. With one worker the load runs in
 * this thread (no worker start-up cost); with more, each worker_thread gets an even share of the
 * concurrency, rate and connection budget, and its own SecureContext.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  LoadRunner,
  mergeResults,
  splitEvenly,
  type IntervalSample,
  type LoadConfig,
  type LoadProgress,
  type LoadResult,
  type MergedResult,
} from './load';
import type { WorkerMessage, WorkerRequest } from './worker';

export interface BenchPlan extends Omit<LoadConfig, 'phaseMs' | 'connections'> {
  /** Total attempts over all workers (instead of durationMs). */
  connections?: number;
  /** Total arrivals per second over all workers (open loop). */
  rate?: number;
  workers: number;
}

export interface BenchRun {
  /** Live totals over all workers (the measured run only). */
  progress(): LoadProgress;
  /** Resolves when every thread has finished its warmup and started the measured run. */
  measuring: Promise<void>;
  /**
   * Every thread's sample since the previous call (plan.intervals must be set). A thread that has
   * finished contributes what it did since the previous call, once.
   */
  interval(): Promise<IntervalSample[]>;
  /** No new attempts; in-flight ones finish. */
  stop(): void;
  result: Promise<MergedResult>;
}

/** The per-thread configs; a thread that would get no concurrency or no budget is left out. */
export function planShares(plan: BenchPlan): LoadConfig[] {
  const { workers: requested, connections, rate, ...common } = plan;
  let workers = Math.max(1, requested);
  if (rate === undefined) workers = Math.min(workers, plan.concurrency);
  if (connections !== undefined) workers = Math.min(workers, connections);
  workers = Math.max(1, workers);
  const concurrency = splitEvenly(Math.max(plan.concurrency, workers), workers);
  const budgets = connections === undefined ? undefined : splitEvenly(connections, workers);
  return Array.from({ length: workers }, (_, i) => ({
    ...common,
    concurrency: concurrency[i],
    connections: budgets?.[i],
    rate: rate === undefined ? undefined : rate / workers,
    // worker i's arrivals fall between worker i-1's: together they arrive every 1000/rate ms
    phaseMs: rate === undefined ? undefined : (i * 1000) / rate,
  }));
}

export function startBench(plan: BenchPlan): BenchRun {
  const shares = planShares(plan);
  return shares.length === 1 ? runInProcess(shares[0]) : runInWorkers(shares);
}

/** One share: no worker thread, the runner runs on this thread. */
function runInProcess(share: LoadConfig): BenchRun {
  const runner = new LoadRunner(share);
  const measuring = new Promise<void>((resolve) => (runner.onMeasuring = resolve));
  return {
    progress: () => ({ ...runner.progress }),
    measuring,
    interval: () => Promise.resolve([runner.takeInterval()]),
    stop: () => runner.stop(),
    result: runner.run().then((result) => mergeResults([result])),
  };
}

function sumProgress(live: LoadProgress[]): LoadProgress {
  return live.reduce(
    (sum, p) => ({
      attempts: sum.attempts + p.attempts,
      connections: sum.connections + p.connections,
      errors: sum.errors + p.errors,
    }),
    { attempts: 0, connections: 0, errors: 0 },
  );
}

/** One worker thread per share; progress, interval samples and results come back as messages. */
function runInWorkers(shares: LoadConfig[]): BenchRun {
  const live: LoadProgress[] = shares.map(() => ({ attempts: 0, connections: 0, errors: 0 }));
  const workers: Worker[] = [];
  const finished: boolean[] = shares.map(() => false);
  /** Samples received and not yet handed out by interval(). */
  const pending: IntervalSample[][] = shares.map(() => []);
  /** Per worker: resolves the outstanding interval request. */
  const answered: Array<(() => void) | undefined> = shares.map(() => undefined);
  const measuringFlags: Array<() => void> = [];
  const measuring = Promise.all(
    shares.map((_, i) => new Promise<void>((resolve) => (measuringFlags[i] = resolve))),
  ).then(() => undefined);
  const results = shares.map(
    (share, i) =>
      new Promise<LoadResult>((resolve, reject) => {
        const worker = new Worker(path.join(__dirname, 'worker.js'), { workerData: share });
        workers.push(worker);
        const settle = (): void => {
          finished[i] = true;
          measuringFlags[i]();
          answered[i]?.();
          answered[i] = undefined;
        };
        worker.on('message', (message: WorkerMessage) => {
          if (message.type === 'progress') live[i] = message;
          else if (message.type === 'measuring') measuringFlags[i]();
          else if (message.type === 'interval') {
            pending[i].push(message.sample);
            answered[i]?.();
            answered[i] = undefined;
          } else if (message.type === 'result') {
            live[i] = message.result;
            pending[i].push(message.lastInterval);
            settle();
            resolve(message.result);
          } else {
            settle();
            reject(new Error(`bench worker ${i} failed: ${message.message}`));
          }
        });
        worker.on('error', (error) => {
          settle();
          reject(error);
        });
        worker.on('exit', (code) => {
          const wasFinished = finished[i];
          settle();
          if (!wasFinished) reject(new Error(`bench worker ${i} exited with code ${code} before reporting`));
        });
      }),
  );
  return {
    progress: () => sumProgress(live),
    measuring,
    interval: async () => {
      await Promise.all(
        workers.map((worker, i) => {
          if (finished[i]) return undefined;
          return new Promise<void>((resolve) => {
            answered[i] = resolve;
            worker.postMessage('interval' satisfies WorkerRequest);
          });
        }),
      );
      return pending.flatMap((samples, i) => pending[i].splice(0, samples.length));
    },
    stop: () => workers.forEach((worker) => worker.postMessage('stop' satisfies WorkerRequest)),
    result: Promise.all(results).then(mergeResults),
  };
}
