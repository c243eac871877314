import { FakeIotError } from '../errors';
import { type Clock, type ErrorSink, type TimerHandle, guarded, warnError } from './clock';

export interface VirtualClockOptions {
  /** Called with whatever a timer callback throws. Default: a process warning. */
  onError?: ErrorSink;
  /** Most timers one `advance()` may run before it gives up on a runaway loop. Default 1000. */
  loopLimit?: number;
}

export const DEFAULT_LOOP_LIMIT = 100_000;

interface Timer {
  due: number;
  order: number;
  fn: () => void;
}

/** Whether timer `a` runs before timer `b`: earlier due time first, then the order they were set in. */
const before = (a: Timer, b: Timer) => a.due < b.due || (a.due === b.due && a.order < b.order);

/**
 * A clock that only moves when told to: `advance(ms)` runs every timer that falls due, in time order
 * (timers due at the same instant run in the order they were set), including timers those timers set.
 */
export class VirtualClock implements Clock {
  private t: number;
  private order = 0;
  /** Waiting timers, sorted by (due, order). */
  private timers: Timer[] = [];
  private readonly onError: ErrorSink;
  private readonly loopLimit: number;

  constructor(start: number, options: VirtualClockOptions = {}) {
    this.t = start;
    this.onError = options.onError ?? warnError;
    this.loopLimit = options.loopLimit ?? DEFAULT_LOOP_LIMIT;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { due: this.t + Math.max(0, ms), order: ++this.order, fn: guarded(fn, this.onError) };
    this.timers.splice(this.indexFor(timer), 0, timer);
    return { cancel: () => this.remove(timer) };
  }

  /**
   * Moves time forward by `ms`, running every timer due by then. Throws (code CLOCK_LOOP_LIMIT) when
   * that takes more than `loopLimit` timers — a timer re-arming itself without end — with time left
   * at the instant reached and the remaining timers still set.
   */
  advance(ms: number): void {
    const target = this.t + ms;
    let ran = 0;
    for (let next = this.timers[0]; next && next.due <= target; next = this.timers[0]) {
      if (ran === this.loopLimit) {
        throw new FakeIotError(
          'CLOCK_LOOP_LIMIT',
          `iot.clock.advance(${ms}) stopped after running ${this.loopLimit} timers (loopLimit): a timer probably re-arms itself without end. Virtual time stays at +${this.t - (target - ms)} ms.`,
        );
      }
      this.timers.shift();
      this.t = next.due;
      ran++;
      next.fn();
    }
    this.t = target;
  }

  /** Drops every timer (endpoint shutdown). */
  clear(): void {
    this.timers = [];
  }

  /** Where `timer` goes in the sorted list (binary search; a new timer usually goes last). */
  private indexFor(timer: Timer): number {
    let lo = 0;
    let hi = this.timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.timers[mid]!, timer)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private remove(timer: Timer): void {
    const i = this.indexFor(timer);
    if (this.timers[i] === timer) this.timers.splice(i, 1);
  }
}
