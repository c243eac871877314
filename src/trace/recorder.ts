import { type Clock, type TimerHandle, microtask } from '../clock/clock';
import { FakeIotError } from '../errors';
import type { ChaosTag } from '../chaos/types';
import type { Packet } from '../codec/codec';
import type { NewEntry, TraceEntry } from './entry';
import { entryToJSON, formatEntry } from './format';
import { type TraceHtmlOptions, traceToHtml } from './html';
import { traceToPcap } from './pcap';
import { EntryRing } from './ring';
import { type EntryFor, type TraceMatch, describeMatch, matches } from './query';

export interface WaitForOptions {
  /** How long to wait, in real milliseconds. Default 3000 (below Jest's default test timeout). */
  timeoutMs?: number;
  /**
   * Gives the wait up early: once it aborts, the wait rejects with the signal's reason and its timer is
   * cancelled. For callers that stop waiting before the timeout (a long poll whose client went away).
   */
  signal?: AbortSignal;
}

export const DEFAULT_WAIT_TIMEOUT_MS = 3000;

/** Payload bytes a trace keeps whole by default (8 MiB); see TraceOptions.maxBytes. */
export const DEFAULT_TRACE_MAX_BYTES = 8 * 1024 * 1024;

/** How failure messages tell the reader to replay a run. */
export function seedHint(seed: number): string {
  return `seed ${seed} (startFakeIot({ seed: ${seed} }) replays this run)`;
}
const EXCERPT_LINES = 30;

/** The packet trace of one endpoint: every packet in and out, and the events around them. */
export interface Trace {
  /** False when the endpoint was started with `trace: false`. */
  readonly enabled: boolean;
  /** The endpoint's seed (as `iot.seed`). */
  readonly seed: number;
  /** The most recent entries (up to the cap), oldest first. A copy. */
  readonly entries: TraceEntry[];
  /** The entries that match, oldest first. */
  filter<const M extends TraceMatch>(match: M): EntryFor<M>[];
  /** The first recorded entry that matches, or undefined. */
  find<const M extends TraceMatch>(match: M): EntryFor<M> | undefined;
  /**
   * Resolves with the first entry that matches — one already recorded, or the next one to come.
   * Rejects with code `TRACE_TIMEOUT` after `timeoutMs`, quoting the end of the trace.
   */
  waitFor<const M extends TraceMatch>(match: M, options?: WaitForOptions): Promise<EntryFor<M>>;
  /** The trace (or the given entries) as text, one line an entry. */
  format(entries?: readonly TraceEntry[]): string;
  /** Plain-JSON entries: payloads as text (or `{ base64 }`), passwords redacted. */
  toJSON(): Record<string, unknown>[];
  /**
   * The trace as one self-contained HTML page (open it offline, from file://): a sequence diagram of the
   * broker and each client, chaos and violations marked, filters, and the decoded packet on click.
   */
  toHtml(options?: TraceHtmlOptions): string;
  /**
   * The trace's packets as a pcapng capture for Wireshark / tshark: one synthetic TCP stream to port 1883
   * per connection, each packet encoded again from the trace (MQTT over TLS or WebSocket shows as plain MQTT).
   */
  toPcap(): Buffer;
  /** Forgets every recorded entry. Sequence numbers go on from where they were. */
  clear(): void;
  /** Calls `listener` with every new entry; returns the function that stops it. */
  subscribe(listener: (entry: TraceEntry) => void): () => void;
}

interface Waiter {
  match: TraceMatch;
  resolve(entry: TraceEntry): void;
  reject(error: Error): void;
  timer: TimerHandle;
  /** Stops listening to the caller's AbortSignal. */
  unlisten?: () => void;
}

export class TraceRecorder implements Trace {
  private items: EntryRing;
  private seq = 0;
  private readonly waiters = new Set<Waiter>();
  private readonly listeners = new Set<(entry: TraceEntry) => void>();
  private closedReason: string | undefined;
  private readonly t0: number;

  constructor(
    readonly enabled: boolean,
    private readonly maxEntries: number,
    /** Stamps entries (the endpoint's clock, possibly virtual). */
    private readonly clock: Clock,
    /** Runs waitFor() timeouts: always real time, so a virtual clock cannot make a test hang. */
    private readonly timers: Clock,
    /** The endpoint's seed, quoted in failure messages so a run can be replayed. */
    readonly seed: number,
    /** Payload bytes the kept entries may hold; older payloads beyond it are cut to their first bytes. */
    private readonly maxBytes = DEFAULT_TRACE_MAX_BYTES,
  ) {
    this.t0 = clock.now();
    this.items = new EntryRing(maxEntries, maxBytes);
  }

  /** Whether recording does anything: callers skip building entries when it does not. */
  get active(): boolean {
    return this.enabled || this.listeners.size > 0;
  }

  /** Records an entry; returns its `seq` (0 when nothing records). */
  record(partial: NewEntry): number {
    if (!this.active) return 0;
    const entry = partial as TraceEntry; // the caller's fresh object becomes the entry: no copy on the hot path
    entry.seq = ++this.seq;
    entry.at = this.clock.now();
    return this.add(entry);
  }

  /**
   * Records a packet in or out (the entry every packet costs), built as one object literal with its `seq`
   * and `at`: record() adds them to the caller's object afterwards, which costs a second allocation.
   */
  recordPacket(connectionId: number, clientId: string | undefined, direction: 'in' | 'out', packet: Packet, chaos?: ChaosTag): number {
    if (!this.active) return 0;
    const seq = ++this.seq;
    const at = this.clock.now();
    return this.add(chaos === undefined
      ? { kind: 'packet', connectionId, clientId, direction, packet, seq, at }
      : { kind: 'packet', connectionId, clientId, direction, packet, chaos, seq, at });
  }

  private add(entry: TraceEntry): number {
    if (this.enabled) this.items.add(entry);
    if (this.listeners.size > 0) this.tell(entry);
    if (this.waiters.size > 0) {
      this.check(entry);
      // An entry is recorded as its packet is read, before the broker acts on it. Predicates that look at
      // other state (iot.clients(), a client's inbox) get a second look once this turn's work is done.
      this.lastEntry = entry;
      if (!this.lateCheckQueued) {
        this.lateCheckQueued = true;
        microtask(this.lateCheck); // not queueMicrotask: a test's fake timers may replace that one
      }
    }
    return entry.seq;
  }

  private tell(entry: TraceEntry): void {
    for (const listener of this.listeners) {
      try {
        listener(entry);
      } catch (error) {
        // A listener's failure is the test's: it is unsubscribed, recorded, and fails the endpoint's close().
        this.listeners.delete(listener);
        this.callbackFailures.push(error);
        this.internalError('trace-listener', error);
      }
    }
  }

  /** Errors thrown by callbacks the test registered (trace listeners). */
  readonly callbackFailures: unknown[] = [];

  /** Records something that threw inside the endpoint, with where it happened. Never throws. */
  internalError(source: 'connection' | 'timer' | 'trace-listener' | 'rule-listener', error: unknown, where: { connectionId?: number; clientId?: string } = {}): void {
    const e = error instanceof Error ? error : undefined;
    const entry: NewEntry = { kind: 'event', event: 'internal-error', source, message: e ? e.message : String(error), ...(e?.stack ? { stack: e.stack } : {}) };
    if (where.connectionId !== undefined) entry.connectionId = where.connectionId;
    if (where.clientId !== undefined) entry.clientId = where.clientId;
    // With the trace off, a failure must not vanish without a word.
    if (!this.active) process.emitWarning(`[fake-aws-iot] internal error (${source}): ${e?.stack ?? String(error)}`);
    this.record(entry);
  }

  private lastEntry: TraceEntry | undefined;
  private lateCheckQueued = false;
  private readonly lateCheck = () => {
    this.lateCheckQueued = false;
    if (this.lastEntry && this.waiters.size > 0) this.check(this.lastEntry, true);
  };

  private check(entry: TraceEntry, predicatesOnly = false): void {
    for (const w of this.waiters) {
      if (predicatesOnly && typeof w.match !== 'function') continue;
      let hit = false;
      try {
        hit = matches(entry, w.match);
      } catch (error) {
        this.settle(w);
        w.reject(error instanceof Error ? error : new Error(String(error)));
        continue;
      }
      if (hit) {
        this.settle(w);
        w.resolve(entry);
      }
    }
  }

  get entries(): TraceEntry[] {
    return this.items.toArray();
  }

  filter<const M extends TraceMatch>(match: M): EntryFor<M>[] {
    return this.entries.filter((e) => matches(e, match)) as EntryFor<M>[];
  }

  find<const M extends TraceMatch>(match: M): EntryFor<M> | undefined {
    return this.entries.find((e) => matches(e, match)) as EntryFor<M> | undefined;
  }

  waitFor<const M extends TraceMatch>(match: M, options: WaitForOptions = {}): Promise<EntryFor<M>> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    if (typeof match !== 'function' && (typeof match !== 'object' || match === null)) {
      return Promise.reject(new FakeIotError('INVALID_ARGUMENT', `trace.waitFor(match) needs a pattern object or a predicate (got ${String(match)}).`));
    }
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
      return Promise.reject(new FakeIotError('INVALID_ARGUMENT', `trace.waitFor(): options.timeoutMs must be a number of milliseconds >= 0 (got ${String(timeoutMs)}).`));
    }
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      return Promise.reject(new FakeIotError('INVALID_ARGUMENT', `trace.waitFor(): options.signal must be an AbortSignal (got ${String(signal)}).`));
    }
    if (!this.enabled) {
      return Promise.reject(new FakeIotError('TRACE_DISABLED', 'trace.waitFor() needs the trace, but this endpoint was started with trace: false. Remove that option to use it.'));
    }
    let found: TraceEntry | undefined;
    try {
      found = this.find(match);
    } catch (error) {
      return Promise.reject(error);
    }
    if (found) return Promise.resolve(found as EntryFor<M>);
    if (this.closedReason) return Promise.reject(this.failure('ENDPOINT_CLOSED', match, this.closedReason));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<EntryFor<M>>((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: resolve as (entry: TraceEntry) => void,
        reject,
        timer: this.timers.setTimeout(() => {
          this.waiters.delete(waiter);
          waiter.unlisten?.();
          reject(this.failure('TRACE_TIMEOUT', match, `no trace entry matched within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      if (signal) {
        const abort = () => {
          this.settle(waiter);
          reject(signal.reason);
        };
        signal.addEventListener('abort', abort, { once: true });
        waiter.unlisten = () => signal.removeEventListener('abort', abort);
      }
      this.waiters.add(waiter);
    });
  }

  format(entries: readonly TraceEntry[] = this.entries): string {
    return entries.map((e) => formatEntry(e, this.t0)).join('\n');
  }

  toJSON(): Record<string, unknown>[] {
    return this.entries.map(entryToJSON);
  }

  toHtml(options: TraceHtmlOptions = {}): string {
    return traceToHtml(this.entries, { seed: this.seed, ...options });
  }

  toPcap(): Buffer {
    return traceToPcap(this.entries);
  }

  clear(): void {
    this.items = new EntryRing(this.maxEntries, this.maxBytes);
  }

  subscribe(listener: (entry: TraceEntry) => void): () => void {
    if (typeof listener !== 'function') throw new FakeIotError('INVALID_ARGUMENT', 'trace.subscribe(listener) needs a function.');
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Rejects every pending waitFor(): the endpoint is closed and nothing more will be recorded. */
  close(reason: string): void {
    this.closedReason = reason;
    for (const w of this.waiters) {
      this.settle(w);
      w.reject(this.failure('ENDPOINT_CLOSED', w.match, reason));
    }
    this.listeners.clear();
  }

  private settle(w: Waiter): void {
    w.timer.cancel();
    w.unlisten?.();
    this.waiters.delete(w);
  }

  /** The end of the trace, indented, for failure messages. */
  excerpt(): string {
    const all = this.entries;
    const tail = all.slice(-EXCERPT_LINES);
    if (all.length === 0) return this.enabled ? '  (the trace is empty)' : '  (the trace is off: trace: false)';
    const skipped = all.length > tail.length ? `  … ${all.length - tail.length} earlier entries not shown\n` : '';
    return `${skipped}${this.format(tail).replace(/^/gm, '  ')}`;
  }

  private failure(code: 'TRACE_TIMEOUT' | 'ENDPOINT_CLOSED', match: TraceMatch, why: string): FakeIotError {
    return new FakeIotError(code, `trace.waitFor: ${why}.\n  wanted: ${describeMatch(match)}\n  ${seedHint(this.seed)}\n  last entries:\n${this.excerpt()}`);
  }
}
