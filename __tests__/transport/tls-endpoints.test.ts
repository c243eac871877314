/**
 * TLS endpoints as resources, their options validated up front, and the identity API's argument errors.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import mqtt from 'mqtt';
import { type FakeIotOptions, startFakeIot } from '../../src';
import { CertificateAuthority } from '../../src/identity/authority';
import { closeUnderClient, endpoint, expectReleased, resources, settledResources } from '../helpers';
import { fixture, fixtureDevice, rawTls, tlsClient } from './tls-helpers';

describe('TLS endpoints as resources', () => {
  test('opening and closing 200 TLS endpoints (each with an mTLS client, a message, a thing) leaves no socket, server, timer or file behind', async () => {
    const before = resources();
    let opened: Record<string, number> = {};
    const dirs = new Set<string>();
    const device = fixtureDevice('device-1');
    for (let i = 0; i < 200; i++) {
      const iot = await startFakeIot({ tls: true });
      const dev = i % 20 === 0 ? iot.createThing(`dev-${i}`) : undefined; // issuing costs ~2 ms: every 20th endpoint
      if (dev) dirs.add(path.dirname(dev.certPath));
      const c = await mqtt.connectAsync(iot.tls!.url, {
        clientId: `dev-${i}`, reconnectPeriod: 0, cert: dev?.certificatePem ?? device.certificatePem, key: dev?.privateKey ?? device.privateKey, ca: iot.tls!.caCertificate,
      });
      await c.subscribeAsync('t', { qos: 1 });
      await c.publishAsync('t', 'x', { qos: 1 });
      if (i === 0) opened = resources();
      await closeUnderClient(iot, c);
    }
    const after = await settledResources(before);
    expectReleased(before, opened, after, 2);
    expect(dirs.size).toBe(10);
    expect([...dirs].filter((d) => existsSync(d))).toEqual([]);
  }, 60_000);

  test('close() with handshakes under way: sockets before and during the handshake are closed, nothing is recorded for them', async () => {
    const before = resources();
    const iot = await startFakeIot({ tls: true });
    const device = fixtureDevice('device-2');
    // A socket that has sent nothing yet (the endpoint waits for its first bytes), one in the middle of a
    // handshake (a record that announces more than it sends), and one handed over that sent no CONNECT.
    const silent = net.connect(iot.tls!.port, '127.0.0.1');
    const partial = net.connect(iot.tls!.port, '127.0.0.1', () => partial.write(Buffer.from([0x16, 0x03, 0x03, 0x00, 0x10, 0x01])));
    const ended = (s: net.Socket) => new Promise<void>((resolve) => s.on('error', () => {}).once('close', () => resolve()));
    const silentClosed = ended(silent);
    const partialClosed = ended(partial);
    await Promise.all([new Promise((r) => silent.once('connect', r)), new Promise((r) => partial.once('connect', r))]);
    const halfway = rawTls(iot, { cert: device.certificatePem, key: device.privateKey });
    await halfway.secure;
    await iot.close();
    await Promise.all([silentClosed, partialClosed, halfway.closed]);
    expect(iot.trace.entries.filter((e) => e.kind === 'event' && e.event === 'transport-error')).toEqual([]);
    const after = await settledResources(before);
    expect(['TCPServerWrap', 'TCPSocketWrap', 'Timeout'].filter((k) => (after[k] ?? 0) > (before[k] ?? 0))).toEqual([]);
  });

  test('endpoints one after another and side by side each apply their own settings (a closed endpoint\'s node:tls server serves the next one)', async () => {
    const device = fixtureDevice('device-1');
    const first = await startFakeIot({ tls: { alpn: ['mqtt'] } });
    await tlsClient(first, 'first', device, { ALPNProtocols: ['mqtt'] });
    await first.close();
    const [b, c] = await Promise.all([endpoint({ tls: true }), endpoint({ tls: true })]);
    // b and c accept x-amzn-mqtt-ca only (the default), whatever the first endpoint accepted.
    const refused = rawTls(b, { cert: device.certificatePem, key: device.privateKey, ALPNProtocols: ['mqtt'] });
    expect(await refused.secure).toBe(false);
    expect(await b.trace.waitFor({ event: 'transport-error' })).toMatchObject({ reason: 'alpn-refused', alpn: 'mqtt' });
    await tlsClient(c, 'on-c', device, { ALPNProtocols: ['x-amzn-mqtt-ca'] });
    await tlsClient(b, 'on-b', device);
    expect((await c.trace.waitFor({ event: 'connect', clientId: 'on-c' })).alpn).toBe('x-amzn-mqtt-ca');
    await b.trace.waitFor({ event: 'connect', clientId: 'on-b' });
    expect(c.trace.entries.filter((e) => e.kind === 'event' && (e.event === 'transport-error' || (e.event === 'connect' && e.clientId !== 'on-c')))).toEqual([]);
    expect(b.clients().map((x) => x.clientId)).toEqual(['on-b']);
    expect(first.trace.entries.filter((e) => e.kind === 'event' && e.event === 'connect').map((e) => e.clientId)).toEqual(['first']);
  });

  test('createThing() files hold the credentials; close() removes them; the CA file is the fixture', async () => {
    const iot = await startFakeIot({ tls: true });
    const dev = iot.createThing('dev-files');
    expect(readFileSync(dev.certPath, 'utf8')).toBe(dev.certificatePem);
    expect(readFileSync(dev.keyPath, 'utf8')).toBe(dev.privateKey);
    expect(readFileSync(dev.caPath, 'utf8')).toBe(dev.caCertificate);
    expect(dev.caCertificate).toBe(fixture('ca.pem'));
    expect(iot.tls!.caPath).toBe(dev.caPath);
    expect(path.basename(dev.certPath)).toBe('dev-files.cert.pem');
    expect(path.basename(dev.keyPath)).toBe('dev-files.private.key');
    await iot.close();
    expect(existsSync(dev.certPath)).toBe(false);
    expect(existsSync(path.dirname(dev.certPath))).toBe(false);
    expect(existsSync(dev.caPath)).toBe(true);
    expect(() => iot.createThing('late')).toThrow(expect.objectContaining({ code: 'ENDPOINT_CLOSED' }));
  });

  test('things and certificates work without tls (for other transports), and each endpoint has its own registry', async () => {
    const a = await endpoint();
    const b = await endpoint();
    const dev = a.createThing('dev-1');
    expect(() => a.createThing('dev-1')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('exists already') }));
    expect(b.createThing('dev-1').certificateId).not.toBe(dev.certificateId);
    expect(() => b.setCertificateStatus(dev.certificateId, 'INACTIVE')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('no certificate with that id') }));
    a.setCertificateStatus(dev.certificateId, 'INACTIVE');
    a.setCertificateStatus(dev.certificateId, 'ACTIVE');
  });
});

describe('identity API argument errors (INVALID_ARGUMENT)', () => {
  test.each<[string, (iot: Awaited<ReturnType<typeof startFakeIot>>) => unknown, RegExp]>([
    ['an empty thing name', (iot) => iot.createThing(''), /thingName must be 1-128 characters/],
    ['a thing name with a space', (iot) => iot.createThing('dev 1'), /thingName must be 1-128 characters/],
    ['a thing name of 129 characters', (iot) => iot.createThing('x'.repeat(129)), /thingName must be 1-128/],
    ['a number as thing name', (iot) => iot.createThing(7 as unknown as string), /got 7/],
    ['an unknown createThing option', (iot) => iot.createThing('d', { attribute: {} } as never), /unknown option "attribute"/],
    ['a non-string attribute', (iot) => iot.createThing('d', { attributes: { n: 1 as unknown as string } }), /attribute "n" must be a string/],
    ['51 attributes', (iot) => iot.createThing('d', { attributes: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`a${i}`, 'v'])) }), /at most 50 attributes/],
    ['a certificate id that is not 64 hex', (iot) => iot.setCertificateStatus('abc', 'INACTIVE'), /64 lowercase hex/],
    ['an unknown status', (iot) => iot.setCertificateStatus('a'.repeat(64), 'DISABLED' as never), /status must be one of "ACTIVE", "INACTIVE", "REVOKED"/],
  ])('%s', async (_name, call, message) => {
    const iot = await endpoint();
    let error: unknown;
    try {
      call(iot);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: 'FakeIotError', code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^\[fake-aws-iot\] /) });
    expect((error as Error).message).toMatch(message);
  });
});

describe('TLS options are validated up front (INVALID_OPTION naming the option)', () => {
  const other = CertificateAuthority.create();
  const otherLeaf = other.issue({ usage: 'server' });
  test.each<[string, FakeIotOptions, RegExp]>([
    ['tls of the wrong type', { tls: 'yes' as never }, /options\.tls must be an object/],
    ['a misspelt tls key', { tls: { requireSNI: true } as never }, /unknown option options\.tls\.requireSNI\. Did you mean "requireSni"\?/],
    ['a port out of range', { tls: { port: 70000 } }, /options\.tls\.port must be an integer from 0 to 65535/],
    ['the same port as the plain listener', { port: 18883, tls: { port: 18883 } }, /options\.tls\.port \(18883\) must differ from options\.port/],
    ['cert without key', { tls: { cert: otherLeaf.certificatePem } }, /options\.tls\.cert and options\.tls\.key go together/],
    ['a cert that is not PEM', { tls: { cert: 'hello', key: otherLeaf.privateKeyPem } }, /options\.tls\.cert holds no PEM certificate/],
    ['a key that is not the cert\'s', { tls: { cert: otherLeaf.certificatePem, key: fixture('server.key') } }, /options\.tls\.key is not the private key of options\.tls\.cert/],
    ['a key that is no key', { tls: { cert: otherLeaf.certificatePem, key: 'nope' } }, /options\.tls\.key cannot be read as a private key/],
    ['a ca that is not PEM', { tls: { ca: 42 as never } }, /options\.tls\.ca must be PEM text/],
    ['a ca list with garbage', { tls: { ca: [other.certificatePem, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'] } }, /options\.tls\.ca\[1\] holds a certificate that cannot be read/],
    ['requireSni not boolean', { tls: { requireSni: 'yes' as never } }, /options\.tls\.requireSni must be true or false/],
    ['alpn not a list', { tls: { alpn: 'x-amzn-mqtt-ca' as never } }, /options\.tls\.alpn must be a list of ALPN protocol names/],
    ['alpn with an empty name', { tls: { alpn: [''] } }, /options\.tls\.alpn must be a list/],
    ['an account id of 11 digits', { accountId: '12345678901' }, /options\.accountId must be an AWS account id: a string of 12 digits/],
    ['an account id as a number', { accountId: 123456789012 as never }, /options\.accountId must be/],
    ['a region that is not one', { region: 'US East' }, /options\.region must be an AWS region name such as "us-east-1"/],
  ])('%s', async (_name, options, message) => {
    const error = await startFakeIot(options).then(
      (iot) => (iot.close(), undefined),
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'FakeIotError', code: 'INVALID_OPTION' });
    expect((error as Error).message).toMatch(message);
  });

  test('a server certificate and key of your own are served (tls.cert, tls.key)', async () => {
    const iot = await endpoint({ tls: { cert: otherLeaf.certificatePem, key: otherLeaf.privateKeyPem } });
    const device = fixtureDevice('device-1');
    const trusting = rawTls(iot, { cert: device.certificatePem, key: device.privateKey, ca: other.certificatePem, checkServerIdentity: () => undefined });
    expect(await trusting.secure).toBe(true);
    expect(trusting.socket.authorized).toBe(true);
    const fixtureTrusting = rawTls(iot, { cert: device.certificatePem, key: device.privateKey });
    expect(await fixtureTrusting.closed).toEqual({ error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });
});
