/**
 * Helpers for the WebSocket transport tests: real `ws` clients, real HTTP, real sockets; no mocks.
 */
import { createHash, createHmac } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import WebSocket from 'ws';
import { type AwsCredentials, type FakeIot, type PresignOptions, presignWebSocketUrl } from '../../src';
import { packetCollector } from '../helpers';

export const CREDENTIALS: AwsCredentials = { accessKeyId: 'AKIAFAKEIOTEXAMPLE01', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEKEY+01' };

/** A URL for `iot.ws`, presigned on the endpoint's clock. */
export function signedUrl(iot: FakeIot, overrides: Partial<PresignOptions> = {}): Promise<string> {
  return presignWebSocketUrl({ host: '127.0.0.1', port: iot.ws!.port, protocol: 'ws', region: 'eu-west-1', credentials: CREDENTIALS, date: iot.clock.now(), ...overrides });
}

/** Connects MQTT.js over a WebSocket URL and waits for CONNACK. */
export async function wsClient(url: string, clientId: string, options: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options });
}

/** What a raw WebSocket handshake got: the subprotocol on success, or the HTTP status of a refusal. */
export type Handshake = { opened: true; protocol: string; socket: WebSocket } | { opened: false; status: number; body: string };

export function handshake(url: string, protocols: string[] = ['mqtt']): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols);
    socket.once('open', () => resolve({ opened: true, protocol: socket.protocol, socket }));
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ opened: false, status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    socket.once('error', reject);
  });
}

/** MQTT over a raw WebSocket: sends packets, parses what comes back. */
export function mqttOver(socket: WebSocket) {
  const { received, parse, count } = packetCollector();
  socket.on('message', (data: Buffer) => parse(data));
  return {
    received,
    send: (packet: mqttPacket.Packet) => socket.send(mqttPacket.generate(packet)),
    next: async <C extends mqttPacket.PacketCmd>(cmd: C): Promise<Extract<mqttPacket.Packet, { cmd: C }>> => (await count(cmd, 1))[0]!,
  };
}

/** A plain HTTP GET (no upgrade) to the WebSocket port. */
export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** Sends raw bytes to a port; resolves with everything the server wrote back once it closed the socket. */
export function sendBytes(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (d) => (reply += d.toString('latin1')));
    socket.once('connect', () => socket.write(bytes));
    socket.once('close', () => resolve(reply));
    socket.once('error', reject);
  });
}

/**
 * A presigned URL made the way the AWS IoT device SDK v1 makes it, with node:crypto only (not the library
 * under test): no X-Amz-Expires, the host signed without its port, the session token appended after signing.
 */
export function presignLikeSdkV1(options: { host: string; port: number; region: string; credentials: AwsCredentials; date: number }): string {
  const { host, port, region, credentials, date } = options;
  const amzDate = new Date(date).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${region}/iotdevicegateway/aws4_request`;
  const query = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(`${credentials.accessKeyId}/${scope}`)}&X-Amz-Date=${amzDate}&X-Amz-SignedHeaders=host`;
  const canonical = `GET\n/mqtt\n${query}\nhost:${host}\n\nhost\n${createHash('sha256').update('').digest('hex')}`;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), region), 'iotdevicegateway'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const token = credentials.sessionToken ? `&X-Amz-Security-Token=${encodeURIComponent(credentials.sessionToken)}` : '';
  return `ws://${host}:${port}/mqtt?${query}&X-Amz-Signature=${signature}${token}`;
}
