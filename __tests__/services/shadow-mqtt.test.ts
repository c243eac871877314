/**
 * The Device Shadow service over MQTT with real MQTT.js clients: requests published to the shadow topics,
 * responses published through the broker to whoever subscribes (aws-iot-behaviour.md §4.1).
 */
import { FakeIotError } from '../../src';
import * as mqttPacket from 'mqtt-packet';
import { client, endpoint, raw } from '../helpers';
import { SHADOW_UPDATE_ERRORS } from './shadow-cases';

type Doc = Record<string, unknown>;
const SHADOW = '$aws/things/dev-1/shadow';

describe('Device Shadow over MQTT', () => {
  test('a device reports, the cloud sets desired, the device gets the delta and fetches the whole document', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const now = () => Math.floor(iot.clock.now() / 1000);
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync([`${SHADOW}/update/accepted`, `${SHADOW}/update/delta`, `${SHADOW}/get/+`], { qos: 1 });

    dev.publish(`${SHADOW}/update`, JSON.stringify({ state: { reported: { on: false, temp: 21 } }, clientToken: 'r1' }), { qos: 1 });
    const [accepted] = await dev.receivedCount(1);
    expect(accepted!.topic).toBe(`${SHADOW}/update/accepted`);
    expect(JSON.parse(accepted!.payload)).toEqual({
      state: { reported: { on: false, temp: 21 } }, metadata: { reported: { on: { timestamp: now() }, temp: { timestamp: now() } } },
      version: 1, timestamp: now(), clientToken: 'r1',
    });
    // The request's PUBACK went out before the service's answer.
    const puback = iot.trace.find({ direction: 'out', clientId: 'dev-1', packet: { cmd: 'puback' } })!;
    const answer = iot.trace.find({ direction: 'out', clientId: 'dev-1', packet: { cmd: 'publish', topic: `${SHADOW}/update/accepted` } })!;
    expect(puback.seq).toBeLessThan(answer.seq);

    expect(iot.shadows.update('dev-1', { state: { desired: { on: true, temp: 21 } } })).toMatchObject({ state: { desired: { on: true, temp: 21 } }, version: 2 });
    const [, , delta] = await dev.receivedCount(3);
    expect(delta!.topic).toBe(`${SHADOW}/update/delta`);
    expect(JSON.parse(delta!.payload)).toEqual({ state: { on: true }, metadata: { on: { timestamp: now() } }, version: 2, timestamp: now() });

    dev.publish(`${SHADOW}/get`, '');
    const [, , , got] = await dev.receivedCount(4);
    expect(got!.topic).toBe(`${SHADOW}/get/accepted`);
    expect(JSON.parse(got!.payload)).toMatchObject({ state: { desired: { on: true, temp: 21 }, reported: { on: false, temp: 21 }, delta: { on: true } }, version: 2 });
    expect(iot.shadows.list()).toEqual([{ thingName: 'dev-1', shadowName: undefined }]);
  });

  test('responses go to every subscriber, not only the requester; the request reaches its own subscribers too', async () => {
    const iot = await endpoint();
    const app = await client(iot, 'app');
    await app.subscribeAsync(['$aws/things/+/shadow/name/+/update/#', '$aws/things/+/shadow/name/+/update'], { qos: 1 });
    const dev = await client(iot, 'dev-2');
    dev.publish('$aws/things/dev-2/shadow/name/config/update', JSON.stringify({ state: { desired: { rate: 5 } } }), { qos: 1 });
    const got = await app.receivedCount(4);
    expect(got.map((m) => m.topic.replace('$aws/things/dev-2/shadow/name/config', ''))).toEqual(['/update', '/update/accepted', '/update/delta', '/update/documents']);
    expect(JSON.parse(got[3]!.payload)).toMatchObject({ previous: { state: {}, version: 0 }, current: { state: { desired: { rate: 5 } }, version: 1 } });
    expect(iot.trace.filter({ event: 'publish', origin: 'shadow' })).toHaveLength(3);
  });

  test('a rejected request: the error document on /rejected with AWS\'s code and message, the connection kept', async () => {
    const iot = await endpoint();
    const dev = await client(iot, 'dev-3');
    await dev.subscribeAsync('$aws/things/dev-3/shadow/+/rejected', { qos: 1 });
    dev.publish('$aws/things/dev-3/shadow/get', JSON.stringify({ clientToken: 'first' }));
    dev.publish('$aws/things/dev-3/shadow/update', '{"state": {"desired": ', { qos: 1 });
    const [missing, invalid] = await dev.receivedCount(2);
    expect(missing!.topic).toBe('$aws/things/dev-3/shadow/get/rejected');
    expect(JSON.parse(missing!.payload)).toMatchObject({ code: 404, message: "No shadow exists with name: 'dev-3'", clientToken: 'first' });
    expect(JSON.parse(invalid!.payload)).toMatchObject({ code: 400, message: 'Invalid JSON' });
    expect(dev.connected).toBe(true);
  });

  test('iot.shadows.update() refuses like UpdateThingShadow: FakeIotError SHADOW_REJECTED with AWS\'s status', async () => {
    const iot = await endpoint();
    iot.shadows.update('dev-4', { state: { reported: { a: 1 } } });
    let error: unknown;
    try {
      iot.shadows.update('dev-4', { state: { reported: { a: 2 } }, version: 5 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FakeIotError);
    expect(error).toMatchObject({ code: 'SHADOW_REJECTED', status: 409, message: expect.stringContaining('Version conflict') });
    expect(() => iot.shadows.update('bad name', { state: {} })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(iot.shadows.get('dev-4')).toMatchObject({ state: { reported: { a: 1 } }, version: 1 });
    expect(iot.shadows.get('nobody')).toBeUndefined();
  });

  test('iot.shadows: named shadows, list(thing), delete; each outcome is a shadow trace event', async () => {
    const iot = await endpoint();
    iot.shadows.update('dev-5', { state: { reported: { a: 1 } } }, { shadowName: 'cfg' });
    iot.shadows.update('dev-5', { state: { reported: { b: 1 } } });
    iot.shadows.update('dev-6', { state: { reported: { c: 1 } } });
    expect(iot.shadows.list('dev-5')).toEqual([{ thingName: 'dev-5', shadowName: 'cfg' }, { thingName: 'dev-5', shadowName: undefined }]);
    expect(iot.shadows.get('dev-5', { shadowName: 'cfg' })).toMatchObject({ state: { reported: { a: 1 } }, version: 1 });
    expect(iot.shadows.delete('dev-5', { shadowName: 'cfg' })).toMatchObject({ version: 1 });
    expect(() => iot.shadows.delete('dev-5', { shadowName: 'cfg' })).toThrow(expect.objectContaining({ code: 'SHADOW_REJECTED', status: 404 }));
    expect(iot.shadows.list()).toEqual([{ thingName: 'dev-5', shadowName: undefined }, { thingName: 'dev-6', shadowName: undefined }]);
    expect(iot.trace.filter({ event: 'shadow', thingName: 'dev-5' }).map((e) => [e.shadowName, e.operation, e.outcome, e.version ?? e.code])).toEqual([
      ['cfg', 'update', 'accepted', 1], [undefined, 'update', 'accepted', 1], ['cfg', 'delete', 'accepted', 1], ['cfg', 'delete', 'rejected', 404],
    ]);
  });

  test('malformed requests are rejected with AWS\'s errors and disturb nobody: not UTF-8, 100 KB, 60,000 levels deep, wrong types', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const bystander = await client(iot, 'bystander');
    await bystander.subscribeAsync('cmd/bystander', { qos: 1 });
    const dev = await client(iot, 'dev-7');
    await dev.subscribeAsync('$aws/things/dev-7/shadow/update/rejected', { qos: 1 });
    const requests: [Buffer | string, number][] = [
      [Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 415],
      [JSON.stringify({ state: { reported: { blob: 'x'.repeat(100 * 1024) } } }), 413],
      [`{"state":{"reported":{"deep":${'['.repeat(60_000)}${']'.repeat(60_000)}}}}`, 400],
      [JSON.stringify({ state: { desired: 'on' } }), 400],
      [JSON.stringify({ state: { reported: { a: 1 } }, version: -1 }), 400],
    ];
    for (const [payload] of requests) dev.publish('$aws/things/dev-7/shadow/update', payload, { qos: 1 });
    const rejected = await dev.receivedCount(requests.length);
    expect(rejected.map((m) => (JSON.parse(m.payload) as { code: number }).code)).toEqual(requests.map(([, code]) => code));
    expect(iot.trace.filter({ event: 'internal-error' })).toEqual([]);
    expect(iot.shadows.get('dev-7')).toBeUndefined();
    iot.publish('cmd/bystander', 'still served', { qos: 1 });
    const [got] = await bystander.receivedCount(1);
    expect(got!.payload).toBe('still served');
    expect(dev.connected).toBe(true);
  });

  test('options.shadows seeds shadows that exist from the start (version 1); invalid seeds are refused up front', async () => {
    const iot = await endpoint({ shadows: { 'dev-8': { state: { desired: { on: true } } }, 'dev-8/name/cfg': { state: { reported: { rate: 5 } } } } });
    expect(iot).toHaveShadow('dev-8', { desired: { on: true }, version: 1 });
    const dev = await client(iot, 'dev-8');
    await dev.subscribeAsync('$aws/things/dev-8/shadow/name/cfg/get/accepted', { qos: 1 });
    dev.publish('$aws/things/dev-8/shadow/name/cfg/get', '');
    const [got] = await dev.receivedCount(1);
    expect(JSON.parse(got!.payload)).toMatchObject({ state: { reported: { rate: 5 } }, version: 1 });
    await expect(endpoint({ shadows: { 'dev 9': { state: {} } } })).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('options.shadows: "dev 9" must be a thing name') });
    await expect(endpoint({ shadows: { 'dev-9': { state: { desired: 5 } } } })).rejects.toMatchObject({
      code: 'INVALID_OPTION', message: '[fake-aws-iot] options.shadows["dev-9"]: the Device Shadow service refuses it: 400 Desired node must be an object.',
    });
  });

  test('chaos shadowErrors: a request refused with 429 or 500 on /rejected, the clientToken echoed, nothing changed; scripts place it exactly', async () => {
    const iot = await endpoint({ seed: 21, chaos: { shadowErrors: { probability: 1, codes: [500], topics: ['$aws/things/+/shadow/update'] } } });
    const dev = await client(iot, 'dev-10');
    await dev.subscribeAsync('$aws/things/dev-10/shadow/+/+', { qos: 1 });
    dev.publish('$aws/things/dev-10/shadow/update', JSON.stringify({ state: { reported: { on: true } }, clientToken: 't1' }), { qos: 1 });
    const [refused] = await dev.receivedCount(1);
    expect(refused!.topic).toBe('$aws/things/dev-10/shadow/update/rejected');
    expect(JSON.parse(refused!.payload)).toMatchObject({ code: 500, message: 'Internal service failure', clientToken: 't1' });
    expect(iot.shadows.get('dev-10')).toBeUndefined();
    expect(iot.chaos.log()).toEqual([expect.objectContaining({ fault: 'shadowErrors', clientId: 'dev-10', nth: 1, code: 500, topic: '$aws/things/dev-10/shadow/update' })]);
    expect(iot.trace.find({ event: 'shadow', thingName: 'dev-10' })).toMatchObject({ outcome: 'rejected', code: 500, chaos: { fault: 'shadowErrors', decision: 0 } });

    // A get is out of the knob's topics: answered normally (404: the refused update created nothing).
    dev.publish('$aws/things/dev-10/shadow/get', '');
    const [, missing] = await dev.receivedCount(2);
    expect(JSON.parse(missing!.payload)).toMatchObject({ code: 404 });

    const scripted = await endpoint({ chaos: { script: [{ fault: 'shadowErrors', client: 'dev-11', nth: 2, code: 429 }] } });
    const other = await client(scripted, 'dev-11');
    await other.subscribeAsync('$aws/things/dev-11/shadow/update/+', { qos: 1 });
    for (let i = 1; i <= 3; i++) other.publish('$aws/things/dev-11/shadow/update', JSON.stringify({ state: { reported: { n: i } } }), { qos: 1 });
    const answers = await other.receivedCount(3 * 2 - 1); // accepted + documents, a refusal, accepted + documents
    expect(answers.map((m) => m.topic.split('/').pop())).toEqual(['accepted', 'documents', 'rejected', 'accepted', 'documents']);
    expect(JSON.parse(answers[2]!.payload)).toMatchObject({ code: 429 });
    expect(scripted).toHaveShadow('dev-11', { reported: { n: 3 }, version: 2 });
  });

  test('more than 10 requests for one thing waiting at once: the 11th gets 429 (limits.shadowMaxInFlightRequests)', async () => {
    const iot = await endpoint();
    const r = await raw(iot);
    await r.connect('burst-dev');
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$aws/things/burst-dev/shadow/update/+', qos: 0 }] });
    await r.next('suback');
    // Eleven requests in one write: they arrive together, so all wait for their answers at once.
    const request = (n: number) => mqttPacket.generate({ cmd: 'publish', topic: '$aws/things/burst-dev/shadow/update', payload: Buffer.from(JSON.stringify({ state: { reported: { n } }, clientToken: `t${n}` })), qos: 0, dup: false, retain: false });
    r.send(Buffer.concat(Array.from({ length: 11 }, (_, i) => request(i + 1))));
    const answers = await r.count('publish', 21); // 10 × (accepted + documents) + 1 rejected
    const rejected = answers.filter((p) => p.topic.endsWith('/rejected')).map((p) => JSON.parse(p.payload.toString()) as Record<string, unknown>);
    expect(rejected).toEqual([expect.objectContaining({ code: 429, clientToken: 't11' })]);
    expect(iot).toHaveShadow('burst-dev', { reported: { n: 10 }, version: 10 });
  });

  test('the shadows are bounded in bytes together (limits.shadowMaxStoreBytes): beyond it an update gets 429; a delete makes room', async () => {
    const iot = await endpoint({ limits: { shadowMaxStoreBytes: 400 } });
    iot.shadows.update('a', { state: { reported: { blob: 'x'.repeat(150) } } });
    expect(() => iot.shadows.update('b', { state: { reported: { blob: 'y'.repeat(150) } } })).toThrow(expect.objectContaining({ code: 'SHADOW_REJECTED', status: 429 }));
    iot.shadows.delete('a');
    expect(iot.shadows.update('b', { state: { reported: { blob: 'y'.repeat(150) } } })).toMatchObject({ version: 1 });
  });

  test.each(SHADOW_UPDATE_ERRORS)('over MQTT.js, %s: /update/rejected with AWS\'s code and message', async (_what, payload, code, message) => {
    const iot = await endpoint();
    const dev = await client(iot, 'dev-err');
    await dev.subscribeAsync('$aws/things/dev-err/shadow/update/rejected', { qos: 1 });
    dev.publish('$aws/things/dev-err/shadow/update', Buffer.isBuffer(payload) ? payload : typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 });
    const [rejected] = await dev.receivedCount(1);
    expect(JSON.parse(rejected!.payload)).toEqual({ code, message, timestamp: expect.any(Number) });
  });
});


test('shadow requests for one thing are limited per second, MQTT and the cloud side counted apart from other things (limits.shadowRequestsPerSecondPerThing)', async () => {
  const iot = await endpoint({ clock: 'virtual', limits: { shadowRequestsPerSecondPerThing: 3 } });
  const dev = await client(iot, 'rate-dev');
  await dev.subscribeAsync(['$aws/things/rate-dev/shadow/get/+', '$aws/things/other/shadow/get/+'], { qos: 1 });
  for (let i = 0; i < 4; i++) dev.publish('$aws/things/rate-dev/shadow/get', JSON.stringify({ clientToken: `r${i}` }), { qos: 1 });
  dev.publish('$aws/things/other/shadow/get', JSON.stringify({ clientToken: 'o' }), { qos: 1 });
  const answers = await dev.receivedCount(5);
  const codes = answers.map((m) => [(JSON.parse(m.payload) as { clientToken: string }).clientToken, (JSON.parse(m.payload) as { code: number }).code]);
  // Three 404s (no shadow yet) for rate-dev, the fourth over the rate; the other thing has its own allowance.
  expect(codes).toEqual([['r0', 404], ['r1', 404], ['r2', 404], ['r3', 429], ['o', 404]]);
  iot.clock.advance(1000);
  dev.publish('$aws/things/rate-dev/shadow/get', JSON.stringify({ clientToken: 'later' }), { qos: 1 });
  const [, , , , , later] = await dev.receivedCount(6);
  expect(JSON.parse(later!.payload)).toMatchObject({ clientToken: 'later', code: 404 });
});

test('deleted shadows keep their version within the byte bound: creating and deleting in a loop is refused (429) once the store is full', async () => {
  const iot = await endpoint({ limits: { shadowMaxStoreBytes: 1000 } });
  let refused = 0;
  for (let i = 0; i < 40 && refused === 0; i++) {
    try {
      iot.shadows.update(`churn-${i}`, { state: { reported: { on: true } } });
      iot.shadows.delete(`churn-${i}`);
    } catch (error) {
      expect(error).toMatchObject({ code: 'SHADOW_REJECTED', status: 429 });
      refused = i;
    }
  }
  // Each tombstone costs about 70 bytes: the 1000-byte store fills within 40 rounds.
  expect(refused).toBeGreaterThan(5);
  expect(refused).toBeLessThan(20);
});
