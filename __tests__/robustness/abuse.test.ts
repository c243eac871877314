import * as net from 'node:net';
import mqtt from 'mqtt';
import { client, endpoint, raw } from '../helpers';

describe('abuse', () => {
  test('a remaining length beyond the payload limit is refused before the bytes arrive', async () => {
    const iot = await endpoint();
    const r = await raw(iot);
    await r.connect('greedy');
    // PUBLISH announcing 200 MB, followed by a few bytes only.
    r.send(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x64, 0x00, 0x01, 0x61]));
    await r.closed;
    const v = await iot.trace.waitFor({ event: 'violation', clientId: 'greedy' });
    expect(v).toMatchObject({ limit: 'maxPayloadBytes', max: 131072, actual: 200 * 1024 * 1024 });
  });

  test('the same refusal before CONNECT', async () => {
    const iot = await endpoint();
    const r = await raw(iot);
    r.send(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]));
    await r.closed;
    await iot.trace.waitFor({ event: 'violation', limit: 'maxPayloadBytes' });
  });

  test('1,000 concurrent clients connect, subscribe and exchange QoS 1 messages; every one arrives', async () => {
    const iot = await endpoint({ trace: { maxEntries: 100 } });
    const n = 1000;
    const clients = await Promise.all(
      Array.from({ length: n }, (_, i) => mqtt.connectAsync(iot.url, { clientId: `dev-${i}`, reconnectPeriod: 0, keepalive: 600 })),
    );
    try {
      const received = Array.from({ length: n }, () => [] as string[]);
      let total = 0;
      let resolveAll!: () => void;
      const all = new Promise<void>((resolve) => (resolveAll = resolve));
      clients.forEach((c, i) =>
        c.on('message', (_t, payload) => {
          received[i]!.push(payload.toString());
          if (++total === n) resolveAll();
        }),
      );
      await Promise.all(clients.map((c, i) => c.subscribeAsync(`ring/${i}`, { qos: 1 })));
      await Promise.all(clients.map((c, i) => c.publishAsync(`ring/${(i + 1) % n}`, `from ${i}`, { qos: 1 })));
      await all;
      received.forEach((got, i) => expect(got).toEqual([`from ${(i + n - 1) % n}`]));
      expect(iot.clients()).toHaveLength(n);
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true)));
    }
  }, 60_000);

  test('a consumer that stops reading does not make the broker buffer without bound', async () => {
    const limits = { maxInflightMessages: 100, maxQueuedMessages: 500, maxBufferedBytes: 256 * 1024 };
    // A flood far beyond AWS's 100 PUBLISH/s and 512 KiB/s per connection: the rate limits are lifted, since
    // this test is about the broker's memory when nothing slows the flood down.
    const iot = await endpoint({ limits, trace: { maxEntries: 50_000 }, throttles: false });
    const r = await raw(iot);
    await r.connect('stalled');
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q0', qos: 0 }, { topic: 'q1', qos: 1 }] });
    await r.next('suback');
    r.socket.pause(); // stop reading: the kernel buffers fill, then the broker's

    const payload = Buffer.alloc(8 * 1024, 1);
    for (let i = 0; i < 2000; i++) iot.publish('q0', payload, { qos: 0 }); // 16 MB of QoS 0
    for (let i = 0; i < 2000; i++) iot.publish('q1', 'x', { qos: 1 });

    const [info] = iot.clients();
    expect(info!.inflight).toBe(100); // AWS: at most 100 unacknowledged QoS 1 messages
    expect(info!.queued).toBe(500); // then up to maxQueuedMessages wait
    expect(iot.trace.filter({ event: 'dropped', reason: 'queue-full' })).toHaveLength(2000 - 600);
    const dropped0 = iot.trace.filter({ event: 'dropped', reason: 'slow-consumer' }).length;
    expect(dropped0).toBeGreaterThan(1000); // most QoS 0 was dropped rather than buffered
    const sent0 = iot.trace.filter({ direction: 'out', packet: { cmd: 'publish', topic: 'q0' } }).length;
    expect(sent0 + dropped0).toBe(2000);
    // What was written at most fills the kernel's buffers plus maxBufferedBytes, far from 16 MB.
    expect(sent0 * payload.length).toBeLessThan(12 * 1024 * 1024);
  });

  test('a connection that never sends CONNECT is closed with the endpoint, and counts as nothing', async () => {
    const iot = await endpoint();
    const s = net.connect(iot.port, iot.host);
    s.on('error', () => {});
    await new Promise((resolve) => s.once('connect', resolve));
    const closed = new Promise((resolve) => s.once('close', resolve));
    s.resume();
    expect(iot.clients()).toEqual([]);
    await iot.close();
    await closed;
  });

  test('API misuse never hangs: waitFor on a closed endpoint rejects, close() resolves every time', async () => {
    const iot = await endpoint();
    const c = await client(iot, 'x');
    const dropped = new Promise<void>((resolve) => c.once('close', () => resolve()));
    const pending = iot.trace.waitFor({ event: 'violation' }, { timeoutMs: 60_000 });
    await iot.close();
    await expect(pending).rejects.toMatchObject({ code: 'ENDPOINT_CLOSED' });
    await expect(iot.close()).resolves.toBeUndefined();
    await dropped; // the client was disconnected by the close
  });
});
