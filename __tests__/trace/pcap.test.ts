/**
 * iot.trace.toPcap() read by Debian's tshark: every MQTT packet of a real run is decoded with the type,
 * topic and packet id the trace holds, checksums are right and TCP sees nothing amiss.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { PacketEntry, TraceEntry } from '../../src';
import { parseTraceJsonLines, traceToJsonLines } from '../../src/trace/jsonl';
import { traceToPcap } from '../../src/trace/pcap';
import { ARTIFACTS } from './browser';
import { KNOWN_SEED, LARGE_PAYLOAD, recordKnownTrace } from './known-trace';

const run = promisify(execFile);
const dir = path.join(ARTIFACTS, 'trace-pcap');
/** MQTT's control packet types, as tshark's mqtt.msgtype gives them. */
const TYPES: Record<string, number> = { connect: 1, connack: 2, publish: 3, puback: 4, pubrec: 5, pubrel: 6, pubcomp: 7, subscribe: 8, suback: 9, unsubscribe: 10, unsuback: 11, pingreq: 12, pingresp: 13, disconnect: 14, auth: 15 };
const FIELDS = ['frame.number', 'frame.comment', 'ip.checksum.status', 'tcp.checksum.status', 'tcp.analysis.flags', 'tcp.srcport', 'tcp.dstport', 'tcp.stream', 'mqtt.msgtype', 'mqtt.topic', 'mqtt.msgid', 'mqtt.len'];

let entries: TraceEntry[];
let frames: Record<string, string>[];
let pcap: Buffer;

beforeAll(async () => {
  ({ entries } = await recordKnownTrace());
  pcap = traceToPcap(entries);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'known-trace.pcapng');
  writeFileSync(file, pcap);
  const args = ['-r', file, '-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,', ...FIELDS.flatMap((f) => ['-e', f])];
  const { stdout } = await run('tshark', args, { maxBuffer: 64 * 1024 * 1024 });
  frames = stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => Object.fromEntries(line.split('\t').map((v, i) => [FIELDS[i]!, v])));
}, 60_000);

const packets = () => entries.filter((e): e is PacketEntry => e.kind === 'packet');

test('every MQTT packet of the trace is one MQTT packet to tshark, with its type, topic and packet id', () => {
  const decoded = frames.filter((f) => f['mqtt.msgtype'] !== '');
  expect(decoded).toHaveLength(packets().length);
  for (const [i, e] of packets().entries()) {
    const f = decoded[i]!;
    // Each frame that completes a packet carries the trace entry it came from.
    expect(f['frame.comment']).toMatch(new RegExp(`^trace #${e.seq} ${e.direction}: `));
    expect(Number(f['mqtt.msgtype'])).toBe(TYPES[e.packet.cmd]);
    const p = e.packet;
    const topics = p.cmd === 'publish' ? [p.topic] : p.cmd === 'subscribe' ? p.subscriptions.map((s) => s.topic) : p.cmd === 'unsubscribe' ? p.unsubscriptions : [];
    expect(f['mqtt.topic']).toBe(topics.join(','));
    const id = 'messageId' in p && p.messageId !== undefined && !(p.cmd === 'publish' && p.qos === 0) ? String(p.messageId) : '';
    expect(f['mqtt.msgid']).toBe(id);
    // Clients talk to port 1883.
    expect(Number(e.direction === 'in' ? f['tcp.dstport'] : f['tcp.srcport'])).toBe(1883);
  }
});

test('the run holds what the test is about: MQTT 5, chaos copies, a packet over several segments', () => {
  const ids = packets().filter((p) => p.chaos).map((p) => p.chaos!.fault);
  expect(ids).toEqual(['duplicateQos0', 'resendWithNewPacketId']);
  expect(packets().some((p) => p.packet.cmd === 'connect' && p.packet.protocolVersion === 5)).toBe(true);
  const big = packets().find((p) => p.packet.cmd === 'publish' && Buffer.from(p.packet.payload).equals(LARGE_PAYLOAD))!;
  const frame = frames.find((f) => f['frame.comment'].startsWith(`trace #${big.seq} `))!;
  expect(Number(frame['mqtt.len'])).toBeGreaterThan(1460);
});

test('IPv4 and TCP checksums are good, TCP analysis flags nothing, one stream per connection', () => {
  expect(frames.length).toBeGreaterThan(packets().length);
  for (const f of frames) {
    expect([f['frame.number'], f['ip.checksum.status'], f['tcp.checksum.status'], f['tcp.analysis.flags']]).toEqual([f['frame.number'], '1', '1', '']);
  }
  const connections = new Set(packets().map((p) => p.connectionId));
  expect(new Set(frames.map((f) => f['tcp.stream'])).size).toBe(connections.size);
});

test('a trace read back from JSON lines gives the same capture', () => {
  const [back] = parseTraceJsonLines(traceToJsonLines(entries, { seed: KNOWN_SEED }));
  expect(traceToPcap(back!.entries).equals(pcap)).toBe(true);
});
