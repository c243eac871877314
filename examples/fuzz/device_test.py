"""
A device under fuzz: it executes each command the cloud sends to cmd/dev-1 once.

The test drives it the way the cloud would (a second client publishes ten commands) and exits 1 when a
command was executed more than once, so `fake-aws-iot fuzz` can count it as a failure:

    npx fake-aws-iot fuzz --runs 10 --seed 7 --chaos chaos.json -- python3 device_test.py

`python3 device_test.py dup-flag` runs the device with a common de-duplication bug: it skips messages
whose DUP flag is set, which AWS's re-sends and extra QoS 0 copies do not carry.
"""
import json
import os
import sys
import threading
import time

import paho.mqtt.client as mqtt

HOST, PORT = os.environ["FAKE_IOT_HOST"], int(os.environ["FAKE_IOT_PORT"])
COMMANDS = 10
DEDUP = sys.argv[1] if len(sys.argv) > 1 else "command-id"


def client(client_id):
    if hasattr(mqtt, "CallbackAPIVersion"):  # paho 2
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=client_id, protocol=mqtt.MQTTv311)
    return mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)


executed = {}  # command id -> how many times the device executed it
subscribed = threading.Event()
all_executed = threading.Event()


def on_message(c, userdata, msg):
    command = json.loads(msg.payload)
    if DEDUP == "dup-flag":
        if msg.dup:  # the bug: AWS's duplicates come without DUP
            return
    elif command["id"] in executed:
        return
    executed[command["id"]] = executed.get(command["id"], 0) + 1
    if len(executed) == COMMANDS:
        all_executed.set()


device = client("dev-1")
device.on_connect = lambda c, userdata, flags, rc: c.subscribe("cmd/dev-1", qos=1)
device.on_subscribe = lambda c, userdata, mid, granted: subscribed.set()
device.on_message = on_message
device.connect(HOST, PORT)
device.loop_start()
if not subscribed.wait(5):
    sys.exit("no SUBACK within 5 s")

cloud_connected = threading.Event()
cloud = client("cloud")
cloud.on_connect = lambda c, userdata, flags, rc: cloud_connected.set()
cloud.connect(HOST, PORT)
cloud.loop_start()
if not cloud_connected.wait(5):
    sys.exit("the cloud got no CONNACK within 5 s")
for i in range(COMMANDS):
    cloud.publish("cmd/dev-1", json.dumps({"id": i}), qos=1)

if not all_executed.wait(5):
    sys.exit("only %d of %d commands arrived within 5 s" % (len(executed), COMMANDS))
time.sleep(0.3)  # late copies (chaos.json keeps re-send delays and holds within 20 ms)
cloud.disconnect()
device.disconnect()

twice = {i: n for i, n in executed.items() if n > 1}
if twice:
    print("executed more than once:", twice, flush=True)
    sys.exit(1)
print("each of the %d commands executed once" % COMMANDS, flush=True)
