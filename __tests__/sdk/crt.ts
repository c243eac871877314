/**
 * What the tests of aws-crt's native clients share: waiting for what a client reports on its own threads,
 * stopping and closing every Mqtt5Client a test started (its native resources are released then), and
 * disconnecting every MQTT 3.1.1 connection (or Jest waits for its threads).
 */
import { io, iot as awsIot, mqtt, mqtt5 } from 'aws-iot-device-sdk-v2';
import type { FakeIot, ThingCredentials } from '../../src';

/**
 * Waits (up to 5 s) for what an aws-crt client reports on its own threads: its events come after the endpoint's
 * last trace entry, so the trace cannot wake a waiter for them.
 */
export async function until(done: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 5000; !done(); ) {
    if (Date.now() > deadline) throw new Error(`the aws-crt client reported no ${what} within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The Mqtt5Clients the tests of a file start: each is stopped and closed after its test. */
export function mqtt5Clients(): Set<mqtt5.Mqtt5Client> {
  const opened = new Set<mqtt5.Mqtt5Client>();
  afterEach(async () => {
    for (const c of [...opened]) {
      opened.delete(c);
      const stopped = new Promise((resolve) => c.once('stopped', resolve));
      c.stop();
      await stopped;
      c.close();
    }
  });
  return opened;
}

/** The MQTT 3.1.1 connections the tests of a file make: each is disconnected after its test. */
export function v2Connections(): {
  /** Disconnects the connection after the test; its errors are the test's to see through its own events. */
  track(connection: mqtt.MqttClientConnection): mqtt.MqttClientConnection;
  /** A connection over plain TCP, connected. */
  plain(iot: FakeIot, clientId: string): Promise<mqtt.MqttClientConnection>;
} {
  const opened = new Set<mqtt.MqttClientConnection>();
  afterEach(async () => {
    for (const c of [...opened]) await c.disconnect().catch(() => {});
    opened.clear();
  });
  const track = (connection: mqtt.MqttClientConnection) => {
    opened.add(connection);
    connection.on('error', () => {});
    return connection;
  };
  return {
    track,
    async plain(iot, clientId) {
      const connection = track(new mqtt.MqttClient().new_connection({ client_id: clientId, host_name: '127.0.0.1', port: iot.port, clean_session: true, keep_alive: 30, socket_options: new io.SocketOptions() }));
      await connection.connect();
      return connection;
    },
  };
}

/** The builder as device code uses it against AWS: mTLS from files, trusting `caPath` instead of Amazon Root CA 1. */
export function mtlsBuilder(iot: FakeIot, dev: ThingCredentials, clientId: string): awsIot.AwsIotMqttConnectionConfigBuilder {
  return awsIot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(dev.certPath, dev.keyPath)
    .with_certificate_authority_from_path(undefined, dev.caPath)
    .with_endpoint('localhost')
    .with_port(iot.tls!.port)
    .with_client_id(clientId)
    .with_clean_session(true);
}
