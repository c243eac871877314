import type { ChaosDecision, ChaosOptions, FakeIot } from '../../src';
import { client, endpoint, raw } from '../helpers';
import { deliveries } from './helpers';

/**
 * A fixed scenario: dev-1 subscribes at QoS 0 and 1 and gets 200 messages from the cloud side. On a virtual
 * clock, held packets and re-sends go out only when the scenario moves time, in an order that does not
 * depend on how the real network interleaves them with the client's acknowledgements.
 */
async function scenario(iot: FakeIot, extraTraffic = false): Promise<void> {
  const virtual = iot.clock.mode === 'virtual';
  const dev = await client(iot, 'dev-1');
  const subscribed = dev.subscribeAsync({ 'cmd/dev-1/0': { qos: 0 }, 'cmd/dev-1/1': { qos: 1 } });
  if (virtual) {
    await iot.trace.waitFor({ direction: 'in', clientId: 'dev-1', packet: { cmd: 'subscribe' } });
    iot.clock.advance(20); // the SUBACK may be held (≤ 10 ms); subscriptionDelay is at most 20 ms
  }
  await subscribed;
  await iot.trace.waitFor(() => iot.trace.filter({ event: 'subscription-active', clientId: 'dev-1' }).length === 2);
  let other;
  if (extraTraffic) {
    other = await client(iot, 'dev-2');
    const also = other.subscribeAsync('cmd/dev-2/#', { qos: 0 });
    if (virtual) {
      await iot.trace.waitFor({ direction: 'in', clientId: 'dev-2', packet: { cmd: 'subscribe' } });
      iot.clock.advance(20);
    }
    await also;
    await iot.trace.waitFor({ event: 'subscription-active', clientId: 'dev-2' });
  }
  for (let i = 0; i < 100; i++) {
    iot.publish('cmd/dev-1/0', `a${i}`, { qos: 0 });
    if (extraTraffic) for (let j = 0; j < 3; j++) iot.publish('cmd/dev-2/x', `noise${i}-${j}`, { qos: 0 });
    iot.publish('cmd/dev-1/1', `b${i}`, { qos: 1 });
  }
  if (virtual) iot.clock.advance(100); // holds (≤ 10 ms), re-sends (≤ 5 ms) and the holds of re-sends
  // Settled: every original went out, and every re-send that chaos scheduled.
  const originals = () => deliveries(iot, 'dev-1').filter((e) => !e.chaos || e.chaos.fault === 'reorder').length;
  await iot.trace.waitFor(() => originals() === 200, { timeoutMs: 5000 });
  const resends = iot.chaos.log().filter((d) => d.clientId === 'dev-1' && d.fault === 'resendWithNewPacketId').length;
  await iot.trace.waitFor(() => deliveries(iot, 'dev-1').filter((e) => e.chaos?.fault === 'resendWithNewPacketId').length === resends, { timeoutMs: 5000 });
}

/**
 * The scenario sends 200 messages to dev-1 at once; AWS's 100 PUBLISH/s per connection would discard the
 * excess. These tests are about chaos decisions, so the rate limits are lifted.
 */
const BURST = { throttles: false } as const;

const chaos: ChaosOptions = {
  duplicateQos0: { probability: 0.2, maxCopies: 2 },
  resendWithNewPacketId: { probability: 0.1, maxDelayMs: 5 },
  subscriptionDelay: { minMs: 0, maxMs: 20 },
  reorder: { probability: 0.3, maxHoldMs: 10 },
};
const forClient = (log: ChaosDecision[], id: string) => log.filter((d) => d.clientId === id);

describe('reproducible', () => {
  test('the same seed and the same traffic give the same decision log', async () => {
    const a = await endpoint({ seed: 1234, chaos, clock: 'virtual', ...BURST });
    await scenario(a);
    const b = await endpoint({ seed: 1234, chaos, clock: 'virtual', ...BURST });
    await scenario(b);
    expect(a.chaos.log().length).toBeGreaterThan(40);
    expect(b.chaos.log()).toEqual(a.chaos.log());
  });

  test('a different seed gives different decisions', async () => {
    const a = await endpoint({ seed: 1, chaos, clock: 'virtual', ...BURST });
    await scenario(a);
    const b = await endpoint({ seed: 2, chaos, clock: 'virtual', ...BURST });
    await scenario(b);
    expect(b.chaos.log()).not.toEqual(a.chaos.log());
  });

  test("extra traffic from a second client does not change the first client's decisions", async () => {
    const quiet = await endpoint({ seed: 77, chaos, clock: 'virtual', ...BURST });
    await scenario(quiet);
    const busy = await endpoint({ seed: 77, chaos, clock: 'virtual', ...BURST });
    await scenario(busy, true);
    expect(forClient(busy.chaos.log(), 'dev-2').length).toBeGreaterThan(10);
    expect(forClient(busy.chaos.log(), 'dev-1')).toEqual(forClient(quiet.chaos.log(), 'dev-1'));
  });
});

describe('scripts force one fault at a precise place', () => {
  test.each([
    ['duplicateQos0', 'cmd/dev-1/0', 0, 'a4'],
    ['resendWithNewPacketId', 'cmd/dev-1/1', 1, 'b4'],
    ['reorder', 'cmd/dev-1/1', 1, 'b4'],
  ] as const)('%s at the 5th matching delivery, exactly once', async (fault, topic, _qos, payload) => {
    const iot = await endpoint({ seed: 8, chaos: { script: [{ fault, client: 'dev-1', topic, nth: 5 }] }, ...BURST });
    await scenario(iot);
    await iot.trace.waitFor({ direction: 'out', chaos: { fault } });
    const log = iot.chaos.log();
    expect(log).toEqual([expect.objectContaining({ fault, clientId: 'dev-1', topic, source: 'script' })]);
    const tagged = deliveries(iot, 'dev-1').filter((e) => e.chaos?.fault === fault);
    expect(tagged).toHaveLength(1);
    expect((tagged[0]!.packet.payload as Buffer).toString()).toBe(payload);
  });

  test('subscriptionDelay on the 2nd subscription only', async () => {
    const iot = await endpoint({ seed: 8, clock: 'virtual', chaos: { script: [{ fault: 'subscriptionDelay', client: 'dev-1', nth: 2, delayMs: 500 }] } });
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync(['first', 'second', 'third'], { qos: 0 });
    expect(iot.trace.filter({ event: 'subscription-active' }).map((e) => [e.topic, e.delayedMs])).toEqual([['first', 0], ['third', 0]]);
    iot.clock.advance(500);
    expect(iot.trace.filter({ event: 'subscription-active' }).map((e) => [e.topic, e.delayedMs])).toEqual([['first', 0], ['third', 0], ['second', 500]]);
  });

  test.each([
    ['dropConnection', 'SERVER_INITIATED_DISCONNECT'],
    ['takeover', 'DUPLICATE_CLIENTID'],
  ] as const)('%s after the 4th packet from the client', async (fault, reason) => {
    const iot = await endpoint({ seed: 8, chaos: { script: [{ fault, client: 'dev-1', nth: 4 }] } });
    const r = await raw(iot);
    await r.connect('dev-1');
    for (let i = 1; i <= 6; i++) r.send({ cmd: 'publish', topic: 't', payload: String(i), qos: 0, dup: false, retain: false });
    await r.closed;
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1', reason, chaos: { fault, decision: 0 } });
    expect(iot.trace.filter({ direction: 'in', packet: { cmd: 'publish' } })).toHaveLength(4);
  });

  test('toScript() replays the same faults at the same places, whatever the seed', async () => {
    const original = await endpoint({ seed: 99, chaos, clock: 'virtual', ...BURST });
    await scenario(original);
    const script = original.chaos.toScript();
    expect(script.length).toBeGreaterThan(20);
    const replay = await endpoint({ seed: 5, chaos: { script }, clock: 'virtual', ...BURST });
    await scenario(replay);
    const strip = (log: ChaosDecision[]) => log.map(({ source: _s, ...rest }) => rest);
    expect(strip(replay.chaos.log())).toEqual(strip(original.chaos.log()));
    expect(replay.chaos.log().every((d) => d.source === 'script')).toBe(true);
  });
});

describe('scope and control at run time', () => {
  test('topics and clients limit a knob', async () => {
    const iot = await endpoint({ seed: 3, chaos: { duplicateQos0: { probability: 1, topics: ['hot/#'], clients: [/^dev-/] } } });
    const dev = await client(iot, 'dev-1');
    const other = await client(iot, 'gateway');
    await dev.subscribeAsync('#', { qos: 0 });
    await other.subscribeAsync('#', { qos: 0 });
    iot.publish('hot/a', 'x');
    iot.publish('cold/a', 'y');
    await dev.receivedCount(3);
    expect(iot.chaos.log().map((d) => [d.clientId, d.topic])).toEqual([['dev-1', 'hot/a']]);
  });

  test('set() replaces the knobs, pause() stops faults, resume() brings them back', async () => {
    const iot = await endpoint({ seed: 3 });
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync('t', { qos: 0 });
    iot.publish('t', 'no chaos yet');
    iot.chaos.set({ duplicateQos0: { probability: 1 } });
    iot.publish('t', 'doubled');
    iot.chaos.pause();
    expect(iot.chaos.paused).toBe(true);
    iot.publish('t', 'paused');
    iot.chaos.resume();
    iot.publish('t', 'doubled again');
    iot.chaos.set({});
    iot.publish('t', 'off');
    await dev.receivedCount(7);
    expect(dev.received.map((m) => m.payload)).toEqual(['no chaos yet', 'doubled', 'doubled', 'paused', 'doubled again', 'doubled again', 'off']);
  });

  test('set() validates like the option does', async () => {
    const iot = await endpoint();
    expect(() => iot.chaos.set({ reorder: { probability: 2, maxHoldMs: 5 } })).toThrow(/\[fake-aws-iot\] iot\.chaos\.set\(options\)\.reorder\.probability must be a number from 0 to 1 \(got 2\)/);
  });

  test('without chaos options there is no chaos state and the log is empty', async () => {
    const iot = await endpoint();
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync('t', { qos: 0 });
    iot.publish('t', 'x');
    await dev.receivedCount(1);
    expect(iot.chaos.log()).toEqual([]);
    expect(iot.chaos.toScript()).toEqual([]);
    expect(iot.trace.entries.some((e) => 'chaos' in e)).toBe(false);
  });
});

describe('chaos options are validated', () => {
  test.each([
    [{ duplicateQos0: { probability: 1.5 } }, /options\.chaos\.duplicateQos0\.probability must be a number from 0 to 1 \(got 1\.5\)/],
    [{ duplicateQos0: { probability: -0.1 } }, /probability must be a number from 0 to 1/],
    [{ duplicateQos0: { probability: 0.5, maxCopies: 0 } }, /maxCopies must be a whole number >= 1/],
    [{ subscriptionDelay: { minMs: 500, maxMs: 100 } }, /options\.chaos\.subscriptionDelay\.minMs \(500\) must not exceed options\.chaos\.subscriptionDelay\.maxMs \(100\)/],
    [{ resendWithNewPacketId: { probability: 0.1, minDelayMs: 50, maxDelayMs: 10 } }, /minDelayMs \(50\) must not exceed/],
    [{ reorder: { probability: 0.1 } }, /options\.chaos\.reorder\.maxHoldMs must be a number of milliseconds/],
    [{ latency: { ms: 5, maxMs: 10 } }, /either ms \(fixed\) or minMs and maxMs/],
    [{ dropConnection: {} }, /needs probability \(per packet\) or afterPackets/],
    [{ duplicateQos0: { probability: 0.1, topics: ['a/#/b'] } }, /topics has an invalid topic filter "a\/#\/b"/],
    [{ duplicateQos0: { probability: 0.1, clients: [42] } }, /clients must be a non-empty array of client ids or RegExps/],
    [{ duplicateQos: { probability: 0.1 } }, /unknown option options\.chaos\.duplicateQos\. Did you mean "duplicateQos0"\?/],
    [{ script: [{ fault: 'explode', nth: 1 }] }, /options\.chaos\.script\[0\]\.fault must be one of "duplicateQos0", .* \(got "explode"\)/],
    [{ script: [{ fault: 'reorder', nth: 0 }] }, /options\.chaos\.script\[0\]\.nth must be a whole number >= 1/],
    [{ script: [{ fault: 'latency', nth: 1 }] }, /fault must be one of/],
    [{ script: 'reorder' }, /options\.chaos\.script must be an array of steps/],
  ])('%j is refused', async (chaosOptions, message) => {
    await expect(endpoint({ chaos: chaosOptions as never })).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringMatching(message) });
  });

  test('clock must be real or virtual; advance() needs the virtual one', async () => {
    await expect(endpoint({ clock: 'fast' as never })).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringMatching(/options\.clock must be "real", "virtual" or a Clock object/) });
    const iot = await endpoint();
    expect(() => iot.clock.advance(10)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/clock: 'virtual'/) }));
  });
});
