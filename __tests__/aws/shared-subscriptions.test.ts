/**
 * Shared subscriptions `$share/{ShareName}/{TopicFilter}` in the current profile, with AWS's rules
 * (aws-iot-behaviour.md §1.12), against MQTT.js (MQTT 3.1.1 over TCP) and raw sockets.
 */
import type { FakeIot } from '../../src';
import { type TestClient, client, endpoint, raw } from '../helpers';
import { pingRoundTrip } from '../sync';

const current = { profile: 'current' } as const;

/** The client ids that got each PUBLISH on `topic`, in the order the broker sent them (once `n` went out and arrived). */
async function deliveries(iot: FakeIot, members: TestClient[], topicPrefix: string, n: number): Promise<string[]> {
  const out = () => iot.trace.entries.filter((e) => e.kind === 'packet' && e.direction === 'out' && e.packet.cmd === 'publish' && e.packet.topic.startsWith(topicPrefix));
  await iot.trace.waitFor(() => out().length >= n);
  // Each member has its copies once a ping round trip after them is back.
  for (const m of members) await pingRoundTrip(iot, m.options.clientId!, m);
  return out().map((e) => e.clientId!);
}

/** Three members of one group, subscribed in order (the order the group's random picks index into). */
async function scenario(seed: number): Promise<string[]> {
  const iot = await endpoint({ ...current, seed });
  const members: TestClient[] = [];
  for (const id of ['m1', 'm2', 'm3']) {
    const m = await client(iot, id);
    await m.subscribeAsync('$share/workers/jobs/+', { qos: 1 });
    members.push(m);
  }
  const pub = await client(iot, 'pub');
  for (let i = 0; i < 30; i++) await pub.publishAsync(`jobs/${i}`, String(i), { qos: 1 });
  const who = await deliveries(iot, members, 'jobs/', 30);
  // One copy per message, to one member of the group.
  const got = members.flatMap((m) => m.received.map((r) => Number(r.payload)));
  expect(got.sort((a, b) => a - b)).toEqual([...Array(30).keys()]);
  expect(who).toHaveLength(30);
  await iot.close();
  return who;
}

describe('shared subscriptions (profile current)', () => {
  test('each message goes to one member of the group, picked from the seeded stream: the same seed replays the same picks', async () => {
    const first = await scenario(1234);
    const again = await scenario(1234);
    expect(again).toEqual(first);
    expect(new Set(first)).toEqual(new Set(['m1', 'm2', 'm3'])); // 30 picks of 3: all members get some
    const other = await scenario(99);
    expect(other).not.toEqual(first);
  });

  test('overlapping groups each get a copy; a member also subscribed without $share gets both', async () => {
    const iot = await endpoint(current);
    const a = await client(iot, 'a');
    await a.subscribeAsync(['$share/g1/sensors/#', 'sensors/temp'], { qos: 1 });
    const b = await client(iot, 'b');
    await b.subscribeAsync('$share/g2/sensors/+', { qos: 1 });
    const c = await client(iot, 'c');
    await c.subscribeAsync('$share/g2/sensors/temp', { qos: 0 }); // another group: another filter
    iot.publish('sensors/temp', '20', { qos: 1 });
    await a.receivedCount(2); // group g1 (its only member) and its own plain subscription
    await b.receivedCount(1); // g2 on sensors/+ (its only member)
    await c.receivedCount(1); // g2 on sensors/temp
    for (const [id, m] of [['a', a], ['b', b], ['c', c]] as const) await pingRoundTrip(iot, id, m);
    expect(a.received.map((m) => m.payload)).toEqual(['20', '20']);
    expect(b.received).toHaveLength(1);
    expect(c.received.map((m) => m.packet.qos)).toEqual([0]);
    // Shared subscriptions show as written.
    expect(iot.clients().find((x) => x.clientId === 'a')!.subscriptions).toEqual([{ topic: '$share/g1/sensors/#', qos: 1 }, { topic: 'sensors/temp', qos: 1 }]);
  });

  test('a persistent member that is offline: QoS 1 messages wait in the group and go out when it is back, at 20/s', async () => {
    const iot = await endpoint({ ...current, clock: 'virtual' });
    const member = await client(iot, 'worker', { clean: false });
    await member.subscribeAsync('$share/q/orders', { qos: 1 });
    await member.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'worker' });
    for (let i = 1; i <= 3; i++) iot.publish('orders', `o${i}`, { qos: 1 });
    iot.publish('orders', 'zero', { qos: 0 }); // QoS 0 is never queued: dropped
    await iot.trace.waitFor({ event: 'dropped', topic: 'orders', reason: 'no-member', shareGroup: '$share/q/orders' });
    expect(iot.trace.filter({ event: 'dropped' })).toHaveLength(1);

    iot.clock.advance(1000); // AWS: one CONNECT per second per client id
    const back = await client(iot, 'worker', { clean: false });
    expect(back.connack.sessionPresent).toBe(true);
    await back.receivedCount(1); // the first at once
    iot.clock.advance(50); // then one every 1000 / (20 × 1 member) ms
    await back.receivedCount(2);
    iot.clock.advance(50);
    await back.receivedCount(3);
    expect(back.received.map((m) => m.payload)).toEqual(['o1', 'o2', 'o3']);
  });

  test('a clean-session member leaves the group with its connection; with a member online, nothing is queued or dropped', async () => {
    const iot = await endpoint(current);
    const m = await client(iot, 'clean-member');
    await m.subscribeAsync('$share/g/t', { qos: 1 });
    await m.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'clean-member' });
    // A clean member left with its connection: the group is gone, nothing matches any more.
    iot.publish('t', 'lost', { qos: 1 });
    const keep = await client(iot, 'p', { clean: false });
    await keep.subscribeAsync('$share/g2/t', { qos: 1 });
    const other = await client(iot, 'c');
    await other.subscribeAsync('$share/g2/t', { qos: 1 });
    await keep.endAsync();
    // One member is online: it gets the message; nothing is queued.
    iot.publish('t', 'to-c', { qos: 1 });
    await other.receivedCount(1);
    expect(iot.trace.filter({ event: 'dropped' })).toEqual([]);
  });

  test('members never get retained messages on subscribe', async () => {
    const iot = await endpoint(current);
    iot.publish('cfg', 'retained', { qos: 1, retain: true });
    const m = await client(iot, 'm');
    await m.subscribeAsync('$share/g/cfg', { qos: 1 });
    await pingRoundTrip(iot, 'm', m);
    expect(m.received).toEqual([]);
    iot.publish('cfg', 'live', { qos: 1 });
    await m.receivedCount(1);
    expect(m.received.map((x) => [x.payload, x.packet.retain])).toEqual([['live', false]]);
  });

  test('an unsubscribed member leaves the group: the others get everything', async () => {
    const iot = await endpoint(current);
    const a = await client(iot, 'a');
    const b = await client(iot, 'b');
    await a.subscribeAsync('$share/g/u', { qos: 1 });
    await b.subscribeAsync('$share/g/u', { qos: 1 });
    await a.unsubscribeAsync('$share/g/u');
    for (let i = 0; i < 5; i++) iot.publish('u', String(i), { qos: 1 });
    await b.receivedCount(5);
    await pingRoundTrip(iot, 'a', a);
    expect(a.received).toEqual([]);
  });

  test('the $share/{name}/ prefix does not count toward the topic limits', async () => {
    const iot = await endpoint(current);
    const m = await client(iot, 'm');
    const name = 'n'.repeat(128);
    const filter = `a/b/c/d/e/f/g/${'x'.repeat(256 - 14)}`; // 7 slashes and 256 bytes: at both limits
    const granted = await m.subscribeAsync(`$share/${name}/${filter}`, { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
  });

  test.each([
    ['$share//t', 'MQTT-4.8.2-1', /empty share name/],
    ['$share/g', 'MQTT-4.8.2-1', /no topic filter/],
    ['$share/g/', 'MQTT-4.8.2-1', /no topic filter/],
    ['$share/g+x/t', 'MQTT-4.8.2-2', /may not contain/],
    ['$share/g#/t', 'MQTT-4.8.2-2', /may not contain/],
    [`$share/${'n'.repeat(129)}/t`, 'limits.maxShareNameBytes', /129 bytes; AWS allows 128/],
    ['$share/g/a/#/b', 'MQTT-4.7.1-2', /"#"/],
    ['$share/g/a/b/c/d/e/f/g/h/i', 'limits.maxTopicSlashes', /8 slashes/],
    ['$share/g/$SYS/#', 'aws.reserved-topic', /reserved/],
  ])('SUBSCRIBE to %s closes the connection (%s)', async (filter, rule, message) => {
    const iot = await endpoint(current);
    const r = await raw(iot);
    await r.connect('bad');
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] });
    await r.closed;
    const v = await iot.trace.waitFor({ event: 'violation', clientId: 'bad' });
    expect(v).toMatchObject({ rule, message });
  });

  test('UNSUBSCRIBE checks the share name too', async () => {
    const iot = await endpoint(current);
    const r = await raw(iot);
    await r.connect('bad');
    r.send({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: ['$share/a+b/t'] });
    await r.closed;
    await iot.trace.waitFor({ event: 'violation', clientId: 'bad', rule: 'MQTT-4.8.2-2' });
  });

  test('classic profile: $share/... is a reserved filter, as in 2020 (AWS had no shared subscriptions): the connection is closed', async () => {
    const iot = await endpoint({ profile: 'classic' });
    const m = await client(iot, 'm');
    const closed = new Promise<void>((resolve) => m.once('close', () => resolve()));
    m.subscribe('$share/g/t', { qos: 1 });
    await closed;
    await iot.trace.waitFor({ event: 'violation', clientId: 'm', rule: 'aws.reserved-topic' });
  });
});
