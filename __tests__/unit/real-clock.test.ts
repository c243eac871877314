/**
 * The real clock: whole-millisecond wall time, and timer failures reported to its error sink.
 */
import { createRealClock, realClock } from '../../src/clock/clock';

describe('createRealClock', () => {
  test('now() is whole milliseconds close to Date.now()', () => {
    const now = createRealClock().now();
    expect(Number.isInteger(now)).toBe(true);
    expect(Math.abs(now - Date.now())).toBeLessThan(1000);
  });

  test('a timer that throws reports the error to onError, not to the process', async () => {
    const boom = new Error('boom');
    const reported = await new Promise<unknown>((resolve) => {
      createRealClock({ onError: resolve }).setTimeout(() => {
        throw boom;
      }, 0);
    });
    expect(reported).toBe(boom);
  });

  test('a cancelled timer does not fire', async () => {
    const clock = createRealClock();
    const fn = jest.fn();
    clock.setTimeout(fn, 5).cancel();
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 30));
    expect(fn).not.toHaveBeenCalled();
  });

  test('realClock turns a timer failure into a process warning', async () => {
    const warned = new Promise<string>((resolve) => {
      const spy = jest.spyOn(process, 'emitWarning').mockImplementation((message) => {
        spy.mockRestore();
        resolve(String(message));
      });
    });
    realClock.setTimeout(() => {
      throw new Error('from a timer');
    }, 0);
    expect(await warned).toMatch(/^\[fake-aws-iot\] internal error in a timer: Error: from a timer/);
  });
});
