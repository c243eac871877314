/**
 * The codec on bad input: every kind of DecodeError, with the mqtt-packet message behind each 'malformed'
 * pinned (an mqtt-packet upgrade that changes what it reports fails here), the oversize check, TLS and HTTP
 * on a plain port, and the decoder's contract (one error, then silence; never a throw of its own).
 * The malformed cases follow the mutations of __tests__/robustness/fuzz.test.ts.
 */
import fc from 'fast-check';
import { DecodeError, type DecodeErrorKind, type Packet, createDecoder, encode } from '../../src/codec/codec';
import { bytewise, decode, str } from './codec-helpers';

const MQTT = [0, 4, ...Buffer.from('MQTT')];
/** A CONNECT with the given level byte and connect flags (client id 'dev1', keep-alive 60). */
const connect = (level: number, flags = 0x02): number[] => [0x10, 16, ...MQTT, level, flags, 0, 60, ...str('dev1')];

/** Kind and message of the single error the bytes produce, fed whole; and that nothing was decoded. */
function outcome(bytes: number[] | Buffer): { kind: DecodeErrorKind; message: string } | { packets: Packet[]; errors: DecodeError[] } {
  const result = decode(Buffer.from(bytes));
  if (result.errors.length !== 1 || result.packets.length !== 0) return result;
  return { kind: result.errors[0]!.kind, message: result.errors[0]!.message };
}

describe('codec: malformed packets', () => {
  test.each<[string, number[], string]>([
    // reserved flag bits [MQTT-2.2.2-2]
    ['SUBSCRIBE with flags 0000', [0x80, 6, 0, 1, ...str('a'), 0], 'Invalid header flag bits, must be 0x2 for subscribe packet'],
    ['SUBSCRIBE with flags 0011', [0x83, 6, 0, 1, ...str('a'), 0], 'Invalid header flag bits, must be 0x2 for subscribe packet'],
    ['UNSUBSCRIBE with flags 0000', [0xa0, 5, 0, 1, ...str('a')], 'Invalid header flag bits, must be 0x2 for unsubscribe packet'],
    ['UNSUBSCRIBE with flags 0110', [0xa6, 5, 0, 1, ...str('a')], 'Invalid header flag bits, must be 0x2 for unsubscribe packet'],
    ['PUBREL with flags 0000', [0x60, 2, 0, 1], 'Invalid header flag bits, must be 0x2 for pubrel packet'],
    ['CONNECT with flags 0001', [0x11, ...connect(4).slice(1)], 'Invalid header flag bits, must be 0x0 for connect packet'],
    ['PUBACK with flags 1000', [0x48, 2, 0, 1], 'Invalid header flag bits, must be 0x0 for puback packet'],
    ['PINGREQ with flags 0001', [0xc1, 0], 'Invalid header flag bits, must be 0x0 for pingreq packet'],
    ['DISCONNECT with flags 0010', [0xe2, 0], 'Invalid header flag bits, must be 0x0 for disconnect packet'],
    // QoS 3
    ['PUBLISH with both QoS bits set', [0x36, 3, ...str('a')], 'Packet must not have both QoS bits set to 1'],
    ['SUBSCRIBE requesting QoS 3', [0x82, 6, 0, 1, ...str('a'), 3], 'Invalid subscribe QoS, must be <= 2'],
    ['SUBSCRIBE with reserved option bits', [0x82, 6, 0, 1, ...str('a'), 0x04], 'Invalid subscribe topic flag bits, bits 7-2 must be 0'],
    // packet types
    ['packet type 0 (reserved)', [0x00, 0], 'Not supported'],
    ['AUTH (MQTT 5 only)', [0xf0, 0], 'Not supported auth packet for this version MQTT'],
    // CONNECT's own rules
    ['CONNECT with reserved connect flag bit 0 set', connect(4, 0x03), 'Connect flag bit 0 must be 0, but got 1'],
    ['CONNECT with will QoS but no will', connect(4, 0x0a), 'Will QoS must be set to zero when Will Flag is set to 0'],
    ['CONNECT with will retain but no will', connect(4, 0x22), 'Will Retain Flag must be set to zero when Will Flag is set to 0'],
    ['CONNECT with protocol name "MQTX"', [0x10, 16, 0, 4, ...Buffer.from('MQTX'), 4, 2, 0, 60, ...str('dev1')], 'Invalid protocolId'],
    // remaining length wrong for the content
    ['remaining length longer than 4 bytes', [0x30, 0xff, 0xff, 0xff, 0xff, 0x7f], 'Invalid variable byte integer'],
    ['a string running past the end of the packet', [0x30, 3, 0, 9, 0x61], 'Cannot parse topic'],
    ['a CONNECT too short for its protocol name, then a PINGREQ', [0x10, 4, 0, 4, 0x4d, 0x51, 0xc0, 0], 'Cannot parse protocolId'],
    ['a CONNECT too short for its level byte', [0x10, 6, ...MQTT], 'Packet too short'],
    ['SUBSCRIBE with a filter but no QoS byte', [0x82, 5, 0, 1, ...str('a')], 'Malformed Subscribe Payload'],
    ['SUBSCRIBE with one byte more than its filters', [0x82, 7, 0, 1, ...str('a'), 1, 9], 'Cannot parse topic'],
    ['SUBSCRIBE with remaining length 0', [0x82, 0], 'Malformed subscribe, no payload specified'],
    ['UNSUBACK with remaining length 4', [0xb0, 4, 0, 1, 0, 0], 'Malformed unsuback, payload length must be 2'],
    ['UNSUBSCRIBE with remaining length 0', [0xa2, 0], 'Malformed unsubscribe, no payload specified'],
    // caught by the codec where mqtt-packet reads on regardless
    ['PUBACK with remaining length 3', [0x40, 3, 0, 1, 0], 'PUBACK has remaining length 3; MQTT 3.1.1 fixes it at 2'],
    ['PUBCOMP with remaining length 4', [0x70, 4, 0, 1, 0, 0], 'PUBCOMP has remaining length 4; MQTT 3.1.1 fixes it at 2'],
    ['CONNACK with remaining length 3', [0x20, 3, 0, 0, 0], 'CONNACK has remaining length 3; MQTT 3.1.1 fixes it at 2'],
    ['PINGREQ with remaining length 1', [0xc0, 1, 0], 'PINGREQ has remaining length 1; MQTT 3.1.1 fixes it at 0'],
    ['DISCONNECT with remaining length 2', [0xe0, 2, 0, 0], 'DISCONNECT has remaining length 2; MQTT 3.1.1 fixes it at 0'],
    ['PUBACK too short for its packet id', [0x40, 1, 0], 'PUBACK is shorter than its fields'],
    ['PUBACK too short for its packet id, then a PINGREQ', [0x40, 1, 0, 0xc0, 0], 'PUBACK is shorter than its fields'],
    ['QoS 1 PUBLISH too short for its packet id', [0x32, 2, 0, 0], 'PUBLISH is shorter than its fields'],
    ['QoS 1 PUBLISH too short for its packet id, then a PINGREQ', [0x32, 3, ...str('a'), 0xc0, 0], 'PUBLISH is shorter than its fields'],
    ['SUBACK too short for its packet id', [0x90, 1, 0], 'SUBACK is shorter than its fields'],
  ])('%s is malformed', (_name, bytes, message) => {
    expect(outcome(bytes)).toEqual({ kind: 'malformed', message: `malformed packet: ${message}` });
  });

  test('keeps the mqtt-packet error as the cause', () => {
    const { errors } = decode(Buffer.from([0x36, 3, ...str('a')]));
    expect(errors[0]!.cause).toEqual(new Error('Packet must not have both QoS bits set to 1'));
  });

  test.each<[string, number[], object]>([
    ['PUBLISH topic', [0x30, 5, 0, 3, 0x61, 0xff, 0x62], { cmd: 'publish', topic: 'a\uFFFDb' }],
    ['CONNECT client id', [0x10, 16, ...MQTT, 4, 2, 0, 60, 0, 4, 0x64, 0xc3, 0x28, 0x31], { cmd: 'connect', clientId: 'd\uFFFD(1' }],
    ['SUBSCRIBE filter', [0x82, 8, 0, 1, 0, 3, 0x61, 0xed, 0xa0, 1], { cmd: 'subscribe', subscriptions: [{ topic: 'a\uFFFD\uFFFD', qos: 1 }] }],
    ['UNSUBSCRIBE filter', [0xa2, 5, 0, 1, 0, 1, 0x80], { cmd: 'unsubscribe', unsubscriptions: ['\uFFFD'] }],
  ])('invalid UTF-8 in a %s decodes to U+FFFD (the broker refuses it, [MQTT-1.5.3-1])', (_name, bytes, packet) => {
    const { packets, errors } = decode(Buffer.from(bytes));
    expect(errors).toEqual([]);
    expect(packets).toEqual([expect.objectContaining(packet)]);
  });
});

describe('codec: protocol levels', () => {
  const v3 = [0x10, 18, 0, 6, ...Buffer.from('MQIsdp'), 3, 0x02, 0, 60, ...str('dev1')];
  // MQTT 5 CONNECT: properties (length 5: session expiry interval 10) after the keep-alive.
  const v5 = [0x10, 22, ...MQTT, 5, 0x02, 0, 60, 5, 0x11, 0, 0, 0, 10, ...str('dev1')];
  // The same with a property id mqtt-packet does not know: it fails on the properties, after the level.
  const v5BadProperty = [0x10, 19, ...MQTT, 5, 0x02, 0, 60, 2, 0x7f, 0, ...str('dev1')];

  test.each<[string, number[], number, string]>([
    ['MQTT 3.1 (MQIsdp, level 3)', v3, 3, 'protocol level 3 (MQTT 3.1) is not MQTT 3.1.1 (level 4)'],
    ['MQTT 5 (level 5)', v5, 5, 'protocol level 5 (MQTT 5) is not MQTT 3.1.1 (level 4)'],
    ['MQTT 5 with properties mqtt-packet cannot read', v5BadProperty, 5, 'protocol level 5 (MQTT 5) is not MQTT 3.1.1 (level 4)'],
    ['level 0', connect(0), 0, 'protocol level 0 is not MQTT 3.1.1 (level 4)'],
    ['level 2', connect(2), 2, 'protocol level 2 is not MQTT 3.1.1 (level 4)'],
    ['level 6', connect(6), 6, 'protocol level 6 is not MQTT 3.1.1 (level 4)'],
    ['level 0x84 (3.1.1 in mosquitto bridge mode)', connect(0x84), 0x84, 'protocol level 132 (bridge mode) is not MQTT 3.1.1 (level 4)'],
    ['level 0x83 (3.1 in mosquitto bridge mode)', connect(0x83), 0x83, 'protocol level 131 (bridge mode) is not MQTT 3.1.1 (level 4)'],
    ['level 255', connect(255), 255, 'protocol level 255 (bridge mode) is not MQTT 3.1.1 (level 4)'],
  ])('a CONNECT of %s is an unsupported protocol', (_name, bytes, level, message) => {
    const { packets, errors } = decode(Buffer.from(bytes));
    expect(packets).toEqual([]);
    expect(errors).toEqual([expect.objectContaining({ kind: 'unsupported-protocol', protocolLevel: level, message })]);
  });

  test('a CONNECT of level 4 decodes', () => {
    expect(decode(Buffer.from(connect(4)))).toEqual({ packets: [expect.objectContaining({ cmd: 'connect', protocolVersion: 4 })], errors: [] });
  });

  test('a level-4 CONNECT with a later problem is malformed, not an unsupported protocol', () => {
    expect(outcome(connect(4, 0x03))).toMatchObject({ kind: 'malformed' });
  });
});

describe('codec: packets larger than maxPacketBytes', () => {
  const hugeHeader = [0x30, 0xff, 0xff, 0xff, 0x7f]; // PUBLISH announcing 268435455 bytes
  const tooLarge = (announcedBytes: number, max: number): DecodeError =>
    expect.objectContaining({ kind: 'too-large', announcedBytes, message: `a packet announces ${announcedBytes} bytes, more than the ${max} accepted` });

  test('a header announcing 256 MB is refused as soon as it is read', () => {
    expect(decode(Buffer.from(hugeHeader), 131072)).toEqual({ packets: [], errors: [tooLarge(268435455, 131072)] });
  });

  test('fed one byte at a time, the refusal comes with the last length byte, before any body', () => {
    const errors: DecodeError[] = [];
    const decoder = createDecoder({ maxPacketBytes: 131072, onPacket: () => {}, onError: (e) => errors.push(e) });
    const seen = hugeHeader.map((b) => {
      decoder.push(Buffer.from([b]));
      return errors.length;
    });
    expect(seen).toEqual([0, 0, 0, 0, 1]);
    expect(errors).toEqual([tooLarge(268435455, 131072)]);
  });

  test('a packet of exactly maxPacketBytes is accepted, one byte more is refused', () => {
    const packet = encode({ cmd: 'publish', topic: 't', payload: Buffer.alloc(200), qos: 1, dup: false, retain: false, messageId: 1 }); // remaining length 205
    expect(decode(packet, 205)).toEqual({ packets: [expect.objectContaining({ cmd: 'publish', length: 205 })], errors: [] });
    expect(decode(packet, 204)).toEqual({ packets: [], errors: [tooLarge(205, 204)] });
  });

  test('a packet over the limit is refused even when its whole body arrives with the header', () => {
    const packet = encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'x'.repeat(50), qos: 1 }] });
    expect(decode(packet, 10)).toEqual({ packets: [], errors: [tooLarge(55, 10)] });
  });

  test('the packets before an oversized one in the same chunk are delivered first', () => {
    const chunk = Buffer.from([0xc0, 0, 0xc0, 0, ...hugeHeader, 1, 2, 3]);
    const { packets, errors } = decode(chunk, 1000);
    expect(packets.map((p) => p.cmd)).toEqual(['pingreq', 'pingreq']);
    expect(errors).toEqual([tooLarge(268435455, 1000)]);
  });
});

describe('codec: another protocol on a plain MQTT port', () => {
  // TLS 1.2 ClientHello record: handshake (0x16), version 3.1, length 0x00a5, then the handshake itself.
  const clientHello = [0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03];

  test('a TLS ClientHello is recognised', () => {
    expect(outcome(clientHello)).toEqual({ kind: 'tls-on-plain-port', message: 'the client started a TLS handshake on a plain (non-TLS) MQTT port' });
  });

  test('a TLS ClientHello fed one byte at a time is recognised at its second byte', () => {
    const errors: DecodeError[] = [];
    const decoder = createDecoder({ maxPacketBytes: 1000, onPacket: () => {}, onError: (e) => errors.push(e) });
    const seen = clientHello.map((b) => {
      decoder.push(Buffer.from([b]));
      return errors.length;
    });
    expect(seen).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(errors[0]!.kind).toBe('tls-on-plain-port');
  });

  test.each(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'])('an HTTP %s request is recognised', (method) => {
    const request = Buffer.from(`${method} /mqtt HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    const expected = { kind: 'http-on-plain-port', message: `the client sent an HTTP request (${method}) to a plain MQTT port` };
    expect(outcome(request)).toEqual(expected);
    // One byte at a time: recognised when the space after the method arrives, not before.
    const errors: DecodeError[] = [];
    const decoder = createDecoder({ maxPacketBytes: 1000, onPacket: () => {}, onError: (e) => errors.push(e) });
    const seen = bytewise(request).map((b) => {
      decoder.push(b);
      return errors.length;
    });
    expect(seen.indexOf(1)).toBe(method.length);
    expect({ kind: errors[0]!.kind, message: errors[0]!.message }).toEqual(expected);
  });

  test.each<[string, number[], string]>([
    ['0x16 not followed by a TLS version', [0x16, 0x00], 'malformed packet: Invalid header flag bits, must be 0x0 for connect packet'],
    ['"GETX"', [...Buffer.from('GETX / HTTP/1.1\r\n')], 'malformed packet: Invalid header flag bits, must be 0x0 for puback packet'],
    ['"get " in lower case', [...Buffer.from('get / HTTP/1.1\r\n')], 'malformed packet: Invalid header flag bits, must be 0x2 for pubrel packet'],
  ])('%s is read as MQTT', (_name, bytes, message) => {
    expect(outcome(bytes)).toEqual({ kind: 'malformed', message });
  });

  test('a first packet that starts like "P" (PUBREC, 0x50) decodes, whole or byte by byte', () => {
    const pubrec = Buffer.from([0x50, 2, 0, 4]);
    expect(decode(pubrec).packets).toEqual([expect.objectContaining({ cmd: 'pubrec', messageId: 4 })]);
    expect(decode(bytewise(pubrec)).packets).toEqual([expect.objectContaining({ cmd: 'pubrec', messageId: 4 })]);
  });

  test.each([
    ['TLS', clientHello],
    ['HTTP', [...Buffer.from('GET / HTTP/1.1\r\n')]],
  ])('%s after a CONNECT is not recognised: only the first bytes of a connection are', (_name, bytes) => {
    const { packets, errors } = decode(Buffer.from([...connect(4), ...bytes]));
    expect(packets.map((p) => p.cmd)).toEqual(['connect']);
    expect(errors.map((e) => e.kind)).toEqual(['malformed']);
  });

  test('an empty first chunk changes nothing', () => {
    expect(decode([Buffer.alloc(0), Buffer.from(connect(4))]).packets).toEqual([expect.objectContaining({ cmd: 'connect' })]);
    expect(decode([Buffer.alloc(0), Buffer.from(clientHello)]).errors.map((e) => e.kind)).toEqual(['tls-on-plain-port']);
  });
});

describe('codec: the decoder contract', () => {
  test('after an error the decoder ignores the rest of the chunk and every later chunk', () => {
    const pingreq = [0xc0, 0];
    const qos3 = [0x36, 3, ...str('a')];
    // A PINGREQ with remaining length 1 (mqtt-packet emits it, the codec refuses it), then a good and a bad
    // packet in the same chunk, then more chunks.
    const { packets, errors } = decode([Buffer.from([0xc0, 1, 0, ...pingreq, ...qos3]), Buffer.from(pingreq), Buffer.from(connect(4))]);
    expect(packets).toEqual([]);
    expect(errors.map((e) => e.message)).toEqual(['malformed packet: PINGREQ has remaining length 1; MQTT 3.1.1 fixes it at 0']);
  });

  test('reports one error even when mqtt-packet emits several for one packet', () => {
    // An MQTT 5 CONNECT announcing one byte of properties and ending there: mqtt-packet reports the
    // missing property, keeps reading, and reports the missing client id too.
    const v5 = [0x10, 11, ...MQTT, 5, 0x02, 0, 60, 1];
    expect(decode(Buffer.from(v5)).errors.map((e) => e.kind)).toEqual(['unsupported-protocol']);
  });

  test('an exception thrown by onPacket propagates out of push() and stops the decoder', () => {
    const seen: string[] = [];
    const decoder = createDecoder({
      maxPacketBytes: 1000,
      onPacket: (p) => {
        seen.push(p.cmd);
        if (seen.length === 1) throw new Error('handler failed');
      },
      onError: (e) => seen.push(e.kind),
    });
    expect(() => decoder.push(Buffer.from([0xc0, 0, 0xc0, 0]))).toThrow('handler failed');
    decoder.push(Buffer.from([0xc0, 0]));
    expect(seen).toEqual(['pingreq']);
  });

  test('DecodeError is an Error with a kind', () => {
    const { errors } = decode(Buffer.from([0x00, 0]));
    expect(errors[0]).toBeInstanceOf(DecodeError);
    expect(errors[0]).toBeInstanceOf(Error);
    expect(errors[0]!.name).toBe('DecodeError');
  });
});

describe('codec: mutated packets (as the fuzz test makes them)', () => {
  const valid: Packet[] = [
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'dev1', clean: true, keepalive: 60, username: 'u', password: Buffer.from('p'), will: { topic: 'w', payload: Buffer.from('x'), qos: 1, retain: false } },
    { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 1, dup: false, retain: false, messageId: 7 },
    { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 0, dup: false, retain: true },
    { cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'a/+', qos: 1 }, { topic: 'b', qos: 0 }] },
    { cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['a/+', 'b'] },
    { cmd: 'puback', messageId: 9 },
    { cmd: 'pingreq' },
    { cmd: 'disconnect' },
  ];

  /** What a stream decodes to, in a form that does not depend on how mqtt-packet words its errors. */
  function summary(chunks: Buffer | Buffer[]): { packets: Packet[]; errors: DecodeErrorKind[] } {
    const { packets, errors } = decode(chunks, 4096);
    return { packets, errors: errors.map((e) => e.kind) };
  }

  test('every single-bit flip decodes without throwing, to at most one error, the same whole or byte by byte', () => {
    for (const packet of valid) {
      const bytes = encode(packet);
      for (let at = 0; at < bytes.length; at++) {
        for (let bit = 0; bit < 8; bit++) {
          const flipped = Buffer.from(bytes);
          flipped[at]! ^= 1 << bit;
          const whole = summary(flipped);
          expect(whole.errors.length).toBeLessThanOrEqual(1);
          expect({ packet: packet.cmd, at, bit, ...summary(bytewise(flipped)) }).toEqual({ packet: packet.cmd, at, bit, ...whole });
        }
      }
    }
  });

  test('valid packets followed by junk: the packets, then at most one error, whole or split anywhere', () => {
    const stream = Buffer.concat(valid.map((p) => encode(p)));
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.integer({ min: 1, max: 16 }), (junk, chunkSize) => {
        const bytes = Buffer.concat([stream, junk]);
        const whole = summary(bytes);
        expect(whole.packets.slice(0, valid.length).map((p) => p.cmd)).toEqual(valid.map((p) => p.cmd));
        expect(whole.errors.length).toBeLessThanOrEqual(1);
        const chunks: Buffer[] = [];
        for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
        expect(summary(chunks)).toEqual(whole);
      }),
      { seed: 20260802, numRuns: 500 },
    );
  });

  test('junk alone never throws and reports at most one error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (junk) => {
        const { errors } = decode(Buffer.from(junk), 4096);
        expect(errors.length).toBeLessThanOrEqual(1);
      }),
      { seed: 20260803, numRuns: 1000 },
    );
  });
});
