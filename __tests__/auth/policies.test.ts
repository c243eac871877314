/**
 * IoT policies on a live endpoint (aws-iot-behaviour.md §6): devices connect over mTLS with certificates from
 * createThing(), a policy attached to the certificate decides, and the broker reacts as AWS does (§6.2) —
 * per action, allowed and denied, on MQTT 3.1.1 and MQTT 5. Real MQTT.js clients, real TLS handshakes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { FakeIot, PolicyDocument, ThingCredentials } from '../../src';
import { endpoint } from '../helpers';

const ARN = 'arn:aws:iot:us-east-1:123456789012';
const DEVICE_POLICY = JSON.parse(readFileSync(join(__dirname, '../../fixtures/device-policy.json'), 'utf8')) as PolicyDocument;
const allowAll: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] };

const opened: MqttClient[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.end(true);
});

/** An MQTT.js device over mTLS; resolves with the client once CONNACK (any code) or the close came. */
function device(iot: FakeIot, thing: ThingCredentials, options: IClientOptions = {}): MqttClient {
  const c = mqtt.connect(iot.tls!.url, {
    clientId: thing.thingName, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000,
    cert: thing.certificatePem, key: thing.privateKey, ca: thing.caCertificate, ...options,
  });
  c.on('error', () => {}); // refusals are asserted through the trace
  opened.push(c);
  return c;
}

async function connected(iot: FakeIot, thing: ThingCredentials, options: IClientOptions = {}): Promise<MqttClient> {
  const c = device(iot, thing, options);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('close', () => reject(new Error(`${thing.thingName}: closed before CONNACK`)));
  });
  return c;
}

async function policyEndpoint(document: PolicyDocument = DEVICE_POLICY, extra = {}): Promise<{ iot: FakeIot; dev: ThingCredentials }> {
  const iot = await endpoint({ tls: true, seed: 1, policies: { device: document }, ...extra });
  const dev = iot.createThing('dev-1', { policies: ['device'] });
  return { iot, dev };
}

describe.each([4, 5] as const)('MQTT %s', (protocolVersion) => {
  const v5 = protocolVersion === 5;

  test('CONNECT: allowed as the thing; denied under another client id (v3: no CONNACK; v5: CONNACK 0x87), with connect_failed', async () => {
    const { iot, dev } = await policyEndpoint();
    const ok = await connected(iot, dev, { protocolVersion });
    expect(ok.connected).toBe(true);
    ok.end(true);
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' });

    const connacks: number[] = [];
    const other = device(iot, dev, { protocolVersion, clientId: 'not-dev-1' });
    other.on('packetreceive', (p) => p.cmd === 'connack' && connacks.push((p as { reasonCode?: number; returnCode?: number }).reasonCode ?? -1));
    const denied = await iot.trace.waitFor({ event: 'authorization', clientId: 'not-dev-1' });
    expect(denied).toMatchObject({ action: 'iot:Connect', resource: `${ARN}:client/not-dev-1`, reaction: 'refused', reason: expect.stringContaining('no statement allows it') });
    const failed = await iot.trace.waitFor({ event: 'publish', origin: 'lifecycle', topic: '$aws/events/presence/connect_failed/not-dev-1' });
    expect(JSON.parse(Buffer.from(failed.payload).toString())).toMatchObject({
      clientId: 'not-dev-1', eventType: 'connect_failed', connectFailureReason: 'AUTHORIZATION_FAILED', principalIdentifier: dev.certificateId, ipAddress: '127.0.0.1',
    });
    expect(await iot.trace.waitFor({ event: 'disconnect', clientId: 'not-dev-1' })).toMatchObject({ reason: 'AUTH_ERROR', willPublished: false });
    const outgoing = iot.trace.filter({ kind: 'packet', direction: 'out', clientId: 'not-dev-1' }).map((e) => e.packet);
    expect(outgoing).toEqual(v5 ? [expect.objectContaining({ cmd: 'connack', reasonCode: 0x87 })] : []);
  });

  test('PUBLISH: allowed to its telemetry topic; denied elsewhere (v3: connection dropped; v5 QoS 1: PUBACK 0x87)', async () => {
    const { iot, dev } = await policyEndpoint();
    const c = await connected(iot, dev, { protocolVersion });
    await c.publishAsync('dt/dev-1/temp', '21', { qos: 1 });
    if (v5) {
      const error = await c.publishAsync('dt/dev-2/temp', '21', { qos: 1 }).then(() => undefined, (e: { code?: number }) => e);
      expect(error).toMatchObject({ code: 0x87 });
      expect(c.connected).toBe(true);
    } else {
      c.publish('dt/dev-2/temp', '21', { qos: 1 });
      expect(await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' })).toMatchObject({ reason: 'AUTH_ERROR' });
    }
    const denied = iot.trace.filter({ event: 'authorization' });
    expect(denied).toEqual([expect.objectContaining({ action: 'iot:Publish', resource: `${ARN}:topic/dt/dev-2/temp`, reaction: v5 ? 'refused' : 'closed' })]);
    expect(iot.trace.filter({ kind: 'packet', direction: 'in', clientId: 'dev-1' }).filter((e) => e.packet.cmd === 'publish')).toHaveLength(2);
  });

  test('SUBSCRIBE: allowed to its command filter; denied elsewhere (v3: dropped without SUBACK; v5: SUBACK 0x87 for that filter)', async () => {
    const { iot, dev } = await policyEndpoint();
    const c = await connected(iot, dev, { protocolVersion });
    const granted = await c.subscribeAsync('cmd/dev-1/#', { qos: 1 });
    expect(granted[0]!.qos).toBe(1);
    if (v5) {
      // MQTT.js reports a SUBACK with a failure code as an error carrying the packet.
      const mixed = await c.subscribeAsync({ 'cmd/dev-1/+': { qos: 1 }, 'cmd/dev-2/#': { qos: 1 } }).catch((e: { packet?: { granted: number[] } }) => e);
      expect(mixed).toMatchObject({ packet: { granted: [1, 0x87] } });
      expect(c.connected).toBe(true);
    } else {
      c.subscribe('cmd/dev-2/#', { qos: 1 });
      expect(await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' })).toMatchObject({ reason: 'AUTH_ERROR' });
      expect(iot.trace.filter({ kind: 'packet', direction: 'out', clientId: 'dev-1' }).filter((e) => e.packet.cmd === 'suback')).toHaveLength(1);
    }
    expect(iot.trace.filter({ event: 'authorization' })).toEqual([expect.objectContaining({ action: 'iot:Subscribe', resource: `${ARN}:topicfilter/cmd/dev-2/#` })]);
  });

  test('Receive: checked at every delivery, so changing the policy revokes an existing subscription', async () => {
    const { iot, dev } = await policyEndpoint(allowAll);
    const c = await connected(iot, dev, { protocolVersion });
    await c.subscribeAsync('cmd/#', { qos: 1 });
    const got: string[] = [];
    c.on('message', (_t, p) => got.push(p.toString()));
    iot.publish('cmd/dev-1/a', 'first', { qos: 1 });
    await iot.trace.waitFor({ kind: 'packet', direction: 'in', clientId: 'dev-1', packet: { cmd: 'puback' } });

    iot.setPolicy('device', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }, { Effect: 'Deny', Action: 'iot:Receive', Resource: `${ARN}:topic/cmd/dev-1/secret` }] });
    iot.publish('cmd/dev-1/secret', 'hidden', { qos: 1 });
    iot.publish('cmd/dev-1/b', 'second', { qos: 1 });
    // The later message arrives; the hidden one, published before it on the same connection, would have come first.
    await new Promise<void>((resolve) => (got.includes('second') ? resolve() : c.on('message', () => got.includes('second') && resolve())));
    expect(got).toEqual(['first', 'second']);
    expect(iot.trace.filter({ event: 'authorization' })).toEqual([
      expect.objectContaining({ action: 'iot:Receive', resource: `${ARN}:topic/cmd/dev-1/secret`, statement: 'device#1', reaction: 'not-delivered' }),
    ]);
    expect(c.connected).toBe(true);
  });
});
