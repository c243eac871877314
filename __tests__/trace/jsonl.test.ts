/**
 * JSON-lines traces: what FAKE_IOT_ARTIFACTS and `fake-aws-iot trace` write and read back. Entries of a real
 * MQTT 5 connection (will with properties, password, correlation data, binary payload) survive the round trip.
 */
import { type TraceEntry } from '../../src';
import { entryToJSON } from '../../src/trace/format';
import { parseTraceJsonLines, traceToJsonLines } from '../../src/trace/jsonl';
import { connectPacket, endpoint, raw } from '../helpers';

async function mqtt5Entries(): Promise<TraceEntry[]> {
  const iot = await endpoint({ seed: 3 });
  const c = await raw(iot, { protocolVersion: 5 });
  await c.connect('dev-1', {
    protocolVersion: 5,
    username: 'user',
    password: Buffer.from('secret'),
    will: { topic: 'will/dev-1', payload: Buffer.from([0xff, 0x00]), qos: 0, retain: false, properties: { correlationData: Buffer.from([1, 2, 3]) } },
  } as never);
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'x/#', qos: 1 }] });
  await c.next('suback');
  c.send({ cmd: 'publish', topic: 'x/y', qos: 1, messageId: 2, dup: false, retain: false, payload: Buffer.from([0xc3, 0x28]), properties: { correlationData: Buffer.from('corr'), contentType: 'application/octet-stream' } });
  await c.count('publish', 1);
  iot.publish('x/z', '{"from":"cloud"}');
  await iot.trace.waitFor({ direction: 'out', packet: { cmd: 'publish', topic: 'x/z' } });
  return iot.trace.entries;
}

test('entries come back as they were: payloads, will and properties as Buffers, the password redacted', async () => {
  const entries = await mqtt5Entries();
  const text = traceToJsonLines(entries, { seed: 3, test: 'a test' });
  expect(text.endsWith('\n')).toBe(true);
  const runs = parseTraceJsonLines(text);
  expect(runs).toHaveLength(1);
  expect(runs[0]!.header).toEqual({ seed: 3, test: 'a test', kind: 'run' });
  const back = runs[0]!.entries;
  expect(back.map(entryToJSON)).toEqual(entries.map(entryToJSON));

  const connect = back.find((e) => e.kind === 'packet' && e.packet.cmd === 'connect');
  if (connect?.kind !== 'packet' || connect.packet.cmd !== 'connect') throw new Error('no CONNECT');
  expect(connect.packet.password).toEqual(Buffer.from('<6 bytes redacted>'));
  expect(connect.packet.will!.payload).toEqual(Buffer.from([0xff, 0x00]));
  expect(connect.packet.will!.properties!.correlationData).toEqual(Buffer.from([1, 2, 3]));
  const publish = back.find((e) => e.kind === 'packet' && e.direction === 'in' && e.packet.cmd === 'publish');
  if (publish?.kind !== 'packet' || publish.packet.cmd !== 'publish') throw new Error('no PUBLISH');
  expect(publish.packet.payload).toEqual(Buffer.from([0xc3, 0x28]));
  expect(publish.packet.properties!.correlationData).toEqual(Buffer.from('corr'));
  const api = back.find((e) => e.kind === 'event' && e.event === 'publish' && e.origin === 'api');
  if (api?.kind !== 'event' || api.event !== 'publish') throw new Error('no publish event');
  expect(api.topic).toBe('x/z');
  expect(api.payload).toEqual(Buffer.from('{"from":"cloud"}'));
});

test('a file of several runs (the CLI appending) reads as runs; entries before any header form a run of their own', () => {
  const entry = (seq: number) => JSON.stringify({ seq, at: 1000 + seq, kind: 'event', event: 'session-ended', clientId: 'a', reason: 'expired' });
  const text = [entry(1), '', JSON.stringify({ kind: 'run', seed: 1 }), entry(1), entry(2), JSON.stringify({ kind: 'skipped', lines: 4 }), JSON.stringify({ kind: 'run', seed: 2 }), ''].join('\n');
  const runs = parseTraceJsonLines(text);
  expect(runs.map((r) => [r.header?.seed, r.entries.map((e) => e.seq), r.skippedLines])).toEqual([
    [undefined, [1], undefined],
    [1, [1, 2], 4],
    [2, [], undefined],
  ]);
  expect(parseTraceJsonLines('')).toEqual([]);
});

test.each([
  ['{"seq":1,', /^\[fake-aws-iot\] line 1 is not JSON: /],
  ['\n[1,2]', /^\[fake-aws-iot\] line 2: not a trace entry: it needs a numeric seq and at, and kind "packet" or "event"\.$/],
  ['{"seq":1,"at":2,"kind":"packet","connectionId":1,"direction":"in"}', /line 1: not a trace entry: a packet entry needs a packet with a cmd/],
  ['{"seq":1,"at":2,"kind":"packet","packet":{"cmd":"pingreq"}}', /line 1: not a trace entry: a packet entry needs a numeric connectionId and direction "in" or "out"/],
  ['{"seq":1,"at":2,"kind":"event"}', /line 1: not a trace entry: an event entry needs an event name/],
])('%j is refused with INVALID_ARGUMENT naming the line', (text, message) => {
  expect(() => parseTraceJsonLines(text)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) }));
});
