/**
 * The only source of randomness in the endpoint. Everything random is drawn from a stream derived
 * from the endpoint's seed and a key (a client id, say), so one client's traffic never shifts the
 * numbers another client sees, and a seed replays a run exactly.
 */
import { randomInt } from 'node:crypto';

export const MAX_SEED = 0xffff_ffff;

export function isSeed(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_SEED;
}

/** A fresh seed for an endpoint started without one. */
export function randomSeed(): number {
  return randomInt(0, MAX_SEED);
}

/** FNV-1a over the UTF-16 code units of `key`, mixed with the seed: a 32-bit stream id. */
function hashKey(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A deterministic stream of numbers (sfc32-like mixing of mulberry32 output). */
export class RandomStream {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    // mulberry32
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A version-4-shaped UUID drawn from this stream. */
  uuid(): string {
    const hex: string[] = [];
    for (let i = 0; i < 32; i++) hex.push(this.int(0, 15).toString(16));
    hex[12] = '4';
    hex[16] = (8 + this.int(0, 3)).toString(16);
    const s = hex.join('');
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  }
}

/** The stream for `key` under `seed`: the same pair always gives the same numbers. */
export function streamFor(seed: number, key: string): RandomStream {
  return new RandomStream(hashKey(seed, key));
}
