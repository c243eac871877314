/**
 * python3 paho-mqtt speaking MQTT 5 (`protocol=mqtt.MQTTv5`) against startFakeIot() with the default profile
 * (`current`): a retained message reaches an exact-topic filter with RETAIN set (and its User Property), never a
 * wildcard filter; a shared subscription `$share/g/...` with two paho members hands each message to exactly one.
 * The script runs paho 1.x and 2.x alike (CallbackAPIVersion.VERSION1 when it exists), as the 3.1.1 paho tests do.
 */
import { run } from '../clients/cli';
import { endpoint } from '../helpers';

const SCRIPT = `
import sys, json, threading
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
port = int(sys.argv[1])
arrived = threading.Condition(threading.Lock())
got = {}
granted = {}
def make(cid):
    kwargs = {"client_id": cid, "protocol": mqtt.MQTTv5}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, **kwargs) if hasattr(mqtt, "CallbackAPIVersion") else mqtt.Client(**kwargs)
    subscribed = threading.Event()
    connected = threading.Event()
    def on_message(cl, userdata, msg):
        props = getattr(msg, "properties", None)
        user = [list(p) for p in getattr(props, "UserProperty", [])] if props is not None else []
        with arrived:
            got.setdefault(cid, []).append([msg.topic, msg.payload.decode(), int(msg.retain), user])
            arrived.notify_all()
    def on_subscribe(cl, userdata, mid, reason_codes, *rest):
        granted.setdefault(cid, []).extend(int(getattr(rc, "value", rc)) for rc in reason_codes)
        subscribed.set()
    def on_connect(cl, userdata, flags, rc, *rest):
        connected.rc = int(getattr(rc, "value", rc))
        connected.set()
    c.on_message = on_message
    c.on_subscribe = on_subscribe
    c.on_connect = on_connect
    c.connect("127.0.0.1", port, keepalive=60, clean_start=True)
    c.loop_start()
    assert connected.wait(10), "no CONNACK for " + cid
    assert connected.rc == 0, "CONNACK %r for %s" % (connected.rc, cid)
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
pub = make("p5-pub")
props = Properties(PacketTypes.PUBLISH)
props.UserProperty = ("unit", "celsius")
pub.publish("p5/state", "21.5", qos=1, retain=True, properties=props).wait_for_publish()
exact = make("p5-exact")
exact.subscribe_and_wait("p5/state")
wait_for("p5-exact", 1)
wild = make("p5-wild")
wild.subscribe_and_wait("p5/+")
# A later message to itself: a retained copy, had one been sent after the SUBACK, would have come first.
wild.publish("p5/marker", "marker", qos=1).wait_for_publish()
wait_for("p5-wild", 1)
members = [make("p5-m1"), make("p5-m2")]
for m in members:
    m.subscribe_and_wait("$share/g/jobs/p5")
for i in range(8):
    pub.publish("jobs/p5", str(i), qos=1).wait_for_publish()
with arrived:
    assert arrived.wait_for(lambda: total(["p5-m1", "p5-m2"]) >= 8, 10), repr(got)
for c in [pub, exact, wild] + members:
    c.disconnect()
    c.loop_stop()
print(json.dumps({"got": got, "granted": granted}, sort_keys=True), flush=True)
`;

type Got = [topic: string, payload: string, retain: number, userProperties: [string, string][]];

describe('python3 paho-mqtt with MQTT 5 (profile current, the default)', () => {
  test('a retained message on an exact filter only (RETAIN set), a shared group of two: each message to exactly one member', async () => {
    const iot = await endpoint({ seed: 7 });
    expect(iot.profile.name).toBe('current');
    const result = await run('/usr/bin/python3', ['-c', SCRIPT, String(iot.port)], 30_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { got, granted } = JSON.parse(result.stdout.trim()) as { got: Record<string, Got[]>; granted: Record<string, number[]> };

    // Every paho client spoke MQTT 5, as the endpoint saw it.
    for (const id of ['p5-pub', 'p5-exact', 'p5-wild', 'p5-m1', 'p5-m2']) {
      expect(iot.trace.filter({ event: 'connect', clientId: id })).toEqual([expect.objectContaining({ protocolVersion: 5 })]);
    }
    expect(granted).toEqual({ 'p5-exact': [1], 'p5-wild': [1], 'p5-m1': [1], 'p5-m2': [1] });

    expect(got['p5-exact']).toEqual([['p5/state', '21.5', 1, [['unit', 'celsius']]]]);
    expect(got['p5-wild']).toEqual([['p5/marker', 'marker', 0, []]]);

    const m1 = got['p5-m1'] ?? [];
    const m2 = got['p5-m2'] ?? [];
    expect([...m1, ...m2].map(([, payload]) => payload).sort()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    expect([...m1, ...m2].every(([topic, , retain]) => topic === 'jobs/p5' && retain === 0)).toBe(true);
    // The endpoint sent each shared message once, in all: no member got a copy the other also got.
    await iot.settled();
    const out = iot.trace.filter({ direction: 'out', packet: { cmd: 'publish', topic: 'jobs/p5' } });
    expect(out.map((e) => e.clientId).sort()).toEqual([...m1.map(() => 'p5-m1'), ...m2.map(() => 'p5-m2')]);
    // Seed 7 splits the eight between both members (a group of one would make "exactly one" trivially true).
    expect([m1.length, m2.length].every((n) => n > 0)).toBe(true);
  });
});
