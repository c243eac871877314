/**
 * The decoder's fast path (complete PUBLISH and PUBACK packets) against mqtt-packet's own reading: the same
 * byte streams, fed whole and split, must give the same packets (same class, same fields in the same order)
 * and the same errors with the fast path on as with mqtt-packet reading everything.
 */
import fc from 'fast-check';
import { type DecodeError, type Packet, createDecoder, generate } from '../../src/codec/codec';
import { FastReader } from '../../src/codec/fast-decode';
import { str } from './codec-helpers';

interface Outcome {
  packets: Packet[];
  errors: DecodeError[];
}

function run(chunks: Buffer[], fastPath: boolean, maxPacketBytes: number): Outcome {
  const packets: Packet[] = [];
  const errors: DecodeError[] = [];
  const decoder = createDecoder({ maxPacketBytes, protocolVersions: [4, 5], fastPath, onPacket: (p) => packets.push(p), onError: (e) => errors.push(e) });
  for (const chunk of chunks) decoder.push(chunk);
  return { packets, errors };
}

/** A comparable view: each packet's class and its own fields in order; each error's kind and message. */
const view = (o: Outcome) => ({
  packets: o.packets.map((p) => [p.constructor.name, Object.entries(p)]),
  errors: o.errors.map((e) => [e.kind, e.message, e.announcedBytes]),
});

/** Both ways, fed as `chunks`; returns the fast path's outcome after checking it equals mqtt-packet's. */
function same(chunks: Buffer[], maxPacketBytes = 1 << 20): Outcome {
  const fast = run(chunks, true, maxPacketBytes);
  expect(view(fast)).toEqual(view(run(chunks, false, maxPacketBytes)));
  return fast;
}

const cut = (bytes: Buffer, at: number[]): Buffer[] => {
  const chunks: Buffer[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    if (to > from) chunks.push(bytes.subarray(from, to));
    from = Math.max(from, to);
  }
  return chunks;
};

const MQTT = [0, 4, ...Buffer.from('MQTT')];
const connect4 = [0x10, 16, ...MQTT, 4, 0x02, 0, 60, ...str('dev1')];
/** An MQTT 5 CONNECT without properties: from here on the stream is MQTT 5. */
const connect5 = [0x10, 17, ...MQTT, 5, 0x02, 0, 60, 0, ...str('dev1')];
const topic = [...str('dt/things/dev-1/telemetry')];
const payload = [...Buffer.alloc(100, 7)];

/** A packet: the first byte, the remaining length (as a Variable Byte Integer), the body. */
const packet = (first: number, body: number[]): number[] => {
  const length: number[] = [];
  let n = body.length;
  do {
    length.push((n % 128) | (n >= 128 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return [first, ...length, ...body];
};

const rows: [string, number[]][] = [
  ['PUBLISH QoS 0', packet(0x30, [...topic, ...payload])],
  ['PUBLISH QoS 1', packet(0x32, [...topic, 0, 9, ...payload])],
  ['PUBLISH QoS 2', packet(0x34, [...topic, 1, 0, ...payload])],
  ['PUBLISH DUP, RETAIN', packet(0x3b, [...topic, 0x12, 0x34, ...payload])],
  ['PUBLISH QoS 0 with DUP', [0x38, 5, ...str('a'), 0x68, 0x69]],
  ['PUBLISH, empty topic and payload', [0x30, 2, 0, 0]],
  ['PUBLISH, UTF-8 topic', [0x30, 2 + 6, ...str('é/ü/a')]],
  ['PUBLISH, invalid UTF-8 topic', [0x30, 2 + 3, 0, 3, 0xff, 0xfe, 0x61]],
  ['PUBLISH, topic running past the packet', [0x30, 3, 0, 9, 0x61]],
  ['PUBLISH QoS 1 without room for its packet id', [0x32, 3, ...str('a')]],
  ['PUBLISH QoS 1 with one byte of packet id', [0x32, 4, ...str('a'), 0]],
  ['PUBLISH QoS 1 without room for its packet id, then a PINGREQ', [0x32, 3, ...str('a'), 0xc0, 0]],
  ['PUBLISH with both QoS bits', [0x36, 3, ...str('a')]],
  ['PUBLISH, remaining length of five bytes', [0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]],
  ['PUBLISH, two-byte remaining length', packet(0x30, [...str('t'), ...Buffer.alloc(200, 1)])],
  ['PUBLISH, remaining length with a needless continuation (0x80 0x00)', [0x30, 0x83, 0x00, ...str('a')]],
  ['PUBACK', [0x40, 2, 0, 1]],
  ['PUBACK, packet id 65535', [0x40, 2, 0xff, 0xff]],
  ['PUBACK with flags', [0x42, 2, 0, 1]],
  ['PUBACK of remaining length 3', [0x40, 3, 0, 1, 0]],
  ['PUBACK of remaining length 1', [0x40, 1, 0]],
  ['PUBACK of remaining length 0', [0x40, 0]],
  ['PUBACK only its first byte', [0x40]],
  ['PUBLISH cut short', [0x30, 10, 0, 1]],
  ['junk after a PUBACK', [0x40, 2, 0, 1, 0x00, 0x00]],
  ['CONNECT then PUBLISH and PUBACK', [...connect4, 0x30, 5, ...str('a'), 1, 2, 0x40, 2, 0, 3]],
  ['PINGREQ', [0xc0, 0]],
  ['PINGREQ of remaining length 1', [0xc0, 1, 0]],
  ['PINGREQ with flags', [0xc1, 0]],
  ['PINGREQ only its first byte', [0xc0]],
  ['DISCONNECT', [0xe0, 0]],
  ['DISCONNECT of remaining length 1', [0xe0, 1, 0]],
  ['DISCONNECT with flags', [0xe2, 0]],
  ['DISCONNECT, remaining length with a needless continuation (0x80 0x00)', [0xe0, 0x80, 0x00]],
  ['CONNECT', connect4],
  ['CONNECT, not clean, keep-alive 65535, empty client id', packet(0x10, [...MQTT, 4, 0x00, 0xff, 0xff, 0, 0])],
  ['CONNECT, UTF-8 client id', packet(0x10, [...MQTT, 4, 0x02, 0, 60, ...str('dév-ü')])],
  ['CONNECT, invalid UTF-8 client id', packet(0x10, [...MQTT, 4, 0x02, 0, 60, 0, 2, 0xff, 0xfe])],
  ['CONNECT, reserved flag bit', packet(0x10, [...MQTT, 4, 0x03, 0, 60, ...str('d')])],
  ['CONNECT, will QoS without a will', packet(0x10, [...MQTT, 4, 0x0a, 0, 60, ...str('d')])],
  ['CONNECT with a user name and password', packet(0x10, [...MQTT, 4, 0xc2, 0, 60, ...str('d'), ...str('u'), ...str('p')])],
  ['CONNECT with a will', packet(0x10, [...MQTT, 4, 0x0e, 0, 60, ...str('d'), ...str('w/t'), ...str('bye')])],
  ['CONNECT, client id running past the packet', packet(0x10, [...MQTT, 4, 0x02, 0, 60, 0, 9, 0x61])],
  ['CONNECT, a byte after the client id', packet(0x10, [...MQTT, 4, 0x02, 0, 60, ...str('d'), 0])],
  ['CONNECT, no client id', packet(0x10, [...MQTT, 4, 0x02, 0, 60])],
  ['CONNECT, MQTT 3.1 (MQIsdp)', packet(0x10, [0, 6, ...Buffer.from('MQIsdp'), 3, 0x02, 0, 60, ...str('d')])],
  ['CONNECT, level 6', packet(0x10, [...MQTT, 6, 0x02, 0, 60, ...str('d')])],
  ['CONNECT, bridge mode level 0x84', packet(0x10, [...MQTT, 0x84, 0x02, 0, 60, ...str('d')])],
  ['CONNECT, protocol name "MQTX"', packet(0x10, [0, 4, ...Buffer.from('MQTX'), 4, 0x02, 0, 60, ...str('d')])],
  ['CONNECT with flags in its first byte', packet(0x12, [...MQTT, 4, 0x02, 0, 60, ...str('d')])],
  ['CONNECT cut short', connect4.slice(0, 9)],
  ['SUBSCRIBE, one filter', packet(0x82, [0, 5, ...str('cycle/t'), 1])],
  ['SUBSCRIBE, three filters at QoS 0, 1, 2', packet(0x82, [0xff, 0xfe, ...str('a/+'), 0, ...str('#'), 1, ...str('é/ü'), 2])],
  ['SUBSCRIBE, empty filter', packet(0x82, [0, 1, 0, 0, 1])],
  ['SUBSCRIBE, invalid UTF-8 filter', packet(0x82, [0, 1, 0, 2, 0xff, 0xfe, 0])],
  ['SUBSCRIBE, QoS 3', packet(0x82, [0, 1, ...str('a'), 3])],
  ['SUBSCRIBE, reserved option bits', packet(0x82, [0, 1, ...str('a'), 0x05])],
  ['SUBSCRIBE, no options byte', packet(0x82, [0, 1, ...str('a')])],
  ['SUBSCRIBE, filter running past the packet', packet(0x82, [0, 1, 0, 9, 0x61, 1])],
  ['SUBSCRIBE, one byte left over', packet(0x82, [0, 1, ...str('a'), 1, 0])],
  ['SUBSCRIBE, packet id only', packet(0x82, [0, 1])],
  ['SUBSCRIBE, one byte', packet(0x82, [0])],
  ['SUBSCRIBE, empty', [0x82, 0]],
  ['SUBSCRIBE with other flags', packet(0x80, [0, 1, ...str('a'), 1])],
  ['SUBSCRIBE, a second filter cut short', packet(0x82, [0, 1, ...str('a'), 1, 0])],
  ['CONNECT, PUBLISH, PINGREQ, DISCONNECT', [...connect4, 0x30, 5, ...str('a'), 1, 2, 0xc0, 0, 0xe0, 0]],
];

const rows5: [string, number[]][] = [
  ['MQTT 5 PUBLISH, no properties', packet(0x32, [...topic, 0, 9, 0, ...payload])],
  ['MQTT 5 PUBLISH QoS 0, no properties', [0x30, 4, ...str('a'), 0]],
  ['MQTT 5 PUBLISH with a content type', [0x30, 4 + 6, ...str('a'), 6, 0x03, ...str('txt')]],
  ['MQTT 5 PUBLISH without room for its property length', [0x30, 3, ...str('a')]],
  ['MQTT 5 PUBLISH QoS 1 without room for its property length, then a PINGREQ', [0x32, 5, ...str('a'), 0, 1, 0xc0, 0]],
  ['MQTT 5 PUBACK, no reason code', [0x40, 2, 0, 7]],
  ['MQTT 5 PUBACK, reason code 0x10', [0x40, 3, 0, 7, 0x10]],
  ['MQTT 5 PUBACK, reason code and no properties', [0x40, 4, 0, 7, 0x97, 0]],
  ['MQTT 5 PUBACK, invalid reason code', [0x40, 3, 0, 7, 0x05]],
  ['MQTT 5 SUBSCRIBE, no properties', packet(0x82, [0, 5, 0, ...str('cycle/t'), 1])],
  ['MQTT 5 PINGREQ', [0xc0, 0]],
  ['MQTT 5 DISCONNECT, no reason code', [0xe0, 0]],
  ['MQTT 5 DISCONNECT, reason code 0x04', [0xe0, 1, 0x04]],
];

describe('codec: the fast decoder reads what mqtt-packet reads', () => {
  it.each(rows)('%s (MQTT 3.1.1), whole and byte by byte', (_name, bytes) => {
    const b = Buffer.from(bytes);
    same([b]);
    same([...b].map((x) => Buffer.from([x])));
  });

  it.each(rows5)('%s, whole and byte by byte', (_name, bytes) => {
    const b = Buffer.from([...connect5, ...bytes]);
    same([b]);
    same([b.subarray(0, connect5.length), b.subarray(connect5.length)]);
    same([...b].map((x) => Buffer.from([x])));
  });

  it('takes the fast path: a PUBLISH is mqtt-packet\'s Packet with its fields in mqtt-packet\'s order, the payload a view of the bytes read', () => {
    const bytes = Buffer.from(packet(0x32, [...topic, 0, 9, ...payload]));
    const read = jest.spyOn(FastReader.prototype, 'read');
    const { packets } = same([bytes]);
    expect(read).toHaveReturnedWith(packets[0]);
    read.mockRestore();
    expect(Object.keys(packets[0]!)).toEqual(['cmd', 'retain', 'qos', 'dup', 'length', 'topic', 'payload', 'messageId']);
    expect((packets[0] as { payload: Buffer }).payload.buffer).toBe(bytes.buffer);
  });

  it('takes the fast path for a plain MQTT 3.1.1 CONNECT: mqtt-packet\'s Packet with its fields in mqtt-packet\'s order', () => {
    const read = jest.spyOn(FastReader.prototype, 'read');
    const { packets } = same([Buffer.from(connect4)]);
    expect(read).toHaveReturnedWith(packets[0]);
    read.mockRestore();
    expect(Object.entries(packets[0]!)).toEqual([
      ['cmd', 'connect'], ['retain', false], ['qos', 0], ['dup', false], ['length', 16], ['topic', null], ['payload', null],
      ['protocolId', 'MQTT'], ['protocolVersion', 4], ['clean', true], ['keepalive', 60], ['clientId', 'dev1'],
    ]);
  });

  it('takes the fast path for an MQTT 3.1.1 SUBSCRIBE: mqtt-packet\'s Packet with its fields in mqtt-packet\'s order', () => {
    const read = jest.spyOn(FastReader.prototype, 'read');
    const { packets } = same([Buffer.from(packet(0x82, [0, 5, ...str('cycle/t'), 1, ...str('a/#'), 0]))]);
    expect(read).toHaveReturnedWith(packets[0]);
    read.mockRestore();
    expect(Object.entries(packets[0]!)).toEqual([
      ['cmd', 'subscribe'], ['retain', false], ['qos', 1], ['dup', false], ['length', 18], ['topic', null], ['payload', null],
      ['subscriptions', [{ topic: 'cycle/t', qos: 1 }, { topic: 'a/#', qos: 0 }]], ['messageId', 5],
    ]);
  });

  it('takes the fast path for a PINGREQ and an MQTT 3.1.1 DISCONNECT: Packets with mqtt-packet\'s fields', () => {
    const read = jest.spyOn(FastReader.prototype, 'read');
    const { packets } = same([Buffer.from([0xc0, 0, 0xe0, 0])]);
    expect(read).toHaveReturnedWith(packets[0]);
    expect(read).toHaveReturnedWith(packets[1]);
    read.mockRestore();
    expect(packets.map((p) => Object.entries(p))).toEqual([
      [['cmd', 'pingreq'], ['retain', false], ['qos', 0], ['dup', false], ['length', 0], ['topic', null], ['payload', null]],
      [['cmd', 'disconnect'], ['retain', false], ['qos', 0], ['dup', false], ['length', 0], ['topic', null], ['payload', null]],
    ]);
  });

  it('a packet over maxPacketBytes is refused as too large, as soon as its header is read', () => {
    const bytes = Buffer.from([0x30, 0xcb, 0x01, ...str('t')]);
    expect(same([bytes], 100).errors.map((e) => e.kind)).toEqual(['too-large']);
    expect(same([bytes.subarray(0, 3)], 100).errors.map((e) => e.kind)).toEqual(['too-large']);
  });

  it('a large PUBLISH arriving in pieces is gathered (mqtt-packet takes over beyond the carried size)', () => {
    const big = generate({ cmd: 'publish', topic: 't/big', payload: Buffer.alloc(100_000, 5), qos: 1, messageId: 4, dup: false, retain: false });
    const pieces = cut(big, Array.from({ length: 60 }, (_, i) => 7 + i * 1700));
    expect(same(pieces).packets).toHaveLength(1);
  });

  it('CONNECTs with any bit flipped or any client id, split anywhere, read the same both ways', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.nat(), fc.boolean(), fc.uniqueArray(fc.nat({ max: 80 }), { maxLength: 6 }).map((a) => a.sort((x, y) => x - y)), (clientId, flip, doFlip, at) => {
        const stream = Buffer.from([...packet(0x10, [...MQTT, 4, 0x02, 0, 30, ...str(clientId)]), 0xc0, 0]);
        if (doFlip) {
          const bit = flip % (stream.length * 8);
          stream[bit >> 3]! ^= 1 << (bit & 7);
        }
        same([stream]);
        same(cut(stream, at));
      }),
      { seed: 1718, numRuns: 600 },
    );
  });

  it('generated streams of packets, with junk or a flipped bit, split anywhere, read the same both ways', () => {
    const topicArb = fc.oneof(fc.constantFrom('dt/things/dev-1/telemetry', 'a', ''), fc.string({ maxLength: 30 }));
    const publishArb = fc.record({
      topic: topicArb,
      payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
      dup: fc.boolean(),
      retain: fc.boolean(),
      messageId: fc.integer({ min: 1, max: 65535 }),
      contentType: fc.option(fc.constantFrom('json', 'text/plain'), { nil: undefined }),
    });
    const packetArb = fc.oneof(
      { weight: 4, arbitrary: publishArb.map((p) => ({ cmd: 'publish' as const, topic: p.topic, payload: p.payload, qos: p.qos, dup: p.dup, retain: p.retain, messageId: p.messageId, ...(p.contentType ? { properties: { contentType: p.contentType } } : {}) })) },
      { weight: 2, arbitrary: fc.record({ cmd: fc.constant('puback' as const), messageId: fc.integer({ min: 1, max: 65535 }), reasonCode: fc.constantFrom(0, 0x10, 0x97) }) },
      { weight: 1, arbitrary: fc.constant({ cmd: 'pingreq' as const }) },
      { weight: 1, arbitrary: fc.constant({ cmd: 'disconnect' as const }) },
      {
        weight: 2,
        arbitrary: fc.record({
          cmd: fc.constant('subscribe' as const),
          messageId: fc.integer({ min: 1, max: 65535 }),
          subscriptions: fc.array(fc.record({ topic: fc.oneof(fc.constantFrom('a/+', 'cycle/t', '#', ''), fc.string({ maxLength: 20 })), qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2> }), { minLength: 1, maxLength: 4 }),
        }),
      },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(4, 5) as fc.Arbitrary<4 | 5>,
        fc.array(packetArb, { minLength: 1, maxLength: 12 }),
        fc.option(fc.uint8Array({ minLength: 1, maxLength: 12 }), { nil: undefined }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.uniqueArray(fc.nat({ max: 4000 }), { maxLength: 12 }).map((a) => a.sort((x, y) => x - y)),
        fc.constantFrom(1 << 20, 120),
        (version, packets, junk, flip, at, maxPacketBytes) => {
          const body = Buffer.concat(packets.map((p) => generate(p as Packet, version)));
          const stream = Buffer.concat([Buffer.from(version === 5 ? connect5 : connect4), body, Buffer.from(junk ?? [])]);
          if (flip !== undefined) {
            const bit = flip % (body.length * 8);
            stream[(version === 5 ? connect5 : connect4).length + (bit >> 3)]! ^= 1 << (bit & 7);
          }
          same([stream], maxPacketBytes);
          same(cut(stream, at), maxPacketBytes);
        },
      ),
      { seed: 1717, numRuns: 800 },
    );
  });
});
