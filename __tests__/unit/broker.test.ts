import { classicProfile } from '../../src';
import { Broker, type ClientLink } from '../../src/broker/broker';
import { realClock } from '../../src/clock/clock';
import type { Message } from '../../src/session/session';
import { TraceRecorder } from '../../src/trace/recorder';

/** A client link that records what the broker sends it. */
function link(clientId: string, connectionId: number) {
  const sent: [Message, number | undefined][] = [];
  const l: ClientLink & { sent: typeof sent; closedWith?: string } = {
    clientId,
    connectionId,
    remoteAddress: '127.0.0.1',
    bufferedBytes: 0,
    mayDeliver: () => true,
    canDeliver: () => true,
    sent,
    sendPublish: (m, id) => void sent.push([m, id]),
    close(reason) {
      l.closedWith = reason;
      broker.detach(l, reason);
    },
  };
  return l;
}

let broker: Broker;
function start(maxClientHistory?: number) {
  const trace = new TraceRecorder(true, 1000, realClock, realClock, 1);
  broker = new Broker(classicProfile, realClock, trace, 1, maxClientHistory);
  return trace;
}

function connectOnce(clientId: string, n: number) {
  const l = link(clientId, n);
  broker.attach(l, { clientId, cleanSession: true, will: undefined });
  broker.ready(l);
  broker.detach(l, 'CLIENT_INITIATED_DISCONNECT');
}

const versions = (trace: TraceRecorder, clientId: string) =>
  trace.filter({ event: 'publish', origin: 'lifecycle', topic: `$aws/events/presence/connected/${clientId}` }).map((e) => JSON.parse(String(e.payload)).versionNumber);

describe('Broker', () => {
  test('per-client history is bounded: a client forgotten under the cap starts again at versionNumber 0', () => {
    const trace = start(2);
    connectOnce('a', 1);
    connectOnce('a', 2);
    connectOnce('b', 3);
    connectOnce('c', 4); // a is now the least recently seen of three: forgotten
    connectOnce('a', 5);
    expect(versions(trace, 'a')).toEqual([0, 1, 0]);
  });

  test('without the cap reached, versionNumber keeps counting', () => {
    const trace = start();
    for (let i = 0; i < 3; i++) connectOnce('a', i);
    expect(versions(trace, 'a')).toEqual([0, 1, 2]);
  });

  test('takeover: attaching a client id that is online closes the older link first, with DUPLICATE_CLIENTID', () => {
    start();
    const first = link('dup', 1);
    broker.attach(first, { clientId: 'dup', cleanSession: true, will: { topic: 'w', payload: Buffer.from('bye'), qos: 0 } });
    broker.ready(first);
    const second = link('dup', 2);
    broker.attach(second, { clientId: 'dup', cleanSession: true, will: undefined });
    broker.ready(second);
    expect(first.closedWith).toBe('DUPLICATE_CLIENTID');
    expect(broker.clients().map((c) => c.connectionId)).toEqual([2]);
    // Commands from the link that lost its client id are ignored.
    expect(broker.subscribe(first, [{ filter: 'x', qos: 0 }])).toEqual([]);
  });
});
