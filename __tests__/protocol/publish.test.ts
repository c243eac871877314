import { client, endpoint, raw } from '../helpers';

describe('PUBLISH, PUBACK, SUBSCRIBE, UNSUBSCRIBE, PING', () => {
  test('QoS 1 PUBLISH is acknowledged with PUBACK and delivered', async () => {
    const iot = await endpoint();
    const sub = await client(iot, 'sub');
    await sub.subscribeAsync('t/1', { qos: 1 });
    const pub = await client(iot, 'pub');
    const sent = await pub.publishAsync('t/1', 'hello', { qos: 1 });
    await iot.trace.waitFor({ direction: 'out', clientId: 'pub', packet: { cmd: 'puback', messageId: sent!.messageId } });
    await iot.trace.waitFor({ direction: 'in', clientId: 'sub', packet: { cmd: 'puback' } });
    expect(sub.received).toEqual([expect.objectContaining({ topic: 't/1', payload: 'hello' })]);
    expect(sub.received[0]!.packet.qos).toBe(1);
  });

  test('QoS 0 PUBLISH gets no PUBACK and is delivered', async () => {
    const iot = await endpoint();
    const sub = await client(iot, 'sub');
    await sub.subscribeAsync('t/0', { qos: 1 });
    const pub = await client(iot, 'pub');
    await pub.publishAsync('t/0', 'zero', { qos: 0 });
    await iot.trace.waitFor({ direction: 'out', clientId: 'sub', packet: { cmd: 'publish', topic: 't/0' } });
    expect(iot.trace.filter({ direction: 'out', clientId: 'pub', packet: { cmd: 'puback' } })).toEqual([]);
  });

  test.each([
    [0, 0, 0],
    [0, 1, 0],
    [1, 0, 0],
    [1, 1, 1],
  ] as const)('published at QoS %i to a QoS %i subscription is delivered at QoS %i', async (pubQos, subQos, delivered) => {
    const iot = await endpoint();
    const sub = await client(iot, 'sub');
    const granted = await sub.subscribeAsync('q', { qos: subQos });
    expect(granted[0]!.qos).toBe(subQos);
    const pub = await client(iot, 'pub');
    await pub.publishAsync('q', 'x', { qos: pubQos });
    const out = await iot.trace.waitFor({ direction: 'out', clientId: 'sub', packet: { cmd: 'publish' } });
    expect(out).toMatchObject({ packet: { qos: delivered } });
  });

  test('the broker ignores an inbound DUP flag and never sets DUP on what it sends', async () => {
    const iot = await endpoint();
    const sub = await client(iot, 'sub');
    await sub.subscribeAsync('d', { qos: 1 });
    const r = await raw(iot);
    await r.connect('dup-sender');
    r.send({ cmd: 'publish', topic: 'd', payload: 'first', qos: 1, messageId: 5, dup: false, retain: false });
    r.send({ cmd: 'publish', topic: 'd', payload: 'first', qos: 1, messageId: 5, dup: true, retain: false });
    const delivered = () => iot.trace.filter({ direction: 'out', clientId: 'sub', packet: { cmd: 'publish' } });
    await iot.trace.waitFor(() => delivered().length === 2);
    const outs = delivered();
    expect(outs.every((e) => e.kind === 'packet' && e.packet.cmd === 'publish' && e.packet.dup === false)).toBe(true);
    expect(iot.trace.filter({ direction: 'out', clientId: 'dup-sender', packet: { cmd: 'puback', messageId: 5 } })).toHaveLength(2);
  });

  test('UNSUBSCRIBE is answered with UNSUBACK and stops delivery', async () => {
    const iot = await endpoint();
    const sub = await client(iot, 'sub');
    await sub.subscribeAsync(['u/a', 'u/b'], { qos: 1 });
    await sub.unsubscribeAsync('u/a');
    await iot.trace.waitFor({ direction: 'out', clientId: 'sub', packet: { cmd: 'unsuback' } });
    expect(iot.clients()[0]!.subscriptions).toEqual([{ topic: 'u/b', qos: 1 }]);
    iot.publish('u/a', 'not for you', { qos: 1 });
    iot.publish('u/b', 'for you', { qos: 1 });
    await iot.trace.waitFor({ direction: 'in', clientId: 'sub', packet: { cmd: 'puback' } });
    expect(sub.received.map((m) => m.payload)).toEqual(['for you']);
  });

  test('PINGREQ is answered with PINGRESP', async () => {
    const iot = await endpoint();
    const r = await raw(iot);
    await r.connect('pinger');
    r.send({ cmd: 'pingreq' });
    await r.next('pingresp');
    await iot.trace.waitFor({ direction: 'out', clientId: 'pinger', packet: { cmd: 'pingresp' } });
  });

  test('iot.publish() delivers a cloud-side message like any other and traces it', async () => {
    const iot = await endpoint();
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync('cmd/dev-1', { qos: 1 });
    iot.publish('cmd/dev-1', JSON.stringify({ reboot: true }), { qos: 1 });
    await iot.trace.waitFor({ event: 'publish', origin: 'api', topic: 'cmd/dev-1' });
    await iot.trace.waitFor({ direction: 'in', clientId: 'dev-1', packet: { cmd: 'puback' } });
    expect(JSON.parse(dev.received[0]!.payload)).toEqual({ reboot: true });
  });
});

