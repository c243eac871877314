/**
 * One client socket: bytes in through the codec, packets out through the codec, writes gathered per tick,
 * the trace tapped at the codec on both sides, and the close. It knows nothing of MQTT's rules; what the
 * packets mean is the dispatcher's business.
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ChaosTag } from '../chaos/types';
import { guardedMicrotask, realClock, warnError } from '../clock/clock';
import { type DecodeError, type Decoder, OutputBytes, type Packet, createDecoder, encodeInto } from '../codec/codec';
import type { ByteBudget } from '../session/session';
import type { TraceRecorder } from '../trace/recorder';

/** How long a closing connection may take to flush what was written to it. */
const FLUSH_ON_CLOSE_MS = 1000;

/** What the connection reports upward. Every call is guarded: a throw ends in `failed`, never in the host. */
export interface ConnectionEvents {
  packet(packet: Packet): void;
  decodeError(error: DecodeError): void;
  /** The socket closed or failed under us. */
  lost(): void;
  /** A read of `count` bytes was handled (AWS's byte rate counts them). */
  bytesIn(count: number): void;
  /** Something threw while handling this connection's input: a bug in the fake or in a user callback. */
  failed(error: unknown): void;
}

/**
 * The byte stream under a connection: a TCP (or TLS) socket, or a WebSocket's stream (transport/websocket.ts),
 * which carries the peer's address and the local port itself and has no Nagle to turn off.
 */
export type ByteStream = Duplex & {
  readonly remoteAddress?: string | undefined;
  readonly localPort?: number | undefined;
  setNoDelay?(noDelay?: boolean): unknown;
};

/** The connection a socket belongs to: the socket's listeners are shared functions, not closures per connection. */
const OWNER = Symbol('fake-aws-iot connection');
type OwnedStream = ByteStream & { [OWNER]: Connection };

function onData(this: OwnedStream, chunk: Buffer): void {
  this[OWNER].data(chunk);
}
function onError(this: OwnedStream): void {
  this[OWNER].lost();
}
function onDrain(this: OwnedStream): void {
  this[OWNER].account();
}
function onClose(this: OwnedStream): void {
  this[OWNER].closed();
}

/** Connections written to in this turn, flushed together by one microtask at its end. */
let toFlush: Connection[] = [];
function flushAll(): void {
  const connections = toFlush;
  toFlush = [];
  for (const connection of connections) {
    try {
      connection.flush();
    } catch (error) {
      warnError(error);
    }
  }
}

export class Connection {
  /** Set by the dispatcher once known; stamps the trace entries. */
  clientId: string | undefined;
  private peer: string | undefined;
  /** Number of the socket read being handled (a packet read together with CONNECT was sent before CONNACK). */
  chunk = 0;
  private open = true;
  private readonly decoder: Decoder;
  /** Packets written this turn, encoded one after another: they leave together in one write at its end. */
  private readonly out = new OutputBytes();
  private flushQueued = false;
  /** Bytes of this socket's buffer counted in the endpoint's byte budget, as of the last look. */
  private accounted = 0;

  constructor(
    readonly connectionId: number,
    private readonly socket: ByteStream,
    maxPacketBytes: number,
    private readonly trace: TraceRecorder,
    /** The endpoint's byte budget: bytes waiting in sockets count toward it. */
    private readonly budget: ByteBudget,
    private readonly events: ConnectionEvents,
    /** Protocol levels a CONNECT may ask for (the profile's features.protocolVersions). */
    protocolVersions: readonly number[] = [4],
  ) {
    this.decoder = createDecoder({ maxPacketBytes, protocolVersions }, this);
    socket.setNoDelay?.(true);
    (socket as OwnedStream)[OWNER] = this;
    socket.on('data', onData);
    socket.on('error', onError);
    // What waits in the socket counts toward the endpoint's byte budget: looked at after each flush.
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  }

  /**
   * The peer's address, asked of the socket when first wanted (a system call: a connection that nobody asks
   * about makes none). It is first wanted while the socket is open: at CONNECT (trace, lifecycle event,
   * policy conditions).
   */
  get remoteAddress(): string {
    return (this.peer ??= (this.socket.remoteAddress ?? '').replace(/^::ffff:/, ''));
  }

  /** The endpoint's port this socket came in on (for messages about the connection). */
  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  /** The decoder's packets (DecoderSink). */
  onPacket(packet: Packet): void {
    if (this.open) this.received(packet);
  }

  /** The decoder's error (DecoderSink). */
  onError(error: DecodeError): void {
    if (this.open) this.events.decodeError(error);
  }

  /** A read from the socket: its packets handled, its bytes counted. */
  data(chunk: Buffer): void {
    if (!this.open) return;
    this.chunk++;
    try {
      this.decoder.push(chunk);
      this.events.bytesIn(chunk.length);
    } catch (error) {
      this.failed(error);
    }
  }

  /** The socket failed under us. */
  lost(): void {
    try {
      this.events.lost();
    } catch (error) {
      this.failed(error);
    }
  }

  /** The socket closed: what it held no longer counts toward the budget. */
  closed(): void {
    this.budget.used -= this.accounted;
    this.accounted = 0;
    this.lost();
  }

  /** An unexpected failure while handling input is reported once, and the socket goes if even that fails. */
  private failed(error: unknown): void {
    try {
      this.events.failed(error);
    } catch {
      this.destroy();
    }
  }

  private received(packet: Packet): void {
    const trace = this.trace;
    if (trace.active) {
      const clientId = packet.cmd === 'connect' && this.clientId === undefined ? packet.clientId : this.clientId;
      trace.recordPacket(this.connectionId, clientId, 'in', packet);
    }
    this.events.packet(packet);
  }

  /** 4 (MQTT 3.1.1) until the client's CONNECT asked for MQTT 5; packets are read and written in this version. */
  get protocolVersion(): 4 | 5 {
    return this.decoder.protocolVersion;
  }

  /** MQTT 5: the Maximum Packet Size announced in CONNACK; a larger packet from the client is 'too-large'. */
  limitPacketBytes(max: number): void {
    this.decoder.limitPacketBytes(max);
  }

  /** Bytes written and not yet taken by the peer. */
  get writableLength(): number {
    return this.socket.writableLength + this.out.used;
  }

  /** Encodes, traces and writes one packet; returns its trace seq (0 when the trace is off or the socket gone). */
  write(packet: Packet, tag: ChaosTag | undefined): number {
    if (!this.open || this.socket.destroyed) return 0;
    if (!this.flushQueued) {
      this.flushQueued = true;
      // not process.nextTick: a test's fake timers may replace that one
      if (toFlush.length === 0) guardedMicrotask(flushAll);
      toFlush.push(this);
    }
    encodeInto(packet, this.decoder.protocolVersion, this.out);
    // Recorded after the flush was scheduled: whoever wakes up on this entry finds the bytes on their way.
    const trace = this.trace;
    return trace.active ? trace.recordPacket(this.connectionId, this.clientId, 'out', packet, tag) : 0;
  }

  /** End of the turn: what was written goes to the socket in one write. */
  flush(): void {
    this.flushQueued = false;
    this.flushPending();
    this.account();
  }

  /** Hands what was written this turn to the socket. */
  private flushPending(): void {
    const bytes = this.out.take();
    if (bytes !== undefined && !this.socket.destroyed) this.socket.write(bytes);
  }

  /** Brings the budget's count of this socket's buffered bytes up to date. */
  account(): void {
    if (this.socket.destroyed) return; // the close handler gives back what was counted
    const now = this.socket.writableLength;
    this.budget.used += now - this.accounted;
    this.accounted = now;
  }

  /**
   * Flushes what was written (a CONNACK with an error code, say), then closes. A peer that does not read
   * gets a second, in real time whatever the endpoint's clock, before the socket is destroyed.
   */
  end(): void {
    if (!this.open) return;
    this.open = false;
    const socket = this.socket;
    if (socket.destroyed) return;
    this.flushPending();
    socket.end(() => socket.destroy());
    // A plain TCP socket with everything already in the kernel (the usual case): its end completes without the
    // peer reading, so no timer is needed for a peer that does not. (TLS and WebSocket streams still have
    // bytes of their own to send, or a handshake to wait for.)
    if (socket.writableLength === 0 && socket instanceof Socket && (socket as { encrypted?: boolean }).encrypted !== true) return;
    const giveUp = realClock.setTimeout(() => socket.destroy(), FLUSH_ON_CLOSE_MS);
    socket.once('close', () => giveUp.cancel());
  }

  /** Stops reading from the socket (the peer's writes back up in TCP) until resume(). */
  pause(): void {
    if (this.open) this.socket.pause();
  }

  resume(): void {
    if (this.open) this.socket.resume();
  }

  /** Closes at once (endpoint shutdown); what was written this tick (a DISCONNECT) is handed to the socket first. */
  destroy(): void {
    this.open = false;
    this.flushPending();
    this.socket.destroy();
  }
}
