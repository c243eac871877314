/**
 * Retained messages in the current profile, with AWS's rules (aws-iot-behaviour.md §1.7), against MQTT.js
 * (MQTT 3.1.1 over TCP) and raw sockets. The classic profile's "retain → disconnect" is in qos2-retain.test.ts.
 */
import { FakeIotError } from '../../src';
import { client, connectPacket, endpoint, raw } from '../helpers';
import { pingRoundTrip } from '../sync';

const current = { profile: 'current' } as const;

describe('retained messages (profile current)', () => {
  test('stored on a RETAIN publish and delivered on SUBSCRIBE only to an exact-topic filter, never to wildcards', async () => {
    const iot = await endpoint(current);
    const pub = await client(iot, 'pub');
    await pub.publishAsync('home/kitchen/temp', '21.5', { qos: 1, retain: true });
    expect(iot.retained.get('home/kitchen/temp')).toMatchObject({ topic: 'home/kitchen/temp', qos: 1 });

    const exact = await client(iot, 'exact');
    await exact.subscribeAsync('home/kitchen/temp', { qos: 1 });
    const [got] = await exact.receivedCount(1);
    expect(got!.payload).toBe('21.5');
    expect(got!.packet.retain).toBe(true);
    expect(got!.packet.qos).toBe(1);

    const wild = await client(iot, 'wild');
    await wild.subscribeAsync(['home/+/temp', 'home/#', '+/kitchen/temp'], { qos: 1 });
    await pingRoundTrip(iot, 'wild', wild);
    expect(wild.received).toEqual([]);

    // Later live publishes still reach the wildcard filters.
    await pub.publishAsync('home/kitchen/temp', '22', { qos: 1 });
    await wild.receivedCount(1);
    expect(wild.received.map((m) => [m.payload, m.packet.retain])).toEqual([['22', false]]);
  });

  test('the retained copy comes at the lower of the stored QoS and the granted QoS', async () => {
    const iot = await endpoint(current);
    const pub = await client(iot, 'pub');
    await pub.publishAsync('q/one', 'x', { qos: 1, retain: true });
    await pub.publishAsync('q/zero', 'y', { qos: 0, retain: true });
    await iot.trace.waitFor({ event: 'retained-stored', topic: 'q/zero' });
    const sub = await client(iot, 'sub');
    await sub.subscribeAsync({ 'q/one': { qos: 0 }, 'q/zero': { qos: 1 } });
    await sub.receivedCount(2);
    expect(sub.received.map((m) => [m.topic, m.packet.qos, m.packet.retain]).sort()).toEqual([['q/one', 0, true], ['q/zero', 0, true]]);
  });

  test('one message per topic: the newest replaces the older', async () => {
    const iot = await endpoint(current);
    const pub = await client(iot, 'pub');
    await pub.publishAsync('t', 'first', { qos: 1, retain: true });
    await pub.publishAsync('t', 'second', { qos: 1, retain: true });
    await iot.trace.waitFor({ event: 'retained-stored', topic: 't', replaced: true, count: 1 });
    const sub = await client(iot, 'sub');
    await sub.subscribeAsync('t', { qos: 1 });
    await sub.receivedCount(1);
    await pingRoundTrip(iot, 'sub', sub);
    expect(sub.received.map((m) => m.payload)).toEqual(['second']);
    expect(iot.retained.list()).toEqual([{ topic: 't', payloadSize: 6, qos: 1, lastModifiedTime: expect.any(Number) }]);
  });

  test('a RETAIN publish with an empty payload deletes the stored message, and is still forwarded (RETAIN cleared)', async () => {
    const iot = await endpoint(current);
    const pub = await client(iot, 'pub');
    await pub.publishAsync('dev/1/state', 'on', { qos: 1, retain: true });
    const live = await client(iot, 'live');
    await live.subscribeAsync('dev/1/state', { qos: 1 });
    await live.receivedCount(1); // the retained copy

    await pub.publishAsync('dev/1/state', '', { qos: 1, retain: true });
    await iot.trace.waitFor({ event: 'retained-deleted', topic: 'dev/1/state', clientId: 'pub', origin: 'client', count: 0 });
    const [, forwarded] = await live.receivedCount(2);
    expect(forwarded!.payload).toBe('');
    expect(forwarded!.packet.retain).toBe(false);
    expect(iot.retained.get('dev/1/state')).toBeUndefined();
    expect(iot.retained.list()).toEqual([]);

    // Gone: a new subscriber gets nothing.
    const late = await client(iot, 'late');
    await late.subscribeAsync('dev/1/state', { qos: 1 });
    await pingRoundTrip(iot, 'late', late);
    expect(late.received).toEqual([]);
  });

  test('RETAIN is set only on the copy a new subscription causes; live forwards clear it; a repeated SUBSCRIBE gets it again', async () => {
    const iot = await endpoint(current);
    const sub = await client(iot, 'sub');
    await sub.subscribeAsync('flag', { qos: 1 });
    const pub = await client(iot, 'pub');
    await pub.publishAsync('flag', 'live', { qos: 1, retain: true });
    await sub.receivedCount(1);
    expect(sub.received[0]!.packet.retain).toBe(false);

    await sub.subscribeAsync('flag', { qos: 1 }); // [MQTT-3.8.4-3]: the subscription is replaced, retained re-sent
    await sub.receivedCount(2);
    expect(sub.received[1]).toMatchObject({ payload: 'live', packet: { retain: true } });
    const out = iot.trace.filter({ direction: 'out', clientId: 'sub', packet: { cmd: 'publish' } });
    expect(out.map((e) => (e.packet as { retain: boolean }).retain)).toEqual([false, true]);
  });

  test('the retained copy comes after the SUBACK', async () => {
    const iot = await endpoint(current);
    iot.publish('order', 'kept', { qos: 1, retain: true });
    const r = await raw(iot);
    await r.connect('raw-sub');
    r.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'order', qos: 1 }] });
    await r.next('publish');
    expect(r.received.map((p) => p.cmd)).toEqual(['connack', 'suback', 'publish']);
    expect(r.received[2]).toMatchObject({ topic: 'order', retain: true, qos: 1 });
  });

  test('Will Retain is honoured: the will is stored as its topic\'s retained message', async () => {
    const iot = await endpoint(current);
    const r = await raw(iot);
    await r.connect('dying', { will: { topic: 'status/dying', payload: Buffer.from('offline'), qos: 1, retain: true } });
    r.socket.destroy();
    await iot.trace.waitFor({ event: 'retained-stored', topic: 'status/dying', origin: 'will', clientId: 'dying' });
    const sub = await client(iot, 'watcher');
    await sub.subscribeAsync('status/dying', { qos: 1 });
    const [got] = await sub.receivedCount(1);
    expect(got).toMatchObject({ payload: 'offline', packet: { retain: true, qos: 1 } });
  });

  test('RETAIN on a reserved ($) topic closes the connection (reservedRetain: "disconnect", the default)', async () => {
    const iot = await endpoint(current);
    const pub = await client(iot, 'shadow-pub');
    const closed = new Promise<void>((resolve) => pub.once('close', () => resolve()));
    pub.publish('$aws/things/t1/shadow/update', '{}', { qos: 1, retain: true });
    await closed;
    await iot.trace.waitFor({ event: 'violation', clientId: 'shadow-pub', rule: 'aws.reserved-retain' });
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'shadow-pub', reason: 'CLIENT_ERROR' });
    expect(iot.retained.list()).toEqual([]);
  });

  test('a will with Will Retain on a reserved topic fails the CONNECT', async () => {
    const iot = await endpoint(current);
    const r = await raw(iot);
    r.send(connectPacket('w$', { will: { topic: '$aws/things/t1/shadow/update', payload: Buffer.from('{}'), qos: 0, retain: true } }));
    await r.closed;
    expect(r.received).toEqual([]);
    await iot.trace.waitFor({ event: 'violation', clientId: 'w$', rule: 'aws.reserved-retain' });
  });

  test('with reservedRetain: "ignore", RETAIN on a reserved topic is delivered and nothing is stored', async () => {
    const iot = await endpoint({ ...current, reservedRetain: 'ignore' });
    const sub = await client(iot, 'sub');
    await sub.subscribeAsync('$aws/things/t1/shadow/#', { qos: 1 });
    const pub = await client(iot, 'pub');
    await pub.publishAsync('$aws/things/t1/shadow/update', '{}', { qos: 1, retain: true });
    const [got] = await sub.receivedCount(1);
    expect(got!.packet.retain).toBe(false);
    expect(iot.retained.list()).toEqual([]);
    expect(iot.trace.filter({ event: 'retained-stored' })).toEqual([]);
  });

  test('the account quota: when full, a non-empty RETAIN publish is throttled (not stored, not delivered, no PUBACK) until the count drops', async () => {
    const iot = await endpoint({ ...current, limits: { maxRetainedMessages: 2 } });
    const sub = await client(iot, 'sub');
    await sub.subscribeAsync('k/#', { qos: 1 });
    const r = await raw(iot);
    await r.connect('pub');
    const publish = (topic: string, payload: string, messageId: number) => r.send({ cmd: 'publish', topic, payload, qos: 1, messageId, dup: false, retain: true });
    publish('k/a', 'A', 1);
    publish('k/b', 'B', 2);
    await r.count('puback', 2);
    publish('k/c', 'C', 3);
    await iot.trace.waitFor({ event: 'throttled', clientId: 'pub', limit: 'maxRetainedMessages', direction: 'in', action: 'discarded', topic: 'k/c' });
    // Replacing a stored topic's message does not add to the count: allowed.
    publish('k/a', 'A2', 4);
    await r.count('puback', 3);
    expect(r.received.filter((p) => p.cmd === 'puback').map((p) => (p as { messageId: number }).messageId)).toEqual([1, 2, 4]);
    // Deleting one makes room.
    publish('k/b', '', 5);
    publish('k/c', 'C', 6);
    await iot.trace.waitFor({ event: 'retained-stored', topic: 'k/c' });
    await sub.receivedCount(5);
    await pingRoundTrip(iot, 'sub', sub);
    expect(sub.received.map((m) => m.payload)).toEqual(['A', 'B', 'A2', '', 'C']);
    expect(iot.retained.list().map((m) => m.topic)).toEqual(['k/a', 'k/c']);
    // The cloud side is throttled too.
    const error = (() => {
      try {
        iot.publish('k/d', 'D', { retain: true });
      } catch (e) {
        return e as FakeIotError;
      }
    })();
    expect(error).toBeInstanceOf(FakeIotError);
    expect(error!.code).toBe('THROTTLED');
    expect(error!.message).toMatch(/limits\.maxRetainedMessages: 2/);
  });

  test('the store is bounded in bytes too (limits.maxRetainedBytes); retainedQuota: "disconnect" closes the connection (THROTTLED)', async () => {
    const iot = await endpoint({ ...current, retainedQuota: 'disconnect', limits: { maxRetainedBytes: 100 } });
    const pub = await client(iot, 'pub');
    await pub.publishAsync('b/1', 'x'.repeat(60), { qos: 1, retain: true });
    const closed = new Promise<void>((resolve) => pub.once('close', () => resolve()));
    pub.publish('b/2', 'y'.repeat(60), { qos: 1, retain: true });
    await closed;
    await iot.trace.waitFor({ event: 'throttled', clientId: 'pub', limit: 'maxRetainedBytes', action: 'disconnected' });
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'pub', reason: 'THROTTLED' });
    expect(iot.retained.list().map((m) => m.topic)).toEqual(['b/1']);
  });

  test('iot.retained.get()/list() and iot.publish(..., { retain: true }) from the cloud side', async () => {
    const iot = await endpoint({ ...current, clock: 'virtual' });
    const t0 = iot.clock.now();
    iot.publish('cfg/b', Buffer.from([1, 2, 3]), { qos: 1, retain: true });
    iot.clock.advance(5000);
    iot.publish('cfg/a', 'hello', { retain: true });
    expect(iot.retained.get('cfg/b')).toEqual({ topic: 'cfg/b', payload: Buffer.from([1, 2, 3]), qos: 1, lastModifiedTime: t0 });
    expect(iot.retained.get('cfg/none')).toBeUndefined();
    expect(iot.retained.list()).toEqual([
      { topic: 'cfg/a', payloadSize: 5, qos: 0, lastModifiedTime: t0 + 5000 },
      { topic: 'cfg/b', payloadSize: 3, qos: 1, lastModifiedTime: t0 },
    ]);
    await iot.trace.waitFor({ event: 'retained-stored', topic: 'cfg/a', origin: 'api', count: 2 });
    // What get() returns is a copy: changing it changes nothing stored.
    iot.retained.get('cfg/b')!.payload[0] = 9;
    expect(iot.retained.get('cfg/b')!.payload).toEqual(Buffer.from([1, 2, 3]));
    expect(() => iot.publish('$aws/things/x/shadow/update', '{}', { retain: true })).toThrow(/reserved/);
    iot.publish('cfg/a', '', { retain: true });
    expect(iot.retained.list().map((m) => m.topic)).toEqual(['cfg/b']);
  });

  test('classic profile: nothing is stored, and iot.publish with retain is refused', async () => {
    const iot = await endpoint({ profile: 'classic' });
    expect(() => iot.publish('t', 'x', { retain: true })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/does not store retained messages/) }));
    expect(iot.retained.list()).toEqual([]);
    expect(iot.retained.get('t')).toBeUndefined();
  });

  test('retained messages live as long as the endpoint, across the publisher\'s and subscribers\' connections', async () => {
    const iot = await endpoint(current);
    const pub = await client(iot, 'pub');
    await pub.publishAsync('keep', 'me', { qos: 1, retain: true });
    await pub.endAsync();
    for (const id of ['s1', 's2']) {
      const sub = await client(iot, id);
      await sub.subscribeAsync('keep', { qos: 0 });
      const [got] = await sub.receivedCount(1);
      expect(got).toMatchObject({ payload: 'me', packet: { retain: true, qos: 0 } });
      await sub.endAsync();
    }
  });
});
