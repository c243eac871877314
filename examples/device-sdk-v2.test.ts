import { auth, iot as awsIot, mqtt } from 'aws-iot-device-sdk-v2';
import { startFakeIot } from 'fake-aws-iot';

test('aws-iot-device-sdk-v2: an MQTT 3.1.1 connection over mTLS from the builder', async () => {
  await using iot = await startFakeIot({ tls: true });
  const dev = iot.createThing('dev-1');

  const config = awsIot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(dev.certPath, dev.keyPath)
    .with_certificate_authority_from_path(undefined, dev.caPath)   // AWS: AmazonRootCA1.pem
    .with_endpoint('localhost')                                    // AWS: <prefix>-ats.iot.<region>.amazonaws.com
    .with_port(iot.tls!.port)
    .with_client_id('dev-1')
    .with_clean_session(true)
    .build();
  const connection = new mqtt.MqttClient().new_connection(config);
  await connection.connect();

  const command = new Promise<string>((resolve) => {
    void connection.subscribe('cmd/dev-1', mqtt.QoS.AtLeastOnce, (_topic, payload) => resolve(Buffer.from(payload).toString()));
  });
  await iot.trace.waitFor({ event: 'subscription-active', clientId: 'dev-1' });
  iot.publish('cmd/dev-1', 'reboot', { qos: 1 });
  expect(await command).toBe('reboot');
  await connection.publish('state/dev-1', 'rebooted', mqtt.QoS.AtLeastOnce);
  await iot.trace.waitFor({ direction: 'in', clientId: 'dev-1', packet: { cmd: 'publish', topic: 'state/dev-1' } });

  // The builder offers ALPN x-amzn-mqtt-ca on every port: the handshake AWS gets on 443.
  const connect = await iot.trace.waitFor({ event: 'connect', clientId: 'dev-1' });
  expect(connect).toMatchObject({ transport: 'tls', principal: dev.certificateId, thingName: 'dev-1', alpn: 'x-amzn-mqtt-ca' });
  await connection.disconnect();   // also frees the native connection
});

test('aws-iot-device-sdk-v2: MQTT over wss:// signed by a static credentials provider', async () => {
  const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  await using iot = await startFakeIot({ tls: true, websockets: true, credentials });  // the signature is verified

  const config = awsIot.AwsIotMqttConnectionConfigBuilder.new_with_websockets({
    region: 'us-east-1',
    credentials_provider: auth.AwsCredentialsProvider.newStatic(credentials.accessKeyId, credentials.secretAccessKey),
  })
    .with_certificate_authority_from_path(undefined, iot.tls!.caPath)
    .with_endpoint('localhost')
    .with_port(iot.ws!.port)                                       // AWS: 443
    .with_client_id('ws-dev-1')
    .with_clean_session(true)
    .build();
  const connection = new mqtt.MqttClient().new_connection(config);
  await connection.connect();
  await connection.publish('state/ws-dev-1', 'online', mqtt.QoS.AtLeastOnce);
  await iot.trace.waitFor({ direction: 'in', clientId: 'ws-dev-1', packet: { cmd: 'publish', topic: 'state/ws-dev-1' } });

  const connect = await iot.trace.waitFor({ event: 'connect', clientId: 'ws-dev-1' });
  expect(connect).toMatchObject({ transport: 'wss', principal: credentials.accessKeyId });
  await connection.disconnect();
});
