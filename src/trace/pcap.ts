/**
 * A trace as a pcapng capture, for Wireshark and tshark: each connection becomes a synthetic TCP stream
 * between a client address of its own (10.1.x.y, port 49152 and up) and the broker at 10.0.0.1:1883, the
 * port Wireshark's MQTT dissector listens on. The trace keeps decoded packets, not bytes, so each packet is
 * encoded again with the codec (mqtt-packet) in its connection's protocol version; MQTT over TLS or WebSocket
 * shows as plain MQTT over TCP. IPv4 and TCP checksums are valid and sequence/acknowledgement numbers follow
 * the bytes sent, so Wireshark reassembles packets split over segments without complaint.
 */
import { encode, type Packet } from '../codec/codec';
import type { TraceEntry } from './entry';
import { describeEntry, redactedPassword } from './format';

/** The broker's address and port in the capture (1883: where Wireshark looks for MQTT). */
const BROKER_IP = 0x0a000001; // 10.0.0.1
export const PCAP_BROKER_PORT = 1883;
/** TCP payload per segment: Ethernet's usual MSS. */
const MSS = 1460;
const LINKTYPE_ETHERNET = 1;
const BROKER_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x01]);
const CLIENT_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x02]);

const FIN = 0x01;
const SYN = 0x02;
const PSH = 0x08;
const ACK = 0x10;

/** The client side of a connection in the capture: 10.1.0.0 + connection id. */
export function pcapClientAddress(connectionId: number): { ip: string; port: number } {
  const ip = (0x0a010000 + connectionId) >>> 0;
  return { ip: [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.'), port: 49152 + (connectionId % 16384) };
}

/** One's-complement sum of 16-bit words (RFC 1071), not yet complemented. */
function sum16(buf: Buffer, start = 0, end = buf.length, initial = 0): number {
  let sum = initial;
  for (let i = start; i + 1 < end; i += 2) sum += buf.readUInt16BE(i);
  if ((end - start) % 2 === 1) sum += buf[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

interface Stream {
  clientIp: number;
  clientPort: number;
  /** Next sequence number each side sends. */
  clientSeq: number;
  brokerSeq: number;
  /** 4 or 5: how its packets are encoded (from its CONNECT). */
  version: 4 | 5;
  closed: boolean;
}

/** One Ethernet + IPv4 + TCP frame. */
function frame(from: 'client' | 'broker', s: Stream, flags: number, payload: Buffer, ipId: number): Buffer {
  const srcIp = from === 'client' ? s.clientIp : BROKER_IP;
  const dstIp = from === 'client' ? BROKER_IP : s.clientIp;
  const srcPort = from === 'client' ? s.clientPort : PCAP_BROKER_PORT;
  const dstPort = from === 'client' ? PCAP_BROKER_PORT : s.clientPort;
  const seq = from === 'client' ? s.clientSeq : s.brokerSeq;
  const ack = from === 'client' ? s.brokerSeq : s.clientSeq;
  const buf = Buffer.alloc(14 + 20 + 20 + payload.length);
  (from === 'client' ? BROKER_MAC : CLIENT_MAC).copy(buf, 0);
  (from === 'client' ? CLIENT_MAC : BROKER_MAC).copy(buf, 6);
  buf.writeUInt16BE(0x0800, 12);
  // IPv4 header (RFC 791): no options, Don't Fragment, TTL 64, protocol 6 (TCP).
  const ip = 14;
  buf[ip] = 0x45;
  buf.writeUInt16BE(20 + 20 + payload.length, ip + 2);
  buf.writeUInt16BE(ipId & 0xffff, ip + 4);
  buf.writeUInt16BE(0x4000, ip + 6);
  buf[ip + 8] = 64;
  buf[ip + 9] = 6;
  buf.writeUInt32BE(srcIp >>> 0, ip + 12);
  buf.writeUInt32BE(dstIp >>> 0, ip + 16);
  buf.writeUInt16BE(~sum16(buf, ip, ip + 20) & 0xffff, ip + 10);
  // TCP header (RFC 9293): no options, a 64 KiB window.
  const tcp = ip + 20;
  buf.writeUInt16BE(srcPort, tcp);
  buf.writeUInt16BE(dstPort, tcp + 2);
  buf.writeUInt32BE(seq >>> 0, tcp + 4);
  buf.writeUInt32BE(flags & ACK ? ack >>> 0 : 0, tcp + 8);
  buf[tcp + 12] = 5 << 4;
  buf[tcp + 13] = flags;
  buf.writeUInt16BE(0xffff, tcp + 14);
  payload.copy(buf, tcp + 20);
  // The checksum covers a pseudo-header of the addresses, protocol and TCP length, then the segment.
  const pseudo = Buffer.alloc(12);
  pseudo.writeUInt32BE(srcIp >>> 0, 0);
  pseudo.writeUInt32BE(dstIp >>> 0, 4);
  pseudo[9] = 6;
  pseudo.writeUInt16BE(20 + payload.length, 10);
  buf.writeUInt16BE(~sum16(buf, tcp, buf.length, sum16(pseudo)) & 0xffff, tcp + 16);
  return buf;
}

/** A pcapng block: type, total length, body (padded to 32 bits), total length again. */
function block(type: number, body: Buffer): Buffer {
  const padded = Buffer.alloc(Math.ceil(body.length / 4) * 4);
  body.copy(padded);
  const out = Buffer.alloc(12 + padded.length);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(out.length, 4);
  padded.copy(out, 8);
  out.writeUInt32LE(out.length, out.length - 4);
  return out;
}

/** pcapng options: code, length, value padded to 32 bits; then opt_endofopt. */
function options(list: [code: number, value: Buffer][]): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of list) {
    const head = Buffer.alloc(4);
    head.writeUInt16LE(code, 0);
    head.writeUInt16LE(value.length, 2);
    parts.push(head, value, Buffer.alloc((4 - (value.length % 4)) % 4));
  }
  if (parts.length) parts.push(Buffer.alloc(4));
  return Buffer.concat(parts);
}

function sectionHeader(): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(0x1a2b3c4d, 0); // byte-order magic
  fixed.writeUInt16LE(1, 4); // version 1.0
  fixed.writeUInt16LE(0, 6);
  fixed.writeBigInt64LE(-1n, 8); // section length not given
  return block(0x0a0d0d0a, Buffer.concat([fixed, options([[4, Buffer.from('fake-aws-iot')]])])); // shb_userappl
}

function interfaceDescription(): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16LE(LINKTYPE_ETHERNET, 0);
  fixed.writeUInt32LE(0, 4); // no snap length
  // if_name; timestamps in microseconds (the default if_tsresol).
  return block(0x00000001, Buffer.concat([fixed, options([[2, Buffer.from('fake-aws-iot trace')]])]));
}

function enhancedPacket(micros: number, data: Buffer, comment: string | undefined): Buffer {
  const fixed = Buffer.alloc(20);
  const ts = BigInt(Math.max(0, Math.round(micros)));
  fixed.writeUInt32LE(0, 0); // interface 0
  fixed.writeUInt32LE(Number(ts >> 32n), 4);
  fixed.writeUInt32LE(Number(ts & 0xffffffffn), 8);
  fixed.writeUInt32LE(data.length, 12);
  fixed.writeUInt32LE(data.length, 16);
  const padded = Buffer.alloc(Math.ceil(data.length / 4) * 4);
  data.copy(padded);
  return block(0x00000006, Buffer.concat([fixed, padded, comment ? options([[1, Buffer.from(comment)]]) : Buffer.alloc(0)])); // opt_comment
}

/** A CONNECT as written to the capture: the password replaced, as toJSON() does. */
function redacted(packet: Packet): Packet {
  if (packet.cmd !== 'connect' || packet.password === undefined || packet.password === null) return packet;
  return { ...packet, password: Buffer.from(redactedPassword(packet.password)) };
}

/**
 * The trace's packets as a pcapng capture (see the module comment). Each connection opens with a TCP
 * handshake where its first entry is and closes with FINs at its `disconnect` event; every frame carrying
 * the start of a packet has a comment with the trace's `seq` and, for chaos, the fault. Entries other than
 * packets add no frames; a packet that cannot be encoded is left out.
 */
export function traceToPcap(entries: readonly TraceEntry[]): Buffer {
  const out: Buffer[] = [sectionHeader(), interfaceDescription()];
  const streams = new Map<number, Stream>();
  let ipId = 0;
  let lastMicros = 0;
  const emit = (at: number, from: 'client' | 'broker', s: Stream, flags: number, payload: Buffer, comment?: string) => {
    // Microseconds, kept strictly increasing so entries of one millisecond keep their order.
    lastMicros = Math.max(at * 1000, lastMicros + 1);
    out.push(enhancedPacket(lastMicros, frame(from, s, flags, payload, ipId++), comment));
    const sent = payload.length + (flags & (SYN | FIN) ? 1 : 0);
    if (from === 'client') s.clientSeq = (s.clientSeq + sent) >>> 0;
    else s.brokerSeq = (s.brokerSeq + sent) >>> 0;
  };
  const open = (e: TraceEntry & { connectionId: number }): Stream => {
    let s = streams.get(e.connectionId);
    if (s) return s;
    const { port } = pcapClientAddress(e.connectionId);
    s = {
      clientIp: (0x0a010000 + e.connectionId) >>> 0,
      clientPort: port,
      // Initial sequence numbers: any will do; these differ per connection and side.
      clientSeq: (0x10000000 + e.connectionId * 0x10001) >>> 0,
      brokerSeq: (0x60000000 + e.connectionId * 0x10001) >>> 0,
      version: e.kind === 'event' && e.event === 'connect' ? e.protocolVersion : 4,
      closed: false,
    };
    streams.set(e.connectionId, s);
    emit(e.at, 'client', s, SYN, Buffer.alloc(0));
    emit(e.at, 'broker', s, SYN | ACK, Buffer.alloc(0));
    emit(e.at, 'client', s, ACK, Buffer.alloc(0));
    return s;
  };

  for (const e of entries) {
    if (e.connectionId === undefined) continue;
    if (e.kind === 'packet') {
      const s = open(e);
      if (e.direction === 'in' && e.packet.cmd === 'connect') s.version = e.packet.protocolVersion === 5 ? 5 : 4;
      let bytes: Buffer;
      try {
        bytes = encode(redacted(e.packet), s.version);
      } catch {
        continue; // a packet mqtt-packet cannot write (a hand-edited trace file): nothing to show
      }
      const from = e.direction === 'in' ? 'client' : 'broker';
      const comment = `trace #${e.seq} ${e.direction}: ${describeEntry(e)}`;
      for (let offset = 0; offset < bytes.length; offset += MSS) {
        emit(e.at, from, s, PSH | ACK, bytes.subarray(offset, offset + MSS), offset + MSS >= bytes.length ? comment : undefined);
      }
    } else if (e.event === 'disconnect' || e.event === 'connect') {
      const s = open(e);
      if (e.event === 'connect') s.version = e.protocolVersion;
      if (e.event !== 'disconnect' || s.closed) continue;
      s.closed = true;
      // Who sent the first FIN: the client when it disconnected, the broker otherwise.
      const first = e.reason === 'CLIENT_INITIATED_DISCONNECT' || e.reason === 'CONNECTION_LOST' ? 'client' : 'broker';
      const second = first === 'client' ? 'broker' : 'client';
      const comment = `trace #${e.seq}: ${describeEntry(e)}`;
      emit(e.at, first, s, FIN | ACK, Buffer.alloc(0), comment);
      emit(e.at, second, s, FIN | ACK, Buffer.alloc(0));
      emit(e.at, first, s, ACK, Buffer.alloc(0));
    }
  }
  return Buffer.concat(out);
}
