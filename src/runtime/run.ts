/**
 * `serve`'s process: picks the mode (one process, --workers primary, or worker), starts it, and
 * hands it to the one signal supervisor. A startup failure prints one line and exits non-zero
 * (2: configuration, 1: anything else) with nothing left running.
 */
import cluster from 'node:cluster';
import { ConfigError } from '../core/errors';
import type { ServeConfig } from '../config/serve-config';
import { LogDestination } from '../observability/log-destination';
import { createLogger, stdoutLogOutput, type Logger } from '../observability/logger';
import { runPrimary } from './primary';
import type { Running } from './running';
import { superviseSignals } from './signals';
import { runSingle } from './single';
import { runWorker, sendToPrimary } from './worker';

/** How long shutdown may wait for stdout after the last log line. */
const LOG_SETTLE_MS = 500;
/** Past --drain-timeout, for closing what is left after the drain. */
const SHUTDOWN_GRACE_MS = 1_000;

export function exitCodeOf(error: unknown): number {
  return error instanceof ConfigError ? 2 : 1;
}

function startupFailed(error: unknown, logger: Logger, exit: (code: number) => void): void {
  const message = (error as Error)?.message ?? String(error);
  const exitCode = exitCodeOf(error);
  if (!(error instanceof Error) || exitCode === 1) {
    logger.error({ event: 'startup_failed', err: error }, message);
  }
  if (cluster.isWorker) {
    // The primary prints the one line (once, not once per worker) and exits with the code.
    sendToPrimary({ type: 'mtp:startup-failed', message, exitCode }, () => exit(exitCode));
    return;
  }
  process.stderr.write(`mysql-tls-proxy: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  exit(exitCode);
}

export async function runServe(config: ServeConfig): Promise<void> {
  const destination = new LogDestination(1);
  const root = createLogger(config.log.level, destination, stdoutLogOutput(config.log.format));
  const logger = cluster.isWorker ? root.child({ worker: process.pid }) : root;
  const exit = (code: number): void => {
    void destination.settle(LOG_SETTLE_MS).then(() => process.exit(code));
  };
  const mode = cluster.isWorker ? runWorker : config.listen.workers > 1 ? runPrimary : runSingle;
  let running: Running;
  try {
    running = await mode(config, logger);
  } catch (error) {
    return startupFailed(error, logger, exit);
  }
  superviseSignals(process, {
    reload: () => running.reload(),
    stop: (signal) => running.stop(signal),
    exit,
    deadlineMs: config.listen.drainTimeoutMs + SHUTDOWN_GRACE_MS,
  });
}
