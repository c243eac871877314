/**
 * connackDelay: AWS answers a CONNECT after authenticating it. A client that sends before it has read the
 * CONNACK is caught every time, however its packets happen to be split into TCP reads.
 */
import * as mqttPacket from 'mqtt-packet';
import { client, connectPacket, endpoint, raw } from '../helpers';

describe('connackDelay', () => {
  test('a client that subscribes without waiting for CONNACK is disconnected, even with its packets in separate reads', async () => {
    const iot = await endpoint({ seed: 3, clock: 'virtual', chaos: { connackDelay: { minMs: 50, maxMs: 50 } } });
    const eager = await raw(iot);
    eager.send(connectPacket('eager'));
    await iot.trace.waitFor({ direction: 'in', clientId: 'eager', packet: { cmd: 'connect' } });
    eager.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 1 }] }); // a separate read
    const v = await iot.trace.waitFor({ event: 'violation', clientId: 'eager' });
    expect(v.rule).toBe('aws.wait-for-connack');
    await eager.closed;
    expect(eager.received.filter((p) => p.cmd === 'connack')).toEqual([]); // the CONNACK never went out
  });

  test('a client that waits connects once the delay is over; the CONNACK carries the chaos tag', async () => {
    const iot = await endpoint({ seed: 3, clock: 'virtual', chaos: { connackDelay: { minMs: 40, maxMs: 40 } } });
    const patient = client(iot, 'patient');
    await iot.trace.waitFor({ direction: 'in', clientId: 'patient', packet: { cmd: 'connect' } });
    iot.clock.advance(39);
    expect(iot.trace.filter({ direction: 'out', packet: { cmd: 'connack' } })).toEqual([]);
    iot.clock.advance(1);
    const c = await patient;
    await c.subscribeAsync('t', { qos: 1 });
    const connack = iot.trace.find({ direction: 'out', clientId: 'patient', packet: { cmd: 'connack' } })!;
    expect(connack.chaos).toEqual({ fault: 'connackDelay', decision: 0, heldMs: 40 });
    expect(iot.chaos.log()).toEqual([expect.objectContaining({ fault: 'connackDelay', clientId: 'patient', cmd: 'connack', delayMs: 40, source: 'random' })]);
  });

  test("with packetBeforeConnack: 'allow' the early packets are handled after the CONNACK, in order", async () => {
    const iot = await endpoint({ seed: 3, clock: 'virtual', packetBeforeConnack: 'allow', chaos: { connackDelay: { minMs: 10, maxMs: 10 } } });
    const c = await raw(iot);
    c.socket.write(Buffer.concat([mqttPacket.generate(connectPacket('early')), mqttPacket.generate({ cmd: 'pingreq' })]));
    await iot.trace.waitFor({ direction: 'in', clientId: 'early', packet: { cmd: 'pingreq' } });
    iot.clock.advance(10);
    await c.next('pingresp');
    expect(c.received.map((p) => p.cmd)).toEqual(['connack', 'pingresp']);
  });

  test('a script step delays the CONNACK of the nth connection of a client', async () => {
    const iot = await endpoint({ seed: 3, clock: 'virtual', chaos: { script: [{ fault: 'connackDelay', client: 'dev', nth: 2, delayMs: 30 }] } });
    const first = await raw(iot);
    await first.connect('dev', { clean: true });
    iot.clock.advance(1000); // AWS allows one CONNECT per second per client id
    const second = await raw(iot);
    second.send(connectPacket('dev'));
    await iot.trace.waitFor(() => iot.trace.filter({ direction: 'in', clientId: 'dev', packet: { cmd: 'connect' } }).length === 2);
    expect(iot.trace.filter({ direction: 'out', packet: { cmd: 'connack' } })).toHaveLength(1);
    iot.clock.advance(30);
    await second.next('connack');
    expect(iot.chaos.log()).toEqual([expect.objectContaining({ fault: 'connackDelay', nth: 2, source: 'script', delayMs: 30 })]);
  });

  test('topics do not apply to it', async () => {
    await expect(endpoint({ chaos: { connackDelay: { minMs: 1, maxMs: 2, topics: ['a'] } } })).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('options.chaos.connackDelay.topics') });
  });
});

describe('connackDelay and the rest of the endpoint', () => {
  test('settled() waits while a CONNACK is held back', async () => {
    const iot = await endpoint({ seed: 3, chaos: { connackDelay: { minMs: 60, maxMs: 60 } } });
    const c = await raw(iot);
    c.send(connectPacket('held'));
    await iot.trace.waitFor({ direction: 'in', clientId: 'held', packet: { cmd: 'connect' } });
    await iot.settled();
    expect(iot.trace.filter({ direction: 'out', clientId: 'held', packet: { cmd: 'connack' } })).toHaveLength(1);
  });

  test("a client that floods while its CONNACK is held is not waited for, even with packetBeforeConnack: 'allow'", async () => {
    const iot = await endpoint({ seed: 3, clock: 'virtual', packetBeforeConnack: 'allow', chaos: { connackDelay: { minMs: 10, maxMs: 10 } } });
    const c = await raw(iot);
    c.socket.write(Buffer.concat([mqttPacket.generate(connectPacket('flood')), ...Array.from({ length: 101 }, () => mqttPacket.generate({ cmd: 'pingreq' }))]));
    const v = await iot.trace.waitFor({ event: 'violation', clientId: 'flood' });
    expect(v).toMatchObject({ rule: 'aws.wait-for-connack', message: expect.stringContaining('more than 100 packets') });
  });
});
