import type { Logger } from '../observability/logger';
import type { Started } from './lifecycle';
import type { StopSignal } from './signals';

/** A started process, as the signal supervisor drives it. */
export interface Running {
  reload(): void;
  stop(signal: StopSignal): Promise<void>;
}

/** The stop every mode shares: log, close the components in reverse, log. */
export function stopper(
  logger: Logger,
  started: Started,
  drainTimeoutMs: number,
  closedAtDeadline: () => number | undefined = () => undefined,
): (signal: StopSignal) => Promise<void> {
  return async (signal) => {
    logger.info(
      { event: 'draining', signal, drain_timeout_ms: drainTimeoutMs },
      `${signal}: draining connections`,
    );
    await started.close();
    logger.info({ event: 'stopped', closed_at_deadline: closedAtDeadline() }, 'stopped');
  };
}

export function closeErrorLogger(logger: Logger): (component: string, error: unknown) => void {
  return (component, error) =>
    logger.error(
      { event: 'close_failed', component, error: (error as Error).message },
      `closing ${component} failed`,
    );
}
