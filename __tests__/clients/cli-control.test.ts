/**
 * `--control-port`: the CLI's control API, driven with curl (and Python's urllib) against real clients
 * outside the test process: mosquitto_sub, a raw MQTT socket.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as mqttPacket from 'mqtt-packet';
import { CLI, type RunningCli, run, spawnGroup, startCli } from './cli';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fake-aws-iot-control-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function controlUrl(cli: RunningCli): string {
  return /fake-aws-iot control API on (http:\/\/127\.0\.0\.1:\d+) \(GET \/openapi\.json\)\n/.exec(cli.stdout())![1]!;
}

/** curl, printing the body and then the status on a line of its own. */
async function curl(...args: string[]): Promise<{ status: number; body: any }> {
  const result = await run('curl', ['-s', '-w', '\n%{http_code}', ...args]);
  expect(result.code).toBe(0);
  const lines = result.stdout.split('\n');
  const status = Number(lines.pop());
  const text = lines.join('\n');
  return { status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

test('--control-port 0 prints the URL before the banner; curl publishes to mosquitto_sub, disconnects it, and refuses bad requests with the field', async () => {
  const cli = await startCli(['--control-port', '0']);
  const url = controlUrl(cli);
  expect(cli.stdout().indexOf('control API on')).toBeLessThan(cli.stdout().indexOf('listening on'));
  const sub = spawnGroup('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(cli.port), '-i', 'sub-1', '-q', '1', '-t', 'cmd/#', '-v']);
  expect((await curl(`${url}/trace/wait`, '-d', '{"match": {"event": "subscription-active", "clientId": "sub-1"}, "timeoutMs": 10000}')).status).toBe(200);
  expect(await curl(`${url}/publish`, '-H', 'Content-Type: application/json', '-d', '{"topic": "cmd/sub-1", "payload": {"$base64": "aGk="}, "qos": 1}')).toEqual({ status: 200, body: {} });
  await sub.waitForOutput(/^cmd\/sub-1 hi$/m);
  const clients = await curl(`${url}/clients`);
  expect(clients.body.clients).toEqual([expect.objectContaining({ clientId: 'sub-1', subscriptions: [{ topic: 'cmd/#', qos: 1 }] })]);

  expect(await curl('-X', 'DELETE', `${url}/connections/sub-1?cleanSession=true`)).toEqual({ status: 200, body: {} });
  const gone = await curl(`${url}/trace/wait`, '-d', '{"match": {"event": "disconnect", "clientId": "sub-1"}}');
  expect(gone.body.entry).toMatchObject({ reason: 'API_INITIATED_DISCONNECT', willPublished: false });

  expect(await curl(`${url}/publish`, '-d', '{"topic": "cmd/+"}')).toMatchObject({ status: 400, body: { code: 'INVALID_ARGUMENT', field: 'topic' } });
  expect(await curl(`${url}/trace/wait`, '-d', '{"match": {"event": "disconect"}}')).toMatchObject({ status: 400, body: { field: 'match.event' } });
  expect(await curl(`${url}/publish`, '-d', 'topic=cmd')).toMatchObject({ status: 400, body: { field: 'body' } });
  expect(await curl(`${url}/trace/wait`, '-d', '{"match": {"event": "rule"}, "timeoutMs": 0}')).toMatchObject({ status: 408, body: { code: 'TRACE_TIMEOUT' } });
  expect(await curl(`${url}/trace?format=text`)).toMatchObject({ status: 200, body: expect.stringContaining('*** disconnect API_INITIATED_DISCONNECT') });

  // The trace as JSON lines, which `fake-aws-iot trace view` turns into a page to look at.
  const jsonl = path.join(dir, 'trace.jsonl');
  expect((await run('curl', ['-sf', '-o', jsonl, `${url}/trace?format=jsonl`])).code).toBe(0);
  const html = path.join(dir, 'trace.html');
  expect((await run(process.execPath, [CLI, 'trace', 'view', jsonl, '-o', html])).code).toBe(0);
  expect(readFileSync(html, 'utf8')).toMatch(/^<!doctype html>[\s\S]*sub-1/);
  expect(await cli.stop()).toBe(0);
});

test('with "clock": "virtual" in --config, POST /clock/advance moves time: a silent client times out on keep-alive at once', async () => {
  const config = path.join(dir, 'options.json');
  writeFileSync(config, JSON.stringify({ clock: 'virtual' }));
  const cli = await startCli(['--control-port', '0', '--config', config]);
  const url = controlUrl(cli);
  // A client that says nothing after its CONNECT (MQTT.js or mosquitto would ping on real time).
  const socket = net.connect(cli.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: 'quiet' }));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.resume();
  expect((await curl(`${url}/trace/wait`, '-d', '{"match": {"event": "connect", "clientId": "quiet"}}')).status).toBe(200);
  expect((await curl(`${url}/clock`)).body.mode).toBe('virtual');
  expect((await curl(`${url}/clock/advance`, '-d', '{"ms": 45001}')).status).toBe(200);
  const gone = await curl(`${url}/trace/wait`, '-d', '{"match": {"event": "disconnect", "clientId": "quiet"}}');
  expect(gone.body.entry.reason).toBe('MQTT_KEEP_ALIVE_TIMEOUT');
  await closed;
  expect(await cli.stop()).toBe(0);
});

test('stopping the CLI answers a pending long poll (503 ENDPOINT_CLOSED) and exits 0', async () => {
  const cli = await startCli(['--control-port', '0']);
  const url = controlUrl(cli);
  const poll = spawnGroup('/usr/bin/python3', ['-c', `
import json, sys, urllib.error, urllib.request
request = urllib.request.Request(sys.argv[1] + "/trace/wait", data=json.dumps({"match": {"event": "rule"}, "timeoutMs": 60000}).encode(), method="POST")
try:
    urllib.request.urlopen(request)
except urllib.error.HTTPError as error:
    print(error.code, json.load(error)["code"], flush=True)
`, url]);
  // Stop once the poll is open (GET /control counts the polls waiting on the endpoint).
  while ((await curl(`${url}/control`)).body.openPolls !== 1);
  expect(await cli.stop()).toBe(0);
  expect(await poll.exited).toBe(0);
  expect(poll.stdout()).toBe('503 ENDPOINT_CLOSED\n');
});

test.each([
  ['http', /^\[fake-aws-iot\] --control-port needs a whole number \(got "http"\)/],
  ['70000', /^\[fake-aws-iot\] --control-port must be a whole number from 0 to 65535 \(got 70000\)/],
])('--control-port %s exits 2 naming the flag', async (port, message) => {
  const result = await run(process.execPath, [CLI, '--port', '0', '--control-port', port]);
  expect([result.code, result.stderr]).toEqual([2, expect.stringMatching(message)]);
});

test('--control-port on a port in use exits 1 naming the flag', async () => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  try {
    const taken = await run(process.execPath, [CLI, '--port', '0', '--control-port', String((holder.address() as net.AddressInfo).port)]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/^\[fake-aws-iot\] cannot listen for the control API on 127\.0\.0\.1:\d+: EADDRINUSE\. Another process uses that port; use --control-port 0 for a free one\./);
    expect(taken.stdout).toBe('');
  } finally {
    holder.close();
  }
});
