/**
 * The outbound pipeline of one connection while chaos is on: it asks the connection's chaos state what
 * to do with each packet (copy it, send it again later, hold it back, delay it) and does it. Without
 * chaos, connections write directly and this file is not involved.
 */
import type { ConnectionChaos } from '../chaos/engine';
import type { ChaosTag } from '../chaos/types';
import type { Clock, TimerHandle } from '../clock/clock';
import type { Packet, PublishPacket } from '../codec/codec';

export interface OutboundIo {
  /** Writes a packet now; returns its trace `seq` (0 when the trace is off). */
  write(packet: Packet, tag: ChaosTag | undefined): number;
  /** A packet id no unacknowledged message uses, for a re-sent QoS 1 copy. */
  lendPacketId(): number;
}

export class Outbound {
  private readonly timers = new Set<TimerHandle>();
  /** When the last latency-delayed packet leaves: latency keeps order. */
  private lastRelease = 0;

  constructor(
    private readonly chaos: ConnectionChaos,
    private readonly clock: Clock,
    private readonly io: OutboundIo,
  ) {}

  /** `original` false: a repeat of a delivery (QoS 1 retry, resumed session), never copied by chaos. */
  send(packet: Packet, tag: ChaosTag | undefined, original = true): void {
    const chaos = this.chaos;
    // Copies and re-sends are drawn for original deliveries only, never for what chaos produced.
    const fresh = original && packet.cmd === 'publish' && tag === undefined;
    const copies = fresh ? chaos.duplicates(packet) : undefined;
    const resend = fresh ? chaos.resend(packet) : undefined;

    const now = this.clock.now();
    const latency = chaos.latency(packet);
    let release = now;
    if (latency > 0 || this.lastRelease > now) {
      release = Math.max(now + latency, this.lastRelease);
      this.lastRelease = release;
    }
    const hold = chaos.hold(packet);
    if (hold) release += hold.value;

    const held = release - now;
    const finalTag: ChaosTag | undefined = held > 0 ? { ...(tag ?? hold?.tag ?? { fault: 'latency' }), heldMs: held } : tag;
    const emit = () => {
      const seq = this.io.write(packet, finalTag);
      if (copies) {
        for (let i = 0; i < copies.value; i++) this.io.write({ ...packet } as PublishPacket, { ...copies.tag, of: seq });
      }
      if (resend) this.later(resend.value, () => this.resend(packet as PublishPacket, { ...resend.tag, of: seq }));
    };
    if (held > 0) this.later(held, emit);
    else emit();
  }

  /**
   * AWS: "the message broker might resend the same logical PUBLISH message with a different packet ID".
   * The copy is this pipeline's own (the session does not track it); it passes through latency and reorder
   * like any packet, but is never copied again.
   */
  private resend(packet: PublishPacket, tag: ChaosTag): void {
    const copy: PublishPacket = { ...packet };
    if (packet.qos === 1) {
      const id = this.io.lendPacketId();
      if (id === 0) return; // every packet id is taken: no copy this time
      copy.messageId = id;
    }
    this.send(copy, tag);
  }

  private later(ms: number, fn: () => void): void {
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  /** Packets held back or delayed, and re-sends still to come. */
  get pending(): number {
    return this.timers.size;
  }

  /** The connection closed: packets still held are not sent. */
  close(): void {
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }
}
