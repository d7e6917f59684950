/**
 * The one signal supervisor of a process: SIGHUP reloads, the first SIGTERM or SIGINT stops
 * (later ones are ignored: the stop is under way), and the process exits when the stop is done
 * or, whatever hangs, when the deadline passes.
 */
export type StopSignal = 'SIGTERM' | 'SIGINT';

/** The part of `process` the supervisor uses (a fake in tests). */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
}

export interface SupervisorHandlers {
  reload(): void;
  /** Drains and closes; the supervisor exits once it resolves. */
  stop(signal: StopSignal): Promise<void>;
  exit(code: number): void;
  /** ms after the first stop signal at which the process exits even if stop() has not finished. */
  deadlineMs: number;
  setTimer?: (callback: () => void, ms: number) => { unref?(): unknown };
}

export interface Supervisor {
  /** True once a stop signal arrived. */
  readonly stopping: boolean;
  /** Stops as if the signal had arrived (tests, and a primary whose workers all failed). */
  trigger(signal: StopSignal): void;
  dispose(): void;
}

export function superviseSignals(source: SignalSource, handlers: SupervisorHandlers): Supervisor {
  const setTimer = handlers.setTimer ?? ((callback, ms) => setTimeout(callback, ms));
  let stopping = false;
  let exited = false;
  const exit = (code: number): void => {
    if (exited) return;
    exited = true;
    handlers.exit(code);
  };
  const stop = (signal: StopSignal): void => {
    if (stopping) return;
    stopping = true;
    setTimer(() => exit(0), handlers.deadlineMs).unref?.();
    handlers.stop(signal).then(
      () => exit(0),
      () => exit(1),
    );
  };
  const onHup = (): void => {
    if (!stopping) handlers.reload();
  };
  const onTerm = (): void => stop('SIGTERM');
  const onInt = (): void => stop('SIGINT');
  source.on('SIGHUP', onHup);
  source.on('SIGTERM', onTerm);
  source.on('SIGINT', onInt);
  return {
    get stopping() {
      return stopping;
    },
    trigger: stop,
    dispose() {
      source.off('SIGHUP', onHup);
      source.off('SIGTERM', onTerm);
      source.off('SIGINT', onInt);
    },
  };
}
