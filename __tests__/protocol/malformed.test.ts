import * as mqttPacket from 'mqtt-packet';
import { client, connectPacket, endpoint, raw, trackUncaught } from '../helpers';

const connectBytes = mqttPacket.generate(connectPacket('bad'));

describe('malformed input closes only the offending connection', () => {
  const uncaught = trackUncaught();

  test.each([
    ['packet type 0 (reserved)', Buffer.from([0x00, 0x00]), 'malformed-packet'],
    ['PUBLISH with both QoS bits set', Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61]), 'malformed-packet'],
    ['remaining length longer than 4 bytes', Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]), 'malformed-packet'],
    ['SUBSCRIBE with reserved flags 0000', Buffer.from([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00]), 'malformed-packet'],
    ['UNSUBSCRIBE with reserved flags 0000', Buffer.from([0xa0, 0x05, 0x00, 0x01, 0x00, 0x01, 0x61]), 'malformed-packet'],
    ['string length beyond the packet', Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61]), 'malformed-packet'],
    ['SUBSCRIBE with no topic filter', Buffer.from([0x82, 0x02, 0x00, 0x01]), 'MQTT-3.8.3-3'],
    ['UNSUBSCRIBE with no topic filter', Buffer.from([0xa2, 0x02, 0x00, 0x01]), 'MQTT-3.10.3-2'],
  ])('after CONNECT: %s', async (_name, bytes, rule) => {
    const iot = await endpoint();
    const bystander = await client(iot, 'bystander');
    await bystander.subscribeAsync('still/ok', { qos: 1 });

    const r = await raw(iot);
    await r.connect('bad');
    r.send(bytes);
    await r.closed;
    await iot.trace.waitFor({ event: 'violation', clientId: 'bad', rule });
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'bad', reason: 'CLIENT_ERROR' });

    // Everyone else goes on.
    await bystander.publishAsync('still/ok', 'yes', { qos: 1 });
    await iot.trace.waitFor({ direction: 'in', clientId: 'bystander', packet: { cmd: 'puback' } });
    expect(bystander.received.map((m) => m.payload)).toEqual(['yes']);
    expect(uncaught).toEqual([]);
  });

  test.each([
    ['garbage instead of CONNECT', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['a CONNECT with protocol name "MQTX"', Buffer.from(connectBytes.toString('latin1').replace('MQTT', 'MQTX'), 'latin1')],
    ['a truncated CONNECT followed by a new packet', Buffer.concat([Buffer.from([0x10, 0x04, 0x00, 0x04, 0x4d, 0x51]), Buffer.from([0xc0, 0x00])])],
  ])('before CONNECT: %s', async (_name, bytes) => {
    const iot = await endpoint();
    const r = await raw(iot);
    r.send(bytes);
    await r.closed;
    await iot.trace.waitFor({ event: 'disconnect', reason: 'CLIENT_ERROR' });
    expect(r.received).toEqual([]);
    expect(uncaught).toEqual([]);
  });

  test.each([
    ['PUBREC', { cmd: 'pubrec', messageId: 1 }, 'aws.unsupported-packet'],
    ['PUBREL', { cmd: 'pubrel', messageId: 1 }, 'aws.unsupported-packet'],
    ['PUBCOMP', { cmd: 'pubcomp', messageId: 1 }, 'aws.unsupported-packet'],
    ['CONNACK', { cmd: 'connack', returnCode: 0, sessionPresent: false }, 'protocol.server-packet'],
    ['SUBACK', { cmd: 'suback', messageId: 1, granted: [0] }, 'protocol.server-packet'],
    ['PINGRESP', { cmd: 'pingresp' }, 'protocol.server-packet'],
  ] as const)('a client sending %s is disconnected', async (_name, packet, rule) => {
    const iot = await endpoint();
    const r = await raw(iot);
    await r.connect('odd');
    r.send(packet as unknown as mqttPacket.Packet);
    await r.closed;
    await iot.trace.waitFor({ event: 'violation', clientId: 'odd', rule });
  });

  test('a client that closes mid-packet is recorded as CONNECTION_LOST', async () => {
    const iot = await endpoint();
    const r = await raw(iot);
    await r.connect('cut');
    r.socket.end(Buffer.from([0x30, 0x10, 0x00])); // announces 16 bytes, sends 1
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'cut', reason: 'CONNECTION_LOST' });
  });
});
