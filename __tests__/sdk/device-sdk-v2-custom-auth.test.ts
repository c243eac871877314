/**
 * aws-iot-device-sdk-v2's custom-authentication builders against custom authorizers (aws-iot-behaviour.md §7):
 * the MQTT 3.1.1 `AwsIotMqttConnectionConfigBuilder.new_default_builder().with_custom_authorizer(...)` (ALPN
 * `mqtt`, user name and password, a signed token), and the MQTT 5 `newDirectMqttBuilderWithCustomAuth` and
 * `newWebsocketMqttBuilderWithCustomAuth`; a refusal reaches the MQTT 5 client as CONNACK 0x86. The CA is the
 * fixture CA; each client is disconnected (or stopped and closed) after its test.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import * as path from 'node:path';
import { iot as awsIot, mqtt, mqtt5 } from 'aws-iot-device-sdk-v2';
import type { CustomAuthorizerRequest, CustomAuthorizerResponse, FakeIot } from '../../src';
import { endpoint } from '../helpers';
import { mqtt5Clients, until } from './crt';

const FIXTURE_CA = path.resolve(__dirname, '../../fixtures/ca.pem');
const allowAll = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] });
const allowed = (principalId: string): CustomAuthorizerResponse => ({ isAuthenticated: true, principalId, policyDocuments: [allowAll], disconnectAfterInSeconds: 3600, refreshAfterInSeconds: 3600 });

const connections = new Set<mqtt.MqttClientConnection>();
afterEach(async () => {
  for (const connection of [...connections]) {
    connections.delete(connection);
    await connection.disconnect().catch(() => {});
  }
});
const clients = mqtt5Clients();

/** Starts an Mqtt5Client (one attempt: no reconnect within the test) and reports how its connection went. */
function start(config: mqtt5.Mqtt5ClientConfig) {
  const c = new mqtt5.Mqtt5Client({ ...config, minReconnectDelayMs: 60_000 });
  clients.add(c);
  const outcome: { success?: mqtt5.ConnectionSuccessEvent; failure?: mqtt5.ConnectionFailureEvent } = {};
  c.on('connectionSuccess', (event) => (outcome.success = event));
  c.on('connectionFailure', (event) => (outcome.failure ??= event));
  c.on('error', () => {});
  c.start();
  return { c, outcome };
}

/** Subscribes, gets iot.publish()'s command, publishes an answer the trace shows. */
async function exchange(iot: FakeIot, c: mqtt5.Mqtt5Client, clientId: string): Promise<void> {
  const messages: string[] = [];
  c.on('messageReceived', (event) => messages.push(Buffer.from(event.message.payload as ArrayBuffer).toString()));
  await c.subscribe({ subscriptions: [{ topicFilter: `cmd/${clientId}`, qos: mqtt5.QoS.AtLeastOnce }] });
  await iot.trace.waitFor({ event: 'subscription-active', clientId });
  iot.publish(`cmd/${clientId}`, 'reboot', { qos: 1 });
  await until(() => messages.length > 0, 'message');
  expect(messages).toEqual(['reboot']);
  await c.publish({ topicName: `state/${clientId}`, payload: 'rebooted', qos: mqtt5.QoS.AtLeastOnce });
  await iot.trace.waitFor({ direction: 'in', clientId, packet: { cmd: 'publish', topic: `state/${clientId}` } });
}

describe('aws-iot-device-sdk-v2 with custom authentication', () => {
  test('MQTT 3.1.1: with_custom_authorizer() over TLS with ALPN mqtt, user name, password and a signed token', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const requests: CustomAuthorizerRequest[] = [];
    const iot = await endpoint({
      tls: true, seed: 3,
      authorizers: {
        'device-auth': {
          handler: (request) => (requests.push(request), allowed('sdk311')),
          tokenKeyName: 'deviceToken',
          tokenSigningPublicKeys: { key1: publicKey.export({ type: 'spki', format: 'pem' }) as string },
        },
      },
    });
    const signature = sign('sha256', Buffer.from('token-123'), privateKey).toString('base64'); // the SDK URL-encodes it
    const config = awsIot.AwsIotMqttConnectionConfigBuilder.new_default_builder()
      .with_custom_authorizer('sensor-7', 'device-auth', signature, 'secret', 'deviceToken', 'token-123')
      .with_certificate_authority_from_path(undefined, FIXTURE_CA)   // AWS: Amazon Root CA 1
      .with_endpoint('localhost')                                    // AWS: <prefix>-ats.iot.<region>.amazonaws.com
      .with_port(iot.tls!.port)                                      // AWS: 443 (with_custom_authorizer sets it)
      .with_client_id('sdk-311')
      .with_clean_session(true)
      .build();
    const connection = new mqtt.MqttClient().new_connection(config);
    connections.add(connection);
    connection.on('error', () => {});
    await connection.connect();

    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      token: 'token-123', signatureVerified: true, protocols: ['tls', 'mqtt'],
      protocolData: { tls: { serverName: 'localhost' }, mqtt: { username: expect.stringMatching(/^sensor-7\?x-amz-customauthorizer-name=device-auth&/), password: Buffer.from('secret').toString('base64'), clientId: 'sdk-311' } },
    });
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'sdk-311' })).toMatchObject({ transport: 'tls', alpn: 'mqtt', principal: 'sdk311', authorizer: 'device-auth', protocolVersion: 4 });

    const command = new Promise<string>((resolve) => {
      void connection.subscribe('cmd/sdk-311', mqtt.QoS.AtLeastOnce, (_topic, payload) => resolve(Buffer.from(payload).toString()));
    });
    await iot.trace.waitFor({ event: 'subscription-active', clientId: 'sdk-311' });
    iot.publish('cmd/sdk-311', 'reboot', { qos: 1 });
    expect(await command).toBe('reboot');
    await connection.publish('state/sdk-311', 'rebooted', mqtt.QoS.AtLeastOnce);
    await iot.trace.waitFor({ direction: 'in', clientId: 'sdk-311', packet: { cmd: 'publish', topic: 'state/sdk-311' } });
  });

  test('MQTT 5: newDirectMqttBuilderWithCustomAuth (ALPN mqtt); a refusal is CONNACK 0x86', async () => {
    const iot = await endpoint({ tls: true, seed: 3, authorizers: { 'device-auth': (request) => (request.protocolData.mqtt?.password === Buffer.from('secret').toString('base64') ? allowed('sdk5') : { isAuthenticated: false }) } });
    const build = (clientId: string, password: string) => awsIot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithCustomAuth('localhost', { authorizerName: 'device-auth', username: 'sensor-8', password: Buffer.from(password) })
      .withCertificateAuthorityFromPath(undefined, FIXTURE_CA)
      .withPort(iot.tls!.port)
      .withConnectProperties({ clientId, keepAliveIntervalSeconds: 60 })
      .build();

    const { c, outcome } = start(build('sdk-5', 'secret'));
    await until(() => outcome.success !== undefined, 'connection');
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'sdk-5' })).toMatchObject({ alpn: 'mqtt', principal: 'sdk5', authorizer: 'device-auth', protocolVersion: 5 });
    await exchange(iot, c, 'sdk-5');

    const refused = start(build('sdk-5-bad', 'wrong'));
    await until(() => refused.outcome.failure !== undefined, 'connection failure');
    expect(refused.outcome.failure!.connack?.reasonCode).toBe(mqtt5.ConnectReasonCode.BadUsernameOrPassword);
    expect(await iot.trace.waitFor({ event: 'authorizer', clientId: 'sdk-5-bad' })).toMatchObject({ isAuthenticated: false });
  });

  test('MQTT 5: newWebsocketMqttBuilderWithCustomAuth (wss://, no SigV4; the authorizer named in the user name)', async () => {
    const requests: CustomAuthorizerRequest[] = [];
    const iot = await endpoint({ websockets: true, seed: 3, authorizers: { 'device-auth': (request) => (requests.push(request), allowed('sdk5ws')) } });
    const config = awsIot.AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithCustomAuth('localhost', { authorizerName: 'device-auth', username: 'sensor-9', password: Buffer.from('secret') })
      .withCertificateAuthorityFromPath(undefined, FIXTURE_CA)
      .withPort(iot.ws!.port)
      .withConnectProperties({ clientId: 'sdk-5-ws', keepAliveIntervalSeconds: 60 })
      .build();
    const { c, outcome } = start(config);
    await until(() => outcome.success !== undefined, 'connection');
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'sdk-5-ws' })).toMatchObject({ transport: 'wss', principal: 'sdk5ws', authorizer: 'device-auth' });
    expect(requests[0]).toMatchObject({ protocols: ['tls', 'http', 'mqtt'], protocolData: { http: { headers: expect.objectContaining({ host: 'localhost', 'sec-websocket-protocol': 'mqtt' }) }, mqtt: { clientId: 'sdk-5-ws' } } });
    await exchange(iot, c, 'sdk-5-ws');
  });
});
