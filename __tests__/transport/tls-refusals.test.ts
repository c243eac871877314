/**
 * What the TLS port refuses, and how: every refusal is a `transport-error` trace event naming what failed
 * and who tried, nothing reaches the broker (no CONNECT in the trace, no client), the host never sees an
 * exception, and a bystander on the same endpoint keeps working.
 */
import mqtt from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import type { FakeIot } from '../../src';
import { CertificateAuthority } from '../../src/identity/authority';
import { connectPacket, endpoint, trackUncaught } from '../helpers';
import { bystander, fixtureDevice, rawBytes, rawTls, tlsClient } from './tls-helpers';

const uncaught = trackUncaught();
afterEach(() => expect(uncaught).toEqual([]));

/** Nothing of a refused connection reached the broker: no packet read, no client attached. */
function nothingReachedTheBroker(iot: FakeIot) {
  expect(iot.trace.filter((e) => e.kind === 'packet' && e.clientId !== 'bystander')).toEqual([]);
  expect(iot.clients().map((c) => c.clientId)).toEqual(['bystander']);
}

describe('the TLS port refuses', () => {
  test('a certificate from a CA the endpoint does not trust (during the handshake)', async () => {
    const iot = await endpoint({ tls: true });
    const watch = await bystander(iot);
    const stranger = CertificateAuthority.create('CN=someone else').issue();
    const attempt = rawTls(iot, { cert: stranger.certificatePem, key: stranger.privateKeyPem });
    const clientPort = await new Promise<number | undefined>((resolve) => attempt.socket.once('connect', () => resolve(attempt.socket.localPort)));
    await attempt.closed;
    const refused = await iot.trace.waitFor({ event: 'transport-error' });
    expect(refused).toMatchObject({ transport: 'tls', reason: 'unknown-ca', code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', remoteAddress: '127.0.0.1', localPort: iot.tls!.port, sni: 'localhost' });
    expect(refused.remotePort).toBe(clientPort);
    expect(refused.message).toMatch(/not signed by a CA this endpoint trusts/);
    nothingReachedTheBroker(iot);
    await watch.check();
  });

  test('MQTT.js with an untrusted certificate gets a closed connection, never a CONNACK', async () => {
    const iot = await endpoint({ tls: true });
    const watch = await bystander(iot);
    const stranger = CertificateAuthority.create().issue();
    await expect(tlsClient(iot, 'intruder', { certificatePem: stranger.certificatePem, privateKey: stranger.privateKeyPem })).rejects.toThrow();
    await iot.trace.waitFor({ event: 'transport-error', reason: 'unknown-ca' });
    nothingReachedTheBroker(iot);
    await watch.check();
  });

  test('a connection without a client certificate', async () => {
    const iot = await endpoint({ tls: true });
    const watch = await bystander(iot);
    const attempt = rawTls(iot);
    await attempt.closed;
    const refused = await iot.trace.waitFor({ event: 'transport-error' });
    expect(refused).toMatchObject({ transport: 'tls', reason: 'no-client-certificate', remoteAddress: '127.0.0.1' });
    nothingReachedTheBroker(iot);
    await watch.check();
  });

  test('a REVOKED certificate at the next handshake; an open connection with it stays', async () => {
    const iot = await endpoint({ tls: true });
    const watch = await bystander(iot);
    const dev = iot.createThing('dev-r');
    const before = await tlsClient(iot, 'dev-r', dev);
    iot.setCertificateStatus(dev.certificateId, 'REVOKED');
    const attempt = rawTls(iot, { cert: dev.certificatePem, key: dev.privateKey });
    await attempt.closed;
    const refused = await iot.trace.waitFor({ event: 'transport-error' });
    expect(refused).toMatchObject({ reason: 'certificate-revoked', principal: dev.certificateId });
    expect(iot.clients().map((c) => c.clientId).sort()).toEqual(['bystander', 'dev-r']);
    expect(before.connected).toBe(true);
    // REVOKED is final, as on AWS.
    expect(() => iot.setCertificateStatus(dev.certificateId, 'ACTIVE')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await watch.check();
  });

  test('an INACTIVE certificate is refused at CONNECT too (made inactive after its handshake), and works again once ACTIVE', async () => {
    const iot = await endpoint({ tls: true });
    const watch = await bystander(iot);
    const dev = iot.createThing('dev-i');
    const attempt = rawTls(iot, { cert: dev.certificatePem, key: dev.privateKey });
    expect(await attempt.secure).toBe(true);
    // The endpoint has the handshake too once the bystander's round trip (later bytes) went through.
    await watch.check();
    iot.setCertificateStatus(dev.certificateId, 'INACTIVE');
    attempt.socket.write(mqttPacket.generate(connectPacket('dev-i')));
    await attempt.closed;
    const refused = await iot.trace.waitFor({ event: 'transport-error' });
    expect(refused).toMatchObject({ reason: 'certificate-inactive', principal: dev.certificateId });
    expect(iot.trace.filter({ direction: 'out', clientId: 'dev-i' })).toEqual([]); // no CONNACK: AWS closes the socket
    // Refused at CONNECT (the handshake was accepted before): the connection ends with AWS's AUTH_ERROR.
    expect(refused.connectionId).toEqual(expect.any(Number));
    await iot.trace.waitFor({ event: 'disconnect', connectionId: refused.connectionId!, reason: 'AUTH_ERROR' });
    expect(iot.clients().map((c) => c.clientId)).toEqual(['bystander']);

    iot.setCertificateStatus(dev.certificateId, 'ACTIVE');
    await tlsClient(iot, 'dev-i', dev);
    expect((await iot.trace.waitFor({ event: 'connect', clientId: 'dev-i' })).principal).toBe(dev.certificateId);
  });

  test('plain MQTT bytes sent to the TLS port (a client given mqtt:// and the TLS port)', async () => {
    const iot = await endpoint({ tls: true });
    const watch = await bystander(iot);
    await rawBytes(iot, mqttPacket.generate(connectPacket('confused')));
    const refused = await iot.trace.waitFor({ event: 'transport-error' });
    expect(refused).toMatchObject({ reason: 'not-tls', remoteAddress: '127.0.0.1', localPort: iot.tls!.port });
    expect(refused.message).toContain(`mqtt:// to the plain port ${iot.port}`);
    nothingReachedTheBroker(iot);
    // MQTT.js pointed at the TLS port with mqtt:// fails the same way.
    const c = mqtt.connect(`mqtt://127.0.0.1:${iot.tls!.port}`, { clientId: 'confused-too', reconnectPeriod: 0, connectTimeout: 3000 });
    await new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.end(true);
    expect(iot.trace.filter({ event: 'transport-error', reason: 'not-tls' })).toHaveLength(2);
    await watch.check();
  });

  test('TLS garbage: a handshake record that is not a ClientHello', async () => {
    const iot = await endpoint({ tls: true });
    const watch = await bystander(iot);
    await rawBytes(iot, Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const refused = await iot.trace.waitFor({ event: 'transport-error' });
    expect(refused).toMatchObject({ reason: 'handshake-failed', code: expect.stringMatching(/^ERR_SSL_/) });
    nothingReachedTheBroker(iot);
    await watch.check();
  });

  test('a handshake that never finishes, after limits.connectTimeoutSeconds', async () => {
    const iot = await endpoint({ tls: true, limits: { connectTimeoutSeconds: 1 } });
    const watch = await bystander(iot);
    const started = Date.now();
    await Promise.all([
      rawBytes(iot, Buffer.from([0x16, 0x03, 0x03, 0x00, 0x10, 0x01])), // a record announcing more than it sends
      rawBytes(iot, Buffer.alloc(0)), // a socket that never says anything
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const refusals = iot.trace.filter({ event: 'transport-error' });
    expect(refusals.map((e) => e.kind === 'event' && e.event === 'transport-error' && e.reason)).toEqual(['handshake-timeout', 'handshake-timeout']);
    nothingReachedTheBroker(iot);
    await watch.check();
  });

  test('an ALPN protocol the endpoint does not accept (with a no_application_protocol alert)', async () => {
    const iot = await endpoint({ tls: true });
    const watch = await bystander(iot);
    const device = fixtureDevice('device-1');
    const attempt = rawTls(iot, { cert: device.certificatePem, key: device.privateKey, ALPNProtocols: ['mqtt', 'h2'] });
    expect(await attempt.closed).toEqual({ error: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' });
    const refused = await iot.trace.waitFor({ event: 'transport-error' });
    expect(refused).toMatchObject({ reason: 'alpn-refused', alpn: 'mqtt,h2' });
    expect(refused.message).toContain('"x-amzn-mqtt-ca"');
    nothingReachedTheBroker(iot);
    await watch.check();
  });

  test('tls.alpn sets the accepted list: "mqtt" accepted, x-amzn-mqtt-ca then refused', async () => {
    const iot = await endpoint({ tls: { alpn: ['mqtt'] } });
    const device = fixtureDevice('device-2');
    const ok = await tlsClient(iot, 'alpn-mqtt', device, { ALPNProtocols: ['mqtt'] });
    expect((await iot.trace.waitFor({ event: 'connect', clientId: 'alpn-mqtt' })).alpn).toBe('mqtt');
    ok.end(true);
    const attempt = rawTls(iot, { cert: device.certificatePem, key: device.privateKey, ALPNProtocols: ['x-amzn-mqtt-ca'] });
    await attempt.closed;
    expect((await iot.trace.waitFor({ event: 'transport-error' })).reason).toBe('alpn-refused');
  });

  test('with requireSni, a handshake without SNI (an IP address); with SNI it connects', async () => {
    const iot = await endpoint({ tls: { requireSni: true } });
    const watch = await bystander(iot);
    const device = fixtureDevice('device-1');
    const attempt = rawTls(iot, { cert: device.certificatePem, key: device.privateKey, servername: '' });
    await attempt.closed;
    const refused = await iot.trace.waitFor({ event: 'transport-error' });
    expect(refused).toMatchObject({ reason: 'sni-missing' });
    expect(refused).not.toHaveProperty('sni');
    nothingReachedTheBroker(iot);
    await watch.check();
    await tlsClient(iot, 'with-sni', device);
    expect((await iot.trace.waitFor({ event: 'connect', clientId: 'with-sni' })).sni).toBe('localhost');
  });

  test('without requireSni (the default), a handshake without SNI is accepted', async () => {
    const iot = await endpoint({ tls: true });
    const device = fixtureDevice('device-1');
    // MQTT.js sends no SNI when it connects to an IP address.
    const byIp = await mqtt.connectAsync(`mqtts://127.0.0.1:${iot.tls!.port}`, { clientId: 'by-ip', reconnectPeriod: 0, cert: device.certificatePem, key: device.privateKey, ca: iot.tls!.caCertificate });
    byIp.end(true);
    const connect = await iot.trace.waitFor({ event: 'connect', clientId: 'by-ip' });
    expect(connect.transport).toBe('tls');
    expect(connect).not.toHaveProperty('sni');
  });

  test('the trace formats a refusal on one line', async () => {
    const iot = await endpoint({ tls: true });
    await rawBytes(iot, Buffer.from('GET /mqtt HTTP/1.1\r\n\r\n'));
    await iot.trace.waitFor({ event: 'transport-error' });
    expect(iot.trace.format()).toMatch(/\*\*\* tls refused 127\.0\.0\.1:\d+ not-tls: the client sent an HTTP request/);
  });
});
