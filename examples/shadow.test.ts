import mqtt from 'mqtt';
import { startFakeIot } from 'fake-aws-iot';

test('the device gets the delta when the cloud changes desired state', async () => {
  await using iot = await startFakeIot();
  const device = await mqtt.connectAsync(iot.url, { clientId: 'lamp-1', reconnectPeriod: 0 });
  await device.subscribeAsync('$aws/things/lamp-1/shadow/update/delta', { qos: 1 });
  const delta = new Promise<unknown>((resolve) => device.once('message', (_t, payload) => resolve(JSON.parse(payload.toString()))));

  // The cloud side (an app, a Lambda) asks for the lamp to be on.
  iot.shadows.update('lamp-1', { state: { desired: { on: true } } });
  expect(await delta).toMatchObject({ state: { on: true }, version: 1 });

  // The device reports what it did; the shadow then has no delta left.
  await device.publishAsync('$aws/things/lamp-1/shadow/update', JSON.stringify({ state: { reported: { on: true } } }), { qos: 1 });
  await iot.trace.waitFor({ event: 'publish', origin: 'shadow', topic: '$aws/things/lamp-1/shadow/update/accepted' });
  expect(iot.shadows.get('lamp-1')).toMatchObject({ state: { desired: { on: true }, reported: { on: true } }, version: 2 });
  expect(iot.shadows.get('lamp-1')).not.toHaveProperty('state.delta');
  await device.endAsync();
});
