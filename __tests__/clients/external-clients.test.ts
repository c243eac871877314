import { readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import mqtt from 'mqtt';
import { run, startCli } from './cli';

/** An MQTT.js observer on the CLI endpoint; resolves when `clientId` has subscribed (lifecycle event). */
async function watchSubscriptions(url: string) {
  const observer = await mqtt.connectAsync(url, { clientId: 'observer', reconnectPeriod: 0 });
  await observer.subscribeAsync('$aws/events/subscriptions/subscribed/+', { qos: 1 });
  const seen = new Set<string>();
  const waiters = new Map<string, () => void>();
  observer.on('message', (topic) => {
    const id = topic.split('/').pop()!;
    seen.add(id);
    waiters.get(id)?.();
  });
  return {
    observer,
    subscribed: (id: string) =>
      new Promise<void>((resolve, reject) => {
        if (seen.has(id)) return resolve();
        const timer = setTimeout(() => reject(new Error(`${id} did not subscribe within 10 s`)), 10_000);
        waiters.set(id, () => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

describe('the CLI with clients from other ecosystems', () => {
  test('mosquitto_sub receives what mosquitto_pub publishes (QoS 1)', async () => {
    const cli = await startCli();
    const { observer, subscribed } = await watchSubscriptions(cli.url);
    try {
      const port = String(cli.port);
      const sub = run('mosquitto_sub', ['-V', 'mqttv311', '-h', '127.0.0.1', '-p', port, '-i', 'mosq-sub', '-q', '1', '-t', 'sensors/#', '-C', '1', '-v']);
      await subscribed('mosq-sub');
      const pub = await run('mosquitto_pub', ['-V', 'mqttv311', '-h', '127.0.0.1', '-p', port, '-i', 'mosq-pub', '-q', '1', '-t', 'sensors/temp', '-m', '21.5']);
      expect(pub.code).toBe(0);
      const got = await sub;
      expect(got.code).toBe(0);
      expect(got.stdout.trim()).toBe('sensors/temp 21.5');
    } finally {
      observer.end(true);
    }
  });

  test('mosquitto_pub with -r (retain) is disconnected under --profile classic, as AWS did before it supported retained messages', async () => {
    const cli = await startCli(['--profile', 'classic']);
    const pub = await run('mosquitto_pub', ['-V', 'mqttv311', '-h', '127.0.0.1', '-p', String(cli.port), '-i', 'mosq-retain', '-q', '1', '-r', '-t', 'r', '-m', 'x']);
    expect(pub.code).not.toBe(0);
  });

  test('python3 paho-mqtt connects, subscribes, publishes and receives its own QoS 1 message', async () => {
    const cli = await startCli();
    const script = `
import sys
import paho.mqtt.client as mqtt
port = int(sys.argv[1])
kwargs = {"client_id": "paho-1", "protocol": mqtt.MQTTv311, "clean_session": True}
if hasattr(mqtt, "CallbackAPIVersion"):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, **kwargs)
else:
    client = mqtt.Client(**kwargs)
def on_connect(c, userdata, flags, rc):
    print("connack", rc, flush=True)
    c.subscribe("paho/echo", qos=1)
def on_subscribe(c, userdata, mid, granted):
    print("granted", list(granted), flush=True)
    c.publish("paho/echo", "hello from paho", qos=1)
def on_message(c, userdata, msg):
    print("message", msg.topic, msg.payload.decode(), msg.qos, flush=True)
    c.disconnect()
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect("127.0.0.1", port, keepalive=60)
client.loop_forever()
`;
    // Debian's python3-paho-mqtt installs for /usr/bin/python3, which may not be the first python3 on PATH.
    const result = await run('/usr/bin/python3', ['-c', script, String(cli.port)]);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(['connack 0', 'granted [1]', 'message paho/echo hello from paho 1']);
    expect(result.code).toBe(0);
  });

  test('python3 paho-mqtt against --profile current: a retained message on an exact filter only, a shared group of two', async () => {
    const cli = await startCli(['--profile', 'current']);
    expect(cli.stdout()).toContain('profile current');
    const script = `
import sys, json, threading
import paho.mqtt.client as mqtt
port = int(sys.argv[1])
lock = threading.Lock()
got = {}
arrived = threading.Condition(lock)
def make(cid):
    kwargs = {"client_id": cid, "protocol": mqtt.MQTTv311, "clean_session": True}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, **kwargs) if hasattr(mqtt, "CallbackAPIVersion") else mqtt.Client(**kwargs)
    subscribed = threading.Event()
    def on_message(cl, userdata, msg):
        with arrived:
            got.setdefault(cid, []).append([msg.topic, msg.payload.decode(), int(msg.retain)])
            arrived.notify_all()
    c.on_message = on_message
    c.on_subscribe = lambda *a: subscribed.set()
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.connect("127.0.0.1", port, keepalive=60)
    c.loop_start()
    assert connected.wait(10), "no CONNACK for " + cid
    def subscribe(topic):
        subscribed.clear()
        c.subscribe(topic, qos=1)
        assert subscribed.wait(10), "no SUBACK for " + topic
    c.subscribe_and_wait = subscribe
    return c
def wait_for(cid, n):
    with arrived:
        assert arrived.wait_for(lambda: len(got.get(cid, [])) >= n, 10), "%s got %r" % (cid, got.get(cid))
def total(ids):
    return sum(len(got.get(i, [])) for i in ids)
pub = make("paho-pub")
pub.publish("smoke/state", "on", qos=1, retain=True).wait_for_publish()
exact = make("paho-exact")
exact.subscribe_and_wait("smoke/state")
wait_for("paho-exact", 1)
wild = make("paho-wild")
wild.subscribe_and_wait("+/state")
# A later message to itself: a retained copy, had one been sent after the SUBACK, would have come first.
wild.publish("marker/state", "marker", qos=1).wait_for_publish()
wait_for("paho-wild", 1)
members = [make("paho-m1"), make("paho-m2")]
for m in members:
    m.subscribe_and_wait("$share/grp/smoke/work")
for i in range(6):
    pub.publish("smoke/work", str(i), qos=1).wait_for_publish()
with arrived:
    assert arrived.wait_for(lambda: total(["paho-m1", "paho-m2"]) >= 6, 10), repr(got)
for c in [pub, exact, wild] + members:
    c.disconnect()
    c.loop_stop()
print(json.dumps(got, sort_keys=True), flush=True)
`;
    const result = await run('/usr/bin/python3', ['-c', script, String(cli.port)]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const got = JSON.parse(result.stdout.trim()) as Record<string, [string, string, number][]>;
    expect(got['paho-exact']).toEqual([['smoke/state', 'on', 1]]);
    expect(got['paho-wild']).toEqual([['marker/state', 'marker', 0]]);
    const shared = [...(got['paho-m1'] ?? []), ...(got['paho-m2'] ?? [])];
    expect(shared.map(([, payload]) => payload).sort()).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(shared.every(([topic, , retain]) => topic === 'smoke/work' && retain === 0)).toBe(true);
  });

  test('--trace-file writes one JSON entry per line; SIGTERM stops the CLI cleanly', async () => {
    const file = path.join(os.tmpdir(), `fake-aws-iot-trace-${process.pid}-${Date.now()}.jsonl`);
    const cli = await startCli(['--trace-file', file, '--seed', '77']);
    expect(cli.seed).toBe(77);
    const c = await mqtt.connectAsync(cli.url, { clientId: 'traced', reconnectPeriod: 0 });
    await c.publishAsync('t', 'payload-text', { qos: 1 });
    await c.endAsync();
    expect(await cli.stop('SIGTERM')).toBe(0);
    expect(cli.stdout()).toContain('fake-aws-iot stopped (SIGTERM)');
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ kind: 'run', seed: 77 });
    expect(lines[1]).toMatchObject({ seq: 1, kind: 'packet', direction: 'in', clientId: 'traced', packet: { cmd: 'connect' } });
    expect(lines).toContainEqual(expect.objectContaining({ direction: 'in', packet: expect.objectContaining({ cmd: 'publish', topic: 't', payload: 'payload-text' }) }));
    expect(lines).toContainEqual(expect.objectContaining({ event: 'disconnect', reason: 'CLIENT_INITIATED_DISCONNECT' }));
  });

  test('--config applies startFakeIot() options; invalid ones exit 2 naming the option', async () => {
    const good = path.join(os.tmpdir(), `fake-aws-iot-config-${process.pid}.json`);
    writeFileSync(good, JSON.stringify({ limits: { maxPayloadBytes: 4 } }));
    const cli = await startCli(['--config', good]);
    const c = await mqtt.connectAsync(cli.url, { clientId: 'cfg', reconnectPeriod: 0 });
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.publish('t', 'too long');
    await closed;
    c.end(true);

    const bad = path.join(os.tmpdir(), `fake-aws-iot-bad-config-${process.pid}.json`);
    writeFileSync(bad, JSON.stringify({ limits: { maxPayloadBites: 4 } }));
    const result = await run(process.execPath, [path.resolve(__dirname, '../../dist/cli.js'), '--port', '0', '--config', bad]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/\[fake-aws-iot\] unknown option options\.limits\.maxPayloadBites\. Did you mean "maxPayloadBytes"\?/);
  });
});
