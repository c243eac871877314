/**
 * assertClientSurvives() works within a time limit that fits inside the Jest test: at the limit it stops the
 * run in progress (aborts its signal, closes its endpoint) and ends — passing with the runs that finished,
 * or reporting the smallest counterexample shrinking had found. Stalled runs wait on a trace entry that never
 * comes, under the virtual clock, so only the time limits themselves take real time.
 */
import mqtt from 'mqtt';
import { type FakeIot, FakeIotError } from 'fake-aws-iot';
import type { ChaosOptions } from 'fake-aws-iot';
import { type SurvivalFailure, assertClientSurvives } from 'fake-aws-iot/fast-check';

/** Waits until the endpoint closes (which rejects the wait with ENDPOINT_CLOSED). */
const stall = (iot: FakeIot) => iot.trace.waitFor(() => false, { timeoutMs: 600_000 });

/** Servers, sockets and timers: what a property must not leave behind (Jest has timers of its own). */
const handles = () => {
  const all = process.getActiveResourcesInfo();
  return { tcp: all.filter((r) => r.startsWith('TCP')), timers: all.filter((r) => r === 'Timeout').length };
};
/** Closed servers and sockets leave that list in libuv's close phase: one loop iteration later. */
const closesDone = () => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

afterEach(() => jest.restoreAllMocks());

test('a property that would overrun its test stops within the test timeout, cleans up, and passes with the runs that finished', async () => {
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  const before = handles();
  let runs = 0;
  let stalled: { iot: FakeIot; signal: AbortSignal; deviceClosed: Promise<unknown>; waited?: Promise<unknown> } | undefined;

  const report = await assertClientSurvives({
    seed: 11,
    numRuns: 1000, // far more than fit: the third run never ends by itself
    endpoint: { clock: 'virtual' },
    scenario: async ({ iot, signal }) => {
      if (++runs <= 2) return;
      const device = await mqtt.connectAsync(iot.url, { clientId: 'dev-1', reconnectPeriod: 0 });
      const waited = stall(iot);
      stalled = { iot, signal, deviceClosed: new Promise<void>((resolve) => device.once('close', () => resolve())), waited };
      await waited;
    },
  });

  expect(report).toEqual({ numRuns: 2, seed: 11, timeLimitReached: true });
  expect(warn).toHaveBeenCalledTimes(1);
  expect(warn.mock.calls[0]![0]).toMatch(/the time limit \(\d+ ms, from the Jest test timeout\) ended it after 2 of 1000 run\(s\), with no failure\. It passes/);
  // The stopped run: its signal aborted, its endpoint closed (the client's connection with it).
  expect(stalled!.signal.aborted).toBe(true);
  expect(stalled!.signal.reason).toMatchObject({ code: 'PROPERTY_TIME_LIMIT' });
  await expect(stalled!.waited).rejects.toMatchObject({ code: 'ENDPOINT_CLOSED' });
  expect(() => stalled!.iot.publish('cmd/dev-1', 'late')).toThrow(expect.objectContaining({ code: 'ENDPOINT_CLOSED' }));
  await stalled!.deviceClosed;
  await closesDone();
  const after = handles();
  // Nothing new is left open (what other test files of this worker left may close meanwhile).
  expect(after.tcp.length).toBeLessThanOrEqual(before.tcp.length);
  expect(after.timers).toBeLessThanOrEqual(before.timers);
}, 1500); // the default time limit follows this timeout

test('when the time limit ends shrinking, the error reports the smallest counterexample found by then', async () => {
  const failing: ChaosOptions[] = [];
  const error = (await assertClientSurvives({
    seed: 5,
    numRuns: 100,
    timeLimitMs: 1000, // room for the first failure and two shrinks on a busy machine
    endpoint: { clock: 'virtual' },
    scenario: async ({ iot, chaos }) => {
      if (failing.length === 3) await stall(iot); // every run after the third failure stalls
      if (chaos.reorder) {
        failing.push(chaos);
        throw new Error('this client assumes messages arrive in order');
      }
    },
  }).catch((e: unknown) => e)) as FakeIotError & { failure: SurvivalFailure };

  expect(error).toBeInstanceOf(FakeIotError);
  expect(error.code).toBe('CLIENT_DID_NOT_SURVIVE');
  expect(failing).toHaveLength(3);
  expect(error.failure.timeLimitReached).toBe(true);
  expect(error.failure.chaos).toEqual(failing[2]);
  expect((error.failure.cause as Error).message).toBe('this client assumes messages arrive in order');
  expect(error.message).toMatch(/failed after \d+ run\(s\), shrunk 2 time\(s\)\.\n {2}shrinking stopped: the time limit \(1000 ms\) ended it; below is the smallest counterexample found by then\./);
});

test('a time limit that ends before any run finishes rejects with PROPERTY_TIME_LIMIT', async () => {
  await expect(assertClientSurvives({ seed: 1, timeLimitMs: 200, endpoint: { clock: 'virtual' }, scenario: async ({ iot }) => void (await stall(iot)) }))
    .rejects.toMatchObject({ code: 'PROPERTY_TIME_LIMIT', message: expect.stringMatching(/the time limit \(200 ms\) ended it before any run finished/) });
});

test('failOnTimeLimit turns a pass with fewer runs into PROPERTY_TIME_LIMIT', async () => {
  let runs = 0;
  const scenario = async ({ iot }: { iot: FakeIot }) => {
    if (++runs > 2) await stall(iot);
  };
  await expect(assertClientSurvives({ seed: 1, numRuns: 50, timeLimitMs: 500, failOnTimeLimit: true, endpoint: { clock: 'virtual' }, scenario }))
    .rejects.toMatchObject({ code: 'PROPERTY_TIME_LIMIT', message: expect.stringMatching(/ended it after 2 of 50 run\(s\), with no failure\. Raise the test's timeout/) });
});

test('a scenario that ignores the abort is reported as still running', async () => {
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  let release!: () => void;
  const ignoresEverything = new Promise<void>((resolve) => (release = resolve));
  let runs = 0;
  const report = await assertClientSurvives({
    seed: 1,
    timeLimitMs: 400,
    endpoint: { clock: 'virtual' },
    scenario: async () => {
      if (++runs > 1) await ignoresEverything;
    },
  });
  release();
  expect(report).toMatchObject({ numRuns: 1, timeLimitReached: true });
  expect(warn.mock.calls[0]![0]).toMatch(/1 stopped run\(s\) did not finish 100 ms after their endpoint closed: end the client on ctx\.signal/);
});

test('the new options are checked', async () => {
  const scenario = async () => undefined;
  await expect(assertClientSurvives({ scenario, timeLimitMs: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^\[fake-aws-iot\] assertClientSurvives\(\{ timeLimitMs \}\): timeLimitMs must be a number of milliseconds > 0 \(got 0\)/) });
  await expect(assertClientSurvives({ scenario, timeLimitMs: Number.NaN })).rejects.toThrow(/timeLimitMs must be a number/);
  await expect(assertClientSurvives({ scenario, failOnTimeLimit: 'yes' as never })).rejects.toThrow(/failOnTimeLimit must be true or false/);
  await expect(assertClientSurvives({ scenario, name: '' })).rejects.toThrow(/assertClientSurvives\(\{ name \}\): name must be a non-empty string/);
});
