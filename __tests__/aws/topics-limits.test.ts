import { client, endpoint, raw } from '../helpers';

/** Subscribes `filter`, publishes to each topic from the cloud side, and returns the topics the subscriber got. */
async function delivered(filter: string, topics: string[]): Promise<string[]> {
  const iot = await endpoint();
  const sub = await client(iot, 'sub');
  await sub.subscribeAsync(filter, { qos: 1 });
  for (const t of topics) iot.publish(t, t, { qos: 0 });
  // Messages to one client leave in order: once the marker is out, every earlier delivery is too.
  await sub.subscribeAsync('zz/end-marker', { qos: 0 });
  iot.publish('zz/end-marker', 'end', { qos: 0 });
  await iot.trace.waitFor({ direction: 'out', clientId: 'sub', packet: { cmd: 'publish', topic: 'zz/end-marker' } });
  return iot.trace
    .filter({ direction: 'out', clientId: 'sub', packet: { cmd: 'publish' } })
    .map((e) => (e.kind === 'packet' && e.packet.cmd === 'publish' ? e.packet.topic : ''))
    .filter((t) => t !== 'zz/end-marker');
}

describe('topic filters over real connections', () => {
  test('"a/#" matches "a/" and "a/b/c" but not "a" (AWS deviation from MQTT)', async () => {
    expect(await delivered('a/#', ['a', 'a/', 'a/b', 'a/b/c', 'ab', 'b/a'])).toEqual(['a/', 'a/b', 'a/b/c']);
  });

  test('"+" matches exactly one level, including an empty one', async () => {
    expect(await delivered('s/+/t', ['s/x/t', 's//t', 's/x/y/t', 's/t'])).toEqual(['s/x/t', 's//t']);
  });

  test('wildcards at the first level do not match "$" topics', async () => {
    expect(await delivered('#', ['$aws/things/x/shadow/update', 'plain'])).toEqual(['plain']);
    expect(await delivered('+/things/x', ['$aws/things/x', 'aws/things/x'])).toEqual(['aws/things/x']);
  });

  test('an explicit "$aws/..." filter matches "$aws" topics', async () => {
    // (A response topic: a request topic such as .../shadow/update would also bring the shadow service's answer.)
    expect(await delivered('$aws/things/+/shadow/#', ['$aws/things/x/shadow/update/accepted', '$aws/things/x/jobs'])).toEqual(['$aws/things/x/shadow/update/accepted']);
  });

  test('overlapping filters deliver one copy, at the highest granted QoS', async () => {
    const iot = await endpoint();
    const sub = await client(iot, 'sub');
    await sub.subscribeAsync({ 'o/+': { qos: 0 }, 'o/#': { qos: 1 } });
    iot.publish('o/1', 'x', { qos: 1 });
    await iot.trace.waitFor({ direction: 'in', clientId: 'sub', packet: { cmd: 'puback' } });
    expect(sub.received.map((m) => m.packet.qos)).toEqual([1]);
  });

  test.each([
    ['a/#', 'wildcard "#" in a topic name', 'MQTT-3.3.2-2'],
    ['a/+/b', 'wildcard "+" in a topic name', 'MQTT-3.3.2-2'],
  ])('publishing to %s closes the connection (%s)', async (topic, _why, rule) => {
    const iot = await endpoint();
    const r = await raw(iot);
    await r.connect('pub');
    r.send({ cmd: 'publish', topic, payload: 'x', qos: 0, dup: false, retain: false });
    await r.closed;
    await iot.trace.waitFor({ event: 'violation', rule });
  });

  test.each(['a/#/b', 'a#', 'a/b+', '+x/y'])('subscribing to the invalid filter %s closes the connection', async (filter) => {
    const iot = await endpoint();
    const r = await raw(iot);
    await r.connect('sub');
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] });
    await r.closed;
    await iot.trace.waitFor({ event: 'violation', rule: /^MQTT-4\.7\.1-[23]$/ });
    expect(r.received.map((p) => p.cmd)).toEqual(['connack']);
  });
});

describe('AWS limits', () => {
  async function violation(options: Parameters<typeof endpoint>[0], send: (r: Awaited<ReturnType<typeof raw>>) => void) {
    const iot = await endpoint(options);
    const r = await raw(iot);
    await r.connect('limited');
    send(r);
    await r.closed;
    const v = await iot.trace.waitFor({ event: 'violation', clientId: 'limited' });
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'limited', reason: 'CLIENT_ERROR' });
    return v;
  }
  const publish = (topic: string, payload: Buffer | string = 'x') => ({ cmd: 'publish' as const, topic, payload, qos: 0 as const, dup: false, retain: false });
  const subscribe = (...topics: string[]) => ({ cmd: 'subscribe' as const, messageId: 1, subscriptions: topics.map((topic) => ({ topic, qos: 0 as const })) });

  test('a topic over 256 bytes closes the connection', async () => {
    const v = await violation(undefined, (r) => r.send(publish('t'.repeat(257))));
    expect(v).toMatchObject({ limit: 'maxTopicBytes', max: 256, actual: 257 });
  });

  test('a topic of exactly 256 bytes is accepted, and the $aws/rules/<rule>/ prefix does not count', async () => {
    const iot = await endpoint();
    const c = await client(iot, 'ok');
    await c.publishAsync('t'.repeat(256), 'x', { qos: 1 });
    await c.publishAsync(`$aws/rules/myRule/${'t'.repeat(256)}`, 'x', { qos: 1 });
    await c.publishAsync('$aws/rules/myRule/1/2/3/4/5/6/7/8', 'x', { qos: 1 });
    expect(iot.trace.filter({ event: 'violation' })).toEqual([]);
  });

  test('a topic with more than 7 slashes closes the connection', async () => {
    const v = await violation(undefined, (r) => r.send(publish('1/2/3/4/5/6/7/8/9')));
    expect(v).toMatchObject({ limit: 'maxTopicSlashes', max: 7, actual: 8 });
  });

  test('a filter with more than 7 slashes closes the connection', async () => {
    const v = await violation(undefined, (r) => r.send(subscribe('1/2/3/4/5/6/7/8/#')));
    expect(v).toMatchObject({ limit: 'maxTopicSlashes' });
  });

  test('more than 8 filters in one SUBSCRIBE closes the connection', async () => {
    const v = await violation(undefined, (r) => r.send(subscribe(...Array.from({ length: 9 }, (_, i) => `f/${i}`))));
    expect(v).toMatchObject({ limit: 'maxFiltersPerSubscribe', max: 8, actual: 9 });
  });

  test('the 51st subscription on a connection closes it', async () => {
    const iot = await endpoint();
    const c = await client(iot, 'many');
    for (let i = 0; i < 50; i += 8) await c.subscribeAsync(Array.from({ length: Math.min(8, 50 - i) }, (_, j) => `s/${i + j}`));
    expect(iot.clients()[0]!.subscriptions).toHaveLength(50);
    await c.subscribeAsync('s/0'); // re-subscribing an existing filter is not a new subscription
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.subscribe('s/50');
    await closed;
    await iot.trace.waitFor({ event: 'violation', limit: 'maxSubscriptionsPerConnection', max: 50, actual: 51 });
  });

  test('a payload over 128 KB closes the connection; exactly 128 KB is fine', async () => {
    const iot = await endpoint();
    const c = await client(iot, 'big');
    await c.publishAsync('p', Buffer.alloc(128 * 1024), { qos: 1 });
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.publish('p', Buffer.alloc(128 * 1024 + 1), { qos: 1 });
    await closed;
    await iot.trace.waitFor({ event: 'violation', clientId: 'big', limit: 'maxPayloadBytes', max: 131072, actual: 131073 });
  });

  test('every limit can be overridden', async () => {
    const v = await violation({ limits: { maxPayloadBytes: 10 } }, (r) => r.send(publish('p', 'eleven byte')));
    expect(v).toMatchObject({ limit: 'maxPayloadBytes', max: 10, actual: 11 });
    const w = await violation({ limits: { maxFiltersPerSubscribe: 1 } }, (r) => r.send(subscribe('a', 'b')));
    expect(w).toMatchObject({ limit: 'maxFiltersPerSubscribe', max: 1, actual: 2 });
  });
});
