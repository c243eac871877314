import { type FakeIotError, type TraceEntry, startFakeIot } from '../../src';
import { client, endpoint } from '../helpers';

describe('iot.trace', () => {
  test('waitFor() resolves with an entry already recorded, or with the next one that matches', async () => {
    const iot = await endpoint();
    const c = await client(iot, 'dev-1');
    const past = await iot.trace.waitFor({ direction: 'in', clientId: 'dev-1', packet: { cmd: 'connect' } });
    expect(past.seq).toBe(1);
    const future = iot.trace.waitFor({ direction: 'in', packet: { cmd: 'publish', topic: 'state/dev-1', payload: /"on":true/ } });
    c.publish('state/dev-1', JSON.stringify({ on: true }));
    await expect(future).resolves.toMatchObject({ kind: 'packet', clientId: 'dev-1', connectionId: 1 });
  });

  test('patterns match deeply and partially; predicates, RegExps and payload strings work', async () => {
    const iot = await endpoint();
    const c = await client(iot, 'dev-2');
    await c.subscribeAsync(['x/1', 'x/2'], { qos: 1 });
    expect(iot.trace.filter({ packet: { cmd: 'subscribe', subscriptions: [{ topic: 'x/1' }, { topic: /^x\// }] } })).toHaveLength(1);
    expect(iot.trace.filter({ packet: { cmd: 'subscribe', subscriptions: [{ topic: 'x/1' }] } })).toHaveLength(0); // arrays match whole
    expect(iot.trace.filter({ clientId: (id: string | undefined) => id?.startsWith('dev-') === true, direction: 'out' }).length).toBeGreaterThan(1);
    expect(iot.trace.find((e: TraceEntry) => e.kind === 'event' && e.event === 'connect')).toMatchObject({ clientId: 'dev-2' });
  });

  test('a timeout rejects with TRACE_TIMEOUT, the pattern, the seed and the end of the trace', async () => {
    const iot = await endpoint({ seed: 1234 });
    await client(iot, 'dev-3');
    const error = (await iot.trace.waitFor({ direction: 'in', packet: { cmd: 'publish', topic: 'never' } }, { timeoutMs: 50 }).catch((e: unknown) => e)) as FakeIotError;
    expect(error.code).toBe('TRACE_TIMEOUT');
    expect(error.message).toContain('no trace entry matched within 50 ms');
    expect(error.message).toContain('"topic":"never"');
    expect(error.message).toContain('seed 1234');
    expect(error.message).toMatch(/#1 .* in {2}CONNECT clientId="dev-3"/);
  });

  test('format() prints one readable line per entry', async () => {
    const iot = await endpoint();
    const c = await client(iot, 'dev-4');
    await c.publishAsync('t', 'hi', { qos: 1 });
    const text = iot.trace.format();
    expect(text).toMatch(/in {2}PUBLISH t q1 id=\d+ "hi" \(2 B\)/);
    expect(text).toMatch(/out PUBACK id=\d+/);
    expect(text).toMatch(/\*\*\* connect clean=1 sessionPresent=0 keepAlive=60s/);
  });

  test('toJSON() gives plain JSON: text payloads as strings, binary as base64', async () => {
    const iot = await endpoint();
    const c = await client(iot, 'dev-5');
    await c.publishAsync('t', 'text', { qos: 1 });
    await c.publishAsync('b', Buffer.from([0xff, 0x00, 0xfe]), { qos: 1 });
    const json = JSON.parse(JSON.stringify(iot.trace)) as { packet?: { topic?: string; payload?: unknown } }[];
    expect(json.find((e) => e.packet?.topic === 't')?.packet?.payload).toBe('text');
    expect(json.find((e) => e.packet?.topic === 'b')?.packet?.payload).toEqual({ base64: Buffer.from([0xff, 0x00, 0xfe]).toString('base64') });
  });

  test('clear() forgets entries; sequence numbers go on', async () => {
    const iot = await endpoint();
    const c = await client(iot, 'dev-6');
    const before = iot.trace.entries.length;
    iot.trace.clear();
    expect(iot.trace.entries).toEqual([]);
    await c.publishAsync('t', 'x', { qos: 1 });
    expect(iot.trace.entries[0]!.seq).toBe(before + 1);
  });

  test('the trace keeps the most recent maxEntries entries', async () => {
    const iot = await endpoint({ trace: { maxEntries: 5 } });
    for (let i = 0; i < 3000; i++) iot.publish(`t/${i}`, 'x');
    expect(iot.trace.entries.map((e) => e.seq)).toEqual([2996, 2997, 2998, 2999, 3000]);
  });

  test('subscribe() streams entries as they are recorded', async () => {
    const iot = await endpoint();
    const seen: string[] = [];
    const stop = iot.trace.subscribe((e) => seen.push(e.kind === 'packet' ? e.packet.cmd : e.event));
    await client(iot, 'dev-7');
    stop();
    const count = seen.length;
    iot.publish('after', 'x');
    expect(seen.slice(0, 3)).toEqual(['connect', 'connack', 'connect']);
    expect(seen).toHaveLength(count);
    expect(iot.trace.find({ event: 'publish', topic: 'after' })).toBeDefined();
  });

  test('trace: false records nothing and waitFor() says why', async () => {
    const iot = await startFakeIot({ trace: false });
    try {
      const c = await client(iot, 'dev-8');
      await c.publishAsync('t', 'x', { qos: 1 });
      expect(iot.trace.enabled).toBe(false);
      expect(iot.trace.entries).toEqual([]);
      await expect(iot.trace.waitFor({ event: 'connect' })).rejects.toMatchObject({ code: 'TRACE_DISABLED' });
    } finally {
      await iot.close();
    }
  });

  test('a predicate that throws rejects that wait with its error, and the endpoint goes on', async () => {
    const iot = await startFakeIot();
    try {
      const pending = iot.trace.waitFor((e) => {
        if (e.kind === 'packet' && e.packet.cmd === 'connect') throw new Error('predicate bug');
        return false;
      });
      const rejected = expect(pending).rejects.toThrow('predicate bug');
      const c = await client(iot, 'dev-9');
      await rejected;
      await c.publishAsync('t', 'still served', { qos: 1 });
      await iot.trace.waitFor({ direction: 'in', clientId: 'dev-9', packet: { cmd: 'publish', payload: 'still served' } });
    } finally {
      await iot.close();
    }
  });

  test('options.signal gives a wait up: it rejects with the reason, and a later entry does not revive it', async () => {
    const iot = await endpoint();
    const controller = new AbortController();
    const wait = iot.trace.waitFor({ event: 'connect', clientId: 'late' }, { timeoutMs: 60_000, signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(wait).rejects.toThrow('gave up');
    await expect(iot.trace.waitFor({ event: 'connect' }, { signal: controller.signal })).rejects.toThrow('gave up');
    await client(iot, 'late');
    // An entry already recorded wins over an aborted signal, as it would over a timeout of 0.
    await expect(iot.trace.waitFor({ event: 'connect', clientId: 'late' }, { signal: controller.signal })).resolves.toMatchObject({ clientId: 'late' });
    await expect(iot.trace.waitFor({ event: 'connect' }, { signal: 'no' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('options.signal') });
  });
});
