/**
 * The testing kit with MQTT 5 clients (MQTT.js, protocolVersion 5, profile current): the jest matchers judge a
 * v5 connection's trace (and a v5 takeover's disconnect reason), chaos copies of v5 deliveries keep their
 * properties and use valid packet ids the client acknowledges, and assertClientSurvives drives a small v5
 * request/response device.
 */
import mqtt from 'mqtt';
import type { IPublishPacket } from 'mqtt-packet';
import { assertClientSurvives, chaosArbitrary } from 'fake-aws-iot/fast-check';
import type { FakeIot } from '../../src';
import { client, endpoint, failure } from '../helpers';

const v5 = (iot: FakeIot, clientId: string) => client(iot, clientId, { protocolVersion: 5 });


describe('fake-aws-iot/jest matchers with MQTT 5 clients', () => {
  test('toHaveDelivered / toHaveReceivedFrom on a v5 connection; toHaveDisconnected with the takeover reason', async () => {
    // The virtual clock lets the second CONNECT of dev-5 come "a second later" (AWS's 1 CONNECT/s per client id).
    const iot = await endpoint({ seed: 9, clock: 'virtual' });
    const dev = await v5(iot, 'dev-5');
    await dev.subscribeAsync('cmd/dev-5', { qos: 1 });
    iot.publish('cmd/dev-5', 'reboot', { qos: 1 });
    await dev.receivedCount(1);
    await dev.publishAsync('state/dev-5', '{"on":true}', { qos: 1, properties: { contentType: 'application/json' } });

    expect(iot).toHaveDelivered({ clientId: 'dev-5', topic: 'cmd/dev-5', qos: 1, payload: 'reboot', times: 1 });
    expect(iot).not.toHaveDelivered({ clientId: 'dev-5', topic: 'cmd/dev-5', qos: 0 });
    expect(iot).toHaveReceivedFrom('dev-5', { topic: 'state/dev-5', payload: /"on":true/, qos: 1, times: 1 });
    expect(iot).not.toHaveReceivedFrom('dev-5', { topic: 'cmd/dev-5' });
    expect(iot).not.toHaveDisconnected('dev-5');

    const told = new Promise<number | undefined>((resolve) => dev.once('disconnect', (packet) => resolve(packet.reasonCode)));
    iot.clock.advance(1000);
    await v5(iot, 'dev-5');
    expect(await told).toBe(0x8e);
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-5' });
    expect(iot).toHaveDisconnected('dev-5', { reason: 'DUPLICATE_CLIENTID' });
    expect(iot).not.toHaveDisconnected('dev-5', { reason: 'CLIENT_INITIATED_DISCONNECT' });
    const message = failure(() => expect(iot).toHaveDisconnected('dev-5', { reason: 'MQTT_KEEP_ALIVE_TIMEOUT' }));
    expect(message).toContain('seed 9');
    expect(message).toMatch(/trace of dev-5:/);
    expect(message).toMatch(/out DISCONNECT/);
  });
});

describe('chaos on MQTT 5 deliveries', () => {
  test('duplicateQos0 and resendWithNewPacketId copies keep User Properties and Content Type; re-sends use fresh, valid packet ids the client acknowledges', async () => {
    const iot = await endpoint({ seed: 4, chaos: { duplicateQos0: { probability: 1 }, resendWithNewPacketId: { probability: 1, minDelayMs: 0, maxDelayMs: 5 } } });
    const sub = await v5(iot, 'kit-sub');
    await sub.subscribeAsync('k/#', { qos: 1 });
    const pub = await v5(iot, 'kit-pub');
    const props = (n: string) => ({ userProperties: { n, team: 'kit' }, contentType: `text/x-${n}` });
    await pub.publishAsync('k/zero', 'zero', { qos: 0, properties: props('zero') });
    await pub.publishAsync('k/one', 'one', { qos: 1, properties: props('one') });
    await pub.publishAsync('k/two', 'two', { qos: 1, properties: props('two') });

    // The originals (3) and at least one copy of each: a duplicateQos0 copy of k/zero, a re-send of k/one and k/two.
    await iot.trace.waitFor(() => iot.trace.filter({ direction: 'out', clientId: 'kit-sub', packet: { cmd: 'publish' } }).length >= 6);
    await iot.settled();
    const out = iot.trace.filter({ direction: 'out', clientId: 'kit-sub', packet: { cmd: 'publish' } });
    const faults = out.map((e) => e.chaos?.fault).filter(Boolean);
    expect(faults).toEqual(expect.arrayContaining(['duplicateQos0', 'resendWithNewPacketId', 'resendWithNewPacketId']));
    for (const e of out) {
      const n = e.packet.topic.slice(2);
      expect(e.packet.properties).toMatchObject({ userProperties: { n, team: 'kit' }, contentType: `text/x-${n}` });
    }
    // QoS 0 copies carry no packet id; QoS 1 ones each a distinct id in 1..65535, all acknowledged by the client.
    expect(out.filter((e) => e.packet.qos === 0).every((e) => e.packet.messageId === undefined)).toBe(true);
    const ids = out.filter((e) => e.packet.qos === 1).map((e) => e.packet.messageId!);
    expect(ids.length).toBeGreaterThanOrEqual(4);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(Number.isInteger(id) && id >= 1 && id <= 65535).toBe(true);
    const acked = iot.trace.filter({ direction: 'in', clientId: 'kit-sub', packet: { cmd: 'puback' } }).map((e) => e.packet.messageId);
    expect([...acked].sort()).toEqual([...ids].sort());

    // And MQTT.js, a real v5 parser, got every copy with its properties.
    const got = await sub.receivedCount(out.length);
    expect(got.map((m) => [m.topic, m.packet.properties?.contentType]).sort()).toEqual(out.map((e) => [e.packet.topic, e.packet.properties?.contentType]).sort());
  });
});

describe('assertClientSurvives with an MQTT 5 device', () => {
  test('a request/response device (Response Topic + Correlation Data) answers every request once', async () => {
    const report = await assertClientSurvives({
      numRuns: 3,
      seed: 2024,
      endpoint: { profile: 'current' },
      // Every request is re-sent (so the device's de-duplication is exercised in each run), with drawn latency and
      // reordering on top; no dropped connections: this small device has no reconnect logic to test.
      chaos: chaosArbitrary({ faults: ['latency', 'reorder'] }).map((drawn) => ({ ...drawn, resendWithNewPacketId: { probability: 1, minDelayMs: 0, maxDelayMs: 20 } })),
      scenario: async ({ iot }) => {
        const device = mqtt.connect(iot.url, { clientId: 'rr-dev', protocolVersion: 5, reconnectPeriod: 0 });
        const cloud = mqtt.connect(iot.url, { clientId: 'rr-cloud', protocolVersion: 5, reconnectPeriod: 0 });
        const answered = new Set<string>();
        const responses = new Map<string, string>();
        device.on('message', (_topic, payload, packet: IPublishPacket) => {
          const { responseTopic, correlationData } = packet.properties ?? {};
          const id = correlationData?.toString();
          if (!responseTopic || !id || answered.has(id)) return; // the de-duplication under test
          answered.add(id);
          device.publish(responseTopic, `done ${payload.toString()}`, { qos: 1, properties: { correlationData } });
        });
        cloud.on('message', (_topic, payload, packet: IPublishPacket) => {
          const id = packet.properties?.correlationData?.toString();
          if (id) responses.set(id, payload.toString());
        });
        try {
          await Promise.all([device, cloud].map((c) => new Promise((resolve) => c.once('connect', resolve))));
          await device.subscribeAsync('req/rr-dev', { qos: 1 });
          await cloud.subscribeAsync('resp/rr-cloud', { qos: 1 });
          await iot.trace.waitFor({ event: 'subscription-active', clientId: 'rr-dev' });
          await iot.trace.waitFor({ event: 'subscription-active', clientId: 'rr-cloud' });
          for (let i = 0; i < 3; i++) {
            await cloud.publishAsync('req/rr-dev', `job${i}`, { qos: 1, properties: { responseTopic: 'resp/rr-cloud', correlationData: Buffer.from(`c${i}`) } });
          }
          await iot.trace.waitFor(() => responses.size >= 3);
          await iot.settled(); // the re-sent requests too: a second answer would show below
          expect(iot.chaos.log().filter((d) => d.fault === 'resendWithNewPacketId').length).toBeGreaterThanOrEqual(3);
          expect(Object.fromEntries(responses)).toEqual({ c0: 'done job0', c1: 'done job1', c2: 'done job2' });
          expect(iot).toHaveReceivedFrom('rr-dev', { topic: 'resp/rr-cloud', times: 3 });
        } finally {
          device.end(true);
          cloud.end(true);
        }
      },
    });
    expect(report.numRuns).toBe(3);
  });
});
