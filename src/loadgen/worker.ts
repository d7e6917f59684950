/**
 * Worker-thread entry for `bench --workers N`: runs one share of the load with its own
 * SecureContext, posts live counters every 200 ms, says when the measured run starts (after the
 * warmup), answers 'interval' with the interval's sample, and posts the result at the end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LoadRunner, type IntervalSample, type LoadConfig, type LoadResult } from './load';

export type WorkerMessage =
  | { type: 'progress'; attempts: number; connections: number; errors: number }
  | { type: 'measuring' }
  | { type: 'interval'; sample: IntervalSample }
  | { type: 'result'; result: LoadResult; lastInterval: IntervalSample }
  | { type: 'error'; message: string };

/** From the main thread. */
export type WorkerRequest = 'stop' | 'interval';

const PROGRESS_INTERVAL_MS = 200;

if (parentPort) {
  const port = parentPort;
  const runner = new LoadRunner(workerData as LoadConfig);
  runner.onMeasuring = () => port.postMessage({ type: 'measuring' } satisfies WorkerMessage);
  const ticker = setInterval(() => {
    port.postMessage({ type: 'progress', ...runner.progress } satisfies WorkerMessage);
  }, PROGRESS_INTERVAL_MS);
  port.on('message', (message: WorkerRequest) => {
    if (message === 'stop') runner.stop();
    else if (message === 'interval') {
      port.postMessage({ type: 'interval', sample: runner.takeInterval() } satisfies WorkerMessage);
    }
  });
  runner
    .run()
    .then((result) =>
      port.postMessage({
        type: 'result',
        result,
        lastInterval: runner.takeInterval(),
      } satisfies WorkerMessage),
    )
    .catch((error: unknown) =>
      port.postMessage({
        type: 'error',
        message: (error as Error).stack ?? String(error),
      } satisfies WorkerMessage),
    )
    .finally(() => {
      clearInterval(ticker);
      port.close();
    });
}
