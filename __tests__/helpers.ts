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

export interface Received {
  topic: string;
  payload: string;
  packet: mqttPacket.IPublishPacket;
}

/** An MQTT.js client with every message it received, collected from before CONNACK on. */
export type TestClient = MqttClient & {
  received: Received[];
  connack: mqttPacket.IConnackPacket;
  /** Resolves once the client has received `n` messages in all (event-driven, with a timeout). */
  receivedCount(n: number, timeoutMs?: number): Promise<Received[]>;
};

/** Connects an MQTT.js client (MQTT 3.1.1, no automatic reconnect) and waits for CONNACK. */
export async function client(iot: FakeIot, clientId: string, options: IClientOptions = {}): Promise<TestClient> {
  const c = mqtt.connect(iot.url, { clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options }) as TestClient;
  open.push({ close: () => c.end(true) });
  c.received = [];
  const waiters = new Set<() => void>();
  c.on('message', (topic, payload, packet) => {
    c.received.push({ topic, payload: payload.toString(), packet });
    for (const w of [...waiters]) w();
  });
  c.receivedCount = (n, timeoutMs = 5000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (c.received.length < n) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(c.received);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${clientId} received ${c.received.length} messages within ${timeoutMs} ms, not ${n}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  c.connack = await new Promise<mqttPacket.IConnackPacket>((resolve, reject) => {
    c.once('connect', resolve);
    c.once('error', reject);
    c.once('close', () => reject(new Error(`${clientId}: connection closed before CONNACK`)));
  });
  return c;
}

/** A raw TCP socket that speaks bytes we craft, for the cases no well-behaved client produces. */
export interface RawClient {
  socket: net.Socket;
  send(packet: mqttPacket.Packet | Buffer): void;
  /** Packets received from the broker, in order. */
  received: mqttPacket.Packet[];
  /** Resolves when the broker closed the socket. */
  closed: Promise<void>;
  /** Sends CONNECT and waits for the CONNACK (a client must not send anything before it). */
  connect(clientId: string, extra?: Partial<mqttPacket.IConnectPacket>): Promise<mqttPacket.IConnackPacket>;
  /** Resolves with the first received packet of that type (one already received counts). */
  next<C extends mqttPacket.PacketCmd>(cmd: C): Promise<Extract<mqttPacket.Packet, { cmd: C }>>;
  /** Resolves with all received packets of that type once there are `n` of them. */
  count<C extends mqttPacket.PacketCmd>(cmd: C, n: number): Promise<Extract<mqttPacket.Packet, { cmd: C }>[]>;
}

/**
 * MQTT packets parsed from the bytes fed to `parse`, kept in order; `count` waits (up to 3 s) until there are
 * `n` of a type. Shared by the raw TCP client and the raw WebSocket one.
 */
export function packetCollector(protocolVersion: 4 | 5 = 4) {
  const received: mqttPacket.Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion });
  const waiting = new Set<() => void>();
  parser.on('packet', (p) => {
    received.push(p);
    for (const w of [...waiting]) w();
  });
  const count = <C extends mqttPacket.PacketCmd>(cmd: C, n: number): Promise<Extract<mqttPacket.Packet, { cmd: C }>[]> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hits = received.filter((p) => p.cmd === cmd);
        if (hits.length >= n) {
          waiting.delete(check);
          clearTimeout(timer);
          resolve(hits as never);
        }
      };
      const timer = setTimeout(() => {
        waiting.delete(check);
        reject(new Error(`raw client: fewer than ${n} ${cmd} within 3 s; got ${received.map((p) => p.cmd).join(', ') || 'nothing'}`));
      }, 3000);
      waiting.add(check);
      check();
    });
  return { received, parse: (data: Buffer) => void parser.parse(data), count };
}

/** `protocolVersion: 5`: packets are written and read as MQTT 5 (the CONNECT must say protocolVersion 5 too). */
export async function raw(iot: FakeIot, { protocolVersion = 4 }: { protocolVersion?: 4 | 5 } = {}): Promise<RawClient> {
  const socket = net.connect(iot.port, iot.host);
  open.push({ close: () => socket.destroy() });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  const { received, parse, count } = packetCollector(protocolVersion);
  socket.on('data', parse);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const r: RawClient = {
    socket,
    received,
    closed,
    send(packet) {
      socket.write(Buffer.isBuffer(packet) ? packet : mqttPacket.generate(packet, { protocolVersion }));
    },
    async next(cmd) {
      return (await count(cmd, 1))[0]!;
    },
    count,
    async connect(clientId, extra) {
      r.send(connectPacket(clientId, { protocolVersion, ...extra }));
      return r.next('connack');
    },
  };
  return r;
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

/**
 * Collects uncaught exceptions and unhandled rejections while the calling describe block runs: the host
 * process must never see one, whatever bytes arrive.
 */
export function trackUncaught(): unknown[] {
  const uncaught: unknown[] = [];
  const record = (e: unknown) => uncaught.push(e);
  beforeAll(() => {
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
  });
  afterAll(() => {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
  });
  return uncaught;
}

/** The process's live sockets, servers and timers, by kind. */
export function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) {
    if (r === 'TCPServerWrap' || r === 'TCPSocketWrap' || r === 'Timeout') counts[r] = (counts[r] ?? 0) + 1;
  }
  return counts;
}

/**
 * Waits (up to `ms`, turning the event loop) until no kind of resource outnumbers `before`, then
 * returns the counts. Closed sockets are released a few turns after close, later under load.
 */
export async function settledResources(before: Record<string, number>, ms = 2000): Promise<Record<string, number>> {
  const settled = () => Object.entries(resources()).every(([k, n]) => n <= (before[k] ?? 0));
  for (const deadline = Date.now() + ms; !settled() && Date.now() < deadline; ) await new Promise((resolve) => setImmediate(resolve));
  return resources();
}

/**
 * Closes an endpoint while a client is still connected to it, and waits until the client saw its connection
 * go (the server closed it); then lets the client go too.
 */
export async function closeUnderClient(iot: { close(): Promise<void> }, c: MqttClient): Promise<void> {
  const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
  await iot.close();
  await closed;
  c.end(true);
}

/**
 * After endpoints were opened and closed: the counts taken while one was open (`opened`) saw its `servers`
 * listeners and both ends of a connection, and saw them go; and no kind of resource outnumbers `before`
 * (a failure names the kind).
 */
export function expectReleased(before: Record<string, number>, opened: Record<string, number>, after: Record<string, number>, servers: number): void {
  const count = (r: Record<string, number>, kind: string) => r[kind] ?? 0;
  expect(count(opened, 'TCPServerWrap') - count(after, 'TCPServerWrap')).toBeGreaterThanOrEqual(servers);
  expect(count(opened, 'TCPSocketWrap') - count(after, 'TCPSocketWrap')).toBeGreaterThanOrEqual(2);
  const kinds = ['TCPServerWrap', 'TCPSocketWrap', 'Timeout'];
  expect(kinds.filter((k) => count(after, k) > count(before, k)).map((k) => `${k}: ${count(before, k)} before, ${count(after, k)} after`)).toEqual([]);
}

/** The message of what `fn` throws (a matcher's failure); throws itself when `fn` does not throw. */
export function failure(fn: () => void): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the matcher passed');
}

/** Closes everything the test opened. Registered for every test file that imports this module. */
afterEach(async () => {
  const items = open.splice(0);
  await Promise.all(items.map((i) => i.close()));
});
