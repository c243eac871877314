import * as awsIot from 'aws-iot-device-sdk';
import { startFakeIot } from 'fake-aws-iot';

test('aws-iot-device-sdk (v1): device() over mTLS, offering ALPN x-amzn-mqtt-ca as for port 443', async () => {
  await using iot = await startFakeIot({ tls: true });
  const dev = iot.createThing('dev-1');

  const device = new awsIot.device({
    clientId: 'dev-1',
    host: 'localhost', port: iot.tls!.port,          // AWS: <prefix>-ats.iot.<region>.amazonaws.com, 8883 or 443
    keyPath: dev.keyPath, certPath: dev.certPath,
    caPath: dev.caPath,                              // AWS: AmazonRootCA1.pem
    ALPNProtocols: ['x-amzn-mqtt-ca'],               // v1 hands it to tls.connect(): only needed for 443
  });
  await new Promise((resolve) => device.once('connect', resolve));
  device.subscribe('cmd/dev-1', { qos: 1 });
  await iot.trace.waitFor({ event: 'subscription-active', clientId: 'dev-1' });

  const command = new Promise((resolve) => device.once('message', (_topic, payload) => resolve(payload.toString())));
  iot.publish('cmd/dev-1', 'reboot', { qos: 1 });
  expect(await command).toBe('reboot');
  device.publish('state/dev-1', 'rebooted', { qos: 1 });
  await iot.trace.waitFor({ direction: 'in', clientId: 'dev-1', packet: { cmd: 'publish', topic: 'state/dev-1' } });

  const connect = await iot.trace.waitFor({ event: 'connect', clientId: 'dev-1' });
  expect(connect).toMatchObject({ transport: 'tls', principal: dev.certificateId, thingName: 'dev-1', alpn: 'x-amzn-mqtt-ca' });
  device.end(true);
});

test("aws-iot-device-sdk (v1): device() over wss:// with protocol 'wss' and static credentials", async () => {
  const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  await using iot = await startFakeIot({ tls: true, websockets: true, credentials });  // the signature is verified

  const device = new awsIot.device({
    clientId: 'ws-dev-1',
    protocol: 'wss', accessKeyId: credentials.accessKeyId, secretKey: credentials.secretAccessKey,
    host: 'localhost', port: iot.ws!.port,
    region: 'us-east-1',                             // v1 reads it from an AWS host name; localhost has none
    websocketOptions: { ca: iot.tls!.caCertificate },  // the CA for wss:// goes to the WebSocket client
  });
  await new Promise((resolve) => device.once('connect', resolve));
  device.publish('state/ws-dev-1', 'online', { qos: 1 });
  await iot.trace.waitFor({ direction: 'in', clientId: 'ws-dev-1', packet: { cmd: 'publish', topic: 'state/ws-dev-1' } });

  const connect = await iot.trace.waitFor({ event: 'connect', clientId: 'ws-dev-1' });
  expect(connect).toMatchObject({ transport: 'wss', principal: credentials.accessKeyId });
  device.end(true);
});
