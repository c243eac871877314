/** Helpers shared by the codec's table tests. */
import { type DecodeError, type Packet, createDecoder } from '../../src/codec/codec';

/** Feeds the chunks to a fresh decoder; returns what it reported. */
export function decode(chunks: Buffer | Buffer[], maxPacketBytes = 1 << 20): { packets: Packet[]; errors: DecodeError[] } {
  const packets: Packet[] = [];
  const errors: DecodeError[] = [];
  const decoder = createDecoder({ maxPacketBytes, onPacket: (p) => packets.push(p), onError: (e) => errors.push(e) });
  for (const chunk of Array.isArray(chunks) ? chunks : [chunks]) decoder.push(chunk);
  return { packets, errors };
}

/** The bytes, one chunk each. */
export const bytewise = (bytes: Buffer): Buffer[] => [...bytes].map((b) => Buffer.from([b]));
/** An MQTT UTF-8 string: two length bytes, then the text. */
export const str = (s: string): number[] => [0, Buffer.byteLength(s), ...Buffer.from(s)];
