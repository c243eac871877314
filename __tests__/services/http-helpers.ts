/**
 * The real AWS SDK's data-plane client (`@aws-sdk/client-iot-data-plane`) pointed at an endpoint's HTTP
 * listener, and a raw HTTP request for what the SDK never sends. Every client made here is destroyed after
 * its test (its keep-alive sockets go with it).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { FakeIot } from '../../src';
import type { AwsCredentials } from '../../src/transport/sigv4';

export const HTTP_CREDENTIALS: AwsCredentials = { accessKeyId: 'AKIAHTTPEXAMPLE00001', secretAccessKey: 'http/SECRET+EXAMPLEKEY/0000000000000000' };

const clients = new Set<IoTDataPlaneClient>();
afterEach(() => {
  for (const c of clients) c.destroy();
  clients.clear();
});

/**
 * A data-plane client as backend code makes one, with `endpoint: iot.http.url`. One attempt only (the SDK
 * retries 429 and 500 by itself), and the fixture CA trusted for https:// through a NodeHttpHandler agent.
 */
export function sdk(iot: FakeIot, options: { credentials?: AwsCredentials; ca?: string; systemClockOffset?: number } = {}): IoTDataPlaneClient {
  const client = new IoTDataPlaneClient({
    endpoint: iot.http!.url,
    region: 'eu-west-1',
    credentials: options.credentials ?? HTTP_CREDENTIALS,
    maxAttempts: 1,
    ...(options.systemClockOffset !== undefined ? { systemClockOffset: options.systemClockOffset } : {}),
    ...(options.ca ? { requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: options.ca }) }) } : {}),
  });
  clients.add(client);
  return client;
}

export const json = (payload: Uint8Array | undefined): unknown => JSON.parse(Buffer.from(payload ?? []).toString('utf8'));
export const body = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request on its own connection (no agent, nothing kept alive). */
export function request(port: number, method: string, path: string, options: { headers?: http.OutgoingHttpHeaders; body?: Buffer | string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, headers: options.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
