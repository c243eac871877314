/**
 * The codec: the only importer of mqtt-packet. Turns a connection's bytes into MQTT 3.1.1 packets (our
 * own types, see ./packets) and packets into bytes, and reports bad input as a typed DecodeError.
 */
import * as mqttPacket from 'mqtt-packet';
import { recogniseFirstBytes } from './first-bytes';
import type { Packet } from './packets';

export * from './packets';

export type DecodeErrorKind =
  /** A CONNECT whose protocol level is not 4 (MQTT 3.1.1): answer CONNACK 0x01 [MQTT-3.1.2-2]. */
  | 'unsupported-protocol'
  /** Bytes that are not a well-formed MQTT 3.1.1 packet. */
  | 'malformed'
  /** A packet whose remaining length exceeds `maxPacketBytes`; see `announcedBytes`. */
  | 'too-large'
  /** The connection's first bytes are a TLS handshake. */
  | 'tls-on-plain-port'
  /** The connection's first bytes are an HTTP request line. */
  | 'http-on-plain-port';

/** Bad input on a connection. The message is one line, fit for a trace entry. */
export class DecodeError extends Error {
  readonly kind: DecodeErrorKind;
  /** 'too-large': the remaining length the packet announced. */
  readonly announcedBytes?: number;
  /** 'unsupported-protocol': the protocol level byte of the CONNECT (MQTT 3.1 is 3, MQTT 5 is 5). */
  readonly protocolLevel?: number;

  constructor(kind: DecodeErrorKind, message: string, details: { announcedBytes?: number; protocolLevel?: number; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DecodeError';
    this.kind = kind;
    if (details.announcedBytes !== undefined) this.announcedBytes = details.announcedBytes;
    if (details.protocolLevel !== undefined) this.protocolLevel = details.protocolLevel;
  }
}

export interface DecoderOptions {
  /** Largest remaining length accepted; a packet announcing more is refused as soon as its header is read,
   *  before its body is buffered. */
  maxPacketBytes: number;
  onPacket(packet: Packet): void;
  /** Called at most once; after an error the decoder ignores further input. */
  onError(error: DecodeError): void;
}

export interface Decoder {
  /**
   * Feeds the connection's next bytes; packets and errors are reported synchronously through the
   * callbacks. If a callback throws, the exception propagates out of push() and the decoder stops.
   */
  push(chunk: Buffer): void;
}

/**
 * What this module reads of mqtt-packet's parser beyond its public API (pinned by
 * __tests__/unit/codec-errors.test.ts):
 * - `packet`, the packet being read. Its `length` is -1 until the fixed header is complete, then the
 *   announced remaining length; a CONNECT's `protocolVersion` (and `bridgeMode`, the level byte's top bit)
 *   is set as soon as its level byte is read.
 * - `_pos`, while a packet is emitted: how far into the buffered bytes its fields were read.
 */
interface ParserInternals {
  packet: { cmd: string | null; length: number; protocolVersion?: number; bridgeMode?: boolean };
  _pos: number;
}

/** mqtt-packet's view of a packet, as it emits and accepts them. */
type RawPacket = mqttPacket.Packet & { bridgeMode?: boolean };

const MQTT_3_1_1 = 4;
const LEVEL_NAMES: Record<number, string> = { 3: 'MQTT 3.1', 5: 'MQTT 5' };

function unsupportedProtocol(protocolVersion: number, bridgeMode: boolean | undefined): DecodeError {
  // mqtt-packet splits the level byte: the top bit (mosquitto's "bridge" flag) and the rest.
  const level = protocolVersion + (bridgeMode ? 0x80 : 0);
  const name = bridgeMode ? 'bridge mode' : LEVEL_NAMES[level];
  return new DecodeError('unsupported-protocol', `protocol level ${level}${name ? ` (${name})` : ''} is not MQTT 3.1.1 (level 4)`, { protocolLevel: level });
}

function malformed(reason: string, cause?: unknown): DecodeError {
  return new DecodeError('malformed', `malformed packet: ${reason}`, { cause });
}

function tooLarge(announced: number, max: number): DecodeError {
  return new DecodeError('too-large', `a packet announces ${announced} bytes, more than the ${max} accepted`, { announcedBytes: announced });
}

/**
 * Decision on other protocol levels: every CONNECT whose level byte is not 4 is refused here as
 * 'unsupported-protocol', whether mqtt-packet rejects the level itself (0-2, 6+) or parses the packet
 * (3 = MQTT 3.1, 5 = MQTT 5, 0x83/0x84 = bridge mode). The codec speaks 3.1.1 only (encode() writes 3.1.1;
 * after a v5 CONNECT mqtt-packet would read the rest of the stream as v5), so nothing above it has to
 * check the level. Supporting MQTT 5 later means handing level 5 through here.
 */
function checkConnect(packet: { protocolVersion?: number; bridgeMode?: boolean }): DecodeError | undefined {
  if (packet.protocolVersion !== MQTT_3_1_1 || packet.bridgeMode) return unsupportedProtocol(packet.protocolVersion ?? 0, packet.bridgeMode);
  return undefined;
}

/** Problems in a packet mqtt-packet emitted (`readTo`: where its fields ended); undefined for a good one. */
function check(packet: RawPacket, readTo: number, maxPacketBytes: number): DecodeError | undefined {
  const length = packet.length!;
  if (length > maxPacketBytes) return tooLarge(length, maxPacketBytes);
  // mqtt-packet does not stop at the end of a packet that is too short for its fields: a missing packet id
  // reads as -1 when no bytes follow, and from the next packet's bytes when some do.
  if (packet.messageId === -1 || readTo > length) return malformed(`${packet.cmd.toUpperCase()} is shorter than its fields`);
  switch (packet.cmd) {
    case 'publish':
      return undefined;
    case 'connect':
      return checkConnect(packet);
    // Remaining lengths MQTT 3.1.1 fixes; mqtt-packet accepts others for these and reads what it can.
    case 'connack':
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'unsuback':
      return length === 2 ? undefined : wrongLength(packet.cmd, length, 2);
    case 'pingreq':
    case 'pingresp':
    case 'disconnect':
      return length === 0 ? undefined : wrongLength(packet.cmd, length, 0);
    default:
      return undefined;
  }
}

function wrongLength(cmd: string, length: number, fixed: number): DecodeError {
  return malformed(`${cmd.toUpperCase()} has remaining length ${length}; MQTT 3.1.1 fixes it at ${fixed}`);
}

/** Classifies an error mqtt-packet emitted while reading `inProgress`. */
function classify(error: Error, inProgress: ParserInternals['packet']): DecodeError {
  // The level byte comes before anything else mqtt-packet can fail on in a CONNECT but its name, so an
  // unsupported level wins over a later problem in the packet (a v5 CONNECT with properties, say).
  if (inProgress.cmd === 'connect' && inProgress.protocolVersion !== undefined) {
    const problem = checkConnect(inProgress);
    if (problem) return problem;
  }
  return malformed(error.message, error);
}

/** The (shared, empty) first bytes of a connection before any arrived. */
const NOTHING_YET = Buffer.alloc(0);

export function createDecoder(options: DecoderOptions): Decoder {
  const { maxPacketBytes, onPacket, onError } = options;
  // Protocol level 4 (MQTT 3.1.1): packets are read without MQTT 5 properties.
  const parser = mqttPacket.parser({ protocolVersion: MQTT_3_1_1 });
  const internals = parser as unknown as ParserInternals;
  let failed = false;
  /** The connection's first bytes while they may still be TLS or HTTP; undefined once they are known not to be. */
  let head: Buffer | undefined = NOTHING_YET;

  const fail = (error: DecodeError): void => {
    if (failed) return;
    failed = true;
    onError(error);
  };

  parser.on('packet', (packet: RawPacket) => {
    if (failed) return; // the rest of a chunk after an error
    const problem = check(packet, internals._pos, maxPacketBytes);
    if (problem) return fail(problem);
    onPacket(packet as Packet);
  });
  parser.on('error', (error: Error) => fail(classify(error, internals.packet)));

  return {
    push(chunk) {
      if (failed) return;
      if (head !== undefined) {
        const bytes = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        const foreign = recogniseFirstBytes(bytes);
        if (foreign === 'undecided') {
          head = bytes;
          return;
        }
        head = undefined;
        if (foreign) return fail(new DecodeError(foreign.kind, foreign.message));
        chunk = bytes;
      }
      try {
        parser.parse(chunk);
      } catch (error) {
        failed = true; // a callback threw: mqtt-packet's state is no longer trustworthy
        throw error;
      }
      // The packet being read announces more than is accepted: refuse it now rather than buffer its body.
      const announced = internals.packet.length;
      if (announced > maxPacketBytes) fail(tooLarge(announced, maxPacketBytes));
    },
  };
}

/** Serialises one packet as MQTT 3.1.1. Throws on a packet that cannot be written (a bug in the caller). */
export function encode(packet: Packet): Buffer {
  return mqttPacket.generate(packet as mqttPacket.Packet, { protocolVersion: MQTT_3_1_1 });
}
