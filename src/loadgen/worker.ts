/**
 * Worker-thread entry for `bench --workers N`: runs one share of the load with its own
 * SecureContext, posts live counters every 200 ms and the result at the end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LoadRunner, type LoadConfig } from './load';

export type WorkerMessage =
  | { type: 'progress'; attempts: number; connections: number; errors: number }
  | { type: 'result'; result: Awaited<ReturnType<LoadRunner['run']>> }
  | { type: 'error'; message: string };

const PROGRESS_INTERVAL_MS = 200;

if (parentPort) {
  const port = parentPort;
  const runner = new LoadRunner(workerData as LoadConfig);
  const ticker = setInterval(() => {
    port.postMessage({ type: 'progress', ...runner.progress } satisfies WorkerMessage);
  }, PROGRESS_INTERVAL_MS);
  port.on('message', (message: unknown) => {
    if (message === 'stop') runner.stop();
  });
  runner
    .run()
    .then((result) => port.postMessage({ type: 'result', result } satisfies WorkerMessage))
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
