/**
 * Fast paths of the encoder for the packets every message costs: PUBLISH (MQTT 3.1.1, and MQTT 5 without
 * properties) and PUBACK. They write the bytes mqtt-packet's generate() writes for the same packet — the
 * codec tests compare the two on a table of packets and on generated ones — without its intermediate
 * stream, the per-field buffers and the final concatenation. Anything else (properties, other packets,
 * odd field types) returns undefined and goes to mqtt-packet.
 */
import type { Packet, PublishPacket } from './packets';

/** The largest remaining length a four-byte Variable Byte Integer can say (MQTT §1.5.5). */
const MAX_REMAINING_LENGTH = 268_435_455;

/** Topics up to this many ASCII characters are copied in a loop rather than by Buffer#write. */
const SHORT_TOPIC = 64;

function varIntBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

function writeVarInt(buf: Buffer, pos: number, n: number): number {
  do {
    let byte = n % 128;
    n = (n - byte) / 128;
    if (n > 0) byte |= 0x80;
    buf[pos++] = byte;
  } while (n > 0);
  return pos;
}

function isPacketId(id: unknown): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 0xffff;
}

/**
 * An encoded PUBLISH and where its packet id sits (-1 at QoS 0): the same message to several subscribers
 * differs only there, so one encoding serves them all (see PublishTemplate).
 */
export interface EncodedPublish {
  bytes: Buffer;
  idOffset: number;
}

/** The bytes of a PUBLISH with this id: the template itself at QoS 0, a copy with the id written in otherwise. */
export function withPacketId(encoded: EncodedPublish, messageId: number | undefined): Buffer {
  if (encoded.idOffset < 0) return encoded.bytes;
  const copy = Buffer.allocUnsafe(encoded.bytes.length);
  encoded.bytes.copy(copy);
  copy.writeUInt16BE(messageId!, encoded.idOffset);
  return copy;
}

/** Encodes a PUBLISH the fast path covers; undefined for one it does not (mqtt-packet writes that one). */
export function encodePublish(packet: PublishPacket, protocolVersion: 4 | 5): EncodedPublish | undefined {
  const { topic, payload } = packet;
  if (typeof topic !== 'string' || !Buffer.isBuffer(payload)) return undefined;
  if (protocolVersion === 5 && packet.properties !== undefined) return undefined;
  const qos = packet.qos || 0;
  if (qos !== 0 && qos !== 1 && qos !== 2) return undefined;
  if (qos > 0 && !isPacketId(packet.messageId)) return undefined;
  const topicBytes = Buffer.byteLength(topic);
  // Topic (length + bytes), packet id at QoS 1 and 2, MQTT 5's empty property length, payload.
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + (protocolVersion === 5 ? 1 : 0) + payload.length;
  if (remaining > MAX_REMAINING_LENGTH) return undefined;
  const bytes = Buffer.allocUnsafe(1 + varIntBytes(remaining) + remaining);
  bytes[0] = 0x30 | (qos << 1) | (packet.dup ? 0x08 : 0) | (packet.retain ? 0x01 : 0);
  let pos = writeVarInt(bytes, 1, remaining);
  bytes[pos++] = topicBytes >> 8;
  bytes[pos++] = topicBytes & 0xff;
  if (topicBytes === topic.length && topicBytes <= SHORT_TOPIC) {
    // ASCII (as many bytes as characters): byte by byte, cheaper than a call into the string encoder.
    for (let i = 0; i < topicBytes; i++) bytes[pos + i] = topic.charCodeAt(i);
    pos += topicBytes;
  } else pos += bytes.write(topic, pos, 'utf8');
  let idOffset = -1;
  if (qos > 0) {
    idOffset = pos;
    bytes[pos++] = packet.messageId! >> 8;
    bytes[pos++] = packet.messageId! & 0xff;
  }
  if (protocolVersion === 5) bytes[pos++] = 0;
  payload.copy(bytes, pos);
  return { bytes, idOffset };
}

/** Encodes a PUBACK (MQTT 5: without properties); undefined for one the fast path does not cover. */
export function encodePuback(packet: Packet & { cmd: 'puback' }, protocolVersion: 4 | 5): Buffer | undefined {
  const id = packet.messageId;
  if (!isPacketId(id)) return undefined;
  if (protocolVersion === 4) return Buffer.from([0x40, 2, id >> 8, id & 0xff]);
  if (packet.properties !== undefined) return undefined;
  const reasonCode = packet.reasonCode;
  // MQTT 5 [MQTT-3.4.2-1]: reason code 0 without properties may be left out (mqtt-packet does); another is
  // written with an empty property length after it.
  if (reasonCode === 0) return Buffer.from([0x40, 2, id >> 8, id & 0xff]);
  if (typeof reasonCode !== 'number' || !Number.isInteger(reasonCode) || reasonCode < 0 || reasonCode > 0xff) return undefined;
  return Buffer.from([0x40, 4, id >> 8, id & 0xff, reasonCode, 0]);
}
