import { client, endpoint, raw } from '../helpers';

describe("clock: 'virtual'", () => {
  test('keep-alive timeouts wait for advance()', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const r = await raw(iot);
    await r.connect('sleepy', { keepalive: 60 });
    const start = iot.clock.now();
    iot.clock.advance(89_999); // 1.5 × 60 s, less one ms
    expect(iot.trace.find({ event: 'disconnect' })).toBeUndefined();
    iot.clock.advance(1);
    const gone = await iot.trace.waitFor({ event: 'disconnect', clientId: 'sleepy', reason: 'MQTT_KEEP_ALIVE_TIMEOUT' });
    expect(gone.at - start).toBe(90_000);
    await r.closed;
  });

  test('persistent sessions expire after an hour of virtual time', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const c = await client(iot, 'p', { clean: false });
    await c.subscribeAsync('x', { qos: 1 });
    await c.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'p' });
    iot.clock.advance(3_599_999);
    expect(iot.trace.find({ event: 'session-ended' })).toBeUndefined();
    iot.clock.advance(1);
    expect(iot.trace.find({ event: 'session-ended', clientId: 'p', reason: 'expired' })).toBeDefined();
  });

  test('trace timestamps follow the virtual clock; waitFor timeouts stay real', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const t0 = iot.clock.now();
    iot.clock.advance(5000);
    iot.publish('t', 'x');
    expect(iot.trace.entries.at(-1)!.at).toBe(t0 + 5000);
    await expect(iot.trace.waitFor({ event: 'connect' }, { timeoutMs: 20 })).rejects.toMatchObject({ code: 'TRACE_TIMEOUT' });
  });

  test('advance() checks its argument', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    expect(() => iot.clock.advance(-1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(iot.clock.mode).toBe('virtual');
  });
});
