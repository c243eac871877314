/**
 * The only door to time. The broker asks a Clock for "now" and for timers, so a virtual clock can
 * stand in for the real one.
 *
 * The real clock uses timer functions a test's fake timers cannot replace: `jest.useFakeTimers()` (and
 * @sinonjs/fake-timers in general) swaps the globals `setTimeout`, `Date`, `performance`, `queueMicrotask`
 * and `process.nextTick`, so the fake would otherwise stop dead (a `trace.waitFor` timeout never firing)
 * in a test that fakes time for its own code. Instead: `setTimeout`/`clearTimeout` from `node:timers`
 * and the time from `node:perf_hooks`, both taken when this module loads (newer fake-timers also patch
 * the `node:timers` module when installed on the real global; references taken before that stay real).
 */
import { performance } from 'node:perf_hooks';
import * as timers from 'node:timers';

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms`. The timer never keeps the process alive on its own. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

/** Where a failure inside a timer callback goes. */
export type ErrorSink = (error: unknown) => void;

export interface RealClockOptions {
  /** Called with whatever a timer callback throws. Default: a process warning. */
  onError?: ErrorSink;
}

const realSetTimeout = timers.setTimeout;
const realSetImmediate = timers.setImmediate;
const realClearTimeout = timers.clearTimeout;
const timeOrigin = performance.timeOrigin;
const perfNow = performance.now.bind(performance);

/** The default sink: a process warning, never an exception in the host's process. */
export function warnError(error: unknown): void {
  process.emitWarning(`[fake-aws-iot] internal error in a timer: ${(error as Error)?.stack ?? String(error)}`);
}

/** Wraps a timer callback so what it throws goes to `onError` (and, should the sink throw too, to a warning). */
export function guarded(fn: () => void, onError: ErrorSink): () => void {
  return () => {
    try {
      fn();
    } catch (error) {
      try {
        onError(error);
      } catch {
        warnError(error);
      }
    }
  };
}

const settled = Promise.resolve();

/** Runs `fn` once the current synchronous work is done, by a promise job: no fake timer can hold it back. */
export function microtask(fn: () => void, onError: ErrorSink = warnError): void {
  void settled.then(guarded(fn, onError));
}

/** `microtask()` for a job that is already guarded and runs often (no wrapper made per call). */
export function guardedMicrotask(job: () => void): void {
  void settled.then(job);
}

/** Resolves on a later turn of the event loop, after the I/O waiting now: long work gives way to sockets with it. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve));
}

/** A clock on real time. `now()` is whole milliseconds: the process's start time plus a monotonic count. */
export function createRealClock(options: RealClockOptions = {}): Clock {
  const onError = options.onError ?? warnError;
  return {
    now: () => Math.floor(timeOrigin + perfNow()),
    setTimeout(fn, ms) {
      const t = realSetTimeout(guarded(fn, onError), ms);
      t.unref();
      return { cancel: () => realClearTimeout(t) };
    },
  };
}

/** The real clock for code that has no endpoint to report to: failures become process warnings. */
export const realClock: Clock = createRealClock();
