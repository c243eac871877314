/**
 * The trace's kept entries: a ring of at most `maxEntries` slots (grown on demand up to it), oldest first,
 * holding at most `maxBytes` of whole payloads — beyond that the oldest whole payloads are cut to their first
 * bytes. One array of entries and one of numbers, written in place: recording an entry allocates nothing
 * beyond the entry, and an entry that leaves the ring is no longer kept by anything here.
 */
import type { TraceEntry } from './entry';

/** How much of a payload a trace keeps once it is over its byte budget. */
export const TRUNCATED_PAYLOAD_BYTES = 64;

/** Slots a ring starts with at its first entry (it doubles up to maxEntries as entries come). */
const FIRST_SLOTS = 64;

const NO_SLOTS = new Int32Array(0);

/** The payload an entry carries (a publish packet's, or a publish or rule event's). */
export function payloadOf(entry: TraceEntry): Buffer | undefined {
  if (entry.kind === 'packet') return entry.packet.cmd === 'publish' ? (entry.packet.payload as Buffer) : undefined;
  return entry.event === 'publish' || entry.event === 'rule' ? entry.payload : undefined;
}

/** Cuts an entry's payload to its first bytes (a copy, so the whole one can be freed) and notes its length. */
function truncatePayload(entry: TraceEntry): void {
  const payload = payloadOf(entry);
  if (!payload || entry.truncated) return;
  const kept = Buffer.from(payload.subarray(0, TRUNCATED_PAYLOAD_BYTES));
  entry.truncated = { payloadBytes: payload.length };
  // A new packet object: the original may still be in use (a chaos re-send holds it).
  if (entry.kind === 'packet') entry.packet = { ...entry.packet, payload: kept } as typeof entry.packet;
  else if (entry.event === 'publish' || entry.event === 'rule') entry.payload = kept;
}

export class EntryRing {
  private slots: (TraceEntry | undefined)[];
  /**
   * Per slot, what its entry's payload weighs in the budget: its bytes (> 0); -1 when it is whole but a newer
   * entry with the same buffer counts its bytes; 0 when there is nothing to cut (no payload, a small or cut one).
   */
  private weights: Int32Array;
  private head = 0;
  private count = 0;
  /** Entries from the oldest on that hold no payload left to cut. */
  private cutUpTo = 0;
  private payloadBytes = 0;
  /** The newest entry with a whole payload, its slot and its payload. */
  private newest: TraceEntry | undefined;
  private newestSlot = 0;
  private newestPayload: Buffer | undefined;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {
    // Nothing allocated until the first entry: an endpoint with its trace off never has one.
    this.slots = [];
    this.weights = NO_SLOTS;
  }

  get size(): number {
    return this.count;
  }

  /** Whole payload bytes the kept entries hold. */
  get heldBytes(): number {
    return this.payloadBytes;
  }

  add(entry: TraceEntry): void {
    let capacity = this.slots.length;
    if (this.count === capacity) {
      if (capacity < this.maxEntries) capacity = this.grow();
      else this.dropOldest();
    }
    const slot = (this.head + this.count) % capacity;
    this.slots[slot] = entry;
    this.weights[slot] = 0;
    this.count++;
    const payload = payloadOf(entry);
    if (payload === undefined || payload.length <= TRUNCATED_PAYLOAD_BYTES) return;
    const newest = this.newest;
    if (payload === this.newestPayload && newest !== undefined && this.slots[this.newestSlot] === newest && this.weights[this.newestSlot]! > 0) {
      // The same buffer as the newest whole entry's (a message's entry in and its deliveries out): its bytes
      // count once, and go with the newest of its entries, which is cut last.
      this.weights[this.newestSlot] = -1;
    } else this.payloadBytes += payload.length;
    this.weights[slot] = payload.length;
    this.newest = entry;
    this.newestSlot = slot;
    this.newestPayload = payload;
    while (this.payloadBytes > this.maxBytes && this.cutUpTo < this.count) this.cutNext();
  }

  /** The kept entries, oldest first (a new array). */
  toArray(): TraceEntry[] {
    const out = new Array<TraceEntry>(this.count);
    const capacity = this.slots.length;
    for (let i = 0; i < this.count; i++) out[i] = this.slots[(this.head + i) % capacity]!;
    return out;
  }

  /** The oldest entry leaves: its payload no longer counts, and the ring no longer holds it. */
  private dropOldest(): void {
    const slot = this.head;
    const weight = this.weights[slot]!;
    if (weight > 0) this.payloadBytes -= weight;
    this.slots[slot] = undefined;
    this.weights[slot] = 0;
    this.head = (slot + 1) % this.slots.length;
    this.count--;
    if (this.cutUpTo > 0) this.cutUpTo--;
  }

  /** Cuts the payload of the oldest entry not looked at yet, if it holds a whole one. */
  private cutNext(): void {
    const slot = (this.head + this.cutUpTo++) % this.slots.length;
    const weight = this.weights[slot]!;
    if (weight === 0) return;
    if (weight > 0) this.payloadBytes -= weight;
    this.weights[slot] = 0;
    truncatePayload(this.slots[slot]!);
  }

  private grow(): number {
    const capacity = Math.min(this.maxEntries, Math.max(FIRST_SLOTS, this.slots.length * 2));
    const slots = new Array<TraceEntry | undefined>(capacity).fill(undefined);
    const weights = new Int32Array(capacity);
    const old = this.slots.length;
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) % old;
      slots[i] = this.slots[from];
      weights[i] = this.weights[from]!;
    }
    if (old > 0) this.newestSlot = (this.newestSlot - this.head + old) % old;
    this.slots = slots;
    this.weights = weights;
    this.head = 0;
    return capacity;
  }
}
