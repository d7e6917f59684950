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
  type LoadConfig,
  type LoadProgress,
  type LoadResult,
} from './load';
import type { WorkerMessage } from './worker';

export interface BenchPlan extends Omit<LoadConfig, 'phaseMs' | 'connections'> {
  /** Total attempts over all workers (instead of durationMs). */
  connections?: number;
  /** Total arrivals per second over all workers (open loop). */
  rate?: number;
  workers: number;
}

export interface BenchRun {
  /** Live totals over all workers. */
  progress(): LoadProgress;
  /** No new attempts; in-flight ones finish. */
  stop(): void;
  result: Promise<ReturnType<typeof mergeResults>>;
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
  if (shares.length === 1) {
    const runner = new LoadRunner(shares[0]);
    return {
      progress: () => ({ ...runner.progress }),
      stop: () => runner.stop(),
      result: runner.run().then((result) => mergeResults([result])),
    };
  }
  const live: LoadProgress[] = shares.map(() => ({ attempts: 0, connections: 0, errors: 0 }));
  const workers: Worker[] = [];
  const results = shares.map(
    (share, i) =>
      new Promise<LoadResult>((resolve, reject) => {
        const worker = new Worker(path.join(__dirname, 'worker.js'), { workerData: share });
        workers.push(worker);
        let done = false;
        worker.on('message', (message: WorkerMessage) => {
          if (message.type === 'progress') live[i] = message;
          else if (message.type === 'result') {
            done = true;
            live[i] = message.result;
            resolve(message.result);
          } else {
            done = true;
            reject(new Error(`bench worker ${i} failed: ${message.message}`));
          }
        });
        worker.on('error', reject);
        worker.on('exit', (code) => {
          if (!done) reject(new Error(`bench worker ${i} exited with code ${code} before reporting`));
        });
      }),
  );
  return {
    progress: () =>
      live.reduce(
        (sum, p) => ({
          attempts: sum.attempts + p.attempts,
          connections: sum.connections + p.connections,
          errors: sum.errors + p.errors,
        }),
        { attempts: 0, connections: 0, errors: 0 },
      ),
    stop: () => workers.forEach((worker) => worker.postMessage('stop')),
    result: Promise.all(results).then(mergeResults),
  };
}
