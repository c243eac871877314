/**
 * The fault policies: pure functions of a knob's settings and the connection's random stream.
 * Each returns what to do (copies, a delay, a hold) or undefined for "nothing this time".
 * They draw the same numbers for the same inputs, which is what makes a seed replay a run.
 */
import type { RandomStream } from './prng';
import type { ResolvedChaos } from './options';
import { JOBS_ERROR_CODES } from './types';

export type Knob<F extends keyof ResolvedChaos> = NonNullable<ResolvedChaos[F]>;

/** duplicateQos0: how many extra copies of this QoS 0 delivery (1..maxCopies), if any. */
export function duplicateCopies(k: Knob<'duplicateQos0'>, rng: RandomStream): number | undefined {
  return rng.next() < k.probability ? rng.int(1, k.maxCopies) : undefined;
}

/** resendWithNewPacketId: after how many ms the delivery is sent again, if it is. */
export function resendDelay(k: Knob<'resendWithNewPacketId'>, rng: RandomStream): number | undefined {
  return rng.next() < k.probability ? rng.int(k.minDelayMs, k.maxDelayMs) : undefined;
}

/**
 * subscriptionDelay: how long after SUBACK the subscription starts matching; connackDelay: how long the
 * CONNACK waits. Undefined for "at once".
 */
export function subscriptionDelay(k: Knob<'subscriptionDelay'> | Knob<'connackDelay'>, rng: RandomStream): number | undefined {
  const ms = k.minMs === k.maxMs ? k.minMs : rng.int(k.minMs, k.maxMs);
  return ms > 0 ? ms : undefined;
}

/** reorder: how long this packet is held back (1..maxHoldMs), if it is. */
export function holdTime(k: Knob<'reorder'>, rng: RandomStream): number | undefined {
  return rng.next() < k.probability ? rng.int(1, k.maxHoldMs) : undefined;
}

/** shadowErrors / jobsErrors: the code this request is refused with, if it is. */
function transientError<C>(k: { probability: number; codes: readonly C[] }, rng: RandomStream): C | undefined {
  return rng.next() < k.probability ? k.codes[k.codes.length === 1 ? 0 : rng.int(0, k.codes.length - 1)] : undefined;
}

/** shadowErrors: the error this shadow request gets, if any. */
export function shadowError(k: Knob<'shadowErrors'>, rng: RandomStream): number | undefined {
  return transientError(k, rng);
}

/** jobsErrors: the error this Jobs request gets, if any, as its index in JOBS_ERROR_CODES. */
export function jobsError(k: Knob<'jobsErrors'>, rng: RandomStream): number | undefined {
  const code = transientError(k, rng);
  return code === undefined ? undefined : JOBS_ERROR_CODES.indexOf(code);
}

/** latency: the delay of this packet. */
export function latency(k: Knob<'latency'>, rng: RandomStream): number {
  return k.minMs === k.maxMs ? k.minMs : rng.int(k.minMs, k.maxMs);
}

/** Why a connection is cut: a draw under `probability`, or the count `afterPackets` reached. */
export type Cut = 'random' | 'afterPackets';

/**
 * dropConnection / takeover: whether the connection ends after the client's `packets`-th packet, and why.
 * The stream is drawn from on every packet while probability > 0, so `afterPackets` never shifts later draws.
 */
export function cutAfter(k: Knob<'dropConnection'>, rng: RandomStream, packets: number): Cut | undefined {
  const random = k.probability > 0 && rng.next() < k.probability;
  if (k.afterPackets === packets) return 'afterPackets';
  return random ? 'random' : undefined;
}
