/**
 * MQTT over WebSocket with SigV4 (issue 11): real MQTT.js and `ws` clients, real HTTP, real sockets.
 */
import { createHash, createHmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SignatureV4 } from '@smithy/signature-v4';
import type { MqttClient } from 'mqtt';
import type { FakeIot, TraceEntry, TransportFailure } from '../../src';
import { client, endpoint, trackUncaught } from '../helpers';
import { CREDENTIALS, handshake, httpGet, mqttOver, presignLikeSdkV1, sendBytes, signedUrl, wsClient } from './ws-helpers';

const uncaught = trackUncaught();

/** SHA-256 / HMAC for @smithy/signature-v4, over node:crypto. */
class Sha256 {
  private readonly h;
  constructor(secret?: string | ArrayBufferView | ArrayBuffer) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as Uint8Array));
  }
  update(chunk: Uint8Array) {
    this.h.update(chunk);
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
  reset() {}
}
const open: MqttClient[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.end(true);
});
const keep = <C extends MqttClient>(c: C) => (open.push(c), c);

/** An endpoint serving plain ws:// beside TCP, verifying signatures of CREDENTIALS. */
const wsEndpoint = (extra: Parameters<typeof endpoint>[0] = {}) => endpoint({ websockets: { tls: false }, credentials: CREDENTIALS, ...extra });

/** The endpoint still serves: a message from the cloud reaches the bystander. */
async function stillServes(iot: FakeIot, bystander: MqttClient, clientId: string, text: string) {
  const got = new Promise<string>((resolve) => bystander.once('message', (_t, payload) => resolve(payload.toString())));
  iot.publish(`bystander/${clientId}`, text, { qos: 1 });
  expect(await got).toBe(text);
}

describe('MQTT over WebSocket with SigV4', () => {
  test('MQTT.js over ws:// with a signed URL: connect, subscribe, receive, publish; the connect event names transport and principal', async () => {
    const iot = await wsEndpoint();
    expect(iot.ws).toEqual({ port: expect.any(Number), url: `ws://127.0.0.1:${iot.ws!.port}/mqtt` });
    expect(iot.ws!.port).not.toBe(iot.port);
    const device = keep(await wsClient(await signedUrl(iot), 'ws-dev-1'));
    await device.subscribeAsync('cmd/ws-dev-1', { qos: 1 });

    const message = new Promise<string>((resolve) => device.once('message', (_t, payload) => resolve(payload.toString())));
    iot.publish('cmd/ws-dev-1', 'reboot', { qos: 1 });
    expect(await message).toBe('reboot');

    device.publish('state/ws-dev-1', 'rebooting', { qos: 1 });
    const report = await iot.trace.waitFor({ direction: 'in', clientId: 'ws-dev-1', packet: { cmd: 'publish', topic: 'state/ws-dev-1' } });
    expect(report.packet.payload.toString()).toBe('rebooting');

    const connect = iot.trace.find({ event: 'connect', clientId: 'ws-dev-1' })!;
    expect(connect).toMatchObject({ transport: 'ws', principal: CREDENTIALS.accessKeyId, remoteAddress: '127.0.0.1' });
    expect(iot.clients()).toEqual([expect.objectContaining({ clientId: 'ws-dev-1', transport: 'ws', principal: CREDENTIALS.accessKeyId })]);
  });

  test('plain TCP clients report transport tcp and no principal, beside WebSocket ones', async () => {
    const iot = await wsEndpoint();
    await client(iot, 'tcp-dev');
    keep(await wsClient(await signedUrl(iot), 'ws-dev'));
    expect(iot.trace.find({ event: 'connect', clientId: 'tcp-dev' })).toMatchObject({ transport: 'tcp' });
    expect(iot.trace.find({ event: 'connect', clientId: 'tcp-dev' })!).not.toHaveProperty('principal');
    const byId = Object.fromEntries(iot.clients().map((c) => [c.clientId, c]));
    expect(byId['tcp-dev']).toMatchObject({ transport: 'tcp' });
    expect(byId['tcp-dev']).not.toHaveProperty('principal');
    expect(byId['ws-dev']).toMatchObject({ transport: 'ws', principal: CREDENTIALS.accessKeyId });
  });

  test.each(['mqtt', 'mqttv3.1'])('the %s subprotocol is echoed and carries MQTT', async (subprotocol) => {
    const iot = await wsEndpoint();
    const result = await handshake(await signedUrl(iot), [subprotocol]);
    if (!result.opened) throw new Error(`refused with HTTP ${result.status}: ${result.body}`);
    expect(result.protocol).toBe(subprotocol);
    const link = mqttOver(result.socket);
    link.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: `sub-${subprotocol}` });
    expect((await link.next('connack')).returnCode).toBe(0);
    link.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 0 }] });
    await link.next('suback');
    iot.publish('t', 'hello');
    expect((await link.next('publish')).payload.toString()).toBe('hello');
    result.socket.terminate();
  });

  test('a URL signed the way the AWS IoT device SDK v1 signs it (no X-Amz-Expires, host without port, node:crypto) is accepted', async () => {
    const iot = await wsEndpoint();
    const url = presignLikeSdkV1({ host: '127.0.0.1', port: iot.ws!.port, region: 'us-east-1', credentials: CREDENTIALS, date: iot.clock.now() });
    keep(await wsClient(url, 'sdk-v1-style'));
    expect(iot.trace.find({ event: 'connect', clientId: 'sdk-v1-style' })).toMatchObject({ transport: 'ws', principal: CREDENTIALS.accessKeyId });
  });

  test('temporary credentials: the session token is appended after signing; a missing token, or one inside the signature, is refused and says why', async () => {
    const credentials = { ...CREDENTIALS, sessionToken: 'FwoGZXIvYXdzEFAKE//token+with/slashes==' };
    const iot = await wsEndpoint({ credentials });
    keep(await wsClient(await signedUrl(iot, { credentials }), 'sts-dev'));
    expect(iot.trace.find({ event: 'connect', clientId: 'sts-dev' })).toMatchObject({ principal: credentials.accessKeyId });
    const v1 = presignLikeSdkV1({ host: '127.0.0.1', port: iot.ws!.port, region: 'us-east-1', credentials, date: iot.clock.now() });
    keep(await wsClient(v1, 'sts-v1'));

    const withoutToken = await signedUrl(iot); // the right key and secret, no token
    expect(await handshake(withoutToken)).toMatchObject({ opened: false, status: 403 });
    expect((await iot.trace.waitFor({ event: 'transport-error' })).reason).toBe('invalid-security-token');

    // A generic SigV4 presigner puts the token inside the canonical query: AWS IoT wants it outside.
    const signer = new SignatureV4({ credentials, region: 'us-east-1', service: 'iotdevicegateway', sha256: Sha256 });
    const host = `127.0.0.1:${iot.ws!.port}`;
    const signed = await signer.presign({ method: 'GET', protocol: 'ws:', hostname: '127.0.0.1', port: iot.ws!.port, path: '/mqtt', headers: { host }, query: {} }, { signingDate: new Date(iot.clock.now()), expiresIn: 300 });
    const query = Object.entries(signed.query!).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&');
    expect(query).toContain('X-Amz-Security-Token=');
    expect(await handshake(`ws://${host}/mqtt?${query}`)).toMatchObject({ opened: false, status: 403 });
    const inside = await iot.trace.waitFor({ event: 'transport-error', reason: 'signature-mismatch' });
    expect(inside.message).toMatch(/covers X-Amz-Security-Token; AWS IoT wants the session token appended after signing/);
  });

  describe('refusals: an HTTP status, a transport-error event, no upgrade, and a bystander that keeps working', () => {
    let iot: FakeIot;
    let bystander: MqttClient;
    let n = 0;
    beforeEach(async () => {
      iot = await wsEndpoint({ clock: 'virtual' });
      // Keep-alive 1200 s: the virtual clock moves minutes ahead in some tests, and the bystander must stay.
      bystander = keep(await wsClient(await signedUrl(iot), `bystander-${++n}`, { keepalive: 1200 }));
      await bystander.subscribeAsync(`bystander/bystander-${n}`, { qos: 1 });
    });

    const refusal = async (reason: TransportFailure) => {
      const event = (await iot.trace.waitFor({ event: 'transport-error', reason })) as Extract<TraceEntry, { event: 'transport-error' }>;
      expect(event).toMatchObject({ transport: 'ws', remoteAddress: '127.0.0.1' });
      expect(iot.trace.filter({ event: 'connect' })).toHaveLength(1); // the bystander's only
      await stillServes(iot, bystander, `bystander-${n}`, `after ${reason}`);
      return event;
    };

    test('a tampered signature: 403', async () => {
      const url = await signedUrl(iot);
      // The signature's last hex digit, changed (whatever it was).
      const tampered = url.replace(/(X-Amz-Signature=[0-9a-f]{63})([0-9a-f])/, (_m, head: string, digit: string) => `${head}${digit === '0' ? '1' : '0'}`);
      expect(tampered).not.toBe(url);
      expect(await handshake(tampered)).toMatchObject({ opened: false, status: 403 });
      expect((await refusal('signature-mismatch')).message).toMatch(/^HTTP 403: /);
    });

    test('the right access key signed with the wrong secret: 403', async () => {
      const url = await signedUrl(iot, { credentials: { ...CREDENTIALS, secretAccessKey: 'not-the-secret' } });
      expect(await handshake(url)).toMatchObject({ opened: false, status: 403 });
      await refusal('signature-mismatch');
    });

    test('an unknown access key: 403', async () => {
      const url = await signedUrl(iot, { credentials: { ...CREDENTIALS, accessKeyId: 'AKIAUNKNOWNKEY000000' } });
      expect(await handshake(url)).toMatchObject({ opened: false, status: 403 });
      expect((await refusal('unknown-access-key')).message).toContain('AKIAUNKNOWNKEY000000');
    });

    test('an unsigned URL when credentials are configured: 403', async () => {
      expect(await handshake(`ws://127.0.0.1:${iot.ws!.port}/mqtt`)).toMatchObject({ opened: false, status: 403 });
      await refusal('missing-signature');
    });

    test('X-Amz-Date 6 minutes behind the endpoint\'s (virtual) clock: 403; 4 minutes is fine', async () => {
      const url = await signedUrl(iot); // signed at the endpoint's now
      iot.clock.advance(4 * 60_000);
      const fine = await handshake(url);
      expect(fine.opened).toBe(true);
      if (fine.opened) fine.socket.terminate();
      iot.clock.advance(2 * 60_000);
      expect(await handshake(url)).toMatchObject({ opened: false, status: 403 });
      expect((await refusal('clock-skew')).message).toMatch(/ 3(59|60|61) s behind the endpoint's clock/); // X-Amz-Date has whole seconds
    });

    test('X-Amz-Date 6 minutes ahead: 403', async () => {
      const url = await signedUrl(iot, { date: iot.clock.now() + 6 * 60_000 });
      expect(await handshake(url)).toMatchObject({ opened: false, status: 403 });
      expect((await refusal('clock-skew')).message).toMatch(/ 3(59|60|61) s ahead of the endpoint's clock/);
    });

    test('an upgrade at another path: 404', async () => {
      const url = (await signedUrl(iot)).replace('/mqtt?', '/other?');
      expect(await handshake(url)).toMatchObject({ opened: false, status: 404 });
      expect((await refusal('not-found')).message).toContain('"/other"');
    });

    test('a subprotocol that is not MQTT: 400', async () => {
      expect(await handshake(await signedUrl(iot), ['graphql-ws'])).toMatchObject({ opened: false, status: 400 });
      await refusal('unsupported-subprotocol');
    });

    test('a plain HTTP GET without upgrade: 426 at /mqtt, 404 elsewhere', async () => {
      expect((await httpGet(iot.ws!.port, '/mqtt')).status).toBe(426);
      await refusal('upgrade-required');
      expect((await httpGet(iot.ws!.port, '/')).status).toBe(404);
      await refusal('not-found');
    });

    test('garbage bytes, and MQTT bytes, on the WebSocket port: HTTP 400 and closed', async () => {
      const reply = await sendBytes(iot.ws!.port, Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]));
      expect(reply).toMatch(/^HTTP\/1\.1 400 /);
      expect((await refusal('bad-request')).message).toMatch(/^HTTP 400: not an HTTP request/);
      const garbage = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff));
      expect(await sendBytes(iot.ws!.port, garbage)).toMatch(/^HTTP\/1\.1 400 /);
      expect(iot.trace.filter({ event: 'transport-error', reason: 'bad-request' })).toHaveLength(2);
      await stillServes(iot, bystander, `bystander-${n}`, 'after garbage');
    });

    test('an upgrade request that is not a valid WebSocket handshake: 400', async () => {
      const url = new URL(await signedUrl(iot));
      const reply = await sendBytes(iot.ws!.port, Buffer.from(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: 127.0.0.1:${iot.ws!.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`));
      expect(reply).toMatch(/^HTTP\/1\.1 400 /);
      expect((await refusal('bad-handshake')).message).toMatch(/Sec-WebSocket-Key/);
    });
  });

  test('without configured credentials, any well-formed signature is accepted (its key is the principal), and so is an unsigned URL', async () => {
    const iot = await endpoint({ websockets: { tls: false } });
    const other = { accessKeyId: 'AKIAANYKEY0000000000', secretAccessKey: 'anything' };
    keep(await wsClient(await signedUrl(iot, { credentials: other }), 'any-key'));
    keep(await wsClient(iot.ws!.url, 'unsigned'));
    expect(iot.trace.find({ event: 'connect', clientId: 'any-key' })).toMatchObject({ transport: 'ws', principal: other.accessKeyId });
    expect(iot.trace.find({ event: 'connect', clientId: 'unsigned' })).toMatchObject({ transport: 'ws' });
    expect(iot.trace.find({ event: 'connect', clientId: 'unsigned' })).not.toHaveProperty('principal');
    // A malformed one is still refused.
    expect(await handshake(`${iot.ws!.url}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00`)).toMatchObject({ opened: false, status: 403 });
    expect((await iot.trace.waitFor({ event: 'transport-error' })).reason).toBe('malformed-signature');
  });

  test('chaos and the trace work the same over WebSocket: dropConnection cuts a WebSocket client', async () => {
    const iot = await wsEndpoint({ chaos: { dropConnection: { afterPackets: 1, clients: ['ws-chaos'] } } });
    const device = keep(await wsClient(await signedUrl(iot), 'ws-chaos'));
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device.publish('state/ws-chaos', 'x', { qos: 1 });
    const gone = await iot.trace.waitFor({ event: 'disconnect', clientId: 'ws-chaos' });
    expect(gone.reason).toBe('SERVER_INITIATED_DISCONNECT');
    expect(gone.chaos?.fault).toBe('dropConnection');
    await closed; // the WebSocket really closed
    expect(iot.clients()).toEqual([]);
  });

  test('a client that closes its WebSocket is seen leaving (CONNECTION_LOST without DISCONNECT, CLIENT_INITIATED with it)', async () => {
    const iot = await wsEndpoint();
    const a = await wsClient(await signedUrl(iot), 'ws-leaves');
    a.end(true); // no DISCONNECT packet: just the WebSocket going
    expect((await iot.trace.waitFor({ event: 'disconnect', clientId: 'ws-leaves' })).reason).toBe('CONNECTION_LOST');
    const b = await wsClient(await signedUrl(iot), 'ws-says-bye');
    await b.endAsync();
    expect((await iot.trace.waitFor({ event: 'disconnect', clientId: 'ws-says-bye' })).reason).toBe('CLIENT_INITIATED_DISCONNECT');
  });

  test('AWS\'s limits act over WebSocket as over TCP: a payload over maxPayloadBytes is a violation, not a WebSocket error', async () => {
    const iot = await wsEndpoint({ limits: { maxPayloadBytes: 1024 } });
    const device = keep(await wsClient(await signedUrl(iot), 'ws-big'));
    device.publish('state/ws-big', Buffer.alloc(4096, 1), { qos: 0 });
    const violation = await iot.trace.waitFor({ event: 'violation', clientId: 'ws-big' });
    expect(violation).toMatchObject({ rule: 'limits.maxPayloadBytes', limit: 'maxPayloadBytes', max: 1024 });
    expect((await iot.trace.waitFor({ event: 'disconnect', clientId: 'ws-big' })).reason).toBe('CLIENT_ERROR');
  });

  test('lifecycle events of a SigV4 connection carry the IAM-style principalIdentifier (<account>/<access key id>)', async () => {
    const iot = await wsEndpoint({ accountId: '210987654321' });
    const watcher = keep(await wsClient(await signedUrl(iot), 'ws-watcher'));
    await watcher.subscribeAsync('$aws/events/presence/connected/ws-dev-life', { qos: 1 });
    const event = new Promise<string>((resolve) => watcher.once('message', (_t, payload) => resolve(payload.toString())));
    keep(await wsClient(await signedUrl(iot), 'ws-dev-life'));
    expect(JSON.parse(await event)).toMatchObject({ clientId: 'ws-dev-life', principalIdentifier: `210987654321/${CREDENTIALS.accessKeyId}` });
  });

  test('nothing reached the host', () => {
    expect(uncaught).toEqual([]);
  });
});
