import type { Packet } from '../codec/codec';
import type { EventEntry, PacketEntry, TraceEntry } from './entry';

type Leaf<T> = T | RegExp | ((value: T) => boolean);

/**
 * A deep-partial pattern: every key given must match, keys left out are free.
 * Strings may be given as RegExps; Buffers (payloads) as strings, Buffers or RegExps; any value as a predicate.
 * Arrays match element by element and must have the same length.
 */
export type DeepMatch<T> = T extends Buffer | Uint8Array
  ? Leaf<Buffer> | string | Uint8Array
  : T extends readonly (infer U)[]
    ? readonly DeepMatch<U>[] | ((value: T) => boolean)
    : T extends object
      ? { [K in keyof T]?: DeepMatch<T[K]> } | ((value: T) => boolean)
      : Leaf<T>;

/** A deep-partial pattern for one kind of trace entry. */
export type TracePattern = TraceEntry extends infer E ? (E extends TraceEntry ? { [K in keyof E]?: DeepMatch<E[K]> } : never) : never;

/** A trace pattern (deep-partial object) or a predicate over entries. */
export type TraceMatch = TracePattern | ((entry: TraceEntry) => boolean);

function matchValue(actual: unknown, expected: unknown): boolean {
  if (typeof expected === 'function') return Boolean((expected as (v: unknown) => unknown)(actual));
  if (expected instanceof RegExp) {
    if (typeof actual === 'string') return expected.test(actual);
    if (actual instanceof Uint8Array) return expected.test(Buffer.from(actual).toString());
    return false;
  }
  if (actual instanceof Uint8Array) {
    if (typeof expected === 'string') return Buffer.from(actual).toString() === expected;
    if (expected instanceof Uint8Array) return Buffer.from(actual).equals(expected);
    return false;
  }
  if (expected === null || typeof expected !== 'object') return Object.is(actual, expected);
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matchValue(actual[i], e));
  }
  if (actual === null || typeof actual !== 'object') return false;
  const a = actual as Record<string, unknown>;
  for (const key of Object.keys(expected)) {
    const e = (expected as Record<string, unknown>)[key];
    if (e !== undefined && !matchValue(a[key], e)) return false;
  }
  return true;
}

export function matches(entry: TraceEntry, match: TraceMatch): boolean {
  return matchValue(entry, match);
}

/** A short human description of a match, for error messages. */
export function describeMatch(match: TraceMatch): string {
  if (typeof match === 'function') return `predicate ${match.name || '(anonymous)'}`;
  return JSON.stringify(match, (_k, v: unknown) => {
    if (v instanceof RegExp) return v.toString();
    if (typeof v === 'function') return `[predicate ${(v as { name?: string }).name || 'anonymous'}]`;
    if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') return Buffer.from((v as { data: number[] }).data).toString();
    return v;
  });
}

/**
 * The entry type a match selects, so `waitFor({ packet: { cmd: 'publish' } })` gives a PUBLISH entry
 * and `waitFor({ event: 'disconnect' })` a disconnect event, without casts.
 */
export type EntryFor<M> = M extends { packet: { cmd: infer C extends Packet['cmd'] } }
  ? PacketEntry & { packet: Extract<Packet, { cmd: C }> }
  : M extends { kind: 'packet' } | { direction: unknown } | { packet: unknown }
    ? PacketEntry
    : M extends { event: infer E extends EventEntry['event'] }
      ? Extract<EventEntry, { event: E }>
      : TraceEntry;
