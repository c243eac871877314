/**
 * Fast paths of the encoder for the packets every message costs: PUBLISH (MQTT 3.1.1, and MQTT 5 without
 * properties) and PUBACK; and for MQTT 3.1.1's CONNACK, SUBACK, UNSUBACK and PINGRESP, which every test's
 * connection costs. They write the bytes mqtt-packet's generate() writes for the same packet — the
 * codec tests compare the two on a table of packets and on generated ones — without its intermediate
 * stream, the per-field buffers and the final concatenation. Anything else (properties, other packets,
 * odd field types) returns undefined and goes to mqtt-packet.
 */
import type { Packet, PubackPacket, PublishPacket } from './packets';

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

/** Bytes of a PUBLISH as the fast path writes it; -1 for one it does not cover (mqtt-packet writes that one). */
export function publishSize(packet: PublishPacket, protocolVersion: 4 | 5): number {
  const { topic, payload } = packet;
  if (typeof topic !== 'string' || !Buffer.isBuffer(payload)) return -1;
  if (protocolVersion === 5 && packet.properties !== undefined) return -1;
  const qos = packet.qos || 0;
  if (qos !== 0 && qos !== 1 && qos !== 2) return -1;
  if (qos > 0 && !isPacketId(packet.messageId)) return -1;
  // Topic (length + bytes), packet id at QoS 1 and 2, MQTT 5's empty property length, payload.
  const remaining = 2 + byteLength(topic) + (qos > 0 ? 2 : 0) + (protocolVersion === 5 ? 1 : 0) + payload.length;
  if (remaining > MAX_REMAINING_LENGTH) return -1;
  return 1 + varIntBytes(remaining) + remaining;
}

/** Writes a PUBLISH that publishSize() covers into `buf` at `pos`; returns the position after it. */
export function writePublish(packet: PublishPacket, protocolVersion: 4 | 5, buf: Buffer, pos: number): number {
  const { topic } = packet;
  const payload = packet.payload as Buffer;
  const qos = packet.qos || 0;
  const topicBytes = byteLength(topic);
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + (protocolVersion === 5 ? 1 : 0) + payload.length;
  buf[pos++] = 0x30 | (qos << 1) | (packet.dup ? 0x08 : 0) | (packet.retain ? 0x01 : 0);
  pos = writeVarInt(buf, pos, remaining);
  buf[pos++] = topicBytes >> 8;
  buf[pos++] = topicBytes & 0xff;
  if (topicBytes === topic.length && topicBytes <= SHORT_TOPIC) {
    // ASCII (as many bytes as characters): byte by byte, cheaper than a call into the string encoder.
    for (let i = 0; i < topicBytes; i++) buf[pos + i] = topic.charCodeAt(i);
    pos += topicBytes;
  } else pos += buf.write(topic, pos, 'utf8');
  if (qos > 0) {
    buf[pos++] = packet.messageId! >> 8;
    buf[pos++] = packet.messageId! & 0xff;
  }
  if (protocolVersion === 5) buf[pos++] = 0;
  return pos + payload.copy(buf, pos);
}

/** UTF-8 bytes of a topic; ASCII ones (nearly all) counted without a call into the string encoder. */
function byteLength(topic: string): number {
  const n = topic.length;
  if (n <= SHORT_TOPIC) {
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (topic.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return n;
  }
  return Buffer.byteLength(topic);
}

/** Bytes of a PUBACK as the fast path writes it (MQTT 5: without properties); -1 for one it does not cover. */
export function pubackSize(packet: PubackPacket, protocolVersion: 4 | 5): number {
  if (!isPacketId(packet.messageId)) return -1;
  if (protocolVersion === 4) return 4;
  if (packet.properties !== undefined) return -1;
  const reasonCode = packet.reasonCode;
  // MQTT 5 [MQTT-3.4.2-1]: reason code 0 without properties may be left out (mqtt-packet does); another is
  // written with an empty property length after it.
  if (reasonCode === 0) return 4;
  if (typeof reasonCode !== 'number' || !Number.isInteger(reasonCode) || reasonCode < 0 || reasonCode > 0xff) return -1;
  return 6;
}

/** Writes a PUBACK that pubackSize() covers, `size` bytes, into `buf` at `pos`; returns the position after it. */
export function writePuback(packet: PubackPacket, size: number, buf: Buffer, pos: number): number {
  const id = packet.messageId!;
  buf[pos] = 0x40;
  buf[pos + 1] = size - 2;
  buf[pos + 2] = id >> 8;
  buf[pos + 3] = id & 0xff;
  if (size === 6) {
    buf[pos + 4] = packet.reasonCode!;
    buf[pos + 5] = 0;
  }
  return pos + size;
}

/** An acknowledgement's codes (SUBACK's granted QoS): whole numbers 0-255 that mqtt-packet writes as bytes. */
function isByteList(codes: unknown): codes is number[] {
  if (!Array.isArray(codes) || codes.length === 0) return false;
  for (const c of codes) if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > 0xff) return false;
  return true;
}

function isByte(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xff;
}

/**
 * Bytes of the MQTT 3.1.1 packets a connection's life costs besides messages (CONNACK, SUBACK, UNSUBACK,
 * PINGRESP), as the fast path writes them; -1 for others (MQTT 5 ones carry properties: mqtt-packet).
 */
function controlSize(packet: Packet, protocolVersion: 4 | 5): number {
  switch (packet.cmd) {
    case 'pingresp':
      return 2;
    case 'connack':
      return protocolVersion === 4 && isByte(packet.returnCode) ? 4 : -1;
    case 'suback':
      return protocolVersion === 4 && isPacketId(packet.messageId) && isByteList(packet.granted) ? 1 + varIntBytes(2 + packet.granted.length) + 2 + packet.granted.length : -1;
    case 'unsuback':
      return protocolVersion === 4 && isPacketId(packet.messageId) && !(packet as { dup?: boolean }).dup ? 4 : -1;
    default:
      return -1;
  }
}

function writeControl(packet: Packet, buf: Buffer, pos: number): number {
  switch (packet.cmd) {
    case 'pingresp':
      buf[pos] = 0xd0;
      buf[pos + 1] = 0;
      return pos + 2;
    case 'connack':
      buf[pos] = 0x20;
      buf[pos + 1] = 2;
      buf[pos + 2] = packet.sessionPresent ? 1 : 0;
      buf[pos + 3] = packet.returnCode!;
      return pos + 4;
    case 'suback': {
      const granted = packet.granted;
      buf[pos] = 0x90;
      pos = writeVarInt(buf, pos + 1, 2 + granted.length);
      buf[pos++] = packet.messageId! >> 8;
      buf[pos++] = packet.messageId! & 0xff;
      for (const code of granted) buf[pos++] = code;
      return pos;
    }
    default: // unsuback
      buf[pos] = 0xb0;
      buf[pos + 1] = 2;
      buf[pos + 2] = (packet as { messageId: number }).messageId >> 8;
      buf[pos + 3] = (packet as { messageId: number }).messageId & 0xff;
      return pos + 4;
  }
}

/** Bytes of a packet the fast paths cover, -1 for others. */
export function fastSize(packet: Packet, protocolVersion: 4 | 5): number {
  if (packet.cmd === 'publish') return publishSize(packet, protocolVersion);
  if (packet.cmd === 'puback') return pubackSize(packet, protocolVersion);
  return controlSize(packet, protocolVersion);
}

/** Writes a packet fastSize() covers (`size` its answer) into `buf` at `pos`; returns the position after it. */
export function writeFast(packet: Packet, protocolVersion: 4 | 5, size: number, buf: Buffer, pos: number): number {
  if (packet.cmd === 'publish') return writePublish(packet, protocolVersion, buf, pos);
  if (packet.cmd === 'puback') return writePuback(packet, size, buf, pos);
  return writeControl(packet, buf, pos);
}
