import { realClock } from '../../src/clock/clock';
import { TraceRecorder } from '../../src/trace/recorder';

const publish = (payload: Buffer) => ({ kind: 'packet' as const, connectionId: 1, direction: 'in' as const, packet: { cmd: 'publish' as const, topic: 't', payload, qos: 0 as const, dup: false, retain: false } });

describe('the trace is bounded in payload bytes', () => {
  test('beyond maxBytes the oldest payloads are cut to 64 bytes, with their length noted; the newest stay whole', () => {
    const trace = new TraceRecorder(true, 1000, realClock, realClock, 1, 3000);
    const original = publish(Buffer.alloc(1000, 1)).packet;
    trace.record({ ...publish(Buffer.alloc(1000, 1)), packet: original });
    for (let i = 0; i < 3; i++) trace.record(publish(Buffer.alloc(1000, 2)));
    const entries = trace.entries;
    expect(entries.map((e) => e.truncated?.payloadBytes)).toEqual([1000, undefined, undefined, undefined]);
    const cut = entries[0]!;
    expect(cut.kind === 'packet' && (cut.packet as { payload: Buffer }).payload.length).toBe(64);
    // The packet object the broker may still hold (a chaos re-send) keeps its whole payload.
    expect(original.payload.length).toBe(1000);
    expect(trace.format()).toContain('[payload of 1000 B cut by trace.maxBytes]');
  });

  test('small payloads are never cut', () => {
    const trace = new TraceRecorder(true, 1000, realClock, realClock, 1, 0);
    trace.record(publish(Buffer.alloc(64, 1)));
    expect(trace.entries[0]!.truncated).toBeUndefined();
  });

  test('a payload delivered to many subscribers counts once', () => {
    const trace = new TraceRecorder(true, 1000, realClock, realClock, 1, 1500);
    const shared = Buffer.alloc(1000, 3);
    for (let i = 0; i < 10; i++) trace.record(publish(shared)); // one message, ten deliveries
    expect(trace.entries.every((e) => e.truncated === undefined)).toBe(true);
    trace.record(publish(Buffer.alloc(1000, 4))); // a second 1000 bytes: over 1500, the shared one goes
    expect(trace.entries.map((e) => e.truncated?.payloadBytes)).toEqual([...Array(10).fill(1000), undefined]);
  });

  test('a payload that comes back after others counts again (kept whole as long as its newest entry)', () => {
    const trace = new TraceRecorder(true, 1000, realClock, realClock, 1, 2500);
    const a = Buffer.alloc(1000, 1);
    trace.record(publish(a));
    trace.record(publish(Buffer.alloc(1000, 2)));
    trace.record(publish(a)); // 3000 counted: the oldest whole payload (the first entry's) is cut
    expect(trace.entries.map((e) => e.truncated?.payloadBytes)).toEqual([1000, undefined, undefined]);
  });

  test('beyond maxEntries the oldest entries go, in order, however the ring grew', () => {
    const trace = new TraceRecorder(true, 3000, realClock, realClock, 1, 1 << 30);
    for (let i = 0; i < 7000; i++) trace.record(publish(Buffer.from([i % 256, i >> 8])));
    expect(trace.entries.map((e) => e.seq)).toEqual(Array.from({ length: 3000 }, (_, i) => 4001 + i));
    trace.clear();
    expect(trace.entries).toEqual([]);
    trace.record(publish(Buffer.alloc(1)));
    expect(trace.entries.map((e) => e.seq)).toEqual([7001]);
  });

  test('payloads of entries that left the trace (beyond maxEntries) no longer count nor are kept', () => {
    const trace = new TraceRecorder(true, 10, realClock, realClock, 1, 1 << 30);
    for (let i = 0; i < 2000; i++) trace.record(publish(Buffer.alloc(1000, i)));
    const ring = (trace as unknown as { items: { heldBytes: number; size: number } }).items;
    // Only the 10 kept entries hold whole payloads, and none had to be cut.
    expect(ring.size).toBe(10);
    expect(ring.heldBytes).toBe(10 * 1000);
    expect(trace.entries.map((e) => (e.kind === 'packet' && e.packet.cmd === 'publish' ? (e.packet.payload as Buffer)[0] : -1))).toEqual(Array.from({ length: 10 }, (_, i) => (1990 + i) % 256));
    expect(trace.entries.every((e) => e.truncated === undefined)).toBe(true);
  });
});
