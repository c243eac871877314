import type { PacketEntry } from '../../src';
import { client, connectPacket, endpoint, raw } from '../helpers';
import { pingRoundTrip } from '../sync';

// These tests reconnect one client id right away. AWS allows one CONNECT per second per client id
// (limits.maxConnectsPerSecondPerClientId), so each moves the virtual clock a second on before reconnecting.
const NEXT_SECOND = 1000;

describe('clean and persistent sessions', () => {
  test('a persistent session keeps its subscriptions and queues QoS 1 (not QoS 0) while the client is away', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const first = await client(iot, 'dev-p', { clean: false });
    expect(first.connack.sessionPresent).toBe(false);
    await first.subscribeAsync('cmd/dev-p', { qos: 1 });
    await first.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-p', reason: 'CLIENT_INITIATED_DISCONNECT' });

    iot.publish('cmd/dev-p', 'while-away-qos1', { qos: 1 });
    iot.publish('cmd/dev-p', 'while-away-qos0', { qos: 0 });

    iot.clock.advance(NEXT_SECOND);
    const back = await client(iot, 'dev-p', { clean: false });
    expect(back.connack.sessionPresent).toBe(true);
    await iot.trace.waitFor({ direction: 'in', clientId: 'dev-p', packet: { cmd: 'puback' } });
    expect(back.received.map((m) => m.payload)).toEqual(['while-away-qos1']);
    expect(iot.clients()[0]!.subscriptions).toEqual([{ topic: 'cmd/dev-p', qos: 1 }]);

    // Still subscribed without a new SUBSCRIBE.
    iot.publish('cmd/dev-p', 'live', { qos: 0 });
    await iot.trace.waitFor({ direction: 'out', clientId: 'dev-p', packet: { cmd: 'publish', payload: 'live' } });
  });

  test('QoS 1 messages left unacknowledged at disconnect are sent again on resume, with their packet id and no DUP', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const a = await raw(iot);
    await a.connect('no-ack', { clean: false });
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'jobs/no-ack', qos: 1 }] });
    await iot.trace.waitFor({ direction: 'out', clientId: 'no-ack', packet: { cmd: 'suback' } });
    iot.publish('jobs/no-ack', 'job-1', { qos: 1 });
    const sent = (await iot.trace.waitFor({ direction: 'out', clientId: 'no-ack', packet: { cmd: 'publish' } })) as PacketEntry;
    a.socket.destroy(); // no PUBACK
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'no-ack', reason: 'CONNECTION_LOST' });

    iot.clock.advance(NEXT_SECOND);
    const b = await raw(iot);
    b.send(connectPacket('no-ack', { clean: false }));
    await b.next('publish');
    expect(b.received).toEqual([
      expect.objectContaining({ cmd: 'connack', sessionPresent: true }),
      expect.objectContaining({ cmd: 'publish', topic: 'jobs/no-ack', messageId: (sent.packet as { messageId: number }).messageId, dup: false }),
    ]);
  });

  test('a clean connect discards the stored session', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const p = await client(iot, 'dev-c', { clean: false });
    await p.subscribeAsync('cmd/dev-c', { qos: 1 });
    await p.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-c' });
    iot.publish('cmd/dev-c', 'stale', { qos: 1 });

    iot.clock.advance(NEXT_SECOND);
    const clean = await client(iot, 'dev-c', { clean: true });
    expect(clean.connack.sessionPresent).toBe(false);
    expect(iot.clients()[0]!.subscriptions).toEqual([]);
    await clean.endAsync();

    iot.clock.advance(NEXT_SECOND);
    const again = await client(iot, 'dev-c', { clean: false });
    expect(again.connack.sessionPresent).toBe(false);
    iot.publish('cmd/dev-c', 'new', { qos: 1 });
    // Anything the broker sent dev-c for that publish arrives before the answer to a later PINGREQ.
    await pingRoundTrip(iot, 'dev-c', again);
    expect(iot.trace.filter({ direction: 'out', clientId: 'dev-c', packet: { cmd: 'publish' } })).toEqual([]);
    expect(again.received).toEqual([]);
  });

  test('a clean session keeps nothing after disconnect', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const c = await client(iot, 'dev-n', { clean: true });
    await c.subscribeAsync('cmd/dev-n', { qos: 1 });
    await c.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-n' });
    iot.publish('cmd/dev-n', 'lost', { qos: 1 });
    iot.clock.advance(NEXT_SECOND);
    const back = await client(iot, 'dev-n', { clean: false });
    expect(back.connack.sessionPresent).toBe(false);
    await pingRoundTrip(iot, 'dev-n', back);
    expect(iot.trace.filter({ direction: 'out', packet: { cmd: 'publish', topic: 'cmd/dev-n' } })).toEqual([]);
    expect(back.received).toEqual([]);
  });

  test('a persistent session expires after limits.sessionExpirySeconds', async () => {
    const iot = await endpoint({ limits: { sessionExpirySeconds: 1 }, clock: 'virtual' });
    const c = await client(iot, 'dev-e', { clean: false });
    await c.subscribeAsync('cmd/dev-e', { qos: 1 });
    await c.endAsync();
    const gone = await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-e' });
    // advance() runs the timers that fall due before it returns.
    iot.clock.advance(999);
    expect(iot.trace.find({ event: 'session-ended', clientId: 'dev-e' })).toBeUndefined();
    iot.clock.advance(1);
    const expired = await iot.trace.waitFor({ event: 'session-ended', clientId: 'dev-e', reason: 'expired' });
    expect(expired.at - gone.at).toBe(1000);
    iot.publish('cmd/dev-e', 'after-expiry', { qos: 1 });
    const back = await client(iot, 'dev-e', { clean: false });
    expect(back.connack.sessionPresent).toBe(false);
    await pingRoundTrip(iot, 'dev-e', back);
    expect(iot.trace.filter({ direction: 'out', clientId: 'dev-e', packet: { cmd: 'publish' } })).toEqual([]);
    expect(back.received).toEqual([]);
  });

  test('at most limits.maxInflightMessages QoS 1 messages wait for PUBACK; the rest follow as acks come', async () => {
    const iot = await endpoint({ limits: { maxInflightMessages: 2 } });
    const r = await raw(iot);
    await r.connect('slow');
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'm', qos: 1 }] });
    await iot.trace.waitFor({ direction: 'out', packet: { cmd: 'suback' } });
    for (let i = 1; i <= 4; i++) iot.publish('m', `m${i}`, { qos: 1 });
    const outs = () => iot.trace.filter({ direction: 'out', packet: { cmd: 'publish', topic: 'm' } }).map((e) => (e as PacketEntry).packet);
    expect(outs().map((p) => (p as { payload: Buffer }).payload.toString())).toEqual(['m1', 'm2']);
    r.send({ cmd: 'puback', messageId: (outs()[0] as { messageId: number }).messageId });
    await iot.trace.waitFor({ direction: 'out', packet: { cmd: 'publish', payload: 'm3' } });
    expect(outs()).toHaveLength(3);
  });
});
