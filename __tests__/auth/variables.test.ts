/**
 * Policy variables, conditions and AWS's other authorization rules on a live endpoint (aws-iot-behaviour.md
 * §1.6, §1.8, §6): each variable substituted from the real connection, the `+` client-id pitfall, the will
 * topic, iot:ConnectAttributes, aws:SourceIp, iot:RetainPublish, and the reconnect loop of an MQTT 3.1.1 device
 * whose subscription is denied. Real MQTT.js clients over real sockets and TLS handshakes.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { FakeIot, PolicyDocument, PolicyStatement } from '../../src';
import { fakeIotMatchers } from '../../src/testing/jest';
import { endpoint } from '../helpers';

expect.extend(fakeIotMatchers);

const ARN = 'arn:aws:iot:us-east-1:123456789012';
const policy = (...Statement: PolicyStatement[]): PolicyDocument => ({ Version: '2012-10-17', Statement });
const allow = (Action: string | string[], Resource: string | string[], Condition?: PolicyStatement['Condition']): PolicyStatement => ({ Effect: 'Allow', Action, Resource, ...(Condition ? { Condition } : {}) });
/** Connect and subscribe to anything, so a test only has to say what it is about. */
const base = [allow('iot:Connect', `${ARN}:client/*`), allow(['iot:Subscribe', 'iot:Receive'], '*')];

const opened: MqttClient[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.end(true);
});

function connect(url: string, options: IClientOptions): MqttClient {
  const c = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options });
  c.on('error', () => {});
  opened.push(c);
  return c;
}

async function connected(url: string, options: IClientOptions): Promise<MqttClient> {
  const c = connect(url, options);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('close', () => reject(new Error(`${String(options.clientId)}: closed before CONNACK`)));
  });
  return c;
}

/** Publishes at QoS 1 and says whether the endpoint accepted it (PUBACK) or dropped the connection (MQTT 3.1.1). */
async function tryPublish(iot: FakeIot, c: MqttClient, clientId: string, topic: string): Promise<'accepted' | 'dropped'> {
  return Promise.race([
    c.publishAsync(topic, 'x', { qos: 1 }).then(() => 'accepted' as const),
    iot.trace.waitFor({ event: 'disconnect', clientId }).then(() => 'dropped' as const),
  ]);
}

describe('policy variables, substituted from the connection', () => {
  test.each([
    ['${iot:ClientId}', 'dt/${iot:ClientId}/x', 'dt/dev-1/x', 'dt/dev-2/x'],
    ['${iot:Connection.Thing.ThingName}', 'dt/${iot:Connection.Thing.ThingName}/x', 'dt/dev-1/x', 'dt/dev-2/x'],
    ['${iot:Connection.Thing.ThingTypeName}', 'type/${iot:Connection.Thing.ThingTypeName}', 'type/sensor', 'type/camera'],
    ['${iot:Connection.Thing.Attributes[site]}', 'site/${iot:Connection.Thing.Attributes[site]}/x', 'site/north/x', 'site/south/x'],
    ['${iot:Certificate.Subject.CommonName}', 'cn/${iot:Certificate.Subject.CommonName}', 'cn/AWS IoT Certificate', 'cn/device-1'],
    ['${iot:Certificate.Issuer.CommonName}', 'issuer/${iot:Certificate.Issuer.CommonName}', 'issuer/fake-aws-iot test CA', 'issuer/other'],
  ])('%s', async (_variable, resource, allowed, denied) => {
    const iot = await endpoint({ tls: true, seed: 1, policies: { p: policy(...base, allow('iot:Publish', `${ARN}:topic/${resource}`)) } });
    const dev = iot.createThing('dev-1', { thingTypeName: 'sensor', attributes: { site: 'north' }, policies: ['p'] });
    const c = await connected(iot.tls!.url, { clientId: 'dev-1', cert: dev.certificatePem, key: dev.privateKey, ca: dev.caCertificate });
    expect(await tryPublish(iot, c, 'dev-1', allowed)).toBe('accepted');
    expect(await tryPublish(iot, c, 'dev-1', denied)).toBe('dropped');
    expect(iot).toHaveDenied('dev-1', { action: 'iot:Publish', resource: `${ARN}:topic/${denied}` });
  });

  test('a client certificate of your own: its subject fields (fixtures/device-1: CN=device-1, O=fake-aws-iot)', async () => {
    const pem = readFileSync(join(__dirname, '../../fixtures/device-1.cert.pem'));
    const certificateId = createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
    const iot = await endpoint({ tls: true, seed: 1, policies: { p: policy(...base, allow('iot:Publish', `${ARN}:topic/org/\${iot:Certificate.Subject.Organization}/\${iot:Certificate.Subject.CommonName}`)) } });
    iot.attachPolicy('p', certificateId);
    const c = await connected(iot.tls!.url, { clientId: 'any', cert: pem, key: readFileSync(join(__dirname, '../../fixtures/device-1.private.key')), ca: readFileSync(iot.tls!.caPath) });
    expect(await tryPublish(iot, c, 'any', 'org/fake-aws-iot/device-1')).toBe('accepted');
  });

  test('thing variables need the client id to be the thing name: another id has none, so the grant matches nothing', async () => {
    const iot = await endpoint({ tls: true, seed: 1, policies: { p: policy(allow('iot:Connect', `${ARN}:client/\${iot:Connection.Thing.ThingName}`)) } });
    const dev = iot.createThing('dev-1', { policies: ['p'] });
    const other = connect(iot.tls!.url, { clientId: 'dev-1-backup', cert: dev.certificatePem, key: dev.privateKey, ca: dev.caCertificate });
    expect(await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1-backup' })).toMatchObject({ reason: 'AUTH_ERROR' });
    expect(iot).toHaveDenied('dev-1-backup', { action: 'iot:Connect', reaction: 'refused' });
    other.end(true);
    await connected(iot.tls!.url, { clientId: 'dev-1', cert: dev.certificatePem, key: dev.privateKey, ca: dev.caCertificate });
  });
});

test('the documented pitfall: a client id of "+" widens a ${iot:ClientId} topic-filter grant', async () => {
  const iot = await endpoint({ seed: 1, policies: { p: policy(allow('iot:Connect', '*'), allow('iot:Subscribe', `${ARN}:topicfilter/my/\${iot:ClientId}/topic`), allow('iot:Receive', '*')) } });
  iot.attachPolicy('p', '*');
  const plus = await connected(iot.url, { clientId: '+' });
  const granted = await plus.subscribeAsync('my/+/topic', { qos: 1 });
  expect(granted[0]!.qos).toBe(1);
  iot.publish('my/dev-7/topic', 'someone else\'s', { qos: 1 });
  await new Promise((resolve) => plus.once('message', resolve)); // it reads what was meant for dev-7

  const honest = await connected(iot.url, { clientId: 'dev-1' });
  honest.subscribe('my/+/topic', { qos: 1 });
  expect(await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' })).toMatchObject({ reason: 'AUTH_ERROR' });
});

describe('CONNECT conditions and the will', () => {
  test('a will whose topic may not be published fails the connect, with connect_failed', async () => {
    const iot = await endpoint({ seed: 1, policies: { p: policy(allow('iot:Connect', '*'), allow('iot:Publish', `${ARN}:topic/status/\${iot:ClientId}`)) } });
    iot.attachPolicy('p', '*');
    await connected(iot.url, { clientId: 'dev-1', will: { topic: 'status/dev-1', payload: Buffer.from('gone'), qos: 1, retain: false } });
    connect(iot.url, { clientId: 'dev-2', will: { topic: 'status/dev-1', payload: Buffer.from('gone'), qos: 1, retain: false } });
    expect(await iot.trace.waitFor({ event: 'authorization', clientId: 'dev-2' })).toMatchObject({ action: 'iot:Publish', resource: `${ARN}:topic/status/dev-1`, reaction: 'refused' });
    await iot.trace.waitFor({ event: 'publish', origin: 'lifecycle', topic: '$aws/events/presence/connect_failed/dev-2' });
  });

  test('Will Retain needs iot:RetainPublish as well', async () => {
    const iot = await endpoint({ seed: 1, policies: { p: policy(allow(['iot:Connect', 'iot:Publish'], '*')) } });
    iot.attachPolicy('p', '*');
    connect(iot.url, { clientId: 'dev-1', will: { topic: 'status/dev-1', payload: Buffer.from('gone'), qos: 1, retain: true } });
    expect(await iot.trace.waitFor({ event: 'authorization', clientId: 'dev-1' })).toMatchObject({ action: 'iot:RetainPublish', resource: `${ARN}:topic/status/dev-1` });
  });

  test('iot:ConnectAttributes: ForAllValues:StringEquals ["LastWill"] allows a will but not a persistent session', async () => {
    const iot = await endpoint({ seed: 1, policies: { p: policy(allow('iot:Connect', '*', { 'ForAllValues:StringEquals': { 'iot:ConnectAttributes': ['LastWill'] } }), allow('iot:Publish', '*')) } });
    iot.attachPolicy('p', '*');
    const will = { topic: 'status/dev-1', payload: Buffer.from('gone'), qos: 0 as const, retain: false };
    await connected(iot.url, { clientId: 'dev-1', clean: true, will });
    connect(iot.url, { clientId: 'dev-2', clean: false, will });
    expect(await iot.trace.waitFor({ event: 'authorization', clientId: 'dev-2' })).toMatchObject({ action: 'iot:Connect', reaction: 'refused' });
  });

  test('aws:SourceIp: a connection from outside the allowed range is refused', async () => {
    const iot = await endpoint({ seed: 1, policies: {
      local: policy(allow('iot:Connect', '*', { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } })),
      elsewhere: policy(allow('iot:Connect', '*', { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } })),
    } });
    iot.attachPolicy('elsewhere', '*');
    connect(iot.url, { clientId: 'dev-1' });
    expect(await iot.trace.waitFor({ event: 'authorization', clientId: 'dev-1' })).toMatchObject({ action: 'iot:Connect' });
    iot.attachPolicy('local', '*');
    await connected(iot.url, { clientId: 'dev-2' });
  });
});

test('a RETAIN publish needs iot:RetainPublish too; without it the retained message is not stored', async () => {
  const iot = await endpoint({ seed: 1, policies: { p: policy(allow(['iot:Connect', 'iot:Publish'], '*')) } });
  iot.attachPolicy('p', '*');
  const c = await connected(iot.url, { clientId: 'dev-1', protocolVersion: 5 });
  const error = await c.publishAsync('status/dev-1', 'on', { qos: 1, retain: true }).then(() => undefined, (e: { code?: number }) => e);
  expect(error).toMatchObject({ code: 0x87 });
  expect(iot).toHaveDenied('dev-1', { action: 'iot:RetainPublish' });
  expect(iot.retained.list()).toEqual([]);
});

test('MQTT 3.1.1 switches: unauthorizedSubscribe "suback-failure" answers 0x80; unauthorizedPublish "drop" keeps the connection', async () => {
  const iot = await endpoint({ seed: 1, unauthorizedSubscribe: 'suback-failure', unauthorizedPublish: 'drop', policies: { p: policy(allow('iot:Connect', '*'), allow('iot:Subscribe', `${ARN}:topicfilter/ok/*`), allow('iot:Publish', `${ARN}:topic/ok/*`)) } });
  iot.attachPolicy('p', '*');
  const c = await connected(iot.url, { clientId: 'dev-1' });
  const result = await c.subscribeAsync({ 'ok/a': { qos: 1 }, 'no/a': { qos: 1 } }).catch((e: { packet?: { granted: number[] } }) => e);
  expect(result).toMatchObject({ packet: { granted: [1, 0x80] } });
  c.publish('no/a', 'x', { qos: 0 });
  await c.publishAsync('ok/a', 'y', { qos: 1 }); // the dropped one came first on the same connection
  expect(iot).toHaveDenied('dev-1', { action: 'iot:Publish', reaction: 'dropped' });
  expect(c.connected).toBe(true);
});

test('the reconnect loop: an MQTT 3.1.1 device whose subscription is denied is dropped every time it comes back and subscribes', async () => {
  // The device reconnects at once and MQTT.js subscribes again after each CONNACK. Throttles off: AWS's
  // one-CONNECT-per-second-per-client-id would stretch the loop over seconds of real time.
  const iot = await endpoint({ seed: 1, throttles: false, policies: { p: policy(allow(['iot:Connect', 'iot:Publish', 'iot:Receive'], '*'), allow('iot:Subscribe', `${ARN}:topicfilter/cmd/*`)) } });
  iot.attachPolicy('p', '*');
  const c = connect(iot.url, { clientId: 'dev-1', reconnectPeriod: 20 });
  c.on('connect', () => c.subscribe('$aws/things/dev-1/shadow/update/delta', { qos: 1 }));
  let drops = 0;
  await iot.trace.waitFor((e) => e.kind === 'event' && e.event === 'disconnect' && e.clientId === 'dev-1' && ++drops === 3);
  c.end(true);
  const story = iot.trace.filter((e) => e.clientId === 'dev-1' && e.kind === 'event' && (e.event === 'connect' || e.event === 'disconnect')).slice(0, 6);
  expect(story.map((e) => (e.kind === 'event' && e.event === 'disconnect' ? `drop:${e.reason}` : 'connect'))).toEqual(['connect', 'drop:AUTH_ERROR', 'connect', 'drop:AUTH_ERROR', 'connect', 'drop:AUTH_ERROR']);
});

test('toHaveDenied fails saying which denials there were', async () => {
  const iot = await endpoint({ seed: 1, policies: { p: policy(allow(['iot:Connect', 'iot:Publish'], '*')) } });
  iot.attachPolicy('p', '*');
  const c = await connected(iot.url, { clientId: 'dev-1' });
  c.subscribe('cmd/dev-1', { qos: 1 });
  await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' });
  expect(iot).toHaveDenied('dev-1', { action: 'iot:Subscribe', resource: /cmd/ });
  expect(iot).not.toHaveDenied('dev-1', { action: 'iot:Publish' });
  let message = '';
  try {
    expect(iot).toHaveDenied('dev-1', { action: 'iot:Receive' });
  } catch (error) {
    message = (error as Error).message;
  }
  expect(message).toContain('iot:Subscribe on arn:aws:iot:us-east-1:123456789012:topicfilter/cmd/dev-1: no statement allows it (default deny) (closed)');
});

test('without policies nothing is checked; the first policy turns default deny on for open connections', async () => {
  const iot = await endpoint({ seed: 1 });
  const c = await connected(iot.url, { clientId: 'dev-1' });
  await c.publishAsync('anything', 'x', { qos: 1 });
  expect(iot.trace.filter({ event: 'authorization' })).toEqual([]);
  iot.setPolicy('connect-only', policy(allow('iot:Connect', '*')));
  c.publish('anything', 'y', { qos: 1 });
  expect(await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' })).toMatchObject({ reason: 'AUTH_ERROR' });
});

test('policy documents and names are checked, with clear errors and stable codes', async () => {
  const iot = await endpoint({ seed: 1 });
  expect(() => iot.setPolicy('p', { Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Action: 'iot:*', Resource: '*' }] } as never)).toThrow(expect.objectContaining({ code: 'INVALID_POLICY', message: expect.stringContaining('Effect must be "Allow" or "Deny"') }));
  expect(() => iot.attachPolicy('missing', '*')).toThrow(expect.objectContaining({ code: 'POLICY_NOT_FOUND' }));
  expect(() => iot.setPolicy('bad name!', policy(allow('iot:*', '*')))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  await expect(endpoint({ policies: { p: '{' } })).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('options.policies["p"]') });
  expect(() => iot.createThing('dev-1', { policies: ['missing'] })).toThrow(expect.objectContaining({ code: 'POLICY_NOT_FOUND' }));
  iot.createThing('dev-1'); // the refused call left nothing behind
  iot.setPolicy('p', policy(allow('iot:*', '*')));
  for (let i = 0; i < 10; i++) iot.setPolicy(`p${i}`, policy(allow('iot:*', '*')));
  for (let i = 0; i < 10; i++) iot.attachPolicy(`p${i}`, 'AKIDEXAMPLE');
  expect(() => iot.attachPolicy('p', 'AKIDEXAMPLE')).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED' }));
});

test('the policy limits are the profile\'s, and can be overridden (limits.policyMaxChars, limits.maxPoliciesPerPrincipal)', async () => {
  const iot = await endpoint({ seed: 1, limits: { policyMaxChars: 100, maxPoliciesPerPrincipal: 1 } });
  const big = policy(allow('iot:Publish', Array.from({ length: 3 }, (_, i) => `${ARN}:topic/telemetry/${i}`)));
  expect(() => iot.setPolicy('big', big)).toThrow(expect.objectContaining({ code: 'INVALID_POLICY', message: expect.stringContaining('AWS allows 100 (limits.policyMaxChars)') }));
  iot.setPolicy('a', policy(allow('iot:*', '*')));
  iot.setPolicy('b', policy(allow('iot:*', '*')));
  iot.attachPolicy('a', 'AKIDEXAMPLE');
  expect(() => iot.attachPolicy('b', 'AKIDEXAMPLE')).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED', message: expect.stringContaining('limits.maxPoliciesPerPrincipal') }));
  await expect(endpoint({ limits: { policyMaxChars: 100 }, policies: { big } })).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('AWS allows 100') });
});
