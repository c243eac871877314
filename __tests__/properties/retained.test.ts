/**
 * Property: for random sequences of publishes (retained or not, empty or not, QoS 0/1) and subscriptions,
 * what a subscriber receives because it subscribed equals AWS's retained rule (aws-iot-behaviour.md §1.7)
 * applied to a model store: one message per topic, an empty payload deletes, a full store (here 2
 * messages) refuses new topics, and only an exact-topic filter gets the topic's message, with RETAIN set,
 * at the lower of the stored and granted QoS. Real endpoint, raw MQTT 3.1.1 clients over TCP.
 */
import fc from 'fast-check';
import { endpoint, raw } from '../helpers';
import { pingRoundTrip } from '../sync';

const TOPICS = ['a', 'a/b', 'c'];
const FILTERS = ['a', 'a/b', 'c', 'a/+', 'a/#', '+', '#', '$share/g/a'];
const MAX_RETAINED = 2;

type Command =
  | { kind: 'publish'; topic: string; payload: string; retain: boolean; qos: 0 | 1 }
  | { kind: 'subscribe'; filter: string; qos: 0 | 1 };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    kind: fc.constant('publish' as const),
    topic: fc.constantFrom(...TOPICS),
    payload: fc.constantFrom('', 'x', 'yy', 'zzz'),
    retain: fc.boolean(),
    qos: fc.constantFrom(0 as const, 1 as const),
  }),
  fc.record({ kind: fc.constant('subscribe' as const), filter: fc.constantFrom(...FILTERS), qos: fc.constantFrom(0 as const, 1 as const) }),
);

/** AWS's rule on the model: what a SUBSCRIBE to `filter` at `granted` gets from `store`. */
function expectedOnSubscribe(store: Map<string, { payload: string; qos: 0 | 1 }>, filter: string, granted: 0 | 1) {
  if (filter.startsWith('$share/') || filter.includes('+') || filter.includes('#')) return [];
  const stored = store.get(filter);
  return stored ? [{ topic: filter, payload: stored.payload, qos: Math.min(stored.qos, granted), retain: true }] : [];
}

function applyRetain(store: Map<string, { payload: string; qos: 0 | 1 }>, c: Extract<Command, { kind: 'publish' }>): void {
  if (!c.retain) return;
  if (c.payload === '') store.delete(c.topic);
  else if (store.has(c.topic) || store.size < MAX_RETAINED) store.set(c.topic, { payload: c.payload, qos: c.qos });
  // else: the store is full, the publish is throttled (not stored).
}

test('a subscriber gets, on SUBSCRIBE, exactly what AWS\'s retained rule gives on the model store', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 14 }), async (commands) => {
      // The property is about the retained rule, not the rate limits: a run publishes faster than AWS's 100 PUBLISH/s.
      const iot = await endpoint({ profile: 'current', throttles: false, limits: { maxRetainedMessages: MAX_RETAINED } });
      try {
        const pub = await raw(iot);
        await pub.connect('pub');
        const sub = await raw(iot);
        await sub.connect('sub');
        const store = new Map<string, { payload: string; qos: 0 | 1 }>();
        let id = 1;
        for (const c of commands) {
          if (c.kind === 'publish') {
            pub.send({ cmd: 'publish', topic: c.topic, payload: c.payload, qos: c.qos, retain: c.retain, dup: false, ...(c.qos === 1 ? { messageId: id++ } : {}) });
            await pingRoundTrip(iot, 'pub', pub); // the broker handled the PUBLISH before this PINGREQ
            applyRetain(store, c);
          } else {
            const before = sub.received.length;
            sub.send({ cmd: 'subscribe', messageId: id++, subscriptions: [{ topic: c.filter, qos: c.qos }] });
            await pingRoundTrip(iot, 'sub', sub); // everything the SUBSCRIBE caused came before the PINGRESP
            const got = sub.received
              .slice(before)
              .flatMap((p) => (p.cmd === 'publish' && p.retain ? [{ topic: p.topic, payload: p.payload.toString(), qos: p.qos, retain: true }] : []));
            expect(got).toEqual(expectedOnSubscribe(store, c.filter, c.qos));
          }
        }
        // And the host API agrees with the model.
        expect(iot.retained.list().map((m) => [m.topic, m.payloadSize, m.qos])).toEqual(
          [...store].sort(([a], [b]) => (a < b ? -1 : 1)).map(([topic, m]) => [topic, m.payload.length, m.qos]),
        );
        // A live forward never carries RETAIN.
        expect(sub.received.filter((p) => p.cmd === 'publish' && p.retain).length).toBe(
          iot.trace.filter({ direction: 'out', clientId: 'sub', packet: { cmd: 'publish', retain: true } }).length,
        );
      } finally {
        await iot.close();
      }
    }),
    { numRuns: 40 },
  );
}, 60_000);
