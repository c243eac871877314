/**
 * AWS IoT's data-plane REST API driven by the real `@aws-sdk/client-iot-data-plane`: every command, each
 * typed exception the SDK raises from the endpoint's answers, SigV4 with configured credentials, HTTPS with
 * the fixture CA, and the MQTT side of an HTTP update seen by an MQTT.js device.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  ConflictException,
  DeleteThingShadowCommand,
  ForbiddenException,
  GetThingShadowCommand,
  InternalFailureException,
  InvalidRequestException,
  IoTDataPlaneServiceException,
  ListNamedShadowsForThingCommand,
  PublishCommand,
  RequestEntityTooLargeException,
  ResourceNotFoundException,
  ThrottlingException,
  UnauthorizedException,
  UnsupportedDocumentEncodingException,
  UpdateThingShadowCommand,
  type IoTDataPlaneClient,
} from '@aws-sdk/client-iot-data-plane';
import type { FakeIot, FakeIotOptions } from '../../src';
import { listenHttp } from '../../src/transport/http';
import { SigV4Verifier } from '../../src/transport/sigv4';
import { client, endpoint, trackUncaught } from '../helpers';
import { HTTP_CREDENTIALS, body, json, request, sdk } from './http-helpers';

const uncaught = trackUncaught();
afterAll(() => expect(uncaught).toEqual([]));

const update = (thingName: string, document: unknown, shadowName?: string) =>
  new UpdateThingShadowCommand({ thingName, payload: body(document), ...(shadowName !== undefined ? { shadowName } : {}) });

describe('every command with @aws-sdk/client-iot-data-plane over http://', () => {
  test('UpdateThingShadow, GetThingShadow, DeleteThingShadow: the documents of the shadow service; get after delete is 404', async () => {
    const iot = await endpoint({ http: true });
    expect(iot.http!.url).toBe(`http://127.0.0.1:${iot.http!.port}`);
    const aws = sdk(iot);

    const accepted = json((await aws.send(update('dev-1', { state: { desired: { on: true } }, clientToken: 'tok-1' }))).payload);
    expect(accepted).toEqual({
      state: { desired: { on: true } },
      metadata: { desired: { on: { timestamp: expect.any(Number) } } },
      version: 1,
      timestamp: expect.any(Number),
      clientToken: 'tok-1',
    });
    await aws.send(update('dev-1', { state: { reported: { on: false } } }));
    const got = json((await aws.send(new GetThingShadowCommand({ thingName: 'dev-1' }))).payload);
    expect(got).toMatchObject({ state: { desired: { on: true }, reported: { on: false }, delta: { on: true } }, version: 2 });
    expect(got).toEqual(iot.shadows.get('dev-1'));

    expect(json((await aws.send(new DeleteThingShadowCommand({ thingName: 'dev-1' }))).payload)).toEqual({ version: 2, timestamp: expect.any(Number) });
    expect(iot.shadows.get('dev-1')).toBeUndefined();
    await expect(aws.send(new GetThingShadowCommand({ thingName: 'dev-1' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    // The version survives the delete (aws-iot-behaviour.md §4.2).
    expect(json((await aws.send(update('dev-1', { state: { reported: { on: true } } }))).payload)).toMatchObject({ version: 3 });
  });

  test('named shadows (?name=) and ListNamedShadowsForThing with pages', async () => {
    const iot = await endpoint({ http: true });
    const aws = sdk(iot);
    for (const name of ['cfg', 'alarm', 'bms', 'dfu']) await aws.send(update('dev-1', { state: { reported: { n: name } } }, name));
    await aws.send(update('dev-1', { state: { reported: { classic: true } } }));
    await aws.send(update('dev-2', { state: { reported: { other: true } } }, 'cfg'));

    expect(json((await aws.send(new GetThingShadowCommand({ thingName: 'dev-1', shadowName: 'cfg' }))).payload)).toMatchObject({ state: { reported: { n: 'cfg' } }, version: 1 });
    expect(iot.shadows.get('dev-1', { shadowName: 'cfg' })).toMatchObject({ state: { reported: { n: 'cfg' } } });

    const all = await aws.send(new ListNamedShadowsForThingCommand({ thingName: 'dev-1' }));
    expect(all).toMatchObject({ results: ['alarm', 'bms', 'cfg', 'dfu'], timestamp: expect.any(Number) });
    expect(all.nextToken).toBeUndefined();

    const first = await aws.send(new ListNamedShadowsForThingCommand({ thingName: 'dev-1', pageSize: 3 }));
    expect(first.results).toEqual(['alarm', 'bms', 'cfg']);
    expect(first.nextToken).toEqual(expect.any(String));
    const second = await aws.send(new ListNamedShadowsForThingCommand({ thingName: 'dev-1', pageSize: 3, nextToken: first.nextToken }));
    expect(second.results).toEqual(['dfu']);
    expect(second.nextToken).toBeUndefined();

    expect((await aws.send(new ListNamedShadowsForThingCommand({ thingName: 'nobody' }))).results).toEqual([]);
    await aws.send(new DeleteThingShadowCommand({ thingName: 'dev-1', shadowName: 'bms' }));
    expect((await aws.send(new ListNamedShadowsForThingCommand({ thingName: 'dev-1' }))).results).toEqual(['alarm', 'cfg', 'dfu']);
    await expect(aws.send(new ListNamedShadowsForThingCommand({ thingName: 'dev-1', nextToken: 'garbage' }))).rejects.toBeInstanceOf(InvalidRequestException);
  });

  test('Publish goes through the broker like iot.publish: to subscribers (QoS from ?qos=), to the shadow service, to basic ingest', async () => {
    const iot = await endpoint({ http: true });
    const aws = sdk(iot);
    const device = await client(iot, 'http-sub-1');
    await device.subscribeAsync('cmd/#', { qos: 1 });
    await device.subscribeAsync('$aws/things/dev-9/shadow/update/accepted', { qos: 1 });

    await aws.send(new PublishCommand({ topic: 'cmd/dev-1/reboot now', qos: 1, payload: Buffer.from('now') }));
    await aws.send(new PublishCommand({ topic: 'cmd/dev-2', payload: Buffer.from('{"x":1}') })); // qos absent: 0
    const [a, b] = await device.receivedCount(2);
    expect([a!.topic, a!.payload, a!.packet.qos]).toEqual(['cmd/dev-1/reboot now', 'now', 1]);
    expect([b!.topic, b!.payload, b!.packet.qos]).toEqual(['cmd/dev-2', '{"x":1}', 0]);
    await expect(iot.trace.waitFor({ event: 'publish', origin: 'api', topic: 'cmd/dev-1/reboot now' })).resolves.toMatchObject({ qos: 1 });

    // A shadow request topic: the shadow service answers it, as for an MQTT publisher.
    await aws.send(new PublishCommand({ topic: '$aws/things/dev-9/shadow/update', payload: body({ state: { reported: { t: 21 } } }) }));
    await iot.trace.waitFor({ event: 'shadow', thingName: 'dev-9', operation: 'update', outcome: 'accepted' });
    const [, , accepted] = await device.receivedCount(3);
    expect(JSON.parse(accepted!.payload)).toMatchObject({ state: { reported: { t: 21 } }, version: 1 });

    const rule = new Promise((resolve) => iot.onRule('telemetry', resolve));
    await aws.send(new PublishCommand({ topic: '$aws/rules/telemetry/dev-1', payload: Buffer.from('42') }));
    expect(await rule).toMatchObject({ ruleName: 'telemetry', topic: 'dev-1', qos: 0 });
    await device.endAsync();
  });

  test('an SDK UpdateThingShadow that sets desired reaches the device on MQTT as update/delta (and accepted, documents)', async () => {
    const iot = await endpoint({ http: true });
    const device = await client(iot, 'lamp-1');
    await device.subscribeAsync('$aws/things/lamp-1/shadow/update/delta', { qos: 1 });
    await device.subscribeAsync('$aws/things/lamp-1/shadow/update/documents', { qos: 1 });

    await sdk(iot).send(update('lamp-1', { state: { desired: { on: true, level: 7 } }, clientToken: 'app-1' }));
    const [delta, documents] = await device.receivedCount(2);
    expect(delta!.topic).toBe('$aws/things/lamp-1/shadow/update/delta');
    expect(JSON.parse(delta!.payload)).toMatchObject({ state: { on: true, level: 7 }, version: 1, clientToken: 'app-1' });
    expect(JSON.parse(documents!.payload)).toMatchObject({ current: { state: { desired: { on: true, level: 7 } }, version: 1 }, clientToken: 'app-1' });
    await device.endAsync();
  });

  test('a rejected HTTP update answers only the HTTP caller: nothing goes to update/rejected on MQTT', async () => {
    const iot = await endpoint({ http: true });
    const device = await client(iot, 'http-rej-1');
    await device.subscribeAsync('$aws/things/dev-1/shadow/#', { qos: 1 });
    await expect(sdk(iot).send(update('dev-1', { nope: 1 }))).rejects.toBeInstanceOf(InvalidRequestException);
    await iot.trace.waitFor({ event: 'shadow', thingName: 'dev-1', outcome: 'rejected', code: 400 });
    iot.publish('$aws/things/dev-1/shadow/marker', 'after'); // a later message: everything before it has arrived
    const received = await device.receivedCount(1);
    expect(received.map((r) => r.topic)).toEqual(['$aws/things/dev-1/shadow/marker']);
    await device.endAsync();
  });
});

type Case = [status: number, exception: new (...args: never[]) => IoTDataPlaneServiceException, message: string | RegExp, act: (aws: IoTDataPlaneClient, iot: FakeIot) => Promise<unknown>, options?: FakeIotOptions];

const CASES: Record<string, Case> = {
  'GetThingShadow of a thing without a shadow': [404, ResourceNotFoundException, "No shadow exists with name: 'dev-1'", (aws) => aws.send(new GetThingShadowCommand({ thingName: 'dev-1' }))],
  'GetThingShadow of a named shadow that does not exist': [404, ResourceNotFoundException, "No shadow exists with name: 'cfg'", (aws) => aws.send(new GetThingShadowCommand({ thingName: 'dev-1', shadowName: 'cfg' }))],
  'DeleteThingShadow of a thing without a shadow': [404, ResourceNotFoundException, "No shadow exists with name: 'dev-1'", (aws) => aws.send(new DeleteThingShadowCommand({ thingName: 'dev-1' }))],
  'UpdateThingShadow with the wrong version': [409, ConflictException, 'Version conflict', async (aws) => {
    await aws.send(update('dev-1', { state: { reported: { a: 1 } } }));
    return aws.send(update('dev-1', { state: { reported: { a: 2 } }, version: 7 }));
  }],
  'UpdateThingShadow with a body that is not JSON': [400, InvalidRequestException, 'Invalid JSON', (aws) => aws.send(new UpdateThingShadowCommand({ thingName: 'dev-1', payload: Buffer.from('{"state":') }))],
  'UpdateThingShadow without state': [400, InvalidRequestException, 'Missing required node: state', (aws) => aws.send(update('dev-1', { desired: {} }))],
  'UpdateThingShadow nested too deep': [400, InvalidRequestException, 'JSON contains too many levels of nesting; maximum is 6', (aws) => aws.send(update('dev-1', { state: { desired: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } } }))],
  'UpdateThingShadow with a clientToken over 64 bytes': [400, InvalidRequestException, 'Invalid clientToken', (aws) => aws.send(update('dev-1', { state: { desired: {} }, clientToken: 'x'.repeat(65) }))],
  'UpdateThingShadow whose merged document is over 8 KB': [413, RequestEntityTooLargeException, 'The payload exceeds the maximum size allowed', (aws) => aws.send(update('dev-1', { state: { desired: { blob: 'x'.repeat(9000) } } }))],
  'Publish with a body over 128 KB (refused from Content-Length, before it is read)': [413, RequestEntityTooLargeException, 'The payload exceeds the maximum size allowed', (aws) => aws.send(new PublishCommand({ topic: 't', payload: Buffer.alloc(200 * 1024, 0x61) }))],
  'UpdateThingShadow with bytes that are not UTF-8': [415, UnsupportedDocumentEncodingException, 'Unsupported documented encoding; supported encoding is UTF-8', (aws) => aws.send(new UpdateThingShadowCommand({ thingName: 'dev-1', payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }))],
  'the 21st shadow request for one thing within a second': [429, ThrottlingException, 'Rate exceeded', async (aws) => {
    for (let i = 0; i < 20; i++) await aws.send(update('dev-1', { state: { reported: { i } } }));
    return aws.send(new GetThingShadowCommand({ thingName: 'dev-1' }));
  }, { clock: 'virtual' }],
  'Publish to a topic AWS reserves': [403, ForbiddenException, /\$aws\/events\/presence\/connected\/x.*reserves/, (aws) => aws.send(new PublishCommand({ topic: '$aws/events/presence/connected/x', payload: Buffer.from('{}') }))],
  'Publish with a topic over 7 slashes': [400, InvalidRequestException, /Invalid topic/, (aws) => aws.send(new PublishCommand({ topic: 'a/b/c/d/e/f/g/h/i', payload: Buffer.from('x') }))],
  'Publish with retain=true (the classic profile has no retained messages)': [400, InvalidRequestException, /Retained messages are not supported/, (aws) => aws.send(new PublishCommand({ topic: 't', retain: true, payload: Buffer.from('x') })), { profile: 'classic' }],
  'UpdateThingShadow for a thing name AWS would refuse': [400, InvalidRequestException, 'Invalid thing name', (aws) => aws.send(update('dev 1', { state: { desired: {} } }))],
  'a request signed with the wrong secret (credentials configured)': [403, ForbiddenException, /signature does not match/, (aws) => aws.send(new GetThingShadowCommand({ thingName: 'dev-1' })), { credentials: { ...HTTP_CREDENTIALS, secretAccessKey: 'the-right-one' } }],
};

describe('errors reach the SDK as its typed exceptions', () => {
  test.each(Object.entries(CASES))('%s', async (_name, [status, exception, message, act, options]) => {
    const iot = await endpoint({ http: true, ...options });
    const error = (await act(sdk(iot), iot).then(
      () => undefined,
      (e: unknown) => e,
    )) as IoTDataPlaneServiceException | undefined;
    expect(error).toBeInstanceOf(exception);
    expect(error!.$metadata.httpStatusCode).toBe(status);
    expect(error!.$fault).toBe(status >= 500 ? 'server' : 'client');
    if (typeof message === 'string') expect(error!.message).toBe(message);
    else expect(error!.message).toMatch(message);
    // The endpoint is still there for the next request.
    if (status !== 403) await expect(sdk(iot).send(new ListNamedShadowsForThingCommand({ thingName: 'other' }))).resolves.toMatchObject({ results: [] });
  });

  test('429: a second later (the endpoint clock) the thing takes requests again; throttles: false lifts the limit', async () => {
    const iot = await endpoint({ http: true, clock: 'virtual' });
    const aws = sdk(iot);
    for (let i = 0; i < 20; i++) await aws.send(update('dev-1', { state: { reported: { i } } }));
    await expect(aws.send(update('dev-1', { state: { reported: { i: 20 } } }))).rejects.toBeInstanceOf(ThrottlingException);
    await expect(aws.send(update('dev-2', { state: { reported: { i: 0 } } }))).resolves.toBeDefined(); // per thing
    iot.clock.advance(1000);
    await expect(aws.send(update('dev-1', { state: { reported: { i: 21 } } }))).resolves.toBeDefined();

    const free = await endpoint({ http: true, throttles: false });
    const unlimited = sdk(free);
    for (let i = 0; i < 30; i++) await unlimited.send(update('dev-1', { state: { reported: { i } } }));
    expect(free.shadows.get('dev-1')).toMatchObject({ version: 30 });
  });

  test('500: a failure inside the fake reaches the SDK as InternalFailureException (and is reported, not thrown)', async () => {
    const failures: unknown[] = [];
    const listener = await listenHttp({
      host: '127.0.0.1', port: 0, tls: undefined, maxBodyBytes: 1024, requestTimeoutMs: 5000,
      verifier: new SigV4Verifier(undefined, () => Date.now()),
      requestId: () => 'request-1',
      handle: () => {
        throw new Error('boom');
      },
      refused: () => {},
      failed: (error) => failures.push(error),
    });
    try {
      const aws = sdk({ http: { url: `http://127.0.0.1:${listener.port}`, port: listener.port } } as FakeIot);
      const error = await aws.send(new GetThingShadowCommand({ thingName: 'dev-1' })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InternalFailureException);
      expect(error).toMatchObject({ message: 'Internal service failure', $fault: 'server', $metadata: { httpStatusCode: 500 } });
      expect(failures).toEqual([new Error('boom')]);
    } finally {
      await listener.close();
    }
  });
});

describe('SigV4 (service iotdata)', () => {
  test('with credentials configured, the SDK signing with them is served; the access key id is checked, an unsigned request gets 401, a clock 10 minutes off 403', async () => {
    const iot = await endpoint({ http: true, credentials: HTTP_CREDENTIALS });
    await sdk(iot).send(update('dev-1', { state: { desired: { on: true } } }));
    expect(iot.shadows.get('dev-1')).toMatchObject({ version: 1 });

    const other = await sdk(iot, { credentials: { ...HTTP_CREDENTIALS, accessKeyId: 'AKIAOTHEREXAMPLE0000' } }).send(new GetThingShadowCommand({ thingName: 'dev-1' })).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(ForbiddenException);
    expect(await iot.trace.waitFor({ event: 'transport-error', reason: 'unknown-access-key' })).toMatchObject({ transport: 'http', message: expect.stringMatching(/^HTTP 403: /) });

    const skewed = await sdk(iot, { systemClockOffset: -10 * 60 * 1000 }).send(new GetThingShadowCommand({ thingName: 'dev-1' })).catch((e: unknown) => e);
    expect(skewed).toBeInstanceOf(ForbiddenException);
    await iot.trace.waitFor({ event: 'transport-error', reason: 'clock-skew' });

    const unsigned = await request(iot.http!.port, 'GET', '/things/dev-1/shadow');
    expect(unsigned).toMatchObject({ status: 401, headers: { 'x-amzn-errortype': UnauthorizedException.name } });
    expect(JSON.parse(unsigned.body)).toMatchObject({ message: expect.stringMatching(/not signed/) });
  });

  test('a temporary session token must be the configured one', async () => {
    const withToken = { ...HTTP_CREDENTIALS, sessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN' };
    const iot = await endpoint({ http: true, credentials: withToken });
    await expect(sdk(iot, { credentials: withToken }).send(update('dev-1', { state: { desired: { a: 1 } } }))).resolves.toBeDefined();
    await expect(sdk(iot, { credentials: { ...withToken, sessionToken: 'another' } }).send(new GetThingShadowCommand({ thingName: 'dev-1' }))).rejects.toBeInstanceOf(ForbiddenException);
    await iot.trace.waitFor({ event: 'transport-error', reason: 'invalid-security-token' });
  });

  test('without credentials configured, any well-formed signature is accepted, and so is an unsigned request', async () => {
    const iot = await endpoint({ http: true });
    await sdk(iot, { credentials: { accessKeyId: 'AKIAANYONE', secretAccessKey: 'anything' } }).send(update('dev-1', { state: { desired: { a: 1 } } }));
    const unsigned = await request(iot.http!.port, 'GET', '/things/dev-1/shadow');
    expect(unsigned.status).toBe(200);
    expect(JSON.parse(unsigned.body)).toMatchObject({ state: { desired: { a: 1 } }, version: 1 });
  });
});

describe('https:// when tls is on', () => {
  test('the SDK trusting the fixture CA through a NodeHttpHandler https agent; a device on mTLS gets the delta', async () => {
    const iot = await endpoint({ http: true, tls: true, credentials: HTTP_CREDENTIALS });
    expect(iot.http!.url).toBe(`https://localhost:${iot.http!.port}`);
    const ca = readFileSync(path.resolve(__dirname, '../../fixtures/ca.pem'), 'utf8');
    expect(ca).toBe(iot.tls!.caCertificate.toString());
    const dev = iot.createThing('https-dev-1');
    const device = await client(iot, 'https-dev-1', { protocol: 'mqtts', host: 'localhost', port: iot.tls!.port, cert: dev.certificatePem, key: dev.privateKey, ca: dev.caCertificate });
    await device.subscribeAsync('$aws/things/https-dev-1/shadow/update/delta', { qos: 1 });

    const aws = sdk(iot, { ca });
    await aws.send(update('https-dev-1', { state: { desired: { fan: 'high' } } }));
    const [delta] = await device.receivedCount(1);
    expect(JSON.parse(delta!.payload)).toMatchObject({ state: { fan: 'high' }, version: 1 });
    expect((await aws.send(new ListNamedShadowsForThingCommand({ thingName: 'https-dev-1' }))).results).toEqual([]);

    // Without the CA, the SDK refuses the server's certificate.
    await expect(sdk(iot).send(new GetThingShadowCommand({ thingName: 'https-dev-1' }))).rejects.toThrow(/certificate/i);
    await device.endAsync();
  });
});

describe('Publish with retain (profile current)', () => {
  test('retain=true stores the message as iot.publish({ retain }) does; the classic profile refuses it with 400', async () => {
    const { IoTDataPlaneClient, PublishCommand, InvalidRequestException } = await import('@aws-sdk/client-iot-data-plane');
    const current = await endpoint({ profile: 'current', http: true });
    const aws = new IoTDataPlaneClient({ endpoint: current.http!.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });
    await aws.send(new PublishCommand({ topic: 'state/lamp', qos: 1, retain: true, payload: Buffer.from('on') }));
    expect(current.retained.get('state/lamp')).toMatchObject({ topic: 'state/lamp', qos: 1 });
    expect(current.retained.get('state/lamp')!.payload.toString()).toBe('on');
    aws.destroy();

    const classic = await endpoint({ profile: 'classic', http: true });
    const old = new IoTDataPlaneClient({ endpoint: classic.http!.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });
    await expect(old.send(new PublishCommand({ topic: 'state/lamp', retain: true, payload: Buffer.from('on') }))).rejects.toBeInstanceOf(InvalidRequestException);
    old.destroy();
  });
});

describe('GetRetainedMessage and ListRetainedMessages (profile current)', () => {
  test('the AWS SDK reads what clients and the cloud retained; a topic without one is ResourceNotFoundException', async () => {
    const { IoTDataPlaneClient, GetRetainedMessageCommand, ListRetainedMessagesCommand, ResourceNotFoundException } = await import('@aws-sdk/client-iot-data-plane');
    const iot = await endpoint({ http: true, clock: 'virtual' });
    const dev = await client(iot, 'retainer', { protocolVersion: 5 });
    await dev.publishAsync('state/lamp-1', 'on', { qos: 1, retain: true, properties: { userProperties: { room: 'hall' } } });
    iot.publish('state/lamp-2', 'off', { retain: true });
    iot.publish('state/lamp-3', 'dim', { retain: true, qos: 1 });
    const aws = new IoTDataPlaneClient({ endpoint: iot.http!.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });

    const one = await aws.send(new GetRetainedMessageCommand({ topic: 'state/lamp-1' }));
    expect(one).toMatchObject({ topic: 'state/lamp-1', qos: 1, lastModifiedTime: iot.clock.now() });
    expect(Buffer.from(one.payload!).toString()).toBe('on');
    expect(JSON.parse(Buffer.from(one.userProperties!).toString())).toEqual([{ room: 'hall' }]);

    const first = await aws.send(new ListRetainedMessagesCommand({ maxResults: 2 }));
    expect(first.retainedTopics!.map((t) => [t.topic, t.payloadSize, t.qos])).toEqual([['state/lamp-1', 2, 1], ['state/lamp-2', 3, 0]]);
    const second = await aws.send(new ListRetainedMessagesCommand({ maxResults: 2, nextToken: first.nextToken }));
    expect(second.retainedTopics!.map((t) => t.topic)).toEqual(['state/lamp-3']);
    expect(second.nextToken).toBeUndefined();

    await expect(aws.send(new GetRetainedMessageCommand({ topic: 'state/none' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    aws.destroy();
  });
});
