/**
 * Clients from other ecosystems over mTLS, as a Python or C team's device code would connect: python3 paho
 * (tls_set, and an SSLContext with ALPN x-amzn-mqtt-ca) and mosquitto_pub/mosquitto_sub (--cafile --cert --key).
 */
import { PAHO_TLS_DEVICE as PAHO, run } from '../clients/cli';
import { endpoint } from '../helpers';
import type { FakeIot, ThingCredentials } from '../../src';


/** Waits until `clientId` is subscribed to `cmd/<clientId>`, then sends the command; resolves with the state it published. */
async function commandAndReport(iot: FakeIot, clientId: string) {
  await iot.trace.waitFor({ event: 'subscription-active', clientId, topic: `cmd/${clientId}` }, { timeoutMs: 10_000 });
  iot.publish(`cmd/${clientId}`, 'reboot', { qos: 1 });
  const report = await iot.trace.waitFor({ direction: 'in', clientId, packet: { cmd: 'publish', topic: `state/${clientId}` } }, { timeoutMs: 10_000 });
  return report.packet.payload.toString();
}

async function pahoCell(iot: FakeIot, dev: ThingCredentials, alpn: string) {
  const paho = run('/usr/bin/python3', ['-c', PAHO, String(iot.tls!.port), dev.thingName, dev.caPath, dev.certPath, dev.keyPath, alpn]);
  expect(await commandAndReport(iot, dev.thingName)).toBe('done: reboot');
  const result = await paho;
  expect(result.stderr).toBe('');
  expect(result.stdout.trim().split('\n')).toEqual(['connack 0', 'granted [1]', `message cmd/${dev.thingName} reboot`]);
  expect(result.code).toBe(0);
  return iot.trace.waitFor({ event: 'connect', clientId: dev.thingName });
}

describe('external clients over mTLS', () => {
  test('python3 paho with tls_set(ca_certs, certfile, keyfile)', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('paho-dev');
    const connect = await pahoCell(iot, dev, '-');
    expect(connect).toMatchObject({ transport: 'tls', principal: dev.certificateId, thingName: 'paho-dev', sni: 'localhost' });
  });

  test('python3 paho with an SSLContext offering ALPN x-amzn-mqtt-ca (port 443 style)', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('paho-alpn');
    const connect = await pahoCell(iot, dev, 'x-amzn-mqtt-ca');
    expect(connect).toMatchObject({ transport: 'tls', principal: dev.certificateId, thingName: 'paho-alpn', alpn: 'x-amzn-mqtt-ca' });
  });

  test('python3 paho offering an unknown ALPN protocol is refused', async () => {
    const iot = await endpoint({ tls: true });
    const dev = iot.createThing('paho-bad-alpn');
    const paho = await run('/usr/bin/python3', ['-c', PAHO, String(iot.tls!.port), dev.thingName, dev.caPath, dev.certPath, dev.keyPath, 'mqtt']);
    expect(paho.code).not.toBe(0);
    expect(paho.stderr).toMatch(/NO_APPLICATION_PROTOCOL|no application protocol/i);
    expect((await iot.trace.waitFor({ event: 'transport-error' })).reason).toBe('alpn-refused');
  });

  test('mosquitto_sub and mosquitto_pub with --cafile --cert --key', async () => {
    const iot = await endpoint({ tls: true });
    const sub = iot.createThing('mosq-sub');
    const pub = iot.createThing('mosq-pub');
    const tlsArgs = (dev: ThingCredentials) => ['-V', 'mqttv311', '-h', 'localhost', '-p', String(iot.tls!.port), '--cafile', dev.caPath, '--cert', dev.certPath, '--key', dev.keyPath, '-i', dev.thingName];
    const received = run('mosquitto_sub', [...tlsArgs(sub), '-q', '1', '-t', 'sensors/#', '-C', '1', '-v']);
    await iot.trace.waitFor({ event: 'subscription-active', clientId: 'mosq-sub' }, { timeoutMs: 10_000 });
    iot.publish('sensors/cloud', 'from the cloud', { qos: 1 });
    const got = await received;
    expect(got.code).toBe(0);
    expect(got.stdout.trim()).toBe('sensors/cloud from the cloud');

    const sent = await run('mosquitto_pub', [...tlsArgs(pub), '-q', '1', '-t', 'sensors/temp', '-m', '21.5']);
    expect(sent.code).toBe(0);
    const published = await iot.trace.waitFor({ direction: 'in', clientId: 'mosq-pub', packet: { cmd: 'publish', topic: 'sensors/temp' } });
    expect(published.packet.payload.toString()).toBe('21.5');
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'mosq-sub' })).toMatchObject({ transport: 'tls', principal: sub.certificateId, thingName: 'mosq-sub' });
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'mosq-pub' })).toMatchObject({ transport: 'tls', principal: pub.certificateId, thingName: 'mosq-pub' });
  });

  test('mosquitto_pub without a client certificate is refused', async () => {
    const iot = await endpoint({ tls: true });
    const sent = await run('mosquitto_pub', ['-V', 'mqttv311', '-h', 'localhost', '-p', String(iot.tls!.port), '--cafile', iot.tls!.caPath, '-i', 'anonymous', '-t', 't', '-m', 'x']);
    expect(sent.code).not.toBe(0);
    expect((await iot.trace.waitFor({ event: 'transport-error' })).reason).toBe('no-client-certificate');
    expect(iot.trace.filter({ kind: 'packet' })).toEqual([]);
  });
});
