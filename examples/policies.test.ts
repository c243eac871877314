import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { type FakeIot, type ThingCredentials, startFakeIot } from 'fake-aws-iot';

// The policy the device ships with, as deployed to AWS (here: this repository's fixtures/device-policy.json).
const devicePolicy = JSON.parse(readFileSync(join(__dirname, '../fixtures/device-policy.json'), 'utf8'));

const connectAs = (iot: FakeIot, dev: ThingCredentials) =>
  mqtt.connectAsync(iot.tls!.url, { clientId: dev.thingName, cert: dev.certificatePem, key: dev.privateKey, ca: dev.caCertificate, reconnectPeriod: 0 });

test('the device stays inside its policy', async () => {
  await using iot = await startFakeIot({ tls: true, policies: { device: devicePolicy } });
  const device = await connectAs(iot, iot.createThing('dev-1', { policies: ['device'] }));  // attached to its certificate
  await device.subscribeAsync('cmd/dev-1/#', { qos: 1 });
  await device.subscribeAsync('$aws/things/dev-1/shadow/update/delta', { qos: 1 });
  await device.publishAsync('dt/dev-1/temp', '21.5', { qos: 1 });
  expect(iot).not.toHaveDenied('dev-1');
  await device.endAsync();
});

test('outside its policy an MQTT 3.1.1 device loses its connection, as on AWS', async () => {
  await using iot = await startFakeIot({ tls: true, policies: { device: devicePolicy } });
  const device = await connectAs(iot, iot.createThing('dev-1', { policies: ['device'] }));
  device.subscribe('$aws/things/dev-2/shadow/update/delta', { qos: 1 });  // another thing's shadow: no SUBACK

  await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' });
  expect(iot).toHaveDisconnected('dev-1', { reason: 'AUTH_ERROR' });
  expect(iot).toHaveDenied('dev-1', { action: 'iot:Subscribe', resource: /dev-2\/shadow/ });
  device.end(true);
});
