/**
 * The AWS IoT Device SDK v2 for JavaScript (aws-iot-device-sdk-v2, on aws-crt's native MQTT 3.1.1 client)
 * against the endpoint over real sockets: plain TCP, mTLS from files (the builder offers ALPN x-amzn-mqtt-ca
 * on every port), mTLS with no ALPN at all, and MQTT over wss:// signed with SigV4 from a static credentials
 * provider. Each cell connects, subscribes, receives a message from iot.publish, publishes one the trace
 * shows, and checks who the connect event says connected.
 */
import { auth, io, iot as awsIot, mqtt } from 'aws-iot-device-sdk-v2';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { run } from '../clients/cli';
import { endpoint } from '../helpers';
import type { FakeIot } from '../../src';
import { mtlsBuilder } from './crt';

const CREDENTIALS = { accessKeyId: 'AKIAV2EXAMPLE', secretAccessKey: 'v2-secret/EXAMPLEKEY' };
/** The CA that signed the server certificate wss:// serves by default. */
const FIXTURE_CA = path.resolve(__dirname, '../../fixtures/ca.pem');

/** Every connection a test opened, disconnected after it (their native resources are freed then). */
const opened = new Set<mqtt.MqttClientConnection>();
afterEach(async () => {
  for (const connection of [...opened]) {
    opened.delete(connection);
    await connection.disconnect().catch(() => {}); // one that never connected says AWS_ERROR_MQTT_NOT_CONNECTED
  }
});

function open(config: mqtt.MqttConnectionConfig): { connection: mqtt.MqttClientConnection; errors: unknown[] } {
  const connection = new mqtt.MqttClient().new_connection(config);
  opened.add(connection);
  const errors: unknown[] = [];
  connection.on('error', (error) => errors.push(error)); // without a listener, EventEmitter would throw it
  return { connection, errors };
}

/**
 * The cell: connect, subscribe to cmd/<id>, get iot.publish()'s command, answer on state/<id> (awaited in the
 * trace); resolves with the connect event. `ms` is how long connect() took.
 */
async function cell(iot: FakeIot, clientId: string, config: mqtt.MqttConnectionConfig) {
  const { connection, errors } = open(config);
  const started = performance.now();
  expect(await connection.connect()).toBe(false); // sessionPresent: a clean session
  const ms = performance.now() - started;

  const command = new Promise<string>((resolve) => {
    void connection.subscribe(`cmd/${clientId}`, mqtt.QoS.AtLeastOnce, (topic, payload) => resolve(`${topic} ${Buffer.from(payload).toString()}`));
  });
  await iot.trace.waitFor({ event: 'subscription-active', clientId, topic: `cmd/${clientId}` });
  iot.publish(`cmd/${clientId}`, 'reboot', { qos: 1 });
  expect(await command).toBe(`cmd/${clientId} reboot`);

  await connection.publish(`state/${clientId}`, JSON.stringify({ rebooted: true }), mqtt.QoS.AtLeastOnce);
  const report = await iot.trace.waitFor({ direction: 'in', clientId, packet: { cmd: 'publish', topic: `state/${clientId}` } });
  expect(JSON.parse(report.packet.payload.toString())).toEqual({ rebooted: true });
  expect(report.packet.qos).toBe(1);

  await connection.disconnect();
  opened.delete(connection);
  await iot.trace.waitFor({ event: 'disconnect', clientId });
  expect(errors).toEqual([]);
  return { connect: await iot.trace.waitFor({ event: 'connect', clientId }), ms };
}

describe('aws-iot-device-sdk-v2 (aws-crt) MQTT 3.1.1 connection', () => {
  test('plain TCP: a connection config without tls_ctx (the IoT builder always sets one up)', async () => {
    const iot = await endpoint();
    const { connect } = await cell(iot, 'v2-tcp', {
      client_id: 'v2-tcp', host_name: '127.0.0.1', port: iot.port, clean_session: true, keep_alive: 30, socket_options: new io.SocketOptions(),
    });
    expect(connect).toMatchObject({ transport: 'tcp', keepAliveSeconds: 30 });
    expect(connect.principal).toBeUndefined();
  });

  test('mTLS with new_mtls_builder_from_path: certificate id and thing name; the builder offers ALPN x-amzn-mqtt-ca', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('v2-thing');
    const { connect } = await cell(iot, 'v2-mtls', mtlsBuilder(iot, dev, 'v2-mtls').build());
    // aws-crt 1.33 puts x-amzn-mqtt-ca in front of the ALPN list of every mTLS builder, whatever the port:
    // the same handshake AWS gets on 443, so this cell is also the SDK's "TLS + ALPN" cell.
    expect(connect).toMatchObject({ transport: 'tls', principal: dev.certificateId, thingName: 'v2-thing', sni: 'localhost', alpn: 'x-amzn-mqtt-ca' });
    expect(iot.clients()).toEqual([]);
  });

  test('mTLS with no ALPN at all (TlsContextOptions.alpn_list emptied), as 8883 takes it', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('v2-no-alpn');
    const options = io.TlsContextOptions.create_client_with_mtls_from_path(dev.certPath, dev.keyPath);
    options.override_default_trust_store_from_path(undefined, dev.caPath);
    options.alpn_list = [];
    const config = mtlsBuilder(iot, dev, 'v2-no-alpn').build();
    const { connect } = await cell(iot, 'v2-no-alpn', { ...config, tls_ctx: new io.ClientTlsContext(options) });
    expect(connect).toMatchObject({ transport: 'tls', principal: dev.certificateId, thingName: 'v2-no-alpn', sni: 'localhost' });
    expect(connect.alpn).toBeUndefined();
  });

  test('TLS + ALPN chosen explicitly with TlsContextOptions.alpn_list on a port other than 443, certificate attached to no thing', async () => {
    const iot = await endpoint({ tls: true });
    const certificate = iot.createCertificate();
    const options = io.TlsContextOptions.create_client_with_mtls(certificate.certificatePem, certificate.privateKey);
    options.override_default_trust_store(certificate.caCertificate);
    options.alpn_list = ['x-amzn-mqtt-ca'];
    const config = awsIot.AwsIotMqttConnectionConfigBuilder.new_default_builder().with_endpoint('localhost').with_port(iot.tls!.port).with_client_id('v2-alpn').with_clean_session(true).build();
    const { connect } = await cell(iot, 'v2-alpn', { ...config, tls_ctx: new io.ClientTlsContext(options) });
    expect(connect).toMatchObject({ transport: 'tls', principal: certificate.certificateId, alpn: 'x-amzn-mqtt-ca' });
    expect(connect.thingName).toBeUndefined();
  });

  test('WSS with new_with_websockets and a static credentials provider: the endpoint verifies the SigV4 signature', async () => {
    const iot = await endpoint({ websockets: true, credentials: CREDENTIALS });
    const { connect } = await cell(
      iot,
      'v2-wss',
      awsIot.AwsIotMqttConnectionConfigBuilder.new_with_websockets({
        region: 'eu-central-1',
        credentials_provider: auth.AwsCredentialsProvider.newStatic(CREDENTIALS.accessKeyId, CREDENTIALS.secretAccessKey),
      })
        .with_certificate_authority_from_path(undefined, FIXTURE_CA)
        .with_endpoint('localhost')
        .with_port(iot.ws!.port)
        .with_client_id('v2-wss')
        .with_clean_session(true)
        .build(),
    );
    expect(connect).toMatchObject({ transport: 'wss', principal: CREDENTIALS.accessKeyId });
  });

  test('WSS signed with a wrong secret: connect() rejects, HTTP 403 in the trace, a bystander still served', async () => {
    const iot = await endpoint({ websockets: true, credentials: CREDENTIALS });
    const { connection } = open(
      awsIot.AwsIotMqttConnectionConfigBuilder.new_with_websockets({ region: 'us-east-1', credentials_provider: auth.AwsCredentialsProvider.newStatic(CREDENTIALS.accessKeyId, 'wrong') })
        .with_certificate_authority_from_path(undefined, FIXTURE_CA)
        .with_endpoint('localhost').with_port(iot.ws!.port).with_client_id('v2-forged').with_clean_session(true).build(),
    );
    await expect(connection.connect()).rejects.toBeDefined();
    expect(await iot.trace.waitFor({ event: 'transport-error' })).toMatchObject({ reason: 'signature-mismatch', message: expect.stringMatching(/^HTTP 403/) });
    expect(iot.trace.filter({ kind: 'packet' })).toEqual([]);
    const { connect } = await cell(iot, 'v2-bystander', { client_id: 'v2-bystander', host_name: '127.0.0.1', port: iot.port, clean_session: true, socket_options: new io.SocketOptions() });
    expect(connect.transport).toBe('tcp');
  });

  test('a revoked certificate: connect() rejects, certificate-revoked in the trace', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('v2-revoked');
    iot.setCertificateStatus(dev.certificateId, 'REVOKED');
    const { connection } = open(mtlsBuilder(iot, dev, 'v2-revoked').build());
    await expect(connection.connect()).rejects.toBeDefined();
    expect(await iot.trace.waitFor({ event: 'transport-error' })).toMatchObject({ reason: 'certificate-revoked', principal: dev.certificateId });
    expect(iot.clients()).toEqual([]);
  });

  test('aws-crt keeps no process alive: a node process that connects, round-trips and disconnects exits by itself', async () => {
    const dist = path.resolve(__dirname, '../../dist/index.js');
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run "npm run build" first (npm test does it for you).`);
    // No process.exit() anywhere: the process ends when nothing (native threads included) holds its event loop.
    const script = `
      const { startFakeIot } = require(${JSON.stringify(dist)});
      const { mqtt, iot: awsIot } = require(${JSON.stringify(require.resolve('aws-iot-device-sdk-v2'))});
      (async () => {
        const iot = await startFakeIot({ tls: true });
        const dev = iot.createThing('child');
        const connection = new mqtt.MqttClient().new_connection(
          awsIot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(dev.certPath, dev.keyPath)
            .with_certificate_authority_from_path(undefined, dev.caPath).with_endpoint('localhost').with_port(iot.tls.port)
            .with_client_id('child').with_clean_session(true).build());
        await connection.connect();
        await connection.publish('state/child', 'up', mqtt.QoS.AtLeastOnce);
        const report = await iot.trace.waitFor({ direction: 'in', clientId: 'child', packet: { cmd: 'publish', topic: 'state/child' } });
        await connection.disconnect();
        await iot.close();
        console.log('done', report.packet.payload.toString());
      })().catch((error) => { console.error(error); process.exitCode = 1; });`;
    const started = performance.now();
    const result = await run(process.execPath, ['-e', script], 15_000);
    expect(result).toMatchObject({ code: 0, stdout: 'done up\n', stderr: '' });
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
