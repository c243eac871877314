import { connectPacket, endpoint, raw } from '../helpers';

describe('keep-alive', () => {
  test.each([
    [0, 1200],
    [5, 30],
    [29, 30],
    [30, 30],
    [600, 600],
    [1200, 1200],
    [5000, 1200],
  ])('a requested keep-alive of %i s is applied as %i s', async (requested, applied) => {
    const iot = await endpoint();
    const r = await raw(iot);
    r.send(connectPacket(`ka-${requested}`, { keepalive: requested }));
    const e = await iot.trace.waitFor({ event: 'connect', clientId: `ka-${requested}` });
    expect(e).toMatchObject({ requestedKeepAliveSeconds: requested, keepAliveSeconds: applied });
  });

  test('closes a connection that stays silent for 1.5 × keep-alive (MQTT_KEEP_ALIVE_TIMEOUT), not earlier', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const r = await raw(iot);
    await r.connect('silent', { keepalive: 30 });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ka/silent', qos: 0 }] });
    await r.next('suback'); // the client's last packet: 45 s of silence start now (virtual time has not moved)
    const connected = await iot.trace.waitFor({ event: 'connect', clientId: 'silent' });

    iot.clock.advance(44_999);
    // advance() runs due timers before it returns; a message sent now still reaches the client.
    expect(iot.trace.find({ event: 'disconnect', clientId: 'silent' })).toBeUndefined();
    iot.publish('ka/silent', 'still here');
    expect(await r.next('publish')).toMatchObject({ topic: 'ka/silent' });

    iot.clock.advance(1);
    const gone = await iot.trace.waitFor({ event: 'disconnect', clientId: 'silent' });
    expect(gone).toMatchObject({ reason: 'MQTT_KEEP_ALIVE_TIMEOUT' });
    expect(gone.at - connected.at).toBe(45_000);
    await r.closed;
  });

  test('a client that pings keeps its connection', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const r = await raw(iot);
    await r.connect('pinger', { keepalive: 30 });
    // Three pings 40 s apart: 120 s in all, far past 45 s, but never 45 s of silence.
    for (let n = 1; n <= 3; n++) {
      iot.clock.advance(40_000);
      expect(iot.trace.filter({ event: 'disconnect' })).toEqual([]);
      r.send({ cmd: 'pingreq' });
      await r.count('pingresp', n);
    }
    iot.clock.advance(40_000);
    expect(iot.trace.filter({ event: 'disconnect' })).toEqual([]);
    expect(iot.clients().map((c) => c.clientId)).toEqual(['pinger']);
    // Silence after the last ping still ends it, 45 s after that ping.
    iot.clock.advance(5_000);
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'pinger', reason: 'MQTT_KEEP_ALIVE_TIMEOUT' });
  });
});
