/**
 * The control API over real HTTP against a real endpoint, with real MQTT.js clients (and a raw socket where
 * a client must stay silent): what each route does to the endpoint, the JSON match language, and how bad
 * requests are refused.
 */
import * as net from 'node:net';
import { DeleteConnectionCommand, IoTDataPlaneClient, InvalidRequestException, ResourceNotFoundException } from '@aws-sdk/client-iot-data-plane';
import mqtt from 'mqtt';
import { type TestClient, client, endpoint, expectReleased, raw, resources, settledResources } from '../helpers';
import { pingRoundTrip } from '../sync';
import { type FakeIot, parseTraceJsonLines } from '../../src';
import { startControlServer } from '../../src/control/server';
import { call, control, nextWait } from './helpers';

describe('publishing and clients', () => {
  test('POST /publish delivers to an MQTT.js subscriber, text or bytes, with QoS 1 and MQTT 5 properties', async () => {
    const iot = await endpoint({ seed: 1 });
    const ctl = await control(iot);
    const dev = await client(iot, 'dev-1', { protocolVersion: 5 });
    await dev.subscribeAsync('cmd/dev-1', { qos: 1 });
    expect(await call(ctl, 'POST', '/publish', { topic: 'cmd/dev-1', payload: 'reboot', qos: 1, properties: { userProperties: { source: 'ci' }, correlationData: { $base64: 'AQI=' } } })).toMatchObject({ status: 200, json: {} });
    expect(await call(ctl, 'POST', '/publish', { topic: 'cmd/dev-1', payload: { $base64: 'AP8=' } })).toMatchObject({ status: 200 });
    const [first, second] = await dev.receivedCount(2);
    expect(first).toMatchObject({ topic: 'cmd/dev-1', payload: 'reboot', packet: { qos: 1, properties: { userProperties: { source: 'ci' } } } });
    expect(first!.packet.properties!.correlationData).toEqual(Buffer.from([1, 2]));
    expect(second!.packet.payload).toEqual(Buffer.from([0, 255]));
  });

  test('GET /clients lists the connected clients with their subscriptions', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    const dev = await client(iot, 'dev-2');
    await dev.subscribeAsync('cmd/#', { qos: 1 });
    const { json } = await call(ctl, 'GET', '/clients');
    expect(json.clients).toEqual([expect.objectContaining({ clientId: 'dev-2', transport: 'tcp', subscriptions: [{ topic: 'cmd/#', qos: 1 }], inflight: 0 })]);
  });

  test('POST /clients/{clientId}/disconnect closes the connection (API_INITIATED_DISCONNECT) and can keep the will back', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    const watcher = await client(iot, 'watcher');
    await watcher.subscribeAsync('will/#');
    await client(iot, 'dev/3', { will: { topic: 'will/dev-3', payload: Buffer.from('gone'), qos: 0, retain: false } });
    expect(await call(ctl, 'POST', `/clients/${encodeURIComponent('dev/3')}/disconnect`, { preventWillMessage: true })).toMatchObject({ status: 200 });
    const { json } = await call(ctl, 'POST', '/trace/wait', { match: { event: 'disconnect', clientId: 'dev/3' } });
    expect(json.entry).toMatchObject({ reason: 'API_INITIATED_DISCONNECT', willPublished: false });
    expect(await call(ctl, 'POST', '/clients/dev%2F3/disconnect')).toMatchObject({ status: 404, json: { code: 'NOT_FOUND', field: 'clientId' } });
    expect(await call(ctl, 'POST', '/clients/watcher/disconnect', { cleanSession: 'yes' })).toMatchObject({ status: 400, json: { field: 'cleanSession' } });
  });

  test("DELETE /connections/{clientId} is AWS's DeleteConnection: the AWS SDK's DeleteConnectionCommand works against it, typed errors included", async () => {
    const iot = await endpoint({ limits: { sessionExpirySeconds: 3600 } });
    const ctl = await control(iot);
    const dev = await client(iot, 'dev-4', { clean: false });
    await dev.subscribeAsync('cmd/dev-4', { qos: 1 });
    const aws = new IoTDataPlaneClient({ endpoint: ctl.url, region: 'eu-west-1', credentials: { accessKeyId: 'AKIACONTROLEXAMPLE', secretAccessKey: 'secret' }, maxAttempts: 1 });
    try {
      await aws.send(new DeleteConnectionCommand({ clientId: 'dev-4', cleanSession: true }));
      await iot.trace.waitFor({ event: 'session-ended', clientId: 'dev-4', reason: 'discarded' });
      expect(iot.trace.find({ event: 'disconnect', clientId: 'dev-4' })).toMatchObject({ reason: 'API_INITIATED_DISCONNECT', willPublished: false });
      // Neither connected nor a session left: AWS's ResourceNotFoundException; a `$` id: InvalidRequestException.
      await expect(aws.send(new DeleteConnectionCommand({ clientId: 'dev-4' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
      await expect(aws.send(new DeleteConnectionCommand({ clientId: '$aws-id' }))).rejects.toBeInstanceOf(InvalidRequestException);
    } finally {
      aws.destroy();
    }
    const refused = await call(ctl, 'DELETE', '/connections/dev-4?preventWillMessage=maybe');
    expect(refused).toMatchObject({ status: 400, json: { code: 'INVALID_ARGUMENT', field: 'preventWillMessage' } });
    expect(refused.headers.get('x-amzn-errortype')).toBe('InvalidRequestException');
  });

  test('a refused publish names the field: topic, qos, payload, retain, properties', async () => {
    const iot = await endpoint({ profile: 'classic' });
    const ctl = await control(iot);
    const refusal = async (body: unknown) => (await call(ctl, 'POST', '/publish', body)).json as { code: string; field: string; message: string };
    expect(await refusal({ topic: 'a/#', payload: 'x' })).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'topic', message: expect.stringContaining('wildcard') });
    expect(await refusal({ payload: 'x' })).toMatchObject({ field: 'topic' });
    expect(await refusal({ topic: 't', qos: 2 })).toMatchObject({ field: 'qos' });
    expect(await refusal({ topic: 't', payload: { on: true } })).toMatchObject({ field: 'payload' });
    expect(await refusal({ topic: 't', payload: { $base64: 'no!' } })).toMatchObject({ field: 'payload.$base64' });
    expect(await refusal({ topic: 't', payload: 'x'.repeat(iot.profile.limits.maxPayloadBytes + 1) })).toMatchObject({ field: 'payload', message: expect.stringContaining('maxPayloadBytes') });
    expect(await refusal({ topic: 't', retain: true })).toMatchObject({ field: 'retain', message: expect.stringContaining('retained') });
    expect(await refusal({ topic: 't', properties: { contentType: 7 } })).toMatchObject({ field: 'properties.contentType' });
    expect(await refusal({ topic: 't', properties: { colour: 'red' } })).toMatchObject({ field: 'properties.colour' });
    expect(await refusal({ topic: 't', qos1: 1 })).toMatchObject({ field: 'qos1', message: expect.stringContaining('unknown field') });
  });
});

describe('the trace', () => {
  test('GET /trace reads entries (after a seq, a page at a time, or as text); DELETE /trace clears them', async () => {
    const iot = await endpoint({ seed: 9 });
    const ctl = await control(iot);
    const dev = await client(iot, 'dev-5');
    await dev.publishAsync('state/dev-5', 'on', { qos: 1 });
    await iot.trace.waitFor({ direction: 'out', clientId: 'dev-5', packet: { cmd: 'puback' } });
    const all = (await call(ctl, 'GET', '/trace')).json;
    expect(all.seed).toBe(9);
    // CONNECT, CONNACK, the connect event, the lifecycle message, PUBLISH, PUBACK
    expect(all.entries.map((e: { seq: number }) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(all.entries[4]).toMatchObject({ kind: 'packet', direction: 'in', packet: { cmd: 'publish', topic: 'state/dev-5', payload: 'on' } });
    expect((await call(ctl, 'GET', '/trace?after=4&limit=1')).json.entries).toEqual([all.entries[4]]);
    const text = await call(ctl, 'GET', '/trace?format=text&after=4');
    expect(text.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(text.text).toMatch(/^#5 .* in  PUBLISH state\/dev-5 q1 id=\d+ "on" \(2 B\)\n#6 .* out PUBACK id=\d+\n$/);
    const lines = await call(ctl, 'GET', '/trace?format=jsonl');
    expect(lines.headers.get('content-type')).toBe('application/x-ndjson');
    const [run] = parseTraceJsonLines(lines.text);
    expect(run!.header).toEqual({ kind: 'run', seed: 9, url: iot.url, profile: 'current' });
    expect(run!.entries).toEqual(iot.trace.entries);
    expect(await call(ctl, 'GET', '/trace?after=-1')).toMatchObject({ status: 400, json: { field: 'after' } });
    expect(await call(ctl, 'GET', '/trace?format=xml')).toMatchObject({ status: 400, json: { field: 'format' } });
    expect(await call(ctl, 'DELETE', '/trace')).toMatchObject({ status: 200 });
    expect((await call(ctl, 'GET', '/trace')).json.entries).toEqual([]);
  });

  test('POST /trace/wait long-polls: it answers when a real MQTT.js client publishes after the wait began', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    const dev = await client(iot, 'dev-6');
    const match = { direction: 'in', clientId: 'dev-6', packet: { cmd: 'publish', topic: 'state/dev-6', payload: { $regex: '"on":true' } } };
    const waiting = nextWait(iot);
    const answer = call(ctl, 'POST', '/trace/wait', { match, timeoutMs: 20_000 });
    await waiting;
    expect(iot.trace.find({ direction: 'in', clientId: 'dev-6', packet: { cmd: 'publish' } })).toBeUndefined();
    dev.publish('state/dev-6', JSON.stringify({ on: true }), { qos: 1 });
    const { status, json } = await answer;
    expect(status).toBe(200);
    expect(json.entry).toMatchObject({ kind: 'packet', clientId: 'dev-6', packet: { cmd: 'publish', qos: 1, payload: '{"on":true}' } });
    expect(json.entry.seq).toBe(iot.trace.find({ direction: 'in', packet: { cmd: 'publish' } })!.seq);
  });

  test('POST /trace/wait with after waits for what comes next, not for what happened; GET /control counts the open polls', async () => {
    const iot = await endpoint({ throttles: false }); // dev-11 connects twice within a second
    const ctl = await control(iot);
    const first = await client(iot, 'dev-11');
    first.end(true);
    const { json: gone } = await call(ctl, 'POST', '/trace/wait', { match: { event: 'disconnect', clientId: 'dev-11' } });
    expect(await call(ctl, 'GET', '/control')).toMatchObject({ json: { openPolls: 0, maxOpenPolls: 100, maxWaitMs: 300_000, maxBodyBytes: 1024 * 1024 } });
    const next = call(ctl, 'POST', '/trace/wait', { match: { event: 'disconnect', clientId: 'dev-11' }, after: gone.entry.seq, timeoutMs: 20_000 });
    while ((await call(ctl, 'GET', '/control')).json.openPolls !== 1);
    const again = await client(iot, 'dev-11');
    again.end(true);
    const { json } = await next;
    expect(json.entry.seq).toBeGreaterThan(gone.entry.seq);
    expect(json.entry.connectionId).toBe(2);
    const timedOut = await call(ctl, 'POST', '/trace/wait', { match: { event: 'connect' }, after: json.entry.seq, timeoutMs: 0 });
    expect(timedOut.json.message).toMatch(/wanted: \{"event":"connect","seq":"\[predicate after \d+\]"\}/);
    expect(await call(ctl, 'POST', '/trace/wait', { match: { event: 'connect' }, after: -1 })).toMatchObject({ status: 400, json: { field: 'after' } });
    expect(await call(ctl, 'POST', '/trace/wait', { match: { seq: 3 }, after: 1 })).toMatchObject({ status: 400, json: { field: 'after' } });
  });

  test('the JSON match language: nested fields, $regex, $base64 payloads, arrays; POST /trace/filter', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    const dev = await client(iot, 'Dev-7');
    await dev.subscribeAsync(['a/+', 'b/#'], { qos: 1 });
    await dev.publishAsync('bin/Dev-7', Buffer.from([0xff, 0xfe]), { qos: 1 });
    await iot.trace.waitFor({ direction: 'out', clientId: 'Dev-7', packet: { cmd: 'puback' } });
    const wait = async (match: unknown) => (await call(ctl, 'POST', '/trace/wait', { match, timeoutMs: 0 })).json.entry;
    expect(await wait({ clientId: { $regex: '^dev-', $flags: 'i' }, event: 'connect' })).toMatchObject({ clientId: 'Dev-7' });
    // A g flag would make the RegExp remember where it stopped: it is dropped, so every try matches.
    const filter = async (match: unknown) => (await call(ctl, 'POST', '/trace/filter', { match })).json.entries;
    expect(await filter({ clientId: { $regex: 'Dev', $flags: 'g' }, direction: 'in' })).toHaveLength(3);
    expect(await wait({ packet: { cmd: 'subscribe', subscriptions: [{ topic: 'a/+' }, { topic: { $regex: '^b/' } }] } })).toMatchObject({ direction: 'in' });
    expect(await wait({ packet: { cmd: 'publish', payload: { $base64: '//4=' } } })).toMatchObject({ packet: { payload: { base64: '//4=' } } });
    const filtered = await call(ctl, 'POST', '/trace/filter', { match: { direction: 'out', clientId: 'Dev-7' } });
    expect(filtered.json.entries.map((e: { packet: { cmd: string } }) => e.packet.cmd)).toEqual(['connack', 'suback', 'puback']);
    const timedOut = await call(ctl, 'POST', '/trace/wait', { match: { event: 'disconnect' }, timeoutMs: 0 });
    expect(timedOut).toMatchObject({ status: 408, json: { code: 'TRACE_TIMEOUT', message: expect.stringMatching(/wanted: \{"event":"disconnect"\}[\s\S]*seed[\s\S]*last entries/) } });
  });

  test('a match that could never match, or is not JSON the language knows, is refused 400 naming the field', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    const refusal = async (body: unknown) => (await call(ctl, 'POST', '/trace/wait', body)).json as { code: string; field: string };
    expect(await refusal({})).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'match' });
    expect(await refusal({ match: [] })).toMatchObject({ field: 'match' });
    expect(await refusal({ match: { evnt: 'connect' } })).toMatchObject({ field: 'match.evnt' });
    expect(await refusal({ match: { toString: 'x' } })).toMatchObject({ field: 'match.toString' });
    expect(await refusal({ match: { event: 'constructor' } })).toMatchObject({ field: 'match.event' });
    expect(await refusal({ match: { event: 'conect' } })).toMatchObject({ field: 'match.event' });
    expect(await refusal({ match: { kind: 'packets' } })).toMatchObject({ field: 'match.kind' });
    expect(await refusal({ match: { direction: 'up' } })).toMatchObject({ field: 'match.direction' });
    expect(await refusal({ match: { packet: { cmd: 'publsh' } } })).toMatchObject({ field: 'match.packet.cmd' });
    expect(await refusal({ match: { topic: { $regex: '(' } } })).toMatchObject({ field: 'match.topic' });
    expect(await refusal({ match: { topic: { $regex: 'a', $flags: 'q' } } })).toMatchObject({ field: 'match.topic' });
    expect(await refusal({ match: { topic: { $regexp: 'a' } } })).toMatchObject({ field: 'match.topic' });
    expect(await refusal({ match: { event: 'connect' }, timeoutMs: -5 })).toMatchObject({ field: 'timeoutMs' });
    expect(await refusal({ match: { event: 'connect' }, timeoutMs: 300_001 })).toMatchObject({ field: 'timeoutMs' });
    expect(await refusal({ match: { event: 'connect' }, timeout: 5 })).toMatchObject({ field: 'timeout' });
  });

  test('a pending wait is answered 503 ENDPOINT_CLOSED when the endpoint closes', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    const waiting = nextWait(iot);
    const answer = call(ctl, 'POST', '/trace/wait', { match: { event: 'connect' }, timeoutMs: 60_000 });
    await waiting;
    await iot.close();
    expect(await answer).toMatchObject({ status: 503, json: { code: 'ENDPOINT_CLOSED' } });
    // What it recorded can still be read; what would change it is refused.
    expect(await call(ctl, 'GET', '/trace')).toMatchObject({ status: 200 });
    expect(await call(ctl, 'POST', '/publish', { topic: 't' })).toMatchObject({ status: 503, json: { code: 'ENDPOINT_CLOSED' } });
  });

  test('an endpoint started with trace: false answers 409 TRACE_DISABLED', async () => {
    const iot = await endpoint({ trace: false });
    const ctl = await control(iot);
    expect(await call(ctl, 'GET', '/trace')).toMatchObject({ status: 409, json: { code: 'TRACE_DISABLED' } });
    expect(await call(ctl, 'POST', '/trace/wait', { match: { event: 'connect' } })).toMatchObject({ status: 409, json: { code: 'TRACE_DISABLED' } });
  });
});

describe('chaos, clock and shadows', () => {
  test('PUT /chaos with a $regex client scope duplicates QoS 0 for dev-* only; the log and the script say so; pause and resume', async () => {
    const iot = await endpoint({ seed: 4 });
    const ctl = await control(iot);
    const dev = await client(iot, 'dev-8');
    const other = await client(iot, 'other');
    await dev.subscribeAsync('news');
    await other.subscribeAsync('news');
    expect(await call(ctl, 'PUT', '/chaos', { duplicateQos0: { probability: 1, clients: [{ $regex: '^dev-' }] } })).toMatchObject({ status: 200 });
    await call(ctl, 'POST', '/publish', { topic: 'news', payload: 'n1' });
    const copy = await call(ctl, 'POST', '/trace/wait', { match: { direction: 'out', clientId: 'dev-8', chaos: { fault: 'duplicateQos0' } } });
    expect(copy.json.entry.packet).toMatchObject({ topic: 'news', payload: 'n1' });
    expect(await call(ctl, 'POST', '/settled', { timeoutMs: 5000 })).toMatchObject({ status: 200 });
    expect((await call(ctl, 'POST', '/trace/filter', { match: { direction: 'out', clientId: 'other', packet: { cmd: 'publish' } } })).json.entries).toHaveLength(1);
    expect((await call(ctl, 'GET', '/chaos/log')).json).toEqual({ decisions: [expect.objectContaining({ fault: 'duplicateQos0', clientId: 'dev-8', nth: 1, source: 'random' })], droppedDecisions: 0 });
    expect((await call(ctl, 'GET', '/chaos/script')).json.script).toEqual([expect.objectContaining({ fault: 'duplicateQos0', client: 'dev-8', nth: 1 })]);
    expect(await call(ctl, 'POST', '/chaos/pause')).toMatchObject({ json: { paused: true } });
    expect((await call(ctl, 'GET', '/chaos')).json).toEqual({ paused: true, decisions: 1, droppedDecisions: 0 });
    expect(await call(ctl, 'POST', '/chaos/resume')).toMatchObject({ json: { paused: false } });
  });

  test('PUT /chaos refuses what iot.chaos.set() refuses, naming the knob', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    const refusal = async (body: unknown) => (await call(ctl, 'PUT', '/chaos', body)).json as { field: string; message: string };
    expect(await refusal({ duplicateQos0: { probability: 2 } })).toEqual({ code: 'INVALID_ARGUMENT', field: 'duplicateQos0.probability', message: 'duplicateQos0.probability must be a number from 0 to 1 (got 2).' });
    expect(await refusal({ dupQos0: {} })).toMatchObject({ field: 'dupQos0', message: expect.stringMatching(/^unknown option dupQos0\. Known options: duplicateQos0, /) });
    expect(await refusal({ reorder: { probability: 1, maxHoldMs: 5, clients: [{ $regex: '[' }] } })).toMatchObject({ field: 'reorder.clients[0]' });
    expect(await refusal([1])).toMatchObject({ field: 'body' });
  });

  test('POST /clock/advance moves the virtual clock: a silent client times out on keep-alive without any real wait', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const ctl = await control(iot);
    const silent = await raw(iot);
    await silent.connect('dev-9', { keepalive: 30 }); // AWS's shortest; the endpoint gives up after 1.5 times it
    const before = (await call(ctl, 'GET', '/clock')).json;
    expect(before.mode).toBe('virtual');
    expect((await call(ctl, 'POST', '/clock/advance', { ms: 44_000 })).json.now).toBe(before.now + 44_000);
    expect(iot.trace.find({ event: 'disconnect' })).toBeUndefined();
    await call(ctl, 'POST', '/clock/advance', { ms: 2_000 });
    const { json } = await call(ctl, 'POST', '/trace/wait', { match: { event: 'disconnect', clientId: 'dev-9' } });
    expect(json.entry.reason).toBe('MQTT_KEEP_ALIVE_TIMEOUT');
    expect(await call(ctl, 'POST', '/clock/advance', { ms: -1 })).toMatchObject({ status: 400, json: { field: 'ms' } });
  });

  test('POST /clock/advance on the real clock is 409 CLOCK_NOT_VIRTUAL', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    expect(await call(ctl, 'POST', '/clock/advance', { ms: 5 })).toMatchObject({ status: 409, json: { code: 'CLOCK_NOT_VIRTUAL' } });
  });

  test('shadows: seeding one sends the device its delta over MQTT; read, list, delete; AWS refusals keep their status', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    const lamp = await client(iot, 'lamp');
    await lamp.subscribeAsync('$aws/things/lamp/shadow/name/light/update/delta', { qos: 1 });
    const seeded = await call(ctl, 'POST', '/things/lamp/shadow?name=light', { state: { desired: { on: true } } });
    expect(seeded).toMatchObject({ status: 200, json: { state: { desired: { on: true } }, version: 1 } });
    const [delta] = await lamp.receivedCount(1);
    expect(JSON.parse(delta!.payload)).toMatchObject({ state: { on: true }, version: 1 });
    expect((await call(ctl, 'GET', '/things/lamp/shadow?name=light')).json).toMatchObject({ state: { delta: { on: true } }, version: 1 });
    expect((await call(ctl, 'GET', '/shadows?thingName=lamp')).json).toEqual({ shadows: [{ thingName: 'lamp', shadowName: 'light' }] });
    expect(await call(ctl, 'GET', '/things/lamp/shadow')).toMatchObject({ status: 404, json: { code: 'NOT_FOUND' } });
    expect(await call(ctl, 'POST', '/things/lamp/shadow?name=light', { state: { desired: { on: false } }, version: 7 })).toMatchObject({ status: 409, json: { code: 'SHADOW_REJECTED' } });
    expect(await call(ctl, 'POST', '/things/lamp/shadow', { state: 'on' })).toMatchObject({ status: 400, json: { code: 'SHADOW_REJECTED', field: 'body' } });
    expect(await call(ctl, 'POST', '/things/no%20spaces/shadow', { state: {} })).toMatchObject({ status: 400, json: { code: 'INVALID_ARGUMENT', field: 'thingName' } });
    expect(await call(ctl, 'DELETE', '/things/lamp/shadow?name=no%20spaces')).toMatchObject({ status: 400, json: { code: 'INVALID_ARGUMENT', field: 'name' } });
    expect(await call(ctl, 'DELETE', '/things/lamp/shadow?name=light')).toMatchObject({ status: 200, json: { version: 1 } });
    expect(await call(ctl, 'DELETE', '/things/lamp/shadow?name=light')).toMatchObject({ status: 404, json: { code: 'SHADOW_REJECTED' } });
  });
});

/**
 * A job agent on a real MQTT.js client: it asks for the next job when notify-next names one, runs each once,
 * and reports what `outcome` says for it (undefined: it holds the job IN_PROGRESS), with expectedVersion.
 */
async function jobAgent(iot: FakeIot, thingName: string, outcome: (jobId: string) => 'SUCCEEDED' | 'FAILED' | undefined): Promise<TestClient> {
  const device = await client(iot, thingName);
  const jobs = `$aws/things/${thingName}/jobs`;
  const started = new Set<string>();
  device.on('message', (topic, payload) => {
    const message = JSON.parse(payload.toString());
    if (topic === `${jobs}/notify-next` && message.execution) device.publish(`${jobs}/start-next`, '{}', { qos: 1 });
    if (topic === `${jobs}/start-next/accepted` && message.execution && !started.has(message.execution.jobId)) {
      const { jobId, versionNumber } = message.execution;
      started.add(jobId);
      const status = outcome(jobId);
      if (status) device.publish(`${jobs}/${jobId}/update`, JSON.stringify({ status, expectedVersion: versionNumber }), { qos: 1 });
    }
  });
  await device.subscribeAsync(`${jobs}/notify-next`, { qos: 1 });
  return device;
}

describe('jobs', () => {
  test('a real MQTT.js job agent runs the jobs POST /jobs creates, in order; the long poll waits for SUCCEEDED; GET shows job and execution; DELETE forgets it', async () => {
    const iot = await endpoint({ seed: 3 });
    const ctl = await control(iot);
    await jobAgent(iot, 'dev-1', () => 'SUCCEEDED');
    await call(ctl, 'POST', '/trace/wait', { match: { event: 'subscription-active', clientId: 'dev-1' } });

    const created = await call(ctl, 'POST', '/jobs', { jobId: 'fw-1', targets: ['dev-1'], document: { version: '1.1' }, description: 'firmware 1.1' });
    expect(created).toMatchObject({ status: 200, json: { jobId: 'fw-1', status: 'IN_PROGRESS', targets: ['dev-1'], document: { version: '1.1' }, description: 'firmware 1.1', jobProcessDetails: { numberOfQueuedThings: 1 } } });
    // A thing ARN names a target too; a document may be JSON text.
    expect(await call(ctl, 'POST', '/jobs', { jobId: 'fw-2', targets: ['arn:aws:iot:us-east-1:123456789012:thing/dev-1'], document: '{"version":"1.2"}' })).toMatchObject({ status: 200, json: { targets: ['dev-1'], document: { version: '1.2' } } });

    const done = await call(ctl, 'POST', '/trace/wait', { match: { event: 'job', jobId: 'fw-2', status: 'SUCCEEDED' }, timeoutMs: 10_000 });
    expect(done.json.entry).toMatchObject({ thingName: 'dev-1', via: 'mqtt', operation: 'update', previousStatus: 'IN_PROGRESS', versionNumber: 3 });
    const finished = (await call(ctl, 'POST', '/trace/filter', { match: { event: 'job', status: 'SUCCEEDED' } })).json.entries;
    expect(finished.map((e: { jobId: string }) => e.jobId)).toEqual(['fw-1', 'fw-2']);

    expect((await call(ctl, 'GET', '/things/dev-1/jobs/fw-1')).json).toMatchObject({ jobId: 'fw-1', thingName: 'dev-1', status: 'SUCCEEDED', versionNumber: 3, executionNumber: 1 });
    expect((await call(ctl, 'GET', '/jobs/fw-1')).json).toMatchObject({ status: 'COMPLETED', jobProcessDetails: { numberOfSucceededThings: 1, numberOfQueuedThings: 0 } });
    const listed = (await call(ctl, 'GET', '/things/dev-1/jobs')).json;
    expect(listed.executions.map((e: { jobId: string; status: string }) => [e.jobId, e.status])).toEqual([['fw-1', 'SUCCEEDED'], ['fw-2', 'SUCCEEDED']]);
    expect(listed.executions).toEqual(iot.jobs.executions('dev-1'));

    expect(await call(ctl, 'DELETE', '/things/dev-1/jobs/fw-1')).toMatchObject({ status: 200, json: {} });
    expect(await call(ctl, 'GET', '/things/dev-1/jobs/fw-1')).toMatchObject({ status: 404, json: { code: 'NOT_FOUND' } });
    expect(await call(ctl, 'DELETE', '/things/dev-1/jobs/fw-1')).toMatchObject({ status: 404, json: { code: 'JOB_REJECTED', awsError: 'ResourceNotFoundException' } });
    expect(iot.trace.find({ event: 'job', jobId: 'fw-1', deleted: true })).toMatchObject({ via: 'cloud', operation: 'delete' });
  });

  test('POST /things/{thingName}/jobs/{jobId}/cancel: an IN_PROGRESS execution needs force, a stale expectedVersion is refused; the device is told and its late update rejected', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    const device = await jobAgent(iot, 'dev-2', () => undefined); // holds the job IN_PROGRESS
    await call(ctl, 'POST', '/trace/wait', { match: { event: 'subscription-active', clientId: 'dev-2' } });
    await call(ctl, 'POST', '/jobs', { jobId: 'fw-3', targets: ['dev-2'], document: { version: '1.3' } });
    await call(ctl, 'POST', '/trace/wait', { match: { event: 'job', jobId: 'fw-3', status: 'IN_PROGRESS' } });

    const cancel = (body?: unknown) => call(ctl, 'POST', '/things/dev-2/jobs/fw-3/cancel', body);
    expect(await cancel()).toMatchObject({ status: 409, json: { code: 'JOB_REJECTED', awsError: 'InvalidStateTransitionException', field: 'force', message: expect.stringContaining('needs force') } });
    expect(await cancel({ force: true, expectedVersion: 1 })).toMatchObject({ status: 409, json: { code: 'JOB_REJECTED', awsError: 'VersionConflictException', field: 'expectedVersion' } });
    expect(await cancel({ force: true, expectedVersion: 2 })).toMatchObject({ status: 200, json: { jobId: 'fw-3', thingName: 'dev-2', status: 'CANCELED', forceCanceled: true, versionNumber: 3 } });
    const ended = await cancel({ force: true });
    expect(ended).toMatchObject({ status: 409, json: { awsError: 'InvalidStateTransitionException', message: expect.stringContaining('terminal') } });
    expect(ended.json.field).toBeUndefined(); // nothing in the request would change that

    // notify-next (fw-3), the answer to start-next, then notify-next with no execution: the list is empty.
    const [, , emptied] = await device.receivedCount(3);
    expect([emptied!.topic, JSON.parse(emptied!.payload)]).toEqual(['$aws/things/dev-2/jobs/notify-next', { timestamp: expect.any(Number) }]);
    device.publish('$aws/things/dev-2/jobs/fw-3/update', JSON.stringify({ status: 'SUCCEEDED' }), { qos: 1 });
    const late = await call(ctl, 'POST', '/trace/wait', { match: { event: 'job', jobId: 'fw-3', outcome: 'rejected' } });
    expect(late.json.entry).toMatchObject({ via: 'mqtt', code: 'InvalidStateTransition' });
    // Its only execution ended, so the job is COMPLETED: canceling it is AWS's InvalidStateTransitionException.
    expect(await call(ctl, 'POST', '/jobs/fw-3/cancel')).toMatchObject({ status: 409, json: { code: 'JOB_REJECTED', awsError: 'InvalidStateTransitionException' } });
  });

  test('POST /jobs/{jobId}/cancel leaves IN_PROGRESS executions running unless forced; DELETE needs force for one that has not ended; AWS refusals name the field', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    await jobAgent(iot, 'dev-3', (jobId) => (jobId === 'fw-5' ? 'FAILED' : undefined));
    await call(ctl, 'POST', '/trace/wait', { match: { event: 'subscription-active', clientId: 'dev-3' } });
    await call(ctl, 'POST', '/jobs', { jobId: 'fw-4', targets: ['dev-3', 'dev-4'], document: { version: '1.4' } });
    await call(ctl, 'POST', '/trace/wait', { match: { event: 'job', jobId: 'fw-4', thingName: 'dev-3', status: 'IN_PROGRESS' } });

    const canceled = await call(ctl, 'POST', '/jobs/fw-4/cancel', { comment: 'superseded' });
    expect(canceled).toMatchObject({ status: 200, json: { status: 'CANCELED', comment: 'superseded', jobProcessDetails: { numberOfInProgressThings: 1, numberOfCanceledThings: 1 } } });
    expect(canceled.json.forceCanceled).toBeUndefined();
    expect((await call(ctl, 'GET', '/things/dev-3/jobs/fw-4')).json.status).toBe('IN_PROGRESS');
    const forced = await call(ctl, 'POST', '/jobs/fw-4/cancel', { force: true });
    expect(forced).toMatchObject({ status: 200, json: { status: 'CANCELED', forceCanceled: true, jobProcessDetails: { numberOfInProgressThings: 0, numberOfCanceledThings: 2 } } });
    expect((await call(ctl, 'GET', '/things/dev-3/jobs/fw-4')).json).toMatchObject({ status: 'CANCELED', forceCanceled: true });

    // The agent fails fw-5; fw-6 waits QUEUED behind nothing on dev-4, which runs no agent.
    await call(ctl, 'POST', '/jobs', { jobId: 'fw-5', targets: ['dev-3'], document: { version: '1.5' } });
    await call(ctl, 'POST', '/trace/wait', { match: { event: 'job', jobId: 'fw-5', status: 'FAILED' } });
    expect(await call(ctl, 'DELETE', '/things/dev-3/jobs/fw-5?executionNumber=2')).toMatchObject({ status: 404, json: { awsError: 'ResourceNotFoundException' } });
    expect(await call(ctl, 'DELETE', '/things/dev-3/jobs/fw-5?executionNumber=1')).toMatchObject({ status: 200 });
    await call(ctl, 'POST', '/jobs', { jobId: 'fw-6', targets: ['dev-4'], document: { version: '1.6' } });
    expect(await call(ctl, 'DELETE', '/things/dev-4/jobs/fw-6')).toMatchObject({ status: 409, json: { code: 'JOB_REJECTED', awsError: 'InvalidStateTransitionException', field: 'force' } });
    expect(await call(ctl, 'DELETE', '/things/dev-4/jobs/fw-6?force=true')).toMatchObject({ status: 200, json: {} });
    expect((await call(ctl, 'GET', '/things/dev-4/jobs')).json.executions.map((e: { jobId: string }) => e.jobId)).toEqual(['fw-4']);

    expect(await call(ctl, 'POST', '/jobs', { jobId: 'fw-6', targets: ['dev-4'], document: {} })).toMatchObject({ status: 409, json: { code: 'JOB_REJECTED', awsError: 'ResourceAlreadyExistsException', field: 'jobId' } });
    expect(await call(ctl, 'POST', '/jobs/fw-404/cancel')).toMatchObject({ status: 404, json: { code: 'JOB_REJECTED', awsError: 'ResourceNotFoundException', field: 'jobId' } });
    expect(await call(ctl, 'POST', '/things/dev-4/jobs/fw-404/cancel')).toMatchObject({ status: 404, json: { awsError: 'ResourceNotFoundException' } });
  });

  test('a bad jobs request is refused 400 naming the field, and changes nothing; after close, 503', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    const job = { jobId: 'fw-1', targets: ['dev-1'], document: { version: '1' } };
    const refusal = async (method: string, path: string, body?: unknown) => {
      const { status, json } = await call(ctl, method, path, body);
      expect([status, json.code]).toEqual([400, 'INVALID_ARGUMENT']);
      return json.field as string;
    };
    expect(await refusal('POST', '/jobs', { ...job, jobId: 'a b' })).toBe('jobId');
    expect(await refusal('POST', '/jobs', { ...job, jobId: 'x'.repeat(65) })).toBe('jobId');
    expect(await refusal('POST', '/jobs', { targets: ['dev-1'], document: {} })).toBe('jobId');
    expect(await refusal('POST', '/jobs', { ...job, targets: [] })).toBe('targets');
    expect(await refusal('POST', '/jobs', { ...job, targets: ['no spaces'] })).toBe('targets');
    expect(await refusal('POST', '/jobs', { ...job, document: 'not json' })).toBe('document');
    expect(await refusal('POST', '/jobs', { ...job, document: 5 })).toBe('document');
    expect(await refusal('POST', '/jobs', { ...job, document: { blob: 'x'.repeat(iot.profile.limits.jobsMaxDocumentBytes) } })).toBe('document');
    expect(await refusal('POST', '/jobs', { ...job, description: 7 })).toBe('description');
    expect(await refusal('POST', '/jobs', { ...job, timeoutConfig: { inProgressTimeoutInMinutes: 0 } })).toBe('timeoutConfig.inProgressTimeoutInMinutes');
    expect(await refusal('POST', '/jobs', { ...job, target: 'dev-1' })).toBe('target');
    expect(await refusal('POST', '/jobs', [job])).toBe('body');
    expect(await refusal('GET', '/jobs/a%20b')).toBe('jobId');
    expect(await refusal('GET', '/things/no%20spaces/jobs')).toBe('thingName');
    expect(await refusal('GET', '/things/dev-1/jobs/%24next')).toBe('jobId');
    expect(await refusal('POST', '/jobs/fw-1/cancel', { force: 'yes' })).toBe('force');
    expect(await refusal('POST', '/jobs/fw-1/cancel', { comment: 5 })).toBe('comment');
    expect(await refusal('POST', '/things/dev-1/jobs/fw-1/cancel', { expectedVersion: -1 })).toBe('expectedVersion');
    expect(await refusal('POST', '/things/dev-1/jobs/fw-1/cancel', { expectedVersion: 1.5 })).toBe('expectedVersion');
    expect(await refusal('POST', '/things/dev-1/jobs/fw-1/cancel', { reason: 'x' })).toBe('reason');
    expect(await refusal('DELETE', '/things/dev-1/jobs/fw-1?force=maybe')).toBe('force');
    expect(await refusal('DELETE', '/things/dev-1/jobs/fw-1?executionNumber=one')).toBe('executionNumber');
    expect(await call(ctl, 'GET', '/jobs/fw-1')).toMatchObject({ status: 404, json: { code: 'NOT_FOUND', field: 'jobId' } });
    expect((await call(ctl, 'GET', '/things/dev-1/jobs')).json).toEqual({ executions: [] });
    expect(iot.trace.find({ event: 'job' })).toBeUndefined();
    await iot.close();
    expect(await call(ctl, 'POST', '/jobs', job)).toMatchObject({ status: 503, json: { code: 'ENDPOINT_CLOSED' } });
  });
});

describe('bad requests and the host', () => {
  test('unknown routes, wrong methods, bodies that are not JSON or too large, bad percent-encoding: 4xx with a JSON error', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    expect(await call(ctl, 'GET', '/nothing')).toMatchObject({ status: 404, json: { code: 'NO_SUCH_ROUTE' } });
    const wrong = await call(ctl, 'PATCH', '/trace');
    expect(wrong).toMatchObject({ status: 405, json: { code: 'METHOD_NOT_ALLOWED' } });
    expect(wrong.headers.get('allow')).toBe('GET, DELETE');
    expect(await call(ctl, 'POST', '/publish', '{"topic":')).toMatchObject({ status: 400, json: { code: 'INVALID_ARGUMENT', field: 'body' } });
    expect(await call(ctl, 'POST', '/publish', { topic: 't', payload: 'x'.repeat(1024 * 1024) })).toMatchObject({ status: 413, json: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(await call(ctl, 'POST', '/clients/%E0%A4%A/disconnect')).toMatchObject({ status: 400, json: { field: 'clientId' } });
    // Bytes no HTTP client library would send, on a socket of their own.
    for (const request of ['GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'NOT HTTP AT ALL\r\n\r\n', 'POST /publish HTTP/1.1\r\nContent-Length: x\r\n\r\n']) {
      const socket = net.connect(ctl.port, '127.0.0.1');
      socket.on('error', () => {});
      let heard = '';
      socket.on('data', (d: Buffer) => (heard += d.toString()));
      socket.write(request);
      await new Promise((resolve) => socket.once('close', resolve));
      expect(heard).toMatch(/^HTTP\/1\.1 400 [\s\S]*\r\n\r\n\{"code":"INVALID_ARGUMENT","message":"(the request target|not an HTTP request)/);
    }
    expect(await call(ctl, 'GET', '/endpoint')).toMatchObject({ status: 200 });
  });

  test('only loopback: another host is refused up front; a taken port is LISTEN_FAILED', async () => {
    const iot = await endpoint();
    await expect(startControlServer(iot, { host: '0.0.0.0' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('options.host must be a loopback address') });
    await expect(startControlServer(iot, { port: 70000 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('options.port') });
    const ctl = await control(iot, { host: 'localhost' });
    expect(ctl.url).toBe(`http://localhost:${ctl.port}`);
    await expect(startControlServer(iot, { port: ctl.port, host: 'localhost' })).rejects.toMatchObject({ code: 'LISTEN_FAILED' });
  });

  test('long polls and a stalled HTTP client never hold MQTT up; closing answers the polls 503 and releases every socket and timer', async () => {
    const before = resources();
    const iot = await endpoint();
    const ctl = await startControlServer(iot);
    const dev = await client(iot, 'dev-10');
    await dev.subscribeAsync('cmd/dev-10', { qos: 1 });
    // Twenty long polls that will never match, and a client that sends half a request and stops.
    const polls = [];
    for (let i = 0; i < 20; i++) {
      const waiting = nextWait(iot);
      polls.push(call(ctl, 'POST', '/trace/wait', { match: { event: 'rule' }, timeoutMs: 60_000 }));
      await waiting;
    }
    const stalled = net.connect(ctl.port, '127.0.0.1');
    stalled.on('error', () => {});
    stalled.write('POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"top');
    let heard = '';
    stalled.on('data', (d: Buffer) => (heard += d.toString()));
    const stalledClosed = new Promise((resolve) => stalled.once('close', resolve));
    // MQTT goes on: a round trip through the broker, and a publish through the control API itself.
    await call(ctl, 'POST', '/publish', { topic: 'cmd/dev-10', payload: 'still here', qos: 1 });
    expect((await dev.receivedCount(1))[0]!.payload).toBe('still here');
    await pingRoundTrip(iot, 'dev-10', dev);
    const opened = resources();
    await ctl.close();
    for (const answer of await Promise.all(polls)) expect(answer).toMatchObject({ status: 503, json: { code: 'CONTROL_CLOSED' } });
    // Their trace waits were given up, not left to run out their minute (their timers are unref'd, so look inside).
    expect((iot.trace as unknown as { waiters: Set<unknown> }).waiters.size).toBe(0);
    await stalledClosed;
    expect(heard).toMatch(/^HTTP\/1\.1 503 [\s\S]*"code":"CONTROL_CLOSED"/);
    await expect(fetch(`${ctl.url}/endpoint`)).rejects.toThrow();
    await ctl.close(); // again: nothing happens
    dev.end(true);
    await iot.close();
    // The endpoint's listener and the control server's are gone, with every connection; no timer is left.
    expectReleased(before, opened, await settledResources(before), 2);
  });

  test('more than 100 open long polls: the next is 429 TOO_MANY_WAITS', async () => {
    const iot = await endpoint();
    const ctl = await control(iot);
    const agentless = (body: unknown) => call(ctl, 'POST', '/trace/wait', body);
    const polls = [];
    for (let i = 0; i < 100; i++) {
      const waiting = nextWait(iot);
      polls.push(agentless({ match: { event: 'rule' }, timeoutMs: 60_000 }));
      await waiting;
    }
    expect(await agentless({ match: { event: 'rule' } })).toMatchObject({ status: 429, json: { code: 'TOO_MANY_WAITS' } });
    await iot.close();
    expect((await Promise.all(polls)).every((r) => r.status === 503)).toBe(true);
  });
});

test('an MQTT.js client that connects while a wait for it is pending is what answers it', async () => {
  const iot = await endpoint();
  const ctl = await control(iot);
  const waiting = nextWait(iot);
  const answer = call(ctl, 'POST', '/trace/wait', { match: { event: 'connect', clientId: 'late-comer' }, timeoutMs: 20_000 });
  await waiting;
  const c = await mqtt.connectAsync(iot.url, { clientId: 'late-comer', reconnectPeriod: 0 });
  try {
    expect((await answer).json.entry).toMatchObject({ event: 'connect', clientId: 'late-comer', transport: 'tcp' });
  } finally {
    await c.endAsync();
  }
});
