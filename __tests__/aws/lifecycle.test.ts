import { client, endpoint, raw } from '../helpers';

type Json = Record<string, unknown>;

describe('lifecycle events', () => {
  async function observer(iot: Awaited<ReturnType<typeof endpoint>>) {
    const o = await client(iot, 'observer');
    await o.subscribeAsync(['$aws/events/presence/+/+', '$aws/events/subscriptions/+/+'], { qos: 1 });
    const events = (clientId: string) => o.received.filter((m) => m.topic.endsWith(`/${clientId}`)).map((m) => JSON.parse(m.payload) as Json);
    return { o, events };
  }

  test('connected, subscribed, unsubscribed and disconnected events carry AWS\'s fields', async () => {
    const iot = await endpoint({ seed: 99 });
    const { events } = await observer(iot);
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync(['cmd/dev-1', 'cfg/#'], { qos: 1 });
    await dev.unsubscribeAsync('cfg/#');
    await dev.endAsync();
    await iot.trace.waitFor({ direction: 'out', clientId: 'observer', packet: { cmd: 'publish', topic: '$aws/events/presence/disconnected/dev-1' } });
    // The observer acknowledges each event after handling it, so its PUBACKs show when all four are in.
    await iot.trace.waitFor(() => events('dev-1').length === 4);

    const [connected, subscribed, unsubscribed, disconnected] = events('dev-1') as [Json, Json, Json, Json];
    const session = connected.sessionIdentifier;
    expect(session).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(connected).toEqual({
      clientId: 'dev-1', timestamp: expect.any(Number), eventType: 'connected', sessionIdentifier: session,
      principalIdentifier: expect.stringMatching(/^[0-9a-f]{64}$/), ipAddress: '127.0.0.1', versionNumber: 0,
    });
    expect(subscribed).toEqual({
      clientId: 'dev-1', timestamp: expect.any(Number), eventType: 'subscribed', sessionIdentifier: session,
      principalIdentifier: connected.principalIdentifier, topics: ['cmd/dev-1', 'cfg/#'],
    });
    expect(unsubscribed).toMatchObject({ eventType: 'unsubscribed', topics: ['cfg/#'], sessionIdentifier: session });
    expect(disconnected).toEqual({
      clientId: 'dev-1', timestamp: expect.any(Number), eventType: 'disconnected', sessionIdentifier: session,
      principalIdentifier: connected.principalIdentifier, clientInitiatedDisconnect: true,
      disconnectReason: 'CLIENT_INITIATED_DISCONNECT', versionNumber: 0,
    });
    // Timestamps are epoch milliseconds.
    expect(Math.abs((connected.timestamp as number) - Date.now())).toBeLessThan(60_000);
  });

  test('versionNumber grows per connection; a resumed persistent session keeps its sessionIdentifier', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const { events } = await observer(iot);
    for (let i = 0; i < 3; i++) {
      iot.clock.advance(1000); // AWS allows one CONNECT per second per client id
      const c = await client(iot, 'dev-v', { clean: false });
      await c.endAsync();
      await iot.trace.waitFor({ direction: 'out', clientId: 'observer', packet: { cmd: 'publish', payload: new RegExp(`"disconnected".*"versionNumber":${i}`) } });
    }
    const connects = events('dev-v').filter((e) => e.eventType === 'connected');
    expect(connects.map((e) => e.versionNumber)).toEqual([0, 1, 2]);
    expect(new Set(connects.map((e) => e.sessionIdentifier)).size).toBe(1);
  });

  test('disconnectReason follows what happened: keep-alive timeout', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const { events } = await observer(iot);
    const r = await raw(iot);
    await r.connect('sleepy', { keepalive: 30 });
    // The observer acknowledged the connected event first: an unacknowledged QoS 1 message would be retried
    // (limits.qos1RetryIntervalSeconds) while time moves on, and the observer would see it again.
    await iot.trace.waitFor(() => events('sleepy').length === 1 && iot.clients().find((c) => c.clientId === 'observer')!.inflight === 0);
    iot.clock.advance(45_000); // 1.5 × keep-alive of silence (the observer's own keep-alive is 60 s)
    await iot.trace.waitFor({ direction: 'out', clientId: 'observer', packet: { cmd: 'publish', topic: '$aws/events/presence/disconnected/sleepy' } });
    await iot.trace.waitFor(() => events('sleepy').length === 2);
    expect(events('sleepy')[1]).toMatchObject({ clientInitiatedDisconnect: false, disconnectReason: 'MQTT_KEEP_ALIVE_TIMEOUT' });
  });

  test('client ids with "+" or "#" produce no lifecycle events', async () => {
    const iot = await endpoint();
    await observer(iot);
    await client(iot, 'odd+id');
    await client(iot, 'odd#id');
    await client(iot, 'normal');
    await iot.trace.waitFor({ event: 'publish', origin: 'lifecycle', clientId: 'normal' });
    expect(iot.trace.filter({ event: 'publish', origin: 'lifecycle', clientId: /odd/ })).toEqual([]);
  });

  test('lifecycle messages go out at QoS 1 by default (min with the grant); lifecycleQos: 0 lowers them', async () => {
    for (const [lifecycleQos, delivered] of [[undefined, 1], [0, 0]] as const) {
      const iot = await endpoint({ lifecycleQos });
      const { o } = await observer(iot);
      await client(iot, 'dev-q');
      await o.receivedCount(2); // observer's own subscribed event, then dev-q's connected event
      expect(o.received.find((m) => m.topic === '$aws/events/presence/connected/dev-q')!.packet.qos).toBe(delivered);
    }
  });

  test('lifecycleEvents: false turns them off', async () => {
    const iot = await endpoint({ lifecycleEvents: false });
    await client(iot, 'quiet');
    expect(iot.trace.filter({ event: 'publish', origin: 'lifecycle' })).toEqual([]);
  });
});
