/**
 * Components start in order and close in reverse, and a failed start closes what already
 * started, so a startup failure leaves nothing running (no open port, no timer) behind.
 */
export interface Component {
  readonly name: string;
  start(): void | Promise<void>;
  close(): void | Promise<void>;
}

export interface Started {
  /** Closes every started component in reverse order; later calls return the same promise. */
  close(): Promise<void>;
}

export type CloseErrorHandler = (component: string, error: unknown) => void;

async function closeInReverse(started: readonly Component[], onError: CloseErrorHandler): Promise<void> {
  for (const component of [...started].reverse()) {
    try {
      await component.close();
    } catch (error) {
      onError(component.name, error); // keep closing the rest
    }
  }
}

/** Starts each component after the previous one; on a failure closes the started ones and rethrows. */
export async function startComponents(
  components: readonly Component[],
  onCloseError: CloseErrorHandler = () => undefined,
): Promise<Started> {
  const started: Component[] = [];
  for (const component of components) {
    try {
      await component.start();
    } catch (error) {
      await closeInReverse(started, onCloseError);
      throw error;
    }
    started.push(component);
  }
  let closing: Promise<void> | undefined;
  return { close: () => (closing ??= closeInReverse(started, onCloseError)) };
}

/** A component made of two functions (most are). */
export function component(
  name: string,
  start: () => void | Promise<void>,
  close: () => void | Promise<void>,
): Component {
  return { name, start, close };
}
