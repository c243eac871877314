/**
 * MQTT 5 CONNECT / CONNACK against the `current` profile with real MQTT.js clients (protocolVersion 5): AWS's
 * CONNACK properties, reason codes on refusals, Clean Start + Session Expiry, DISCONNECT's Session Expiry
 * rules, sessions not crossing protocol versions, and the server's DISCONNECT with a reason.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import type { IDisconnectPacket } from 'mqtt-packet';
import type { FakeIot } from '../../src';
import { client, endpoint, raw } from '../helpers';

const v5 = (iot: FakeIot, clientId: string, options: IClientOptions = {}) => client(iot, clientId, { protocolVersion: 5, ...options });

/** Connects and resolves with the error MQTT.js reports for a refused CONNACK (its `code` is the reason code). */
function refused(iot: FakeIot, clientId: string, options: IClientOptions = {}): Promise<Error & { code?: number }> {
  const c = mqtt.connect(iot.url, { clientId, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...options });
  return new Promise((resolve, reject) => {
    c.once('error', (error) => {
      c.end(true);
      resolve(error);
    });
    c.once('connect', () => {
      c.end(true);
      reject(new Error('connected'));
    });
  });
}

/** The DISCONNECT the server sends the client (MQTT.js's 'disconnect' event). */
const disconnected = (c: MqttClient) => new Promise<IDisconnectPacket>((resolve) => c.once('disconnect', resolve));

describe('CONNACK', () => {
  test("AWS's CONNACK properties; the connect event and iot.clients() say protocolVersion 5", async () => {
    const iot = await endpoint({ profile: 'current' });
    const c = await v5(iot, 'dev-props', { keepalive: 60 });
    expect(c.connack.reasonCode).toBe(0);
    expect(c.connack.properties).toEqual({
      receiveMaximum: 100, maximumQoS: 1, retainAvailable: true, maximumPacketSize: 131072, topicAliasMaximum: 8,
      wildcardSubscriptionAvailable: true, subscriptionIdentifiersAvailable: false, sharedSubscriptionAvailable: true,
    });
    const event = await iot.trace.waitFor({ event: 'connect', clientId: 'dev-props' });
    expect(event).toMatchObject({ protocolVersion: 5, cleanSession: true, sessionExpirySeconds: 0, keepAliveSeconds: 60 });
    expect(iot.clients()).toEqual([expect.objectContaining({ clientId: 'dev-props', protocolVersion: 5, cleanSession: true, sessionExpirySeconds: 0 })]);
    // The trace keeps the CONNACK as sent, properties and all.
    const connack = await iot.trace.waitFor({ direction: 'out', clientId: 'dev-props', packet: { cmd: 'connack' } });
    expect(connack.packet).toMatchObject({ reasonCode: 0, properties: { topicAliasMaximum: 8 } });
  });

  test('Server Keep Alive when the keep-alive was clamped; Session Expiry granted at most the account maximum (1 h)', async () => {
    const iot = await endpoint({ profile: 'current' });
    const c = await v5(iot, 'dev-clamp', { keepalive: 5, clean: false, properties: { sessionExpiryInterval: 86_400 } });
    expect(c.connack.properties).toMatchObject({ serverKeepAlive: 30, sessionExpiryInterval: 3600 });
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'dev-clamp' })).toMatchObject({ keepAliveSeconds: 30, requestedKeepAliveSeconds: 5, sessionExpirySeconds: 3600 });
    // An account whose maximum was raised (limits.sessionExpirySeconds) still grants MQTT 5 at most 7 days.
    const raised = await endpoint({ profile: 'current', limits: { sessionExpirySeconds: 20 * 86_400 } });
    const d = await v5(raised, 'dev-week', { clean: false, properties: { sessionExpiryInterval: 0xffffffff } });
    expect(d.connack.properties?.sessionExpiryInterval).toBe(604_800);
    const e = await v5(raised, 'dev-day', { clean: false, properties: { sessionExpiryInterval: 86_400 } });
    expect(e.connack.properties?.sessionExpiryInterval).toBeUndefined(); // granted as asked: not echoed
  });

  test('an empty client id gets an Assigned Client Identifier, whatever Clean Start says', async () => {
    const iot = await endpoint({ profile: 'current' });
    // MQTT.js and mqtt-packet refuse to write an empty id with Clean Start 0: the flag is cleared in the bytes.
    const r = await raw(iot, { protocolVersion: 5 });
    const bytes = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: '', properties: { sessionExpiryInterval: 60 } }, { protocolVersion: 5 });
    expect(bytes[9]).toBe(0x02); // the connect flags: Clean Start only
    bytes[9] = 0;
    r.send(bytes);
    const connack = await r.next('connack');
    expect(connack.reasonCode).toBe(0);
    const assigned = connack.properties?.assignedClientIdentifier;
    expect(assigned).toMatch(/^fake-aws-iot-/);
    expect(iot.clients().map((x) => x.clientId)).toEqual([assigned]);
  });

  test('classic refuses MQTT 5 with CONNACK 0x01 as before; current takes it', async () => {
    const classic = await endpoint({ profile: 'classic' });
    expect(classic.profile.features.protocolVersions).toEqual([4]);
    const r = await raw(classic);
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'v5-on-classic' });
    expect(await r.next('connack')).toMatchObject({ returnCode: 1 });
    await r.closed;
    const current = await endpoint({ profile: 'current' });
    expect(current.profile.features.protocolVersions).toEqual([4, 5]);
    const r5 = await raw(current, { protocolVersion: 5 });
    expect(await r5.connect('v5-on-current')).toMatchObject({ reasonCode: 0, sessionPresent: false });
  });
});

describe('CONNACK reason codes', () => {
  test('0x85 client id too long, 0x9B will QoS 2, 0x90 will topic invalid, 0x8C an authentication method', async () => {
    const iot = await endpoint({ profile: 'current' });
    expect((await refused(iot, 'x'.repeat(129))).code).toBe(0x85);
    expect((await refused(iot, 'dev-will2', { will: { topic: 'w', payload: Buffer.from('x'), qos: 2 as never, retain: false } })).code).toBe(0x9b);
    expect((await refused(iot, 'dev-willtopic', { will: { topic: 'a/+/b', payload: Buffer.from('x'), qos: 0, retain: false } })).code).toBe(0x90);
    expect((await refused(iot, 'dev-auth', { properties: { authenticationMethod: 'SCRAM-SHA-1' } })).code).toBe(0x8c);
    const violations = iot.trace.filter({ event: 'violation' }).map((v) => v.rule);
    expect(violations).toEqual(['limits.maxClientIdBytes', 'aws.qos2', 'MQTT-3.3.2-2', 'aws.auth-packet']);
  });

  test('0x97 quota exceeded for a second CONNECT with one client id within a second; the first stays', async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual' });
    const first = await v5(iot, 'dev-rate');
    expect((await refused(iot, 'dev-rate')).code).toBe(0x97);
    expect(await iot.trace.waitFor({ event: 'throttled', clientId: 'dev-rate' })).toMatchObject({ limit: 'maxConnectsPerSecondPerClientId', action: 'refused' });
    expect(first.connected).toBe(true);
    iot.clock.advance(1000);
    await v5(iot, 'dev-rate'); // a second later: accepted (and it takes the id over)
  });

  test('0x85 for an empty client id under emptyClientId: reject', async () => {
    const iot = await endpoint({ profile: 'current', emptyClientId: 'reject' });
    expect((await refused(iot, '')).code).toBe(0x85);
  });
});

describe('Clean Start and Session Expiry (aws-iot-behaviour.md §1.6)', () => {
  test('Clean Start 0 + Session Expiry resumes: session present, subscriptions kept, QoS 1 stored while away delivered', async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual' });
    const a = await v5(iot, 'dev-resume', { clean: false, properties: { sessionExpiryInterval: 600 } });
    expect(a.connack.sessionPresent).toBe(false);
    await a.subscribeAsync('cmd/dev-resume', { qos: 1 });
    await a.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-resume' });
    iot.publish('cmd/dev-resume', 'while away', { qos: 1 });
    iot.clock.advance(1000); // AWS's 1 CONNECT/s per client id
    const again = await v5(iot, 'dev-resume', { clean: false, properties: { sessionExpiryInterval: 600 } });
    expect(again.connack.sessionPresent).toBe(true);
    expect((await again.receivedCount(1)).map((m) => m.payload)).toEqual(['while away']);
  });

  test('the session expires after the granted interval on the endpoint clock; then a new, empty one', async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual' });
    const a = await v5(iot, 'dev-expire', { clean: false, properties: { sessionExpiryInterval: 120 } });
    await a.subscribeAsync('t/expire', { qos: 1 });
    await a.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-expire' });
    iot.clock.advance(119_000);
    expect(iot.trace.filter({ event: 'session-ended' })).toEqual([]);
    iot.clock.advance(1000);
    expect(iot.trace.filter({ event: 'session-ended' })).toEqual([expect.objectContaining({ clientId: 'dev-expire', reason: 'expired' })]);
    const b = await v5(iot, 'dev-expire', { clean: false, properties: { sessionExpiryInterval: 120 } });
    expect(b.connack.sessionPresent).toBe(false);
    expect(iot.clients()[0]!.subscriptions).toEqual([]);
  });

  test('Session Expiry 0 (absent): the session ends with the connection; Clean Start 1 discards a stored one', async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual' });
    const a = await v5(iot, 'dev-zero', { clean: false });
    await a.subscribeAsync('t/zero', { qos: 1 });
    await a.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-zero' });
    iot.clock.advance(1000);
    expect((await v5(iot, 'dev-zero', { clean: false, properties: { sessionExpiryInterval: 60 } })).connack.sessionPresent).toBe(false);
    iot.clock.advance(1000);
    const stored = await v5(iot, 'dev-zero', { clean: false, properties: { sessionExpiryInterval: 60 } });
    expect(stored.connack.sessionPresent).toBe(true);
    await stored.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-zero', connectionId: iot.trace.filter({ event: 'connect', clientId: 'dev-zero' }).at(-1)!.connectionId });
    iot.clock.advance(1000);
    expect((await v5(iot, 'dev-zero', { clean: true, properties: { sessionExpiryInterval: 60 } })).connack.sessionPresent).toBe(false);
    expect(iot.trace.filter({ event: 'session-ended', clientId: 'dev-zero' })).toEqual([expect.objectContaining({ reason: 'discarded' })]);
  });

  test('DISCONNECT may lower the Session Expiry (0 ends the session) but not raise it from 0 (protocol error 0x82)', async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual' });
    const a = await v5(iot, 'dev-disc', { clean: false, properties: { sessionExpiryInterval: 600 } });
    await a.subscribeAsync('t/disc', { qos: 1 });
    await a.endAsync(false, { reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-disc' });
    iot.clock.advance(1000);
    expect((await v5(iot, 'dev-disc', { clean: false, properties: { sessionExpiryInterval: 600 } })).connack.sessionPresent).toBe(false);

    const r = await raw(iot, { protocolVersion: 5 });
    await r.connect('dev-raise');
    r.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } });
    expect(await r.next('disconnect')).toMatchObject({ reasonCode: 0x82 });
    expect(await iot.trace.waitFor({ event: 'violation', clientId: 'dev-raise' })).toMatchObject({ rule: 'MQTT-3.14.2-2' });
  });

  test('DISCONNECT 0x04 publishes the will; a plain DISCONNECT does not', async () => {
    const iot = await endpoint({ profile: 'current' });
    const watcher = await v5(iot, 'watcher');
    await watcher.subscribeAsync('will/#', { qos: 1 });
    const a = await v5(iot, 'dev-will-a', { will: { topic: 'will/a', payload: Buffer.from('gone a'), qos: 1, retain: false } });
    const b = await v5(iot, 'dev-will-b', { will: { topic: 'will/b', payload: Buffer.from('gone b'), qos: 1, retain: false } });
    await a.endAsync(false, { reasonCode: 0x04 });
    await b.endAsync(false, { reasonCode: 0 });
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-will-b' });
    expect((await watcher.receivedCount(1)).map((m) => m.payload)).toEqual(['gone a']);
    expect(iot.trace.filter({ event: 'disconnect' }).map((d) => [d.clientId, d.willPublished])).toEqual([['dev-will-a', true], ['dev-will-b', false]]);
  });

  test('a persistent session is not resumed across protocol versions: a new session', async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual' });
    const v3 = await client(iot, 'dev-cross', { clean: false });
    await v3.subscribeAsync('t/cross', { qos: 1 });
    await v3.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-cross' });
    iot.clock.advance(1000);
    const five = await v5(iot, 'dev-cross', { clean: false, properties: { sessionExpiryInterval: 600 } });
    expect(five.connack.sessionPresent).toBe(false);
    expect(iot.clients()[0]!.subscriptions).toEqual([]);
    await five.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-cross', connectionId: 2 });
    iot.clock.advance(1000);
    expect((await client(iot, 'dev-cross', { clean: false })).connack.sessionPresent).toBe(false);
  });
});

describe('DISCONNECT from the server with a reason', () => {
  test('0x8E session taken over: the old MQTT 5 connection hears why', async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual' });
    const old = await v5(iot, 'dev-twin');
    const told = disconnected(old);
    iot.clock.advance(1000); // AWS's 1 CONNECT/s per client id
    await v5(iot, 'dev-twin');
    expect((await told).reasonCode).toBe(0x8e);
    expect(iot.trace.filter({ event: 'disconnect', clientId: 'dev-twin' })).toEqual([expect.objectContaining({ reason: 'DUPLICATE_CLIENTID' })]);
  });

  test('0x98 for iot.disconnect(), 0x8D keep-alive timeout, 0x8B when the endpoint closes', async () => {
    const iot = await endpoint({ profile: 'current', clock: 'virtual' });
    const a = await v5(iot, 'dev-admin');
    const toldA = disconnected(a);
    iot.disconnect('dev-admin');
    expect((await toldA).reasonCode).toBe(0x98);

    const r = await raw(iot, { protocolVersion: 5 });
    await r.connect('dev-silent', { keepalive: 30 });
    iot.clock.advance(45_000);
    expect(await r.next('disconnect')).toMatchObject({ reasonCode: 0x8d });

    const b = await v5(iot, 'dev-shutdown');
    const toldB = disconnected(b);
    await iot.close();
    expect((await toldB).reasonCode).toBe(0x8b);
  });

  test('MQTT 3.1.1 clients get no DISCONNECT (3.1.1 has none from the server)', async () => {
    const iot = await endpoint({ profile: 'current' });
    const r = await raw(iot);
    await r.connect('dev-v3');
    iot.disconnect('dev-v3');
    await r.closed;
    expect(r.received.map((p) => p.cmd)).toEqual(['connack']);
  });
});
