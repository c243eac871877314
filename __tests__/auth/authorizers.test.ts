/**
 * Custom authorizers on a live endpoint (aws-iot-behaviour.md §7): a function of the test stands in for the
 * authorizer Lambda. MQTT.js connects with a user name and password over TLS with ALPN `mqtt` (no client
 * certificate), over WebSocket with the authorizer's name and token in the upgrade's headers, and on the plain
 * port; the request the authorizer gets, its verdict, the policies it returns, its failures (a throw, a timeout
 * on the virtual clock, an invalid response), token signatures, disconnectAfterInSeconds and
 * refreshAfterInSeconds, on MQTT 3.1.1 and MQTT 5.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { CustomAuthorizerRequest, CustomAuthorizerResponse, FakeIot, FakeIotOptions } from '../../src';
import { endpoint, raw } from '../helpers';

const ARN = 'arn:aws:iot:us-east-1:123456789012';
const allowAll = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] });

/** A response letting the connection in with the given policies. */
function allowed(principalId: string, policyDocuments: unknown[] = [allowAll], extra: Partial<CustomAuthorizerResponse> = {}): CustomAuthorizerResponse {
  return { isAuthenticated: true, principalId, policyDocuments: policyDocuments as string[], disconnectAfterInSeconds: 3600, refreshAfterInSeconds: 3600, ...extra };
}

const opened: MqttClient[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.end(true);
});

/** An MQTT.js client with what the server answered: the CONNACK's code (MQTT 5 reason or 3.1.1 return code), a DISCONNECT's. */
type Device = MqttClient & { connack: Promise<number | 'closed'>; disconnectCode: Promise<number> };

function connect(url: string, options: IClientOptions): Device {
  const c = mqtt.connect(url, { clientId: 'dev-1', protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ...options }) as Device;
  c.on('error', () => {}); // refusals are asserted through the trace and the packets
  opened.push(c);
  c.connack = new Promise((resolve) => {
    c.on('packetreceive', (p) => p.cmd === 'connack' && resolve((p as { reasonCode?: number; returnCode?: number }).reasonCode ?? (p as { returnCode: number }).returnCode));
    c.once('close', () => resolve('closed'));
  });
  c.disconnectCode = new Promise((resolve) => c.on('packetreceive', (p) => p.cmd === 'disconnect' && resolve((p as { reasonCode?: number }).reasonCode ?? 0)));
  return c;
}

/** MQTT over TLS with ALPN `mqtt`, as AWS's port 443 with custom authentication: no client certificate. */
function overTls(iot: FakeIot, options: IClientOptions = {}): Device {
  return connect(iot.tls!.url, { ALPNProtocols: ['mqtt'], ca: iot.tls!.caCertificate, ...options });
}

/** An endpoint with TLS and the given authorizers. */
function authEndpoint(authorizers: FakeIotOptions['authorizers'], extra: FakeIotOptions = {}): Promise<FakeIot> {
  return endpoint({ tls: true, seed: 7, authorizers, ...extra });
}

describe.each([4, 5] as const)('MQTT %s', (protocolVersion) => {
  const v5 = protocolVersion === 5;

  test('TLS with ALPN mqtt: the authorizer gets AWS\'s request, and its principalId and policies become the connection\'s', async () => {
    const requests: CustomAuthorizerRequest[] = [];
    const iot = await authEndpoint({
      'my-authorizer': async (request) => {
        requests.push(request);
        return allowed('user42');
      },
    });
    const c = overTls(iot, { protocolVersion, username: 'user42?x-amz-customauthorizer-name=my-authorizer', password: 's3cret' });
    expect(await c.connack).toBe(0);
    expect(requests).toEqual([{
      signatureVerified: false,
      protocols: ['tls', 'mqtt'],
      protocolData: {
        tls: { serverName: 'localhost' },
        mqtt: { username: 'user42?x-amz-customauthorizer-name=my-authorizer', password: Buffer.from('s3cret').toString('base64'), clientId: 'dev-1' },
      },
      connectionMetadata: { id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/) },
    }]);
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'dev-1' })).toMatchObject({ transport: 'tls', alpn: 'mqtt', principal: 'user42', authorizer: 'my-authorizer', protocolVersion });
    expect(iot.trace.filter({ event: 'authorizer' })).toEqual([expect.objectContaining({ authorizer: 'my-authorizer', isAuthenticated: true, principalId: 'user42' })]);
    expect(iot.clients()).toEqual([expect.objectContaining({ clientId: 'dev-1', principal: 'user42', authorizer: 'my-authorizer' })]);

    await c.subscribeAsync('cmd/dev-1', { qos: 1 });
    const message = new Promise<string>((resolve) => c.once('message', (_t, p) => resolve(p.toString())));
    iot.publish('cmd/dev-1', 'reboot', { qos: 1 });
    expect(await message).toBe('reboot');
    const lifecycle = await iot.trace.waitFor({ event: 'publish', origin: 'lifecycle', topic: '$aws/events/presence/connected/dev-1' });
    expect(JSON.parse(Buffer.from(lifecycle.payload).toString())).toMatchObject({ principalIdentifier: 'user42' });
  });

  test('isAuthenticated false: v3 hears no CONNACK, v5 CONNACK 0x86 "bad user name or password"; connect_failed', async () => {
    const iot = await authEndpoint({ gate: () => ({ isAuthenticated: false }) });
    const c = overTls(iot, { protocolVersion, username: '?x-amz-customauthorizer-name=gate', password: 'wrong' });
    expect(await c.connack).toBe(v5 ? 0x86 : 'closed');
    expect(await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' })).toMatchObject({ reason: 'AUTH_ERROR', willPublished: false });
    expect(iot.trace.filter({ event: 'authorizer' })).toEqual([expect.objectContaining({ authorizer: 'gate', isAuthenticated: false })]);
    expect(iot.trace.filter({ event: 'authorizer' })[0]).not.toHaveProperty('error');
    const failed = await iot.trace.waitFor({ event: 'publish', origin: 'lifecycle', topic: '$aws/events/presence/connect_failed/dev-1' });
    expect(JSON.parse(Buffer.from(failed.payload).toString())).toMatchObject({ clientId: 'dev-1', eventType: 'connect_failed', connectFailureReason: 'AUTHORIZATION_FAILED' });
    expect(iot.clients()).toEqual([]);
  });

  test('a returned policy that does not allow a SUBSCRIBE gets AWS\'s reaction (v3: dropped; v5: SUBACK 0x87)', async () => {
    const policy = { Version: '2012-10-17', Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: `${ARN}:client/\${iot:ClientId}` },
      { Effect: 'Allow', Action: ['iot:Subscribe'], Resource: `${ARN}:topicfilter/cmd/\${iot:ClientId}` },
      { Effect: 'Allow', Action: ['iot:Receive'], Resource: `${ARN}:topic/cmd/\${iot:ClientId}` },
    ] };
    const iot = await authEndpoint({ a: () => allowed('dev1owner', [policy]) });
    const c = overTls(iot, { protocolVersion, username: '?x-amz-customauthorizer-name=a' });
    expect(await c.connack).toBe(0);
    expect((await c.subscribeAsync('cmd/dev-1', { qos: 1 }))[0]!.qos).toBe(1);
    if (v5) {
      const refused = await c.subscribeAsync('cmd/dev-2', { qos: 1 }).catch((e: { packet?: { granted: number[] } }) => e);
      expect(refused).toMatchObject({ packet: { granted: [0x87] } });
      expect(c.connected).toBe(true);
    } else {
      c.subscribe('cmd/dev-2', { qos: 1 });
      expect(await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' })).toMatchObject({ reason: 'AUTH_ERROR' });
    }
    expect(iot.trace.filter({ event: 'authorization' })).toEqual([
      expect.objectContaining({ action: 'iot:Subscribe', resource: `${ARN}:topicfilter/cmd/dev-2`, reason: expect.stringContaining('no statement allows it') }),
    ]);
  });

  test('a returned policy that does not allow iot:Connect refuses the CONNECT (v5: CONNACK 0x87)', async () => {
    const onlyPublish = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: '*' }] });
    const iot = await authEndpoint({ a: () => allowed('p1', [onlyPublish]) });
    const c = overTls(iot, { protocolVersion, username: '?x-amz-customauthorizer-name=a' });
    expect(await c.connack).toBe(v5 ? 0x87 : 'closed');
    expect(await iot.trace.waitFor({ event: 'authorization', clientId: 'dev-1' })).toMatchObject({ action: 'iot:Connect', reaction: 'refused' });
    await iot.trace.waitFor({ event: 'publish', origin: 'lifecycle', topic: '$aws/events/presence/connect_failed/dev-1' });
  });

  test.each([
    ['throws', () => {
      throw new Error('database down');
    }, 'the authorizer threw: database down'],
    ['rejects', () => Promise.reject(new Error('no such user')), 'the authorizer threw: no such user'],
    ['answers an invalid principalId', () => allowed('not valid!'), 'invalid response: principalId must be 1-128 letters and digits'],
    ['answers 11 policy documents', () => allowed('p1', Array(11).fill(allowAll)), 'invalid response: 11 policyDocuments; AWS allows 10'],
    ['answers disconnectAfterInSeconds 299', () => allowed('p1', [allowAll], { disconnectAfterInSeconds: 299 }), 'invalid response: disconnectAfterInSeconds must be a whole number of seconds from 300 to 86400'],
    ['answers a policy that is not JSON', () => allowed('p1', ['{']), 'invalid response: policy "p1/policyDocuments[0]" is not valid JSON'],
    ['answers nothing', () => undefined as unknown as CustomAuthorizerResponse, 'invalid response: expected an object'],
    ['answers a response that throws when read', () => ({ get isAuthenticated(): boolean { throw new Error('boom'); } }), 'invalid response: reading it threw boom'],
    ['answers a circular policy document', () => {
      const document: Record<string, unknown> = { Version: '2012-10-17' };
      document.Statement = [{ Effect: 'Allow', Action: 'iot:*', Resource: '*', self: document }];
      return allowed('p1', [document]);
    }, 'invalid response:'],
  ])('an authorizer that %s fails the connect (v5: 0x87), never the host; the endpoint serves the next client', async (_what, handler, error) => {
    const iot = await authEndpoint({ broken: handler, fine: () => allowed('p2') });
    const c = overTls(iot, { protocolVersion, username: '?x-amz-customauthorizer-name=broken' });
    expect(await c.connack).toBe(v5 ? 0x87 : 'closed');
    const event = await iot.trace.waitFor({ event: 'authorizer', clientId: 'dev-1' });
    expect(event).toMatchObject({ authorizer: 'broken', isAuthenticated: false, error: expect.stringContaining(error) });
    expect(await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' })).toMatchObject({ reason: 'AUTH_ERROR' });
    expect(iot.trace.filter({ event: 'internal-error' })).toEqual([]);

    const next = overTls(iot, { protocolVersion, clientId: 'dev-2', username: '?x-amz-customauthorizer-name=fine' });
    expect(await next.connack).toBe(0);
  });

  test('an authorizer that does not answer within 5 s (the virtual clock) fails the connect; packets wait meanwhile', async () => {
    let called!: () => void;
    const asked = new Promise<void>((resolve) => (called = resolve));
    const iot = await authEndpoint({ slow: () => (called(), new Promise<never>(() => {})) }, { clock: 'virtual' });
    const c = overTls(iot, { protocolVersion, username: '?x-amz-customauthorizer-name=slow' });
    await asked;
    await expect(iot.settled({ timeoutMs: 50 })).rejects.toThrow(/custom authorizer "slow" has not answered/);
    iot.clock.advance(4999);
    expect(iot.trace.filter({ event: 'authorizer' })).toEqual([]);
    iot.clock.advance(1);
    expect(iot.trace.filter({ event: 'authorizer' })).toEqual([expect.objectContaining({ authorizer: 'slow', isAuthenticated: false, durationMs: 5000, error: expect.stringContaining('no answer within 5 s') })]);
    expect(await c.connack).toBe(v5 ? 0x87 : 'closed');
  });

  test('disconnectAfterInSeconds closes the connection on the endpoint\'s clock (CUSTOMAUTH_TTL_EXPIRATION; v5 DISCONNECT 0x87); the will goes out', async () => {
    const iot = await authEndpoint({
      a: () => allowed('p1', [allowAll], { disconnectAfterInSeconds: 600, refreshAfterInSeconds: 86_400 }),
      long: () => allowed('p2', [allowAll], { disconnectAfterInSeconds: 86_400, refreshAfterInSeconds: 86_400 }),
    }, { clock: 'virtual' });
    const watcher = overTls(iot, { protocolVersion, clientId: 'watcher', username: '?x-amz-customauthorizer-name=long', keepalive: 0 });
    expect(await watcher.connack).toBe(0);
    await watcher.subscribeAsync('lwt/dev-1', { qos: 1 });
    const c = overTls(iot, { protocolVersion, username: '?x-amz-customauthorizer-name=a', keepalive: 0, will: { topic: 'lwt/dev-1', payload: Buffer.from('gone'), qos: 1, retain: false } });
    expect(await c.connack).toBe(0);
    const will = new Promise<string>((resolve) => watcher.once('message', (_t, p) => resolve(p.toString())));

    iot.clock.advance(599_999);
    expect(iot.trace.filter({ event: 'disconnect', clientId: 'dev-1' })).toEqual([]);
    iot.clock.advance(1);
    expect(iot.trace.filter({ event: 'disconnect', clientId: 'dev-1' })).toEqual([expect.objectContaining({ reason: 'CUSTOMAUTH_TTL_EXPIRATION', willPublished: true })]);
    if (v5) expect(await c.disconnectCode).toBe(0x87);
    expect(await will).toBe('gone');
    const lifecycle = await iot.trace.waitFor({ event: 'publish', origin: 'lifecycle', topic: '$aws/events/presence/disconnected/dev-1' });
    expect(JSON.parse(Buffer.from(lifecycle.payload).toString())).toMatchObject({ disconnectReason: 'CUSTOMAUTH_TTL_EXPIRATION', clientInitiatedDisconnect: false });
  });

  test('refreshAfterInSeconds asks the authorizer again (same connection id); its new policies apply, and a refusal closes the connection', async () => {
    const requests: CustomAuthorizerRequest[] = [];
    const answers = [
      allowed('p1', [allowAll], { refreshAfterInSeconds: 300 }),
      allowed('p1', [JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }, { Effect: 'Deny', Action: 'iot:Receive', Resource: `${ARN}:topic/cmd/secret` }] })], { refreshAfterInSeconds: 400 }),
      { isAuthenticated: false },
    ];
    const iot = await authEndpoint({ a: (request) => (requests.push(request), answers[requests.length - 1]!) }, { clock: 'virtual' });
    const c = overTls(iot, { protocolVersion, username: '?x-amz-customauthorizer-name=a', keepalive: 0 });
    expect(await c.connack).toBe(0);
    await c.subscribeAsync('cmd/#', { qos: 1 });

    iot.clock.advance(300_000);
    await iot.trace.waitFor({ event: 'authorizer', refresh: true });
    expect(requests).toHaveLength(2);
    expect(requests[1]!.connectionMetadata.id).toBe(requests[0]!.connectionMetadata.id);
    const got: string[] = [];
    c.on('message', (_t, p) => got.push(p.toString()));
    iot.publish('cmd/secret', 'hidden', { qos: 1 });
    iot.publish('cmd/open', 'shown', { qos: 1 });
    await iot.trace.waitFor({ kind: 'packet', direction: 'in', clientId: 'dev-1', packet: { cmd: 'puback' } });
    expect(got).toEqual(['shown']);
    expect(iot.trace.filter({ event: 'authorization' })).toEqual([expect.objectContaining({ action: 'iot:Receive', reaction: 'not-delivered', statement: 'p1/policyDocuments[0]#1' })]);

    iot.clock.advance(399_999);
    expect(requests).toHaveLength(2);
    iot.clock.advance(1);
    expect(await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' })).toMatchObject({ reason: 'AUTH_ERROR' });
    expect(iot.trace.filter({ event: 'authorizer', refresh: true })).toHaveLength(2);
  });
});

test('one advance of the virtual clock over a refresh and its 5 s: the refresh had no real time to answer, and times out', async () => {
  const iot = await authEndpoint({ a: async () => allowed('p1', [allowAll], { refreshAfterInSeconds: 300 }) }, { clock: 'virtual' });
  const c = overTls(iot, { username: '?x-amz-customauthorizer-name=a', keepalive: 0 });
  expect(await c.connack).toBe(0);
  iot.clock.advance(305_000);
  expect(iot.trace.filter({ event: 'authorizer', refresh: true })).toEqual([expect.objectContaining({ isAuthenticated: false, error: expect.stringContaining('no answer within 5 s') })]);
  expect(iot.trace.filter({ event: 'disconnect', clientId: 'dev-1' })).toEqual([expect.objectContaining({ reason: 'AUTH_ERROR' })]);
});

describe('token signing', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signed = (token: string, key = privateKey) => encodeURIComponent(sign('sha256', Buffer.from(token), key).toString('base64'));
  const config = (requests: CustomAuthorizerRequest[]) => ({
    signed: { handler: (request: CustomAuthorizerRequest) => (requests.push(request), allowed('p1')), tokenKeyName: 'deviceToken', tokenSigningPublicKeys: { key1: publicKey.export({ type: 'spki', format: 'pem' }) as string } },
  });

  test.each([4, 5] as const)('MQTT %s: a token signed with the authorizer\'s key is verified and handed over; a bad signature is refused before the authorizer runs (v5: 0x86)', async (protocolVersion) => {
    const requests: CustomAuthorizerRequest[] = [];
    const iot = await authEndpoint(config(requests));
    const ok = overTls(iot, { protocolVersion, username: `?x-amz-customauthorizer-name=signed&deviceToken=tok-1&x-amz-customauthorizer-signature=${signed('tok-1')}` });
    expect(await ok.connack).toBe(0);
    expect(requests).toEqual([expect.objectContaining({ token: 'tok-1', signatureVerified: true })]);

    const forged = overTls(iot, { protocolVersion, clientId: 'dev-2', username: `?x-amz-customauthorizer-name=signed&deviceToken=tok-1&x-amz-customauthorizer-signature=${signed('tok-1', other.privateKey)}` });
    expect(await forged.connack).toBe(protocolVersion === 5 ? 0x86 : 'closed');
    expect(await iot.trace.waitFor({ event: 'authorizer', clientId: 'dev-2' })).toMatchObject({ authorizer: 'signed', isAuthenticated: false, error: expect.stringContaining('does not verify') });
    const unsigned = overTls(iot, { protocolVersion, clientId: 'dev-3', username: '?x-amz-customauthorizer-name=signed&deviceToken=tok-1' });
    expect(await unsigned.connack).toBe(protocolVersion === 5 ? 0x86 : 'closed');
    expect(await iot.trace.waitFor({ event: 'authorizer', clientId: 'dev-3' })).toMatchObject({ error: expect.stringContaining('x-amz-customauthorizer-signature is missing') });
    expect(requests).toHaveLength(1);
  });
});

describe('selection', () => {
  test('WebSocket without SigV4: the authorizer\'s name and token in the upgrade\'s headers (credentials configured, so nothing else gets in)', async () => {
    const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
    const requests: CustomAuthorizerRequest[] = [];
    const iot = await authEndpoint({ ws: { handler: (request) => (requests.push(request), allowed('wsuser')), tokenKeyName: 'x-device-token' } }, { websockets: true, credentials });
    const headers = { 'x-amz-customauthorizer-name': 'ws', 'x-device-token': 'abc' };
    const c = connect(`${iot.ws!.url}?model=t1000`, { ca: iot.tls!.caCertificate, wsOptions: { headers }, username: 'ws-user', password: 'pw' });
    expect(await c.connack).toBe(0);
    expect(requests[0]).toMatchObject({
      token: 'abc', signatureVerified: false, protocols: ['tls', 'http', 'mqtt'],
      protocolData: { tls: { serverName: 'localhost' }, http: { headers: expect.objectContaining(headers), queryString: '?model=t1000' }, mqtt: { username: 'ws-user', password: Buffer.from('pw').toString('base64'), clientId: 'dev-1' } },
    });
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'dev-1' })).toMatchObject({ transport: 'wss', principal: 'wsuser', authorizer: 'ws' });

    // Unsigned and naming no authorizer: no way in (v3: no CONNACK), while the upgrade itself is let through.
    const nobody = connect(iot.ws!.url, { clientId: 'dev-2', ca: iot.tls!.caCertificate });
    expect(await nobody.connack).toBe('closed');
    expect(await iot.trace.waitFor({ event: 'authorizer', clientId: 'dev-2' })).toMatchObject({ isAuthenticated: false, error: expect.stringContaining('no authorizer named') });
  });

  test('the default authorizer serves clients that name none; without allowAuthorizerOverride a name they send is ignored', async () => {
    const used: string[] = [];
    const iot = await authEndpoint({ main: () => (used.push('main'), allowed('m1')), other: () => (used.push('other'), allowed('o1')) }, { defaultAuthorizer: 'main' });
    expect(await overTls(iot, { username: 'plain-user', password: 'pw' }).connack).toBe(0);
    expect(await overTls(iot, { clientId: 'dev-2', username: '?x-amz-customauthorizer-name=other' }).connack).toBe(0);
    expect(used).toEqual(['main', 'main']);

    const open = await authEndpoint({ main: () => (used.push('main'), allowed('m1')), other: () => (used.push('other'), allowed('o1')) }, { defaultAuthorizer: { name: 'main', allowAuthorizerOverride: true } });
    expect(await overTls(open, { username: '?x-amz-customauthorizer-name=other' }).connack).toBe(0);
    expect(used).toEqual(['main', 'main', 'other']);
  });

  test('ALPN mqtt without a name and without a default is refused; an unknown name too', async () => {
    const iot = await authEndpoint({ a: () => allowed('p1') });
    expect(await overTls(iot, { protocolVersion: 5, username: 'someone' }).connack).toBe(0x87);
    expect(await overTls(iot, { protocolVersion: 5, clientId: 'dev-2', username: '?x-amz-customauthorizer-name=b' }).connack).toBe(0x87);
    expect(iot.trace.filter({ event: 'authorizer' }).map((e) => e.error)).toEqual([expect.stringContaining('no authorizer named'), expect.stringContaining('no authorizer named "b"')]);
  });

  test('a certificate connection (ALPN x-amzn-mqtt-ca) ignores the user name; ALPN mqtt needs authorizers to be configured', async () => {
    const ran: string[] = [];
    const iot = await authEndpoint({ a: () => (ran.push('a'), allowed('p1')) });
    const dev = iot.createThing('dev-1');
    const c = connect(iot.tls!.url, { ALPNProtocols: ['x-amzn-mqtt-ca'], ca: dev.caCertificate, cert: dev.certificatePem, key: dev.privateKey, username: '?x-amz-customauthorizer-name=a&SDK=NodeJSv2' });
    expect(await c.connack).toBe(0);
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'dev-1' })).toMatchObject({ principal: dev.certificateId });
    expect(ran).toEqual([]);

    const plain = await endpoint({ tls: true });
    overTls(plain, { username: '?x-amz-customauthorizer-name=a' });
    expect(await plain.trace.waitFor({ event: 'transport-error' })).toMatchObject({ reason: 'alpn-refused', message: expect.stringContaining('configure options.authorizers') });
  });

  test('the plain port runs an authorizer only when the user name names one (the default does not apply there)', async () => {
    const iot = await authEndpoint({ a: () => allowed('p1') }, { defaultAuthorizer: 'a' });
    const open = connect(iot.url, { clientId: 'no-auth' });
    expect(await open.connack).toBe(0);
    const named = connect(iot.url, { clientId: 'named', username: 'u?x-amz-customauthorizer-name=a' });
    expect(await named.connack).toBe(0);
    expect(iot.clients().map((c) => [c.clientId, c.principal, c.authorizer])).toEqual([['no-auth', undefined, undefined], ['named', 'p1', 'a']]);
    // No policy of the endpoint's own: only the authorizer's connection is checked (and allowed here).
    await open.subscribeAsync('anything/#');
  });
});

describe('while the authorizer runs', () => {
  /** An authorizer that answers only when released; `called` resolves once it was asked. */
  function gated() {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let asked!: () => void;
    const called = new Promise<void>((resolve) => (asked = resolve));
    return { release, called, authorizers: { a: async () => (asked(), await gate, allowed('p1')) } };
  }

  test('packets sent before the CONNACK wait under packetBeforeConnack: allow, and are a violation by default', async () => {
    const { release, called, authorizers } = gated();
    const iot = await authEndpoint(authorizers, { packetBeforeConnack: 'allow' });
    const r = await raw(iot);
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'raw-1', keepalive: 60, username: '?x-amz-customauthorizer-name=a' });
    await called;
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cmd/raw-1', qos: 1 }] });
    await iot.trace.waitFor({ kind: 'packet', direction: 'in', clientId: 'raw-1', packet: { cmd: 'subscribe' } });
    release();
    const [suback] = await r.count('suback', 1);
    expect(r.received.map((p) => p.cmd)).toEqual(['connack', 'suback']);
    expect(suback!.granted).toEqual([1]);

    const held = gated();
    const strict = await authEndpoint(held.authorizers);
    const s = await raw(strict);
    s.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'raw-2', keepalive: 60, username: '?x-amz-customauthorizer-name=a' });
    await held.called;
    s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cmd/raw-2', qos: 1 }] });
    expect(await strict.trace.waitFor({ event: 'violation', clientId: 'raw-2' })).toMatchObject({ rule: 'aws.wait-for-connack' });
    await s.closed;
  });
});

describe('options', () => {
  const { publicKey: ecKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  test.each([
    ['not an object', { authorizers: 'a' }, /options\.authorizers must be an object of authorizers by name/],
    ['a bad name', { authorizers: { 'my authorizer': () => allowed('p') } }, /"my authorizer" is not an authorizer name AWS accepts/],
    ['no handler', { authorizers: { a: { tokenKeyName: 't' } } }, /options\.authorizers\["a"\]\.handler must be a function/],
    ['an unknown setting', { authorizers: { a: { handler: () => allowed('p'), tokenKey: 't' } } }, /unknown option options\.authorizers\["a"\]\.tokenKey\. Did you mean "tokenKeyName"/],
    ['signing without keys', { authorizers: { a: { handler: () => allowed('p'), tokenKeyName: 't', signingDisabled: false } } }, /token signing is on .* no tokenSigningPublicKeys/],
    ['signing without a token key name', { authorizers: { a: { handler: () => allowed('p'), tokenSigningPublicKeys: { k: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) } } } }, /token signing needs tokenKeyName/],
    ['an EC signing key', { authorizers: { a: { handler: () => allowed('p'), tokenKeyName: 't', tokenSigningPublicKeys: { k: ecKey.export({ type: 'spki', format: 'pem' }) } } } }, /must be an RSA key of 2048 bits or more/],
    ['a key that is not PEM', { authorizers: { a: { handler: () => allowed('p'), tokenKeyName: 't', tokenSigningPublicKeys: { k: 'nope' } } } }, /tokenSigningPublicKeys\["k"\] cannot be read as a public key/],
    ['a default that is not configured', { authorizers: { a: () => allowed('p') }, defaultAuthorizer: 'b' }, /options\.defaultAuthorizer names "b", which is not in options\.authorizers/],
    ['a default without authorizers', { defaultAuthorizer: 'b' }, /options\.defaultAuthorizer needs options\.authorizers/],
    ['TTL limits the wrong way round', { limits: { customAuthMinTtlSeconds: 600, customAuthMaxTtlSeconds: 300 } }, /customAuthMinTtlSeconds \(600\) must not exceed/],
  ])('%s is refused up front (INVALID_OPTION)', async (_what, options, message) => {
    await expect(endpoint(options as FakeIotOptions)).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringMatching(message) });
  });
});
