import mqtt from 'mqtt';
import { presignWebSocketUrl, startFakeIot } from 'fake-aws-iot';

const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

test('a device connects over WebSocket with a SigV4-signed URL; a wrong secret gets HTTP 403', async () => {
  // ws:// here; leave tls out (or pass { cert, key }) for wss:// as on AWS
  await using iot = await startFakeIot({ websockets: { tls: false }, credentials });

  // What the device code does against AWS: sign wss://<endpoint>/mqtt for service iotdevicegateway.
  const url = await presignWebSocketUrl({ host: '127.0.0.1', port: iot.ws!.port, protocol: 'ws', region: 'eu-west-1', credentials });
  const device = await mqtt.connectAsync(url, { clientId: 'ws-dev-1', reconnectPeriod: 0 });
  await device.subscribeAsync('cmd/ws-dev-1', { qos: 1 });

  const connected = await iot.trace.waitFor({ event: 'connect', clientId: 'ws-dev-1' });
  expect(connected.transport).toBe('ws');
  expect(connected.principal).toBe(credentials.accessKeyId);

  const message = new Promise<string>((resolve) => device.once('message', (_topic, payload) => resolve(payload.toString())));
  iot.publish('cmd/ws-dev-1', 'reboot', { qos: 1 });
  expect(await message).toBe('reboot');
  device.end(true);

  const forged = await presignWebSocketUrl({ host: '127.0.0.1', port: iot.ws!.port, protocol: 'ws', credentials: { ...credentials, secretAccessKey: 'wrong' } });
  const intruder = mqtt.connect(forged, { clientId: 'intruder', reconnectPeriod: 0 });
  await new Promise<void>((resolve) => intruder.once('close', () => resolve()));   // no CONNACK, no upgrade
  const refused = await iot.trace.waitFor({ event: 'transport-error' });
  expect(refused.message).toMatch(/^HTTP 403/);
  expect(refused.reason).toBe('signature-mismatch');
  intruder.end(true);
});
