/**
 * The codec: the only importer of mqtt-packet. Turns a connection's bytes into MQTT 3.1.1 or MQTT 5 packets
 * (our own types, see ./packets) and packets into bytes, and reports bad input as a typed DecodeError.
 */
import type * as MqttPacket from 'mqtt-packet';
import { fastSize, writeFast } from './fast-encode';
import { FastReader, Scan } from './fast-decode';
import { recogniseFirstBytes } from './first-bytes';
import type { Packet } from './packets';

export * from './packets';

/**
 * mqtt-packet (with bl and readable-stream, ~15 ms) is loaded when a packet first needs it: a plain MQTT
 * 3.1.1 connection's packets all take the fast paths, so most test files never load it (Jest loads a
 * test file's modules anew for each file).
 */
let mqttPacketModule: typeof MqttPacket | undefined;
function mqttPacket(): typeof MqttPacket {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (mqttPacketModule ??= require('mqtt-packet') as typeof MqttPacket);
}

export type DecodeErrorKind =
  /** A CONNECT whose protocol level the profile does not speak (not 4, nor 5 where allowed): answer CONNACK 0x01 [MQTT-3.1.2-2]. */
  | 'unsupported-protocol'
  /** Bytes that are not a well-formed packet of the connection's protocol version. */
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

export interface DecoderSettings {
  /** Largest remaining length accepted; a packet announcing more is refused as soon as its header is read,
   *  before its body is buffered. */
  maxPacketBytes: number;
  /** Protocol levels a CONNECT may ask for: 4 (MQTT 3.1.1), and 5 (MQTT 5) where the profile speaks it. Default [4]. */
  protocolVersions?: readonly number[];
  /**
   * Whether complete PUBLISH and PUBACK packets (and plain MQTT 3.1.1 CONNECT, SUBSCRIBE, DISCONNECT, and
   * PINGREQ) are read by the fast path (./fast-decode) rather than by mqtt-packet. Default true; the codec tests turn it off to compare the two.
   */
  fastPath?: boolean;
}

/** Where a decoder reports (called as methods). */
export interface DecoderSink {
  onPacket(packet: Packet): void;
  /** Called at most once; after an error the decoder ignores further input. */
  onError(error: DecodeError): void;
}

export type DecoderOptions = DecoderSettings & DecoderSink;

export interface Decoder {
  /** 4 until a CONNECT asked for MQTT 5 (and was let through); 5 from then on. */
  readonly protocolVersion: 4 | 5;
  /**
   * MQTT 5: the largest whole packet (fixed header included) accepted from here on, the Maximum Packet Size
   * the server announced in CONNACK.
   */
  limitPacketBytes(max: number): void;
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
 * - `_list.length` and `_stateCounter`: the parser holds no bytes and waits for a packet's first byte when
 *   they are 0 (and `packet.length` is -1); only then does the fast path (./fast-decode) read the stream.
 */
interface ParserInternals {
  packet: { cmd: string | null; length: number; protocolVersion?: number; bridgeMode?: boolean };
  _pos: number;
  /** The bytes it holds and has not read yet (`length`), and which step of a packet it is at (0: the next one's first byte). */
  _list: { length: number };
  _stateCounter: number;
}

/** mqtt-packet's view of a packet, as it emits and accepts them. */
type RawPacket = MqttPacket.Packet & { bridgeMode?: boolean };

const MQTT_3_1_1 = 4;
const MQTT_5 = 5;
const LEVEL_NAMES: Record<number, string> = { 3: 'MQTT 3.1', 5: 'MQTT 5' };

function unsupportedProtocol(protocolVersion: number, bridgeMode: boolean | undefined, allowed: readonly number[]): DecodeError {
  // mqtt-packet splits the level byte: the top bit (mosquitto's "bridge" flag) and the rest.
  const level = protocolVersion + (bridgeMode ? 0x80 : 0);
  const name = bridgeMode ? 'bridge mode' : LEVEL_NAMES[level];
  const spoken = allowed.includes(MQTT_5) ? 'MQTT 3.1.1 (level 4) or MQTT 5 (level 5)' : 'MQTT 3.1.1 (level 4)';
  return new DecodeError('unsupported-protocol', `protocol level ${level}${name ? ` (${name})` : ''} is not ${spoken}`, { protocolLevel: level });
}

function malformed(reason: string, cause?: unknown): DecodeError {
  return new DecodeError('malformed', `malformed packet: ${reason}`, { cause });
}

function tooLarge(announced: number, max: number): DecodeError {
  return new DecodeError('too-large', `a packet announces ${announced} bytes, more than the ${max} accepted`, { announcedBytes: announced });
}

/**
 * Decision on protocol levels: a CONNECT whose level byte is not one the profile speaks (4, and 5 where
 * allowed) is refused here as 'unsupported-protocol', whether mqtt-packet rejects the level itself (0-2, 6+)
 * or parses the packet (3 = MQTT 3.1, 5 = MQTT 5 where not allowed, 0x83/0x84/0x85 = bridge mode). After an
 * MQTT 5 CONNECT mqtt-packet reads the rest of the stream as MQTT 5 (its parser takes its settings from the
 * CONNECT), so nothing above the codec has to check the level beyond `protocolVersion`.
 */
function checkConnect(packet: { protocolVersion?: number; bridgeMode?: boolean }, allowed: readonly number[]): DecodeError | undefined {
  if (packet.protocolVersion === undefined || !allowed.includes(packet.protocolVersion) || packet.bridgeMode) {
    return unsupportedProtocol(packet.protocolVersion ?? 0, packet.bridgeMode, allowed);
  }
  return undefined;
}

/** Bytes of a whole packet with this remaining length: the fixed header's type byte and length bytes too. */
export function wholePacketBytes(remainingLength: number): number {
  const lengthBytes = remainingLength < 128 ? 1 : remainingLength < 16_384 ? 2 : remainingLength < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remainingLength;
}

/** Problems in a packet mqtt-packet emitted (`readTo`: where its fields ended); undefined for a good one. */
function check(packet: RawPacket, readTo: number, maxPacketBytes: number, version: 4 | 5, allowed: readonly number[]): DecodeError | undefined {
  const length = packet.length!;
  if (length > maxPacketBytes) return tooLarge(length, maxPacketBytes);
  // mqtt-packet does not stop at the end of a packet that is too short for its fields: a missing packet id
  // reads as -1 when no bytes follow, and from the next packet's bytes when some do.
  if (packet.messageId === -1 || readTo > length) return malformed(`${packet.cmd.toUpperCase()} is shorter than its fields`);
  switch (packet.cmd) {
    case 'publish':
      return undefined;
    case 'connect':
      return checkConnect(packet, allowed);
    default:
      break;
  }
  if (version === MQTT_5) {
    // MQTT 5 acks and DISCONNECT carry an optional reason code and properties: their lengths vary.
    if ((packet.cmd === 'pingreq' || packet.cmd === 'pingresp') && length !== 0) return wrongLength(packet.cmd, length, 0, 'MQTT 5');
    return undefined;
  }
  switch (packet.cmd) {
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

function wrongLength(cmd: string, length: number, fixed: number, version = 'MQTT 3.1.1'): DecodeError {
  return malformed(`${cmd.toUpperCase()} has remaining length ${length}; ${version} fixes it at ${fixed}`);
}

/** Classifies an error mqtt-packet emitted while reading `inProgress`. */
function classify(error: Error, inProgress: ParserInternals['packet'], allowed: readonly number[]): DecodeError {
  // The level byte comes before anything else mqtt-packet can fail on in a CONNECT but its name, so an
  // unsupported level wins over a later problem in the packet (a v5 CONNECT with properties, say).
  if (inProgress.cmd === 'connect' && inProgress.protocolVersion !== undefined) {
    const problem = checkConnect(inProgress, allowed);
    if (problem) return problem;
  }
  return malformed(error.message, error);
}

/** An incomplete packet the fast path waits for is kept up to this size; a larger one goes to mqtt-packet. */
const MAX_CARRIED_BYTES = 16 * 1024;

/** The (shared, empty) first bytes of a connection before any arrived. */
const NOTHING_YET = Buffer.alloc(0);

/** An mqtt-packet parser and the decoder it is reading for (none while it waits in the pool). */
interface LentParser {
  parser: MqttPacket.Parser;
  internals: ParserInternals;
  reader: StreamDecoder | undefined;
}

/**
 * mqtt-packet parsers holding no bytes, ready for any connection. A connection borrows one for the packets the
 * fast path does not read (CONNECT, SUBSCRIBE, ...) and gives it back once it holds no partial packet: an
 * idle connection keeps no parser (each is an event emitter with a stream of its own), and reading a SUBSCRIBE
 * makes none.
 */
const idleParsers: LentParser[] = [];
const MAX_IDLE_PARSERS = 16;

function borrowParser(reader: StreamDecoder, protocolVersion: 4 | 5): LentParser {
  let lent = idleParsers.pop();
  if (!lent) {
    const parser = mqttPacket().parser({ protocolVersion });
    const made: LentParser = { parser, internals: parser as unknown as ParserInternals, reader: undefined };
    parser.on('packet', (packet: RawPacket) => made.reader?.parsed(packet, made.internals._pos));
    parser.on('error', (error: Error) => made.reader?.parserFailed(error, made.internals.packet));
    lent = made;
  } else {
    // mqtt-packet reads with the settings of the last CONNECT it read: this connection's version.
    (lent.parser as unknown as { settings: object }).settings = { protocolVersion };
  }
  lent.reader = reader;
  return lent;
}

function parserIdle(internals: ParserInternals): boolean {
  return internals._list.length === 0 && internals._stateCounter === 0 && internals.packet.length === -1;
}

/** One connection's decoder: the fast path for PUBLISH, PUBACK and a plain connection's other packets (./fast-decode), a borrowed mqtt-packet parser for the rest. */
class StreamDecoder extends FastReader implements Decoder {
  protocolVersion: 4 | 5 = MQTT_3_1_1;
  private failed = false;
  /** The connection's first bytes while they may still be TLS or HTTP; undefined once they are known not to be. */
  private head: Buffer | undefined = NOTHING_YET;
  /** The start of a packet the fast path reads, waiting for the rest of its bytes. */
  private carried: Buffer | undefined;
  /** The parser holding this connection's partial packet, or reading for it now. */
  private lent: LentParser | undefined;

  constructor(
    private maxPacketBytes: number,
    private readonly allowed: readonly number[],
    private readonly sink: DecoderSink,
    private readonly fastPath: boolean,
  ) {
    super();
  }

  limitPacketBytes(max: number): void {
    // The whole packet: type byte, length bytes and remaining length together.
    let remaining = max - 2;
    while (remaining > 0 && wholePacketBytes(remaining) > max) remaining--;
    this.maxPacketBytes = Math.min(this.maxPacketBytes, Math.max(0, remaining));
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    if (this.head !== undefined) {
      const bytes = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
      const foreign = recogniseFirstBytes(bytes);
      if (foreign === 'undecided') {
        this.head = bytes;
        return;
      }
      this.head = undefined;
      if (foreign) return this.fail(new DecodeError(foreign.kind, foreign.message));
      chunk = bytes;
    }
    if (this.carried) {
      chunk = Buffer.concat([this.carried, chunk]);
      this.carried = undefined;
    }
    let lent = this.lent;
    try {
      const from = this.fastPath && lent === undefined ? this.readFast(chunk) : 0;
      if (from === chunk.length || this.failed) return;
      lent ??= this.lent = borrowParser(this, this.protocolVersion);
      lent.parser.parse(from === 0 ? chunk : chunk.subarray(from));
    } catch (error) {
      this.failed = true; // a callback threw: mqtt-packet's state is no longer trustworthy
      this.drop();
      throw error;
    }
    if (this.failed || lent === undefined) return;
    // The packet being read announces more than is accepted: refuse it now rather than buffer its body.
    const announced = lent.internals.packet.length;
    if (announced > this.maxPacketBytes) return this.fail(tooLarge(announced, this.maxPacketBytes));
    if (parserIdle(lent.internals)) {
      // Nothing left half-read: the parser goes back to the pool.
      lent.reader = undefined;
      this.lent = undefined;
      if (idleParsers.length < MAX_IDLE_PARSERS) idleParsers.push(lent);
    }
  }

  /** A packet mqtt-packet read for this connection (`readTo`: where its fields ended). */
  parsed(packet: RawPacket, readTo: number): void {
    if (this.failed) return; // the rest of a chunk after an error
    this.emit(packet, readTo);
  }

  parserFailed(error: Error, inProgress: ParserInternals['packet']): void {
    this.fail(classify(error, inProgress, this.allowed));
  }

  /** Reads what the fast path covers from the start of `chunk`; returns where mqtt-packet takes over. */
  private readFast(chunk: Buffer): number {
    let pos = 0;
    while (pos < chunk.length && !this.failed) {
      const packet = this.read(chunk, pos, this.protocolVersion, this.maxPacketBytes);
      if (packet === Scan.Parser) return pos;
      if (packet === Scan.Incomplete) {
        // Kept until the rest arrives, unless it is large (mqtt-packet's buffer list gathers those without copying).
        if (chunk.length - pos > MAX_CARRIED_BYTES) return pos;
        this.carried = chunk.subarray(pos);
        return chunk.length;
      }
      pos = this.end;
      this.emit(packet as unknown as RawPacket, 0); // the fast path reads only packets whose fields fit
    }
    return chunk.length;
  }

  private emit(packet: RawPacket, readTo: number): void {
    const problem = check(packet, readTo, this.maxPacketBytes, this.protocolVersion, this.allowed);
    if (problem) return this.fail(problem);
    // Protocol level 4 (MQTT 3.1.1) until a CONNECT says 5: every later packet is read as MQTT 5.
    if (packet.cmd === 'connect' && packet.protocolVersion === MQTT_5) this.protocolVersion = MQTT_5;
    this.sink.onPacket(packet as Packet);
  }

  private fail(error: DecodeError): void {
    if (this.failed) return;
    this.failed = true;
    this.drop();
    this.sink.onError(error);
  }

  /** After an error the parser is not given back: its state is mqtt-packet's error state. */
  private drop(): void {
    if (this.lent) this.lent.reader = undefined;
    this.lent = undefined;
  }
}

/**
 * A decoder for one connection. Its packets and its error go to `sink` (default: the options), called as
 * methods: a connection passes itself rather than closures.
 */
export function createDecoder(options: DecoderOptions): Decoder;
export function createDecoder(settings: DecoderSettings, sink: DecoderSink): Decoder;
export function createDecoder(settings: DecoderSettings & Partial<DecoderSink>, sink: DecoderSink = settings as DecoderOptions): Decoder {
  return new StreamDecoder(settings.maxPacketBytes, settings.protocolVersions ?? [MQTT_3_1_1], sink, settings.fastPath !== false);
}

/**
 * Serialises one packet as MQTT 3.1.1 (default) or MQTT 5. Throws on a packet that cannot be written (a bug in
 * the caller). MQTT 3.1.1 writes no properties or reason codes, whatever the packet carries.
 */
export function encode(packet: Packet, protocolVersion: 4 | 5 = MQTT_3_1_1): Buffer {
  // PUBLISH and PUBACK, which every message costs, take the fast paths (the same bytes, see ./fast-encode).
  const size = fastSize(packet, protocolVersion);
  if (size < 0) return generate(packet, protocolVersion);
  const bytes = Buffer.allocUnsafe(size);
  writeFast(packet, protocolVersion, size, bytes, 0);
  return bytes;
}

/** Appends a packet to `out` (a connection's bytes of one tick): no buffer of its own for a fast-path packet. */
export function encodeInto(packet: Packet, protocolVersion: 4 | 5, out: OutputBytes): void {
  const size = fastSize(packet, protocolVersion);
  if (size >= 0) {
    const buf = out.room(size);
    out.used = writeFast(packet, protocolVersion, size, buf, out.used);
    return;
  }
  const bytes = generate(packet, protocolVersion);
  bytes.copy(out.room(bytes.length), out.used);
  out.used += bytes.length;
}

/** Bytes being gathered for one write: `buffer` holds `used` of them. */
export class OutputBytes {
  buffer: Buffer | undefined;
  used = 0;

  /** The buffer, with room for `n` more bytes after `used`. */
  room(n: number): Buffer {
    const buffer = this.buffer;
    if (buffer !== undefined && buffer.length - this.used >= n) return buffer;
    // Small first buffers come from Node's shared pool; each growth at least doubles.
    const next = Buffer.allocUnsafe(Math.max(FIRST_OUTPUT_BYTES, this.used + n, buffer ? buffer.length * 2 : 0));
    if (buffer !== undefined) buffer.copy(next, 0, 0, this.used);
    return (this.buffer = next);
  }

  /** What was gathered (undefined when nothing), and a fresh start: the bytes now belong to the caller. */
  take(): Buffer | undefined {
    const { buffer, used } = this;
    this.buffer = undefined;
    this.used = 0;
    if (buffer === undefined || used === 0) return undefined;
    return used === buffer.length ? buffer : buffer.subarray(0, used);
  }
}

/** The first buffer of a tick's output: a few small packets fit without growing it. */
const FIRST_OUTPUT_BYTES = 1024;

/** mqtt-packet's own encoding of the packet (what the fast paths must match byte for byte). */
export function generate(packet: Packet, protocolVersion: 4 | 5 = MQTT_3_1_1): Buffer {
  return mqttPacket().generate(packet as MqttPacket.Packet, { protocolVersion });
}
