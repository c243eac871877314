/**
 * iot.settled(): the one wait a test needs under chaos, instead of a sleep.
 */
import { deliveries } from '../chaos/helpers';
import { client, endpoint, raw } from '../helpers';

describe('iot.settled()', () => {
  test('waits for chaos re-sends and held packets on the real clock: the copies are in the trace when it resolves', async () => {
    const iot = await endpoint({
      seed: 11,
      chaos: { resendWithNewPacketId: { probability: 1, minDelayMs: 30, maxDelayMs: 60 }, reorder: { probability: 0.5, maxHoldMs: 40 } },
    });
    const sub = await client(iot, 'dev-s');
    await sub.subscribeAsync('t/#', { qos: 1 });
    for (let i = 0; i < 5; i++) iot.publish(`t/${i}`, `m${i}`, { qos: 1 });
    await iot.settled();
    // Every message was sent once and re-sent once, and the client acknowledged all ten.
    const out = deliveries(iot, 'dev-s');
    expect(out.filter((e) => e.chaos?.fault === 'resendWithNewPacketId')).toHaveLength(5);
    expect(out).toHaveLength(10);
    expect(iot.clients()[0]).toMatchObject({ inflight: 0, queued: 0 });
  });

  test('with the virtual clock only what is due counts: a packet held in the virtual future does not block it', async () => {
    const iot = await endpoint({ seed: 5, clock: 'virtual', chaos: { reorder: { probability: 1, maxHoldMs: 500 } } });
    const sub = await raw(iot);
    await sub.connect('dev-v');
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 0 }] });
    await iot.trace.waitFor({ event: 'subscription-active', clientId: 'dev-v' });
    iot.clock.advance(500); // the SUBACK was held too
    await iot.trace.waitFor({ direction: 'out', clientId: 'dev-v', packet: { cmd: 'suback' } });
    iot.publish('t', 'held');
    await iot.settled();
    expect(deliveries(iot, 'dev-v')).toHaveLength(0);
    iot.clock.advance(500);
    await iot.settled();
    expect(deliveries(iot, 'dev-v')).toHaveLength(1);
  });

  test('rejects with SETTLE_TIMEOUT, naming what is pending, when a client never acknowledges a QoS 1 message', async () => {
    const iot = await endpoint({ seed: 1 });
    const c = await raw(iot);
    await c.connect('no-ack');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'jobs', qos: 1 }] });
    await iot.trace.waitFor({ direction: 'out', clientId: 'no-ack', packet: { cmd: 'suback' } });
    iot.publish('jobs', 'job-1', { qos: 1 });
    await expect(iot.settled({ timeoutMs: 100 })).rejects.toMatchObject({
      code: 'SETTLE_TIMEOUT',
      message: expect.stringMatching(/no-ack: 1 QoS 1 message\(s\) not acknowledged[\s\S]*seed 1[\s\S]*PUBLISH/),
    });
    c.send({ cmd: 'puback', messageId: 1 });
    await iot.settled();
  });

  test('validates its options', async () => {
    const iot = await endpoint();
    await expect(iot.settled({ timeoutMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(iot.settled({ signal: {} as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('options.signal') });
  });

  test('options.signal gives the wait up with the signal\'s reason', async () => {
    const iot = await endpoint();
    const c = await raw(iot);
    await c.connect('never-acks');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 1 }] });
    await c.next('suback');
    iot.publish('t', 'x', { qos: 1 }); // never acknowledged: settled() would wait its whole timeout
    const controller = new AbortController();
    const wait = iot.settled({ timeoutMs: 60_000, signal: controller.signal });
    await c.next('publish');
    controller.abort(new Error('stop waiting'));
    await expect(wait).rejects.toThrow('stop waiting');
    await expect(iot.settled({ signal: controller.signal })).rejects.toThrow('stop waiting');
  });
});

describe('iot.settled() and chaos re-sends', () => {
  test('waits until the client has acknowledged the copies chaos re-sent with new packet ids', async () => {
    const iot = await endpoint({ seed: 2, chaos: { resendWithNewPacketId: { probability: 1, minDelayMs: 0, maxDelayMs: 0 } } });
    const c = await raw(iot);
    await c.connect('slow-acker');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'jobs', qos: 1 }] });
    await c.next('suback');
    iot.publish('jobs', 'job-1', { qos: 1 });
    const [original, copy] = await c.count('publish', 2);
    c.send({ cmd: 'puback', messageId: original!.messageId! }); // the copy is not acknowledged yet
    await iot.trace.waitFor({ direction: 'in', clientId: 'slow-acker', packet: { cmd: 'puback' } });
    await expect(iot.settled({ timeoutMs: 100 })).rejects.toMatchObject({ code: 'SETTLE_TIMEOUT', message: expect.stringContaining('chaos re-send(s) not acknowledged') });
    c.send({ cmd: 'puback', messageId: copy!.messageId! });
    await iot.settled();
  });
});
