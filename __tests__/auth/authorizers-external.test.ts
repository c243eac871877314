/**
 * Custom authorizers with clients from other ecosystems (aws-iot-behaviour.md §7): python3 paho with a user name
 * and password over TLS with ALPN `mqtt` (an SSLContext, no client certificate), let in and refused; and
 * mosquitto_pub with `--tls-alpn mqtt -u -P`.
 */
import { PAHO_TLS_DEVICE, run } from '../clients/cli';
import { endpoint } from '../helpers';
import type { CustomAuthorizerRequest, CustomAuthorizerResponse, FakeIot } from '../../src';

const allowAll = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] });
const allowed = (principalId: string): CustomAuthorizerResponse => ({ isAuthenticated: true, principalId, policyDocuments: [allowAll], disconnectAfterInSeconds: 3600, refreshAfterInSeconds: 3600 });

/** The paho device of the mTLS tests, with ALPN mqtt, no certificate, and a user name and password. */
const paho = (iot: FakeIot, clientId: string, username: string, password: string) =>
  run('/usr/bin/python3', ['-c', PAHO_TLS_DEVICE, String(iot.tls!.port), clientId, iot.tls!.caPath, '-', '-', 'mqtt', username, password]);

async function authEndpoint(requests: CustomAuthorizerRequest[]): Promise<FakeIot> {
  return endpoint({
    tls: true, seed: 5,
    authorizers: { 'device-auth': (request) => (requests.push(request), request.protocolData.mqtt?.password === Buffer.from('s3cret').toString('base64') ? allowed('pahouser') : { isAuthenticated: false }) },
  });
}

describe('custom authorizers with external clients', () => {
  test('python3 paho: user name and password over TLS with ALPN mqtt', async () => {
    const requests: CustomAuthorizerRequest[] = [];
    const iot = await authEndpoint(requests);
    const device = paho(iot, 'paho-ca', 'sensor?x-amz-customauthorizer-name=device-auth', 's3cret');
    await iot.trace.waitFor({ event: 'subscription-active', clientId: 'paho-ca' }, { timeoutMs: 10_000 });
    iot.publish('cmd/paho-ca', 'reboot', { qos: 1 });
    const report = await iot.trace.waitFor({ direction: 'in', clientId: 'paho-ca', packet: { cmd: 'publish', topic: 'state/paho-ca' } }, { timeoutMs: 10_000 });
    expect(report.packet.payload.toString()).toBe('done: reboot');
    const result = await device;
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(['connack 0', 'granted [1]', 'message cmd/paho-ca reboot']);
    expect(requests[0]).toMatchObject({ protocols: ['tls', 'mqtt'], protocolData: { tls: { serverName: 'localhost' }, mqtt: { username: 'sensor?x-amz-customauthorizer-name=device-auth', clientId: 'paho-ca' } } });
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'paho-ca' })).toMatchObject({ transport: 'tls', alpn: 'mqtt', principal: 'pahouser', authorizer: 'device-auth' });
  });

  test('python3 paho with a wrong password: the socket closes without CONNACK (MQTT 3.1.1), connect_failed', async () => {
    const iot = await authEndpoint([]);
    const result = await paho(iot, 'paho-bad', '?x-amz-customauthorizer-name=device-auth', 'wrong');
    expect(result.stdout.trim()).toBe('closed');
    expect(await iot.trace.waitFor({ event: 'disconnect', clientId: 'paho-bad' })).toMatchObject({ reason: 'AUTH_ERROR' });
    await iot.trace.waitFor({ event: 'publish', origin: 'lifecycle', topic: '$aws/events/presence/connect_failed/paho-bad' });
    expect(iot.trace.filter({ kind: 'packet', direction: 'out', clientId: 'paho-bad' })).toEqual([]);
  });

  test('mosquitto_pub with --tls-alpn mqtt, -u and -P', async () => {
    const iot = await authEndpoint([]);
    const sent = await run('mosquitto_pub', ['-V', 'mqttv311', '-h', 'localhost', '-p', String(iot.tls!.port), '--cafile', iot.tls!.caPath, '--tls-alpn', 'mqtt',
      '-u', 'sensor?x-amz-customauthorizer-name=device-auth', '-P', 's3cret', '-i', 'mosq-ca', '-q', '1', '-t', 'sensors/temp', '-m', '21.5']);
    expect(sent).toMatchObject({ code: 0, stderr: '' });
    const published = await iot.trace.waitFor({ direction: 'in', clientId: 'mosq-ca', packet: { cmd: 'publish', topic: 'sensors/temp' } });
    expect(published.packet.payload.toString()).toBe('21.5');
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'mosq-ca' })).toMatchObject({ principal: 'pahouser', authorizer: 'device-auth', alpn: 'mqtt' });
  });
});
