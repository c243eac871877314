import mqtt from 'mqtt';
import { startFakeIot } from 'fake-aws-iot';

test('a second connection with the same client id takes over, and the first one learns why', async () => {
  await using iot = await startFakeIot();
  const first = await mqtt.connectAsync(iot.url, { clientId: 'dev-7', reconnectPeriod: 0 });
  const second = await mqtt.connectAsync(iot.url, { clientId: 'dev-7', reconnectPeriod: 0 });

  const gone = await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-7' });
  expect(gone.reason).toBe('DUPLICATE_CLIENTID');
  expect(iot.clients()).toHaveLength(1);
  first.end(true);
  second.end(true);
});

test('publishing with RETAIN gets the device disconnected (classic profile)', async () => {
  await using iot = await startFakeIot();
  const device = await mqtt.connectAsync(iot.url, { clientId: 'dev-8', reconnectPeriod: 0 });
  device.publish('state/dev-8', 'on', { retain: true });

  const violation = await iot.trace.waitFor({ event: 'violation', clientId: 'dev-8' });
  expect(violation.rule).toBe('aws.retain');
  device.end(true);
});

test('a persistent session gets the QoS 1 messages sent while it was away', async () => {
  await using iot = await startFakeIot();
  const options = { clientId: 'dev-9', clean: false, reconnectPeriod: 0 };
  const device = await mqtt.connectAsync(iot.url, options);
  await device.subscribeAsync('cmd/dev-9', { qos: 1 });
  await device.endAsync();

  iot.publish('cmd/dev-9', 'sent while offline', { qos: 1 });

  const back = mqtt.connect(iot.url, options);
  const message = await new Promise<string>((resolve) => back.on('message', (_t, payload) => resolve(payload.toString())));
  expect(message).toBe('sent while offline');
  back.end(true);
});
