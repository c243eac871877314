import { ByteBudget, DROPPED, QUEUED, Session, ownPayload } from '../../src/session/session';

const MB = 1024 * 1024;
/** A session with the given bounds (bytes generous unless said). */
const session = (maxInflight: number, maxQueued: number, queueOfflineQos0 = false, maxBytes = 64 * MB, budget = new ByteBudget(64 * MB)) =>
  new Session('c', true, 'sid', { maxInflight, maxQueued, maxBytes, maxBuffered: 1024 }, budget, queueOfflineQos0);

const message = (n: number, qos: 0 | 1 = 1) => ({ topic: 't', payload: Buffer.from(String(n)), qos });

describe('Session', () => {
  test('packet ids count up from 1 and wrap from 65535 to 1, skipping ids still in flight', () => {
    const s = session(100_000, 10, false);
    expect(s.offer(message(0), true)).toBe(1); // stays in flight: 1 must be skipped after the wrap
    const ids: number[] = [];
    for (let i = 1; i <= 65536; i++) {
      const id = s.offer(message(i), true);
      ids.push(id);
      if (id !== 1 && i < 65536) s.ack(id);
    }
    expect(ids[0]).toBe(2);
    expect(ids[65533]).toBe(65535);
    expect(ids[65534]).toBe(2); // wrapped, 1 is still in flight
    expect(new Set(s.inflight.keys()).has(1)).toBe(true);
  });

  test('QoS 1 beyond maxInflight is queued, and released in order as acks make room', () => {
    const s = session(2, 10, false);
    expect([s.offer(message(1), true), s.offer(message(2), true), s.offer(message(3), true)]).toEqual([1, 2, QUEUED]);
    expect(s.takeReady()).toBeUndefined();
    expect(s.ack(1)).toBe(true);
    expect(s.takeReady()).toEqual([3, message(3)]);
    expect(s.ack(99)).toBe(false);
  });

  test('offline: QoS 0 is dropped unless the profile queues it; the queue is bounded', () => {
    const drop = session(10, 1, false);
    expect(drop.offer(message(1, 0), false)).toBe(DROPPED);
    expect(drop.offer(message(2), false)).toBe(QUEUED);
    expect(drop.offer(message(3), false)).toBe(DROPPED);
    const queue = session(10, 5, true);
    expect(queue.offer(message(1, 0), false)).toBe(QUEUED);
  });

  test('a lent id (chaos re-send) is never one in flight, and is free again once acknowledged', () => {
    const s = session(10, 10, false);
    expect(s.offer(message(1), true)).toBe(1);
    const lent = s.lendId();
    expect(lent).toBe(2);
    expect(s.offer(message(2), true)).toBe(3);
    expect(s.ack(lent)).toBe(true);
    expect(s.ack(lent)).toBe(false);
  });

  test('bounded in bytes: per client (queued + in flight + socket-buffered) and for the endpoint', () => {
    const kb = (n: number) => ({ topic: 't', payload: Buffer.alloc(n * 1024), qos: 1 as const });
    const budget = new ByteBudget(11 * 1024);
    const s = session(2, 100, false, 5 * 1024 + 10, budget);
    expect(s.offer(kb(2), true)).toBe(1);
    expect(s.offer(kb(2), true, 1024)).toBe(2); // 4 KB held + 1 KB in the socket
    expect(s.offer(kb(2), true, 1024)).toBe(DROPPED); // over the client's 5 KB
    expect(s.offer(kb(1), false)).toBe(QUEUED);
    expect(budget.used).toBe(5 * 1024 + 3);
    const other = session(2, 100, false, 64 * MB, budget);
    expect(other.offer(kb(5), true)).toBe(1);
    expect(other.offer(kb(1), true)).toBe(DROPPED); // the endpoint's 11 KB are taken
    expect(s.ack(1)).toBe(true);
    expect(budget.used).toBe(3 * 1024 + 2 + 5 * 1024 + 1);
    s.release();
    other.release();
    expect(budget.used).toBe(0);
  });
});

test('QoS 0 to a connected client is dropped once its socket holds more than maxBuffered bytes', () => {
  const s = new Session('c', false, 'sid', { maxInflight: 10, maxQueued: 10, maxBytes: 1 << 20, maxBuffered: 1024 }, new ByteBudget(1 << 20), false);
  const q0 = { topic: 't', payload: Buffer.from('x'), qos: 0 as const };
  expect(s.offer(q0, true, 1024)).toBe(0);
  expect(s.offer(q0, true, 1025)).toBe(DROPPED);
});

test('a kept message owns its payload: a small view into a large socket read is copied, so the byte limits count what is held', () => {
  // A decoded payload is a view into the read it came in: here 100 bytes of a 64 KB read.
  const read = Buffer.alloc(65_536, 7);
  const view = () => ({ topic: 't', payload: read.subarray(1000, 1100), qos: 1 as const });
  const s = session(1, 10);
  const inFlight = view();
  expect(s.offer(inFlight, true)).toBe(1); // in flight until acknowledged
  const queued = view();
  expect(s.offer(queued, true)).toBe(QUEUED);
  for (const kept of [s.inflight.get(1)!, queued]) {
    expect(kept.payload.equals(read.subarray(1000, 1100))).toBe(true);
    expect(kept.payload.buffer).not.toBe(read.buffer);
    expect(kept.payload.buffer.byteLength).toBeLessThanOrEqual(Buffer.poolSize);
  }
  expect(s.bytes).toBe(2 * (100 + 1));
  // A QoS 0 message sent at once is not kept: no copy.
  const qos0 = { ...view(), qos: 0 as const };
  expect(s.offer(qos0, true)).toBe(0);
  expect(qos0.payload.buffer).toBe(read.buffer);
  // Pool slices and payloads that are most of their buffer stay as they are.
  const pooled = Buffer.from('small');
  expect(ownPayload(pooled)).toBe(pooled);
  const big = Buffer.alloc(40_000).subarray(0, 30_000);
  expect(ownPayload(big)).toBe(big);
});

test('the copies of one fanned-out message share one copy of its payload', () => {
  const read = Buffer.alloc(65_536, 7);
  const payload = read.subarray(2000, 2100);
  // The broker gives each subscriber its own message object around the same payload view.
  const a = { topic: 't', payload, qos: 1 as const };
  const b = { topic: 't', payload, qos: 1 as const };
  expect(session(1, 10).offer(a, false)).toBe(QUEUED);
  expect(session(1, 10).offer(b, false)).toBe(QUEUED);
  expect(a.payload.buffer).not.toBe(read.buffer);
  expect(b.payload).toBe(a.payload);
  // Another message from the same read is copied on its own.
  expect(ownPayload(read.subarray(3000, 3100))).not.toBe(a.payload);
});
