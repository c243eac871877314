import { startFakeIot } from '../../src';
import { client, closeUnderClient, endpoint, expectReleased, resources, settledResources } from '../helpers';
import mqtt from 'mqtt';

describe('endpoints as resources', () => {
  test('two endpoints in one process are independent', async () => {
    const a = await endpoint({ seed: 1 });
    const b = await endpoint({ seed: 2 });
    const onA = await client(a, 'same-id');
    const onB = await client(b, 'same-id'); // no takeover across endpoints
    await onA.subscribeAsync('t', { qos: 1 });
    await onB.subscribeAsync('t', { qos: 1 });
    a.publish('t', 'for A', { qos: 1 });
    await a.trace.waitFor({ direction: 'in', clientId: 'same-id', packet: { cmd: 'puback' } });
    expect(onA.received.map((m) => m.payload)).toEqual(['for A']);
    expect(onB.received).toEqual([]);
    expect(b.trace.filter({ event: 'disconnect' })).toEqual([]);
    await a.close();
    b.publish('t', 'for B', { qos: 1 });
    await b.trace.waitFor({ direction: 'in', clientId: 'same-id', packet: { cmd: 'puback' } });
    expect(onB.received.map((m) => m.payload)).toEqual(['for B']);
  });

  test('opening and closing 200 endpoints (each with a client and a message) leaves no socket, server or timer behind', async () => {
    const before = resources();
    let opened: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const iot = await startFakeIot({ limits: { sessionExpirySeconds: 3600 } });
      const c = await mqtt.connectAsync(iot.url, { clientId: `dev-${i}`, clean: false, reconnectPeriod: 0 });
      await c.subscribeAsync('t', { qos: 1 });
      await c.publishAsync('t', 'x', { qos: 1 });
      if (i === 0) opened = resources();
      await closeUnderClient(iot, c);
    }
    const after = await settledResources(before);
    expectReleased(before, opened, after, 1);
  });

  test('await using closes the endpoint at the end of the block', async () => {
    let port = 0;
    {
      await using iot = await startFakeIot();
      port = iot.port;
      await client(iot, 'scoped');
    }
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 1000 });
    const error = await new Promise<Error>((resolve) => c.once('error', resolve));
    c.end(true);
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });
});
