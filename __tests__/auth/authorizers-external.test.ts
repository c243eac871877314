/**
 * Custom authorizers with clients from other ecosystems (aws-iot-behaviour.md §7): python3 paho with a user name
 * and password over TLS with ALPN `mqtt` (an SSLContext, no client certificate), let in and refused; and
 * mosquitto_pub with `--tls-alpn mqtt -u -P`.
 */
import { run } from '../clients/cli';
import { endpoint } from '../helpers';
import type { CustomAuthorizerRequest, CustomAuthorizerResponse, FakeIot } from '../../src';

const allowAll = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] });
const allowed = (principalId: string): CustomAuthorizerResponse => ({ isAuthenticated: true, principalId, policyDocuments: [allowAll], disconnectAfterInSeconds: 3600, refreshAfterInSeconds: 3600 });

/** A paho device: custom authentication over TLS (ALPN mqtt), subscribes to cmd/<id>, answers on state/<id>, leaves. */
const PAHO_CUSTOM_AUTH = `
import sys, ssl
import paho.mqtt.client as mqtt
port, client_id, ca_path, username, password = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
kwargs = {"client_id": client_id, "protocol": mqtt.MQTTv311}
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, **kwargs) if hasattr(mqtt, "CallbackAPIVersion") else mqtt.Client(**kwargs)
context = ssl.create_default_context(cafile=ca_path)
context.set_alpn_protocols(["mqtt"])   # AWS: port 443, custom authentication
c.tls_set_context(context)
c.username_pw_set(username, password)
def on_connect(cl, userdata, flags, rc):
    print("connack", rc, flush=True)
    cl.subscribe("cmd/" + client_id, qos=1)
def on_message(cl, userdata, msg):
    print("message", msg.topic, msg.payload.decode(), flush=True)
    cl.publish("state/" + client_id, "done: " + msg.payload.decode(), qos=1)
def on_publish(cl, userdata, mid):
    cl.disconnect()
def on_disconnect(cl, userdata, rc):
    if rc != 0:
        print("closed", flush=True)
        cl.disconnect()
c.on_connect = on_connect
c.on_message = on_message
c.on_publish = on_publish
c.on_disconnect = on_disconnect
c.connect("localhost", int(port), keepalive=60)
c.loop_forever(retry_first_connection=False)
`;

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
    const paho = run('/usr/bin/python3', ['-c', PAHO_CUSTOM_AUTH, String(iot.tls!.port), 'paho-ca', iot.tls!.caPath, 'sensor?x-amz-customauthorizer-name=device-auth', 's3cret']);
    await iot.trace.waitFor({ event: 'subscription-active', clientId: 'paho-ca' }, { timeoutMs: 10_000 });
    iot.publish('cmd/paho-ca', 'reboot', { qos: 1 });
    const report = await iot.trace.waitFor({ direction: 'in', clientId: 'paho-ca', packet: { cmd: 'publish', topic: 'state/paho-ca' } }, { timeoutMs: 10_000 });
    expect(report.packet.payload.toString()).toBe('done: reboot');
    const result = await paho;
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(['connack 0', 'message cmd/paho-ca reboot']);
    expect(requests[0]).toMatchObject({ protocols: ['tls', 'mqtt'], protocolData: { tls: { serverName: 'localhost' }, mqtt: { username: 'sensor?x-amz-customauthorizer-name=device-auth', clientId: 'paho-ca' } } });
    expect(await iot.trace.waitFor({ event: 'connect', clientId: 'paho-ca' })).toMatchObject({ transport: 'tls', alpn: 'mqtt', principal: 'pahouser', authorizer: 'device-auth' });
  });

  test('python3 paho with a wrong password: the socket closes without CONNACK (MQTT 3.1.1), connect_failed', async () => {
    const iot = await authEndpoint([]);
    const result = await run('/usr/bin/python3', ['-c', PAHO_CUSTOM_AUTH, String(iot.tls!.port), 'paho-bad', iot.tls!.caPath, '?x-amz-customauthorizer-name=device-auth', 'wrong']);
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
