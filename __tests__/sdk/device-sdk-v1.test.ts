/**
 * The AWS IoT Device SDK v1 for JavaScript (aws-iot-device-sdk: device() and thingShadow(), on MQTT.js 4)
 * against the endpoint over real sockets: mTLS from keyPath/certPath/caPath, TLS + ALPN x-amzn-mqtt-ca, and
 * MQTT over wss:// signed with SigV4 from static credentials. Each cell connects, subscribes, receives a
 * message from iot.publish, publishes one the trace shows, and checks who the connect event says connected.
 *
 * ALPN: the SDK (2.2.16) never sets ALPN itself, on 443 or elsewhere (its source has no ALPN at all). It hands
 * its whole options object to node's tls.connect() (device/lib/tls.js), so device code for port 443 passes
 * `ALPNProtocols: ['x-amzn-mqtt-ca']` as AWS's port-443 guidance says: the same option works on any port.
 * For wss://, it hands `websocketOptions` to the `ws` client: that is where the CA to trust goes (`ca`).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as awsIot from 'aws-iot-device-sdk';
import { endpoint } from '../helpers';
import type { FakeIot } from '../../src';

const CREDENTIALS = { accessKeyId: 'AKIAV1EXAMPLE', secretAccessKey: 'v1-secret/EXAMPLEKEY' };
const FIXTURE_CA = path.resolve(__dirname, '../../fixtures/ca.pem');

/** The SDK's clients reconnect on their own (every second by default): each is ended, forcibly, after its test. */
const opened = new Set<awsIot.device | awsIot.thingShadow>();
afterEach(async () => {
  await Promise.all([...opened].map((d) => new Promise<void>((resolve) => d.end(true, () => resolve()))));
  opened.clear();
});

type Client = awsIot.device | awsIot.thingShadow;

function track<T extends Client>(client: T): { client: T; errors: (Error | string)[] } {
  opened.add(client);
  const errors: (Error | string)[] = [];
  client.on('error', (error: Error | string) => errors.push(error)); // without a listener, EventEmitter would throw it
  return { client, errors };
}

/**
 * The cell: wait for 'connect', subscribe to cmd/<id>, get iot.publish()'s command, answer on state/<id>
 * (awaited in the trace); resolves with the connect event and how long the connection took.
 */
async function cell(iot: FakeIot, clientId: string, client: Client, errors: (Error | string)[], started: number) {
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('close', () => reject(new Error(`${clientId}: closed before CONNACK; errors: ${errors.map(String).join('; ')}`)));
  });
  const ms = performance.now() - started;

  const command = new Promise<string>((resolve) => client.on('message', (topic: string, payload: Buffer) => resolve(`${topic} ${payload.toString()}`)));
  client.subscribe(`cmd/${clientId}`, { qos: 1 });
  await iot.trace.waitFor({ event: 'subscription-active', clientId, topic: `cmd/${clientId}` });
  iot.publish(`cmd/${clientId}`, 'reboot', { qos: 1 });
  expect(await command).toBe(`cmd/${clientId} reboot`);

  client.publish(`state/${clientId}`, JSON.stringify({ rebooted: true }), { qos: 1 });
  const report = await iot.trace.waitFor({ direction: 'in', clientId, packet: { cmd: 'publish', topic: `state/${clientId}` } });
  expect(JSON.parse(report.packet.payload.toString())).toEqual({ rebooted: true });
  expect(report.packet.qos).toBe(1);
  expect(errors).toEqual([]);
  return { connect: await iot.trace.waitFor({ event: 'connect', clientId }), ms };
}

describe('aws-iot-device-sdk (v1)', () => {
  test('device() over mTLS, 8883 style: keyPath/certPath/caPath from createThing(), host localhost, no ALPN', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('v1-thing');
    const started = performance.now();
    const { client, errors } = track(new awsIot.device({ keyPath: dev.keyPath, certPath: dev.certPath, caPath: dev.caPath, clientId: 'v1-mtls', host: 'localhost', port: iot.tls!.port }));
    const { connect } = await cell(iot, 'v1-mtls', client, errors, started);
    expect(connect).toMatchObject({ transport: 'tls', principal: dev.certificateId, thingName: 'v1-thing', sni: 'localhost', keepAliveSeconds: 300 });
    expect(connect.alpn).toBeUndefined();
  });

  test('device() with TLS + ALPN x-amzn-mqtt-ca (port 443 style; ALPNProtocols reaches tls.connect unchanged)', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('v1-alpn-thing');
    const started = performance.now();
    const { client, errors } = track(
      new awsIot.device({ keyPath: dev.keyPath, certPath: dev.certPath, caPath: dev.caPath, clientId: 'v1-alpn', host: 'localhost', port: iot.tls!.port, ALPNProtocols: ['x-amzn-mqtt-ca'] }),
    );
    const { connect } = await cell(iot, 'v1-alpn', client, errors, started);
    expect(connect).toMatchObject({ transport: 'tls', principal: dev.certificateId, thingName: 'v1-alpn-thing', alpn: 'x-amzn-mqtt-ca' });
  });

  test("device() over WSS with protocol 'wss' and static credentials: the endpoint verifies the SigV4 signature", async () => {
    const iot = await endpoint({ websockets: true, credentials: CREDENTIALS });
    const started = performance.now();
    const { client, errors } = track(
      new awsIot.device({
        protocol: 'wss', accessKeyId: CREDENTIALS.accessKeyId, secretKey: CREDENTIALS.secretAccessKey,
        region: 'us-east-1', // derived from an AWS host name; 'localhost' has none
        host: 'localhost', port: iot.ws!.port, clientId: 'v1-wss',
        websocketOptions: { ca: readFileSync(FIXTURE_CA) },
      }),
    );
    const { connect } = await cell(iot, 'v1-wss', client, errors, started);
    expect(connect).toMatchObject({ transport: 'wss', principal: CREDENTIALS.accessKeyId });
    expect(connect.thingName).toBeUndefined();
  });

  test('thingShadow() connects over mTLS and uses the plain topic API', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('v1-shadow-thing');
    const started = performance.now();
    const { client, errors } = track(new awsIot.thingShadow({ keyPath: dev.keyPath, certPath: dev.certPath, caPath: dev.caPath, clientId: 'v1-shadow', host: 'localhost', port: iot.tls!.port }));
    const { connect } = await cell(iot, 'v1-shadow', client, errors, started);
    expect(connect).toMatchObject({ transport: 'tls', principal: dev.certificateId, thingName: 'v1-shadow-thing' });
  });

  test('device() over WSS with a wrong secret: HTTP 403 in the trace, no packet reaches the broker, a bystander is served', async () => {
    const iot = await endpoint({ websockets: true, tls: true, credentials: CREDENTIALS });
    const { client } = track(
      new awsIot.device({
        protocol: 'wss', accessKeyId: CREDENTIALS.accessKeyId, secretKey: 'wrong', region: 'us-east-1',
        host: 'localhost', port: iot.ws!.port, clientId: 'v1-forged', websocketOptions: { ca: readFileSync(FIXTURE_CA) },
      }),
    );
    expect(await iot.trace.waitFor({ event: 'transport-error' })).toMatchObject({ reason: 'signature-mismatch', message: expect.stringMatching(/^HTTP 403/) });
    expect(iot.trace.filter({ kind: 'packet' })).toEqual([]);
    client.end(true);

    const dev = iot.createThing('v1-bystander');
    const started = performance.now();
    const bystander = track(new awsIot.device({ keyPath: dev.keyPath, certPath: dev.certPath, caPath: dev.caPath, clientId: 'v1-bystander', host: 'localhost', port: iot.tls!.port }));
    expect((await cell(iot, 'v1-bystander', bystander.client, bystander.errors, started)).connect.thingName).toBe('v1-bystander');
  });

  test('device() with a revoked certificate: refused at each retry of the SDK, before any packet reaches the broker', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('v1-revoked');
    iot.setCertificateStatus(dev.certificateId, 'REVOKED');
    const { client } = track(new awsIot.device({ keyPath: dev.keyPath, certPath: dev.certPath, caPath: dev.caPath, clientId: 'v1-revoked', host: 'localhost', port: iot.tls!.port, baseReconnectTimeMs: 100 }));
    const first = await iot.trace.waitFor({ event: 'transport-error' });
    const second = await iot.trace.waitFor((e) => e.kind === 'event' && e.event === 'transport-error' && e.seq > first.seq);
    for (const refused of [first, second]) expect(refused).toMatchObject({ reason: 'certificate-revoked', principal: dev.certificateId });
    expect(iot.trace.filter({ kind: 'packet' })).toEqual([]);
    client.end(true);
  });
});
