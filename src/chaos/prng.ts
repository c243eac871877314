/**
 * The only source of randomness in the endpoint. Everything random is drawn from a stream derived
 * from the endpoint's seed and a key (a client id, say), so one client's traffic never shifts the
 * numbers another client sees, and a seed replays a run exactly.
 *
 * The generator is pure-rand's xoroshiro128+ (the one fast-check uses). A key picks the generator's
 * 128-bit starting state through SHA-256 of (seed, key); `jumped(n)` gives sub-streams that cannot
 * overlap (each 2^64 draws further on).
 */
import { createHash, randomFillSync } from 'node:crypto';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

export const MAX_SEED = 0xffff_ffff;

export function isSeed(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_SEED;
}

/** Fresh seeds drawn from the OS 64 at a time: one draw each costs more than the rest of resolving the options. */
const seedPool = new Uint32Array(64);
let seedsLeft = 0;

/** A fresh seed for an endpoint started without one (any of 0 to MAX_SEED, each as likely). */
export function randomSeed(): number {
  if (seedsLeft === 0) {
    randomFillSync(seedPool);
    seedsLeft = seedPool.length;
  }
  return seedPool[--seedsLeft]!;
}

/** The generator's starting state for (seed, key): the first 128 bits of SHA-256 over both. */
function stateFor(seed: number, key: string): number[] {
  // The seed's four bytes, then the key's UTF-16 code units (so distinct strings, even with lone surrogates,
  // never share a state), hashed in one piece.
  const bytes = Buffer.allocUnsafe(4 + key.length * 2);
  bytes.writeUInt32BE(seed >>> 0, 0);
  bytes.write(key, 4, 'utf16le');
  const digest = createHash('sha256').update(bytes).digest();
  const state = [0, 4, 8, 12].map((i) => digest.readInt32BE(i));
  if ((state[0]! | state[1]! | state[2]! | state[3]!) === 0) state[0] = 1; // the all-zero state is xoroshiro's one fixed point
  return state;
}

/** A deterministic stream of numbers. */
export interface RandomStream {
  /** A float in [0, 1) (53 random bits). */
  next(): number;
  /** A whole number in [min, max], each equally likely. Fractional bounds are rounded inwards; when no whole number lies between them, `min` itself. */
  int(min: number, max: number): number;
  /** A version-4-shaped UUID. */
  uuid(): string;
  /** An independent copy `n` jumps (n × 2^64 draws) ahead of this stream's current place; this stream is left as it is. */
  jumped(n: number): RandomStream;
}

class Xoroshiro128PlusStream implements RandomStream {
  constructor(private readonly gen: JumpableRandomGenerator) {}

  next(): number {
    return uniformFloat64(this.gen);
  }

  int(min: number, max: number): number {
    const lo = Math.ceil(min);
    const hi = Math.floor(max);
    return hi < lo ? min : uniformInt(this.gen, lo, hi);
  }

  uuid(): string {
    let hex = '';
    for (let i = 0; i < 4; i++) hex += (this.gen.next() >>> 0).toString(16).padStart(8, '0');
    const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20)}`;
  }

  jumped(n: number): RandomStream {
    const gen = this.gen.clone();
    for (let i = 0; i < n; i++) gen.jump();
    return new Xoroshiro128PlusStream(gen);
  }
}

/**
 * The stream for `key` under `seed`: the same pair always gives the same numbers. Its starting state (a
 * SHA-256) is worked out at the first draw: an endpoint makes streams it may never draw from.
 */
export function streamFor(seed: number, key: string): RandomStream {
  let stream: RandomStream | undefined;
  const s = (): RandomStream => (stream ??= new Xoroshiro128PlusStream(xoroshiro128plusFromState(stateFor(seed, key))));
  return {
    next: () => s().next(),
    int: (min, max) => s().int(min, max),
    uuid: () => s().uuid(),
    jumped: (n) => s().jumped(n),
  };
}
