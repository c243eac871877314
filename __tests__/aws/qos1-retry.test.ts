/**
 * AWS: a QoS 1 message to a connected client that does not acknowledge it is retried for up to an hour,
 * then dropped — so a client that missed one PUBACK does not block its in-flight window for good.
 */
import { endpoint, raw } from '../helpers';

async function silentSubscriber(iot: Awaited<ReturnType<typeof endpoint>>, clientId: string) {
  const c = await raw(iot);
  await c.connect(clientId, { keepalive: 1200 });
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'jobs', qos: 1 }] });
  await c.next('suback');
  return c;
}

describe('QoS 1 redelivery to a connected client', () => {
  test('an unacknowledged message is sent again after qos1RetryIntervalSeconds, with the same packet id and no DUP', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const c = await silentSubscriber(iot, 'deaf');
    iot.publish('jobs', 'job-1', { qos: 1 });
    const first = await iot.trace.waitFor({ direction: 'out', clientId: 'deaf', packet: { cmd: 'publish' } });
    iot.clock.advance(19_999);
    c.send({ cmd: 'pingreq' });
    await iot.trace.waitFor({ direction: 'out', clientId: 'deaf', packet: { cmd: 'pingresp' } });
    expect(iot.trace.filter({ direction: 'out', clientId: 'deaf', packet: { cmd: 'publish' } })).toHaveLength(1);
    iot.clock.advance(1);
    const publishes = await c.count('publish', 2);
    expect(publishes[1]).toMatchObject({ messageId: (first.packet as { messageId: number }).messageId, dup: false, topic: 'jobs' });
    // Once acknowledged, nothing more comes.
    c.send({ cmd: 'puback', messageId: publishes[1]!.messageId! });
    await iot.trace.waitFor({ direction: 'in', clientId: 'deaf', packet: { cmd: 'puback' } });
    iot.clock.advance(60_000);
    c.send({ cmd: 'pingreq' });
    await c.count('pingresp', 2);
    expect(c.received.filter((p) => p.cmd === 'publish')).toHaveLength(2);
  });

  test('after qos1RetryWindowSeconds the message is dropped and its in-flight slot goes to what waited', async () => {
    const iot = await endpoint({ clock: 'virtual', limits: { maxInflightMessages: 1 } });
    const c = await silentSubscriber(iot, 'deaf');
    iot.publish('jobs', 'job-1', { qos: 1 });
    iot.publish('jobs', 'job-2', { qos: 1 }); // waits: the window of 1 is taken
    await iot.trace.waitFor({ direction: 'out', clientId: 'deaf', packet: { cmd: 'publish', payload: 'job-1' } });
    expect(iot.clients()[0]).toMatchObject({ inflight: 1, queued: 1 });
    for (let i = 1; i <= 6; i++) {
      iot.clock.advance(600_000);
      c.send({ cmd: 'pingreq' }); // stays connected: keep-alive is 1200 s
      await c.count('pingresp', i);
    }
    const dropped = await iot.trace.waitFor({ event: 'dropped', clientId: 'deaf' });
    expect(dropped).toMatchObject({ reason: 'retry-expired', topic: 'jobs' });
    await iot.trace.waitFor({ direction: 'out', clientId: 'deaf', packet: { cmd: 'publish', payload: 'job-2' } });
    expect(iot.clients()[0]).toMatchObject({ inflight: 1, queued: 0 });
  });
});

describe('QoS 1 retries and chaos', () => {
  test('a retried or resumed message is a repeat, not a new delivery: chaos does not copy it again', async () => {
    const iot = await endpoint({ seed: 4, clock: 'virtual', chaos: { resendWithNewPacketId: { probability: 1, minDelayMs: 0, maxDelayMs: 0 } } });
    const c = await silentSubscriber(iot, 'deaf');
    iot.publish('jobs', 'job-1', { qos: 1 });
    iot.clock.advance(0); // chaos's copy goes out on the endpoint's clock
    await c.count('publish', 2); // the original and chaos's copy
    iot.clock.advance(20_000); // both unacknowledged: the original is retried (the copy is chaos's own)
    await c.count('publish', 3);
    c.send({ cmd: 'pingreq' });
    await c.next('pingresp');
    expect(iot.chaos.log().filter((d) => d.fault === 'resendWithNewPacketId')).toHaveLength(1);
    expect(c.received.filter((p) => p.cmd === 'publish')).toHaveLength(3);
  });
});
