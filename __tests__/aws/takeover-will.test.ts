import type { PublishEvent } from '../../src';
import { client, connectPacket, endpoint, raw } from '../helpers';

describe('client-id takeover', () => {
  // AWS allows one CONNECT per second per client id: the virtual clock moves a second on before the takeover.
  test('a second connection with a client id in use is accepted and the older one is closed (DUPLICATE_CLIENTID)', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const old = await client(iot, 'dev-1', { will: { topic: 'wills/dev-1', payload: Buffer.from('old gone'), qos: 1, retain: false } });
    const watcher = await client(iot, 'watcher');
    await watcher.subscribeAsync('wills/#', { qos: 1 });
    const oldClosed = new Promise<void>((resolve) => old.once('close', () => resolve()));

    iot.clock.advance(1000);
    const fresh = await client(iot, 'dev-1');
    expect(fresh.connected).toBe(true);
    await oldClosed;
    const gone = await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1', reason: 'DUPLICATE_CLIENTID' });
    expect(gone).toMatchObject({ willPublished: true });
    await iot.trace.waitFor({ direction: 'out', clientId: 'watcher', packet: { cmd: 'publish', topic: 'wills/dev-1', payload: 'old gone' } });
    expect(iot.clients().filter((c) => c.clientId === 'dev-1')).toHaveLength(1);
    expect(iot.clients().find((c) => c.clientId === 'dev-1')!.connectionId).toBe(iot.trace.find({ event: 'connect', clientId: 'dev-1', connectionId: (id: number) => id !== gone.connectionId })!.connectionId);
  });

  test('the new connection resumes the persistent session the old one held', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const old = await client(iot, 'dev-2', { clean: false });
    await old.subscribeAsync('cmd/dev-2', { qos: 1 });
    iot.clock.advance(1000);
    const fresh = await client(iot, 'dev-2', { clean: false });
    expect(fresh.connack.sessionPresent).toBe(true);
    iot.publish('cmd/dev-2', 'to the new one', { qos: 1 });
    await iot.trace.waitFor({ direction: 'in', clientId: 'dev-2', packet: { cmd: 'puback' } });
    expect(fresh.received.map((m) => m.payload)).toEqual(['to the new one']);
  });
});

describe('will messages', () => {
  async function setup() {
    const iot = await endpoint({ clock: 'virtual' });
    const watcher = await client(iot, 'watcher');
    await watcher.subscribeAsync('wills/+', { qos: 1 });
    return { iot, watcher };
  }
  const will = (id: string) => ({ will: { topic: `wills/${id}`, payload: Buffer.from(`${id} died`), qos: 1 as const, retain: false } });

  test('is not published when the client sends DISCONNECT', async () => {
    const { iot } = await setup();
    const c = await client(iot, 'polite', will('polite'));
    await c.endAsync();
    const e = await iot.trace.waitFor({ event: 'disconnect', clientId: 'polite' });
    expect(e).toMatchObject({ reason: 'CLIENT_INITIATED_DISCONNECT', willPublished: false });
    expect(iot.trace.filter({ event: 'publish', origin: 'will' })).toEqual([]);
  });

  test('is published when the connection is lost', async () => {
    const { iot, watcher } = await setup();
    const r = await raw(iot);
    await r.connect('lost', will('lost'));
    r.socket.destroy();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'lost', reason: 'CONNECTION_LOST', willPublished: true });
    await iot.trace.waitFor({ direction: 'in', clientId: 'watcher', packet: { cmd: 'puback' } });
    expect(watcher.received.map((m) => [m.topic, m.payload, m.packet.qos])).toEqual([['wills/lost', 'lost died', 1]]);
  });

  test('is published after a keep-alive timeout', async () => {
    const { iot } = await setup();
    const r = await raw(iot);
    await r.connect('sleepy', { keepalive: 30, ...will('sleepy') });
    iot.clock.advance(45_000); // 1.5 × keep-alive of silence (the watcher's own keep-alive is 60 s)
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'sleepy', reason: 'MQTT_KEEP_ALIVE_TIMEOUT', willPublished: true });
    const published = (await iot.trace.waitFor({ event: 'publish', origin: 'will' })) as PublishEvent;
    expect(published).toMatchObject({ topic: 'wills/sleepy', qos: 1, clientId: 'sleepy' });
  });

  test('is published after a protocol violation (CLIENT_ERROR)', async () => {
    const { iot } = await setup();
    const r = await raw(iot);
    await r.connect('rude', will('rude'));
    r.send({ cmd: 'publish', topic: 'bad/#', payload: 'x', qos: 0, dup: false, retain: false });
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'rude', reason: 'CLIENT_ERROR', willPublished: true });
    await iot.trace.waitFor({ direction: 'out', clientId: 'watcher', packet: { cmd: 'publish', topic: 'wills/rude' } });
  });

  test('iot.disconnect() publishes the will unless preventWillMessage is set', async () => {
    const { iot } = await setup();
    await client(iot, 'kicked', will('kicked'));
    await client(iot, 'hushed', will('hushed'));
    expect(iot.disconnect('kicked')).toBe(true);
    expect(iot.disconnect('hushed', { preventWillMessage: true })).toBe(true);
    expect(iot.disconnect('nobody')).toBe(false);
    expect(iot.trace.filter({ event: 'disconnect', reason: 'API_INITIATED_DISCONNECT' }).map((e) => [e.clientId, (e as { willPublished: boolean }).willPublished]))
      .toEqual([['kicked', true], ['hushed', false]]);
    await iot.trace.waitFor({ direction: 'out', clientId: 'watcher', packet: { cmd: 'publish', topic: 'wills/kicked' } });
    expect(iot.trace.filter({ event: 'publish', origin: 'will', topic: 'wills/hushed' })).toEqual([]);
  });

  test('iot.disconnect(id, { cleanSession: true }) also discards a persistent session', async () => {
    const { iot } = await setup();
    const c = await client(iot, 'p', { clean: false });
    await c.subscribeAsync('x', { qos: 1 });
    iot.disconnect('p', { cleanSession: true });
    await iot.trace.waitFor({ event: 'session-ended', clientId: 'p', reason: 'discarded' });
    iot.clock.advance(1000); // AWS: one CONNECT per second per client id
    const back = await client(iot, 'p', { clean: false });
    expect(back.connack.sessionPresent).toBe(false);
  });

  test('a will with a wildcard topic fails the CONNECT', async () => {
    const { iot } = await setup();
    const r = await raw(iot);
    r.send(connectPacket('wild', { will: { topic: 'wills/#', payload: Buffer.from('x'), qos: 0, retain: false } }));
    await r.closed;
    expect(r.received).toEqual([]);
    await iot.trace.waitFor({ event: 'violation', clientId: 'wild', rule: 'MQTT-3.3.2-2' });
  });
});
