/**
 * A client's session: its subscriptions and the QoS 1 messages it still has to receive, kept across
 * connections when the client connected with cleanSession = false.
 */
import type { ChaosTag } from '../chaos/types';
import type { TimerHandle } from '../clock/clock';

export interface Message {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  /** Set on copies chaos made (resendWithNewPacketId). */
  chaos?: ChaosTag;
}

/** What a session needs of the live connection it is attached to. */
export interface Link {
  sendPublish(message: Message, messageId: number | undefined): void;
}

export class Session {
  /** Filter → granted QoS. */
  readonly subscriptions = new Map<string, 0 | 1>();
  /** Sent QoS 1 messages not yet acknowledged, by packet id, in sending order. */
  readonly inflight = new Map<number, Message>();
  /** QoS 1 messages waiting for the client: while it is offline, or while `inflight` is full. */
  readonly pending: Message[] = [];
  /** Subscriptions acknowledged but not matching yet (chaos: subscriptionDelay), by filter. */
  readonly activations = new Map<string, TimerHandle>();
  link: Link | undefined;
  expiry: TimerHandle | undefined;
  private nextId = 1;

  constructor(
    readonly clientId: string,
    public persistent: boolean,
    readonly sessionIdentifier: string,
    private readonly maxInflight: number,
    private readonly maxQueued: number,
  ) {}

  /**
   * Hands a message to the client, or keeps it for later. Returns false when it had to be dropped
   * (offline QoS 0, or the queue is full).
   */
  deliver(message: Message): boolean {
    const link = this.link;
    if (link) {
      if (message.qos === 0) {
        link.sendPublish(message, undefined);
        return true;
      }
      if (this.inflight.size < this.maxInflight && this.pending.length === 0) {
        this.sendQos1(link, message);
        return true;
      }
    } else if (message.qos === 0) {
      return false; // AWS stores no QoS 0 messages for offline sessions.
    }
    if (this.pending.length >= this.maxQueued) return false;
    this.pending.push(message);
    return true;
  }

  /** The client acknowledged `messageId`; sends what was waiting for room. */
  ack(messageId: number): boolean {
    if (!this.inflight.delete(messageId)) return false;
    this.drain();
    return true;
  }

  /** Attaches a connection: re-sends unacknowledged messages (same packet ids), then the queued ones. */
  attach(link: Link): void {
    this.link = link;
    for (const [id, message] of this.inflight) link.sendPublish(message, id);
    this.drain();
  }

  detach(): void {
    this.link = undefined;
  }

  /** Forgets a subscription that was still waiting to start matching. */
  cancelActivation(filter: string): void {
    this.activations.get(filter)?.cancel();
    this.activations.delete(filter);
  }

  private drain(): void {
    const link = this.link;
    while (link && this.pending.length > 0 && this.inflight.size < this.maxInflight) {
      this.sendQos1(link, this.pending.shift()!);
    }
  }

  private sendQos1(link: Link, message: Message): void {
    let id = this.nextId;
    while (this.inflight.has(id)) id = id === 65535 ? 1 : id + 1;
    this.nextId = id === 65535 ? 1 : id + 1;
    this.inflight.set(id, message);
    link.sendPublish(message, id);
  }
}
