/**
 * aws-iot-device-sdk-v2 connections for tests: aws-crt runs native threads, so every connection made here is
 * disconnected after its test (or Jest waits for it).
 */
import { io, mqtt } from 'aws-iot-device-sdk-v2';
import type { FakeIot } from '../../src';

const connections = new Set<mqtt.MqttClientConnection>();
afterEach(async () => {
  for (const c of [...connections]) await c.disconnect().catch(() => {});
  connections.clear();
});

/** A v2 MQTT 3.1.1 connection over plain TCP, connected. */
export async function v2Plain(iot: FakeIot, clientId: string): Promise<mqtt.MqttClientConnection> {
  const connection = new mqtt.MqttClient().new_connection({ client_id: clientId, host_name: '127.0.0.1', port: iot.port, clean_session: true, keep_alive: 30, socket_options: new io.SocketOptions() });
  return track(connection).connect().then(() => connection);
}

/** Disconnects the connection after the test; its errors are the test's to see through its own events. */
export function track(connection: mqtt.MqttClientConnection): mqtt.MqttClientConnection {
  connections.add(connection);
  connection.on('error', () => {});
  return connection;
}
