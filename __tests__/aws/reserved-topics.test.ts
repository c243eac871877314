/**
 * AWS's reserved topics: `$` topics are AWS's. Clients publish and subscribe only where AWS allows; basic
 * ingest (`$aws/rules/<rule>/...`) goes to the rule, never to subscribers.
 */
import { filterAllowed } from '../../src/topics/reserved';
import { topicMatcher } from '../../src/topics/topic-index';
import { classicProfile } from '../../src';
import { client, endpoint, raw } from '../helpers';

const publish = (topic: string) => ({ cmd: 'publish' as const, topic, payload: Buffer.from('x'), qos: 0 as const, dup: false, retain: false });

describe('reserved topics', () => {
  test.each([
    ['publishing a fake lifecycle event', { kind: 'publish', topic: '$aws/events/presence/connected/someone' }],
    ['publishing to a made-up $ topic', { kind: 'publish', topic: '$foo/bar' }],
    ['subscribing to $SYS/#', { kind: 'subscribe', topic: '$SYS/#' }],
    ['subscribing to all of $aws', { kind: 'subscribe', topic: '$aws/#' }],
  ] as const)('%s closes the connection (aws.reserved-topic)', async (_name, { kind, topic }) => {
    const iot = await endpoint();
    const c = await raw(iot);
    await c.connect('dev-r');
    c.send(kind === 'publish' ? publish(topic) : { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
    const v = await iot.trace.waitFor({ event: 'violation', clientId: 'dev-r' });
    expect(v.rule).toBe('aws.reserved-topic');
    await c.closed;
  });

  test('the places AWS opens to clients work: lifecycle and shadow subscriptions, shadow and jobs requests', async () => {
    const iot = await endpoint();
    const c = await client(iot, 'thing-1');
    await c.subscribeAsync(['$aws/events/presence/+/+', '$aws/things/thing-1/shadow/#', '$aws/things/thing-1/jobs/notify'], { qos: 1 });
    await c.publishAsync('$aws/things/thing-1/shadow/update', '{"state":{}}', { qos: 1 });
    await c.publishAsync('$aws/things/thing-1/jobs/get', '{}', { qos: 1 });
    expect(iot.trace.filter({ event: 'violation' })).toEqual([]);
  });

  test("reservedTopics: 'allow' treats a $ topic like any other", async () => {
    const iot = await endpoint({ reservedTopics: 'allow' });
    const sub = await client(iot, 'sub');
    await sub.subscribeAsync('$foo/#', { qos: 0 });
    const pub = await client(iot, 'pub');
    await pub.publishAsync('$foo/bar', 'allowed', { qos: 1 });
    await iot.trace.waitFor({ direction: 'out', clientId: 'sub', packet: { cmd: 'publish', topic: '$foo/bar' } });
  });

  test('which filters stay within the allowed places', () => {
    const { subscribe, publish: pub } = classicProfile.reserved;
    const topicAllowed = (topic: string, allowed: readonly string[]) => topicMatcher(allowed)(topic);
    expect(filterAllowed('$aws/things/+/shadow/#', subscribe)).toBe(true);
    expect(filterAllowed('$aws/things/t/shadow/name/n/get/accepted', subscribe)).toBe(true);
    expect(filterAllowed('$aws/things/#', subscribe)).toBe(false); // reaches past shadow and jobs
    expect(filterAllowed('$aws/things/+/+/#', subscribe)).toBe(false);
    expect(topicAllowed('$aws/rules/telemetry', pub)).toBe(true);
    expect(topicAllowed('$aws/things/t/shadow/update/accepted', pub)).toBe(false); // the service's answer, not a request
  });
});

describe('basic ingest', () => {
  test('a message to $aws/rules/<rule>/... reaches the rule (onRule, trace), never a subscriber', async () => {
    const iot = await endpoint();
    const got: unknown[] = [];
    iot.onRule('telemetry', (m) => got.push({ ...m, payload: m.payload.toString() }));
    const everyRule: string[] = [];
    iot.onRule('*', (m) => everyRule.push(m.ruleName));
    const watcher = await client(iot, 'watcher');
    await watcher.subscribeAsync('$aws/events/#', { qos: 0 });
    const dev = await client(iot, 'dev-i');
    await dev.publishAsync('$aws/rules/telemetry/dev-i/temp', '21.5', { qos: 1 });
    const rule = await iot.trace.waitFor({ event: 'rule', ruleName: 'telemetry' });
    expect(rule).toMatchObject({ topic: 'dev-i/temp', clientId: 'dev-i', qos: 1 });
    expect(got).toEqual([{ ruleName: 'telemetry', topic: 'dev-i/temp', payload: '21.5', qos: 1, clientId: 'dev-i' }]);
    expect(everyRule).toEqual(['telemetry']);
    expect(iot.trace.filter({ direction: 'out', packet: { cmd: 'publish', topic: /rules/ } })).toEqual([]);
  });

  test('a throwing rule listener is recorded and fails close(), the endpoint goes on', async () => {
    const { startFakeIot } = await import('../../src');
    const iot = await startFakeIot();
    iot.onRule('r', () => {
      throw new Error('rule bug');
    });
    const dev = await client(iot, 'dev-t');
    await dev.publishAsync('$aws/rules/r', 'x', { qos: 1 });
    await iot.trace.waitFor({ event: 'internal-error', source: 'rule-listener' });
    dev.end(true);
    await expect(iot.close()).rejects.toMatchObject({ code: 'CALLBACK_FAILED' });
  });

  test('iot.disconnect() refuses $ client ids, as DeleteConnection does; onRule validates its arguments', async () => {
    const iot = await endpoint();
    expect(() => iot.disconnect('$weird')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => iot.onRule('a/b', () => undefined)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
