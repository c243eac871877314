import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { startFakeIot } from 'fake-aws-iot';

// The device's connection settings, as against AWS IoT: only the address and the CA come from outside.
function deviceOptions(files: { certPath: string; keyPath: string; caPath: string }, alpn?: string): mqtt.IClientOptions {
  return {
    clientId: 'dev-1',
    reconnectPeriod: 0,
    cert: readFileSync(files.certPath),
    key: readFileSync(files.keyPath),
    ca: readFileSync(files.caPath),      // AWS: AmazonRootCA1.pem; the fake: its fixture CA
    ...(alpn ? { ALPNProtocols: [alpn] } : {}),
  };
}

test('a device connects with its X.509 certificate, as to AWS IoT on port 8883', async () => {
  await using iot = await startFakeIot({ tls: true });  // the plain port, plus MQTT over TLS on a second one
  const dev = iot.createThing('dev-1');                   // a thing, and a certificate for it signed by the fake's CA

  const device = await mqtt.connectAsync(iot.tls!.url, deviceOptions(dev));  // 'mqtts://localhost:<port>'
  await device.subscribeAsync('cmd/dev-1', { qos: 1 });
  iot.publish('cmd/dev-1', 'reboot', { qos: 1 });
  await new Promise((resolve) => device.once('message', resolve));

  const connect = await iot.trace.waitFor({ event: 'connect', clientId: 'dev-1' });
  expect(connect).toMatchObject({ transport: 'tls', principal: dev.certificateId, thingName: 'dev-1' });
  device.end(true);
});

test('port 443 style: ALPN x-amzn-mqtt-ca selects MQTT with certificate authentication', async () => {
  await using iot = await startFakeIot({ tls: true });
  const dev = iot.createThing('dev-1');
  const device = await mqtt.connectAsync(iot.tls!.url, deviceOptions(dev, 'x-amzn-mqtt-ca'));
  expect((await iot.trace.waitFor({ event: 'connect', clientId: 'dev-1' })).alpn).toBe('x-amzn-mqtt-ca');
  device.end(true);
});

test('a revoked certificate is refused at the next connection', async () => {
  await using iot = await startFakeIot({ tls: true });
  const dev = iot.createThing('dev-1');
  iot.setCertificateStatus(dev.certificateId, 'REVOKED');

  const device = mqtt.connect(iot.tls!.url, deviceOptions(dev));   // the handshake ends, the socket is closed
  const refused = await iot.trace.waitFor({ event: 'transport-error' });
  expect(refused).toMatchObject({ reason: 'certificate-revoked', principal: dev.certificateId });
  expect(iot.clients()).toEqual([]);
  device.end(true);
});
