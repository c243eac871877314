/**
 * The data-plane HTTP listener under what no SDK sends: bodies too large (declared or streamed), unknown
 * paths and methods, bytes that are not HTTP, an endpoint opened and closed 50 times with a request each.
 * Every refusal is answered in AWS's error format and traced; nothing reaches the host; nothing is left open.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { FakeIotError, startFakeIot } from '../../src';
import { endpoint, resources, settledResources, trackUncaught } from '../helpers';
import type { TransportFailure } from '../../src/trace/entry';
import { request } from '../services/http-helpers';

const uncaught = trackUncaught();
afterAll(() => expect(uncaught).toEqual([]));

/** Sends raw bytes, returns what came back before the server closed the connection. */
function sendBytes(port: number, bytes: Buffer | string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (d) => (reply += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => resolve(reply));
    socket.write(bytes);
  });
}

test('a body declared over 128 KB gets 413 RequestEntityTooLargeException before it is sent; the endpoint goes on', async () => {
  const iot = await endpoint({ http: true });
  const reply = await sendBytes(iot.http!.port, `POST /topics/t HTTP/1.1\r\nHost: x\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n`);
  expect(reply).toMatch(/^HTTP\/1\.1 413 /);
  expect(reply).toMatch(/x-amzn-ErrorType: RequestEntityTooLargeException/i);
  expect(await iot.trace.waitFor({ event: 'transport-error', reason: 'payload-too-large' })).toMatchObject({ transport: 'http', message: expect.stringMatching(/^HTTP 413: .*131072/) });
  expect((await request(iot.http!.port, 'GET', '/api/things/shadow/ListNamedShadowsForThing/dev-1')).status).toBe(200);
});

test('a chunked body that grows over the limit is cut off with 413 (bytes counted as they come)', async () => {
  const iot = await endpoint({ http: true, limits: { maxPayloadBytes: 1000 } });
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: iot.http!.port, method: 'POST', path: '/topics/t', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    for (let i = 0; i < 5; i++) req.write(Buffer.alloc(400, 0x61)); // no Content-Length: chunked
    req.end();
  });
  expect(answer.status).toBe(413);
  expect(JSON.parse(answer.body)).toMatchObject({ message: 'The payload exceeds the maximum size allowed' });
  await iot.trace.waitFor({ event: 'transport-error', reason: 'payload-too-large' });
  expect(iot.trace.entries.filter((e) => e.kind === 'event' && e.event === 'publish')).toEqual([]);
});

test.each<[string, string, number, string, TransportFailure]>([
  ['GET', '/', 404, 'ResourceNotFoundException', 'not-found'],
  ['GET', '/mqtt', 404, 'ResourceNotFoundException', 'not-found'],
  ['GET', '/topics/a/b', 405, 'MethodNotAllowedException', 'method-not-allowed'],
  ['PUT', '/things/dev-1/shadow', 405, 'MethodNotAllowedException', 'method-not-allowed'],
  ['POST', '/api/things/shadow/ListNamedShadowsForThing/dev-1', 405, 'MethodNotAllowedException', 'method-not-allowed'],
  ['POST', '/topics/a%ZZb', 400, 'InvalidRequestException', 'bad-request'],
  ['POST', '/topics/t?qos=2', 400, 'InvalidRequestException', 'invalid-request'],
  ['POST', '/topics/a/+/b', 400, 'InvalidRequestException', 'invalid-request'],
])('%s %s → %i %s, traced as %s', async (method, path, status, type, reason) => {
  const iot = await endpoint({ http: true });
  const answer = await request(iot.http!.port, method, path, { body: method === 'GET' ? undefined : '{}' });
  expect(answer.status).toBe(status);
  expect(answer.headers['x-amzn-errortype']).toBe(type);
  expect(answer.headers['content-type']).toBe('application/json');
  expect(JSON.parse(answer.body)).toEqual({ message: expect.any(String), traceId: expect.any(String) });
  expect(await iot.trace.waitFor({ event: 'transport-error', reason })).toMatchObject({ transport: 'http', message: expect.stringMatching(new RegExp(`^HTTP ${status}: `)) });
});

test('curl style: a topic with plain slashes in the path, ?qos=1', async () => {
  const iot = await endpoint({ http: true });
  const answer = await request(iot.http!.port, 'POST', '/topics/sensors/dev-1/temp?qos=1', { body: '21.5' });
  expect(answer.status).toBe(200);
  expect(await iot.trace.waitFor({ event: 'publish', origin: 'api', topic: 'sensors/dev-1/temp' })).toMatchObject({ qos: 1 });
});

test('bytes that are not HTTP get 400 and a transport-error; an MQTT CONNECT too; the endpoint serves the next request', async () => {
  const iot = await endpoint({ http: true });
  expect(await sendBytes(iot.http!.port, Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]))).toMatch(/^HTTP\/1\.1 400 /);
  expect(await sendBytes(iot.http!.port, '\x00\xff garbage \r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
  expect(await iot.trace.waitFor({ event: 'transport-error', reason: 'bad-request' })).toMatchObject({ transport: 'http' });
  expect((await request(iot.http!.port, 'GET', '/api/things/shadow/ListNamedShadowsForThing/x')).status).toBe(200);
});

test('a client that leaves in the middle of its body disturbs nothing', async () => {
  const iot = await endpoint({ http: true });
  await new Promise<void>((resolve) => {
    const socket = net.connect(iot.http!.port, '127.0.0.1', () => {
      socket.write('POST /things/dev-1/shadow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"state":');
      setTimeout(() => socket.destroy(), 20);
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
  expect(iot.shadows.get('dev-1')).toBeUndefined();
  expect((await request(iot.http!.port, 'POST', '/things/dev-1/shadow', { body: '{"state":{"reported":{"ok":true}}}' })).status).toBe(200);
});

test('opening and closing 50 endpoints with http (each with a request, an SDK-style keep-alive connection left open) leaves no socket, server or timer behind', async () => {
  // The previous tests' endpoints are closed; their handles are released a few turns later.
  const before = await settledResources({ Timeout: Number.MAX_SAFE_INTEGER });
  let opened: Record<string, number> = {};
  for (let i = 0; i < 50; i++) {
    const iot = await startFakeIot({ http: true });
    const agent = new http.Agent({ keepAlive: true });
    const answer = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: iot.http!.port, method: 'POST', path: `/things/dev-${i}/shadow`, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ state: { reported: { i } } }));
    });
    expect(answer).toBe(200);
    if (i === 0) opened = resources();
    await iot.close(); // the kept-alive connection is closed by the server
    agent.destroy();
  }
  const after = await settledResources(before);
  expect((opened.TCPServerWrap ?? 0) - (after.TCPServerWrap ?? 0)).toBeGreaterThanOrEqual(2);
  expect(['TCPServerWrap', 'TCPSocketWrap', 'Timeout'].filter((k) => (after[k] ?? 0) > (before[k] ?? 0)).map((k) => `${k}: ${before[k] ?? 0} before, ${after[k] ?? 0} after`)).toEqual([]);
});

describe('options.http', () => {
  test('is validated up front', async () => {
    await expect(startFakeIot({ http: { port: -1 } })).rejects.toThrow(/options\.http\.port must be an integer from 0 to 65535/);
    await expect(startFakeIot({ http: { prot: 1 } as never })).rejects.toThrow(/unknown option options\.http\.prot/);
    await expect(startFakeIot({ http: 'yes' as never })).rejects.toThrow(/options\.http must be an object/);
  });

  test('a port in use is LISTEN_FAILED naming options.http.port, and the endpoint closes what it opened', async () => {
    const iot = await endpoint({ http: true });
    const before = resources();
    const error = await startFakeIot({ http: { port: iot.http!.port } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FakeIotError);
    expect((error as FakeIotError).message).toMatch(/options\.http\.port.*EADDRINUSE/);
    const after = await settledResources(before);
    expect(after.TCPServerWrap ?? 0).toBeLessThanOrEqual(before.TCPServerWrap ?? 0);
  });

  test('without http, iot.http is undefined', async () => {
    await using iot = await startFakeIot();
    expect(iot.http).toBeUndefined();
  });
});
