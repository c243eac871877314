/**
 * Device SDKs under the device policy a product really ships (fixtures/device-policy.json: connect as the
 * thing, publish telemetry and shadow requests, subscribe to commands and shadow answers), over mTLS with a
 * createThing() certificate: aws-iot-device-sdk-v2's MQTT 5 client (reason codes 0x87), its MQTT 3.1.1 client
 * and python3 paho (connection dropped, as AWS drops it). aws-crt reports on its own threads, after the
 * endpoint's last trace entry, so its events are polled for rather than awaited through the trace.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { iot as awsIot, mqtt, mqtt5 } from 'aws-iot-device-sdk-v2';
import type { FakeIot, PolicyDocument, ThingCredentials } from '../../src';
import { run } from '../clients/cli';
import { mqtt5Clients, mtlsBuilder, until, v2Connections } from '../sdk/crt';
import { endpoint } from '../helpers';

const DEVICE_POLICY = JSON.parse(readFileSync(join(__dirname, '../../fixtures/device-policy.json'), 'utf8')) as PolicyDocument;
const ARN = 'arn:aws:iot:us-east-1:123456789012';

const started = mqtt5Clients();
const connections = v2Connections();

async function deviceEndpoint(): Promise<{ iot: FakeIot; dev: ThingCredentials }> {
  const iot = await endpoint({ tls: true, seed: 3, policies: { device: DEVICE_POLICY } });
  return { iot, dev: iot.createThing('dev-1', { policies: ['device'] }) };
}

function startMqtt5(iot: FakeIot, dev: ThingCredentials, clientId: string) {
  const config = awsIot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory('localhost', dev.certificatePem, dev.privateKey)
    .withCertificateAuthority(iot.tls!.caCertificate)
    .withPort(iot.tls!.port)
    .withConnectProperties({ clientId, keepAliveIntervalSeconds: 30 })
    .withMinReconnectDelayMs(60_000) // one attempt
    .build();
  const c = new mqtt5.Mqtt5Client(config);
  started.add(c);
  c.on('error', () => {});
  const outcome = new Promise<mqtt5.ConnectionSuccessEvent | mqtt5.ConnectionFailureEvent>((resolve) => {
    c.once('connectionSuccess', resolve);
    c.once('connectionFailure', resolve);
  });
  c.start();
  return { c, outcome };
}

describe('aws-iot-device-sdk-v2 Mqtt5Client under the device policy', () => {
  test('what the policy allows works; a foreign topic is PUBACK / SUBACK 0x87; the connection stays', async () => {
    const { iot, dev } = await deviceEndpoint();
    const { c, outcome } = startMqtt5(iot, dev, 'dev-1');
    expect((await outcome as mqtt5.ConnectionSuccessEvent).connack.reasonCode).toBe(mqtt5.ConnectReasonCode.Success);

    const suback = await c.subscribe({ subscriptions: [
      { topicFilter: 'cmd/dev-1/#', qos: mqtt5.QoS.AtLeastOnce },
      { topicFilter: 'cmd/dev-2/#', qos: mqtt5.QoS.AtLeastOnce },
    ] });
    expect(suback.reasonCodes).toEqual([mqtt5.SubackReasonCode.GrantedQoS1, mqtt5.SubackReasonCode.NotAuthorized]);
    const ok = await c.publish({ topicName: 'dt/dev-1/temp', payload: '21', qos: mqtt5.QoS.AtLeastOnce });
    expect((ok as mqtt5.PubackPacket).reasonCode).toBe(mqtt5.PubackReasonCode.Success);
    const denied = await c.publish({ topicName: 'dt/dev-2/temp', payload: '21', qos: mqtt5.QoS.AtLeastOnce });
    expect((denied as mqtt5.PubackPacket).reasonCode).toBe(mqtt5.PubackReasonCode.NotAuthorized);
    expect(iot).toHaveDenied('dev-1', { action: 'iot:Publish', resource: `${ARN}:topic/dt/dev-2/temp`, reaction: 'refused' });
    expect(iot.clients().map((client) => client.clientId)).toEqual(['dev-1']);
  });

  test('a CONNECT under another client id: CONNACK 0x87 "Not authorized"', async () => {
    const { iot, dev } = await deviceEndpoint();
    const { outcome } = startMqtt5(iot, dev, 'intruder');
    const failure = (await outcome) as mqtt5.ConnectionFailureEvent;
    expect(failure.connack?.reasonCode).toBe(mqtt5.ConnectReasonCode.NotAuthorized);
    expect(iot).toHaveDenied('intruder', { action: 'iot:Connect' });
  });
});

test('aws-iot-device-sdk-v2 MQTT 3.1.1: a subscription outside the policy drops the connection (AWS_ERROR_MQTT_UNEXPECTED_HANGUP)', async () => {
  const { iot, dev } = await deviceEndpoint();
  const config = mtlsBuilder(iot, dev, 'dev-1')
    // aws-crt's disconnect() completes only once it is connected again: let it come back after a second.
    .with_reconnect_min_sec(1)
    .with_reconnect_max_sec(1)
    .build();
  const connection = connections.track(new mqtt.MqttClient().new_connection(config));
  const interruptions: unknown[] = [];
  connection.on('error', () => {});
  connection.on('interrupt', (error) => interruptions.push(error));
  await connection.connect();
  await connection.subscribe('cmd/dev-1/reboot', mqtt.QoS.AtLeastOnce);
  void connection.subscribe('$aws/things/dev-2/shadow/update/delta', mqtt.QoS.AtLeastOnce).catch(() => {});
  expect(await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' })).toMatchObject({ reason: 'AUTH_ERROR' });
  expect(iot).toHaveDenied('dev-1', { action: 'iot:Subscribe', resource: `${ARN}:topicfilter/$aws/things/dev-2/shadow/update/delta`, reaction: 'closed' });
  await until(() => interruptions.length > 0, 'interruption');
  expect(String(interruptions[0])).toMatch(/UNEXPECTED_HANGUP|closed/i);
  // It comes back (the 3.1.1 device's loop: connect, subscribe, dropped, ...); the test ends it there.
  let resumed = false;
  connection.on('resume', () => (resumed = true));
  await iot.trace.waitFor(() => iot.trace.filter({ event: 'connect', clientId: 'dev-1' }).length === 2, { timeoutMs: 5000 });
  await until(() => resumed, 'resumed connection');
});

test('python3 paho over TLS: telemetry goes through; a publish outside the policy loses the connection', async () => {
  const { iot, dev } = await deviceEndpoint();
  const script = `
import ssl, sys
import paho.mqtt.client as mqtt
port, ca, cert, key = sys.argv[1:5]
kwargs = {"client_id": "dev-1", "protocol": mqtt.MQTTv311, "clean_session": True}
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, **kwargs) if hasattr(mqtt, "CallbackAPIVersion") else mqtt.Client(**kwargs)
client.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
def on_connect(c, userdata, flags, rc):
    print("connack", rc, flush=True)
    c.publish("dt/dev-1/temp", "21", qos=1)
def on_publish(c, userdata, mid):
    print("puback", mid, flush=True)
    c.publish("dt/dev-2/temp", "21", qos=1)
def on_disconnect(c, userdata, rc):
    print("disconnected", "unexpectedly" if rc != 0 else "cleanly", flush=True)
    c.disconnect()
client.on_connect = on_connect
client.on_publish = on_publish
client.on_disconnect = on_disconnect
client.connect("localhost", int(port), keepalive=60)
client.loop_forever()
`;
  const result = await run('/usr/bin/python3', ['-c', script, String(iot.tls!.port), dev.caPath, dev.certPath, dev.keyPath]);
  expect(result.stdout.trim().split('\n')).toEqual(['connack 0', 'puback 1', 'disconnected unexpectedly']);
  expect(iot).toHaveDenied('dev-1', { action: 'iot:Publish', resource: `${ARN}:topic/dt/dev-2/temp`, reaction: 'closed' });
});
