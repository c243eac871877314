/**
 * The device side of the Device Shadow with AWS's own device SDKs over real sockets:
 * - aws-iot-device-sdk-v2's `iotshadow.IotShadowClient` over its MQTT 3.1.1 connection (aws-crt, native
 *   threads: every connection is disconnected after its test so nothing keeps Jest alive);
 * - aws-iot-device-sdk v1's `thingShadow` (register, update, get, the delta callback) over mTLS.
 * The cloud side is iot.shadows and the AWS SDK's data-plane client against iot.http.url.
 */
import { UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import * as awsIotV1 from 'aws-iot-device-sdk';
import { iotshadow, mqtt } from 'aws-iot-device-sdk-v2';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { run } from '../clients/cli';
import { endpoint } from '../helpers';
import { mtlsBuilder, v2Connections } from './crt';
import { body, sdk } from '../services/http-helpers';

const crt = v2Connections();
const v1Clients = new Set<awsIotV1.thingShadow>();
afterEach(async () => {
  await Promise.all([...v1Clients].map((c) => new Promise<void>((resolve) => c.end(true, () => resolve()))));
  v1Clients.clear();
});

/** The first message a v2 shadow subscription hands its handler. */
function first<T>(): { handler: (error?: iotshadow.IotShadowError, response?: T) => void; next: Promise<T> } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const next = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { handler: (error, response) => (error ? reject(error) : resolve(response!)), next };
}

describe('aws-iot-device-sdk-v2 iotshadow.IotShadowClient', () => {
  test('get on a fresh thing is rejected 404; update reported is accepted; the cloud sets desired and the delta arrives', async () => {
    const iot = await endpoint({ http: true });
    const connection = await crt.plain(iot, 'v2-lamp');
    const shadow = new iotshadow.IotShadowClient(connection);
    const thingName = 'v2-lamp';
    const QoS = mqtt.QoS.AtLeastOnce;

    const getRejected = first<iotshadow.model.ErrorResponse>();
    await shadow.subscribeToGetShadowRejected({ thingName }, QoS, getRejected.handler);
    await shadow.publishGetShadow({ thingName, clientToken: 'get-1' }, QoS);
    expect(await getRejected.next).toMatchObject({ code: 404, message: "No shadow exists with name: 'v2-lamp'", clientToken: 'get-1' });

    const updateAccepted = first<iotshadow.model.UpdateShadowResponse>();
    await shadow.subscribeToUpdateShadowAccepted({ thingName }, QoS, updateAccepted.handler);
    await shadow.publishUpdateShadow({ thingName, state: { reported: { on: false } }, clientToken: 'upd-1' }, QoS);
    expect(await updateAccepted.next).toMatchObject({ state: { reported: { on: false } }, version: 1, clientToken: 'upd-1' });

    const delta = first<iotshadow.model.ShadowDeltaUpdatedEvent>();
    await shadow.subscribeToShadowDeltaUpdatedEvents({ thingName }, QoS, delta.handler);
    // The backend, with the AWS SDK against the same endpoint.
    await sdk(iot).send(new UpdateThingShadowCommand({ thingName, payload: body({ state: { desired: { on: true } } }) }));
    const event = await delta.next;
    expect(event).toMatchObject({ state: { on: true }, version: 2 });
    expect(event.metadata).toMatchObject({ on: { timestamp: expect.any(Number) } });

    const getAccepted = first<iotshadow.model.GetShadowResponse>();
    await shadow.subscribeToGetShadowAccepted({ thingName }, QoS, getAccepted.handler);
    await shadow.publishGetShadow({ thingName }, QoS);
    expect(await getAccepted.next).toMatchObject({ state: { desired: { on: true }, reported: { on: false }, delta: { on: true } }, version: 2 });
  });

  test('a named shadow over mTLS with a certificate from iot.createThing()', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('v2-meter');
    const config = mtlsBuilder(iot, dev, 'v2-meter').build();
    const connection = crt.track(new mqtt.MqttClient().new_connection(config));
    await connection.connect();
    const shadow = new iotshadow.IotShadowClient(connection);
    const request = { thingName: 'v2-meter', shadowName: 'config' };
    const QoS = mqtt.QoS.AtLeastOnce;

    const rejected = first<iotshadow.model.ErrorResponse>();
    await shadow.subscribeToGetNamedShadowRejected(request, QoS, rejected.handler);
    await shadow.publishGetNamedShadow(request, QoS);
    expect(await rejected.next).toMatchObject({ code: 404, message: "No shadow exists with name: 'config'" });

    const accepted = first<iotshadow.model.UpdateShadowResponse>();
    await shadow.subscribeToUpdateNamedShadowAccepted(request, QoS, accepted.handler);
    const delta = first<iotshadow.model.ShadowDeltaUpdatedEvent>();
    await shadow.subscribeToNamedShadowDeltaUpdatedEvents(request, QoS, delta.handler);
    await shadow.publishUpdateNamedShadow({ ...request, state: { reported: { interval: 60 } } }, QoS);
    expect(await accepted.next).toMatchObject({ state: { reported: { interval: 60 } }, version: 1 });

    iot.shadows.update('v2-meter', { state: { desired: { interval: 10 } } }, { shadowName: 'config' });
    expect(await delta.next).toMatchObject({ state: { interval: 10 }, version: 2 });
    expect(iot.shadows.list('v2-meter')).toEqual([{ thingName: 'v2-meter', shadowName: 'config' }]);
    expect(iot.shadows.get('v2-meter')).toBeUndefined(); // the classic shadow was never created
  });
});

describe('aws-iot-device-sdk v1 thingShadow', () => {
  test('register, update reported, the delta callback after the cloud sets desired, get', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('v1-valve');
    const shadows = new awsIotV1.thingShadow({ keyPath: dev.keyPath, certPath: dev.certPath, caPath: dev.caPath, clientId: 'v1-valve', host: 'localhost', port: iot.tls!.port });
    v1Clients.add(shadows);
    shadows.on('error', () => {});
    const statuses: { stat: string; clientToken: string; state: Record<string, unknown> }[] = [];
    const waiters: (() => void)[] = [];
    shadows.on('status', (_thing: string, stat: string, clientToken: string, state: Record<string, unknown>) => {
      statuses.push({ stat, clientToken, state });
      waiters.splice(0).forEach((w) => w());
    });
    const status = (clientToken: string) =>
      new Promise<(typeof statuses)[number]>((resolve) => {
        const check = () => {
          const found = statuses.find((s) => s.clientToken === clientToken);
          if (found) resolve(found);
          else waiters.push(check);
        };
        check();
      });
    const delta = new Promise<Record<string, unknown>>((resolve) => shadows.on('delta', (_thing: string, state: Record<string, unknown>) => resolve(state)));

    await new Promise<void>((resolve, reject) => shadows.register('v1-valve', { persistentSubscribe: true }, (error?: Error) => (error ? reject(error) : resolve())));
    const updated = shadows.update('v1-valve', { state: { reported: { open: false } } });
    expect(updated).toEqual(expect.any(String));
    expect(await status(updated!)).toMatchObject({ stat: 'accepted', state: { state: { reported: { open: false } }, version: 1 } });

    iot.shadows.update('v1-valve', { state: { desired: { open: true } } });
    expect(await delta).toMatchObject({ state: { open: true }, version: 2 });

    const got = shadows.get('v1-valve');
    expect(got).toEqual(expect.any(String));
    expect(await status(got!)).toMatchObject({ stat: 'accepted', state: { state: { desired: { open: true }, reported: { open: false }, delta: { open: true } }, version: 2 } });
    shadows.unregister('v1-valve');
  });
});

test('nothing keeps the process alive: a node process using the v2 shadow client and the AWS SDK against http exits by itself', async () => {
  const dist = path.resolve(__dirname, '../../dist/index.js');
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run "npm run build" first (npm test does it for you).`);
  // No process.exit() anywhere: the process ends when nothing (aws-crt's native threads included) holds it.
  const script = `
    const { startFakeIot } = require(${JSON.stringify(dist)});
    const { mqtt, io, iotshadow } = require(${JSON.stringify(require.resolve('aws-iot-device-sdk-v2'))});
    const { IoTDataPlaneClient, UpdateThingShadowCommand } = require(${JSON.stringify(require.resolve('@aws-sdk/client-iot-data-plane'))});
    process.removeAllListeners('warning');
    (async () => {
      const iot = await startFakeIot({ http: true });
      const connection = new mqtt.MqttClient().new_connection({ client_id: 'child', host_name: '127.0.0.1', port: iot.port, clean_session: true, keep_alive: 30, socket_options: new io.SocketOptions() });
      await connection.connect();
      const shadow = new iotshadow.IotShadowClient(connection);
      const delta = new Promise((resolve) => shadow.subscribeToShadowDeltaUpdatedEvents({ thingName: 'child' }, mqtt.QoS.AtLeastOnce, (e, r) => resolve(r)));
      await iot.trace.waitFor({ event: 'subscription-active', clientId: 'child' });
      const aws = new IoTDataPlaneClient({ endpoint: iot.http.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIACHILD', secretAccessKey: 's' } });
      await aws.send(new UpdateThingShadowCommand({ thingName: 'child', payload: Buffer.from(JSON.stringify({ state: { desired: { on: true } } })) }));
      const event = await delta;
      aws.destroy();
      await connection.disconnect();
      await iot.close();
      console.log('done', JSON.stringify(event.state));
    })().catch((error) => { console.error(error); process.exitCode = 1; });`;
  const started = performance.now();
  const result = await run(process.execPath, ['--no-warnings', '-e', script], 15_000);
  expect(result).toMatchObject({ code: 0, stdout: 'done {"on":true}\n', stderr: '' });
  expect(performance.now() - started).toBeLessThan(10_000);
});
