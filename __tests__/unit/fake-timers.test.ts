/**
 * A test that fakes time for its own code (jest.useFakeTimers()) must not freeze the fake endpoint:
 * the real clock runs on timer functions the fakes do not replace.
 */
import { createRealClock } from '../../src/clock/clock';
import { endpoint } from '../helpers';

describe('under jest.useFakeTimers()', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  // A short per-test timeout: with faked timers inside the fake, waitFor would hang and fail here.
  // (endpoint() closes it after the test, once real timers are back.)
  test('trace.waitFor still rejects with TRACE_TIMEOUT in real time', async () => {
    const iot = await endpoint({ seed: 1 });
    await expect(iot.trace.waitFor({ event: 'connect' }, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'TRACE_TIMEOUT' });
  }, 2000);

  test('the real clock tells the real time, not the faked Date', () => {
    expect(Date.now()).toBeLessThan(1000); // the fake is in force
    expect(Math.abs(createRealClock().now() - jest.getRealSystemTime())).toBeLessThan(1000);
  });

  test('a real-clock timer fires without the test advancing the fakes', async () => {
    const fired = await new Promise<string>((resolve) => createRealClock().setTimeout(() => resolve('fired'), 10));
    expect(fired).toBe('fired');
  }, 2000);
});
