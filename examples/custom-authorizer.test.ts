import mqtt from 'mqtt';
import { type CustomAuthorizerRequest, type FakeIot, startFakeIot } from 'fake-aws-iot';

// The authorizer Lambda under test, as it runs on AWS: user name and password in, a principal and policies out.
async function authorize(request: CustomAuthorizerRequest) {
  const { username = '', password = '' } = request.protocolData.mqtt ?? {};
  const user = username.split('?')[0]!;                       // the query string names the authorizer
  if (Buffer.from(password, 'base64').toString() !== `${user}-secret`) return { isAuthenticated: false };
  const arn = 'arn:aws:iot:us-east-1:123456789012';
  return {
    isAuthenticated: true,
    principalId: user,
    disconnectAfterInSeconds: 900,
    refreshAfterInSeconds: 300,
    policyDocuments: [JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iot:Connect', Resource: `${arn}:client/\${iot:ClientId}` },
        { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${arn}:topicfilter/cmd/\${iot:ClientId}` },
        { Effect: 'Allow', Action: 'iot:Receive', Resource: `${arn}:topic/cmd/\${iot:ClientId}` },
      ],
    })],
  };
}

// The device's connection, as to AWS's port 443: ALPN "mqtt", no client certificate, the authorizer in the user name.
function connectDevice(iot: FakeIot, password: string) {
  return mqtt.connect(iot.tls!.url, {
    clientId: 'dev-1', protocolVersion: 5, reconnectPeriod: 0, keepalive: 0,
    ALPNProtocols: ['mqtt'], ca: iot.tls!.caCertificate,
    username: 'sensor7?x-amz-customauthorizer-name=device-auth', password,
  });
}

test('a device gets in with its password, and may subscribe to its own commands only', async () => {
  await using iot = await startFakeIot({ tls: true, authorizers: { 'device-auth': authorize } });
  const device = connectDevice(iot, 'sensor7-secret');
  await new Promise((resolve) => device.once('connect', resolve));
  const connect = await iot.trace.waitFor({ event: 'connect', clientId: 'dev-1' });
  expect(connect).toMatchObject({ principal: 'sensor7', authorizer: 'device-auth' });

  await device.subscribeAsync('cmd/dev-1', { qos: 1 });
  const refused = await device.subscribeAsync('cmd/dev-2', { qos: 1 }).catch((error) => error.packet.granted);
  expect(refused).toEqual([0x87]);   // MQTT 5: SUBACK 0x87; an MQTT 3.1.1 device would be disconnected
  device.end(true);
});

test('a wrong password is refused: CONNACK 0x86 (MQTT 3.1.1: the socket closes)', async () => {
  await using iot = await startFakeIot({ tls: true, authorizers: { 'device-auth': authorize } });
  const device = connectDevice(iot, 'guess');
  device.on('error', () => {});
  const connack = await new Promise<number>((resolve) => device.on('packetreceive', (p) => p.cmd === 'connack' && resolve(p.reasonCode!)));
  expect(connack).toBe(0x86);
  expect(await iot.trace.waitFor({ event: 'authorizer', clientId: 'dev-1' })).toMatchObject({ isAuthenticated: false });
  device.end(true);
});

test('the authorizer is asked again every refreshAfterInSeconds; the connection ends after disconnectAfterInSeconds', async () => {
  await using iot = await startFakeIot({ tls: true, clock: 'virtual', authorizers: { 'device-auth': authorize } });
  const device = connectDevice(iot, 'sensor7-secret');
  await new Promise((resolve) => device.once('connect', resolve));

  for (let refreshes = 1; refreshes <= 2; refreshes++) {
    iot.clock.advance(300_000);   // the authorizer is asked again; let it answer before time moves on
    await iot.trace.waitFor(() => iot.trace.filter({ event: 'authorizer', refresh: true }).length === refreshes);
  }
  iot.clock.advance(300_000);     // 900 s after the CONNECT
  const gone = await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' });
  expect(gone.reason).toBe('CUSTOMAUTH_TTL_EXPIRATION');
  device.end(true);
});
