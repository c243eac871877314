/**
 * AWS's rate limits (aws-iot-behaviour.md §2, §1.6), on the virtual clock so that "per second" is exact:
 * 100 PUBLISH/s per connection in and out, 512 KiB/s per connection, 1 CONNECT/s per client id, and a
 * resumed session's stored messages at 10/s.
 */
import type { PacketEntry } from '../../src';
import { client, endpoint, raw } from '../helpers';

const publishesOut = (iot: Awaited<ReturnType<typeof endpoint>>, clientId: string) =>
  iot.trace.filter({ direction: 'out', clientId, packet: { cmd: 'publish' } }) as PacketEntry[];
const payloads = (entries: PacketEntry[]) => entries.map((e) => String(e.packet.cmd === 'publish' ? e.packet.payload : ''));

describe('PUBLISH rate per connection (limits.maxPublishesPerSecond, in + out)', () => {
  test('what a connection receives counts too: a client that echoes itself gets 50 round trips out of 80', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const dev = await client(iot, 'loop');
    await dev.subscribeAsync('loop/#', { qos: 0 });
    for (let i = 0; i < 80; i++) dev.publish('loop/x', String(i));
    await iot.trace.waitFor(() => iot.trace.filter({ direction: 'in', clientId: 'loop', packet: { cmd: 'publish' } }).length === 80);
    // Each accepted PUBLISH is delivered back at once: 50 in + 50 out use the second's 100, the last 30 are discarded.
    expect(payloads(publishesOut(iot, 'loop'))).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    const throttled = iot.trace.filter({ event: 'throttled', clientId: 'loop' });
    expect(throttled).toHaveLength(30);
    expect(throttled.every((e) => e.limit === 'maxPublishesPerSecond' && e.direction === 'in' && e.action === 'discarded' && e.topic === 'loop/x')).toBe(true);
  });

  test('a QoS 1 PUBLISH over the rate is discarded without PUBACK; the allowance refills with time', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const r = await raw(iot);
    await r.connect('burst');
    for (let id = 1; id <= 101; id++) r.send({ cmd: 'publish', topic: 'dt/burst', payload: Buffer.from(String(id)), qos: 1, messageId: id, dup: false, retain: false });
    await iot.trace.waitFor({ event: 'throttled', clientId: 'burst' });
    // PUBACKs for the first 100 only: the 101st was discarded. A PINGRESP after them shows nothing else is coming.
    r.send({ cmd: 'pingreq' });
    await r.next('pingresp');
    expect(r.received.filter((p) => p.cmd === 'puback').map((p) => (p as { messageId: number }).messageId)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));

    iot.clock.advance(10); // one PUBLISH's worth at 100/s
    r.send({ cmd: 'publish', topic: 'dt/burst', payload: Buffer.from('later'), qos: 1, messageId: 200, dup: false, retain: false });
    await iot.trace.waitFor({ direction: 'out', clientId: 'burst', packet: { cmd: 'puback', messageId: 200 } });
  });

  test('messages to a connection beyond its rate are discarded, and delivered again once time moves on', async () => {
    const iot = await endpoint({ clock: 'virtual', lifecycleEvents: false });
    const dev = await client(iot, 'sink');
    await dev.subscribeAsync('cmd/sink', { qos: 1 });
    for (let i = 0; i < 120; i++) iot.publish('cmd/sink', `m${i}`, { qos: 0 });
    expect(publishesOut(iot, 'sink')).toHaveLength(100);
    expect(iot.trace.filter({ event: 'throttled', clientId: 'sink', direction: 'out', action: 'discarded' })).toHaveLength(20);
    iot.clock.advance(1000);
    iot.publish('cmd/sink', 'after a second', { qos: 1 });
    await dev.receivedCount(101);
    expect(dev.received.at(-1)!.payload).toBe('after a second');
  });

  test("publishRate: 'disconnect' closes the connection with lifecycle reason THROTTLED", async () => {
    const iot = await endpoint({ clock: 'virtual', publishRate: 'disconnect' });
    const watcher = await client(iot, 'watcher');
    await watcher.subscribeAsync('$aws/events/presence/disconnected/+', { qos: 1 });
    const dev = await client(iot, 'chatty');
    for (let i = 0; i < 101; i++) dev.publish('dt/chatty', String(i));
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'chatty', reason: 'THROTTLED' });
    const [event] = await watcher.receivedCount(1);
    expect(JSON.parse(event!.payload)).toMatchObject({ clientId: 'chatty', disconnectReason: 'THROTTLED', clientInitiatedDisconnect: false });
  });
});

describe('throughput per connection (limits.maxBytesPerSecond)', () => {
  const big = (i: number) => Buffer.alloc(100 * 1024, i);

  test('input beyond 512 KiB/s is read later, not lost', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const r = await raw(iot);
    await r.connect('uploader');
    for (let i = 0; i < 7; i++) r.send({ cmd: 'publish', topic: 'up/file', payload: big(i), qos: 0, dup: false, retain: false });
    const delayed = await iot.trace.waitFor({ event: 'throttled', clientId: 'uploader', limit: 'maxBytesPerSecond', direction: 'in' });
    expect(delayed).toMatchObject({ action: 'delayed', delayedMs: expect.any(Number) });
    // 700 KB were sent; reading stopped a little past 512 KiB, so not all seven were read.
    const read = () => iot.trace.filter({ direction: 'in', clientId: 'uploader', packet: { cmd: 'publish' } }).length;
    expect(read()).toBeLessThan(7);
    iot.clock.advance(2000);
    await iot.trace.waitFor(() => read() === 7);
    expect(iot.trace.filter({ event: 'disconnect', clientId: 'uploader' })).toEqual([]);
  });

  test('output beyond 512 KiB/s is held back in order, and sent as the allowance refills', async () => {
    const iot = await endpoint({ clock: 'virtual', lifecycleEvents: false });
    const r = await raw(iot);
    await r.connect('downloader');
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'down/file', qos: 0 }] });
    await r.next('suback');
    for (let i = 0; i < 8; i++) iot.publish('down/file', big(i), { qos: 0 });
    // 100 KB each: six fit the second's 512 KiB (the sixth overdraws it), the other two wait.
    expect(publishesOut(iot, 'downloader')).toHaveLength(6);
    expect(iot.trace.find({ event: 'throttled', clientId: 'downloader' })).toMatchObject({ limit: 'maxBytesPerSecond', direction: 'out', action: 'delayed' });
    iot.clock.advance(1000);
    await r.count('publish', 8);
    expect(r.received.filter((p) => p.cmd === 'publish').map((p) => (p as { payload: Buffer }).payload[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  test("throughput: 'disconnect' closes the connection (THROTTLED)", async () => {
    const iot = await endpoint({ clock: 'virtual', throughput: 'disconnect' });
    const r = await raw(iot);
    await r.connect('hog');
    for (let i = 0; i < 7; i++) r.send({ cmd: 'publish', topic: 'up/file', payload: big(i), qos: 0, dup: false, retain: false });
    await r.closed;
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'hog', reason: 'THROTTLED' });
  });
});

describe('CONNECT rate per client id (limits.maxConnectsPerSecondPerClientId)', () => {
  test("connectRate: 'server-unavailable' answers CONNACK 0x03; the connection holding the id stays", async () => {
    const iot = await endpoint({ clock: 'virtual', connectRate: 'server-unavailable' });
    const first = await client(iot, 'dev-1');
    const second = await raw(iot);
    expect(await second.connect('dev-1')).toMatchObject({ returnCode: 3 });
    await second.closed;
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1', reason: 'THROTTLED' });
    expect(first.connected).toBe(true);
    expect(iot.clients().map((c) => c.connectionId)).toEqual([1]);
  });

  test('other client ids are not affected, and a refused attempt does not use the allowance', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    await client(iot, 'dev-a');
    await client(iot, 'dev-b'); // another id: its own allowance
    const refused = await raw(iot);
    refused.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'dev-a' });
    await refused.closed;
    expect(refused.received).toEqual([]); // connectRate 'close': no CONNACK
    iot.clock.advance(1000); // one second after the accepted CONNECT, not after the refused one
    const again = await raw(iot);
    expect(await again.connect('dev-a')).toMatchObject({ returnCode: 0 });
  });
});

describe('stored messages of a resumed session (limits.storedMessagesPerSecond)', () => {
  async function awayWithStored(iot: Awaited<ReturnType<typeof endpoint>>, n: number) {
    const dev = await client(iot, 'away', { clean: false });
    await dev.subscribeAsync('cmd/away', { qos: 1 });
    await dev.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'away' });
    for (let i = 0; i < n; i++) iot.publish('cmd/away', `stored-${i}`, { qos: 1 });
    iot.clock.advance(1000); // AWS allows one CONNECT per second per client id
  }

  test('come at 10 per second after the CONNACK, with live messages going ahead of them', async () => {
    const iot = await endpoint({ clock: 'virtual', lifecycleEvents: false });
    await awayWithStored(iot, 5);
    const back = await raw(iot);
    expect(await back.connect('away', { clean: false })).toMatchObject({ sessionPresent: true });
    // The first goes right after the CONNACK, the next one 100 ms later.
    expect(payloads(publishesOut(iot, 'away'))).toEqual(['stored-0']);
    iot.publish('cmd/away', 'live', { qos: 1 });
    expect(payloads(publishesOut(iot, 'away'))).toEqual(['stored-0', 'live']);
    iot.clock.advance(99);
    expect(publishesOut(iot, 'away')).toHaveLength(2);
    iot.clock.advance(1);
    expect(payloads(publishesOut(iot, 'away'))).toEqual(['stored-0', 'live', 'stored-1']);
    expect(iot.clients()[0]!.queued).toBe(3);
    iot.clock.advance(300);
    expect(payloads(publishesOut(iot, 'away'))).toEqual(['stored-0', 'live', 'stored-1', 'stored-2', 'stored-3', 'stored-4']);
    await back.count('publish', 6);
  });

  test('what is left when the client goes again waits for its next connection, ahead of newer messages', async () => {
    const iot = await endpoint({ clock: 'virtual', lifecycleEvents: false });
    await awayWithStored(iot, 3);
    const back = await raw(iot);
    await back.connect('away', { clean: false });
    back.send({ cmd: 'disconnect' });
    await iot.trace.waitFor(() => iot.trace.filter({ event: 'disconnect', clientId: 'away' }).length === 2);
    iot.publish('cmd/away', 'newer', { qos: 1 });
    iot.clock.advance(1000);
    const third = await raw(iot);
    await third.connect('away', { clean: false });
    // stored-0 was sent (not acknowledged): it goes again first, with its packet id; then the rest in order.
    iot.clock.advance(1000);
    const got = await third.count('publish', 4);
    expect(got.map((p) => p.payload.toString())).toEqual(['stored-0', 'stored-1', 'stored-2', 'newer']);
  });

  test('throttles: false lifts every rate limit: the stored messages come at once, bursts go through', async () => {
    const iot = await endpoint({ clock: 'virtual', lifecycleEvents: false, throttles: false });
    await awayWithStored(iot, 5);
    const back = await raw(iot);
    await back.connect('away', { clean: false });
    expect(publishesOut(iot, 'away')).toHaveLength(5);
    for (let i = 0; i < 300; i++) iot.publish('cmd/away', 'burst', { qos: 0 });
    expect(publishesOut(iot, 'away')).toHaveLength(305);
    const again = await raw(iot);
    await again.connect('away', { clean: false }); // same second, same client id: a takeover, not a refusal
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'away', reason: 'DUPLICATE_CLIENTID' });
    expect(iot.trace.filter({ event: 'throttled' })).toEqual([]);
  });
});
