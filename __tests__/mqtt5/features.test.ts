/**
 * MQTT 5 features AWS supports (aws-iot-behaviour.md §1.11), with real MQTT.js clients: topic aliases, Message
 * Expiry on the endpoint clock, User Properties in order, request/response, Receive Maximum and Maximum Packet
 * Size from the client, v3 ↔ v5 interop, retained and shared subscriptions with v5, chaos copies and
 * assertClientSurvives with a v5 client.
 */
import mqtt, { type IClientOptions } from 'mqtt';
import type { FakeIot } from '../../src';
import { assertClientSurvives } from '../../src/testing/fast-check';
import { client, endpoint, raw } from '../helpers';

const v5 = (iot: FakeIot, clientId: string, options: IClientOptions = {}) => client(iot, clientId, { protocolVersion: 5, ...options });

describe('topic aliases (limit 8)', () => {
  test('an alias set with a topic stands for it on later PUBLISHes; the trace shows the packets as sent', async () => {
    const iot = await endpoint({ profile: 'current' });
    const sub = await v5(iot, 'alias-sub');
    await sub.subscribeAsync('telemetry/dev-1', { qos: 1 });
    const pub = await v5(iot, 'alias-pub');
    await pub.publishAsync('telemetry/dev-1', 'first', { qos: 1, properties: { topicAlias: 3 } });
    await pub.publishAsync('', 'second', { qos: 1, properties: { topicAlias: 3 } });
    expect((await sub.receivedCount(2)).map((m) => [m.topic, m.payload])).toEqual([['telemetry/dev-1', 'first'], ['telemetry/dev-1', 'second']]);
    const sent = iot.trace.filter({ direction: 'in', clientId: 'alias-pub', packet: { cmd: 'publish' } });
    expect(sent.map((e) => [e.packet.topic, e.packet.properties?.topicAlias])).toEqual([['telemetry/dev-1', 3], ['', 3]]);
  });

  test('MQTT.js autoUseTopicAlias within the CONNACK maximum works', async () => {
    const iot = await endpoint({ profile: 'current' });
    const sub = await v5(iot, 'auto-sub');
    await sub.subscribeAsync('a/+', { qos: 0 });
    const pub = await v5(iot, 'auto-pub', { autoUseTopicAlias: true });
    for (const t of ['a/1', 'a/2', 'a/1']) await pub.publishAsync(t, t, { qos: 1 });
    expect((await sub.receivedCount(3)).map((m) => m.topic)).toEqual(['a/1', 'a/2', 'a/1']);
  });

  test('an alias above 8 is DISCONNECT 0x94; an alias never set is 0x94 too', async () => {
    const iot = await endpoint({ profile: 'current' });
    // MQTT.js keeps to the CONNACK's Topic Alias Maximum: a raw client goes over it.
    const c = await raw(iot, { protocolVersion: 5 });
    await c.connect('alias-9');
    c.send({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, dup: false, retain: false, properties: { topicAlias: 9 } });
    expect(await c.next('disconnect')).toMatchObject({ reasonCode: 0x94 });
    expect(await iot.trace.waitFor({ event: 'violation', clientId: 'alias-9' })).toMatchObject({ limit: 'maxTopicAliases', max: 8, actual: 9 });
    const r = await raw(iot, { protocolVersion: 5 });
    await r.connect('alias-unset');
    r.send({ cmd: 'publish', topic: '', payload: Buffer.from('x'), qos: 0, dup: false, retain: false, properties: { topicAlias: 2 } });
    expect(await r.next('disconnect')).toMatchObject({ reasonCode: 0x94 });
  });
});

describe('Message Expiry (clamped to 1..604800; the remaining time forwarded; expired messages not delivered)', () => {
  test('a stored message past its expiry is not delivered on resume; one still alive carries what is left', async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual' });
    const away = await v5(iot, 'mei-sub', { clean: false, properties: { sessionExpiryInterval: 3600 } });
    await away.subscribeAsync('mei/#', { qos: 1 });
    await away.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'mei-sub' });
    const pub = await v5(iot, 'mei-pub');
    await pub.publishAsync('mei/short', 'short', { qos: 1, properties: { messageExpiryInterval: 10 } });
    await pub.publishAsync('mei/long', 'long', { qos: 1, properties: { messageExpiryInterval: 100 } });
    await pub.publishAsync('mei/huge', 'huge', { qos: 1, properties: { messageExpiryInterval: 10_000_000 } });
    iot.clock.advance(30_500);
    const back = await v5(iot, 'mei-sub', { clean: false, properties: { sessionExpiryInterval: 3600 } });
    expect(back.connack.sessionPresent).toBe(true);
    iot.clock.advance(300); // stored messages go out at limits.storedMessagesPerSecond (10/s)
    const got = await back.receivedCount(2);
    expect(got.map((m) => [m.topic, m.packet.properties?.messageExpiryInterval])).toEqual([['mei/long', 69], ['mei/huge', 604_800 - 31]]);
    expect(iot.trace.filter({ event: 'dropped', clientId: 'mei-sub' })).toEqual([expect.objectContaining({ topic: 'mei/short', reason: 'expired' })]);
  });

  test('0 becomes 1 s; a retained message expires too; a v3 subscriber loses an expired v5 message as well', async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual' });
    const pub = await v5(iot, 'mei-pub2');
    await pub.publishAsync('mei/retained', 'kept a while', { qos: 1, retain: true, properties: { messageExpiryInterval: 0 } });
    const fresh = await v5(iot, 'mei-fresh');
    await fresh.subscribeAsync('mei/retained', { qos: 1 });
    const [m] = await fresh.receivedCount(1);
    expect(m!.packet.retain).toBe(true);
    expect(m!.packet.properties?.messageExpiryInterval).toBe(1);
    iot.clock.advance(1000);
    const v3 = await client(iot, 'mei-v3');
    await v3.subscribeAsync('mei/retained', { qos: 1 });
    await iot.trace.waitFor({ direction: 'out', clientId: 'mei-v3', packet: { cmd: 'suback' } });
    expect(iot.retained.get('mei/retained')).toBeUndefined();
    expect(iot.trace.filter({ direction: 'out', clientId: 'mei-v3', packet: { cmd: 'publish' } })).toEqual([]);
  });

  test('a will keeps its properties, and its expiry counts from the disconnect', async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual' });
    const watcher = await v5(iot, 'will-watch');
    await watcher.subscribeAsync('will/dev', { qos: 1 });
    const r = await raw(iot, { protocolVersion: 5 });
    await r.connect('will-dev', { will: { topic: 'will/dev', payload: Buffer.from('gone'), qos: 1, retain: false, properties: { messageExpiryInterval: 60, userProperties: { why: 'lost' } } } });
    iot.clock.advance(10_000);
    r.socket.destroy();
    const [m] = await watcher.receivedCount(1);
    expect(m!.packet.properties).toEqual({ messageExpiryInterval: 60, userProperties: { why: 'lost' } });
  });
});

describe('properties forwarded', () => {
  test('User Properties in order, Content Type, Payload Format Indicator; request/response with Correlation Data', async () => {
    const iot = await endpoint({ profile: 'current' });
    const responder = await v5(iot, 'responder');
    responder.on('message', (_topic, payload, packet) => {
      const { responseTopic, correlationData } = packet.properties ?? {};
      responder.publish(responseTopic!, `pong ${payload.toString()}`, { qos: 1, properties: { correlationData } });
    });
    await responder.subscribeAsync('svc/ping', { qos: 1 });
    const requester = await v5(iot, 'requester');
    await requester.subscribeAsync('svc/reply/requester', { qos: 1 });
    await requester.publishAsync('svc/ping', '42', {
      qos: 1,
      properties: {
        responseTopic: 'svc/reply/requester', correlationData: Buffer.from('req-7'), contentType: 'text/plain', payloadFormatIndicator: true,
        userProperties: { trace: 't-1', hop: ['a', 'b', 'c'], z: '1' },
      },
    });
    const [reply] = await requester.receivedCount(1);
    expect(reply!.payload).toBe('pong 42');
    expect(reply!.packet.properties?.correlationData).toEqual(Buffer.from('req-7'));
    const [request] = await responder.receivedCount(1);
    expect(request!.packet.properties).toEqual({
      responseTopic: 'svc/reply/requester', correlationData: Buffer.from('req-7'), contentType: 'text/plain', payloadFormatIndicator: true,
      userProperties: { trace: 't-1', hop: ['a', 'b', 'c'], z: '1' },
    });
    expect(Object.keys(request!.packet.properties!.userProperties!)).toEqual(['trace', 'hop', 'z']);
  });

  test('v3 ↔ v5: a v5 publisher reaches a v3 subscriber without properties, and a v3 publisher a v5 subscriber', async () => {
    const iot = await endpoint({ profile: 'current' });
    const v3 = await client(iot, 'inter-v3');
    const five = await v5(iot, 'inter-v5');
    await v3.subscribeAsync('inter/to-v3', { qos: 1 });
    await five.subscribeAsync('inter/to-v5', { qos: 1 });
    await five.publishAsync('inter/to-v3', 'from v5', { qos: 1, properties: { userProperties: { k: 'v' }, messageExpiryInterval: 60 } });
    await v3.publishAsync('inter/to-v5', 'from v3', { qos: 1 });
    const [toV3] = await v3.receivedCount(1);
    const [toV5] = await five.receivedCount(1);
    expect([toV3!.payload, toV3!.packet.properties]).toEqual(['from v5', undefined]);
    expect([toV5!.payload, toV5!.packet.properties]).toEqual(['from v3', undefined]);
    const out = await iot.trace.waitFor({ direction: 'out', clientId: 'inter-v3', packet: { cmd: 'publish' } });
    expect(out.packet.properties).toBeUndefined(); // the trace records what the v3 client got
  });
});

describe("the client's Receive Maximum and Maximum Packet Size", () => {
  test('outbound QoS 1 in flight is the lower of the client\'s Receive Maximum and maxInflightMessages', async () => {
    const iot = await endpoint({ profile: 'current' });
    const r = await raw(iot, { protocolVersion: 5 });
    await r.connect('recv-max', { properties: { receiveMaximum: 2 } });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rm/#', qos: 1 }] });
    await r.next('suback');
    for (let i = 0; i < 5; i++) iot.publish(`rm/${i}`, String(i), { qos: 1 });
    expect(iot.clients()[0]).toMatchObject({ inflight: 2, queued: 3 });
    const [first] = await r.count('publish', 2);
    r.send({ cmd: 'puback', messageId: first!.messageId!, reasonCode: 0 });
    expect((await r.count('publish', 3)).map((p) => p.topic)).toEqual(['rm/0', 'rm/1', 'rm/2']);
  });

  test('a message larger than the client\'s Maximum Packet Size is not sent to it (dropped, too-large)', async () => {
    const iot = await endpoint({ profile: 'current' });
    const c = await v5(iot, 'small', { properties: { maximumPacketSize: 200 } });
    await c.subscribeAsync('mp/#', { qos: 1 });
    iot.publish('mp/big', Buffer.alloc(300), { qos: 1 });
    iot.publish('mp/small', 'fits', { qos: 1 });
    expect((await c.receivedCount(1)).map((m) => m.topic)).toEqual(['mp/small']);
    expect(iot.trace.filter({ event: 'dropped', clientId: 'small' })).toEqual([expect.objectContaining({ topic: 'mp/big', reason: 'too-large' })]);
  });
});

describe('retained and shared subscriptions with MQTT 5', () => {
  test('retained on an exact filter only, with its properties; a shared group of two v5 members', async () => {
    const iot = await endpoint({ profile: 'current', seed: 5 });
    const pub = await v5(iot, 'rs-pub');
    await pub.publishAsync('rs/state', 'on', { qos: 1, retain: true, properties: { contentType: 'text/plain' } });
    const exact = await v5(iot, 'rs-exact');
    await exact.subscribeAsync('rs/state', { qos: 1 });
    const [m] = await exact.receivedCount(1);
    expect([m!.packet.retain, m!.packet.properties]).toEqual([true, { contentType: 'text/plain' }]);
    const wild = await v5(iot, 'rs-wild');
    await wild.subscribeAsync('rs/#', { qos: 1 });
    const members = [await v5(iot, 'rs-m1'), await v5(iot, 'rs-m2')];
    for (const m2 of members) await m2.subscribeAsync('$share/g/rs/work', { qos: 1 });
    for (let i = 0; i < 6; i++) await pub.publishAsync('rs/work', `job ${i}`, { qos: 1, properties: { userProperties: { n: String(i) } } });
    await wild.receivedCount(6);
    await iot.trace.waitFor(() => members[0]!.received.length + members[1]!.received.length >= 6);
    const all = [...members[0]!.received, ...members[1]!.received];
    expect(all.map((x) => x.packet.properties?.userProperties?.n).sort()).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(wild.received.filter((x) => x.topic === 'rs/state')).toEqual([]);
  });
});

describe('chaos, the trace and assertClientSurvives with MQTT 5 clients', () => {
  test('duplicate and re-sent copies keep their properties; re-sends get a packet id of their own', async () => {
    const iot = await endpoint({ profile: 'current', seed: 3, chaos: { duplicateQos0: { probability: 1 }, resendWithNewPacketId: { probability: 1 } } });
    const c = await v5(iot, 'chaos-5');
    await c.subscribeAsync('c/#', { qos: 1 });
    iot.trace.clear();
    const pub = await v5(iot, 'chaos-pub');
    await pub.publishAsync('c/0', 'zero', { qos: 0, properties: { userProperties: { k: '0' } } });
    await pub.publishAsync('c/1', 'one', { qos: 1, properties: { userProperties: { k: '1' } } });
    await iot.settled();
    const out = iot.trace.filter({ direction: 'out', clientId: 'chaos-5', packet: { cmd: 'publish' } });
    expect(out.length).toBeGreaterThanOrEqual(4);
    for (const e of out) expect(e.packet.properties?.userProperties).toEqual({ k: e.packet.topic.slice(2) });
    const qos1Ids = out.filter((e) => e.packet.qos === 1).map((e) => e.packet.messageId);
    expect(new Set(qos1Ids).size).toBe(qos1Ids.length);
  });

  test('assertClientSurvives drives an MQTT 5 device', async () => {
    await assertClientSurvives({
      numRuns: 3,
      seed: 12,
      endpoint: { profile: 'current' },
      scenario: async ({ iot }) => {
        const seen = new Set<string>();
        const device = mqtt.connect(iot.url, { clientId: 'dev-5', protocolVersion: 5, reconnectPeriod: 0 });
        device.on('message', (_t, payload, packet) => seen.add(`${payload.toString()} ${String(packet.properties?.userProperties?.n)}`));
        try {
          await new Promise((resolve) => device.once('connect', resolve));
          await device.subscribeAsync('cmd/dev-5', { qos: 1 });
          await iot.trace.waitFor({ event: 'subscription-active', clientId: 'dev-5' });
          const pub = mqtt.connect(iot.url, { clientId: 'cloud-5', protocolVersion: 5, reconnectPeriod: 0 });
          await new Promise((resolve) => pub.once('connect', resolve));
          for (let i = 0; i < 3; i++) await pub.publishAsync('cmd/dev-5', `c${i}`, { qos: 1, properties: { userProperties: { n: String(i) } } });
          pub.end(true);
          await iot.trace.waitFor(() => seen.size >= 3);
          expect([...seen].sort()).toEqual(['c0 0', 'c1 1', 'c2 2']);
        } finally {
          device.end(true);
        }
      },
    });
  });
});
