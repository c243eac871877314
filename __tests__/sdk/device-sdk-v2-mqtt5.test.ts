/**
 * aws-iot-device-sdk-v2's recommended client, mqtt5.Mqtt5Client (aws-crt's native MQTT 5 client), against the
 * `current` profile over plain TCP: connect (AWS's CONNACK properties reach the client's negotiated settings),
 * subscribe, receive a message with user properties from another MQTT 5 client, publish one the trace shows,
 * and a takeover the old client hears as DISCONNECT 0x8E; then the same over mTLS with the IoT config builder
 * (certificate from iot.createThing(), CA iot.tls.caCertificate). Each client is stopped and closed after its test
 * (aws-crt's native resources are released then, as device-sdk-v2.test.ts does for its MQTT 3.1.1 cells).
 */
import { iot as awsIot, mqtt5 } from 'aws-iot-device-sdk-v2';
import { client, endpoint } from '../helpers';
import { mqtt5Clients, until } from './crt';
import type { FakeIot } from '../../src';

const opened = mqtt5Clients();

function start(iot: FakeIot, clientId: string): { c: mqtt5.Mqtt5Client; connected: Promise<mqtt5.ConnectionSuccessEvent>; messages: mqtt5.MessageReceivedEvent[]; disconnections: mqtt5.DisconnectionEvent[] } {
  const c = new mqtt5.Mqtt5Client({
    hostName: '127.0.0.1',
    port: iot.port,
    connectProperties: { clientId, keepAliveIntervalSeconds: 30 },
    // One attempt: a reconnect would meet AWS's 1 CONNECT/s per client id and muddy what the test sees.
    minReconnectDelayMs: 60_000,
  });
  opened.add(c);
  const messages: mqtt5.MessageReceivedEvent[] = [];
  const disconnections: mqtt5.DisconnectionEvent[] = [];
  c.on('messageReceived', (event) => messages.push(event));
  c.on('disconnection', (event) => disconnections.push(event));
  c.on('error', () => {}); // without a listener, EventEmitter would throw it
  const connected = new Promise<mqtt5.ConnectionSuccessEvent>((resolve, reject) => {
    c.once('connectionSuccess', resolve);
    c.once('connectionFailure', (event) => reject(event.error));
  });
  c.start();
  return { c, connected, messages, disconnections };
}

describe('aws-iot-device-sdk-v2 Mqtt5Client (aws-crt MQTT 5)', () => {
  test('connect, subscribe, receive with user properties, publish', async () => {
    const iot = await endpoint({ profile: 'current' });
    const { c, connected, messages } = start(iot, 'sdk5-dev');
    const success = await connected;
    expect(success.connack.reasonCode).toBe(mqtt5.ConnectReasonCode.Success);
    expect(success.settings).toMatchObject({ maximumQos: mqtt5.QoS.AtLeastOnce, topicAliasMaximumToServer: 8, maximumPacketSizeToServer: 131072, receiveMaximumFromServer: 100, wildcardSubscriptionsAvailable: true, subscriptionIdentifiersAvailable: false, sharedSubscriptionsAvailable: true });
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'sdk5-dev' })).toMatchObject({ protocolVersion: 5 });

    const suback = await c.subscribe({ subscriptions: [{ topicFilter: 'cmd/sdk5-dev', qos: mqtt5.QoS.AtLeastOnce }] });
    expect(suback.reasonCodes).toEqual([mqtt5.SubackReasonCode.GrantedQoS1]);
    await iot.trace.waitFor({ event: 'subscription-active', clientId: 'sdk5-dev' });

    const cloud = await client(iot, 'sdk5-cloud', { protocolVersion: 5 });
    await cloud.publishAsync('cmd/sdk5-dev', 'reboot', { qos: 1, properties: { userProperties: { requestId: 'r-1' }, contentType: 'text/plain' } });
    await until(() => messages.length >= 1, 'a message');
    const { message } = messages[0]!;
    expect([message.topicName, Buffer.from(message.payload as ArrayBuffer).toString(), message.contentType]).toEqual(['cmd/sdk5-dev', 'reboot', 'text/plain']);
    expect(message.userProperties).toEqual([{ name: 'requestId', value: 'r-1' }]);

    const result = await c.publish({ topicName: 'state/sdk5-dev', payload: JSON.stringify({ rebooted: true }), qos: mqtt5.QoS.AtLeastOnce, userProperties: [{ name: 'fw', value: '1.2' }] });
    expect((result as mqtt5.PubackPacket).reasonCode).toBe(mqtt5.PubackReasonCode.Success);
    const report = await iot.trace.waitFor({ direction: 'in', clientId: 'sdk5-dev', packet: { cmd: 'publish', topic: 'state/sdk5-dev' } });
    expect(report.packet.properties?.userProperties).toEqual({ fw: '1.2' });
  });

  test('a takeover: the old Mqtt5Client hears DISCONNECT 0x8E Session taken over', async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual' });
    const old = start(iot, 'sdk5-twin');
    await old.connected;
    iot.clock.advance(1000); // AWS's 1 CONNECT/s per client id
    await client(iot, 'sdk5-twin', { protocolVersion: 5 });
    await until(() => old.disconnections.length >= 1, 'the disconnection event');
    expect(old.disconnections[0]!.disconnect?.reasonCode).toBe(mqtt5.DisconnectReasonCode.SessionTakenOver);
  });
});

describe('aws-iot-device-sdk-v2 Mqtt5Client over mTLS (AwsIotMqtt5ClientConfigBuilder)', () => {
  test('connect with a createThing() certificate, subscribe, receive from iot.publish, publish; the connect event says v5, tls, thing', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('sdk5-thing');
    const config = awsIot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory('localhost', dev.certificatePem, dev.privateKey)
      .withCertificateAuthority(iot.tls!.caCertificate)
      .withPort(iot.tls!.port)
      .withConnectProperties({ clientId: 'sdk5-mtls', keepAliveIntervalSeconds: 30 })
      // One attempt: a reconnect would meet AWS's 1 CONNECT/s per client id and muddy what the test sees.
      .withMinReconnectDelayMs(60_000)
      .build();
    const c = new mqtt5.Mqtt5Client(config);
    opened.add(c);
    const messages: mqtt5.MessageReceivedEvent[] = [];
    c.on('messageReceived', (event) => messages.push(event));
    c.on('error', () => {}); // without a listener, EventEmitter would throw it
    const connected = new Promise<mqtt5.ConnectionSuccessEvent>((resolve, reject) => {
      c.once('connectionSuccess', resolve);
      c.once('connectionFailure', (event) => reject(event.error));
    });
    c.start();
    expect((await connected).connack.reasonCode).toBe(mqtt5.ConnectReasonCode.Success);
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'sdk5-mtls' })).toMatchObject({
      protocolVersion: 5,
      transport: 'tls',
      principal: dev.certificateId,
      thingName: 'sdk5-thing',
    });

    const suback = await c.subscribe({ subscriptions: [{ topicFilter: 'cmd/sdk5-thing', qos: mqtt5.QoS.AtLeastOnce }] });
    expect(suback.reasonCodes).toEqual([mqtt5.SubackReasonCode.GrantedQoS1]);
    await iot.trace.waitFor({ event: 'subscription-active', clientId: 'sdk5-mtls', topic: 'cmd/sdk5-thing' });
    iot.publish('cmd/sdk5-thing', 'reboot', { qos: 1 });
    await until(() => messages.length >= 1, 'a message');
    const { message } = messages[0]!;
    expect([message.topicName, Buffer.from(message.payload as ArrayBuffer).toString(), message.qos]).toEqual(['cmd/sdk5-thing', 'reboot', mqtt5.QoS.AtLeastOnce]);

    const result = await c.publish({ topicName: 'state/sdk5-thing', payload: JSON.stringify({ rebooted: true }), qos: mqtt5.QoS.AtLeastOnce, contentType: 'application/json' });
    expect((result as mqtt5.PubackPacket).reasonCode).toBe(mqtt5.PubackReasonCode.Success);
    const report = await iot.trace.waitFor({ direction: 'in', clientId: 'sdk5-mtls', packet: { cmd: 'publish', topic: 'state/sdk5-thing' } });
    expect(JSON.parse(report.packet.payload.toString())).toEqual({ rebooted: true });
    expect([report.packet.qos, report.packet.properties?.contentType]).toEqual([1, 'application/json']);
  });
});
