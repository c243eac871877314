/**
 * The virtual clock on its own: ordering, cancellation, the runaway-loop guard, and where timer
 * failures go.
 */
import { VirtualClock } from '../../src/clock/virtual';

const START = 1_700_000_000_000;

describe('VirtualClock', () => {
  test('runs timers in time order, and timers due at the same instant in the order they were set', () => {
    const clock = new VirtualClock(START);
    const ran: string[] = [];
    clock.setTimeout(() => ran.push('b@20'), 20);
    clock.setTimeout(() => ran.push('a@10'), 10);
    clock.setTimeout(() => ran.push('c@20'), 20);
    clock.setTimeout(() => ran.push('d@0'), 0);
    clock.setTimeout(() => ran.push('e@10'), 10);
    clock.advance(20);
    expect(ran).toEqual(['d@0', 'a@10', 'e@10', 'b@20', 'c@20']);
  });

  test('each timer sees now() at its own due time, and advance() ends at the target', () => {
    const clock = new VirtualClock(START);
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now() - START), 7);
    clock.setTimeout(() => seen.push(clock.now() - START), 3);
    clock.advance(10);
    expect(seen).toEqual([3, 7]);
    expect(clock.now()).toBe(START + 10);
  });

  test('runs timers set by timers when they fall due within the same advance()', () => {
    const clock = new VirtualClock(START);
    const ran: string[] = [];
    clock.setTimeout(() => {
      ran.push(`first@${clock.now() - START}`);
      clock.setTimeout(() => ran.push(`child@${clock.now() - START}`), 5);
      clock.setTimeout(() => ran.push(`late@${clock.now() - START}`), 50);
    }, 10);
    clock.setTimeout(() => ran.push(`other@${clock.now() - START}`), 15);
    clock.advance(20);
    expect(ran).toEqual(['first@10', 'other@15', 'child@15']);
    clock.advance(40);
    expect(ran).toEqual(['first@10', 'other@15', 'child@15', 'late@60']);
  });

  test('a timer set for 0 ms by a timer runs at the same instant, after those already due then', () => {
    const clock = new VirtualClock(START);
    const ran: string[] = [];
    clock.setTimeout(() => {
      ran.push('a');
      clock.setTimeout(() => ran.push('a-child'), 0);
    }, 5);
    clock.setTimeout(() => ran.push('b'), 5);
    clock.advance(5);
    expect(ran).toEqual(['a', 'b', 'a-child']);
  });

  test('a timer not yet due does not run', () => {
    const clock = new VirtualClock(START);
    const fn = jest.fn();
    clock.setTimeout(fn, 100);
    clock.advance(99);
    expect(fn).not.toHaveBeenCalled();
    clock.advance(1);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  test('a cancelled timer never runs; cancelling twice or after it ran is harmless', () => {
    const clock = new VirtualClock(START);
    const ran: string[] = [];
    const a = clock.setTimeout(() => ran.push('a'), 10);
    const b = clock.setTimeout(() => ran.push('b'), 10);
    clock.setTimeout(() => ran.push('c'), 10);
    b.cancel();
    b.cancel();
    clock.advance(10);
    a.cancel();
    expect(ran).toEqual(['a', 'c']);
  });

  test('a timer can cancel a later one due at the same instant', () => {
    const clock = new VirtualClock(START);
    const ran: string[] = [];
    clock.setTimeout(() => {
      ran.push('a');
      later.cancel();
    }, 10);
    const later = clock.setTimeout(() => ran.push('later'), 10);
    clock.advance(10);
    expect(ran).toEqual(['a']);
  });

  test('clear() drops every timer', () => {
    const clock = new VirtualClock(START);
    const fn = jest.fn();
    clock.setTimeout(fn, 1);
    clock.setTimeout(fn, 2);
    clock.clear();
    clock.advance(10);
    expect(fn).not.toHaveBeenCalled();
  });

  describe('loop guard', () => {
    test('a timer that re-arms itself at 0 ms stops advance() with an error instead of spinning', () => {
      const clock = new VirtualClock(START, { loopLimit: 1000 });
      let runs = 0;
      const spin = () => {
        runs++;
        clock.setTimeout(spin, 0);
      };
      clock.setTimeout(spin, 5);
      let error: unknown;
      try {
        clock.advance(10);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ name: 'FakeIotError', code: 'CLOCK_LOOP_LIMIT' });
      expect((error as Error).message).toMatch(/^\[fake-aws-iot\] iot\.clock\.advance\(10\) stopped after running 1000 timers \(loopLimit\)/);
      expect(runs).toBe(1000);
      expect(clock.now()).toBe(START + 5); // time stays where the loop was
    });

    test('loopLimit sets how many timers one advance() may run', () => {
      const clock = new VirtualClock(START, { loopLimit: 3 });
      const fn = jest.fn();
      for (let i = 1; i <= 4; i++) clock.setTimeout(fn, i);
      expect(() => clock.advance(4)).toThrow(/after running 3 timers/);
      expect(fn).toHaveBeenCalledTimes(3);
      expect(clock.now()).toBe(START + 3);
      clock.advance(1); // the count starts again with each advance()
      expect(fn).toHaveBeenCalledTimes(4);
    });

    test('exactly loopLimit timers in one advance() are fine', () => {
      const clock = new VirtualClock(START, { loopLimit: 3 });
      const fn = jest.fn();
      for (let i = 1; i <= 3; i++) clock.setTimeout(fn, i);
      clock.advance(3);
      expect(fn).toHaveBeenCalledTimes(3);
    });
  });

  describe('timer failures', () => {
    test('go to onError, and the remaining timers still run', () => {
      const errors: unknown[] = [];
      const clock = new VirtualClock(START, { onError: (e) => errors.push(e) });
      const boom = new Error('boom');
      const after = jest.fn();
      clock.setTimeout(() => {
        throw boom;
      }, 1);
      clock.setTimeout(after, 2);
      expect(() => clock.advance(5)).not.toThrow();
      expect(errors).toEqual([boom]);
      expect(after).toHaveBeenCalled();
    });

    test('become a process warning without onError, or when onError itself throws', () => {
      const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
      try {
        const plain = new VirtualClock(START);
        plain.setTimeout(() => {
          throw new Error('plain failure');
        }, 1);
        const badSink = new VirtualClock(START, {
          onError: () => {
            throw new Error('sink failure');
          },
        });
        badSink.setTimeout(() => {
          throw new Error('second failure');
        }, 1);
        expect(() => plain.advance(1)).not.toThrow();
        expect(() => badSink.advance(1)).not.toThrow();
        expect(warn.mock.calls.map(([m]) => String(m))).toEqual([
          expect.stringMatching(/^\[fake-aws-iot\] internal error in a timer: Error: plain failure/),
          expect.stringMatching(/^\[fake-aws-iot\] internal error in a timer: Error: second failure/),
        ]);
      } finally {
        warn.mockRestore();
      }
    });
  });
});
