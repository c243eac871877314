/**
 * The Device Shadow service's rules, driven directly (aws-iot-behaviour.md §4.2–4.4): documents, merge, delta
 * and every error with AWS's exact message. The MQTT path is covered by shadow-mqtt.test.ts.
 */
import { classicProfile } from '../../src';
import { ShadowService, deltaOf, parseShadowTopic } from '../../src/services/shadow';
import { SHADOW_UPDATE_ERRORS, deep } from './shadow-cases';

const T0 = 1_800_000_000_000; // ms
const S0 = T0 / 1000;
const topic = (op: string, name?: string) => parseShadowTopic(`$aws/things/dev-1/shadow${name ? `/name/${name}` : ''}/${op}`)!;
const body = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));

function service(overrides = {}) {
  const s = new ShadowService({ ...classicProfile.limits, ...overrides }, false);
  const send = (op: string, payload: unknown, at = T0, name?: string) => s.request(topic(op, name), body(payload), at);
  return { s, send };
}

describe('topics', () => {
  test.each([
    ['$aws/things/dev-1/shadow/update', { thingName: 'dev-1', shadowName: undefined, operation: 'update', prefix: '$aws/things/dev-1/shadow' }],
    ['$aws/things/dev-1/shadow/name/cfg/get', { thingName: 'dev-1', shadowName: 'cfg', operation: 'get', prefix: '$aws/things/dev-1/shadow/name/cfg' }],
    ['$aws/things/dev-1/shadow/update/accepted', undefined],
    ['$aws/things/dev 1/shadow/get', undefined],
    [`$aws/things/dev-1/shadow/name/${'n'.repeat(65)}/get`, undefined],
    ['$aws/things/dev-1/jobs/get', undefined],
  ])('%s', (t, expected) => {
    expect(parseShadowTopic(t)).toEqual(expected);
  });
});

describe('documents', () => {
  test('update/accepted carries only what the request named, with per-leaf metadata; documents has previous and current', () => {
    const { send } = service();
    const [accepted, documents, ...rest] = send('update', { state: { reported: { temp: 21, led: { on: true } } }, clientToken: 'c1' });
    expect(rest).toEqual([]);
    expect(accepted).toEqual({
      topic: '$aws/things/dev-1/shadow/update/accepted',
      document: { state: { reported: { temp: 21, led: { on: true } } }, metadata: { reported: { temp: { timestamp: S0 }, led: { on: { timestamp: S0 } } } }, version: 1, timestamp: S0, clientToken: 'c1' },
    });
    expect(documents).toEqual({
      topic: '$aws/things/dev-1/shadow/update/documents',
      document: {
        previous: { state: {}, metadata: {}, version: 0 },
        current: { state: { reported: { temp: 21, led: { on: true } } }, metadata: { reported: { temp: { timestamp: S0 }, led: { on: { timestamp: S0 } } } }, version: 1 },
        timestamp: S0, clientToken: 'c1',
      },
    });
  });

  test('a desired update publishes the delta: every differing desired field, full path kept, with desired metadata', () => {
    const { send } = service();
    send('update', { state: { reported: { temp: 21, led: { on: false, level: 3 }, mode: 'a' } } });
    const responses = send('update', { state: { desired: { led: { on: true, level: 3 }, mode: 'a', fan: [1, 2] } } }, T0 + 5000);
    expect(responses.map((r) => r.topic.split('/').slice(-2).join('/'))).toEqual(['update/accepted', 'update/delta', 'update/documents']);
    expect(responses[1]!.document).toEqual({
      state: { led: { on: true }, fan: [1, 2] },
      metadata: { led: { on: { timestamp: S0 + 5 } }, fan: [{ timestamp: S0 + 5 }, { timestamp: S0 + 5 }] },
      version: 2, timestamp: S0 + 5,
    });
  });

  test('a reported-only update publishes no delta (reactions.shadowDeltaOnReportedUpdate: false)', () => {
    const { send } = service();
    send('update', { state: { desired: { on: true } } });
    expect(send('update', { state: { reported: { other: 1 } } }).map((r) => r.topic.endsWith('/delta'))).toEqual([false, false]);
    const always = new ShadowService(classicProfile.limits, true);
    always.request(topic('update'), body({ state: { desired: { on: true } } }), T0);
    expect(always.request(topic('update'), body({ state: { reported: { other: 1 } } }), T0).some((r) => r.topic.endsWith('/delta'))).toBe(true);
  });

  test('get/accepted has state.delta only while desired differs from reported', () => {
    const { send } = service();
    send('update', { state: { desired: { on: true }, reported: { on: false } } });
    expect(send('get', '', T0)[0]!.document).toMatchObject({ state: { desired: { on: true }, reported: { on: false }, delta: { on: true } }, version: 1 });
    send('update', { state: { reported: { on: true } } });
    const got = send('get', { clientToken: 'g' })[0]!;
    expect(got.topic).toBe('$aws/things/dev-1/shadow/get/accepted');
    expect(got.document).toEqual({
      state: { desired: { on: true }, reported: { on: true } },
      metadata: { desired: { on: { timestamp: S0 } }, reported: { on: { timestamp: S0 } } },
      version: 2, timestamp: S0, clientToken: 'g',
    });
  });

  test('merge: null deletes a leaf, a null section removes the section, arrays replace whole; the version counts every update', () => {
    const { s, send } = service();
    send('update', { state: { desired: { a: 1, b: { c: 2, d: 3 }, list: [1, 2, 3] }, reported: { x: 1 } } });
    send('update', { state: { desired: { a: null, b: { c: null }, list: [9] }, reported: null } });
    expect(s.document('dev-1', undefined, T0)).toMatchObject({ state: { desired: { b: { d: 3 }, list: [9] } }, metadata: { desired: { b: { d: { timestamp: S0 } }, list: [{ timestamp: S0 }] } }, version: 2 });
    expect((s.document('dev-1', undefined, T0) as { state: object }).state).not.toHaveProperty('reported');
    send('update', { state: { desired: null } });
    expect(s.document('dev-1', undefined, T0)).toEqual({ state: {}, metadata: {}, version: 3, timestamp: S0 });
  });

  test('delete keeps the version for 48 hours; a shadow recreated later starts again at 1', () => {
    const { send } = service();
    send('update', { state: { reported: { on: 1 } } });
    send('update', { state: { reported: { on: 2 } } });
    expect(send('delete', '', T0, undefined)[0]).toEqual({ topic: '$aws/things/dev-1/shadow/delete/accepted', document: { version: 2, timestamp: S0 } });
    expect(send('get', '')[0]!.topic).toBe('$aws/things/dev-1/shadow/get/rejected');
    expect(send('update', { state: { reported: { on: 3 } } }, T0 + 1000)[0]!.document).toMatchObject({ version: 3 });
    send('delete', '', T0 + 2000);
    expect(send('update', { state: { reported: { on: 4 } } }, T0 + 2000 + 48 * 3600 * 1000)[0]!.document).toMatchObject({ version: 1 });
  });

  test('delta', () => {
    expect(deltaOf({ a: 1, b: { c: 2, d: [1] } }, { a: 1, b: { c: 3, d: [1] }, extra: true })).toEqual({ b: { c: 2 } });
    expect(deltaOf({ a: 1 }, { a: 1 })).toBeUndefined();
    expect(deltaOf(undefined, { a: 1 })).toBeUndefined();
    expect(deltaOf({ a: { b: 1 } }, { a: 5 })).toEqual({ a: { b: 1 } });
  });
});

describe('errors, with AWS\'s exact messages', () => {
  test.each(SHADOW_UPDATE_ERRORS)('%s', (_what, payload, code, message) => {
    const { s } = service();
    const [rejected, ...rest] = s.request(topic('update'), Buffer.isBuffer(payload) ? payload : body(payload), T0);
    expect(rest).toEqual([]);
    expect(rejected).toEqual({ topic: '$aws/things/dev-1/shadow/update/rejected', document: { code, message, timestamp: S0 } });
  });

  test('6 levels under reported are fine; the clientToken is echoed in a rejection', () => {
    const { send } = service();
    expect(send('update', { state: { reported: deep(5) } })[0]!.topic).toMatch(/accepted$/);
    expect(send('update', { state: { reported: {} }, version: 99, clientToken: 'tok' })[0]!.document).toEqual({ code: 409, message: 'Version conflict', timestamp: S0, clientToken: 'tok' });
  });

  test('a missing shadow: 404 naming the thing (classic) or the shadow (named)', () => {
    const { send } = service();
    expect(send('get', { clientToken: 'c' })[0]!.document).toEqual({ code: 404, message: "No shadow exists with name: 'dev-1'", timestamp: S0, clientToken: 'c' });
    expect(send('delete', '', T0, 'cfg')[0]).toEqual({ topic: '$aws/things/dev-1/shadow/name/cfg/delete/rejected', document: { code: 404, message: "No shadow exists with name: 'cfg'", timestamp: S0 } });
  });

  test('limits are the profile\'s: shadowMaxDepth and shadowMaxDocumentBytes can be changed', () => {
    const { send } = service({ shadowMaxDepth: 2, shadowMaxDocumentBytes: 20 });
    expect(send('update', { state: { reported: { a: { b: { c: 1 } } } } })[0]!.document).toMatchObject({ code: 400, message: 'JSON contains too many levels of nesting; maximum is 2' });
    expect(send('update', { state: { reported: { a: 'x'.repeat(20) } } })[0]!.document).toMatchObject({ code: 413 });
  });
});
