/**
 * The codec on well-formed MQTT 3.1.1, table-driven in mqtt-packet's style: each row is a packet and its
 * bytes, written out by hand from the spec; the bytes must decode to the packet, the packet must encode to
 * the bytes, and split delivery must not change what is decoded.
 */
import fc from 'fast-check';
import { type Packet, encode } from '../../src/codec/codec';
import { bytewise, decode, str } from './codec-helpers';


/** What mqtt-packet puts on every decoded packet besides its own fields. */
const base = { retain: false, qos: 0, dup: false, topic: null, payload: null };

interface Row {
  name: string;
  packet: Packet;
  bytes: number[];
  /** The decoded object, when it differs from `{ ...base, ...packet, length }`. */
  decoded?: object;
}

const MQTT = [0, 4, ...Buffer.from('MQTT'), 4]; // protocol name, level 4
const rows: Row[] = [
  {
    name: 'CONNECT, clean session',
    packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'dev1', clean: true, keepalive: 60 },
    bytes: [0x10, 16, ...MQTT, 0x02, 0, 60, ...str('dev1')],
  },
  {
    name: 'CONNECT, persistent session',
    packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'dev1', clean: false, keepalive: 0 },
    bytes: [0x10, 16, ...MQTT, 0x00, 0, 0, ...str('dev1')],
  },
  {
    name: 'CONNECT, empty client id',
    packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 30 },
    bytes: [0x10, 12, ...MQTT, 0x02, 0, 30, 0, 0],
  },
  {
    name: 'CONNECT with a retained QoS 1 will',
    packet: {
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'dev1', clean: true, keepalive: 60,
      will: { topic: 'lwt', payload: Buffer.from('bye'), qos: 1, retain: true },
    },
    // flags: will retain 0x20 | will QoS 1 0x08 | will 0x04 | clean 0x02
    bytes: [0x10, 26, ...MQTT, 0x2e, 0, 60, ...str('dev1'), ...str('lwt'), ...str('bye')],
  },
  {
    name: 'CONNECT with username and password',
    packet: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'dev1', clean: true, keepalive: 60, username: 'user', password: Buffer.from('pass') },
    // flags: username 0x80 | password 0x40 | clean 0x02
    bytes: [0x10, 28, ...MQTT, 0xc2, 0, 60, ...str('dev1'), ...str('user'), ...str('pass')],
  },
  {
    name: 'CONNECT with will, username and password, persistent session',
    packet: {
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'dev1', clean: false, keepalive: 60,
      will: { topic: 'lwt', payload: Buffer.from(''), qos: 0, retain: false }, username: 'user', password: Buffer.from('pass'),
    },
    bytes: [0x10, 35, ...MQTT, 0xc4, 0, 60, ...str('dev1'), ...str('lwt'), 0, 0, ...str('user'), ...str('pass')],
  },
  {
    name: 'CONNACK accepted',
    packet: { cmd: 'connack', returnCode: 0, sessionPresent: false },
    bytes: [0x20, 2, 0, 0],
  },
  {
    name: 'CONNACK accepted, session present',
    packet: { cmd: 'connack', returnCode: 0, sessionPresent: true },
    bytes: [0x20, 2, 1, 0],
  },
  {
    name: 'CONNACK unacceptable protocol version',
    packet: { cmd: 'connack', returnCode: 1, sessionPresent: false },
    bytes: [0x20, 2, 0, 1],
  },
  {
    name: 'PUBLISH QoS 0',
    packet: { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 0, dup: false, retain: false },
    bytes: [0x30, 7, ...str('a/b'), ...Buffer.from('hi')],
  },
  {
    name: 'PUBLISH QoS 1',
    packet: { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 1, dup: false, retain: false, messageId: 10 },
    bytes: [0x32, 9, ...str('a/b'), 0, 10, ...Buffer.from('hi')],
  },
  {
    name: 'PUBLISH QoS 1, DUP and RETAIN',
    packet: { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 1, dup: true, retain: true, messageId: 0x1234 },
    bytes: [0x3b, 9, ...str('a/b'), 0x12, 0x34, ...Buffer.from('hi')],
  },
  {
    name: 'PUBLISH QoS 0, RETAIN, empty payload',
    packet: { cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(0), qos: 0, dup: false, retain: true },
    bytes: [0x31, 5, ...str('a/b')],
  },
  {
    name: 'PUBLISH with a two-byte remaining length',
    packet: { cmd: 'publish', topic: 't', payload: Buffer.alloc(200, 7), qos: 1, dup: false, retain: false, messageId: 1 },
    bytes: [0x32, 0xcd, 0x01, ...str('t'), 0, 1, ...Buffer.alloc(200, 7)], // 205 = 0x4d + 1 * 128
  },
  {
    name: 'PUBACK',
    packet: { cmd: 'puback', messageId: 10 },
    bytes: [0x40, 2, 0, 10],
  },
  {
    name: 'SUBSCRIBE, one filter',
    packet: { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/+', qos: 1 }] },
    bytes: [0x82, 8, 0, 1, ...str('a/+'), 1],
    decoded: { qos: 1 },
  },
  {
    name: 'SUBSCRIBE, several filters',
    packet: { cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'a', qos: 0 }, { topic: 'b/#', qos: 1 }, { topic: 'c', qos: 2 }] },
    bytes: [0x82, 16, 0, 2, ...str('a'), 0, ...str('b/#'), 1, ...str('c'), 2],
    decoded: { qos: 1 },
  },
  {
    name: 'SUBACK',
    packet: { cmd: 'suback', messageId: 2, granted: [0, 1, 0x80] },
    bytes: [0x90, 5, 0, 2, 0, 1, 0x80],
  },
  {
    name: 'UNSUBSCRIBE',
    packet: { cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['a/b', 'c'] },
    bytes: [0xa2, 10, 0, 3, ...str('a/b'), ...str('c')],
    decoded: { qos: 1 },
  },
  {
    name: 'UNSUBACK',
    packet: { cmd: 'unsuback', messageId: 3 },
    bytes: [0xb0, 2, 0, 3],
  },
  { name: 'PINGREQ', packet: { cmd: 'pingreq' }, bytes: [0xc0, 0] },
  { name: 'PINGRESP', packet: { cmd: 'pingresp' }, bytes: [0xd0, 0] },
  { name: 'DISCONNECT', packet: { cmd: 'disconnect' }, bytes: [0xe0, 0] },
  { name: 'PUBREC', packet: { cmd: 'pubrec', messageId: 4 }, bytes: [0x50, 2, 0, 4] },
  { name: 'PUBREL', packet: { cmd: 'pubrel', messageId: 4 }, bytes: [0x62, 2, 0, 4], decoded: { qos: 1 } },
  { name: 'PUBCOMP', packet: { cmd: 'pubcomp', messageId: 4 }, bytes: [0x70, 2, 0, 4] },
];

/** The remaining length: what follows the fixed header's first byte and its length varint. */
function remainingLength(bytes: number[]): number {
  let n = 0;
  for (let i = 1, mul = 1; ; i++, mul *= 128) {
    n += (bytes[i]! & 0x7f) * mul;
    if ((bytes[i]! & 0x80) === 0) return n;
  }
}

function expectedDecoded(row: Row): object {
  const fields = row.packet.cmd === 'publish' ? row.packet : { ...base, ...row.packet };
  return { ...fields, ...row.decoded, length: remainingLength(row.bytes) };
}

describe('codec: MQTT 3.1.1 packets', () => {
  test.each(rows)('decodes $name', (row) => {
    const { packets, errors } = decode(Buffer.from(row.bytes));
    expect(errors).toEqual([]);
    expect(packets).toEqual([expectedDecoded(row)]);
  });

  test.each(rows)('encodes $name', (row) => {
    expect([...encode(row.packet)]).toEqual(row.bytes);
  });

  test.each(rows)('round-trips $name', (row) => {
    const { packets } = decode(encode(row.packet));
    expect(packets).toEqual([expectedDecoded(row)]);
    expect([...encode(packets[0]!)]).toEqual(row.bytes);
  });

  test.each(rows)('decodes $name fed one byte at a time', (row) => {
    const { packets, errors } = decode(bytewise(Buffer.from(row.bytes)));
    expect(errors).toEqual([]);
    expect(packets).toEqual([expectedDecoded(row)]);
  });

  test('decodes a stream of every packet, whole or one byte at a time, into the same packets', () => {
    const stream = Buffer.from(rows.flatMap((r) => r.bytes));
    const expected = rows.map(expectedDecoded);
    expect(decode(stream)).toEqual({ packets: expected, errors: [] });
    expect(decode(bytewise(stream))).toEqual({ packets: expected, errors: [] });
  });

  test('decodes a stream of every packet cut at any points into the same packets', () => {
    const stream = Buffer.from(rows.flatMap((r) => r.bytes));
    const expected = rows.map(expectedDecoded);
    const cuts = fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }).map((c) => c.sort((a, b) => a - b));
    fc.assert(
      fc.property(cuts, (at) => {
        const chunks = [0, ...at].map((from, i) => stream.subarray(from, [...at, stream.length][i]));
        expect(decode(chunks)).toEqual({ packets: expected, errors: [] });
      }),
      { seed: 20260801, numRuns: 300 },
    );
  });

  test('reports nothing for any proper prefix of a packet (the rest has not arrived)', () => {
    for (const row of rows) {
      for (let n = 0; n < row.bytes.length; n++) {
        expect({ row: row.name, n, ...decode(Buffer.from(row.bytes.slice(0, n))) }).toEqual({ row: row.name, n, packets: [], errors: [] });
      }
    }
  });

});
