import mqtt from 'mqtt';
import { startFakeIot } from 'fake-aws-iot';

test('a device that de-duplicates by command id acts on each command once', async () => {
  await using iot = await startFakeIot({
    seed: 42, // failures print the seed; the same seed replays the same faults
    chaos: {
      duplicateQos0: { probability: 0.3, maxCopies: 2 },    // QoS 0 copies, DUP not set
      resendWithNewPacketId: { probability: 0.2 },          // same message again, new packet id
    },
  });
  const done = new Set<string>();
  const device = await mqtt.connectAsync(iot.url, { clientId: 'dev-1', reconnectPeriod: 0 });
  device.on('message', (_topic, payload) => {
    const { id } = JSON.parse(payload.toString());
    if (done.has(id)) return;                               // the de-duplication under test
    done.add(id);
    device.publish('ack/dev-1', id, { qos: 1 });
  });
  await device.subscribeAsync('cmd/dev-1', { qos: 0 });

  for (let id = 0; id < 50; id++) iot.publish('cmd/dev-1', JSON.stringify({ id: String(id) }));

  const acks = () => iot.trace.filter({ direction: 'in', clientId: 'dev-1', packet: { cmd: 'publish', topic: 'ack/dev-1' } });
  await iot.trace.waitFor(() => acks().length === 50);
  expect(iot.chaos.log().filter((d) => d.fault === 'duplicateQos0').length).toBeGreaterThan(5);
  expect(new Set(acks().map((e) => e.packet.payload.toString())).size).toBe(50);
  device.end(true);
});

test('a script forces one fault exactly where the test wants it', async () => {
  await using iot = await startFakeIot({
    chaos: { script: [{ fault: 'resendWithNewPacketId', client: 'dev-1', topic: 'cmd/#', nth: 3 }] },
  });
  const device = await mqtt.connectAsync(iot.url, { clientId: 'dev-1', reconnectPeriod: 0 });
  await device.subscribeAsync('cmd/dev-1', { qos: 1 });
  for (let i = 1; i <= 5; i++) iot.publish('cmd/dev-1', `command ${i}`, { qos: 1 });

  const copy = await iot.trace.waitFor({ direction: 'out', chaos: { fault: 'resendWithNewPacketId' } });
  expect(copy.packet).toMatchObject({ cmd: 'publish', payload: Buffer.from('command 3'), dup: false });
  device.end(true);
});

test('a virtual clock makes a delayed subscription testable without waiting', async () => {
  await using iot = await startFakeIot({ clock: 'virtual', chaos: { subscriptionDelay: { minMs: 2000, maxMs: 2000 } } });
  const device = await mqtt.connectAsync(iot.url, { clientId: 'dev-1', reconnectPeriod: 0 });
  await device.subscribeAsync('cmd/dev-1', { qos: 1 });   // SUBACK arrives at once...

  iot.publish('cmd/dev-1', 'lost', { qos: 1 });            // ...but the subscription does not match yet
  iot.clock.advance(2000);
  await iot.trace.waitFor({ event: 'subscription-active', clientId: 'dev-1' });
  iot.publish('cmd/dev-1', 'delivered', { qos: 1 });

  const delivered = iot.trace.filter({ direction: 'out', clientId: 'dev-1', packet: { cmd: 'publish' } });
  expect(delivered.map((e) => e.packet.payload.toString())).toEqual(['delivered']);
  device.end(true);
});
