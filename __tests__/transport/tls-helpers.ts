/**
 * Helpers for the TLS tests: MQTT.js over mqtts with a client certificate, raw TLS and TCP sockets, and a
 * bystander that proves the endpoint keeps serving while a connection is refused.
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { FakeIot } from '../../src';

export const FIXTURES = path.resolve(__dirname, '../../fixtures');
export const fixture = (file: string) => readFileSync(path.join(FIXTURES, file), 'utf8');

export interface Credentials {
  certificatePem: string;
  privateKey: string;
}

/** fixtures/device-1 or device-2 as credentials. */
export const fixtureDevice = (name: 'device-1' | 'device-2'): Credentials => ({ certificatePem: fixture(`${name}.cert.pem`), privateKey: fixture(`${name}.private.key`) });

const opened: { end(force: boolean): unknown }[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.end(true);
});

/** An MQTT.js client over mqtts with a client certificate; resolves once CONNACK arrived. */
export async function tlsClient(iot: FakeIot, clientId: string, credentials: Credentials, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(iot.tls!.url, {
    clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000,
    cert: credentials.certificatePem, key: credentials.privateKey, ca: iot.tls!.caCertificate, ...options,
  });
  opened.push(client);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error(`${clientId}: closed before CONNACK`)));
  });
  return client;
}

/** A bystander on the plain port, subscribed to `bystander/#`: `check()` proves a round trip still works. */
export async function bystander(iot: FakeIot) {
  const client = await mqtt.connectAsync(iot.url, { clientId: 'bystander', reconnectPeriod: 0 });
  opened.push(client);
  await client.subscribeAsync('bystander/#', { qos: 1 });
  let n = 0;
  return {
    client,
    async check() {
      const payload = `ping ${++n}`;
      const got = new Promise<string>((resolve) => client.once('message', (_t, p) => resolve(p.toString())));
      iot.publish('bystander/ping', payload, { qos: 1 });
      expect(await got).toBe(payload);
      await client.publishAsync('bystander/pong', payload, { qos: 1 });
      await iot.trace.waitFor({ direction: 'in', clientId: 'bystander', packet: { cmd: 'publish', topic: 'bystander/pong', payload } });
    },
  };
}

/** What happened to a raw TLS attempt: whether the client saw the handshake finish, and how it ended. */
export interface TlsAttempt {
  socket: tls.TLSSocket;
  secure: Promise<boolean>;
  closed: Promise<{ error?: string }>;
}

/** A raw TLS connection to the endpoint's TLS port (node:tls, nothing of MQTT). */
export function rawTls(iot: FakeIot, options: tls.ConnectionOptions = {}): TlsAttempt {
  const socket = tls.connect({ host: '127.0.0.1', port: iot.tls!.port, ca: iot.tls!.caCertificate, servername: 'localhost', ...options });
  opened.push({ end: () => socket.destroy() });
  let error: string | undefined;
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  socket.on('data', () => {});
  return {
    socket,
    secure: new Promise((resolve) => {
      socket.once('secureConnect', () => resolve(true));
      socket.once('close', () => resolve(false));
    }),
    closed: new Promise((resolve) => socket.once('close', () => resolve(error === undefined ? {} : { error }))),
  };
}

/** A raw TCP connection to the TLS port that sends `bytes`; resolves when the endpoint closed it. */
export function rawBytes(iot: FakeIot, bytes: Buffer): Promise<void> {
  const socket = net.connect(iot.tls!.port, '127.0.0.1', () => socket.write(bytes));
  opened.push({ end: () => socket.destroy() });
  socket.on('error', () => {});
  socket.on('data', () => {});
  return new Promise((resolve) => socket.once('close', () => resolve()));
}
