/**
 * Golden decisions of each chaos policy: a fixed knob and a fixed stream give a pinned sequence.
 * A change to a policy or to the random streams shows up here.
 */
import { type ResolvedChaos, resolveChaos } from '../../src/chaos/options';
import * as policy from '../../src/chaos/policies';
import { streamFor } from '../../src/chaos/prng';
import type { ChaosOptions } from '../../src/chaos/types';

const knob = <F extends keyof ChaosOptions & keyof ResolvedChaos>(fault: F, options: NonNullable<ChaosOptions[F]>) =>
  resolveChaos({ [fault]: options }, 'chaos')[fault]!;

/** Ten decisions from one policy, on the stream every test here shares. */
const ten = <T>(decide: (rng: ReturnType<typeof streamFor>, i: number) => T | undefined): (T | null)[] => {
  const rng = streamFor(11, 'policy');
  return Array.from({ length: 10 }, (_, i) => decide(rng, i) ?? null);
};

test('duplicateQos0: copies 1..maxCopies with the given probability', () => {
  const k = knob('duplicateQos0', { probability: 0.5, maxCopies: 3 });
  expect(ten((rng) => policy.duplicateCopies(k, rng))).toEqual([null, null, null, null, 1, 1, null, 2, 2, 2]);
});

test('resendWithNewPacketId: a delay from minDelayMs to maxDelayMs with the given probability', () => {
  const k = knob('resendWithNewPacketId', { probability: 0.5, minDelayMs: 10, maxDelayMs: 40 });
  expect(ten((rng) => policy.resendDelay(k, rng))).toEqual([null, null, null, null, 22, 32, null, 11, 31, 38]);
});

test('subscriptionDelay: a delay from minMs to maxMs, none when it is 0', () => {
  const k = knob('subscriptionDelay', { minMs: 0, maxMs: 200 });
  expect(ten((rng) => policy.subscriptionDelay(k, rng))).toEqual([180, 121, 132, 109, 100, 130, 144, 84, 13, 26]);
  expect(policy.subscriptionDelay(knob('subscriptionDelay', { minMs: 0, maxMs: 0 }), streamFor(1, 'x'))).toBeUndefined();
});

test('subscriptionDelay and latency: a fixed delay draws nothing from the stream', () => {
  const rng = streamFor(11, 'policy');
  expect(policy.subscriptionDelay(knob('subscriptionDelay', { minMs: 70, maxMs: 70 }), rng)).toBe(70);
  expect(policy.latency(knob('latency', { ms: 15 }), rng)).toBe(15);
  expect(rng.next()).toBe(streamFor(11, 'policy').next());
});

test('reorder: a hold of 1..maxHoldMs with the given probability', () => {
  const k = knob('reorder', { probability: 0.5, maxHoldMs: 30 });
  expect(ten((rng) => policy.holdTime(k, rng))).toEqual([null, null, null, null, 4, 28, null, 26, 17, 14]);
});

test('latency: a delay from minMs to maxMs for every packet', () => {
  const k = knob('latency', { minMs: 5, maxMs: 80 });
  expect(ten((rng) => policy.latency(k, rng))).toEqual([32, 34, 54, 28, 10, 29, 72, 53, 56, 26]);
});

test('dropConnection / takeover: cut at afterPackets or at random, and say which', () => {
  const k = knob('dropConnection', { probability: 0.3, afterPackets: 4 });
  expect(ten((rng, i) => policy.cutAfter(k, rng, i + 1))).toEqual([null, null, null, 'afterPackets', 'random', null, null, null, 'random', null]);
});

test('dropConnection / takeover: afterPackets alone draws nothing from the stream', () => {
  const k = knob('takeover', { afterPackets: 2 });
  const rng = streamFor(11, 'policy');
  expect([1, 2, 3].map((n) => policy.cutAfter(k, rng, n) ?? null)).toEqual([null, 'afterPackets', null]);
  expect(rng.next()).toBe(streamFor(11, 'policy').next());
});

test('a policy at probability 0 never fires, at 1 always fires', () => {
  const never = knob('duplicateQos0', { probability: 0 });
  const always = knob('reorder', { probability: 1, maxHoldMs: 5 });
  expect(ten((rng) => policy.duplicateCopies(never, rng)).every((x) => x === null)).toBe(true);
  expect(ten((rng) => policy.holdTime(always, rng)).every((x) => x !== null && x >= 1 && x <= 5)).toBe(true);
});
