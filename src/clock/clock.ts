/**
 * The only door to time. The broker asks a Clock for "now" and for timers, so a virtual clock can
 * later stand in for the real one.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms`. The timer never keeps the process alive on its own. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

/**
 * Wraps a timer callback so a failure inside the fake surfaces as a process warning instead of an
 * uncaught exception in the host's test process.
 */
export function guarded(fn: () => void): () => void {
  return () => {
    try {
      fn();
    } catch (error) {
      process.emitWarning(`[fake-aws-iot] internal error in a timer: ${(error as Error)?.stack ?? String(error)}`);
    }
  };
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(guarded(fn), ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
