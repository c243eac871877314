import mqtt from 'mqtt';
import { startFakeIot } from 'fake-aws-iot';

test('a second connection with the same client id takes over, and the first one learns why', async () => {
  await using iot = await startFakeIot({ clock: 'virtual' });
  const first = await mqtt.connectAsync(iot.url, { clientId: 'dev-7', reconnectPeriod: 0 });
  iot.clock.advance(1000); // AWS allows one CONNECT per second per client id
  const second = await mqtt.connectAsync(iot.url, { clientId: 'dev-7', reconnectPeriod: 0 });

  const gone = await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-7' });
  expect(gone.reason).toBe('DUPLICATE_CLIENTID');
  expect(iot.clients()).toHaveLength(1);
  first.end(true);
  second.end(true);
});

test('publishing with RETAIN gets the device disconnected (classic profile)', async () => {
  await using iot = await startFakeIot({ profile: 'classic' }); // today's AWS (the default, 'current') stores it
  const device = await mqtt.connectAsync(iot.url, { clientId: 'dev-8', reconnectPeriod: 0 });
  device.publish('state/dev-8', 'on', { retain: true });

  const violation = await iot.trace.waitFor({ event: 'violation', clientId: 'dev-8' });
  expect(violation.rule).toBe('aws.retain');
  device.end(true);
});

test('a persistent session gets the QoS 1 messages sent while it was away', async () => {
  await using iot = await startFakeIot({ clock: 'virtual' });
  const options = { clientId: 'dev-9', clean: false, reconnectPeriod: 0 };
  const device = await mqtt.connectAsync(iot.url, options);
  await device.subscribeAsync('cmd/dev-9', { qos: 1 });
  await device.endAsync();

  iot.publish('cmd/dev-9', 'sent while offline', { qos: 1 });

  iot.clock.advance(1000);
  const back = mqtt.connect(iot.url, options);
  const message = await new Promise<string>((resolve) => back.on('message', (_t, payload) => resolve(payload.toString())));
  expect(message).toBe('sent while offline');
  back.end(true);
});

test('a device that reconnects at once is throttled; a second later it gets in', async () => {
  await using iot = await startFakeIot({ clock: 'virtual' });
  const first = await mqtt.connectAsync(iot.url, { clientId: 'dev-10', reconnectPeriod: 0 });
  const again = mqtt.connect(iot.url, { clientId: 'dev-10', reconnectPeriod: 0 });
  // AWS: one CONNECT per second per client id. The connection holding the id is not touched.
  await iot.trace.waitFor({ event: 'throttled', clientId: 'dev-10', limit: 'maxConnectsPerSecondPerClientId' });
  await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-10', reason: 'THROTTLED' });
  again.end(true);
  expect(iot.clients().map((c) => c.connectionId)).toEqual([1]);

  iot.clock.advance(1000);
  const later = await mqtt.connectAsync(iot.url, { clientId: 'dev-10', reconnectPeriod: 0 });
  await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-10', reason: 'DUPLICATE_CLIENTID' });
  first.end(true);
  later.end(true);
});

test('a burst beyond 100 PUBLISH per second is discarded (turn it off with throttles: false)', async () => {
  await using iot = await startFakeIot({ clock: 'virtual' });
  const device = await mqtt.connectAsync(iot.url, { clientId: 'dev-11', reconnectPeriod: 0 });
  for (let i = 0; i < 150; i++) device.publish('dt/dev-11', String(i));

  await iot.trace.waitFor(() => iot.trace.filter({ direction: 'in', clientId: 'dev-11', packet: { cmd: 'publish' } }).length === 150);
  expect(iot.trace.filter({ event: 'throttled', clientId: 'dev-11', action: 'discarded' })).toHaveLength(50);
  device.end(true);
});
