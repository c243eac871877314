/**
 * AWS rules that are profile data: each default reproduces AWS, each switch gives the other behaviour.
 */
import { client, connectPacket, endpoint, raw } from '../helpers';

describe('profile rules', () => {
  test('hashMatchesParent: false (AWS) — `a/#` does not match `a`; true (MQTT) — it does', async () => {
    for (const hashMatchesParent of [false, true]) {
      const iot = await endpoint({ hashMatchesParent });
      const sub = await client(iot, `sub-${hashMatchesParent}`);
      await sub.subscribeAsync('a/#', { qos: 0 });
      iot.publish('a', 'parent');
      iot.publish('a/b', 'child'); // published after, and always delivered: the synchronisation point
      await iot.trace.waitFor({ direction: 'out', packet: { cmd: 'publish', topic: 'a/b' } });
      const parent = iot.trace.filter({ direction: 'out', packet: { cmd: 'publish', topic: 'a' } });
      expect(parent).toHaveLength(hashMatchesParent ? 1 : 0);
    }
  });

  test('basicIngestPrefixExempt: the `$aws/rules/<rule>/` prefix counts toward the topic limits only when switched off', async () => {
    const topic = `$aws/rules/r/${'x'.repeat(250)}`; // 263 bytes in all, 250 without the prefix
    const exempt = await endpoint();
    expect(() => exempt.publish(topic, 'ok')).not.toThrow();
    const counted = await endpoint({ basicIngestPrefixExempt: false });
    expect(() => counted.publish(topic, 'too long')).toThrow(/limits|bytes/);
    const c = await raw(counted);
    await c.connect('ingest');
    c.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, dup: false, retain: false });
    await counted.trace.waitFor({ event: 'violation', clientId: 'ingest', rule: 'limits.maxTopicBytes' });
  });

  test("offlineQos0: 'drop' (AWS) stores no QoS 0 for an offline session; 'queue' delivers it on resume", async () => {
    for (const offlineQos0 of ['drop', 'queue'] as const) {
      const iot = await endpoint({ offlineQos0, clock: 'virtual' });
      const first = await client(iot, 'away', { clean: false });
      await first.subscribeAsync('cmd/away', { qos: 1 });
      await first.endAsync();
      await iot.trace.waitFor({ event: 'disconnect', clientId: 'away' });
      iot.publish('cmd/away', 'q0', { qos: 0 });
      iot.publish('cmd/away', 'q1', { qos: 1 });
      iot.clock.advance(1000); // AWS allows one CONNECT per second per client id
      const back = await raw(iot);
      await back.connect('away', { clean: false });
      iot.clock.advance(100); // stored messages come at limits.storedMessagesPerSecond (10/s)
      // The QoS 1 message is always stored, and it was queued after the QoS 0 one: once it is out, nothing else comes.
      await iot.trace.waitFor({ direction: 'out', clientId: 'away', packet: { cmd: 'publish', payload: 'q1' } });
      const payloads = iot.trace.filter({ direction: 'out', clientId: 'away', packet: { cmd: 'publish' } }).map((e) => String((e.packet as { payload: Buffer }).payload));
      expect(payloads).toEqual(offlineQos0 === 'queue' ? ['q0', 'q1'] : ['q1']);
    }
  });

  test("packetBeforeConnack: 'disconnect' (AWS) closes a client that did not wait; 'allow' serves it", async () => {
    for (const packetBeforeConnack of ['disconnect', 'allow'] as const) {
      const iot = await endpoint({ packetBeforeConnack });
      const c = await raw(iot);
      // CONNECT and PINGREQ in one write: the PINGREQ was sent before the CONNACK could be read.
      c.socket.write(Buffer.concat([require('mqtt-packet').generate(connectPacket('eager')), Buffer.from([0xc0, 0x00])]));
      if (packetBeforeConnack === 'disconnect') {
        await iot.trace.waitFor({ event: 'violation', clientId: 'eager', rule: 'aws.wait-for-connack' });
      } else {
        await iot.trace.waitFor({ direction: 'out', clientId: 'eager', packet: { cmd: 'pingresp' } });
        expect(iot.trace.filter({ event: 'violation' })).toEqual([]);
      }
    }
  });

  test('a clean CONNECT that discards a stored session records session-ended (discarded)', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const p = await client(iot, 'dev-x', { clean: false });
    await p.subscribeAsync('cmd/dev-x', { qos: 1 });
    await p.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-x' });
    expect(iot.trace.filter({ event: 'session-ended' })).toEqual([]);
    iot.clock.advance(1000); // AWS allows one CONNECT per second per client id
    await client(iot, 'dev-x', { clean: true });
    const ended = await iot.trace.waitFor({ event: 'session-ended', clientId: 'dev-x' });
    expect(ended.reason).toBe('discarded');
    const connect = iot.trace.filter({ event: 'connect', clientId: 'dev-x' })[1]!;
    expect(ended.seq).toBeLessThan(connect.seq);
  });

  test("emptyClientId: 'reject' refuses an empty client id even on a clean session (CONNACK 0x02)", async () => {
    const iot = await endpoint({ emptyClientId: 'reject' });
    const c = await raw(iot);
    const connack = await c.connect('', { clean: true });
    expect(connack.returnCode).toBe(2);
    await c.closed;
    await iot.trace.waitFor({ event: 'violation', rule: 'aws.empty-client-id' });
  });
});

describe('failures inside the endpoint end in the trace, never in the host', () => {
  test('a throwing trace listener is unsubscribed, recorded as internal-error, the endpoint goes on, and close() rejects', async () => {
    const { startFakeIot } = await import('../../src');
    const iot = await startFakeIot();
    let calls = 0;
    iot.trace.subscribe(() => {
      calls++;
      throw new Error('listener bug');
    });
    const c = await client(iot, 'dev-l');
    const error = await iot.trace.waitFor({ event: 'internal-error', source: 'trace-listener' });
    expect(error.message).toBe('listener bug');
    expect(calls).toBe(1); // unsubscribed after its first throw
    await c.subscribeAsync('t', { qos: 1 });
    iot.publish('t', 'still works', { qos: 1 });
    await iot.trace.waitFor({ direction: 'in', clientId: 'dev-l', packet: { cmd: 'puback' } });
    c.end(true);
    await expect(iot.close()).rejects.toMatchObject({ code: 'CALLBACK_FAILED', message: expect.stringContaining('listener bug') });
  });
});

describe('options.clock accepts a Clock object', () => {
  test("the endpoint's timers run on the given clock: keep-alive expires when its owner moves time", async () => {
    let now = 1_700_000_000_000;
    const timers: { due: number; fn: () => void; cancelled: boolean }[] = [];
    const clock = {
      now: () => now,
      setTimeout(fn: () => void, ms: number) {
        const t = { due: now + ms, fn, cancelled: false };
        timers.push(t);
        return { cancel: () => void (t.cancelled = true) };
      },
    };
    const advance = (ms: number) => {
      now += ms;
      for (const t of timers.splice(0).sort((a, b) => a.due - b.due)) {
        if (t.cancelled) continue;
        if (t.due <= now) t.fn();
        else timers.push(t);
      }
    };
    const iot = await endpoint({ clock });
    expect(iot.clock.mode).toBe('custom');
    expect(iot.clock.now()).toBe(now);
    expect(() => iot.clock.advance(1)).toThrow(/virtual clock/);
    const c = await raw(iot);
    await c.connect('timed', { keepalive: 30 });
    advance(44_000); // below 1.5 × 30 s
    c.send({ cmd: 'pingreq' });
    await iot.trace.waitFor({ direction: 'out', clientId: 'timed', packet: { cmd: 'pingresp' } });
    advance(45_001); // 45 s after the PINGREQ
    const gone = await iot.trace.waitFor({ event: 'disconnect', clientId: 'timed' });
    expect(gone.reason).toBe('MQTT_KEEP_ALIVE_TIMEOUT');
  });

  test('a value that is not a clock is refused, naming the option', async () => {
    await expect(endpoint({ clock: { now: () => 0 } as never })).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('options.clock') });
  });
});
