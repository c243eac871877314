/**
 * Edges found in review: exhausted packet ids, timer-sized limits, rule payloads in the trace's byte budget,
 * chaos arbitraries for every fault.
 */
import fc from 'fast-check';
import { FAULTS, startFakeIot } from '../../src';
import { realClock } from '../../src/clock/clock';
import { ByteBudget, Session } from '../../src/session/session';
import { chaosArbitrary, chaosScriptArbitrary } from '../../src/testing/fast-check';
import { TraceRecorder } from '../../src/trace/recorder';

test('when every packet id is lent out, lending gives the lent ids up instead of spinning', () => {
  const s = new Session('c', true, 'sid', { maxInflight: 10, maxQueued: 10, maxBytes: 1 << 20, maxBuffered: 1 << 20 }, new ByteBudget(1 << 20), false);
  const ids = new Set<number>();
  for (let i = 0; i < 65535; i++) ids.add(s.lendId());
  expect(ids.size).toBe(65535);
  const next = s.lendId();
  expect(next).toBeGreaterThan(0);
  expect(s.lentCount).toBe(1);
});

test('a limit in seconds longer than a timer can hold is refused, naming the option', async () => {
  await expect(startFakeIot({ limits: { sessionExpirySeconds: 3_000_000 } })).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('options.limits.sessionExpirySeconds') });
});

test("basic-ingest 'rule' entries count toward trace.maxBytes", () => {
  const trace = new TraceRecorder(true, 1000, realClock, realClock, 1, 1500);
  for (let i = 0; i < 3; i++) trace.record({ kind: 'event', event: 'rule', ruleName: 'r', topic: 't', qos: 0, payload: Buffer.alloc(1000) });
  expect(trace.entries.map((e) => e.truncated?.payloadBytes)).toEqual([1000, 1000, undefined]);
});

test('chaosArbitrary and chaosScriptArbitrary draw every fault, connackDelay included, as valid options', async () => {
  const options = fc.sample(chaosArbitrary({ faults: FAULTS }), { seed: 3, numRuns: 20 });
  expect(options.some((o) => o.connackDelay !== undefined)).toBe(true);
  const scripts = fc.sample(chaosScriptArbitrary({ faults: ['connackDelay'] }), { seed: 3, numRuns: 10 }).flat();
  expect(scripts.every((s) => s.delayMs !== undefined && s.delayMs >= 1)).toBe(true);
  for (const chaos of options) await (await startFakeIot({ chaos })).close();
});
