import { client, connectPacket, endpoint, raw } from '../helpers';
import { deliveries, text } from './helpers';

const N = 300;
/**
 * Tests that push N messages to one client at once: AWS's 100 PUBLISH/s per connection would discard the
 * excess, and these tests measure chaos rates, so the rate limits are lifted.
 */
const BURST = { throttles: false } as const;

describe('duplicateQos0 — AWS: a QoS 0 message may be delivered more than once, DUP not set', () => {
  test('copies arrive at the client, right after the original, without DUP, at about the configured rate', async () => {
    const iot = await endpoint({ seed: 42, chaos: { duplicateQos0: { probability: 0.2, maxCopies: 2 } } , ...BURST });
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync('cmd/#', { qos: 0 });
    for (let i = 0; i < N; i++) iot.publish('cmd/x', `m${i}`, { qos: 0 });
    const decisions = iot.chaos.log();
    const copies = decisions.reduce((sum, d) => sum + d.copies!, 0);
    await dev.receivedCount(N + copies);

    // Rate: 300 draws at p = 0.2 (mean 60, sd ≈ 7).
    expect(decisions.length).toBeGreaterThan(35);
    expect(decisions.length).toBeLessThan(85);
    expect(decisions.every((d) => d.fault === 'duplicateQos0' && d.copies! >= 1 && d.copies! <= 2 && d.source === 'random')).toBe(true);
    expect(new Set(decisions.map((d) => d.copies))).toEqual(new Set([1, 2]));

    // What the client saw: every message, some more than once, never with DUP.
    expect(new Set(dev.received.map((m) => m.payload)).size).toBe(N);
    expect(dev.received.every((m) => m.packet.dup === false && m.packet.qos === 0)).toBe(true);

    // The trace tags each copy with the fault and the seq of the original.
    const out = deliveries(iot, 'dev-1');
    const tagged = out.filter((e) => e.chaos?.fault === 'duplicateQos0');
    expect(tagged).toHaveLength(copies);
    for (const copy of tagged) {
      const original = out.find((e) => e.seq === copy.chaos!.of)!;
      expect(text(original)).toBe(text(copy));
      expect(original.chaos).toBeUndefined();
    }
  });

  test('QoS 1 deliveries are never duplicated by this knob', async () => {
    const iot = await endpoint({ seed: 1, chaos: { duplicateQos0: { probability: 1 } } });
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync('t', { qos: 1 });
    for (let i = 0; i < 20; i++) iot.publish('t', `m${i}`, { qos: 1 });
    await iot.trace.waitFor(() => deliveries(iot, 'dev-1').length === 20);
    expect(iot.chaos.log()).toEqual([]);
  });
});

describe('resendWithNewPacketId — AWS: the same logical PUBLISH may be re-sent with a different packet id', () => {
  test('QoS 1: the copy has a new packet id, no DUP, and both copies are acknowledged', async () => {
    const iot = await endpoint({ seed: 7, chaos: { resendWithNewPacketId: { probability: 0.1, minDelayMs: 0, maxDelayMs: 20 } } , ...BURST });
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync('cmd/#', { qos: 1 });
    for (let i = 0; i < N; i++) iot.publish('cmd/x', `m${i}`, { qos: 1 });
    // At most 100 QoS 1 messages are in flight at once: wait until every original went out.
    await iot.trace.waitFor(() => deliveries(iot, 'dev-1').filter((e) => !e.chaos).length === N);
    const decisions = iot.chaos.log();
    await dev.receivedCount(N + decisions.length);
    const pubacks = () => iot.trace.filter({ direction: 'in', clientId: 'dev-1', packet: { cmd: 'puback' } }).length;
    await iot.trace.waitFor(() => pubacks() === N + decisions.length);

    // Rate: 300 draws at p = 0.1 (mean 30, sd ≈ 5.2).
    expect(decisions.length).toBeGreaterThan(12);
    expect(decisions.length).toBeLessThan(50);
    expect(decisions.every((d) => d.delayMs! >= 0 && d.delayMs! <= 20)).toBe(true);

    const out = deliveries(iot, 'dev-1');
    const resent = out.filter((e) => e.chaos?.fault === 'resendWithNewPacketId');
    expect(resent).toHaveLength(decisions.length);
    for (const copy of resent) {
      const original = out.find((e) => e.seq === copy.chaos!.of)!;
      expect(text(copy)).toBe(text(original));
      expect(copy.packet.messageId).not.toBe(original.packet.messageId);
      expect(copy.packet.dup).toBe(false);
    }
    // MQTT.js hands both copies to the application: it cannot tell them apart.
    expect(dev.received).toHaveLength(N + decisions.length);
  });

  test('QoS 0: the delivery is sent again later', async () => {
    const iot = await endpoint({ seed: 3, clock: 'virtual', chaos: { resendWithNewPacketId: { probability: 1, minDelayMs: 100, maxDelayMs: 100 } } });
    const r = await raw(iot);
    await r.connect('dev-0');
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 0 }] });
    await r.next('suback');
    iot.publish('t', 'once?', { qos: 0 });
    await r.next('publish');
    expect(deliveries(iot, 'dev-0')).toHaveLength(1);
    iot.clock.advance(99);
    expect(deliveries(iot, 'dev-0')).toHaveLength(1);
    iot.clock.advance(1);
    expect(deliveries(iot, 'dev-0').map((e) => e.chaos?.fault)).toEqual([undefined, 'resendWithNewPacketId']);
  });
});

describe('subscriptionDelay — AWS: a delay between SUBACK and the first matching message', () => {
  test('SUBACK comes at once; messages published before the delay ends are not delivered; after it they are', async () => {
    const iot = await endpoint({ seed: 5, clock: 'virtual', chaos: { subscriptionDelay: { minMs: 300, maxMs: 300 } } });
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync('cmd/dev-1', { qos: 1 }); // resolves: SUBACK was sent at once
    iot.publish('cmd/dev-1', 'too early', { qos: 1 });
    iot.clock.advance(299);
    iot.publish('cmd/dev-1', 'still too early', { qos: 1 });
    expect(iot.trace.find({ event: 'subscription-active', clientId: 'dev-1' })).toBeUndefined();
    iot.clock.advance(1);
    const active = await iot.trace.waitFor({ event: 'subscription-active', clientId: 'dev-1', topic: 'cmd/dev-1' });
    expect(active).toMatchObject({ delayedMs: 300, chaos: { fault: 'subscriptionDelay', decision: 0 } });
    iot.publish('cmd/dev-1', 'on time', { qos: 1 });
    await iot.trace.waitFor({ direction: 'in', clientId: 'dev-1', packet: { cmd: 'puback' } });
    expect(dev.received.map((m) => m.payload)).toEqual(['on time']);
  });

  test('delays are drawn from [minMs, maxMs] for every new subscription', async () => {
    const iot = await endpoint({ seed: 9, chaos: { subscriptionDelay: { minMs: 10, maxMs: 60 } } });
    const dev = await client(iot, 'dev-1');
    for (let i = 0; i < 40; i += 8) await dev.subscribeAsync(Array.from({ length: 8 }, (_, j) => `s/${i + j}`), { qos: 0 });
    const delays = iot.chaos.log().map((d) => d.delayMs!);
    expect(delays).toHaveLength(40);
    expect(delays.every((d) => d >= 10 && d <= 60)).toBe(true);
    expect(new Set(delays).size).toBeGreaterThan(10);
    await iot.trace.waitFor(() => iot.trace.filter({ event: 'subscription-active' }).length === 40, { timeoutMs: 3000 });
  });
});

describe('reorder — AWS: no guarantee of the order of messages and ACKs', () => {
  test('held packets are overtaken; nothing is lost; about the configured share is held', async () => {
    const iot = await endpoint({ seed: 11, clock: 'virtual', chaos: { reorder: { probability: 0.3, maxHoldMs: 50 } } , ...BURST });
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync('seq', { qos: 0 });
    iot.clock.advance(50); // the SUBACK may itself have been held
    for (let i = 0; i < N; i++) iot.publish('seq', String(i), { qos: 0 });
    iot.clock.advance(50);
    await dev.receivedCount(N);

    const held = iot.chaos.log().filter((d) => d.cmd === 'publish');
    expect(held.length).toBeGreaterThan(60); // mean 90, sd ≈ 8
    expect(held.length).toBeLessThan(120);
    const order = dev.received.map((m) => Number(m.payload));
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(order).not.toEqual(Array.from({ length: N }, (_, i) => i));
    const tagged = deliveries(iot, 'dev-1').filter((e) => e.chaos?.fault === 'reorder');
    expect(tagged).toHaveLength(held.length);
    expect(tagged.every((e) => e.chaos!.heldMs! >= 1 && e.chaos!.heldMs! <= 50)).toBe(true);
  });

  test('ACKs can be held too: a PUBACK arrives after a later one', async () => {
    const iot = await endpoint({ seed: 2, clock: 'virtual', chaos: { script: [{ fault: 'reorder', client: 'pub', nth: 1, holdMs: 40 }] } });
    const r = await raw(iot);
    await r.connect('pub');
    r.send({ cmd: 'publish', topic: 'a', payload: '1', qos: 1, messageId: 1, dup: false, retain: false });
    r.send({ cmd: 'publish', topic: 'a', payload: '2', qos: 1, messageId: 2, dup: false, retain: false });
    await r.next('puback');
    iot.clock.advance(40);
    const acks = await r.count('puback', 2);
    expect(acks.map((p) => p.messageId)).toEqual([2, 1]);
  });
});

describe('latency, dropConnection, takeover', () => {
  test('latency delays every outgoing packet and keeps their order', async () => {
    const iot = await endpoint({ seed: 4, clock: 'virtual', chaos: { latency: { minMs: 5, maxMs: 80 } } });
    const r = await raw(iot);
    r.send(connectPacket('slow-link'));
    await r.next('connack'); // CONNACK is never delayed
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 0 }] });
    await iot.trace.waitFor({ direction: 'in', packet: { cmd: 'subscribe' } });
    expect(iot.trace.find({ direction: 'out', packet: { cmd: 'suback' } })).toBeUndefined();
    iot.clock.advance(80);
    await r.next('suback');
    for (let i = 0; i < 50; i++) iot.publish('t', String(i));
    iot.clock.advance(80 * 50);
    const got = await r.count('publish', 50);
    expect(got.map((p) => (p.payload as Buffer).toString())).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    expect(deliveries(iot, 'slow-link').every((e) => e.chaos?.fault === 'latency' && e.chaos.heldMs! >= 5)).toBe(true);
  });

  test('dropConnection { afterPackets } closes the connection after that many packets from the client (SERVER_INITIATED_DISCONNECT, will published)', async () => {
    const iot = await endpoint({ seed: 1, chaos: { dropConnection: { afterPackets: 3 } } });
    const dev = await client(iot, 'dev-1', { will: { topic: 'wills/dev-1', payload: Buffer.from('bye'), qos: 0, retain: false } });
    const closed = new Promise<void>((resolve) => dev.once('close', () => resolve()));
    for (let i = 0; i < 5; i++) dev.publish('t', String(i));
    await closed;
    const gone = await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' });
    expect(gone).toMatchObject({ reason: 'SERVER_INITIATED_DISCONNECT', willPublished: true, chaos: { fault: 'dropConnection', decision: 0 } });
    expect(iot.trace.filter({ direction: 'in', clientId: 'dev-1', packet: { cmd: 'publish' } })).toHaveLength(3);
  });

  test.each([
    ['dropConnection', 'SERVER_INITIATED_DISCONNECT'],
    ['takeover', 'DUPLICATE_CLIENTID'],
  ] as const)('%s { probability } ends about that share of connections after one packet each', async (fault, reason) => {
    const iot = await endpoint({ seed: 13, chaos: { [fault]: { probability: 0.3 } } });
    for (let i = 0; i < 100; i++) {
      const r = await raw(iot);
      await r.connect(`dev-${i}`);
      r.send({ cmd: 'pingreq' });
    }
    await iot.trace.waitFor(() => iot.trace.filter({ direction: 'in', packet: { cmd: 'pingreq' } }).length === 100);
    const ended = iot.trace.filter({ event: 'disconnect', reason, chaos: { fault } }).length;
    expect(ended).toBe(iot.chaos.log().length);
    expect(ended).toBeGreaterThan(15); // mean 30, sd ≈ 4.6
    expect(ended).toBeLessThan(45);
  });

  test('takeover: a phantom connection with the same client id takes over (DUPLICATE_CLIENTID)', async () => {
    const iot = await endpoint({ seed: 1, chaos: { takeover: { afterPackets: 1 } } });
    const dev = await client(iot, 'dev-1');
    const closed = new Promise<void>((resolve) => dev.once('close', () => resolve()));
    dev.publish('t', 'x');
    await closed;
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1', reason: 'DUPLICATE_CLIENTID', chaos: { fault: 'takeover' } });
  });
});
