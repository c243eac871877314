/**
 * A trace from a real run, for the HTML and pcap tests: MQTT.js clients (3.1.1 and 5) against startFakeIot()
 * with scripted chaos (seed 7), so the trace holds chaos-made copies, a violation and disconnects.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type TraceEntry, startFakeIot } from '../../src';

export const KNOWN_SEED = 7;

/** A binary payload (not UTF-8), and one larger than a TCP segment (1460 bytes). */
export const BINARY_PAYLOAD = Buffer.from([0x00, 0xff, 0x10, 0x80, 0xc3, 0x28, 0x7f, 0x01]);
export const LARGE_PAYLOAD = Buffer.from('x'.repeat(3000));

async function connect(url: string, clientId: string, options: IClientOptions = {}): Promise<MqttClient> {
  const c = mqtt.connect(url, { clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

export async function recordKnownTrace(): Promise<{ entries: TraceEntry[]; seed: number }> {
  const iot = await startFakeIot({
    seed: KNOWN_SEED,
    chaos: {
      script: [
        { fault: 'duplicateQos0', client: 'app', topic: 'state/#', nth: 1 },
        { fault: 'resendWithNewPacketId', client: 'sensor-1', topic: 'cmd/#', nth: 1 },
      ],
    },
  });
  const clients: MqttClient[] = [];
  try {
    const sensor = await connect(iot.url, 'sensor-1');
    const app = await connect(iot.url, 'app', { protocolVersion: 5 });
    clients.push(sensor, app);
    await sensor.subscribeAsync('cmd/sensor-1', { qos: 1 });
    await app.subscribeAsync({ 'state/#': { qos: 0 }, 'bulk/#': { qos: 0 } });

    // QoS 0 to app: the script copies it once (duplicateQos0).
    await sensor.publishAsync('state/sensor-1', JSON.stringify({ temperature: 21.5 }), { qos: 0 });
    await iot.trace.waitFor({ direction: 'out', clientId: 'app', chaos: { fault: 'duplicateQos0' } });
    // QoS 1 to sensor-1 from the app, binary: the script sends it again with a new packet id.
    await app.publishAsync('cmd/sensor-1', BINARY_PAYLOAD, { qos: 1 });
    await iot.trace.waitFor({ direction: 'out', clientId: 'sensor-1', chaos: { fault: 'resendWithNewPacketId' } });
    // Larger than one TCP segment.
    await sensor.publishAsync('bulk/sensor-1', LARGE_PAYLOAD, { qos: 1 });
    await iot.trace.waitFor({ direction: 'out', clientId: 'app', packet: { cmd: 'publish', topic: 'bulk/sensor-1' } });
    // From the cloud side.
    iot.publish('cmd/sensor-1', '{"reboot":true}', { qos: 1 });
    await iot.trace.waitFor({ direction: 'in', clientId: 'sensor-1', packet: { cmd: 'puback' } }, { timeoutMs: 5000 });
    await app.unsubscribeAsync('bulk/#');
    await iot.settled();

    // A topic with more than AWS's 7 slashes: a violation, and the broker closes the connection.
    const bad = await connect(iot.url, 'bad-device');
    clients.push(bad);
    bad.publish('a/b/c/d/e/f/g/h/i', 'too deep', { qos: 0 });
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'bad-device' });

    await sensor.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'sensor-1' });
    await app.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'app' });
    return { entries: iot.trace.entries, seed: iot.seed };
  } finally {
    for (const c of clients) c.end(true);
    await iot.close();
  }
}
