/**
 * MQTT 5 reason codes on every ack, and the server's DISCONNECT for what closes a connection, with real
 * MQTT.js clients (protocolVersion 5) and raw MQTT 5 packets for what no well-behaved client sends.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import type { IDisconnectPacket } from 'mqtt-packet';
import type { FakeIot } from '../../src';
import { client, endpoint, raw } from '../helpers';

const v5 = (iot: FakeIot, clientId: string, options: IClientOptions = {}) => client(iot, clientId, { protocolVersion: 5, ...options });
const disconnected = (c: MqttClient) => new Promise<IDisconnectPacket>((resolve) => c.once('disconnect', resolve));

describe('PUBACK', () => {
  test('0x00 for a delivered QoS 1 PUBLISH (whether or not anyone subscribed: AWS documents no 0x10)', async () => {
    const iot = await endpoint({ profile: 'current' });
    const c = await v5(iot, 'pub-ok');
    await c.publishAsync('nobody/listens', 'x', { qos: 1 });
    expect((await iot.trace.waitFor({ direction: 'out', clientId: 'pub-ok', packet: { cmd: 'puback' } })).packet).toMatchObject({ reasonCode: 0 });
  });

  test('0x97 quota exceeded for a QoS 1 PUBLISH over the publish rate (instead of no PUBACK); QoS 0 still dropped silently', async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual', limits: { maxPublishesPerSecond: 2 } });
    const c = await v5(iot, 'pub-rate');
    await c.publishAsync('t/rate', '1', { qos: 1 });
    await c.publishAsync('t/rate', '2', { qos: 1 });
    await expect(c.publishAsync('t/rate', '3', { qos: 1 })).rejects.toMatchObject({ code: 0x97 });
    const puback = await iot.trace.waitFor({ direction: 'out', clientId: 'pub-rate', packet: { cmd: 'puback', reasonCode: 0x97 } });
    expect(puback.packet.properties?.reasonString).toMatch(/limits\.maxPublishesPerSecond/);
    expect(iot.trace.filter({ event: 'throttled', clientId: 'pub-rate' })).toEqual([expect.objectContaining({ limit: 'maxPublishesPerSecond', action: 'discarded' })]);
    iot.clock.advance(1000);
    await c.publishAsync('t/rate', '4', { qos: 1 }); // the connection is still there
  });

  test('0x90 topic name invalid (too long, too many levels) keeps the connection; Request Problem Information 0 drops the reason string', async () => {
    const iot = await endpoint({ profile: 'current' });
    const c = await v5(iot, 'pub-topic');
    await expect(c.publishAsync('x'.repeat(257), 'x', { qos: 1 })).rejects.toMatchObject({ code: 0x90 });
    await expect(c.publishAsync('a/b/c/d/e/f/g/h/i', 'x', { qos: 1 })).rejects.toMatchObject({ code: 0x90 });
    const pubacks = iot.trace.filter({ direction: 'out', clientId: 'pub-topic', packet: { cmd: 'puback' } });
    expect(pubacks.map((p) => [p.packet.reasonCode, p.packet.properties?.reasonString])).toEqual([[0x90, expect.stringMatching(/257 bytes/)], [0x90, expect.stringMatching(/8 slashes/)]]);
    expect(c.connected).toBe(true);
    const quiet = await v5(iot, 'pub-quiet', { properties: { requestProblemInformation: false } });
    await expect(quiet.publishAsync('x'.repeat(257), 'x', { qos: 1 })).rejects.toMatchObject({ code: 0x90 });
    expect((await iot.trace.waitFor({ direction: 'out', clientId: 'pub-quiet', packet: { cmd: 'puback' } })).packet.properties).toBeUndefined();
  });

  test('0x99 payload format invalid: Payload Format Indicator 1 with bytes that are not UTF-8; not delivered', async () => {
    const iot = await endpoint({ profile: 'current' });
    const sub = await v5(iot, 'pfi-sub');
    await sub.subscribeAsync('t/pfi', { qos: 1 });
    const c = await v5(iot, 'pfi-pub');
    await expect(c.publishAsync('t/pfi', Buffer.from([0xc3, 0x28]), { qos: 1, properties: { payloadFormatIndicator: true } })).rejects.toMatchObject({ code: 0x99 });
    await c.publishAsync('t/pfi', 'héllo', { qos: 1, properties: { payloadFormatIndicator: true, contentType: 'text/plain' } });
    const [m] = await sub.receivedCount(1);
    expect(m!.payload).toBe('héllo');
    expect(m!.packet.properties).toEqual({ payloadFormatIndicator: true, contentType: 'text/plain' });
  });

  test('QoS 2 PUBLISH: DISCONNECT 0x9B QoS not supported (Maximum QoS is 1), whatever qos2 says', async () => {
    const iot = await endpoint({ profile: 'current' });
    const r = await raw(iot, { protocolVersion: 5 });
    await r.connect('pub-qos2');
    r.send({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 2, dup: false, retain: false, messageId: 1 });
    expect(await r.next('disconnect')).toMatchObject({ reasonCode: 0x9b });
    await r.closed;
  });

  test('RETAIN while the retained store is full: PUBACK 0x97 (retainedQuota: discard)', async () => {
    const iot = await endpoint({ profile: 'current', limits: { maxRetainedMessages: 1 } });
    const c = await v5(iot, 'pub-retained');
    await c.publishAsync('r/1', 'kept', { qos: 1, retain: true });
    await expect(c.publishAsync('r/2', 'no room', { qos: 1, retain: true })).rejects.toMatchObject({ code: 0x97 });
    expect(iot.retained.list().map((m) => m.topic)).toEqual(['r/1']);
  });
});

describe('SUBACK and UNSUBACK', () => {
  test('granted 0x00/0x01 (QoS 2 downgraded to 0x01), 0x8F invalid filter, per filter, connection kept', async () => {
    const iot = await endpoint({ profile: 'current' });
    // MQTT.js refuses to send an invalid filter: a raw MQTT 5 client does.
    const r = await raw(iot, { protocolVersion: 5 });
    await r.connect('sub-codes');
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/0', qos: 0 }, { topic: 'a/1', qos: 1 }, { topic: 'a/2', qos: 2 }, { topic: 'a/#/b', qos: 1 }, { topic: '$share//x', qos: 0 }] });
    expect((await r.next('suback')).granted).toEqual([0, 1, 1, 0x8f, 0x8f]);
    expect(iot.clients()[0]!.subscriptions.map((s) => s.topic)).toEqual(['a/0', 'a/1', 'a/2']);
    expect(await iot.trace.waitFor({ event: 'publish', origin: 'lifecycle', topic: '$aws/events/subscriptions/subscribed/sub-codes' })).toBeDefined();
  });

  test("qos2SubscribeMqtt5: 'refuse' answers 0x80; without shared subscriptions $share is 0x9E", async () => {
    const iot = await endpoint({ profile: 'current', qos2SubscribeMqtt5: 'refuse', sharedSubscriptions: false });
    const c = await v5(iot, 'sub-refuse');
    // MQTT.js rejects the promise when a SUBACK code is a failure; the trace shows the SUBACK.
    await expect(c.subscribeAsync({ 'b/2': { qos: 2 }, '$share/g/b': { qos: 1 }, 'b/1': { qos: 1 } })).rejects.toThrow();
    expect((await iot.trace.waitFor({ direction: 'out', clientId: 'sub-refuse', packet: { cmd: 'suback' } })).packet.granted).toEqual([0x80, 0x9e, 1]);
  });

  test('0x97 quota exceeded for subscriptions beyond maxSubscriptionsPerConnection', async () => {
    const iot = await endpoint({ profile: 'current', limits: { maxSubscriptionsPerConnection: 2 } });
    const c = await v5(iot, 'sub-quota');
    await c.subscribeAsync('q/1', { qos: 1 });
    await expect(c.subscribeAsync({ 'q/1': { qos: 0 }, 'q/2': { qos: 1 }, 'q/3': { qos: 1 } })).rejects.toThrow(/Quota exceeded/);
    const subacks = iot.trace.filter({ direction: 'out', clientId: 'sub-quota', packet: { cmd: 'suback' } });
    expect(subacks.map((s) => s.packet.granted)).toEqual([[1], [0, 1, 0x97]]);
    expect(c.connected).toBe(true);
  });

  test('a Subscription Identifier: DISCONNECT 0xA1 with AWS reason string', async () => {
    const iot = await endpoint({ profile: 'current' });
    const c = await v5(iot, 'sub-id');
    const told = disconnected(c);
    c.subscribe('s/1', { qos: 1, properties: { subscriptionIdentifier: 7 } });
    expect(await told).toMatchObject({ reasonCode: 0xa1, properties: { reasonString: 'Subscription Id is not supported now' } });
  });

  test('UNSUBACK 0x00 for a subscription that existed, 0x11 for one that did not', async () => {
    const iot = await endpoint({ profile: 'current' });
    const c = await v5(iot, 'unsub-codes');
    await c.subscribeAsync('u/1', { qos: 1 });
    await c.unsubscribeAsync(['u/1', 'u/2']);
    const unsuback = await iot.trace.waitFor({ direction: 'out', clientId: 'unsub-codes', packet: { cmd: 'unsuback' } });
    expect(unsuback.packet.granted).toEqual([0x00, 0x11]);
  });
});

describe('DISCONNECT for what closes a connection', () => {
  test('0x95 packet too large (over the Maximum Packet Size of CONNACK)', async () => {
    const iot = await endpoint({ profile: 'current', limits: { maxPacketBytes: 1024 } });
    const r = await raw(iot, { protocolVersion: 5 });
    expect((await r.connect('big')).properties).toMatchObject({ maximumPacketSize: 1024 });
    r.send({ cmd: 'publish', topic: 't', payload: Buffer.alloc(1100), qos: 0, dup: false, retain: false });
    expect(await r.next('disconnect')).toMatchObject({ reasonCode: 0x95 });
    expect(await iot.trace.waitFor({ event: 'violation', clientId: 'big' })).toMatchObject({ limit: 'maxPacketBytes', max: 1024 });
  });

  test('0x81 malformed packet, 0x82 protocol error (a second CONNECT, AUTH)', async () => {
    const iot = await endpoint({ profile: 'current' });
    const a = await raw(iot, { protocolVersion: 5 });
    await a.connect('malformed');
    a.send(Buffer.from([0x30, 0x06, 0x00, 0x01, 0x74, 0x02, 0xff, 0x00])); // PUBLISH with an unknown property 0xFF
    expect(await a.next('disconnect')).toMatchObject({ reasonCode: 0x81 });
    const b = await raw(iot, { protocolVersion: 5 });
    await b.connect('twice');
    b.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'twice' });
    expect(await b.next('disconnect')).toMatchObject({ reasonCode: 0x82 });
    const c = await raw(iot, { protocolVersion: 5 });
    await c.connect('auth');
    c.send({ cmd: 'auth', reasonCode: 0x18 });
    expect(await c.next('disconnect')).toMatchObject({ reasonCode: 0x82 });
  });

  test("0x97 quota exceeded when a throttle's reaction is 'disconnect'", async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual', publishRate: 'disconnect', limits: { maxPublishesPerSecond: 1 } });
    const c = await v5(iot, 'rate-off');
    const told = disconnected(c);
    c.publish('t', '1', { qos: 0 });
    c.publish('t', '2', { qos: 0 });
    expect((await told).reasonCode).toBe(0x97);
    expect(await iot.trace.waitFor({ event: 'disconnect', clientId: 'rate-off' })).toMatchObject({ reason: 'THROTTLED' });
  });
});
