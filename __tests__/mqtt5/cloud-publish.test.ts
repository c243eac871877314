/**
 * iot.publish() with MQTT 5 properties, as a rule or a Lambda publishing with them (aws-iot-behaviour.md
 * §1.11): MQTT 5 subscribers get the properties, MQTT 3.1.1 subscribers the message without them, and
 * Message Expiry runs on the endpoint's clock for every subscriber.
 */
import type { FakeIot } from '../../src';
import { client, endpoint } from '../helpers';

const v5 = (iot: FakeIot, clientId: string, options = {}) => client(iot, clientId, { protocolVersion: 5, ...options });

test('user properties, content type, response topic and correlation data reach a v5 subscriber; a v3 one gets the message without them', async () => {
  const iot = await endpoint();
  const modern = await v5(iot, 'modern');
  await modern.subscribeAsync('cmd/all', { qos: 1 });
  const legacy = await client(iot, 'legacy');
  await legacy.subscribeAsync('cmd/all', { qos: 1 });
  iot.publish('cmd/all', '{"reboot":true}', {
    qos: 1,
    properties: { userProperties: { source: 'rule', tags: ['a', 'b'] }, contentType: 'application/json', responseTopic: 'reply/all', correlationData: 'req-7', payloadFormatIndicator: true },
  });
  const [got] = await modern.receivedCount(1);
  expect(got!.packet.properties).toMatchObject({
    userProperties: { source: 'rule', tags: ['a', 'b'] }, contentType: 'application/json', responseTopic: 'reply/all', payloadFormatIndicator: true,
  });
  expect(Buffer.from(got!.packet.properties!.correlationData!).toString()).toBe('req-7');
  const [old] = await legacy.receivedCount(1);
  expect(old!.payload).toBe('{"reboot":true}');
  expect(old!.packet.properties).toBeUndefined();
});

test('messageExpiryInterval: a message stored for an offline session expires on the endpoint clock', async () => {
  const iot = await endpoint({ clock: 'virtual' });
  const dev = await v5(iot, 'sleeper', { clean: false, properties: { sessionExpiryInterval: 3600 } });
  await dev.subscribeAsync('cmd/sleeper', { qos: 1 });
  await dev.endAsync();
  await iot.trace.waitFor({ event: 'disconnect', clientId: 'sleeper' });
  iot.publish('cmd/sleeper', 'short-lived', { qos: 1, properties: { messageExpiryInterval: 5 } });
  iot.publish('cmd/sleeper', 'long-lived', { qos: 1, properties: { messageExpiryInterval: 60 } });
  iot.clock.advance(6000);
  const back = await v5(iot, 'sleeper', { clean: false, properties: { sessionExpiryInterval: 3600 } });
  expect(back.connack.sessionPresent).toBe(true);
  iot.clock.advance(100); // stored messages go out at limits.storedMessagesPerSecond (10/s)
  const [first] = await back.receivedCount(1);
  expect(first!.payload).toBe('long-lived');
  // The copy carries the time it has left (60 s - 6.1 s, in whole seconds).
  expect(first!.packet.properties?.messageExpiryInterval).toBe(53);
  expect(iot.trace.filter({ direction: 'out', clientId: 'sleeper', packet: { cmd: 'publish', payload: 'short-lived' } })).toEqual([]);
});

test('properties are checked up front', async () => {
  const iot = await endpoint();
  expect(() => iot.publish('t', 'x', { properties: { responseTopic: 'a/#' } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('responseTopic must be a topic name without wildcards') }));
  expect(() => iot.publish('t', Buffer.from([0xff]), { properties: { payloadFormatIndicator: true } })).toThrow(/payloadFormatIndicator is true but the payload is not UTF-8/);
  expect(() => iot.publish('t', 'x', { properties: { userProperties: { a: 1 as never } } })).toThrow(/userProperties must map names to strings/);
  expect(() => iot.publish('t', 'x', { properties: { messageExpiryInterval: -1 } })).toThrow(/messageExpiryInterval must be a whole number/);
  expect(() => iot.publish('t', 'x', { properties: { topicAlias: 1 } as never })).toThrow(/unknown property "topicAlias"/);
});
