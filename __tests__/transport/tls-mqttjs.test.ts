/**
 * MQTT.js over TLS with client certificates, as device code connects to AWS IoT on 8883 and on 443 with
 * ALPN x-amzn-mqtt-ca: real handshakes, the identity in the trace, iot.clients() and lifecycle events.
 */
import * as tls from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import type { FakeIot } from '../../src';
import { endpoint } from '../helpers';
import { type Credentials, fixtureDevice, rawTls, tlsClient } from './tls-helpers';
import { X509Certificate } from 'node:crypto';
import { certificateIdOf } from '../../src/identity/authority';

const idOf = (pem: string) => certificateIdOf(new X509Certificate(pem).raw);

/** The round trip every cell of issue 11 asks for: subscribe, a message from iot.publish, one published and awaited. */
async function roundTrip(iot: FakeIot, client: MqttClient, clientId: string) {
  await client.subscribeAsync(`cmd/${clientId}`, { qos: 1 });
  const received = new Promise<string>((resolve) => client.once('message', (_t, payload) => resolve(payload.toString())));
  iot.publish(`cmd/${clientId}`, 'reboot', { qos: 1 });
  expect(await received).toBe('reboot');
  client.publish(`state/${clientId}`, 'rebooting', { qos: 1 });
  const report = await iot.trace.waitFor({ direction: 'in', clientId, packet: { cmd: 'publish', topic: `state/${clientId}` } });
  expect(report.packet.payload.toString()).toBe('rebooting');
}

describe('MQTT.js over mqtts with a client certificate', () => {
  test('a certificate from createThing(): round trip, principal and thingName in the connect event and iot.clients()', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('dev-1', { attributes: { model: 'x1' } });
    expect(dev.certificateId).toBe(idOf(dev.certificatePem));
    expect(dev.certificateId).toMatch(/^[0-9a-f]{64}$/);
    expect(dev.certificateArn).toBe(`arn:aws:iot:us-east-1:123456789012:cert/${dev.certificateId}`);
    expect(iot.tls!.url).toBe(`mqtts://localhost:${iot.tls!.port}`);
    expect(iot.tls!.port).not.toBe(iot.port);

    const client = await tlsClient(iot, 'dev-1', dev);
    const connect = await iot.trace.waitFor({ event: 'connect', clientId: 'dev-1' });
    expect(connect).toMatchObject({ transport: 'tls', principal: dev.certificateId, thingName: 'dev-1', sni: 'localhost' });
    expect(connect.alpn).toBeUndefined();
    expect(iot.clients()).toEqual([expect.objectContaining({ clientId: 'dev-1', transport: 'tls', principal: dev.certificateId, thingName: 'dev-1' })]);
    await roundTrip(iot, client, 'dev-1');
  });

  test('a fixtures/ device certificate (not attached to a thing): principal is its id, no thingName', async () => {
    const iot = await endpoint({ tls: true });
    const device = fixtureDevice('device-1');
    const client = await tlsClient(iot, 'fixture-dev', device);
    const connect = await iot.trace.waitFor({ event: 'connect', clientId: 'fixture-dev' });
    expect(connect).toMatchObject({ transport: 'tls', principal: idOf(device.certificatePem) });
    expect(connect).not.toHaveProperty('thingName');
    await roundTrip(iot, client, 'fixture-dev');
  });

  test('TLS with ALPN x-amzn-mqtt-ca (a device configured for port 443): accepted, alpn in the connect event', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('dev-443');
    const client = await tlsClient(iot, 'dev-443', dev, { ALPNProtocols: ['x-amzn-mqtt-ca'] });
    const connect = await iot.trace.waitFor({ event: 'connect', clientId: 'dev-443' });
    expect(connect).toMatchObject({ transport: 'tls', principal: dev.certificateId, thingName: 'dev-443', alpn: 'x-amzn-mqtt-ca' });
    await roundTrip(iot, client, 'dev-443');
  });

  test('a certificate from createCertificate() is attached to no thing and still connects (AWS allows it)', async () => {
    const iot = await endpoint({ tls: true });
    const cert = iot.createCertificate();
    expect(cert).not.toHaveProperty('thingName');
    const client = await tlsClient(iot, 'loose', cert);
    const connect = await iot.trace.waitFor({ event: 'connect', clientId: 'loose' });
    expect(connect.principal).toBe(cert.certificateId);
    expect(connect).not.toHaveProperty('thingName');
    await roundTrip(iot, client, 'loose');
  });

  test('lifecycle events carry the certificate id as principalIdentifier; plain TCP keeps its stand-in', async () => {
    const iot = await endpoint({ tls: true, accountId: '111122223333', region: 'eu-west-1' });
    const watcher = await mqtt.connectAsync(iot.url, { clientId: 'watcher', reconnectPeriod: 0 });
    try {
      await watcher.subscribeAsync('$aws/events/presence/+/+', { qos: 1 });
      const events: Record<string, unknown>[] = [];
      let allFour: () => void;
      const four = new Promise<void>((resolve) => (allFour = resolve));
      watcher.on('message', (_t, payload) => {
        events.push(JSON.parse(payload.toString()));
        if (events.length === 4) allFour();
      });
      const dev = iot.createThing('dev-life');
      expect(dev.certificateArn).toBe(`arn:aws:iot:eu-west-1:111122223333:cert/${dev.certificateId}`);
      expect(dev.thingArn).toBe('arn:aws:iot:eu-west-1:111122223333:thing/dev-life');
      const client = await tlsClient(iot, 'dev-life', dev);
      await client.endAsync();
      const plain = await mqtt.connectAsync(iot.url, { clientId: 'plain-dev', reconnectPeriod: 0 });
      await plain.endAsync();
      await four;
      const of = (clientId: string, eventType: string) => events.find((e) => e.clientId === clientId && e.eventType === eventType);
      expect(of('dev-life', 'connected')).toMatchObject({ principalIdentifier: dev.certificateId, ipAddress: '127.0.0.1' });
      expect(of('dev-life', 'disconnected')).toMatchObject({ principalIdentifier: dev.certificateId, disconnectReason: 'CLIENT_INITIATED_DISCONNECT' });
      const plainPrincipal = of('plain-dev', 'connected')!.principalIdentifier;
      expect(plainPrincipal).toMatch(/^[0-9a-f]{64}$/);
      expect(plainPrincipal).not.toBe(dev.certificateId);
      expect(of('plain-dev', 'disconnected')!.principalIdentifier).toBe(plainPrincipal);
    } finally {
      watcher.end(true);
    }
  });

  test('the plain port stays: a plain client is transport tcp, without principal, beside a TLS one', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('dev-tls');
    await tlsClient(iot, 'dev-tls', dev);
    const plain = await mqtt.connectAsync(iot.url, { clientId: 'dev-tcp', reconnectPeriod: 0 });
    try {
      const connect = await iot.trace.waitFor({ event: 'connect', clientId: 'dev-tcp' });
      expect(connect.transport).toBe('tcp');
      expect(connect).not.toHaveProperty('principal');
      const byId = Object.fromEntries(iot.clients().map((c) => [c.clientId, c]));
      expect(byId['dev-tcp']).toMatchObject({ transport: 'tcp' });
      expect(byId['dev-tcp']).not.toHaveProperty('principal');
      expect(byId['dev-tls']).toMatchObject({ transport: 'tls', principal: dev.certificateId, thingName: 'dev-tls' });
      expect(iot.trace.format()).toMatch(/\*\*\* connect .* tls principal=[0-9a-f]{12}… thing=dev-tls/);
    } finally {
      plain.end(true);
    }
  });

  test('an endpoint without tls has no TLS listener: iot.tls is undefined, the plain client is tcp', async () => {
    const iot = await endpoint();
    expect(iot.tls).toBeUndefined();
    const plain = await mqtt.connectAsync(iot.url, { clientId: 'only-tcp', reconnectPeriod: 0 });
    try {
      expect((await iot.trace.waitFor({ event: 'connect', clientId: 'only-tcp' })).transport).toBe('tcp');
    } finally {
      plain.end(true);
    }
  });

  test('the server certificate names localhost, 127.0.0.1 and the AWS data endpoint (hostname checks pass)', async () => {
    const iot = await endpoint({ tls: true });
    const device = fixtureDevice('device-2');
    for (const [host, servername] of [['localhost', 'localhost'], ['127.0.0.1', undefined], ['127.0.0.1', 'a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com']] as const) {
      const attempt = rawTls(iot, { host, cert: device.certificatePem, key: device.privateKey, ...(servername ? { servername } : { servername: undefined }) });
      expect(await attempt.secure).toBe(true);
      expect(attempt.socket.authorized).toBe(true); // the client verified the server against the fixture CA and the name
      attempt.socket.destroy();
    }
    const wrongName = rawTls(iot, { cert: device.certificatePem, key: device.privateKey, servername: 'example.com' });
    expect(await wrongName.closed).toEqual({ error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  test('no TLS session resumption (AWS issues no session tickets): a saved session is not reused', async () => {
    const iot = await endpoint({ tls: true });
    const device: Credentials = fixtureDevice('device-1');
    const first = rawTls(iot, { cert: device.certificatePem, key: device.privateKey });
    const session = await new Promise<Buffer | undefined>((resolve) => {
      first.socket.once('session', (s: Buffer) => resolve(s));
      first.socket.once('close', () => resolve(undefined));
    });
    expect(await first.secure).toBe(true);
    first.socket.destroy();
    expect(session).toBeInstanceOf(Buffer); // TLS 1.3 hands the client a session...
    const second = rawTls(iot, { cert: device.certificatePem, key: device.privateKey, session: session! });
    expect(await second.secure).toBe(true);
    expect(second.socket.isSessionReused()).toBe(false); // ...that the endpoint does not resume
    expect((second.socket as tls.TLSSocket).getProtocol()).toMatch(/^TLSv1\.[23]$/);
    second.socket.destroy();
  });

  test('user CA: a certificate signed by a CA given in tls.ca is accepted, with its id as principal', async () => {
    const { CertificateAuthority } = await import('../../src/identity/authority');
    const own = CertificateAuthority.create('CN=my company CA');
    const iot = await endpoint({ tls: { ca: own.certificatePem } });
    const issued = own.issue({ subject: 'CN=my-device' });
    const client = await tlsClient(iot, 'my-device', { certificatePem: issued.certificatePem, privateKey: issued.privateKeyPem });
    const connect = await iot.trace.waitFor({ event: 'connect', clientId: 'my-device' });
    expect(connect.principal).toBe(issued.certificateId);
    await client.endAsync();
    // Seen in a handshake, it is in the registry: its status can be set like any other.
    iot.setCertificateStatus(issued.certificateId, 'INACTIVE');
    const again = rawTls(iot, { cert: issued.certificatePem, key: issued.privateKeyPem });
    await again.closed;
    const refused = await iot.trace.waitFor({ event: 'transport-error', reason: 'certificate-inactive' });
    expect(refused.principal).toBe(issued.certificateId);
  });
});
