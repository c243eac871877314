import mqtt from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import { client, connectPacket, endpoint, raw } from '../helpers';

describe('CONNECT / CONNACK', () => {
  test('accepts an MQTT 3.1.1 CONNECT with CONNACK 0 and session-present 0 for a clean session', async () => {
    const iot = await endpoint();
    const c = await client(iot, 'dev-1');
    const connack = await iot.trace.waitFor({ direction: 'out', clientId: 'dev-1', packet: { cmd: 'connack' } });
    expect(connack).toMatchObject({ packet: { returnCode: 0, sessionPresent: false } });
    expect(c.connected).toBe(true);
    expect(iot.clients().map((x) => x.clientId)).toEqual(['dev-1']);
  });

  test('closes the connection when a packet arrives together with the CONNECT, before CONNACK', async () => {
    const iot = await endpoint();
    const r = await raw(iot);
    r.send(Buffer.concat([
      mqttPacket.generate(connectPacket('eager')),
      mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] }),
    ]));
    await r.closed;
    await iot.trace.waitFor({ event: 'violation', clientId: 'eager', rule: 'aws.wait-for-connack' });
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'eager', reason: 'CLIENT_ERROR' });
    expect(r.received.map((p) => p.cmd)).not.toContain('suback');
  });

  test('closes the connection on a second CONNECT (CLIENT_ERROR)', async () => {
    const iot = await endpoint();
    const r = await raw(iot);
    r.send(connectPacket('twice'));
    await iot.trace.waitFor({ direction: 'out', clientId: 'twice', packet: { cmd: 'connack' } });
    r.send(connectPacket('twice'));
    await r.closed;
    await iot.trace.waitFor({ event: 'violation', rule: 'MQTT-3.1.0-2' });
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'twice', reason: 'CLIENT_ERROR' });
  });

  test('closes the connection when the first packet is not CONNECT', async () => {
    const iot = await endpoint();
    const r = await raw(iot);
    r.send({ cmd: 'pingreq' });
    await r.closed;
    await iot.trace.waitFor({ event: 'violation', rule: 'MQTT-3.1.0-1' });
    expect(r.received).toEqual([]);
  });

  test('answers MQTT 3.1 (level 3) with CONNACK "unacceptable protocol version", then closes', async () => {
    const iot = await endpoint();
    const c = mqtt.connect(iot.url, { clientId: 'old', protocolId: 'MQIsdp', protocolVersion: 3, reconnectPeriod: 0 });
    const error = await new Promise<Error & { code?: number }>((resolve) => c.once('error', resolve));
    c.end(true);
    expect(error.code).toBe(1);
    await iot.trace.waitFor({ direction: 'out', packet: { cmd: 'connack', returnCode: 1 } });
    await iot.trace.waitFor({ event: 'disconnect', reason: 'CLIENT_ERROR' });
    expect(iot.clients()).toEqual([]);
  });

  // Level 5 is refused by the classic profile (MQTT 3.1.1 only); current speaks it (__tests__/mqtt5/).
  test.each([5, 6])('answers protocol level %i with CONNACK 0x01, then closes (classic profile)', async (level) => {
    const iot = await endpoint({ profile: 'classic' });
    const r = await raw(iot);
    const bytes = level === 5
      ? mqttPacket.generate(connectPacket('future', { protocolVersion: 5 }), { protocolVersion: 5 })
      : mqttPacket.generate(connectPacket('future'));
    bytes[8] = level; // protocol level byte: after fixed header (2) and protocol name (6)
    r.send(bytes);
    await r.closed;
    expect(r.received).toEqual([expect.objectContaining({ cmd: 'connack', returnCode: 1 })]);
    await iot.trace.waitFor({ event: 'violation', rule: 'MQTT-3.1.2-2' });
  });

  test('rejects a client id longer than the limit with CONNACK 0x02 and names the limit in the trace', async () => {
    const iot = await endpoint();
    const r = await raw(iot);
    r.send(connectPacket('x'.repeat(129)));
    await r.closed;
    expect(r.received).toEqual([expect.objectContaining({ cmd: 'connack', returnCode: 2 })]);
    await iot.trace.waitFor({ event: 'violation', limit: 'maxClientIdBytes', max: 128, actual: 129 });
  });

  test('accepts a client id of exactly the limit', async () => {
    const iot = await endpoint();
    await client(iot, 'y'.repeat(128));
    expect(iot.clients()).toHaveLength(1);
  });

  test('assigns a client id to an empty one on a clean session, and rejects it on a persistent one', async () => {
    const iot = await endpoint({ seed: 7 });
    const r = await raw(iot);
    r.send(connectPacket(''));
    await iot.trace.waitFor({ direction: 'out', packet: { cmd: 'connack', returnCode: 0 } });
    expect(iot.clients()[0]!.clientId).toMatch(/^fake-aws-iot-[0-9a-f-]{36}$/);

    const r2 = await raw(iot);
    const persistent = mqttPacket.generate(connectPacket(''));
    persistent[9] &= ~0x02; // connect flags: clear Clean Session (mqtt-packet refuses to encode this)
    r2.send(persistent);
    await r2.closed;
    expect(r2.received).toEqual([expect.objectContaining({ cmd: 'connack', returnCode: 2 })]);
  });

  test('ignores the user name and password (AWS SDKs put metrics in the user name)', async () => {
    const iot = await endpoint();
    await client(iot, 'sdk', { username: '?SDK=NodeJSv2&Version=1.0', password: 'whatever' });
    const e = await iot.trace.waitFor({ direction: 'in', packet: { cmd: 'connect', username: '?SDK=NodeJSv2&Version=1.0' } });
    expect(iot.trace.toJSON().find((x) => x.seq === e.seq)).toMatchObject({ packet: { password: '<8 bytes redacted>' } });
  });
});
