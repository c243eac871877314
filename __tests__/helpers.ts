/**
 * Test helpers: real MQTT.js clients and raw sockets against a real endpoint. No mocks.
 */
import * as net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import { type FakeIot, type FakeIotOptions, startFakeIot } from '../src';

const open: { close(): unknown }[] = [];

/** Starts an endpoint that is closed after the test. */
export async function endpoint(options?: FakeIotOptions): Promise<FakeIot> {
  const iot = await startFakeIot(options);
  open.push(iot);
  return iot;
}

/** Connects an MQTT.js client (MQTT 3.1.1, no automatic reconnect) and waits for CONNACK. */
export async function client(iot: FakeIot, clientId: string, options: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(iot.url, { clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options });
  open.push({ close: () => c.end(true) });
  return c;
}

/** Collects the messages a client receives. */
export function inbox(c: MqttClient): { topic: string; payload: string; packet: mqttPacket.IPublishPacket }[] {
  const got: { topic: string; payload: string; packet: mqttPacket.IPublishPacket }[] = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), packet }));
  return got;
}

/** A raw TCP socket that speaks bytes we craft, for the cases no well-behaved client produces. */
export interface RawClient {
  socket: net.Socket;
  send(packet: mqttPacket.Packet | Buffer): void;
  /** Packets received from the broker, in order. */
  received: mqttPacket.Packet[];
  /** Resolves when the broker closed the socket. */
  closed: Promise<void>;
}

export async function raw(iot: FakeIot): Promise<RawClient> {
  const socket = net.connect(iot.port, iot.host);
  open.push({ close: () => socket.destroy() });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  const received: mqttPacket.Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (p) => received.push(p));
  socket.on('data', (d) => parser.parse(d));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    received,
    closed,
    send(packet) {
      socket.write(Buffer.isBuffer(packet) ? packet : mqttPacket.generate(packet));
    },
  };
}

export const connectPacket = (clientId: string, extra: Partial<mqttPacket.IConnectPacket> = {}): mqttPacket.IConnectPacket => ({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: 4,
  clean: true,
  keepalive: 60,
  clientId,
  ...extra,
});

/** Closes everything the test opened. Registered for every test file that imports this module. */
afterEach(async () => {
  const items = open.splice(0);
  await Promise.all(items.map((i) => i.close()));
});
