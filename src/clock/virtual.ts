import { type Clock, type TimerHandle, guarded } from './clock';

interface Timer {
  due: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to: `advance(ms)` runs every timer that falls due, in time order
 * (timers due at the same instant run in the order they were set), including timers those timers set.
 */
export class VirtualClock implements Clock {
  private t: number;
  private order = 0;
  private timers: Timer[] = [];

  constructor(start: number) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { due: this.t + Math.max(0, ms), order: ++this.order, fn: guarded(fn), cancelled: false };
    // Keep the list sorted by (due, order); new timers usually go at the end.
    let i = this.timers.length;
    while (i > 0 && (this.timers[i - 1]!.due > timer.due)) i--;
    this.timers.splice(i, 0, timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Timers waiting to run. */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      const next = this.timers[0];
      if (!next || next.due > target) break;
      this.timers.shift();
      if (next.cancelled) continue;
      this.t = next.due;
      next.fn();
    }
    this.t = target;
  }

  /** Drops every timer (endpoint shutdown). */
  clear(): void {
    for (const t of this.timers) t.cancelled = true;
    this.timers = [];
  }
}
