/**
 * WebSocket endpoints as resources, and their options: started and closed many times they leave nothing
 * behind; a bad option is refused up front, naming it.
 */
import { FakeIotError, startFakeIot } from '../../src';
import { closeUnderClient, expectReleased, resources, settledResources } from '../helpers';
import { CREDENTIALS, handshake, signedUrl, wsClient } from './ws-helpers';

test('opening and closing 50 endpoints with WebSockets (each with a client, a message and a refusal) leaves no socket, server or timer behind', async () => {
  const before = resources();
  let opened: Record<string, number> = {};
  for (let i = 0; i < 50; i++) {
    const iot = await startFakeIot({ websockets: { tls: false }, credentials: CREDENTIALS });
    const c = await wsClient(await signedUrl(iot), `dev-${i}`);
    await c.subscribeAsync('t', { qos: 1 });
    await c.publishAsync('t', 'x', { qos: 1 });
    expect(await handshake((await signedUrl(iot)).replace('/mqtt?', '/nope?'))).toMatchObject({ opened: false, status: 404 });
    if (i === 0) opened = resources();
    await closeUnderClient(iot, c);
  }
  const after = await settledResources(before);
  expectReleased(before, opened, after, 2);
});

test('close() also ends a connection still sending its HTTP request', async () => {
  const before = resources();
  const iot = await startFakeIot({ websockets: { tls: false } });
  const net = await import('node:net');
  const idle = net.connect(iot.ws!.port, '127.0.0.1');
  idle.on('error', () => {});
  await new Promise((resolve) => idle.once('connect', resolve));
  idle.write('GET /mqtt HTTP/1.1\r\nHost: x\r\n'); // headers never finished
  const idleClosed = new Promise((resolve) => idle.once('close', resolve));
  await iot.close();
  await idleClosed;
  const after = await settledResources(before);
  expect(['TCPServerWrap', 'TCPSocketWrap'].filter((k) => (after[k] ?? 0) > (before[k] ?? 0))).toEqual([]);
});

test('a client that never finishes its HTTP request is answered 408 after limits.connectTimeoutSeconds, and traced', async () => {
  const iot = await startFakeIot({ websockets: { tls: false }, limits: { connectTimeoutSeconds: 1 } });
  try {
    const net = await import('node:net');
    const slow = net.connect(iot.ws!.port, '127.0.0.1');
    slow.on('error', () => {});
    let reply = '';
    slow.on('data', (d) => (reply += d.toString()));
    const closed = new Promise((resolve) => slow.once('close', resolve));
    slow.write('GET /mqtt HTTP/1.1\r\nHost: x\r\n'); // and nothing more
    const started = Date.now();
    await closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(iot.trace.filter({ event: 'transport-error' })).toEqual([expect.objectContaining({ reason: 'request-timeout', message: expect.stringMatching(/^HTTP 408: no complete HTTP request within 1000 ms/) })]);
  } finally {
    await iot.close();
  }
});

describe('options.websockets and options.credentials are validated up front', () => {
  test.each([
    [{ websockets: 'yes' }, /^options\.websockets must be an object/],
    [{ websockets: { tls: false, prot: 1 } }, /^unknown option options\.websockets\.prot\. Did you mean "port"\?/],
    [{ websockets: { tls: false, port: 70000 } }, /^options\.websockets\.port must be an integer from 0 to 65535/],
    [{ websockets: { tls: false, path: 'mqtt' } }, /^options\.websockets\.path must be a URL path starting with "\/"/],
    [{ websockets: { tls: { cert: 'nope', key: 'nope' } } }, /^options\.websockets\.tls\.cert must be a PEM certificate/],
    [{ credentials: { accessKeyId: 'AKIA', secretAccessKey: '' } }, /^options\.credentials\.secretAccessKey must be a non-empty string/],
    [{ credentials: { accessKeyId: 'has space', secretAccessKey: 's' } }, /^options\.credentials\.accessKeyId must be an access key id/],
    [{ credentials: { accessKeyId: 'AKIA', secretAccessKey: 's', sessionToken: 5 } }, /^options\.credentials\.sessionToken must be a non-empty string/],
    [{ credentials: { accessKeyId: 'AKIA', secretKey: 's' } }, /^unknown option options\.credentials\.secretKey\./],
  ])('%j', async (options, message) => {
    const error = (await startFakeIot(options as never).catch((e: unknown) => e)) as FakeIotError;
    expect(error).toBeInstanceOf(FakeIotError);
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message.replace(/^\[fake-aws-iot\] /, '')).toMatch(message);
  });

  test('a secret never appears in a message', async () => {
    const error = (await startFakeIot({ credentials: { accessKeyId: 'bad key', secretAccessKey: 'SUPERSECRET' } }).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/accessKeyId/);
    expect(error.message).not.toContain('SUPERSECRET');
  });

  test('a WebSocket port in use: LISTEN_FAILED naming options.websockets.port, and the TCP port freed', async () => {
    const before = resources();
    const first = await startFakeIot({ websockets: { tls: false } });
    const error = (await startFakeIot({ websockets: { tls: false, port: first.ws!.port } }).catch((e: unknown) => e)) as Error & { code: string };
    await first.close();
    expect(error).toBeInstanceOf(FakeIotError);
    expect(error.code).toBe('LISTEN_FAILED');
    expect(error.message).toMatch(/options\.websockets\.port.*EADDRINUSE/);
    const after = await settledResources(before);
    expect(after.TCPServerWrap ?? 0).toBeLessThanOrEqual(before.TCPServerWrap ?? 0); // the failed endpoint's TCP listener is closed too
  });

  test('without websockets, iot.ws is undefined', async () => {
    await using iot = await startFakeIot();
    expect(iot.ws).toBeUndefined();
  });
});
