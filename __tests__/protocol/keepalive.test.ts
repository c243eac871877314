import type { TraceEntry } from '../../src';
import { client, connectPacket, endpoint, raw } from '../helpers';

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

  test('closes a connection that stays silent for 1.5 × keep-alive (MQTT_KEEP_ALIVE_TIMEOUT)', async () => {
    const iot = await endpoint({ limits: { minKeepAliveSeconds: 1 } });
    const r = await raw(iot);
    r.send(connectPacket('silent', { keepalive: 1 }));
    const connected = await iot.trace.waitFor({ event: 'connect', clientId: 'silent' });
    const gone = await iot.trace.waitFor({ event: 'disconnect', clientId: 'silent' }, { timeoutMs: 5000 });
    await r.closed;
    expect(gone).toMatchObject({ reason: 'MQTT_KEEP_ALIVE_TIMEOUT' });
    // Not before 1.5 × 1 s of silence (a little slack for timer rounding).
    expect(gone.at - connected.at).toBeGreaterThanOrEqual(1450);
  });

  test('a client that pings keeps its connection', async () => {
    const iot = await endpoint({ limits: { minKeepAliveSeconds: 1 } });
    await client(iot, 'pinger', { keepalive: 1 });
    let pings = 0;
    await iot.trace.waitFor((e: TraceEntry) => e.kind === 'packet' && e.direction === 'out' && e.packet.cmd === 'pingresp' && ++pings === 3, { timeoutMs: 6000 });
    expect(iot.trace.filter({ event: 'disconnect' })).toEqual([]);
    expect(iot.clients().map((c) => c.clientId)).toEqual(['pinger']);
  });
});
