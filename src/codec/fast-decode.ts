/**
 * Fast path of the decoder for the packets every message costs: a complete, well-formed PUBLISH (MQTT 3.1.1,
 * and MQTT 5 without properties) or PUBACK (MQTT 5: without a reason code) at a packet boundary, and the
 * bodiless PINGREQ, and the plain MQTT 3.1.1 CONNECT, SUBSCRIBE and DISCONNECT every test's connection sends. It builds
 * the same packet object mqtt-packet's parser builds for those bytes — its Packet class, the same fields in
 * the same order, the payload a view of the bytes read — without the parser's buffer list and per-field
 * steps. Anything else, and anything the least unusual (flags, lengths, fields that do not fit, properties),
 * is left to mqtt-packet, which reads it and reports its errors. The codec tests decode the same byte
 * streams both ways and compare.
 */

/** mqtt-packet's packet class (not in its typings): decoded packets are instances of it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const MqttPacket = require('mqtt-packet/packet') as new () => Record<string, unknown>;

const NO_BYTES = Buffer.alloc(0);
const PUBLISH = 3;
const PUBACK = 4;
/** The first bytes of the packets without a body the fast path reads: PINGREQ, and (MQTT 3.1.1) DISCONNECT. */
const PINGREQ_BYTE = 0xc0;
const CONNECT_BYTE = 0x10;
/** An MQTT 3.1.1 SUBSCRIBE's first byte (its flags are fixed at 0b0010). */
const SUBSCRIBE_BYTE = 0x82;
const DISCONNECT_BYTE = 0xe0;

/** What a fast-path read found at a position, when not a packet. */
export const Scan = {
  /** Not a packet the fast path reads: hand the bytes from here to mqtt-packet. */
  Parser: -1,
  /** The start of a packet the fast path would read, not all there yet. */
  Incomplete: -2,
} as const;
export type Scan = (typeof Scan)[keyof typeof Scan];

/**
 * One connection's fast reader. `read` returns the packet at `pos` of `chunk` and sets `end` to the
 * position after it, or a `Scan` value.
 */
export class FastReader {
  /** Where the last packet read ends. */
  end = 0;
  /** The last topic read, and its bytes: a device publishes to the same topic over and over, one string serves. */
  private lastTopic = '';
  private lastTopicBytes: Buffer = NO_BYTES;

  read(chunk: Buffer, pos: number, protocolVersion: 4 | 5, maxPacketBytes: number): Record<string, unknown> | Scan {
    const first = chunk[pos]!;
    const type = first >> 4;
    if (type !== PUBLISH && type !== PUBACK && first !== CONNECT_BYTE && !(first === SUBSCRIBE_BYTE && protocolVersion === 4)) {
      return first === PINGREQ_BYTE || (first === DISCONNECT_BYTE && protocolVersion === 4) ? this.bodiless(chunk, pos, first) : Scan.Parser;
    }
    // mqtt-packet refuses a bad first byte as soon as it reads it (PUBACK's flags are 0; PUBLISH's QoS is not 3),
    // before the rest of the packet arrives: such a byte is its to read.
    if (type === PUBACK ? first !== 0x40 : (first & 0x06) === 0x06) return Scan.Parser;
    // The remaining length: at most four bytes, the last without the continuation bit (a longer one is mqtt-packet's error to report).
    let length = 0;
    let multiplier = 1;
    let i = pos + 1;
    for (let n = 0; ; n++) {
      if (n === 4) return Scan.Parser;
      if (i >= chunk.length) return Scan.Incomplete;
      const byte = chunk[i++]!;
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if ((byte & 0x80) === 0) break;
    }
    if (length > maxPacketBytes) return Scan.Parser; // the decoder refuses it (too-large)
    const end = i + length;
    if (end > chunk.length) return Scan.Incomplete;
    const packet = type === PUBLISH
      ? this.publish(chunk, first, i, length, protocolVersion)
      : type === PUBACK ? puback(chunk, i, length, protocolVersion) : first === CONNECT_BYTE ? connect(chunk, i, length) : subscribe(chunk, i, length);
    if (packet === undefined) return Scan.Parser;
    this.end = end;
    return packet;
  }

  /** A PINGREQ, or an MQTT 3.1.1 DISCONNECT: the first byte and a remaining length of 0 (any other is mqtt-packet's to read). */
  private bodiless(chunk: Buffer, pos: number, first: number): Record<string, unknown> | Scan {
    if (pos + 1 >= chunk.length) return Scan.Incomplete;
    if (chunk[pos + 1] !== 0) return Scan.Parser;
    this.end = pos + 2;
    return fixedHeader(first === PINGREQ_BYTE ? 'pingreq' : 'disconnect', 0, 0);
  }

  private publish(chunk: Buffer, first: number, start: number, length: number, protocolVersion: 4 | 5): Record<string, unknown> | undefined {
    const qos = (first >> 1) & 0x03;
    const end = start + length;
    // Topic: two length bytes and the name, within the packet; then the packet id at QoS 1 and 2.
    if (start + 2 > end) return undefined;
    const topicLength = (chunk[start]! << 8) | chunk[start + 1]!;
    let pos = start + 2 + topicLength;
    if (pos > end) return undefined;
    const topic = this.topic(chunk, start + 2, pos);
    let messageId = -1;
    if (qos > 0) {
      if (pos + 2 > end) return undefined;
      messageId = (chunk[pos]! << 8) | chunk[pos + 1]!;
      pos += 2;
    }
    if (protocolVersion === 5) {
      // MQTT 5: a property length of 0 (no properties); mqtt-packet reads any others.
      if (pos >= end || chunk[pos] !== 0) return undefined;
      pos += 1;
    }
    const packet = new MqttPacket();
    packet.cmd = 'publish';
    packet.retain = (first & 0x01) !== 0;
    packet.qos = qos;
    packet.dup = (first & 0x08) !== 0;
    packet.length = length;
    packet.topic = topic;
    if (qos > 0) packet.messageId = messageId;
    packet.payload = chunk.subarray(pos, end);
    return packet;
  }

  private topic(chunk: Buffer, start: number, end: number): string {
    const last = this.lastTopicBytes;
    const n = end - start;
    if (n === last.length) {
      let same = true;
      for (let k = 0; k < n; k++) {
        if (chunk[start + k] !== last[k]) {
          same = false;
          break;
        }
      }
      if (same) return this.lastTopic;
    }
    const topic = chunk.toString('utf8', start, end);
    if (n <= MAX_REMEMBERED_TOPIC_BYTES) {
      this.lastTopic = topic;
      this.lastTopicBytes = Buffer.from(chunk.subarray(start, end)); // a copy: the chunk is not kept for it
    }
    return topic;
  }
}

/** mqtt-packet's Packet for a packet whose first byte fixes its flags (no RETAIN, no DUP; `qos` what its flag bits read as). */
function fixedHeader(cmd: string, qos: number, length: number): Record<string, unknown> {
  const packet = new MqttPacket();
  packet.cmd = cmd;
  packet.retain = false;
  packet.qos = qos;
  packet.dup = false;
  packet.length = length;
  return packet;
}

/** Topics up to this many bytes are remembered for the next PUBLISH (AWS allows 256). */
const MAX_REMEMBERED_TOPIC_BYTES = 256;

/** A PUBACK with its two-byte packet id and nothing else (MQTT 5: reason code 0 left out, as senders do). */
function puback(chunk: Buffer, start: number, length: number, protocolVersion: 4 | 5): Record<string, unknown> | undefined {
  if (length !== 2) return undefined; // mqtt-packet reads (or refuses) other lengths
  const packet = fixedHeader('puback', 0, 2);
  packet.messageId = (chunk[start]! << 8) | chunk[start + 1]!;
  if (protocolVersion === 5) packet.reasonCode = 0;
  return packet;
}

/**
 * An MQTT 3.1.1 SUBSCRIBE: its packet id, then one or more filters, each with an options byte that asks for
 * QoS 0, 1 or 2 and nothing else. Anything short, left over or unusual is mqtt-packet's to read (or refuse).
 */
function subscribe(chunk: Buffer, start: number, length: number): Record<string, unknown> | undefined {
  const end = start + length;
  if (length < 2 + 3) return undefined; // the packet id and at least one filter (its length bytes and options)
  const messageId = (chunk[start]! << 8) | chunk[start + 1]!;
  const subscriptions: { topic: string; qos: number }[] = [];
  let pos = start + 2;
  while (pos < end) {
    if (pos + 2 > end) return undefined;
    const topicEnd = pos + 2 + ((chunk[pos]! << 8) | chunk[pos + 1]!);
    if (topicEnd >= end) return undefined; // no room for the options byte
    const options = chunk[topicEnd]!;
    if (options > 2) return undefined; // reserved bits, or QoS 3
    subscriptions.push({ topic: chunk.toString('utf8', pos + 2, topicEnd), qos: options });
    pos = topicEnd + 1;
  }
  const packet = fixedHeader('subscribe', 1, length);
  packet.subscriptions = subscriptions;
  packet.messageId = messageId;
  return packet;
}

/** The start of an MQTT 3.1.1 CONNECT's variable header: the protocol name "MQTT" and level 4. */
const MQTT_3_1_1_HEADER = [0, 4, 0x4d, 0x51, 0x54, 0x54, 4];

/**
 * The plainest MQTT 3.1.1 CONNECT, the one test clients send: protocol "MQTT" level 4, no will, user name or
 * password (the flags ask for a clean session or not, nothing else), its keep-alive, and a client id ending
 * where the packet ends. Any other CONNECT is mqtt-packet's to read.
 */
function connect(chunk: Buffer, start: number, length: number): Record<string, unknown> | undefined {
  const end = start + length;
  if (length < 12) return undefined; // the header's 10 bytes and the client id's length
  for (let k = 0; k < 7; k++) if (chunk[start + k] !== MQTT_3_1_1_HEADER[k]) return undefined;
  const flags = chunk[start + 7]!;
  if (flags !== 0 && flags !== 0x02) return undefined;
  const idStart = start + 12;
  if (idStart + ((chunk[start + 10]! << 8) | chunk[start + 11]!) !== end) return undefined;
  const packet = fixedHeader('connect', 0, length);
  packet.protocolId = 'MQTT';
  packet.protocolVersion = 4;
  packet.clean = flags === 0x02;
  packet.keepalive = (chunk[start + 8]! << 8) | chunk[start + 9]!;
  packet.clientId = chunk.toString('utf8', idStart, end);
  return packet;
}
