import { client, connectPacket, endpoint, raw } from '../helpers';
import { pingRoundTrip } from '../sync';

describe('QoS 2 (AWS IoT supports QoS 0 and 1 only)', () => {
  test('a QoS 2 PUBLISH gets no PUBACK, is not delivered, and the connection stays up (qos2: "ignore", the default)', async () => {
    const iot = await endpoint();
    const sub = await client(iot, 'sub');
    await sub.subscribeAsync('q2', { qos: 1 });
    const r = await raw(iot);
    await r.connect('q2-pub');
    r.send({ cmd: 'publish', topic: 'q2', payload: 'two', qos: 2, messageId: 9, dup: false, retain: false });
    await iot.trace.waitFor({ event: 'ignored', clientId: 'q2-pub', rule: 'aws.qos2' });
    // The connection still works: a QoS 1 publish after it goes through.
    r.send({ cmd: 'publish', topic: 'q2', payload: 'one', qos: 1, messageId: 10, dup: false, retain: false });
    await r.next('puback');
    await iot.trace.waitFor({ direction: 'in', clientId: 'sub', packet: { cmd: 'puback' } });
    expect(sub.received.map((m) => m.payload)).toEqual(['one']);
    expect(r.received.map((p) => p.cmd)).toEqual(['connack', 'puback']);
  });

  test('a SUBSCRIBE asking for QoS 2 gets no SUBACK and subscribes nothing', async () => {
    const iot = await endpoint();
    const r = await raw(iot);
    await r.connect('q2-sub');
    r.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a', qos: 1 }, { topic: 'b', qos: 2 }] });
    await iot.trace.waitFor({ event: 'ignored', clientId: 'q2-sub', rule: 'aws.qos2' });
    r.send({ cmd: 'pingreq' });
    await r.next('pingresp');
    expect(r.received.map((p) => p.cmd)).toEqual(['connack', 'pingresp']);
    expect(iot.clients()[0]!.subscriptions).toEqual([]);
  });

  test.each([
    ['PUBLISH', { cmd: 'publish', topic: 'q2', payload: 'two', qos: 2, messageId: 9, dup: false, retain: false }],
    ['SUBSCRIBE', { cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'b', qos: 2 }] }],
  ] as const)('with qos2: "disconnect", a QoS 2 %s closes the connection', async (_name, packet) => {
    const iot = await endpoint({ qos2: 'disconnect' });
    const r = await raw(iot);
    await r.connect('strict');
    r.send(packet as never);
    await r.closed;
    await iot.trace.waitFor({ event: 'violation', clientId: 'strict', rule: 'aws.qos2' });
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'strict', reason: 'CLIENT_ERROR' });
  });

  test('a will with QoS 2 fails the CONNECT: closed without CONNACK', async () => {
    const iot = await endpoint();
    const r = await raw(iot);
    r.send(connectPacket('w2', { will: { topic: 'w', payload: Buffer.from('x'), qos: 2, retain: false } }));
    await r.closed;
    expect(r.received).toEqual([]);
    await iot.trace.waitFor({ event: 'violation', rule: 'aws.qos2' });
  });
});

describe('retained messages (classic profile: not supported)', () => {
  test('a PUBLISH with RETAIN closes the connection and stores nothing', async () => {
    const iot = await endpoint({ profile: 'classic' });
    const pub = await client(iot, 'retainer');
    const closed = new Promise<void>((resolve) => pub.once('close', () => resolve()));
    pub.publish('r/1', 'keep me', { qos: 0, retain: true });
    await closed;
    await iot.trace.waitFor({ event: 'violation', clientId: 'retainer', rule: 'aws.retain' });
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'retainer', reason: 'CLIENT_ERROR' });
    // Nothing was stored: a later subscriber gets nothing.
    const sub = await client(iot, 'late');
    await sub.subscribeAsync('r/1', { qos: 1 });
    await pingRoundTrip(iot, 'late', sub);
    expect(iot.trace.filter({ direction: 'out', clientId: 'late', packet: { cmd: 'publish' } })).toEqual([]);
    expect(sub.received).toEqual([]);
  });

  test('a CONNECT whose will has Will Retain is closed without CONNACK', async () => {
    const iot = await endpoint({ profile: 'classic' });
    const r = await raw(iot);
    r.send(connectPacket('wr', { will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: true } }));
    await r.closed;
    expect(r.received).toEqual([]);
    await iot.trace.waitFor({ event: 'violation', clientId: 'wr', rule: 'aws.retain' });
  });

  test('with retain: "ignore", a RETAIN publish is delivered with RETAIN cleared and not stored', async () => {
    const iot = await endpoint({ retain: 'ignore' });
    const sub = await client(iot, 'sub');
    await sub.subscribeAsync('r/2', { qos: 1 });
    const pub = await client(iot, 'pub');
    await pub.publishAsync('r/2', 'kept?', { qos: 1, retain: true });
    await iot.trace.waitFor({ direction: 'in', clientId: 'sub', packet: { cmd: 'puback' } });
    expect(sub.received[0]!.packet.retain).toBe(false);
    const late = await client(iot, 'late');
    await late.subscribeAsync('r/2', { qos: 1 });
    // A retained message would follow the SUBACK; the answer to a later PINGREQ comes after it.
    await pingRoundTrip(iot, 'late', late);
    expect(iot.trace.filter({ direction: 'out', clientId: 'late', packet: { cmd: 'publish' } })).toEqual([]);
    expect(late.received).toEqual([]);
  });
});
