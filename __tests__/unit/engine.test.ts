/**
 * The chaos engine on its own: a fixed sequence of events at a fixed seed gives a pinned decision log,
 * and the log, the script and the per-client counts behave at their limits.
 */
import type { Packet } from '../../src/codec/codec';
import { type ConnectionChaos, ChaosEngine, type ChaosEngineLimits } from '../../src/chaos/engine';
import { resolveChaos } from '../../src/chaos/options';
import type { ChaosDecision, ChaosOptions } from '../../src/chaos/types';

const engine = (options: ChaosOptions, seed = 2024, limits?: ChaosEngineLimits) => new ChaosEngine(resolveChaos(options, 'chaos'), seed, limits);
const publish = (topic: string): Packet => ({ cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 0, dup: false, retain: false });
const puback = (messageId: number): Packet => ({ cmd: 'puback', messageId });

const KNOBS: ChaosOptions = {
  duplicateQos0: { probability: 0.4, maxCopies: 3 },
  resendWithNewPacketId: { probability: 0.3, minDelayMs: 5, maxDelayMs: 50 },
  subscriptionDelay: { minMs: 0, maxMs: 100 },
  reorder: { probability: 0.25, maxHoldMs: 20 },
  dropConnection: { probability: 0.1 },
  takeover: { probability: 0.05, afterPackets: 9 },
};

/** Two clients' traffic, always in the same order; returns the connection ids that were cut. */
function traffic(e: ChaosEngine): string[] {
  const cut: string[] = [];
  const a = e.attach('dev-1', 1);
  const b = e.attach('dev-2', 2);
  b.subscriptionDelay('cmd/dev-2/#');
  b.subscriptionDelay('cfg/#');
  for (let i = 0; i < 10; i++) {
    a.duplicates({ topic: `t/${i}`, qos: 0 });
    a.resend({ topic: `t/${i}` });
    b.hold(i % 2 ? publish(`cmd/dev-2/${i}`) : puback(i + 1));
    for (const [name, c] of [['a', a], ['b', b]] as [string, ConnectionChaos][]) {
      const d = c.afterIncoming(publish(`up/${name}/${i}`));
      if (d) cut.push(`${name}:${i}:${d.fault}`);
    }
  }
  return cut;
}

describe('decisions at a fixed seed', () => {
  test('a fixed sequence of events gives a pinned decision log', () => {
    const e = engine(KNOBS);
    const cut = traffic(e);
    expect({ cut, log: e.log() }).toEqual(GOLDEN);
  });

  test('toScript() lists each decision as a step with its parameter', () => {
    const e = engine(KNOBS);
    traffic(e);
    expect(e.toScript()).toEqual(GOLDEN.log.map((d) => ({
      fault: d.fault, client: d.clientId, nth: d.nth,
      ...(d.copies !== undefined && { copies: d.copies }),
      ...(d.delayMs !== undefined && { delayMs: d.delayMs }),
      ...(d.holdMs !== undefined && { holdMs: d.holdMs }),
    })));
  });

  test('the script replays every decision at another seed, taken by the script', () => {
    const original = engine(KNOBS);
    traffic(original);
    const replay = engine({ script: original.toScript() }, 7);
    traffic(replay);
    const strip = (log: ChaosDecision[]) => log.map(({ source: _s, ...rest }) => rest);
    expect(strip(replay.log())).toEqual(strip(original.log()));
    expect(replay.log().every((d) => d.source === 'script')).toBe(true);
  });

  test('one client\'s traffic does not change the decisions of another', () => {
    const quiet = engine(KNOBS);
    quiet.attach('dev-1', 1);
    const q = quiet.attach('dev-2', 2);
    const busy = engine(KNOBS);
    const noisy = busy.attach('dev-1', 1);
    for (let i = 0; i < 50; i++) noisy.duplicates({ topic: 'x', qos: 0 });
    const b = busy.attach('dev-2', 2);
    const holds = (c: ConnectionChaos) => Array.from({ length: 30 }, (_, i) => c.hold(publish(`p/${i}`))?.value ?? null);
    expect(holds(b)).toEqual(holds(q));
  });
});

describe('sources', () => {
  test('a cut at afterPackets is logged as source afterPackets, a drawn one as random', () => {
    const e = engine({ dropConnection: { afterPackets: 3 }, takeover: { probability: 1 } }, 1);
    const c = e.attach('dev-1', 1);
    expect(c.afterIncoming(publish('a'))?.fault).toBe('takeover');
    const d = e.attach('dev-1', 2);
    d.afterIncoming(publish('a'));
    d.afterIncoming(publish('b'));
    e.set(resolveChaos({ dropConnection: { afterPackets: 3 } }, 'chaos'));
    expect(d.afterIncoming(publish('c'))?.fault).toBe('dropConnection');
    expect(e.log().map((x) => [x.fault, x.source])).toEqual([['takeover', 'random'], ['takeover', 'random'], ['takeover', 'random'], ['dropConnection', 'afterPackets']]);
  });
});

describe('client scopes', () => {
  test.each([/^dev-/g, /^dev-/y, /^dev-/gy])('a RegExp with flags %s matches every event of a client', (re) => {
    const e = engine({ duplicateQos0: { probability: 1, clients: [re] } });
    const c = e.attach('dev-1', 1);
    const decided = Array.from({ length: 6 }, (_, i) => c.duplicates({ topic: `t/${i}`, qos: 0 }) !== undefined);
    expect(decided).toEqual([true, true, true, true, true, true]);
  });

  test('the RegExp the user passed is left as it was', () => {
    const re = /^dev-/g;
    const e = engine({ duplicateQos0: { probability: 1, clients: [re] } });
    e.attach('dev-1', 1).duplicates({ topic: 't', qos: 0 });
    expect(re.lastIndex).toBe(0);
    expect(re.flags).toBe('g');
  });
});

describe('limits', () => {
  const always: ChaosOptions = { duplicateQos0: { probability: 1 } };
  const run = (e: ChaosEngine, n: number) => {
    const c = e.attach('dev-1', 1);
    return Array.from({ length: n }, (_, i) => c.duplicates({ topic: `t/${i}`, qos: 0 })!);
  };

  test('the log keeps the most recent maxDecisions and counts the ones dropped', () => {
    const e = engine(always, 1, { maxDecisions: 5 });
    const decided = run(e, 23);
    const log = e.log();
    expect(log.map((d) => d.topic)).toEqual(['t/18', 't/19', 't/20', 't/21', 't/22']);
    expect(e.dropped).toBe(18);
    expect(e.toScript().map((s) => s.nth)).toEqual([19, 20, 21, 22, 23]);
    // A decision's number stays its own: log()[number - dropped].
    expect(decided.map((d) => d.tag.decision)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(log[decided[20]!.tag.decision! - e.dropped]!.topic).toBe('t/20');
  });

  test('under the cap nothing is dropped and a decision\'s number is its index in the log', () => {
    const e = engine(always, 1, { maxDecisions: 5 });
    const decided = run(e, 5);
    expect(e.dropped).toBe(0);
    expect(e.log().map((d) => d.topic)).toEqual(decided.map((d) => `t/${d.tag.decision}`));
  });

  test('the log holds 10,000 decisions by default', () => {
    const e = engine(always);
    run(e, 12_345);
    expect(e.log()).toHaveLength(10_000);
    expect(e.dropped).toBe(2_345);
    expect(e.log()[0]!.topic).toBe('t/2345');
  });

  test('beyond maxClients the least recently connected client is forgotten and counts afresh', () => {
    const e = engine(always, 1, { maxClients: 2 });
    const first = e.attach('a', 1);
    first.duplicates({ topic: 't', qos: 0 });
    e.attach('b', 2);
    e.attach('a', 3); // a is now the most recent
    expect(e.forgottenClients).toBe(0);
    e.attach('c', 4); // forgets b
    expect(e.forgottenClients).toBe(1);
    const b = e.attach('b', 5); // forgets a; b starts again
    expect(e.forgottenClients).toBe(2);
    b.duplicates({ topic: 't', qos: 0 });
    first.duplicates({ topic: 't', qos: 0 }); // a live connection keeps its count
    expect(e.log().map((d) => [d.clientId, d.nth])).toEqual([['a', 1], ['b', 1], ['a', 2]]);
  });

  test('under maxClients a returning client keeps counting', () => {
    const e = engine(always, 1, { maxClients: 2 });
    e.attach('a', 1).duplicates({ topic: 't', qos: 0 });
    e.attach('b', 2);
    e.attach('a', 3).duplicates({ topic: 't', qos: 0 });
    expect(e.forgottenClients).toBe(0);
    expect(e.log().map((d) => d.nth)).toEqual([1, 2]);
  });
});

// Pinned from a run of `traffic` at seed 2024: regenerate only for a deliberate change to the streams or policies.
const GOLDEN: { cut: string[]; log: ChaosDecision[] } = {
  cut: ['a:3:dropConnection', 'b:4:dropConnection', 'a:8:takeover', 'b:8:takeover', 'b:9:dropConnection'],
  log: [
    { fault: 'subscriptionDelay', clientId: 'dev-2', connectionId: 2, nth: 1, source: 'random', topic: 'cmd/dev-2/#', delayMs: 66 },
    { fault: 'subscriptionDelay', clientId: 'dev-2', connectionId: 2, nth: 2, source: 'random', topic: 'cfg/#', delayMs: 22 },
    { fault: 'duplicateQos0', clientId: 'dev-1', connectionId: 1, nth: 1, source: 'random', topic: 't/0', cmd: 'publish', copies: 3 },
    { fault: 'resendWithNewPacketId', clientId: 'dev-1', connectionId: 1, nth: 2, source: 'random', topic: 't/1', cmd: 'publish', delayMs: 35 },
    { fault: 'reorder', clientId: 'dev-2', connectionId: 2, nth: 2, source: 'random', topic: 'cmd/dev-2/1', cmd: 'publish', holdMs: 2 },
    { fault: 'dropConnection', clientId: 'dev-1', connectionId: 1, nth: 4, source: 'random', topic: 'up/a/3', cmd: 'publish' },
    { fault: 'dropConnection', clientId: 'dev-2', connectionId: 2, nth: 5, source: 'random', topic: 'up/b/4', cmd: 'publish' },
    { fault: 'duplicateQos0', clientId: 'dev-1', connectionId: 1, nth: 7, source: 'random', topic: 't/6', cmd: 'publish', copies: 1 },
    { fault: 'takeover', clientId: 'dev-1', connectionId: 1, nth: 8, source: 'afterPackets', topic: 'up/a/8', cmd: 'publish' },
    { fault: 'takeover', clientId: 'dev-2', connectionId: 2, nth: 8, source: 'afterPackets', topic: 'up/b/8', cmd: 'publish' },
    { fault: 'dropConnection', clientId: 'dev-2', connectionId: 2, nth: 10, source: 'random', topic: 'up/b/9', cmd: 'publish' },
  ],
};
